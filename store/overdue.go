package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/lib/pq"

	"github.com/helhedsplan/helhedsplan/domain"
)

// Reads of whole initiatives for the pages that show deadlines across initiatives ("Mit arbejde", Planen): a step's
// deadline depends on the initiative's state (domain.OpenSteps), which only the snapshot holds.

// DefaultOpenLimit and MaxOpenLimit bound one answer of OpenInitiatives.
const (
	DefaultOpenLimit = 200
	MaxOpenLimit     = 500
)

// openPhases are the phases in which an initiative can have a step with a deadline (domain.OpenSteps): the
// board's decision, a payment, a report, the evaluation, a cancellation vote. changes_requested waits for the
// proposer without a deadline.
var openPhases = []string{string(domain.PhaseBoardReview), string(domain.PhaseFunding), string(domain.PhaseExecuting),
	string(domain.PhaseEvaluation)}

// OpenInitiatives returns the snapshots of the plan's initiatives that can have an open step with a deadline,
// least recently changed first (the likeliest to be overdue), at most limit (1..MaxOpenLimit, default
// DefaultOpenLimit), and whether there are more.
func (s *Store) OpenInitiatives(ctx context.Context, planID string, limit int) ([]domain.Initiative, bool, error) {
	limit = pageSize(limit, DefaultOpenLimit, MaxOpenLimit)
	const q = `
		SELECT snapshot
		FROM initiatives
		WHERE plan_id = $1 AND phase = ANY($2::text[])
		ORDER BY updated_at, seq
		LIMIT $3`
	var raw [][]byte
	if err := s.db.SelectContext(ctx, &raw, q, planID, pq.Array(openPhases), limit+1); err != nil {
		return nil, false, translate(err, "open initiatives of %s", planID)
	}
	more := len(raw) > limit
	if more {
		raw = raw[:limit]
	}
	out, err := decodeSnapshots(raw)
	if err != nil {
		return nil, false, fmt.Errorf("open initiatives of %s: %w", planID, err)
	}
	return out, more, nil
}

// InitiativesByID returns the snapshots of the plan's initiatives with these IDs, in no particular order; IDs of
// other plans or of no initiative are left out. At most MaxOpenLimit IDs are read.
func (s *Store) InitiativesByID(ctx context.Context, planID string, ids []string) ([]domain.Initiative, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if len(ids) > MaxOpenLimit {
		ids = ids[:MaxOpenLimit]
	}
	const q = `SELECT snapshot FROM initiatives WHERE plan_id = $1 AND id = ANY($2::text[])`
	var raw [][]byte
	if err := s.db.SelectContext(ctx, &raw, q, planID, pq.Array(ids)); err != nil {
		return nil, translate(err, "initiatives of %s by id", planID)
	}
	out, err := decodeSnapshots(raw)
	if err != nil {
		return nil, fmt.Errorf("initiatives of %s by id: %w", planID, err)
	}
	return out, nil
}

func decodeSnapshots(raw [][]byte) ([]domain.Initiative, error) {
	out := make([]domain.Initiative, len(raw))
	for i, b := range raw {
		if err := json.Unmarshal(b, &out[i]); err != nil {
			return nil, fmt.Errorf("snapshot: %w", err)
		}
	}
	return out, nil
}
