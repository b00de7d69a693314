package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/helhedsplan/helhedsplan/domain"
)

// Page sizes. Lists are keyset-paged, so a page costs the same however deep the client reads.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
	// DefaultEventPage and MaxEventPage bound ListEvents; an initiative has tens of events, not thousands.
	DefaultEventPage = 100
	MaxEventPage     = 1000
)

// RecordTransition writes an event and moves the read model to the snapshot, in one transaction. Writing the same
// transition again (a retried activity whose first attempt committed) changes nothing; writing a different
// transition under a seq that is taken is ErrDivergence.
func (s *Store) RecordTransition(ctx context.Context, t Transition) error {
	_, err := s.WriteStep(ctx, Step{Transitions: []Transition{t}})
	return err
}

// recordTransition records t inside the caller's transaction, so a ledger write and the transition that caused it
// commit together or not at all. It checks what it finds: if the event's seq is taken, the stored event must be
// the same transition (type, actor, phases, payload; its time may differ, because a rerun of a workflow task takes
// a new time) and then nothing is written and existed is true; any other stored event, or a read model that is
// ahead of the event log, is ErrDivergence — never silently dropped.
func recordTransition(ctx context.Context, tx *sqlx.Tx, t Transition) (existed bool, err error) {
	snap, ev := t.Snapshot, t.Event
	switch {
	case snap.ID == "" || snap.PlanID == "":
		return false, fmt.Errorf("record transition: snapshot has no initiative or plan ID")
	case ev.InitiativeID != snap.ID:
		return false, fmt.Errorf("record transition: event is for initiative %q, snapshot for %q", ev.InitiativeID, snap.ID)
	case ev.Seq != snap.Version || ev.Seq < 1:
		return false, fmt.Errorf("record transition %s: event seq %d must equal the snapshot's version %d (>= 1)",
			snap.ID, ev.Seq, snap.Version)
	}
	payload := []byte(ev.Payload)
	if len(payload) == 0 {
		payload = []byte("{}")
	}

	const qStored = `
		SELECT type = $3 AND actor_id = $4 AND actor_role = $5 AND phase_before = $6 AND phase_after = $7
		       AND payload = $8::jsonb AS same,
		       type, phase_before, phase_after
		FROM initiative_events
		WHERE initiative_id = $1 AND seq = $2`
	// found reports whether the seq is taken by this very transition; another one there is a divergence.
	found := func() (bool, error) {
		var stored struct {
			Same        bool   `db:"same"`
			Type        string `db:"type"`
			PhaseBefore string `db:"phase_before"`
			PhaseAfter  string `db:"phase_after"`
		}
		err := sqlx.GetContext(ctx, tx, &stored, qStored, ev.InitiativeID, ev.Seq, ev.Type, ev.ActorID,
			string(ev.ActorRole), string(ev.PhaseBefore), string(ev.PhaseAfter), payload)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return false, nil
		case err != nil:
			return false, translate(err, "record transition %s v%d: stored event", snap.ID, snap.Version)
		case !stored.Same:
			return false, fmt.Errorf("record transition %s v%d: %w: stored %s (%s -> %s), writing %s (%s -> %s)",
				snap.ID, ev.Seq, ErrDivergence, stored.Type, stored.PhaseBefore, stored.PhaseAfter,
				ev.Type, ev.PhaseBefore, ev.PhaseAfter)
		}
		return true, nil
	}
	if existed, err := found(); err != nil || existed {
		return existed, err
	}

	snapshot, err := json.Marshal(snap)
	if err != nil {
		return false, fmt.Errorf("record transition %s: snapshot: %w", snap.ID, err)
	}
	areas := snap.Proposal.HousingAreaIDs
	if areas == nil {
		areas = []string{}
	}
	createdAt, updatedAt := snap.CreatedAt, snap.UpdatedAt
	if createdAt.IsZero() {
		createdAt = ev.At
	}
	if updatedAt.IsZero() {
		updatedAt = ev.At
	}
	budget, ok := domain.Sum(snap.Proposal.Budget)
	if ok != nil {
		return false, fmt.Errorf("record transition %s: budget: %w", snap.ID, ok)
	}

	// The read model row goes first: the event references it. The event's seq was free, so the read model must be
	// behind this version; if it is not, the two disagree and nothing is written.
	const qInitiative = `
		INSERT INTO initiatives (id, plan_id, title, phase, delaftale_id, housing_area_ids, proposer_id, budget_ore,
		                         version, snapshot, created_at, updated_at, source_ids)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, COALESCE($11, now()), COALESCE($12, now()), $13)
		ON CONFLICT (id) DO UPDATE SET
			title            = EXCLUDED.title,
			phase            = EXCLUDED.phase,
			delaftale_id     = EXCLUDED.delaftale_id,
			housing_area_ids = EXCLUDED.housing_area_ids,
			proposer_id      = EXCLUDED.proposer_id,
			budget_ore       = EXCLUDED.budget_ore,
			version          = EXCLUDED.version,
			snapshot         = EXCLUDED.snapshot,
			updated_at       = EXCLUDED.updated_at,
			source_ids       = EXCLUDED.source_ids
		WHERE initiatives.version < EXCLUDED.version`
	res, err := tx.ExecContext(ctx, qInitiative, snap.ID, snap.PlanID, snap.Proposal.Title, string(snap.Phase),
		snap.Proposal.DelaftaleID, pq.Array(areas), snap.Proposer.UserID, int64(budget),
		snap.Version, snapshot, nullTime(createdAt), nullTime(updatedAt), pq.Array(budgetSourceIDs(snap.Proposal.Budget)))
	if err != nil {
		return false, translate(err, "record transition %s v%d: read model", snap.ID, snap.Version)
	}
	if n, err := rowsAffected(res, "record transition"); err != nil {
		return false, err
	} else if n == 0 {
		// A concurrent attempt of the same step may have committed while this one waited for the row lock; this
		// statement's fresh snapshot sees its event.
		if existed, err := found(); err != nil || existed {
			return existed, err
		}
		return false, fmt.Errorf("record transition %s v%d: %w: the read model is at a later version, but the event log "+
			"has no event %d", snap.ID, snap.Version, ErrDivergence, ev.Seq)
	}

	const qEvent = `
		INSERT INTO initiative_events (initiative_id, seq, type, actor_id, actor_name, actor_role, at,
		                               phase_before, phase_after, payload)
		VALUES ($1, $2, $3, $4, $5, $6, COALESCE($7, now()), $8, $9, $10)`
	if _, err := tx.ExecContext(ctx, qEvent, ev.InitiativeID, ev.Seq, ev.Type, ev.ActorID, ev.ActorName,
		string(ev.ActorRole), nullTime(ev.At), string(ev.PhaseBefore), string(ev.PhaseAfter), payload); err != nil {
		return false, translate(err, "record transition %s v%d: event", snap.ID, snap.Version)
	}
	return false, nil
}

