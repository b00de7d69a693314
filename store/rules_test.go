package store_test

import (
	"strings"
	"testing"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
)

// budgetOf is a proposal in delaftale del with lbf from Landsbyggefonden and kommune from Viborg Kommune (local).
func budgetOf(id, del string, lbf, kommune domain.Money) domain.Proposal {
	return proposal("Indsats "+id, del, []string{"ringparken"}, lbf, kommune)
}

// wantRefusal checks that err is a RuleError with code whose message says every one of want, and that nothing of
// the refused reservation was written.
func wantRefusal(t *testing.T, s *store.Store, err error, code domain.Code, initiativeID string, want ...string) {
	t.Helper()
	if ruleCode(err) != code {
		t.Fatalf("Reserve = %v, want a RuleError %s", err, code)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("message %q does not say %q", err, w)
		}
	}
	if n := count(t, s, `SELECT count(*) FROM ledger_entries WHERE initiative_id = $1 AND kind = 'reserve'`, initiativeID); n != 0 {
		t.Errorf("%d reservations written by a refused approval", n)
	}
}

func TestReserveDelaftaleFrame(t *testing.T) {
	t.Parallel()

	t.Run("exactly_at_the_frame_passes_one_ore_over_frame_exceeded", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		ctx := ctxT(t)
		if err := s.SetDelaftaleBudgetFrame(ctx, planID, "beskaeftigelse", mp(kr(2_400_000)-1)); err != nil {
			t.Fatal(err)
		}
		// Another delaftale's reservations do not count against this frame.
		approved(t, s, "other", "uddannelse-og-livschancer")
		approved(t, s, "a", "beskaeftigelse") // 1.200.000 kr.
		over := submit(t, s, "over", budgetOf("over", "beskaeftigelse", kr(1_000_000), kr(200_000)))
		err := s.Reserve(ctx, approveInput(t, over))
		wantRefusal(t, s, err, domain.CodeFrameExceeded, "over",
			"Delaftalen Beskæftigelse har en ramme på 2.399.999,99 kr.; 1.200.000,00 kr. er reserveret, og forslaget "+
				"beder om 1.200.000,00 kr., i alt 2.400.000,00 kr.")

		if err := s.SetDelaftaleBudgetFrame(ctx, planID, "beskaeftigelse", mp(kr(2_400_000))); err != nil {
			t.Fatal(err)
		}
		at := submit(t, s, "at", budgetOf("at", "beskaeftigelse", kr(1_000_000), kr(200_000)))
		if err := s.Reserve(ctx, approveInput(t, at)); err != nil {
			t.Fatalf("a reservation exactly at the frame: %v", err)
		}
		// The frame is full: one øre more is refused.
		last := submit(t, s, "last", budgetOf("last", "beskaeftigelse", 1, 0))
		wantRefusal(t, s, s.Reserve(ctx, approveInput(t, last)), domain.CodeFrameExceeded, "last", "i alt 2.400.000,01 kr.")
	})

	t.Run("no_frame_no_limit", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		in := submit(t, s, "big", budgetOf("big", "beskaeftigelse", kr(10_000_000), kr(5_000_000)))
		if err := s.Reserve(ctxT(t), approveInput(t, in)); err != nil {
			t.Fatalf("no frame: %v", err)
		}
	})

	t.Run("concurrent_approvals_over_the_frame_only_one_passes", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		ctx := ctxT(t)
		if err := s.SetDelaftaleBudgetFrame(ctx, planID, "beskaeftigelse", mp(kr(2_000_000))); err != nil {
			t.Fatal(err)
		}
		for round := range 5 {
			ids := []string{"a" + string(rune('0'+round)), "b" + string(rune('0'+round))}
			var fns []func() error
			for _, id := range ids {
				in := submit(t, s, id, budgetOf(id, "beskaeftigelse", kr(1_000_000), kr(200_000)))
				res := approveInput(t, in)
				fns = append(fns, func() error { return s.Reserve(ctx, res) })
			}
			ok, refused := 0, 0
			errs := parallel(fns...)
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case ruleCode(err) == domain.CodeFrameExceeded:
					refused++
				default:
					t.Errorf("unexpected error: %v", err)
				}
			}
			want := 1 // the first round fills 1.200.000 of 2.000.000 kr.; every later round finds it too full
			if round > 0 {
				want = 0
			}
			if ok != want || refused != 2-want {
				t.Fatalf("round %d: %d passed, %d refused (%v); want %d passed", round, ok, refused, errs, want)
			}
		}
		var reserved int64
		if err := s.DB().GetContext(ctx, &reserved, `SELECT sum(amount_ore) FROM ledger_entries
			WHERE delaftale_id = 'beskaeftigelse' AND kind = 'reserve'`); err != nil {
			t.Fatal(err)
		}
		if domain.Money(reserved) != kr(1_200_000) {
			t.Errorf("reserved on the delaftale = %s, want 1.200.000,00 kr.", domain.Money(reserved))
		}
	})
}

