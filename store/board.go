package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/helhedsplan/helhedsplan/domain"
)

// The board (bestyrelse) and the plan's settings as plan data with history (migration 00009). Each change is a new
// version, written under the plan's row lock, so two admins changing the board at the same moment get versions
// n+1 and n+2, in the order they took the lock — never the same version, never a lost write that reports success.
// A change based on a version that is no longer the current one (domain.Board.Version set by a form) is refused
// with CodeConflict instead, so nobody overwrites a change they have not seen. Writing what is already current
// writes nothing: PUT is idempotent.

// BoardVersion is one version of a plan's board, with who made it, when and why.
type BoardVersion struct {
	domain.Board
	ChangedBy     string    `json:"changed_by"`      // user ID; "" when the system wrote it (seed, upgrade)
	ChangedByName string    `json:"changed_by_name"` // the user's name; "" when the system wrote it
	ChangedAt     time.Time `json:"changed_at"`
	Note          string    `json:"note"`
}

// SettingsVersion is one version of a plan's settings, with who set it, when and why.
type SettingsVersion struct {
	Version       int                 `json:"version"`
	Settings      domain.PlanSettings `json:"settings"`
	ChangedBy     string              `json:"changed_by"`
	ChangedByName string              `json:"changed_by_name"`
	ChangedAt     time.Time           `json:"changed_at"`
	Note          string              `json:"note"`
}

// Limits on the settings an admin may set.
const (
	// MaxDeadlineDays bounds each deadline in business days: about a year.
	MaxDeadlineDays = 260
	// MaxReminderOffset is the exclusive upper bound of a reminder offset, in business days before the deadline.
	MaxReminderOffset = 60
	// MaxReminderOffsets bounds how many reminders a deadline may have.
	MaxReminderOffsets = 10
	// MaxBoardMembers bounds the members of one board version.
	MaxBoardMembers = 50
	// MaxBoardQuorum bounds the legacy quorum count (PlanSettings.BoardQuorum).
	MaxBoardQuorum = MaxBoardMembers
)

// SeedNote is the note of the versions the system writes itself when it loads or upgrades a plan.
const SeedNote = "Oprettet automatisk ud fra planens brugere og indstillinger."

const (
	boardRefused    = "Bestyrelsen kan ikke gemmes, fordi nogle felter ikke overholder reglerne."
	settingsRefused = "Indstillingerne kan ikke gemmes, fordi nogle felter ikke overholder reglerne."
)

// fieldProblems collects field problems into a *domain.RuleError (CodeValidation), nil when there are none.
type fieldProblems []domain.FieldProblem

