package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/helhedsplan/helhedsplan/domain"
)

// Outbox topics.
const (
	TopicDisbursementReleased  = "disbursement.released"  // finance must pay a tranche
	TopicDisbursementPaid      = "disbursement.paid"      // finance confirmed the payment
	TopicDisbursementWithdrawn = "disbursement.withdrawn" // the initiative was cancelled: finance must not pay it
)

// DisbursementMessage is the JSON payload of the disbursement topics. Paid fields are set on
// TopicDisbursementPaid only, withdrawn fields on TopicDisbursementWithdrawn only.
type DisbursementMessage struct {
	DisbursementID  string                `json:"disbursement_id"`
	PlanID          string                `json:"plan_id"`
	InitiativeID    string                `json:"initiative_id"`
	InitiativeTitle string                `json:"initiative_title"`
	MilestoneNo     int                   `json:"milestone_no"`
	MilestoneTitle  string                `json:"milestone_title"`
	Lines           []domain.SourceAmount `json:"lines"`
	TotalØre        domain.Money          `json:"total_ore"`
	ReleasedAt      time.Time             `json:"released_at"`
	Reference       string                `json:"reference,omitempty"`
	PaidAt          *time.Time            `json:"paid_at,omitempty"`
	PaidBy          string                `json:"paid_by,omitempty"`
	WithdrawnAt     *time.Time            `json:"withdrawn_at,omitempty"`
	WithdrawnReason string                `json:"withdrawn_reason,omitempty"`
}

// The ledger has five kinds of entry. Money moves committed -> reserved ('reserve', at approval) -> released
// ('release', a tranche is due) -> paid ('pay', finance confirmed), back from released to reserved ('withdraw', an
// unpaid tranche taken back when the initiative is cancelled), or back from reserved ('unreserve').

// WriteStep writes one workflow step in one transaction (see Step): a reservation first (it locks the plan's
// funding sources, and every transaction that locks them does so first, in id order), then the transitions,
// releases and payments in the order of their seqs. Each part checks what it finds, so a rerun of a step whose
// first attempt committed writes nothing and reports what that attempt stored (StepResult.Stored); a part whose
// key is taken by something else is ErrDivergence. A business rule saying no (too little money, paid with another
// reference) is a *domain.RuleError and nothing is written.
func (s *Store) WriteStep(ctx context.Context, st Step) (StepResult, error) {
	type part struct {
		tr    Transition
		write func(tx *sqlx.Tx) (existed bool, err error)
	}
	var parts []part
	for _, t := range st.Transitions {
		parts = append(parts, part{t, func(tx *sqlx.Tx) (bool, error) { return recordTransition(ctx, tx, t) }})
	}
	if in := st.Release; in != nil {
		parts = append(parts, part{in.Transition, func(tx *sqlx.Tx) (bool, error) { return release(ctx, tx, *in) }})
	}
	if in := st.Pay; in != nil {
		parts = append(parts, part{in.Transition, func(tx *sqlx.Tx) (bool, error) { return pay(ctx, tx, *in) }})
	}
	if in := st.Cancel; in != nil {
		parts = append(parts, part{in.Transition, func(tx *sqlx.Tx) (bool, error) { return cancel(ctx, tx, *in) }})
	}
	if in := st.Closeout; in != nil {
		parts = append(parts, part{in.Transition, func(tx *sqlx.Tx) (bool, error) { return closeout(ctx, tx, *in) }})
	}
	slices.SortFunc(parts, func(a, b part) int { return cmpInt(a.tr.Event.Seq, b.tr.Event.Seq) })
	if in := st.Reserve; in != nil {
		// A change that asks for more from one source and less from another gives the rest back in the same step:
		// the frame and co-financing rules judge the step's net effect.
		var giveBack []domain.SourceAmount
		if u := st.Unreserve; u != nil && u.InitiativeID == in.InitiativeID {
			giveBack = u.Lines
		}
		parts = append([]part{{in.Transition, func(tx *sqlx.Tx) (bool, error) { return reserve(ctx, tx, *in, giveBack) }}}, parts...)
	}
	if len(parts) == 0 {
		return StepResult{}, fmt.Errorf("write step: nothing to write")
	}
	first, last := parts[0].tr, parts[len(parts)-1].tr
	for i, p := range parts {
		if p.tr.Snapshot.ID != first.Snapshot.ID || p.tr.Event.Seq != first.Event.Seq+int64(i) {
			return StepResult{}, fmt.Errorf("write step %s: transitions must be of one initiative with consecutive "+
				"seqs, got %s v%d at position %d", first.Snapshot.ID, p.tr.Snapshot.ID, p.tr.Event.Seq, i)
		}
	}

	var res StepResult
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		res = StepResult{}
		if st.YearsOfChange != "" && st.Reserve == nil && len(st.Transitions) > 0 {
			// First, like a reservation: it locks the plan's funding sources, and judges the plan as the read model
			// has it before the step.
			tr := st.Transitions[0]
			in := ReserveInput{PlanID: tr.Snapshot.PlanID, InitiativeID: tr.Snapshot.ID,
				DelaftaleID: tr.Snapshot.Proposal.DelaftaleID, Transition: tr, KeySuffix: st.YearsOfChange}
			if err := checkYearsOfChange(ctx, tx, in); err != nil {
				return err
			}
		}
		lastExisted := false
		for _, p := range parts {
			existed, err := p.write(tx)
			if err != nil {
				return err
			}
			lastExisted = existed
		}
		if in := st.Unreserve; in != nil {
			if err := unreserve(ctx, tx, *in); err != nil {
				return err
			}
		}
		// Notifications belong to the step's events: written after them, in the same transaction, once.
		if err := notify(ctx, tx, st.Notify); err != nil {
			return err
		}
		if !lastExisted {
			return nil
		}
		// The whole step was there already: hand back what the first attempt stored, unless it is this.
		raw, version, err := storedSnapshot(ctx, tx, last.Snapshot.ID)
		if err != nil {
			return err
		}
		if version != last.Snapshot.Version {
			return nil // the read model has moved on since; the events matched, so this step is done
		}
		mine, err := json.Marshal(last.Snapshot)
		if err != nil {
			return fmt.Errorf("write step %s: snapshot: %w", last.Snapshot.ID, err)
		}
		var same bool
		if err := tx.GetContext(ctx, &same, `SELECT $1::jsonb = $2::jsonb`, raw, mine); err != nil {
			return translate(err, "write step %s: compare snapshot", last.Snapshot.ID)
		}
		if same {
			return nil
		}
		if len(raw) > maxAdoptBytes {
			// Too big to travel back through the workflow's history (a local activity's result is recorded
			// there, under Temporal's 2 MB payload limit). The rerun's state then differs from the stored one only
			// in its times; the next step's snapshot replaces it.
			return nil
		}
		var stored domain.Initiative
		if err := json.Unmarshal(raw, &stored); err != nil {
			return fmt.Errorf("write step %s: stored snapshot: %w", last.Snapshot.ID, err)
		}
		res.Stored = &stored
		return nil
	})
	if err != nil {
		return StepResult{}, err
	}
	return res, nil
}

