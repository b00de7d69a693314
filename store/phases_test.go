package store_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/helhedsplan/helhedsplan/domain"
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
