package store_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
)

func TestUnreserve(t *testing.T) {
	t.Parallel()

	// giveBack is an unreservation of initiative a's LBF money (booked on delaftale beskaeftigelse).
	giveBack := func(reason string, amount domain.Money) store.UnreserveInput {
		return store.UnreserveInput{PlanID: planID, InitiativeID: "a", DelaftaleID: "beskaeftigelse", Reason: reason,
			Lines: []domain.SourceAmount{{SourceID: "lbf", AmountØre: amount}}}
	}
	unreserved := func(t *testing.T, s *store.Store) map[string]int64 {
		t.Helper()
		var rows []struct {
			Key    string `db:"idempotency_key"`
			Amount int64  `db:"amount_ore"`
		}
		if err := s.DB().SelectContext(ctxT(t), &rows,
			`SELECT idempotency_key, amount_ore FROM ledger_entries WHERE kind = 'unreserve'`); err != nil {
			t.Fatal(err)
		}
		out := map[string]int64{}
		for _, r := range rows {
			out[r.Key] = r.Amount
		}
		return out
	}

	t.Run("twice_books_once_and_frees_the_money", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		ctx := ctxT(t)
		reservedInitiative(t, s, "a", "beskaeftigelse")
		in := giveBack("cancelled", kr(400_000))
		for i := range 2 {
			if err := s.Unreserve(ctx, in); err != nil {
				t.Fatalf("Unreserve #%d: %v", i+1, err)
			}
		}
		if diff := cmp.Diff(map[string]int64{"unreserve/a/cancelled/lbf": int64(kr(400_000))}, unreserved(t, s)); diff != "" {
			t.Errorf("unreserve entries (-want +got):\n%s", diff)
		}
		if got, want := available(t, s)["lbf"], lbfTotal-kr(1_000_000)+kr(400_000); got != want {
			t.Errorf("LBF available = %s, want %s", got, want)
		}
	})

	t.Run("concurrent_same_reason_books_once", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		ctx := ctxT(t)
		reservedInitiative(t, s, "a", "beskaeftigelse")
		in := giveBack("cancelled", kr(1_000_000))
		for i, err := range parallel(func() error { return s.Unreserve(ctx, in) }, func() error { return s.Unreserve(ctx, in) }) {
			if err != nil {
				t.Errorf("Unreserve #%d: %v", i+1, err)
			}
		}
		if diff := cmp.Diff(map[string]int64{"unreserve/a/cancelled/lbf": int64(kr(1_000_000))}, unreserved(t, s)); diff != "" {
			t.Errorf("unreserve entries (-want +got):\n%s", diff)
		}
	})

	t.Run("same_reason_other_amount_divergence", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		ctx := ctxT(t)
		reservedInitiative(t, s, "a", "beskaeftigelse")
		if err := s.Unreserve(ctx, giveBack("rejected-change-3", kr(400_000))); err != nil {
			t.Fatal(err)
		}
		err := s.Unreserve(ctx, giveBack("rejected-change-3", kr(300_000)))
		if !errors.Is(err, store.ErrDivergence) {
			t.Fatalf("Unreserve with another amount = %v, want ErrDivergence", err)
		}
		if store.Transient(err) {
			t.Errorf("a divergence is reported as transient, so it would be retried for ever: %v", err)
		}
		other := giveBack("rejected-change-3", kr(400_000))
		other.DelaftaleID = "uddannelse-og-livschancer"
		if err := s.Unreserve(ctx, other); !errors.Is(err, store.ErrDivergence) {
			t.Fatalf("Unreserve on another delaftale = %v, want ErrDivergence", err)
		}
		if diff := cmp.Diff(map[string]int64{"unreserve/a/rejected-change-3/lbf": int64(kr(400_000))}, unreserved(t, s)); diff != "" {
			t.Errorf("unreserve entries (-want +got):\n%s", diff)
		}
	})

	t.Run("other_reason_books_again", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		ctx := ctxT(t)
		reservedInitiative(t, s, "a", "beskaeftigelse")
		for _, reason := range []string{"rejected-change-1", "rejected-change-2"} {
			if err := s.Unreserve(ctx, giveBack(reason, kr(100_000))); err != nil {
				t.Fatalf("%s: %v", reason, err)
			}
		}
		want := map[string]int64{"unreserve/a/rejected-change-1/lbf": int64(kr(100_000)),
			"unreserve/a/rejected-change-2/lbf": int64(kr(100_000))}
		if diff := cmp.Diff(want, unreserved(t, s)); diff != "" {
			t.Errorf("unreserve entries (-want +got):\n%s", diff)
		}
	})

	t.Run("more_than_reserved_and_unreleased_refused_by_database", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		ctx := ctxT(t)
		in := reservedInitiative(t, s, "a", "beskaeftigelse")
		if err := s.Release(ctx, releaseInput(t, in, 1)); err != nil { // 500.000 of LBF's 1.000.000 kr. released
			t.Fatal(err)
		}
		// LBF's unreleased 500.000 kr. fit and are booked first; the kommune's 200.000 kr. are all released, so
		// one øre from it is refused, and with it the whole unreservation.
		over := store.UnreserveInput{PlanID: planID, InitiativeID: "a", DelaftaleID: "beskaeftigelse",
			Reason: "cancelled", Lines: []domain.SourceAmount{{SourceID: "viborg-kommune", AmountØre: 1},
				{SourceID: "lbf", AmountØre: kr(500_000)}, {SourceID: "boligselskaberne", AmountØre: 0}}}
		err := s.Unreserve(ctx, over)
		pqErr := refusedBy(t, err, "23514", "ledger_released_within_reserved")
		if !strings.Contains(pqErr.Message, "viborg-kommune") {
			t.Errorf("message %q does not name the source", pqErr.Message)
		}
		if store.Transient(err) {
			t.Errorf("a broken money rule is reported as transient: %v", err)
		}
		if got := unreserved(t, s); len(got) != 0 {
			t.Errorf("refused unreservation booked %v", got)
		}
		if err := s.Unreserve(ctx, giveBack("cancelled", kr(500_000))); err != nil {
			t.Fatalf("giving back exactly what is reserved and unreleased: %v", err)
		}
	})

	t.Run("lines_of_one_source_add_up_sorted", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		ctx := ctxT(t)
		reservedInitiative(t, s, "a", "beskaeftigelse")
		in := store.UnreserveInput{PlanID: planID, InitiativeID: "a", DelaftaleID: "beskaeftigelse", Reason: "cancelled",
			Lines: []domain.SourceAmount{{SourceID: "viborg-kommune", AmountØre: kr(200_000)},
				{SourceID: "lbf", AmountØre: kr(300_000)}, {SourceID: "lbf", AmountØre: kr(700_000)}}}
		if err := s.Unreserve(ctx, in); err != nil {
			t.Fatal(err)
		}
		want := map[string]int64{"unreserve/a/cancelled/lbf": int64(kr(1_000_000)),
			"unreserve/a/cancelled/viborg-kommune": int64(kr(200_000))}
		if diff := cmp.Diff(want, unreserved(t, s)); diff != "" {
			t.Errorf("unreserve entries (-want +got):\n%s", diff)
		}
	})

	t.Run("bad_input_refused_before_writing", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		ctx := ctxT(t)
		reservedInitiative(t, s, "a", "beskaeftigelse")
		tests := []struct {
			name string
			edit func(*store.UnreserveInput)
		}{
			{"no_reason", func(in *store.UnreserveInput) { in.Reason = "" }},
			{"reason_with_slash", func(in *store.UnreserveInput) { in.Reason = "a/b" }},
			{"reason_with_space", func(in *store.UnreserveInput) { in.Reason = "annulleret af bestyrelsen" }},
			{"no_initiative", func(in *store.UnreserveInput) { in.InitiativeID = "" }},
			{"no_source", func(in *store.UnreserveInput) { in.Lines[0].SourceID = "" }},
			{"negative_amount", func(in *store.UnreserveInput) { in.Lines[0].AmountØre = -1 }},
			{"amount_above_bound", func(in *store.UnreserveInput) { in.Lines[0].AmountØre = domain.Money(maxØre + 1) }},
			{"sum_above_bound", func(in *store.UnreserveInput) {
				in.Lines = []domain.SourceAmount{{SourceID: "lbf", AmountØre: domain.Money(maxØre)},
					{SourceID: "lbf", AmountØre: 1}}
			}},
			{"sum_that_would_wrap", func(in *store.UnreserveInput) {
				in.Lines = []domain.SourceAmount{{SourceID: "lbf", AmountØre: 9223372036354775809},
					{SourceID: "lbf", AmountØre: 1000000000}}
			}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				in := giveBack("cancelled", kr(1))
				tc.edit(&in)
				if err := s.Unreserve(ctx, in); err == nil {
					t.Fatalf("Unreserve(%+v) succeeded", in)
				}
				if got := unreserved(t, s); len(got) != 0 {
					t.Errorf("refused input booked %v", got)
				}
			})
		}
	})
}