// maxAdoptBytes bounds the snapshot WriteStep hands back for the workflow to adopt (see StepResult.Stored).
const maxAdoptBytes = 1 << 20

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Reserve sets an approved initiative's budget aside and records the approval, in one transaction (a step with
// only a reservation; see WriteStep).
func (s *Store) Reserve(ctx context.Context, in ReserveInput) error {
	_, err := s.WriteStep(ctx, Step{Reserve: &in})
	return err
}

// ReserveKey is the idempotency key of a reservation from source: reserve/<initiative>/<source> for the
// approval, reserve/<initiative>/<suffix>/<source> for a later one (an approved change).
func ReserveKey(initiativeID, suffix, sourceID string) string {
	if suffix == "" {
		return "reserve/" + initiativeID + "/" + sourceID
	}
	return "reserve/" + initiativeID + "/" + suffix + "/" + sourceID
}

// reserve sets an approved initiative's budget aside and records the approval. It locks the plan's funding
// sources first, so two approvals that together exceed a source cannot both pass the check. A retry after a
// committed reservation writes nothing: reservations that exist already are neither checked again (they would
// count against themselves) nor written again, but their amounts must be the ones asked for.
//
// A source without enough money left is a *domain.RuleError with CodeInsufficientFunds and nothing is written.
// Then, under the same locks (the plan's funding sources, then the initiative's delaftale FOR NO KEY UPDATE, then
// the plan row FOR SHARE; that order always, so two reservations never wait for each other's locks), the
// delaftale's budget frame (domain.CheckFrame, CodeFrameExceeded) and the plan's local co-financing rule
// (domain.CheckCofinancing, CodeCofinancing) are checked against the ledger as it is, with giveBack (what the same
// step gives back, a change that also asks for less) counted as returned. Two approvals that together break a rule
// run one after the other, and the second sees the first's reservation.
func reserve(ctx context.Context, tx *sqlx.Tx, in ReserveInput, giveBack []domain.SourceAmount) (existed bool, err error) {
	if in.PlanID == "" || in.InitiativeID == "" || in.DelaftaleID == "" {
		return false, fmt.Errorf("reserve: plan, initiative and delaftale are required")
	}
	lines, err := sumLines(in.Lines)
	if err != nil {
		return false, fmt.Errorf("reserve %s: %w", in.InitiativeID, err)
	}
	if in.KeySuffix != "" {
		if err := checkUnreserveReason(in.KeySuffix); err != nil {
			return false, fmt.Errorf("reserve %s: %w", in.InitiativeID, err)
		}
	}
	keys := make([]string, len(lines))
	for i, l := range lines {
		keys[i] = ReserveKey(in.InitiativeID, in.KeySuffix, l.SourceID)
	}
	// Fixed order (by ID), so two reservations never hold some locks each and wait for the other's.
	const qLock = `
		SELECT id, name
		FROM funding_sources
		WHERE plan_id = $1
		ORDER BY id
		FOR UPDATE`
	var sources []struct {
		ID   string `db:"id"`
		Name string `db:"name"`
	}
	if err := sqlx.SelectContext(ctx, tx, &sources, qLock, in.PlanID); err != nil {
		return false, translate(err, "reserve %s: lock funding sources", in.InitiativeID)
	}
	// The delaftale next: FOR NO KEY UPDATE, not FOR UPDATE, because every ledger entry's foreign key holds FOR KEY
	// SHARE on it (a release or payment of another initiative in the same delaftale must not wait for us, nor we
	// for it while it waits for the sources we hold). It makes a frame set meanwhile (SetDelaftaleBudgetFrame)
	// wait for this reservation, or this reservation see the new frame.
	const qDelaftale = `
		SELECT name, budget_frame_ore
		FROM delaftaler
		WHERE plan_id = $1 AND id = $2
		FOR NO KEY UPDATE`
	var del struct {
		Name  string `db:"name"`
		Frame *int64 `db:"budget_frame_ore"`
	}
	if err := tx.GetContext(ctx, &del, qDelaftale, in.PlanID, in.DelaftaleID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return false, domain.Refuse(domain.CodeValidation, "Planen har ingen delaftale %q.", in.DelaftaleID)
		}
		return false, translate(err, "reserve %s: lock delaftale", in.InitiativeID)
	}
	if len(sources) == 0 {
		return false, fmt.Errorf("reserve %s: plan %s has no funding sources: %w", in.InitiativeID, in.PlanID, ErrNotFound)
	}
	names := make(map[string]string, len(sources))
	for _, src := range sources {
		names[src.ID] = src.Name
	}
	for _, l := range lines {
		if _, ok := names[l.SourceID]; !ok {
			return false, domain.Refuse(domain.CodeValidation, "Planen har ingen finansieringskilde %q.", l.SourceID)
		}
	}

	const qDone = `SELECT idempotency_key, amount_ore FROM ledger_entries WHERE idempotency_key = ANY($1)`
	var done []struct {
		Key       string `db:"idempotency_key"`
		AmountØre int64  `db:"amount_ore"`
	}
	if err := sqlx.SelectContext(ctx, tx, &done, qDone, pq.Array(keys)); err != nil {
		return false, translate(err, "reserve %s: earlier reservations", in.InitiativeID)
	}
	var todo []domain.SourceAmount
	for i, l := range lines {
		k := slices.IndexFunc(done, func(d struct {
			Key       string `db:"idempotency_key"`
			AmountØre int64  `db:"amount_ore"`
		}) bool {
			return d.Key == keys[i]
		})
		switch {
		case k < 0:
			todo = append(todo, l)
		case done[k].AmountØre != int64(l.AmountØre):
			return false, fmt.Errorf("reserve %s from %s: %w: %d øre reserved, %d asked", in.InitiativeID,
				l.SourceID, ErrDivergence, done[k].AmountØre, l.AmountØre)
		}
	}
	if len(todo) > 0 && len(todo) < len(lines) {
		return false, fmt.Errorf("reserve %s: %w: only part of the budget is reserved", in.InitiativeID, ErrDivergence)
	}
	if len(todo) > 0 {
		avail, err := available(ctx, tx, in.PlanID)
		if err != nil {
			return false, err
		}
		var short []string
		for _, l := range todo {
			if a := avail[l.SourceID]; l.AmountØre > a {
				short = append(short, fmt.Sprintf("der søges %s fra %s, men kun %s er endnu ikke reserveret",
					l.AmountØre, names[l.SourceID], a))
			}
		}
		if len(short) > 0 {
			return false, domain.Refuse(domain.CodeInsufficientFunds,
				"Der er ikke penge nok til at reservere budgettet: %s.", strings.Join(short, "; "))
		}
		// The plan's rules on approved money come after the funds: asking for more than there is is said first.
		if err := checkReserveRules(ctx, tx, in, todo, giveBack, del.Name, del.Frame); err != nil {
			return false, err
		}
	}

	existed, err = recordTransition(ctx, tx, in.Transition)
	if err != nil {
		return false, err
	}
	if existed != (len(todo) == 0) {
		return false, fmt.Errorf("reserve %s: %w: the approval event and the reservation disagree on whether it "+
			"happened", in.InitiativeID, ErrDivergence)
	}
	const qEntry = `
		INSERT INTO ledger_entries (plan_id, source_id, initiative_id, delaftale_id, milestone_no, kind,
		                            amount_ore, idempotency_key)
		VALUES ($1, $2, $3, $4, NULL, 'reserve', $5, $6)`
	for _, l := range todo {
		if _, err := tx.ExecContext(ctx, qEntry, in.PlanID, l.SourceID, in.InitiativeID, in.DelaftaleID,
			int64(l.AmountØre), ReserveKey(in.InitiativeID, in.KeySuffix, l.SourceID)); err != nil {
			return false, translate(err, "reserve %s from %s", in.InitiativeID, l.SourceID)
		}
	}
	return existed, nil
}