func (p *fieldProblems) add(field, code, format string, args ...any) {
	*p = append(*p, domain.FieldProblem{Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
}

func (p fieldProblems) err(message string) error {
	if len(p) == 0 {
		return nil
	}
	return &domain.RuleError{Code: domain.CodeValidation, Message: message, Problems: p}
}

// note checks the free-text note of a change.
func (p *fieldProblems) note(field, v string) {
	switch {
	case !domain.ValidText(v):
		p.add(field, "invalid_characters", "Teksten indeholder tegn, der ikke er tilladt: nul-tegn, kontroltegn eller ugyldig UTF-8.")
	case utf8.RuneCountInString(v) > domain.MaxCommentLen:
		p.add(field, "too_long", "Højst %d tegn.", domain.MaxCommentLen)
	}
}

// GetBoard returns the plan's current board (its highest version), or nil when the plan has none recorded. An
// unknown plan has none either.
func (s *Store) GetBoard(ctx context.Context, planID string) (*domain.Board, error) {
	boards, err := currentBoards(ctx, s.db, []string{planID})
	if err != nil {
		return nil, err
	}
	return boards[planID], nil
}

// boardRow is a board_versions row with its members.
type boardRow struct {
	PlanID        string         `db:"plan_id"`
	Version       int            `db:"version"`
	ChairID       sql.NullString `db:"chair_id"`
	QuorumRule    string         `db:"quorum_rule"`
	DecisionRule  string         `db:"decision_rule"`
	ChairAlone    []byte         `db:"chair_alone"`
	Members       pq.StringArray `db:"members"`
	ChangedBy     sql.NullString `db:"changed_by"`
	ChangedByName sql.NullString `db:"changed_by_name"`
	ChangedAt     time.Time      `db:"changed_at"`
	Note          string         `db:"note"`
}

func (r boardRow) board() (domain.Board, error) {
	b := domain.Board{Version: r.Version, Members: []string(r.Members), Chair: r.ChairID.String,
		Quorum: domain.QuorumRule(r.QuorumRule), Decision: domain.DecisionRule(r.DecisionRule)}
	if b.Members == nil {
		b.Members = []string{}
	}
	// Stored lists are explicit: [] means the board votes on everything, which a nil list would not say.
	b.ChairAlone = []domain.MatterKind{}
	if err := json.Unmarshal(r.ChairAlone, &b.ChairAlone); err != nil {
		return domain.Board{}, fmt.Errorf("board %s v%d: chair_alone: %w", r.PlanID, r.Version, err)
	}
	return b, nil
}

// boardColumns selects a version with its members (sorted by user ID) and the name of who changed it.
const boardColumns = `
	v.plan_id, v.version, v.chair_id, v.quorum_rule, v.decision_rule, v.chair_alone,
	ARRAY(SELECT m.user_id FROM board_version_members m
	      WHERE m.plan_id = v.plan_id AND m.version = v.version ORDER BY m.user_id) AS members,
	v.changed_by, u.name AS changed_by_name, v.changed_at, v.note`

// currentBoards reads the current board of each plan that has one, in one query.
func currentBoards(ctx context.Context, q sqlx.QueryerContext, planIDs []string) (map[string]*domain.Board, error) {
	const qBoards = `
		SELECT ` + boardColumns + `
		FROM (SELECT DISTINCT ON (plan_id) *
		      FROM board_versions
		      WHERE plan_id = ANY($1)
		      ORDER BY plan_id, version DESC) v
		LEFT JOIN users u ON u.id = v.changed_by`
	var rows []boardRow
	if err := sqlx.SelectContext(ctx, q, &rows, qBoards, pq.Array(planIDs)); err != nil {
		return nil, translate(err, "current boards")
	}
	out := make(map[string]*domain.Board, len(rows))
	for _, r := range rows {
		b, err := r.board()
		if err != nil {
			return nil, err
		}
		out[r.PlanID] = &b
	}
	return out, nil
}

// BoardHistory returns every version of the plan's board, newest first.
func (s *Store) BoardHistory(ctx context.Context, planID string) ([]BoardVersion, error) {
	const q = `
		SELECT ` + boardColumns + `
		FROM board_versions v
		LEFT JOIN users u ON u.id = v.changed_by
		WHERE v.plan_id = $1
		ORDER BY v.version DESC`
	var rows []boardRow
	if err := s.db.SelectContext(ctx, &rows, q, planID); err != nil {
		return nil, translate(err, "board history of %s", planID)
	}
	out := make([]BoardVersion, len(rows))
	for i, r := range rows {
		b, err := r.board()
		if err != nil {
			return nil, err
		}
		out[i] = BoardVersion{Board: b, ChangedBy: r.ChangedBy.String, ChangedByName: r.ChangedByName.String,
			ChangedAt: r.ChangedAt, Note: r.Note}
	}
	return out, nil
}

// SetBoard records b as the plan's board: the next version, written by actor with note, in one transaction. It
// validates b against the plan (members that exist, have the board role in the plan and appear once; a chair who is
// one of them or none; known rules and matter kinds) and refuses with a *domain.RuleError (CodeValidation, one
// field problem per broken rule, in Danish). Empty rules take the defaults; a nil ChairAlone is stored as
// domain.DefaultChairAlone, so every stored version says what the chair decides alone.
//
// b.Version, when not 0, is the version the change was based on: if another change has been recorded since, SetBoard
// refuses with CodeConflict rather than overwrite it. With b.Version 0 the change always becomes the next version.
// A board equal to the current one (members, chair, rules) writes nothing and returns the current version. An
// unknown plan is ErrNotFound.
func (s *Store) SetBoard(ctx context.Context, planID string, b domain.Board, actor domain.Actor, note string) (domain.Board, error) {
	var out domain.Board
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := lockPlan(ctx, tx, planID); err != nil {
			return err
		}
		roles, err := planRoles(ctx, tx, planID)
		if err != nil {
			return err
		}
		next, err := normalizeBoard(b, roles, note)
		if err != nil {
			return err
		}
		current, err := currentBoards(ctx, tx, []string{planID})
		if err != nil {
			return err
		}
		cur := current[planID]
		if cur != nil && sameBoard(*cur, next) {
			out = *cur
			return nil
		}
		curVersion := 0
		if cur != nil {
			curVersion = cur.Version
		}
		if b.Version != 0 && b.Version != curVersion {
			return domain.Refuse(domain.CodeConflict, "Bestyrelsen er blevet ændret (nu version %d), siden du hentede "+
				"version %d. Hent den igen, og gentag din ændring.", curVersion, b.Version)
		}
		next.Version = curVersion + 1
		if err := insertBoard(ctx, tx, planID, next, nullString(actor.UserID), note); err != nil {
			return err
		}
		out = next
		return nil
	})
	if err != nil {
		return domain.Board{}, err
	}
	return out, nil
}

