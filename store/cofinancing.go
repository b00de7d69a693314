package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/helhedsplan/helhedsplan/domain"
)

// maxPending bounds the proposals waiting for the board that Budget reads (a plan has a handful at a time).
const maxPending = 200

// pendingCofinancing reads the plan's co-financing minimum and the proposals waiting for the board into b, in
// Budget's snapshot.
func pendingCofinancing(ctx context.Context, tx *sqlx.Tx, b *Budget) error {
	const qMin = `SELECT COALESCE((settings->>'min_local_cofinancing_permille')::bigint, 0) FROM plans WHERE id = $1`
	if err := tx.GetContext(ctx, &b.MinLocalCofinancingPermille, qMin, b.PlanID); err != nil {
		return translate(err, "budget of %s: co-financing minimum", b.PlanID)
	}
	const qPending = `
		SELECT id, title, snapshot->'proposal'->'budget' AS budget
		FROM initiatives
		WHERE plan_id = $1 AND phase = 'board_review'
		ORDER BY seq
		LIMIT $2`
	var rows []struct {
		ID     string          `db:"id"`
		Title  string          `db:"title"`
		Budget json.RawMessage `db:"budget"`
	}
	if err := sqlx.SelectContext(ctx, tx, &rows, qPending, b.PlanID, maxPending); err != nil {
		return translate(err, "budget of %s: pending proposals", b.PlanID)
	}
	b.Pending = make([]PendingProposal, 0, len(rows))
	for _, r := range rows {
		p := PendingProposal{InitiativeID: r.ID, Title: r.Title}
		if len(r.Budget) > 0 && string(r.Budget) != "null" {
			if err := json.Unmarshal(r.Budget, &p.Budget); err != nil {
				return fmt.Errorf("budget of %s: pending proposal %s: %w", b.PlanID, r.ID, err)
			}
		}
		b.Pending = append(b.Pending, p)
	}
	return nil
}

// Cofinancing is the local co-financing of a plan's approved budget (what is reserved and not given back, over all
// initiatives: reserved, released and paid, plus confirmed in-kind contributions) against the plan's minimum, and what each proposal waiting for the
// board would make of it.
type Cofinancing struct {
	Approved     domain.Share         `json:"approved"`
	MinPermille  int64                `json:"min_permille"`
	BelowMinimum bool                 `json:"below_minimum"`
	Pending      []PendingCofinancing `json:"pending"`
}

// PendingCofinancing is the approved budget's share after one pending proposal's approval (alone).
type PendingCofinancing struct {
	PendingProposal
	Asked domain.Share `json:"asked"`
	After domain.Share `json:"after"`
	// Refused: approving it now would be refused by the co-financing rule (domain.CofinancingRefused).
	Refused bool `json:"refused"`
}

// Cofinancing computes the co-financing figures from the budget. Sums that do not fit int64 (not possible within
// the database's bounds) saturate the share's figures rather than wrap.
func (b Budget) Cofinancing() Cofinancing {
	local := map[string]bool{}
	var c Cofinancing
	c.MinPermille = b.MinLocalCofinancingPermille
	for _, s := range b.Sources {
		local[s.SourceID] = s.Local
		approved := s.ReservedØre + s.ReleasedØre + s.PaidØre
		var l domain.Money
		if s.Local {
			l = approved
		}
		c.Approved, _ = c.Approved.Plus(l, approved)
		c.Approved, _ = c.Approved.PlusInKind(s.InKindØre, s.Local)
	}
	c.BelowMinimum = c.Approved.BelowPermille(c.MinPermille)
	c.Pending = make([]PendingCofinancing, 0, len(b.Pending))
	for _, p := range b.Pending {
		pc := PendingCofinancing{PendingProposal: p}
		for _, l := range p.Budget {
			var lo domain.Money
			if local[l.SourceID] {
				lo = l.AmountØre
			}
			pc.Asked, _ = pc.Asked.Plus(lo, l.AmountØre)
		}
		pc.After, _ = c.Approved.Plus(pc.Asked.Local, pc.Asked.Total)
		pc.Refused = domain.CofinancingRefused(c.MinPermille, c.Approved, pc.After)
		c.Pending = append(c.Pending, pc)
	}
	return c
}
