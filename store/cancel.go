package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/helhedsplan/helhedsplan/domain"
)

// CancelReason is the unreserve reason of a cancellation: its entries are keyed
// unreserve/<initiative>/cancelled/<source>.
const CancelReason = "cancelled"

// cancel books a cancellation's compensation (see CancelInput) inside the step's transaction: it records the
// transition, withdraws each pending disbursement in Withdraw (status withdrawn, one 'withdraw' entry per line that
// moves the money from released back to reserved, and a disbursement.withdrawn message so finance drops it), and
// gives Unreserve back to the sources ('unreserve' entries with reason "cancelled"). Afterwards the initiative must
// be settled: per source, nothing released and unpaid and nothing reserved beyond what was paid.
//
// Running it again writes nothing and reports existed, provided what is stored is this cancellation (the same
// transition, the same disbursements withdrawn with the same lines, the same amounts given back); anything else is
// ErrDivergence. A disbursement that finance has paid meanwhile is a *domain.RuleError (CodeConflict): the board
// must be told, and nothing is written.
func cancel(ctx context.Context, tx *sqlx.Tx, in CancelInput) (existed bool, err error) {
	if in.PlanID == "" || in.InitiativeID == "" || in.DelaftaleID == "" {
		return false, fmt.Errorf("cancel: plan, initiative and delaftale are required")
	}
	if ev := in.Transition.Event; in.Transition.Snapshot.ID != in.InitiativeID ||
		in.Transition.Snapshot.PlanID != in.PlanID || ev.PhaseAfter != domain.PhaseCancelled {
		return false, fmt.Errorf("cancel %s: the transition must take initiative %s of plan %s to %s, got %s of %s to %q",
			in.InitiativeID, in.InitiativeID, in.PlanID, domain.PhaseCancelled, in.Transition.Snapshot.ID,
			in.Transition.Snapshot.PlanID, ev.PhaseAfter)
	}
	withdraws := make([]WithdrawInput, len(in.Withdraw))
	for i, w := range in.Withdraw {
		if w.DisbursementID == "" || w.MilestoneNo < 1 {
			return false, fmt.Errorf("cancel %s: a withdrawal needs a disbursement and a milestone", in.InitiativeID)
		}
		lines, err := sumLines(w.Lines)
		if err != nil {
			return false, fmt.Errorf("cancel %s: withdraw %s: %w", in.InitiativeID, w.DisbursementID, err)
		}
		if len(lines) == 0 {
			return false, fmt.Errorf("cancel %s: withdraw %s: the tranche is empty", in.InitiativeID, w.DisbursementID)
		}
		w.Lines = lines
		withdraws[i] = w
	}
	// ID order: the order in which the rows are locked, the same in every run.
	slices.SortFunc(withdraws, func(a, b WithdrawInput) int { return strings.Compare(a.DisbursementID, b.DisbursementID) })
	for i := 1; i < len(withdraws); i++ {
		if withdraws[i].DisbursementID == withdraws[i-1].DisbursementID {
			return false, fmt.Errorf("cancel %s: disbursement %s is withdrawn twice", in.InitiativeID,
				withdraws[i].DisbursementID)
		}
	}
	giveBack, err := sumLines(in.Unreserve)
	if err != nil {
		return false, fmt.Errorf("cancel %s: unreserve: %w", in.InitiativeID, err)
	}

	// Lock the disbursements before the initiative (recordTransition), the order pay() takes them in too, so a
	// payment racing the cancellation waits for it (and then finds the disbursement withdrawn) or wins (and the
	// cancellation is refused below), and the two never deadlock.
	ids := make([]string, len(withdraws))
	for i, w := range withdraws {
		ids[i] = w.DisbursementID
	}
	const qLock = `
		SELECT id, initiative_id, milestone_no, status, reference
		FROM disbursements
		WHERE id = ANY($1)
		ORDER BY id
		FOR UPDATE`
	type lockedRow struct {
		ID           string  `db:"id"`
		InitiativeID string  `db:"initiative_id"`
		MilestoneNo  int     `db:"milestone_no"`
		Status       string  `db:"status"`
		Reference    *string `db:"reference"`
	}
	var rows []lockedRow
	if err := sqlx.SelectContext(ctx, tx, &rows, qLock, pq.Array(ids)); err != nil {
		return false, translate(err, "cancel %s: lock disbursements", in.InitiativeID)
	}
	locked := make(map[string]lockedRow, len(rows))
	for _, r := range rows {
		locked[r.ID] = r
	}
	stored, err := disbursementLines(ctx, tx, ids)
	if err != nil {
		return false, err
	}
	var todo, done []WithdrawInput
	var paid []string
	for _, w := range withdraws {
		d, ok := locked[w.DisbursementID]
		if !ok {
			return false, fmt.Errorf("cancel %s: disbursement %s to withdraw: %w", in.InitiativeID, w.DisbursementID,
				ErrNotFound)
		}
		if d.InitiativeID != in.InitiativeID || d.MilestoneNo != w.MilestoneNo {
			return false, fmt.Errorf("cancel %s: disbursement %s is milestone %d of %s, not milestone %d of %s: %w",
				in.InitiativeID, d.ID, d.MilestoneNo, d.InitiativeID, w.MilestoneNo, in.InitiativeID, ErrDivergence)
		}
		have := stored[d.ID]
		slices.SortFunc(have, func(a, b domain.SourceAmount) int { return strings.Compare(a.SourceID, b.SourceID) })
		if !slices.Equal(have, w.Lines) {
			return false, fmt.Errorf("cancel %s: withdraw %s: %w: stored lines %v, withdrawing %v", in.InitiativeID,
				d.ID, ErrDivergence, have, w.Lines)
		}
		switch d.Status {
		case DisbursementPending:
			todo = append(todo, w)
		case DisbursementWithdrawn:
			done = append(done, w)
		case DisbursementPaid:
			paid = append(paid, fmt.Sprintf("%s (milepæl %d, reference %q)", d.ID, d.MilestoneNo, deref(d.Reference)))
		default:
			return false, fmt.Errorf("cancel %s: disbursement %s has unknown status %q", in.InitiativeID, d.ID, d.Status)
		}
	}
	if len(paid) > 0 {
		return false, domain.Refuse(domain.CodeConflict, "Raten er allerede udbetalt og kan ikke trækkes tilbage: %s. "+
			"Indsatsen er ikke annulleret; bestyrelsen må træffe beslutningen igen ud fra det, der er betalt.",
			strings.Join(paid, ", "))
	}

	// The cancellation's own unreserve entries, before this run writes any.
	keys := make([]string, len(giveBack))
	for i, l := range giveBack {
		keys[i] = UnreserveKey(in.InitiativeID, CancelReason, l.SourceID)
	}
	const qGivenBack = `SELECT count(*) FROM ledger_entries WHERE idempotency_key = ANY($1)`
	var givenBack int
	if err := sqlx.GetContext(ctx, tx, &givenBack, qGivenBack, pq.Array(keys)); err != nil {
		return false, translate(err, "cancel %s: earlier unreserve entries", in.InitiativeID)
	}

	existed, err = recordTransition(ctx, tx, in.Transition)
	if err != nil {
		return false, err
	}
	// Everything of a cancellation commits together, so a rerun finds all of it or none of it.
	switch {
	case existed && (len(todo) > 0 || givenBack != len(giveBack)):
		return false, fmt.Errorf("cancel %s: %w: the cancellation event exists, but %d of %d disbursements are still "+
			"pending and %d of %d unreserve entries are booked", in.InitiativeID, ErrDivergence, len(todo),
			len(withdraws), givenBack, len(giveBack))
	case !existed && (len(done) > 0 || givenBack > 0):
		return false, fmt.Errorf("cancel %s: %w: the cancellation event does not exist, but %d disbursements are "+
			"withdrawn and %d unreserve entries are booked", in.InitiativeID, ErrDivergence, len(done), givenBack)
	}

	withdrawnAt := eventTime(in.Transition.Event.At)
	reason := "Indsatsen er annulleret af bestyrelsen."
	if c := in.Transition.Snapshot.Cancellation; c != nil && strings.TrimSpace(c.Reason) != "" {
		reason = "Indsatsen er annulleret af bestyrelsen: " + strings.TrimSpace(c.Reason)
	}
	for _, w := range todo {
		if err := withdraw(ctx, tx, in, w, withdrawnAt, reason); err != nil {
			return false, err
		}
	}
	// Unreserve checks what it finds: on a rerun each entry must be the one it would write.
	if err := unreserve(ctx, tx, UnreserveInput{PlanID: in.PlanID, InitiativeID: in.InitiativeID,
		DelaftaleID: in.DelaftaleID, Reason: CancelReason, Lines: giveBack}); err != nil {
		return false, err
	}
	if err := checkSettled(ctx, tx, in.InitiativeID, ids); err != nil {
		return false, err
	}
	return existed, nil
}