// lockPlan takes the plan's row lock for a change of its board or settings, so changes of one plan are written one
// at a time. FOR NO KEY UPDATE does not block the foreign-key checks of rows referring to the plan (initiatives,
// ledger entries): those take KEY SHARE.
func lockPlan(ctx context.Context, tx *sqlx.Tx, planID string) error {
	var id string
	if err := tx.GetContext(ctx, &id, `SELECT id FROM plans WHERE id = $1 FOR NO KEY UPDATE`, planID); err != nil {
		return translate(err, "lock plan %s", planID)
	}
	return nil
}

// planRoles returns the role of each member of the plan.
func planRoles(ctx context.Context, q sqlx.QueryerContext, planID string) (map[string]domain.Role, error) {
	var rows []struct {
		UserID string `db:"user_id"`
		Role   string `db:"role"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT user_id, role FROM plan_members WHERE plan_id = $1`, planID); err != nil {
		return nil, translate(err, "members of plan %s", planID)
	}
	out := make(map[string]domain.Role, len(rows))
	for _, r := range rows {
		out[r.UserID] = domain.Role(r.Role)
	}
	return out, nil
}

// normalizeBoard checks b against the plan's members and returns it as it is stored: members sorted, defaults
// filled in, the chair-alone matters in domain.MatterKinds order.
func normalizeBoard(b domain.Board, roles map[string]domain.Role, note string) (domain.Board, error) {
	var ps fieldProblems
	if len(b.Members) == 0 {
		ps.add("members", "required", "Vælg mindst ét bestyrelsesmedlem.")
	}
	if len(b.Members) > MaxBoardMembers {
		ps.add("members", "too_many", "Bestyrelsen kan højst have %d medlemmer.", MaxBoardMembers)
	}
	seen := map[string]bool{}
	members := make([]string, 0, len(b.Members))
	for i, m := range b.Members {
		f := fmt.Sprintf("members[%d]", i)
		role, ok := roles[m]
		switch {
		case strings.TrimSpace(m) == "":
			ps.add(f, "required", "Et bestyrelsesmedlem mangler bruger-id.")
		case seen[m]:
			ps.add(f, "duplicate", "%s står to gange på listen over medlemmer.", shortID(m))
		case !ok:
			ps.add(f, "unknown", "%s er ikke tilknyttet planen.", shortID(m))
		case role != domain.RoleBoard:
			ps.add(f, "not_board", "%s har rollen %s i planen; kun brugere med rollen bestyrelse kan være medlemmer.",
				m, role.DanishName())
		default:
			members = append(members, m)
		}
		seen[m] = true
	}
	if b.Chair != "" && !seen[b.Chair] {
		ps.add("chair", "not_member", "Formanden skal være et af bestyrelsens medlemmer.")
	}
	quorum, decision := b.Quorum, b.Decision
	if quorum == "" {
		quorum = domain.QuorumMajorityOfEntitled
	}
	if quorum != domain.QuorumMajorityOfEntitled {
		ps.add("quorum", "unknown", "Ukendt regel for beslutningsdygtighed %q; brug %s.", shortID(string(quorum)),
			domain.QuorumMajorityOfEntitled)
	}
	if decision == "" {
		decision = domain.DecisionMajorityChairCasts
	}
	if decision != domain.DecisionMajorityChairCasts {
		ps.add("decision", "unknown", "Ukendt beslutningsregel %q; brug %s.", shortID(string(decision)),
			domain.DecisionMajorityChairCasts)
	}
	alone := b.ChairAlone
	if alone == nil {
		alone = domain.DefaultChairAlone
	}
	chosen := map[domain.MatterKind]bool{}
	for i, k := range alone {
		f := fmt.Sprintf("chair_alone[%d]", i)
		switch {
		case !k.Valid():
			ps.add(f, "unknown", "Ukendt sagstype %q.", shortID(string(k)))
		case chosen[k]:
			ps.add(f, "duplicate", "Sagstypen %q er nævnt to gange.", k)
		}
		chosen[k] = true
	}
	ps.note("note", note)
	if err := ps.err(boardRefused); err != nil {
		return domain.Board{}, err
	}
	slices.Sort(members)
	out := domain.Board{Members: members, Chair: b.Chair, Quorum: quorum, Decision: decision,
		ChairAlone: []domain.MatterKind{}}
	for _, k := range domain.MatterKinds {
		if chosen[k] {
			out.ChairAlone = append(out.ChairAlone, k)
		}
	}
	return out, nil
}