// checkReserveRules checks a reservation of todo (net of giveBack, what the same step gives back) against the
// delaftale's budget frame and the plan's local co-financing rule, from the ledger as it is under reserve's locks.
// A *domain.RuleError says which rule and the figures.
func checkReserveRules(ctx context.Context, tx *sqlx.Tx, in ReserveInput, todo, giveBack []domain.SourceAmount,
	delName string, frame *int64) error {
	back, err := sumLines(giveBack)
	if err != nil {
		return fmt.Errorf("reserve %s: give back: %w", in.InitiativeID, err)
	}
	// Per source: reserved and not given back over the whole plan, and whether it counts as local.
	const qApproved = `
		SELECT s.id, s.local,
		       COALESCE(sum(CASE l.kind WHEN 'reserve' THEN l.amount_ore
		                                WHEN 'unreserve' THEN -l.amount_ore
		                                WHEN 'refund' THEN -l.amount_ore
		                                ELSE 0 END), 0)::bigint AS approved_ore
		FROM funding_sources s
		LEFT JOIN ledger_entries l ON l.plan_id = s.plan_id AND l.source_id = s.id
		WHERE s.plan_id = $1
		GROUP BY s.id, s.local`
	var rows []struct {
		ID          string `db:"id"`
		Local       bool   `db:"local"`
		ApprovedØre int64  `db:"approved_ore"`
	}
	if err := sqlx.SelectContext(ctx, tx, &rows, qApproved, in.PlanID); err != nil {
		return translate(err, "reserve %s: approved budget", in.InitiativeID)
	}
	// Confirmed in-kind counts in the approved budget too (domain.Share.PlusInKind).
	inKind, err := confirmedInKind(ctx, tx, in.PlanID)
	if err != nil {
		return err
	}
	local := make(map[string]bool, len(rows))
	var before domain.Share
	for _, r := range rows {
		local[r.ID] = r.Local
		var l domain.Money
		if r.Local {
			l = domain.Money(r.ApprovedØre)
		}
		var ok, ok2 bool
		before, ok = before.Plus(l, domain.Money(r.ApprovedØre))
		before, ok2 = before.PlusInKind(inKind[r.ID], r.Local)
		if !ok || !ok2 {
			return fmt.Errorf("reserve %s: approved budget overflows", in.InitiativeID)
		}
	}
	var asked domain.Share
	for _, lines := range []struct {
		sign  domain.Money
		lines []domain.SourceAmount
	}{{1, todo}, {-1, back}} {
		for _, l := range lines.lines {
			amt := lines.sign * l.AmountØre // both within MaxMoney, so no wrap
			var lo domain.Money
			if local[l.SourceID] {
				lo = amt
			}
			var ok bool
			if asked, ok = asked.Plus(lo, amt); !ok {
				return fmt.Errorf("reserve %s: asked amount overflows", in.InitiativeID)
			}
		}
	}
	frameAsks, shareAsks := "forslaget beder om", "forslaget beder om"
	if in.KeySuffix != "" {
		frameAsks, shareAsks = "ændringen beder om yderligere", "ændringen ændrer det godkendte budget med"
	}

	if frame != nil {
		const qDel = `
			SELECT COALESCE(sum(CASE kind WHEN 'reserve' THEN amount_ore ELSE -amount_ore END), 0)::bigint
			FROM ledger_entries
			WHERE plan_id = $1 AND delaftale_id = $2 AND kind IN ('reserve', 'unreserve', 'refund')`
		var reserved int64
		if err := tx.GetContext(ctx, &reserved, qDel, in.PlanID, in.DelaftaleID); err != nil {
			return translate(err, "reserve %s: reserved on delaftale %s", in.InitiativeID, in.DelaftaleID)
		}
		f := domain.Money(*frame)
		if err := domain.CheckFrame(delName, &f, domain.Money(reserved), asked.Total, frameAsks); err != nil {
			return err
		}
	}

	// The plan row FOR SHARE: settings changed meanwhile wait for this reservation (the foreign keys of ledger
	// entries hold only KEY SHARE on it, which FOR SHARE lets through).
	const qMin = `
		SELECT COALESCE((settings->>'min_local_cofinancing_permille')::bigint, 0)
		FROM plans
		WHERE id = $1
		FOR SHARE`
	var min int64
	if err := tx.GetContext(ctx, &min, qMin, in.PlanID); err != nil {
		return translate(err, "reserve %s: co-financing minimum", in.InitiativeID)
	}
	if err := domain.CheckCofinancing(min, before, asked, shareAsks); err != nil {
		return err
	}
	// Each source's commitment per year (store/yearcheck.go).
	return checkYearCommitments(ctx, tx, in)
}