// storedSnapshot returns the read model's snapshot of an initiative as raw JSON with its version.
func storedSnapshot(ctx context.Context, q sqlx.QueryerContext, id string) (raw []byte, version int64, err error) {
	const qSnap = `SELECT snapshot, version FROM initiatives WHERE id = $1`
	var row struct {
		Snapshot []byte `db:"snapshot"`
		Version  int64  `db:"version"`
	}
	if err := sqlx.GetContext(ctx, q, &row, qSnap, id); err != nil {
		return nil, 0, translate(err, "snapshot of %s", id)
	}
	return row.Snapshot, row.Version, nil
}

// GetInitiative returns the initiative as last recorded.
func (s *Store) GetInitiative(ctx context.Context, id string) (domain.Initiative, error) {
	const q = `SELECT snapshot FROM initiatives WHERE id = $1`
	var b []byte
	if err := s.db.GetContext(ctx, &b, q, id); err != nil {
		return domain.Initiative{}, translate(err, "get initiative %s", id)
	}
	var in domain.Initiative
	if err := json.Unmarshal(b, &in); err != nil {
		return domain.Initiative{}, fmt.Errorf("get initiative %s: snapshot: %w", id, err)
	}
	return in, nil
}

// ListInitiatives returns one page of initiatives, newest first, and the cursor of the next page ("" on the last).
// Paging by seq rather than by offset keeps pages stable while initiatives are added: none is shown twice or
// skipped. Every filter may be combined with every other and with paging.
func (s *Store) ListInitiatives(ctx context.Context, f InitiativeFilter) (items []InitiativeSummary, next string, err error) {
	q, args, limit, err := listInitiativesQuery(f)
	if err != nil {
		return nil, "", err
	}
	var rows []struct {
		Seq   int64          `db:"seq"`
		Areas pq.StringArray `db:"housing_area_ids"`
		InitiativeSummary
	}
	if err := s.db.SelectContext(ctx, &rows, q, args...); err != nil {
		return nil, "", translate(err, "list initiatives")
	}
	if len(rows) > limit {
		rows = rows[:limit]
		next = encodeCursor(rows[limit-1].Seq)
	}
	items = make([]InitiativeSummary, len(rows))
	for i, r := range rows {
		items[i] = r.InitiativeSummary
		items[i].HousingAreaIDs = []string(r.Areas)
	}
	return items, next, nil
}