// sameBoard reports whether two normalized boards say the same (their versions aside).
func sameBoard(a, b domain.Board) bool {
	return slices.Equal(a.Members, b.Members) && a.Chair == b.Chair && a.Quorum == b.Quorum &&
		a.Decision == b.Decision && slices.Equal(a.ChairAlone, b.ChairAlone)
}

// insertBoard writes a normalized board as version b.Version.
func insertBoard(ctx context.Context, tx *sqlx.Tx, planID string, b domain.Board, changedBy sql.NullString, note string) error {
	alone, err := json.Marshal(b.ChairAlone)
	if err != nil {
		return fmt.Errorf("board %s v%d: chair_alone: %w", planID, b.Version, err)
	}
	const qVersion = `
		INSERT INTO board_versions (plan_id, version, chair_id, quorum_rule, decision_rule, chair_alone, changed_by, note)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	if _, err := tx.ExecContext(ctx, qVersion, planID, b.Version, nullString(b.Chair), string(b.Quorum),
		string(b.Decision), alone, changedBy, note); err != nil {
		return translate(err, "board %s v%d", planID, b.Version)
	}
	const qMembers = `
		INSERT INTO board_version_members (plan_id, version, user_id)
		SELECT $1, $2, unnest($3::text[])`
	if _, err := tx.ExecContext(ctx, qMembers, planID, b.Version, pq.Array(b.Members)); err != nil {
		return translate(err, "board %s v%d: members", planID, b.Version)
	}
	return nil
}

// ensureBoard writes version 1 of the plan's board when it has none: the plan's members with the board role, the
// chair the one whose title is "formand" (any letter case; the first by user ID if several), the default rules. A
// plan without board members gets no board (it keeps deciding by the legacy quorum). It runs under the plan's row
// lock, so concurrent seeds write version 1 once.
func ensureBoard(ctx context.Context, tx *sqlx.Tx, planID string) error {
	var exists bool
	if err := tx.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM board_versions WHERE plan_id = $1)`, planID); err != nil {
		return translate(err, "board of %s", planID)
	}
	if exists {
		return nil
	}
	var members []struct {
		UserID string `db:"user_id"`
		Title  string `db:"title"`
	}
	const q = `
		SELECT m.user_id, u.title
		FROM plan_members m JOIN users u ON u.id = m.user_id
		WHERE m.plan_id = $1 AND m.role = 'board'
		ORDER BY m.user_id`
	if err := sqlx.SelectContext(ctx, tx, &members, q, planID); err != nil {
		return translate(err, "board members of %s", planID)
	}
	if len(members) == 0 {
		return nil
	}
	b := domain.Board{Version: 1, Quorum: domain.QuorumMajorityOfEntitled, Decision: domain.DecisionMajorityChairCasts,
		ChairAlone: slices.Clone(domain.DefaultChairAlone)}
	for _, m := range members {
		b.Members = append(b.Members, m.UserID)
		if b.Chair == "" && strings.EqualFold(strings.TrimSpace(m.Title), "formand") {
			b.Chair = m.UserID
		}
	}
	return insertBoard(ctx, tx, planID, b, sql.NullString{}, SeedNote)
}