// Release asks finance to pay one tranche, as a step of its own (see WriteStep and release).
func (s *Store) Release(ctx context.Context, in ReleaseInput) error {
	_, err := s.WriteStep(ctx, Step{Release: &in})
	return err
}

// release records the transition, creates the pending disbursement and its lines, moves the money from reserved
// to released and queues the notification in the outbox. Releasing the same disbursement again writes nothing,
// provided what is stored is the same tranche (initiative, milestone, lines); anything else is ErrDivergence, or
// ErrConflict when another milestone's disbursement has the ID.
func release(ctx context.Context, tx *sqlx.Tx, in ReleaseInput) (existed bool, err error) {
	if in.PlanID == "" || in.InitiativeID == "" || in.DelaftaleID == "" || in.DisbursementID == "" || in.MilestoneNo < 1 {
		return false, fmt.Errorf("release: plan, initiative, delaftale, disbursement and milestone are required")
	}
	lines, err := sumLines(in.Lines)
	if err != nil {
		return false, fmt.Errorf("release %s: %w", in.DisbursementID, err)
	}
	total, err := domain.Sum(lines)
	if err != nil {
		return false, fmt.Errorf("release %s: %w", in.DisbursementID, err)
	}
	if total <= 0 {
		return false, fmt.Errorf("release %s: the tranche is empty", in.DisbursementID)
	}
	// The event time is workflow time: the same on every retry, so the row and the message agree across retries.
	releasedAt := eventTime(in.Transition.Event.At)
	msg, err := json.Marshal(DisbursementMessage{
		DisbursementID:  in.DisbursementID,
		PlanID:          in.PlanID,
		InitiativeID:    in.InitiativeID,
		InitiativeTitle: in.Transition.Snapshot.Proposal.Title,
		MilestoneNo:     in.MilestoneNo,
		MilestoneTitle:  in.MilestoneTitle,
		Lines:           lines,
		TotalØre:        total,
		ReleasedAt:      releasedAt,
	})
	if err != nil {
		return false, fmt.Errorf("release %s: message: %w", in.DisbursementID, err)
	}

	// First, so the initiative row the disbursement references exists even if this is its first write.
	existed, err = recordTransition(ctx, tx, in.Transition)
	if err != nil {
		return false, err
	}
	// A second disbursement for the same milestone under another ID violates UNIQUE(initiative_id,
	// milestone_no) and comes back as ErrConflict.
	const qDisbursement = `
		INSERT INTO disbursements (id, plan_id, initiative_id, delaftale_id, milestone_no, milestone_title,
		                           total_ore, status, released_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8)
		ON CONFLICT (id) DO NOTHING`
	res, err := tx.ExecContext(ctx, qDisbursement, in.DisbursementID, in.PlanID, in.InitiativeID, in.DelaftaleID,
		in.MilestoneNo, in.MilestoneTitle, int64(total), releasedAt)
	if err != nil {
		return false, translate(err, "release %s", in.DisbursementID)
	}
	n, err := rowsAffected(res, "release")
	if err != nil {
		return false, err
	}
	if n == 0 {
		// Released before: its lines, ledger entries and message committed with it.
		if err := sameDisbursement(ctx, tx, in, lines); err != nil {
			return false, err
		}
		if !existed {
			return false, fmt.Errorf("release %s: %w: the disbursement exists but its release event does not",
				in.DisbursementID, ErrDivergence)
		}
		return true, nil
	}
	if existed {
		return false, fmt.Errorf("release %s: %w: the release event exists but its disbursement does not",
			in.DisbursementID, ErrDivergence)
	}
	// A new release waits while the plan's annual statement for an earlier year is overdue (store/annual.go).
	if err := checkReleaseHold(ctx, tx, in.PlanID, releasedAt); err != nil {
		return false, err
	}

	const qLine = `
		INSERT INTO disbursement_lines (disbursement_id, plan_id, source_id, amount_ore)
		VALUES ($1, $2, $3, $4)`
	const qEntry = `
		INSERT INTO ledger_entries (plan_id, source_id, initiative_id, delaftale_id, milestone_no, kind,
		                            amount_ore, idempotency_key)
		VALUES ($1, $2, $3, $4, $5, 'release', $6, $7)`
	for _, l := range lines {
		if _, err := tx.ExecContext(ctx, qLine, in.DisbursementID, in.PlanID, l.SourceID, int64(l.AmountØre)); err != nil {
			return false, translate(err, "release %s: line %s", in.DisbursementID, l.SourceID)
		}
		if _, err := tx.ExecContext(ctx, qEntry, in.PlanID, l.SourceID, in.InitiativeID, in.DelaftaleID,
			in.MilestoneNo, int64(l.AmountØre), "release/"+in.DisbursementID+"/"+l.SourceID); err != nil {
			return false, translate(err, "release %s from %s", in.DisbursementID, l.SourceID)
		}
	}
	return false, enqueue(ctx, tx, TopicDisbursementReleased, TopicDisbursementReleased+"/"+in.DisbursementID, msg)
}