// ExplainListInitiatives runs ListInitiatives' query for f under EXPLAIN ANALYZE and returns the plan, so a
// benchmark or an operator can see which index a filter uses.
func (s *Store) ExplainListInitiatives(ctx context.Context, f InitiativeFilter) (string, error) {
	q, args, _, err := listInitiativesQuery(f)
	if err != nil {
		return "", err
	}
	var lines []string
	if err := s.db.SelectContext(ctx, &lines, "EXPLAIN (ANALYZE, BUFFERS) "+q, args...); err != nil {
		return "", translate(err, "explain list initiatives")
	}
	return strings.Join(lines, "\n"), nil
}

// listInitiativesQuery is the SQL of ListInitiatives for f with its arguments; it asks for limit+1 rows, the
// last one only telling whether there is a next page.
func listInitiativesQuery(f InitiativeFilter) (q string, args []any, limit int, err error) {
	after, err := decodeCursor(f.After)
	if err != nil {
		return "", nil, 0, err
	}
	limit = pageSize(f.Limit, DefaultPageSize, MaxPageSize)
	search := searchQuery(f.Search)
	args = []any{f.PlanID, string(f.Phase), f.DelaftaleID, f.HousingAreaID, after, limit + 1, f.SourceID, search,
		searchWindow}
	// A housing area takes the windowed query too: for an area few initiatives have, PostgreSQL's estimate
	// (array statistics of the common areas) made it walk the whole list newest first (84 ms p50 at 100,000 rows
	// in the benchmark) instead of asking the GIN index.
	if f.SourceID == "" && search == "" && f.HousingAreaID == "" {
		return qListInitiatives, args[:6], limit, nil
	}
	return qSearchInitiatives, args, limit, nil
}

// qListInitiatives is the list without a source or a search. Empty filters compare a parameter with a constant;
// lib/pq plans each query with its values, so PostgreSQL folds those away and uses the matching index.
const qListInitiatives = `
	SELECT seq, id, plan_id, title, phase, delaftale_id, housing_area_ids, proposer_id, budget_ore, version,
	       created_at, updated_at
	FROM initiatives
	WHERE ($1::text = '' OR plan_id = $1::text)
	  AND ($2::text = '' OR phase = $2::text)
	  AND ($3::text = '' OR delaftale_id = $3::text)
	  AND ($4::text = '' OR housing_area_ids @> ARRAY[$4::text])
	  AND ($5::bigint = 0 OR seq < $5::bigint)
	ORDER BY seq DESC
	LIMIT $6`

