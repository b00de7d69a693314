package store

import (
	"context"

	"github.com/helhedsplan/helhedsplan/domain"
)

// PhaseCounts returns how many of the plan's initiatives are in each phase, for the plan page's "initiatives by
// phase". Phases no initiative is in are absent from the map; an unknown plan has none. It reads the counts a
// trigger keeps as initiatives are written (migration 00008), so it costs the same with 100,000 initiatives as
// with ten.
func (s *Store) PhaseCounts(ctx context.Context, planID string) (map[domain.Phase]int, error) {
	const q = `
		SELECT phase, n
		FROM plan_phase_counts
		WHERE plan_id = $1 AND n > 0`
	var rows []struct {
		Phase domain.Phase `db:"phase"`
		N     int          `db:"n"`
	}
	if err := s.db.SelectContext(ctx, &rows, q, planID); err != nil {
		return nil, translate(err, "phase counts of %s", planID)
	}
	out := make(map[domain.Phase]int, len(rows))
	for _, r := range rows {
		out[r.Phase] = r.N
	}
	return out, nil
}