// sameDisbursement checks that an existing disbursement is the one being released again — the same initiative,
// milestone and lines — not another tranche that happens to have the same ID.
func sameDisbursement(ctx context.Context, tx *sqlx.Tx, in ReleaseInput, lines []domain.SourceAmount) error {
	const q = `SELECT initiative_id, milestone_no FROM disbursements WHERE id = $1`
	var got struct {
		InitiativeID string `db:"initiative_id"`
		MilestoneNo  int    `db:"milestone_no"`
	}
	if err := sqlx.GetContext(ctx, tx, &got, q, in.DisbursementID); err != nil {
		return translate(err, "release %s: existing disbursement", in.DisbursementID)
	}
	if got.InitiativeID != in.InitiativeID || got.MilestoneNo != in.MilestoneNo {
		return fmt.Errorf("release %s: the ID is taken by milestone %d of %s: %w",
			in.DisbursementID, got.MilestoneNo, got.InitiativeID, ErrConflict)
	}
	stored, err := disbursementLines(ctx, tx, []string{in.DisbursementID})
	if err != nil {
		return err
	}
	have := stored[in.DisbursementID]
	slices.SortFunc(have, func(a, b domain.SourceAmount) int { return strings.Compare(a.SourceID, b.SourceID) })
	if !slices.Equal(have, lines) {
		return fmt.Errorf("release %s: %w: stored lines %v, releasing %v", in.DisbursementID, ErrDivergence, have, lines)
	}
	return nil
}