// searchWindow is how many of the newest initiatives qSearchInitiatives filters row by row before it asks the
// GIN indexes for the older ones.
const searchWindow = 2000

// qSearchInitiatives is the list with a housing area, a source or a search ($4, $7, $8). PostgreSQL's estimate of how many rows a
// prefix search matches is a guess (a fixed 2 % unless it has statistics on 100 common words), and it cannot
// know whether the matches are new or old; a plan that walks the list newest first and filters then reads all
// 100.000 rows for a word only old initiatives have (50 ms), and a plan through the GIN index sorts every match
// of a common word. So the query does both, each where it is cheap: it filters the newest $9 rows of the list
// (a walk of a btree in seq order, about 1 ms), and only when they hold less than a page does it take the
// older matches from the GIN indexes (initiatives_sources_idx, initiatives_search_idx): a filter that keeps
// fewer than $6 of $9 rows is rare enough for a bitmap scan and a sort. The search is a tsquery built from the user's words (searchQuery) and passed as a parameter, never
// spliced into the SQL; a search of stop words only ("i og") becomes an empty tsquery (numnode 0), which is no
// filter, as text without words is.
const qSearchInitiatives = `
	WITH recent AS MATERIALIZED (
		SELECT seq,
		       ($4::text = '' OR housing_area_ids @> ARRAY[$4::text])
		       AND ($7::text = '' OR source_ids @> ARRAY[$7::text])
		       AND ($8::text = '' OR numnode(to_tsquery('danish', $8::text)) = 0
		            OR search @@ to_tsquery('danish', $8::text)) AS hit
		FROM initiatives
		WHERE ($1::text = '' OR plan_id = $1::text)
		  AND ($2::text = '' OR phase = $2::text)
		  AND ($3::text = '' OR delaftale_id = $3::text)
		  AND ($5::bigint = 0 OR seq < $5::bigint)
		ORDER BY seq DESC
		LIMIT $9::int
	), edge AS (
		SELECT min(seq) AS oldest, count(*) AS n, count(*) FILTER (WHERE hit) AS hits FROM recent
	), picked AS (
		SELECT seq FROM recent WHERE hit
		UNION ALL
		SELECT i.seq
		FROM edge, initiatives i
		WHERE edge.n = $9::int AND edge.hits < $6::int AND i.seq + 0 < edge.oldest -- + 0: not worth a bitmap of its own
		  AND ($1::text = '' OR i.plan_id = $1::text)
		  AND ($2::text = '' OR i.phase = $2::text)
		  AND ($3::text = '' OR i.delaftale_id = $3::text)
		  AND ($4::text = '' OR i.housing_area_ids @> ARRAY[$4::text])
		  AND ($7::text = '' OR i.source_ids @> ARRAY[$7::text])
		  AND ($8::text = '' OR numnode(to_tsquery('danish', $8::text)) = 0
		       OR i.search @@ to_tsquery('danish', $8::text))
	), page AS (
		SELECT seq FROM picked ORDER BY seq DESC LIMIT $6
	)
	SELECT i.seq, i.id, i.plan_id, i.title, i.phase, i.delaftale_id, i.housing_area_ids, i.proposer_id,
	       i.budget_ore, i.version, i.created_at, i.updated_at
	FROM page JOIN initiatives i ON i.seq = page.seq
	ORDER BY i.seq DESC`

// Limits on a search: enough for any real query, and a bound on the tsquery a user can make PostgreSQL evaluate.
const (
	maxSearchWords    = 8
	maxSearchWordRune = 64
)

