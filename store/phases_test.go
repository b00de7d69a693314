package store_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
)

func TestPhaseCounts(t *testing.T) {
	s := dbtest.New(t)
	ctx := ctxT(t)

	empty, err := s.PhaseCounts(ctx, planID)
	if err != nil {
		t.Fatal(err)
	}
	if len(empty) != 0 {
		t.Errorf("a plan without initiatives: %v, want no phases", empty)
	}

	p := proposal("Lektiecafé", "uddannelse-og-livschancer", []string{"houlkaervaenget"}, kr(100_000), 0)
	submit(t, s, "a", p)
	submit(t, s, "b", p)
	c := submit(t, s, "c", p)
	if err := s.RecordTransition(ctx, step(t, c, "rejected", hanne, domain.PhaseRejected)); err != nil {
		t.Fatal(err)
	}
	d := submit(t, s, "d", p)
	if err := s.RecordTransition(ctx, step(t, d, "changes_requested", hanne, domain.PhaseChangesRequested)); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordTransition(ctx, step(t, d, "withdrawn", mette, domain.PhaseWithdrawn)); err != nil {
		t.Fatal(err)
	}

	got, err := s.PhaseCounts(ctx, planID)
	if err != nil {
		t.Fatal(err)
	}
	// Each initiative counts once, in the phase it is in now (d passed through changes_requested).
	want := map[domain.Phase]int{domain.PhaseBoardReview: 2, domain.PhaseRejected: 1, domain.PhaseWithdrawn: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("phase counts (-want +got):\n%s", diff)
	}

	other, err := s.PhaseCounts(ctx, "findes-ikke")
	if err != nil || len(other) != 0 {
		t.Errorf("unknown plan: %v, %v; want no phases and no error", other, err)
	}
}

// The counts the trigger keeps always equal counting the initiatives: after a bulk insert, and after many
// transitions committed concurrently in both directions (which must not deadlock on the counts either).
func TestPhaseCountsAgreeWithTheInitiatives(t *testing.T) {
	s := dbtest.New(t)
	ctx := ctxT(t)
	counted := func() map[domain.Phase]int {
		t.Helper()
		var rows []struct {
			Phase domain.Phase `db:"phase"`
			N     int          `db:"n"`
		}
		if err := s.DB().SelectContext(ctx, &rows, `SELECT phase, count(*) AS n FROM initiatives WHERE plan_id = $1 GROUP BY phase`, planID); err != nil {
			t.Fatal(err)
		}
		out := map[domain.Phase]int{}
		for _, r := range rows {
			out[r.Phase] = r.N
		}
		return out
	}
	check := func(when string) {
		t.Helper()
		got, err := s.PhaseCounts(ctx, planID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(counted(), got); diff != "" {
			t.Errorf("%s: kept counts differ from counting (-counted +kept):\n%s", when, diff)
		}
	}

	p := proposal("Lektiecafé", "uddannelse-og-livschancer", []string{"houlkaervaenget"}, kr(100_000), 0)
	tmpl := submit(t, s, "skabelon", p)
	if err := s.InsertSyntheticInitiatives(ctx, planID, 500, *tmpl); err != nil {
		t.Fatal(err)
	}
	check("after a bulk insert")

	// Twenty initiatives, half going board_review -> changes_requested -> board_review, half board_review ->
	// rejected, all at once.
	var ins []*domain.Initiative
	for i := range 20 {
		ins = append(ins, submit(t, s, "samtidig-"+string(rune('a'+i)), p))
	}
	var fns []func() error
	for i, in := range ins {
		var trs []store.Transition
		if i%2 == 0 {
			trs = append(trs, step(t, in, "changes_requested", hanne, domain.PhaseChangesRequested),
				step(t, in, "resubmitted", mette, domain.PhaseBoardReview))
		} else {
			trs = append(trs, step(t, in, "rejected", hanne, domain.PhaseRejected))
		}
		fns = append(fns, func() error {
			for _, tr := range trs {
				if err := s.RecordTransition(ctx, tr); err != nil {
					return err
				}
			}
			return nil
		})
	}
	for i, err := range parallel(fns...) {
		if err != nil {
			t.Errorf("transition %d: %v", i, err)
		}
	}
	check("after concurrent transitions")
}