// ensureSettingsHistory writes the plan's current settings as version 1 of their history when it has none.
func ensureSettingsHistory(ctx context.Context, tx *sqlx.Tx, planID string) error {
	const q = `
		INSERT INTO plan_settings_history (plan_id, version, settings, changed_by, note)
		SELECT id, 1, settings, NULL, $2
		FROM plans
		WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM plan_settings_history WHERE plan_id = $1)`
	if _, err := tx.ExecContext(ctx, q, planID, SeedNote); err != nil {
		return translate(err, "settings history of %s", planID)
	}
	return nil
}

// ensurePlanHistory gives a plan loaded before boards and settings had history (or just now) version 1 of each,
// under the plan's row lock. It is what makes `migrate --seed` and dev start-up upgrade an existing database.
func ensurePlanHistory(ctx context.Context, tx *sqlx.Tx, planID string) error {
	if err := lockPlan(ctx, tx, planID); err != nil {
		return err
	}
	if err := ensureBoard(ctx, tx, planID); err != nil {
		return err
	}
	return ensureSettingsHistory(ctx, tx, planID)
}

// SetPlanSettings records settings as the plan's current settings (plans.settings) and as the next version of their
// history, in one transaction. It validates them (deadlines 0..MaxDeadlineDays business days, 0 meaning the
// default; reminder offsets each in 1..MaxReminderOffset-1 and unique, stored largest first; a finance lead who
// has the finance role in the plan, or none; a co-financing minimum within 0..1000 ‰; a legacy quorum of at least
// 1; a reallocation threshold within 0..domain.MaxMoney) and refuses with a *domain.RuleError. Settings equal to
// the current ones write nothing. An unknown plan is ErrNotFound.
func (s *Store) SetPlanSettings(ctx context.Context, planID string, settings domain.PlanSettings, actor domain.Actor, note string) (domain.PlanSettings, error) {
	var out domain.PlanSettings
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := lockPlan(ctx, tx, planID); err != nil {
			return err
		}
		roles, err := planRoles(ctx, tx, planID)
		if err != nil {
			return err
		}
		next, err := normalizeSettings(settings, roles, note)
		if err != nil {
			return err
		}
		var raw []byte
		if err := tx.GetContext(ctx, &raw, `SELECT settings FROM plans WHERE id = $1`, planID); err != nil {
			return translate(err, "settings of %s", planID)
		}
		var cur domain.PlanSettings
		if err := json.Unmarshal(raw, &cur); err != nil {
			return fmt.Errorf("settings of %s: %w", planID, err)
		}
		if sameSettings(cur, next) {
			out = cur
			return nil
		}
		// A plan loaded before settings had history gets its old value recorded as version 1 first.
		if err := ensureSettingsHistory(ctx, tx, planID); err != nil {
			return err
		}
		b, err := json.Marshal(next)
		if err != nil {
			return fmt.Errorf("settings of %s: %w", planID, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE plans SET settings = $2 WHERE id = $1`, planID, b); err != nil {
			return translate(err, "set settings of %s", planID)
		}
		const qHistory = `
			INSERT INTO plan_settings_history (plan_id, version, settings, changed_by, note)
			SELECT $1, COALESCE(max(version), 0) + 1, $2, $3, $4
			FROM plan_settings_history
			WHERE plan_id = $1`
		if _, err := tx.ExecContext(ctx, qHistory, planID, b, nullString(actor.UserID), note); err != nil {
			return translate(err, "settings history of %s", planID)
		}
		out = next
		return nil
	})
	if err != nil {
		return domain.PlanSettings{}, err
	}
	return out, nil
}

// normalizeSettings checks settings and returns them as stored: reminder offsets largest first.
func normalizeSettings(st domain.PlanSettings, roles map[string]domain.Role, note string) (domain.PlanSettings, error) {
	var ps fieldProblems
	days := func(field string, v int) {
		if v < 0 || v > MaxDeadlineDays {
			ps.add(field, "out_of_range", "Angiv et antal arbejdsdage fra 0 til %d (0 betyder standardfristen).", MaxDeadlineDays)
		}
	}
	days("board_decision_days", st.BoardDecisionDays)
	days("payment_days", st.PaymentDays)
	days("evaluation_days", st.EvaluationDays)
	if len(st.ReminderOffsets) > MaxReminderOffsets {
		ps.add("reminder_offsets", "too_many", "Højst %d påmindelser pr. frist.", MaxReminderOffsets)
	}
	seen := map[int]bool{}
	for i, o := range st.ReminderOffsets {
		f := fmt.Sprintf("reminder_offsets[%d]", i)
		switch {
		case o < 1 || o >= MaxReminderOffset:
			ps.add(f, "out_of_range", "En påmindelse skal ligge 1 til %d arbejdsdage før fristen.", MaxReminderOffset-1)
		case seen[o]:
			ps.add(f, "duplicate", "Påmindelsen %d arbejdsdage før fristen er nævnt to gange.", o)
		}
		seen[o] = true
	}
	if st.FinanceLead != "" {
		switch role, ok := roles[st.FinanceLead]; {
		case !ok:
			ps.add("finance_lead", "unknown", "%s er ikke tilknyttet planen.", shortID(st.FinanceLead))
		case role != domain.RoleFinance:
			ps.add("finance_lead", "not_finance", "%s har rollen %s i planen; økonomiansvarlig skal have rollen økonomi.",
				st.FinanceLead, role.DanishName())
		}
	}
	if st.MinLocalCofinancingPermille < 0 || st.MinLocalCofinancingPermille > 1000 {
		ps.add("min_local_cofinancing_permille", "out_of_range", "Angiv en andel fra 0 til 1000 promille.")
	}
	if st.BoardQuorum < 1 || st.BoardQuorum > MaxBoardQuorum {
		ps.add("board_quorum", "out_of_range", "Angiv et antal fra 1 til %d.", MaxBoardQuorum)
	}
	if !st.ReallocationThresholdØre.InRange() {
		ps.add("reallocation_threshold_ore", "out_of_range", "Beløbet skal ligge mellem 0 og %s.", domain.MaxMoney)
	}
	ps.note("note", note)
	if err := ps.err(settingsRefused); err != nil {
		return domain.PlanSettings{}, err
	}
	if st.ReminderOffsets != nil {
		st.ReminderOffsets = slices.Clone(st.ReminderOffsets)
		slices.SortFunc(st.ReminderOffsets, func(a, b int) int { return b - a })
	}
	return st, nil
}

// sameSettings compares settings as stored: nil and empty reminder lists differ (defaults against none).
func sameSettings(a, b domain.PlanSettings) bool {
	ab, errA := json.Marshal(a)
	bb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ab) == string(bb)
}

// PlanSettingsHistory returns every version of the plan's settings, newest first.
func (s *Store) PlanSettingsHistory(ctx context.Context, planID string) ([]SettingsVersion, error) {
	const q = `
		SELECT h.version, h.settings, h.changed_by, u.name AS changed_by_name, h.changed_at, h.note
		FROM plan_settings_history h
		LEFT JOIN users u ON u.id = h.changed_by
		WHERE h.plan_id = $1
		ORDER BY h.version DESC`
	var rows []struct {
		Version       int            `db:"version"`
		Settings      []byte         `db:"settings"`
		ChangedBy     sql.NullString `db:"changed_by"`
		ChangedByName sql.NullString `db:"changed_by_name"`
		ChangedAt     time.Time      `db:"changed_at"`
		Note          string         `db:"note"`
	}
	if err := s.db.SelectContext(ctx, &rows, q, planID); err != nil {
		return nil, translate(err, "settings history of %s", planID)
	}
	out := make([]SettingsVersion, len(rows))
	for i, r := range rows {
		out[i] = SettingsVersion{Version: r.Version, ChangedBy: r.ChangedBy.String, ChangedByName: r.ChangedByName.String,
			ChangedAt: r.ChangedAt, Note: r.Note}
		if err := json.Unmarshal(r.Settings, &out[i].Settings); err != nil {
			return nil, fmt.Errorf("settings history of %s v%d: %w", planID, r.Version, err)
		}
	}
	return out, nil
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// shortID cuts an ID a client sent to a length fit for a message.
func shortID(s string) string {
	if utf8.RuneCountInString(s) <= 60 {
		return s
	}
	return string([]rune(s)[:60]) + "…"
}