// withdraw takes one pending disbursement back from finance: status withdrawn, a 'withdraw' entry per line, and
// the disbursement.withdrawn message. The caller holds the disbursement's row lock and has checked its lines.
func withdraw(ctx context.Context, tx *sqlx.Tx, in CancelInput, w WithdrawInput, at time.Time, reason string) error {
	const qWithdraw = `
		UPDATE disbursements SET status = 'withdrawn', withdrawn_at = $2, withdrawn_reason = $3
		WHERE id = $1 AND status = 'pending'`
	res, err := tx.ExecContext(ctx, qWithdraw, w.DisbursementID, at, reason)
	if err != nil {
		return translate(err, "cancel %s: withdraw %s", in.InitiativeID, w.DisbursementID)
	}
	n, err := rowsAffected(res, "withdraw")
	if err != nil {
		return err
	}
	if n != 1 { // the caller saw it pending under its row lock
		return fmt.Errorf("cancel %s: withdraw %s: %d rows changed, want 1", in.InitiativeID, w.DisbursementID, n)
	}
	// The entries carry the disbursement's own plan, delaftale and milestone, as its release entries do.
	const qEntries = `
		INSERT INTO ledger_entries (plan_id, source_id, initiative_id, delaftale_id, milestone_no, kind,
		                            amount_ore, idempotency_key)
		SELECT d.plan_id, l.source_id, d.initiative_id, d.delaftale_id, d.milestone_no, 'withdraw', l.amount_ore,
		       'withdraw/' || d.id || '/' || l.source_id
		FROM disbursements d
		JOIN disbursement_lines l ON l.disbursement_id = d.id
		WHERE d.id = $1
		ORDER BY l.source_id`
	if _, err := tx.ExecContext(ctx, qEntries, w.DisbursementID); err != nil {
		return translate(err, "cancel %s: withdraw %s: ledger", in.InitiativeID, w.DisbursementID)
	}
	d, err := getDisbursement(ctx, tx, w.DisbursementID)
	if err != nil {
		return err
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
		WithdrawnAt:     utcPtr(d.WithdrawnAt),
		WithdrawnReason: deref(d.WithdrawnReason),
	})
	if err != nil {
		return fmt.Errorf("cancel %s: withdraw %s: message: %w", in.InitiativeID, w.DisbursementID, err)
	}
	return enqueue(ctx, tx, TopicDisbursementWithdrawn, TopicDisbursementWithdrawn+"/"+d.ID, msg)
}

