package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
)

// later is tr as a rerun in a later workflow task computes it: the same transition, other times.
func later(t *testing.T, tr store.Transition, d time.Duration) store.Transition {
	t.Helper()
	tr.Event.At = tr.Event.At.Add(d)
	tr.Snapshot = clone(t, tr.Snapshot)
	tr.Snapshot.UpdatedAt = tr.Snapshot.UpdatedAt.Add(d)
	return tr
}

// A step is one transaction: approval (reservation + tranche 1) either commits whole or not at all.
func TestApprovalStepIsWhole(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)

	t.Run("both_halves_commit_together", func(t *testing.T) {
		in := submit(t, s, "whole-ok", proposal("Lektiecafé", "uddannelse-og-livschancer", []string{"ringparken"}, kr(100_000), 0))
		res, rel := approveInput(t, in), releaseInput(t, in, 1)
		if _, err := s.WriteStep(ctx, store.Step{Reserve: &res, Release: &rel}); err != nil {
			t.Fatal(err)
		}
		if n := count(t, s, `SELECT count(*) FROM initiative_events WHERE initiative_id = $1`, in.ID); n != 3 {
			t.Fatalf("events = %d, want 3 (submitted, approved, tranche_released)", n)
		}
		if n := count(t, s, `SELECT count(*) FROM disbursements WHERE initiative_id = $1`, in.ID); n != 1 {
			t.Fatalf("disbursements = %d, want 1", n)
		}
	})

	t.Run("a_failing_release_undoes_the_reservation", func(t *testing.T) {
		in := submit(t, s, "whole-fail", proposal("Jobcafé", "beskaeftigelse", []string{"vestervang"}, kr(100_000), 0))
		res, rel := approveInput(t, in), releaseInput(t, in, 1)
		rel.DisbursementID = domain.DisbursementID("whole-ok", 1) // taken by another initiative's tranche
		_, err := s.WriteStep(ctx, store.Step{Reserve: &res, Release: &rel})
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("WriteStep = %v, want ErrConflict", err)
		}
		if n := count(t, s, `SELECT count(*) FROM ledger_entries WHERE initiative_id = $1`, in.ID); n != 0 {
			t.Fatalf("ledger entries = %d after a failed step, want 0: half a step committed", n)
		}
		got, err := s.GetInitiative(ctx, in.ID)
		if err != nil || got.Version != 1 || got.Phase != domain.PhaseBoardReview {
			t.Fatalf("read model after a failed step: v%d %s %v, want v1 board_review", got.Version, got.Phase, err)
		}
	})

	t.Run("an_approval_half_done_by_older_code_is_completed", func(t *testing.T) {
		in := submit(t, s, "whole-heal", proposal("Bydelsmødre", "sammenhaengskraft-og-medborgerskab", []string{"ringparken"}, kr(50_000), 0))
		res := approveInput(t, in)
		if err := s.Reserve(ctx, res); err != nil { // what a release that then failed left behind
			t.Fatal(err)
		}
		rel := releaseInput(t, in, 1)
		if _, err := s.WriteStep(ctx, store.Step{Reserve: &res, Release: &rel}); err != nil {
			t.Fatalf("rerun of the whole step: %v", err)
		}
		if n := count(t, s, `SELECT count(*) FROM ledger_entries WHERE initiative_id = $1 AND kind = 'reserve'`, in.ID); n != 1 {
			t.Fatalf("reserve entries = %d, want 1", n)
		}
		if n := count(t, s, `SELECT count(*) FROM disbursements WHERE initiative_id = $1`, in.ID); n != 1 {
			t.Fatalf("disbursements = %d, want 1", n)
		}
	})
}

// A rerun finds its own rows and writes nothing; what differs from it is a divergence, never dropped silently.
func TestWriteStepChecksWhatItFinds(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	in := submit(t, s, "checks", proposal("Lektiecafé", "uddannelse-og-livschancer", []string{"ringparken"}, kr(100_000), 0))
	res, rel := approveInput(t, in), releaseInput(t, in, 1)
	first := store.Step{Reserve: &res, Release: &rel}
	if _, err := s.WriteStep(ctx, first); err != nil {
		t.Fatal(err)
	}
	before := map[string]int{}
	for _, table := range []string{"initiative_events", "ledger_entries", "disbursements", "disbursement_lines", "outbox"} {
		before[table] = count(t, s, `SELECT count(*) FROM `+table)
	}

	t.Run("same_step_again_is_a_noop", func(t *testing.T) {
		got, err := s.WriteStep(ctx, first)
		if err != nil || got.Stored != nil {
			t.Fatalf("rerun = %+v, %v; want nothing to adopt", got, err)
		}
	})

	t.Run("same_step_at_a_later_time_hands_back_what_was_stored", func(t *testing.T) {
		r2, l2 := res, rel
		r2.Transition, l2.Transition = later(t, res.Transition, time.Minute), later(t, rel.Transition, time.Minute)
		got, err := s.WriteStep(ctx, store.Step{Reserve: &r2, Release: &l2})
		if err != nil {
			t.Fatal(err)
		}
		if got.Stored == nil || !got.Stored.UpdatedAt.Equal(rel.Transition.Snapshot.UpdatedAt) {
			t.Fatalf("Stored = %+v, want the first attempt's snapshot (updated %s)", got.Stored, rel.Transition.Snapshot.UpdatedAt)
		}
	})

	t.Run("another_transition_under_a_taken_seq_diverges", func(t *testing.T) {
		other := rel.Transition
		other.Event.Type = "milestone_accepted"
		other.Event.Payload = []byte(`{"milestone_no":1}`)
		_, err := s.WriteStep(ctx, store.Step{Transitions: []store.Transition{other}})
		if !errors.Is(err, store.ErrDivergence) {
			t.Fatalf("WriteStep = %v, want ErrDivergence", err)
		}
	})

	t.Run("another_tranche_under_the_same_disbursement_diverges", func(t *testing.T) {
		l2 := rel
		l2.Lines = []domain.SourceAmount{{SourceID: "lbf", AmountØre: 1}}
		if _, err := s.WriteStep(ctx, store.Step{Release: &l2}); !errors.Is(err, store.ErrDivergence) {
			t.Fatalf("WriteStep = %v, want ErrDivergence", err)
		}
	})

	t.Run("another_amount_under_the_same_reservation_diverges", func(t *testing.T) {
		r2 := res
		r2.Lines = []domain.SourceAmount{{SourceID: "lbf", AmountØre: 1}}
		if _, err := s.WriteStep(ctx, store.Step{Reserve: &r2}); !errors.Is(err, store.ErrDivergence) {
			t.Fatalf("WriteStep = %v, want ErrDivergence", err)
		}
	})

	for table, n := range before {
		if got := count(t, s, `SELECT count(*) FROM `+table); got != n {
			t.Errorf("%s: %d rows after reruns and refused divergences, want %d", table, got, n)
		}
	}
}