// ConfirmPayment records that finance paid a disbursement, as a step of its own (see WriteStep and pay).
func (s *Store) ConfirmPayment(ctx context.Context, in PayInput) error {
	_, err := s.WriteStep(ctx, Step{Pay: &in})
	return err
}

// pay marks a disbursement paid, moves the money from released to paid, queues the notification and records the
// transition. Confirming again with the same reference (a retry, or two clicks) changes nothing; another
// reference is a *domain.RuleError with CodeAlreadyPaid, because the first one matches the bank statement. An
// unknown disbursement is ErrNotFound.
func pay(ctx context.Context, tx *sqlx.Tx, in PayInput) (existed bool, err error) {
	if in.DisbursementID == "" || in.Reference == "" {
		return false, fmt.Errorf("confirm payment: disbursement and reference are required")
	}
	paidAt := eventTime(in.Transition.Event.At)
	var paidBy *string
	if in.Actor.UserID != "" {
		paidBy = &in.Actor.UserID
	}
	// Two concurrent confirmations queue on the row lock; the second then sees status 'paid' and updates nothing.
	const qPay = `
		UPDATE disbursements SET status = 'paid', reference = $2, paid_at = $3, paid_by = $4
		WHERE id = $1 AND status = 'pending'`
	res, err := tx.ExecContext(ctx, qPay, in.DisbursementID, in.Reference, paidAt, paidBy)
	if err != nil {
		return false, translate(err, "confirm payment of %s", in.DisbursementID)
	}
	n, err := rowsAffected(res, "confirm payment")
	if err != nil {
		return false, err
	}
	d, err := getDisbursement(ctx, tx, in.DisbursementID)
	if err != nil {
		return false, err
	}
	if n == 0 && d.Status == DisbursementWithdrawn {
		return false, domain.Refuse(domain.CodeConflict, "Udbetalingen er trukket tilbage, fordi indsatsen er "+
			"annulleret; den må ikke betales.")
	}
	if n == 0 && (d.Reference == nil || *d.Reference != in.Reference) {
		return false, domain.Refuse(domain.CodeAlreadyPaid, "Udbetalingen er allerede bekræftet med referencen %q.",
			deref(d.Reference))
	}

	existed, err = recordTransition(ctx, tx, in.Transition)
	if err != nil {
		return false, err
	}
	if existed != (n == 0) {
		// Paid with this reference, but not by this transition (or the other way round): the disbursement and the
		// initiative's event log disagree.
		return false, fmt.Errorf("confirm payment of %s: %w: payment recorded %t, its event recorded %t",
			in.DisbursementID, ErrDivergence, n == 0, existed)
	}
	if existed {
		return true, nil
	}
	const qEntries = `
		INSERT INTO ledger_entries (plan_id, source_id, initiative_id, delaftale_id, milestone_no, kind,
		                            amount_ore, idempotency_key)
		SELECT d.plan_id, l.source_id, d.initiative_id, d.delaftale_id, d.milestone_no, 'pay', l.amount_ore,
		       'pay/' || d.id || '/' || l.source_id
		FROM disbursements d
		JOIN disbursement_lines l ON l.disbursement_id = d.id
		WHERE d.id = $1
		ORDER BY l.source_id`
	if _, err := tx.ExecContext(ctx, qEntries, in.DisbursementID); err != nil {
		return false, translate(err, "confirm payment of %s: ledger", in.DisbursementID)
	}
	msg, err := json.Marshal(DisbursementMessage{
		DisbursementID:  d.ID,
		PlanID:          d.PlanID,
		InitiativeID:    d.InitiativeID,
		InitiativeTitle: d.InitiativeTitle,
		MilestoneNo:     d.MilestoneNo,
		MilestoneTitle:  d.MilestoneTitle,
		Lines:           d.Lines,
		TotalØre:        d.TotalØre,
		ReleasedAt:      d.ReleasedAt.UTC(),
		Reference:       deref(d.Reference),
		PaidAt:          utcPtr(d.PaidAt),
		PaidBy:          deref(d.PaidBy),
	})
	if err != nil {
		return false, fmt.Errorf("confirm payment of %s: message: %w", in.DisbursementID, err)
	}
	return false, enqueue(ctx, tx, TopicDisbursementPaid, TopicDisbursementPaid+"/"+in.DisbursementID, msg)
}