// searchQuery turns what a user typed into a tsquery for to_tsquery: each word (a run of Unicode letters, marks
// and digits, so "lektiecafé" and "Houlkærvænget" are one word each) becomes a prefix term, all of them AND-ed:
// "lekt houlk" → "lekt:* & houlk:*". Everything else (quotes, operators, punctuation) only separates words, so
// the result is always valid tsquery syntax whatever the input. "" means no search.
func searchQuery(text string) string {
	words := strings.FieldsFunc(text, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.Is(unicode.Mn, r)
	})
	if len(words) > maxSearchWords {
		words = words[:maxSearchWords]
	}
	var b strings.Builder
	for _, w := range words {
		// A word that starts with a combining mark has nothing to combine with; drop the marks.
		w = strings.TrimLeftFunc(w, func(r rune) bool { return unicode.Is(unicode.Mn, r) })
		if w == "" {
			continue
		}
		if r := []rune(w); len(r) > maxSearchWordRune {
			w = string(r[:maxSearchWordRune]) // still a prefix of what was meant
		}
		if b.Len() > 0 {
			b.WriteString(" & ")
		}
		b.WriteString(w)
		b.WriteString(":*")
	}
	return b.String()
}

// budgetSourceIDs returns the funding sources a budget takes money from (a positive amount), sorted and without
// duplicates: the read model's source_ids, which the source filter searches.
func budgetSourceIDs(budget []domain.SourceAmount) []string {
	ids := []string{}
	for _, l := range budget {
		if l.SourceID != "" && l.AmountØre > 0 && !slices.Contains(ids, l.SourceID) {
			ids = append(ids, l.SourceID)
		}
	}
	slices.Sort(ids)
	return ids
}

// ListEvents returns an initiative's events after afterSeq, oldest first. limit <= 0 means DefaultEventPage. An
// unknown initiative has no events.
func (s *Store) ListEvents(ctx context.Context, initiativeID string, afterSeq int64, limit int) ([]Event, error) {
	const q = `
		SELECT initiative_id, seq, type, actor_id, actor_name, actor_role, at, phase_before, phase_after, payload,
		       recorded_at
		FROM initiative_events
		WHERE initiative_id = $1 AND seq > $2
		ORDER BY seq
		LIMIT $3`
	var rows []eventRow
	if err := s.db.SelectContext(ctx, &rows, q, initiativeID, afterSeq,
		pageSize(limit, DefaultEventPage, MaxEventPage)); err != nil {
		return nil, translate(err, "list events of %s", initiativeID)
	}
	events := make([]Event, len(rows))
	for i, r := range rows {
		events[i] = Event{InitiativeID: r.InitiativeID, Seq: r.Seq, Type: r.Type, ActorID: r.ActorID,
			ActorName: r.ActorName, ActorRole: domain.Role(r.ActorRole), At: r.At,
			PhaseBefore: domain.Phase(r.PhaseBefore), PhaseAfter: domain.Phase(r.PhaseAfter),
			Payload: json.RawMessage(r.Payload), RecordedAt: r.RecordedAt}
	}
	return events, nil
}

// eventRow scans an event. Payload is a []byte, not a json.RawMessage: database/sql copies the driver's buffer
// only into *[]byte, and lib/pq reuses that buffer for the next row.
type eventRow struct {
	InitiativeID string    `db:"initiative_id"`
	Seq          int64     `db:"seq"`
	Type         string    `db:"type"`
	ActorID      string    `db:"actor_id"`
	ActorName    string    `db:"actor_name"`
	ActorRole    string    `db:"actor_role"`
	At           time.Time `db:"at"`
	PhaseBefore  string    `db:"phase_before"`
	PhaseAfter   string    `db:"phase_after"`
	Payload      []byte    `db:"payload"`
	RecordedAt   time.Time `db:"recorded_at"`
}

// CountInitiatives returns how many initiatives a plan has.
func (s *Store) CountInitiatives(ctx context.Context, planID string) (int, error) {
	const q = `SELECT count(*) FROM initiatives WHERE plan_id = $1`
	var n int
	if err := s.db.GetContext(ctx, &n, q, planID); err != nil {
		return 0, translate(err, "count initiatives of %s", planID)
	}
	return n, nil
}