// checkSettled makes sure a cancelled initiative owes nothing and holds nothing: no disbursement still pending,
// exactly the disbursements withdrawn that the cancellation names (withdrawn, in ID order), and per source nothing
// released and unpaid and nothing reserved beyond what was paid. The database allows a ledger that is not settled
// (it is the normal state of a running initiative); a cancellation that leaves one is a workflow whose idea of the
// money differs from the ledger's, so it is a divergence and nothing is written.
func checkSettled(ctx context.Context, tx *sqlx.Tx, initiativeID string, withdrawn []string) error {
	const qOpen = `
		SELECT id, status
		FROM disbursements
		WHERE initiative_id = $1 AND status IN ('pending', 'withdrawn')
		ORDER BY id`
	var rows []struct {
		ID     string `db:"id"`
		Status string `db:"status"`
	}
	if err := sqlx.SelectContext(ctx, tx, &rows, qOpen, initiativeID); err != nil {
		return translate(err, "cancel %s: pending and withdrawn disbursements", initiativeID)
	}
	var pending, gone []string
	for _, r := range rows {
		if r.Status == DisbursementPending {
			pending = append(pending, r.ID)
		} else {
			gone = append(gone, r.ID)
		}
	}
	if len(pending) > 0 {
		return fmt.Errorf("cancel %s: %w: disbursements %s are still pending after the cancellation", initiativeID,
			ErrDivergence, strings.Join(pending, ", "))
	}
	slices.Sort(gone) // byte order, as withdrawn is sorted; the database's collation may differ
	if !slices.Equal(gone, withdrawn) {
		return fmt.Errorf("cancel %s: %w: disbursements %v are withdrawn, the cancellation names %v", initiativeID,
			ErrDivergence, gone, withdrawn)
	}
	const qBalances = `
		SELECT source_id, reserved::text AS reserved, released::text AS released
		FROM (
			SELECT source_id,
			       COALESCE(sum(amount_ore) FILTER (WHERE kind = 'reserve'), 0)
			       - COALESCE(sum(amount_ore) FILTER (WHERE kind = 'unreserve'), 0)
			       - COALESCE(sum(amount_ore) FILTER (WHERE kind = 'release'), 0)
			       + COALESCE(sum(amount_ore) FILTER (WHERE kind = 'withdraw'), 0) AS reserved,
			       COALESCE(sum(amount_ore) FILTER (WHERE kind = 'release'), 0)
			       - COALESCE(sum(amount_ore) FILTER (WHERE kind = 'withdraw'), 0)
			       - COALESCE(sum(amount_ore) FILTER (WHERE kind = 'pay'), 0) AS released
			FROM ledger_entries
			WHERE initiative_id = $1
			GROUP BY source_id
		) s
		WHERE reserved <> 0 OR released <> 0
		ORDER BY source_id`
	var open []struct {
		SourceID string `db:"source_id"`
		Reserved string `db:"reserved"`
		Released string `db:"released"`
	}
	if err := sqlx.SelectContext(ctx, tx, &open, qBalances, initiativeID); err != nil {
		return translate(err, "cancel %s: balances", initiativeID)
	}
	if len(open) > 0 {
		parts := make([]string, len(open))
		for i, o := range open {
			parts[i] = fmt.Sprintf("%s: reserveret %s, frigivet og ikke betalt %s", o.SourceID, kroner(o.Reserved),
				kroner(o.Released))
		}
		return fmt.Errorf("cancel %s: %w: the ledger is not settled after the cancellation (%s)", initiativeID,
			ErrDivergence, strings.Join(parts, "; "))
	}
	return nil
}