// Available returns, per funding source of the plan, what is not yet reserved: committed minus reservations
// plus reservations given back. It is what a new proposal may ask for.
func (s *Store) Available(ctx context.Context, planID string) (map[string]domain.Money, error) {
	avail, err := available(ctx, s.db, planID)
	if err != nil {
		return nil, err
	}
	if len(avail) == 0 {
		if err := planExists(ctx, s.db, planID); err != nil {
			return nil, err
		}
	}
	return avail, nil
}

func available(ctx context.Context, q sqlx.QueryerContext, planID string) (map[string]domain.Money, error) {
	const qAvail = `
		SELECT s.id,
		       s.committed_ore - COALESCE(sum(CASE l.kind WHEN 'reserve' THEN l.amount_ore
		                                                  WHEN 'unreserve' THEN -l.amount_ore
		                                                  WHEN 'refund' THEN -l.amount_ore
		                                                  ELSE 0 END), 0)::bigint AS available_ore
		FROM funding_sources s
		LEFT JOIN ledger_entries l ON l.plan_id = s.plan_id AND l.source_id = s.id
		WHERE s.plan_id = $1
		GROUP BY s.id, s.committed_ore`
	var rows []struct {
		ID           string `db:"id"`
		AvailableØre int64  `db:"available_ore"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, qAvail, planID); err != nil {
		return nil, translate(err, "available funds of %s", planID)
	}
	out := make(map[string]domain.Money, len(rows))
	for _, r := range rows {
		out[r.ID] = domain.Money(r.AvailableØre)
	}
	return out, nil
}

// Budget returns the plan's money per funding source, per delaftale and in total, from the ledger. Every source
// and delaftale appears, also those nothing was booked on. Both queries read one snapshot, so the per-source and
// per-delaftale figures always add up to the same total.
func (s *Store) Budget(ctx context.Context, planID string) (Budget, error) {
	b := Budget{PlanID: planID, Sources: []SourceBudget{}, Delaftaler: []DelaftaleBudget{}}
	err := s.inTxOpts(ctx, readOnlySnapshot, func(tx *sqlx.Tx) error {
		const qSources = `
			SELECT s.id, s.name, s.local, s.committed_ore,
			       COALESCE(l.reserve_ore, 0) AS reserve_ore, COALESCE(l.unreserve_ore, 0) AS unreserve_ore,
			       COALESCE(l.release_ore, 0) AS release_ore, COALESCE(l.pay_ore, 0) AS pay_ore,
			       COALESCE(l.withdraw_ore, 0) AS withdraw_ore,
			       COALESCE(l.refund_ore, 0) AS refund_ore
			FROM funding_sources s
			LEFT JOIN (
				SELECT source_id,
				       sum(amount_ore) FILTER (WHERE kind = 'reserve')::bigint   AS reserve_ore,
				       sum(amount_ore) FILTER (WHERE kind = 'unreserve')::bigint AS unreserve_ore,
				       sum(amount_ore) FILTER (WHERE kind = 'release')::bigint   AS release_ore,
				       sum(amount_ore) FILTER (WHERE kind = 'pay')::bigint       AS pay_ore,
				       sum(amount_ore) FILTER (WHERE kind = 'withdraw')::bigint  AS withdraw_ore,
				       sum(amount_ore) FILTER (WHERE kind = 'refund')::bigint    AS refund_ore
				FROM ledger_entries
				WHERE plan_id = $1
				GROUP BY source_id
			) l ON l.source_id = s.id
			WHERE s.plan_id = $1
			ORDER BY s.position`
		var sources []struct {
			ID           string `db:"id"`
			Name         string `db:"name"`
			Local        bool   `db:"local"`
			CommittedØre int64  `db:"committed_ore"`
			sums
		}
		if err := sqlx.SelectContext(ctx, tx, &sources, qSources, planID); err != nil {
			return translate(err, "budget of %s: sources", planID)
		}
		inKind, err := confirmedInKind(ctx, tx, planID)
		if err != nil {
			return err
		}
		var committed domain.Money
		var all sums
		for _, r := range sources {
			c := domain.Money(r.CommittedØre)
			committed += c
			all.add(r.sums)
			b.Sources = append(b.Sources, SourceBudget{SourceID: r.ID, Name: r.Name, Local: r.Local, BudgetLine: r.line(&c),
				InKindØre: inKind[r.ID]})
		}
		b.Total = all.line(&committed)

		const qDelaftaler = `
			SELECT d.id, d.name, d.budget_frame_ore,
			       COALESCE(l.reserve_ore, 0) AS reserve_ore, COALESCE(l.unreserve_ore, 0) AS unreserve_ore,
			       COALESCE(l.release_ore, 0) AS release_ore, COALESCE(l.pay_ore, 0) AS pay_ore,
			       COALESCE(l.withdraw_ore, 0) AS withdraw_ore,
			       COALESCE(l.refund_ore, 0) AS refund_ore
			FROM delaftaler d
			LEFT JOIN (
				SELECT delaftale_id,
				       sum(amount_ore) FILTER (WHERE kind = 'reserve')::bigint   AS reserve_ore,
				       sum(amount_ore) FILTER (WHERE kind = 'unreserve')::bigint AS unreserve_ore,
				       sum(amount_ore) FILTER (WHERE kind = 'release')::bigint   AS release_ore,
				       sum(amount_ore) FILTER (WHERE kind = 'pay')::bigint       AS pay_ore,
				       sum(amount_ore) FILTER (WHERE kind = 'withdraw')::bigint  AS withdraw_ore,
				       sum(amount_ore) FILTER (WHERE kind = 'refund')::bigint    AS refund_ore
				FROM ledger_entries
				WHERE plan_id = $1
				GROUP BY delaftale_id
			) l ON l.delaftale_id = d.id
			WHERE d.plan_id = $1
			ORDER BY d.position`
		var delaftaler []struct {
			ID    string `db:"id"`
			Name  string `db:"name"`
			Frame *int64 `db:"budget_frame_ore"`
			sums
		}
		if err := sqlx.SelectContext(ctx, tx, &delaftaler, qDelaftaler, planID); err != nil {
			return translate(err, "budget of %s: delaftaler", planID)
		}
		for _, r := range delaftaler {
			var frame *domain.Money
			if r.Frame != nil {
				f := domain.Money(*r.Frame)
				frame = &f
			}
			b.Delaftaler = append(b.Delaftaler, DelaftaleBudget{DelaftaleID: r.ID, Name: r.Name, BudgetLine: r.line(frame)})
		}
		if len(sources) == 0 && len(delaftaler) == 0 {
			return planExists(ctx, tx, planID)
		}
		return pendingCofinancing(ctx, tx, &b)
	})
	if err != nil {
		return Budget{}, err
	}
	return b, nil
}

// sums are the ledger totals of one budget line, per kind.
type sums struct {
	Reserve   int64 `db:"reserve_ore"`
	Unreserve int64 `db:"unreserve_ore"`
	Release   int64 `db:"release_ore"`
	Pay       int64 `db:"pay_ore"`
	Withdraw  int64 `db:"withdraw_ore"`
	Refund    int64 `db:"refund_ore"`
}

func (s *sums) add(o sums) {
	s.Reserve += o.Reserve
	s.Unreserve += o.Unreserve
	s.Release += o.Release
	s.Pay += o.Pay
	s.Withdraw += o.Withdraw
	s.Refund += o.Refund
}

// line turns ledger totals into money per state. A release moves money out of reserved, a payment out of
// released, a withdrawal from released back to reserved, a refund (a return received after close-out) out of paid
// and back to available, so each amount is counted in exactly one state. Without
// committed there is nothing to be available of.
func (s sums) line(committed *domain.Money) BudgetLine {
	l := BudgetLine{
		CommittedØre: committed,
		ReservedØre:  domain.Money(s.Reserve - s.Unreserve - s.Release + s.Withdraw),
		ReleasedØre:  domain.Money(s.Release - s.Withdraw - s.Pay),
		PaidØre:      domain.Money(s.Pay - s.Refund),
		ReturnedØre:  domain.Money(s.Refund),
	}
	if committed != nil {
		a := *committed - l.ReservedØre - l.ReleasedØre - l.PaidØre
		l.AvailableØre = &a
	}
	return l
}

func planExists(ctx context.Context, q sqlx.QueryerContext, planID string) error {
	const qPlan = `SELECT id FROM plans WHERE id = $1`
	var id string
	if err := sqlx.GetContext(ctx, q, &id, qPlan, planID); err != nil {
		return translate(err, "plan %s", planID)
	}
	return nil
}

// sumLines adds up amounts per source without ever wrapping (each amount and each sum stays within
// domain.MaxMoney, the bound the database checks too), drops zero lines (a tranche may take nothing from a source;
// the ledger only holds positive amounts) and sorts by source ID, so keys and lock order never depend on input
// order.
func sumLines(lines []domain.SourceAmount) ([]domain.SourceAmount, error) {
	by := map[string]domain.Money{}
	for _, l := range lines {
		switch {
		case l.SourceID == "":
			return nil, fmt.Errorf("a line has no funding source")
		case !l.AmountØre.InRange():
			return nil, fmt.Errorf("line %s: amount %d øre is outside 0..%d", l.SourceID, l.AmountØre, int64(domain.MaxMoney))
		}
		// Both terms are at most 10^15, so the sum cannot wrap before it is compared.
		sum := by[l.SourceID] + l.AmountØre
		if !sum.InRange() {
			return nil, fmt.Errorf("lines for %s add up to more than %d øre", l.SourceID, int64(domain.MaxMoney))
		}
		by[l.SourceID] = sum
	}
	out := make([]domain.SourceAmount, 0, len(by))
	for id, amt := range by {
		if amt > 0 {
			out = append(out, domain.SourceAmount{SourceID: id, AmountØre: amt})
		}
	}
	slices.SortFunc(out, func(a, b domain.SourceAmount) int { return strings.Compare(a.SourceID, b.SourceID) })
	return out, nil
}

// eventTime is the time a ledger row records for a transition: the workflow's event time, at the precision
// PostgreSQL keeps, so what is stored and what is sent in a message are equal. A zero time (a caller bug) falls
// back to now rather than year 1.
func eventTime(t time.Time) time.Time {
	if t.IsZero() {
		t = time.Now()
	}
	return t.UTC().Truncate(time.Microsecond)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
