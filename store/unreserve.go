package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/helhedsplan/helhedsplan/domain"
)

// maxReasonLen bounds an unreserve reason: it is part of an idempotency key, not a text for people.
const maxReasonLen = 64

// UnreserveInput gives reserved money back to the plan's funding sources: a reservation that is no longer needed
// (a rejected change, a cancelled initiative) returns through 'unreserve' ledger entries, never by deleting the
// reservation, so the ledger keeps the whole story.
type UnreserveInput struct {
	PlanID       string
	InitiativeID string
	DelaftaleID  string // the delaftale the reservation was booked on
	// Reason is a short stable key such as "cancelled" or "rejected-change-3" (letters, digits, '.', '_', '-').
	// It makes the idempotency key unreserve/<initiative>/<reason>/<source>, so the same reason given back twice
	// is booked once, and two different reasons are two entries.
	Reason string
	Lines  []domain.SourceAmount // what to give back per source; zero lines are skipped
}

// Unreserve books in in its own transaction. See unreserve.
func (s *Store) Unreserve(ctx context.Context, in UnreserveInput) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error { return unreserve(ctx, tx, in) })
}

// unreserve writes one 'unreserve' entry per source inside the caller's transaction, so the write path can give
// money back in the same transaction as the transition that decided it.
//
// Running it again is a no-op when the stored entry is the one it would write. A stored entry under the same key
// that differs (another amount, plan or delaftale) is ErrDivergence: the first run and this one disagree about
// what was given back, and that must be looked at, not papered over. Giving back more than is reserved and not
// released is refused by the database (ledger_entries_check_balances, SQLSTATE 23514).
func unreserve(ctx context.Context, tx *sqlx.Tx, in UnreserveInput) error {
	if in.PlanID == "" || in.InitiativeID == "" || in.DelaftaleID == "" {
		return fmt.Errorf("unreserve: plan, initiative and delaftale are required")
	}
	if err := checkUnreserveReason(in.Reason); err != nil {
		return fmt.Errorf("unreserve %s: %w", in.InitiativeID, err)
	}
	lines, err := sumLines(in.Lines)
	if err != nil {
		return fmt.Errorf("unreserve %s: %w", in.InitiativeID, err)
	}

	const qInsert = `
		INSERT INTO ledger_entries (plan_id, source_id, initiative_id, delaftale_id, milestone_no, kind,
		                            amount_ore, idempotency_key)
		VALUES ($1, $2, $3, $4, NULL, 'unreserve', $5, $6)
		ON CONFLICT (idempotency_key) DO NOTHING
		RETURNING id`
	const qStored = `
		SELECT plan_id, source_id, initiative_id, delaftale_id, kind, amount_ore
		FROM ledger_entries
		WHERE idempotency_key = $1`
	for _, l := range lines {
		key := UnreserveKey(in.InitiativeID, in.Reason, l.SourceID)
		var id int64
		err := tx.QueryRowxContext(ctx, qInsert, in.PlanID, l.SourceID, in.InitiativeID, in.DelaftaleID,
			int64(l.AmountØre), key).Scan(&id)
		if err == nil {
			continue
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return translate(err, "unreserve %s from %s", in.InitiativeID, l.SourceID)
		}
		// Booked before, by an earlier run of the same step (or a concurrent one that committed first).
		var got struct {
			PlanID       string `db:"plan_id"`
			SourceID     string `db:"source_id"`
			InitiativeID string `db:"initiative_id"`
			DelaftaleID  string `db:"delaftale_id"`
			Kind         string `db:"kind"`
			AmountØre    int64  `db:"amount_ore"`
		}
		if err := sqlx.GetContext(ctx, tx, &got, qStored, key); err != nil {
			return translate(err, "unreserve %s: stored entry %s", in.InitiativeID, key)
		}
		if got.Kind != "unreserve" || got.PlanID != in.PlanID || got.SourceID != l.SourceID ||
			got.InitiativeID != in.InitiativeID || got.DelaftaleID != in.DelaftaleID || got.AmountØre != int64(l.AmountØre) {
			return fmt.Errorf("unreserve %s: posteringen %s er allerede bogført som %s af %s (plan %s, delaftale %s), "+
				"ikke %s (plan %s, delaftale %s): %w", in.InitiativeID, key, got.Kind, domain.Money(got.AmountØre),
				got.PlanID, got.DelaftaleID, l.AmountØre, in.PlanID, in.DelaftaleID, ErrDivergence)
		}
	}
	return nil
}

// UnreserveKey is the idempotency key of the entry that gives reason's money from source back.
func UnreserveKey(initiativeID, reason, sourceID string) string {
	return "unreserve/" + initiativeID + "/" + reason + "/" + sourceID
}

// checkUnreserveReason keeps the reason a plain token, so a key splits back into its parts unambiguously (ledger
// verify does) and a free text never becomes part of a key.
func checkUnreserveReason(reason string) error {
	if reason == "" || len(reason) > maxReasonLen {
		return fmt.Errorf("the reason must be 1-%d characters, got %q", maxReasonLen, reason)
	}
	for _, r := range reason {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("the reason %q may only hold letters, digits, '.', '_' and '-'", reason)
		}
	}
	return nil
}