func TestReserveLocalCofinancing(t *testing.T) {
	t.Parallel()

	t.Run("exactly_at_the_minimum_passes_one_ore_below_refused", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		ctx := ctxT(t)
		half := submit(t, s, "half", budgetOf("half", "beskaeftigelse", kr(2_000_000), kr(2_000_000)))
		if err := s.Reserve(ctx, approveInput(t, half)); err != nil {
			t.Fatal(err)
		}
		// 2.000.000 local of 8.000.000,01 kr.: one øre of LBF money below 25 %.
		below := submit(t, s, "below", budgetOf("below", "beskaeftigelse", kr(4_000_000)+1, 0))
		err := s.Reserve(ctx, approveInput(t, below))
		wantRefusal(t, s, err, domain.CodeCofinancing, "below", "mindst 25,0 %",
			"Nu er 4.000.000,00 kr. godkendt, heraf 2.000.000,00 kr. lokalt (50,0 %)",
			"forslaget beder om 4.000.000,01 kr., heraf 0,00 kr. lokalt",
			"Bagefter ville 8.000.000,01 kr. være godkendt, heraf 2.000.000,00 kr. lokalt (24,9 %)",
			"falde fra 50,0 % til 24,9 %")
		at := submit(t, s, "at", budgetOf("at", "beskaeftigelse", kr(4_000_000), 0))
		if err := s.Reserve(ctx, approveInput(t, at)); err != nil {
			t.Fatalf("exactly 25 %% local afterwards: %v", err)
		}
	})

	t.Run("first_approval_and_raising_the_share_pass_below_the_minimum_lowering_refused", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		ctx := ctxT(t)
		// The plan's first approval is Landsbyggefonden's money only: nothing approved before, nothing to lower.
		first := submit(t, s, "first", budgetOf("first", "beskaeftigelse", kr(3_000_000), 0))
		if err := s.Reserve(ctx, approveInput(t, first)); err != nil {
			t.Fatalf("the first approval, LBF only: %v", err)
		}
		// More of the same keeps 0 %: it does not lower the share.
		same := submit(t, s, "same", budgetOf("same", "beskaeftigelse", kr(1_000_000), 0))
		if err := s.Reserve(ctx, approveInput(t, same)); err != nil {
			t.Fatalf("keeping the share at 0 %%: %v", err)
		}
		// 200.000 local of 5.200.000 kr. (3,8 %): below 25 %, but raised from 0 %.
		raise := submit(t, s, "raise", budgetOf("raise", "beskaeftigelse", kr(1_000_000), kr(200_000)))
		if err := s.Reserve(ctx, approveInput(t, raise)); err != nil {
			t.Fatalf("raising the share although below the minimum: %v", err)
		}
		// LBF only again would lower 3,8 % to 3,2 %.
		lower := submit(t, s, "lower", budgetOf("lower", "beskaeftigelse", kr(1_000_000), 0))
		wantRefusal(t, s, s.Reserve(ctx, approveInput(t, lower)), domain.CodeCofinancing, "lower",
			"falde fra 3,8 % til 3,2 %")
	})

	t.Run("a_change_that_moves_local_money_to_lbf_is_judged_by_its_net_effect", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		ctx := ctxT(t)
		in := submit(t, s, "ch", budgetOf("ch", "beskaeftigelse", kr(2_000_000), kr(2_000_000)))
		if err := s.Reserve(ctx, approveInput(t, in)); err != nil {
			t.Fatal(err)
		}
		// 1.500.000 kr. more from LBF, as much less from Viborg Kommune: 500.000 of 4.000.000 kr. local afterwards.
		// Judged without the money given back it would be 2.000.000 of 5.500.000 kr. (36,3 %) and pass.
		tr := step(t, in, "change_applied", hanne, domain.PhaseExecuting)
		st := store.Step{
			Reserve: &store.ReserveInput{PlanID: planID, InitiativeID: in.ID, DelaftaleID: "beskaeftigelse",
				Lines: []domain.SourceAmount{{SourceID: "lbf", AmountØre: kr(1_500_000)}}, Transition: tr, KeySuffix: "change-1"},
			Unreserve: &store.UnreserveInput{PlanID: planID, InitiativeID: in.ID, DelaftaleID: "beskaeftigelse",
				Reason: "change-1", Lines: []domain.SourceAmount{{SourceID: "viborg-kommune", AmountØre: kr(1_500_000)}}},
		}
		_, err := s.WriteStep(ctx, st)
		if ruleCode(err) != domain.CodeCofinancing || !strings.Contains(err.Error(), "ændringen ændrer det godkendte budget med 0,00 kr., heraf -1.500.000,00 kr. lokalt") ||
			!strings.Contains(err.Error(), "falde fra 50,0 % til 12,5 %") {
			t.Fatalf("change = %v, want %s from 50,0 %% to 12,5 %%", err, domain.CodeCofinancing)
		}
		if n := count(t, s, `SELECT count(*) FROM ledger_entries WHERE initiative_id = 'ch' AND kind IN ('reserve', 'unreserve')`); n != 2 {
			t.Errorf("ledger entries after the refused change = %d, want the approval's 2", n)
		}
		// The same change with a frame exactly at what is reserved passes the frame: it asks for nothing more net.
		if err := s.SetDelaftaleBudgetFrame(ctx, planID, "beskaeftigelse", mp(kr(4_000_000))); err != nil {
			t.Fatal(err)
		}
		st.Reserve.Lines = []domain.SourceAmount{{SourceID: "viborg-kommune", AmountØre: kr(100_000)}}
		st.Unreserve.Lines = []domain.SourceAmount{{SourceID: "lbf", AmountØre: kr(100_000)}}
		if _, err := s.WriteStep(ctx, st); err != nil {
			t.Fatalf("a change moving LBF money to Viborg Kommune at a full frame: %v", err)
		}
	})

	t.Run("no_minimum_no_rule", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		ctx := ctxT(t)
		if _, err := s.DB().ExecContext(ctx, `UPDATE plans SET settings = jsonb_set(settings, '{min_local_cofinancing_permille}', '0')`); err != nil {
			t.Fatal(err)
		}
		approved(t, s, "a", "beskaeftigelse")
		in := submit(t, s, "lbf", budgetOf("lbf", "beskaeftigelse", kr(5_000_000), 0))
		if err := s.Reserve(ctx, approveInput(t, in)); err != nil {
			t.Fatalf("minimum 0: %v", err)
		}
	})
}