// InsertSyntheticInitiatives fills the read model with n copies of template for benchmarks, in one statement:
// ids "bench-<k>" and titles "<title> <k>" continue after the bench rows already there, so every call adds n
// rows. Only the read model is written (no events, no ledger); source_ids is the template's, as recordTransition
// would write it, and search is generated from title and snapshot. The template's delaftale and proposer must exist
// in the plan.
func (s *Store) InsertSyntheticInitiatives(ctx context.Context, planID string, n int, template domain.Initiative) error {
	if n <= 0 {
		return nil
	}
	template.PlanID = planID
	if template.Version < 1 {
		template.Version = 1
	}
	if template.Phase == "" {
		template.Phase = domain.PhaseBoardReview
	}
	snapshot, err := json.Marshal(template)
	if err != nil {
		return fmt.Errorf("synthetic initiatives: %w", err)
	}
	areas := template.Proposal.HousingAreaIDs
	if areas == nil {
		areas = []string{}
	}
	const q = `
		WITH start AS (SELECT count(*) AS n FROM initiatives WHERE id LIKE 'bench-%')
		INSERT INTO initiatives (id, plan_id, title, phase, delaftale_id, housing_area_ids, proposer_id, budget_ore,
		                         version, snapshot, created_at, updated_at, source_ids)
		SELECT 'bench-' || (start.n + g), $1, $2::text || ' ' || (start.n + g), $3, $4, $5, $6, $7, $8,
		       jsonb_set(jsonb_set($9::jsonb, '{id}', to_jsonb('bench-' || (start.n + g))),
		                 '{proposal,title}', to_jsonb($2::text || ' ' || (start.n + g))),
		       COALESCE($10, now()), COALESCE($10, now()), $12
		FROM start, generate_series(1, $11::bigint) AS g
		ORDER BY g`
	// The phase counts' trigger would run once per row at COMMIT (100,000 times in the benchmark, minutes); the
	// bulk insert turns it off for its own transaction and counts the plan once instead. ALTER TABLE holds the
	// table exclusively until COMMIT: this is for benchmarks, never for a running service.
	const qCount = `
		INSERT INTO plan_phase_counts (plan_id, phase, n)
		SELECT plan_id, phase, count(*) FROM initiatives WHERE plan_id = $1 GROUP BY plan_id, phase
		ON CONFLICT (plan_id, phase) DO UPDATE SET n = EXCLUDED.n`
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `ALTER TABLE initiatives DISABLE TRIGGER initiatives_count_phases`); err != nil {
			return translate(err, "insert synthetic initiatives: pause phase counts")
		}
		if _, err := tx.ExecContext(ctx, q, planID, template.Proposal.Title, string(template.Phase),
			template.Proposal.DelaftaleID, pq.Array(areas), template.Proposer.UserID,
			int64(domain.Total(template.Proposal.Budget)), template.Version, snapshot, nullTime(template.CreatedAt),
			n, pq.Array(budgetSourceIDs(template.Proposal.Budget))); err != nil {
			return translate(err, "insert %d synthetic initiatives", n)
		}
		if _, err := tx.ExecContext(ctx, `ALTER TABLE initiatives ENABLE TRIGGER initiatives_count_phases`); err != nil {
			return translate(err, "insert synthetic initiatives: resume phase counts")
		}
		if _, err := tx.ExecContext(ctx, qCount, planID); err != nil {
			return translate(err, "insert synthetic initiatives: phase counts")
		}
		return nil
	})
}

// encodeCursor hides the seq so clients treat cursors as opaque and we may change what is in them.
func encodeCursor(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(seq, 10)))
}

// decodeCursor returns 0 for the first page.
func decodeCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, fmt.Errorf("cursor %q: %w", c, ErrBadCursor)
	}
	seq, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || seq < 1 {
		return 0, fmt.Errorf("cursor %q: %w", c, ErrBadCursor)
	}
	return seq, nil
}

// pageSize applies a default to a missing limit and caps a large one, rather than refusing it.
func pageSize(limit, def, max int) int {
	switch {
	case limit <= 0:
		return def
	case limit > max:
		return max
	}
	return limit
}

// nullTime is NULL for the zero time, so the database fills in now() instead of storing year 1.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
