package store_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
)

// lbfTotal is what Landsbyggefonden pledged to the Viborg plan.
var lbfTotal = kr(13_709_000)

func available(t *testing.T, s *store.Store) map[string]domain.Money {
	t.Helper()
	a, err := s.Available(ctxT(t), planID)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func ruleCode(err error) domain.Code {
	var re *domain.RuleError
	if errors.As(err, &re) {
		return re.Code
	}
	return ""
}

func TestReserve(t *testing.T) {
	t.Parallel()

	t.Run("retry_after_commit_reserves_once", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		ctx := ctxT(t)
		in := submit(t, s, "retry", proposal("Lektiecafé", "uddannelse-og-livschancer", []string{"ringparken"},
			kr(1_000_000), kr(200_000)))
		res := approveInput(t, in)
		for i := range 3 {
			if err := s.Reserve(ctx, res); err != nil {
				t.Fatalf("Reserve #%d: %v", i+1, err)
			}
		}
		want := map[string]domain.Money{"lbf": lbfTotal - kr(1_000_000), "viborg-kommune": kr(7_000_000),
			"boligselskaberne": kr(4_780_000)}
		if diff := cmp.Diff(want, available(t, s)); diff != "" {
			t.Errorf("available (-want +got):\n%s", diff)
		}
		if n := count(t, s, `SELECT count(*) FROM ledger_entries WHERE initiative_id = 'retry'`); n != 2 {
			t.Errorf("ledger entries = %d, want 2 (one per source)", n)
		}
		got, err := s.GetInitiative(ctx, in.ID)
		if err != nil || got.Version != 2 || got.Phase != domain.PhaseExecuting {
			t.Errorf("read model = v%d %s (%v), want v2 executing", got.Version, got.Phase, err)
		}
	})

	t.Run("retry_after_taking_the_last_krone_succeeds", func(t *testing.T) {
		t.Parallel()
		// The reservation itself used up the source: a retry must not count it against itself.
		s := dbtest.New(t)
		ctx := ctxT(t)
		in := submit(t, s, "all-lbf", proposal("Alt", "beskaeftigelse", []string{"vestervang"}, lbfTotal, 0))
		res := approveInput(t, in)
		for i := range 2 {
			if err := s.Reserve(ctx, res); err != nil {
				t.Fatalf("Reserve #%d: %v", i+1, err)
			}
		}
		if got := available(t, s)["lbf"]; got != 0 {
			t.Errorf("LBF available = %s, want 0", got)
		}
	})

	t.Run("more_than_available_insufficient_funds", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		ctx := ctxT(t)
		in := submit(t, s, "too-much", proposal("For meget", "beskaeftigelse", []string{"vestervang"},
			lbfTotal+1, kr(100)))
		err := s.Reserve(ctx, approveInput(t, in))
		if ruleCode(err) != domain.CodeInsufficientFunds {
			t.Fatalf("Reserve = %v, want a RuleError %s", err, domain.CodeInsufficientFunds)
		}
		for _, want := range []string{"Landsbyggefonden", "13.709.000,00 kr.", "13.709.000,01 kr."} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("message %q does not mention %q", err, want)
			}
		}
		if strings.Contains(err.Error(), "Viborg Kommune") {
			t.Errorf("message %q blames a source that has enough", err)
		}
		if n := count(t, s, `SELECT count(*) FROM ledger_entries`); n != 0 {
			t.Errorf("%d ledger entries written by a refused reservation", n)
		}
		if got, _ := s.GetInitiative(ctx, in.ID); got.Version != 1 {
			t.Errorf("refused approval recorded: read model at v%d", got.Version)
		}
	})

	t.Run("concurrent_reserves_over_a_source_only_one_succeeds", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		ctx := ctxT(t)
		a := submit(t, s, "a", proposal("A", "beskaeftigelse", []string{"vestervang"}, kr(8_000_000), 0))
		b := submit(t, s, "b", proposal("B", "beskaeftigelse", []string{"ringparken"}, kr(8_000_000), 0))
		ra, rb := approveInput(t, a), approveInput(t, b)
		errs := parallel(func() error { return s.Reserve(ctx, ra) }, func() error { return s.Reserve(ctx, rb) })
		ok, refused := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case ruleCode(err) == domain.CodeInsufficientFunds:
				refused++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}
		if ok != 1 || refused != 1 {
			t.Fatalf("%d succeeded, %d refused (%v); want one each", ok, refused, errs)
		}
		if got := available(t, s)["lbf"]; got != lbfTotal-kr(8_000_000) {
			t.Errorf("LBF available = %s, want %s", got, lbfTotal-kr(8_000_000))
		}
	})

	t.Run("unknown_source_refused", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		in := submit(t, s, "x", proposal("X", "beskaeftigelse", []string{"vestervang"}, kr(1), 0))
		res := approveInput(t, in)
		res.Lines = []domain.SourceAmount{{SourceID: "fonden", AmountØre: kr(1)}}
		if err := s.Reserve(ctxT(t), res); ruleCode(err) != domain.CodeValidation {
			t.Fatalf("Reserve from an unknown source = %v, want %s", err, domain.CodeValidation)
		}
	})
}

// approved submits and approves an initiative with LBF 1.000.000 kr. and Viborg Kommune 200.000 kr.
func approved(t *testing.T, s *store.Store, id, delaftale string) *domain.Initiative {
	t.Helper()
	in := submit(t, s, id, proposal("Indsats "+id, delaftale, []string{"ringparken"}, kr(1_000_000), kr(200_000)))
	if err := s.Reserve(ctxT(t), approveInput(t, in)); err != nil {
		t.Fatal(err)
	}
	return in
}

func TestRelease(t *testing.T) {
	t.Parallel()
	check := func(t *testing.T, s *store.Store, rel store.ReleaseInput) {
		t.Helper()
		for _, c := range []struct {
			what string
			q    string
			want int
		}{
			{"disbursements", `SELECT count(*) FROM disbursements`, 1},
			{"disbursement lines", `SELECT count(*) FROM disbursement_lines`, 2},
			{"release entries", `SELECT count(*) FROM ledger_entries WHERE kind = 'release'`, 2},
			{"outbox messages", `SELECT count(*) FROM outbox`, 1},
			{"events", `SELECT count(*) FROM initiative_events`, 3},
		} {
			if n := count(t, s, c.q); n != c.want {
				t.Errorf("%s = %d, want %d", c.what, n, c.want)
			}
		}
		d, err := s.GetDisbursement(ctxT(t), rel.DisbursementID)
		if err != nil {
			t.Fatal(err)
		}
		d.ReleasedAt = d.ReleasedAt.UTC()
		want := store.Disbursement{ID: "rel-t1", PlanID: planID, InitiativeID: "rel", InitiativeTitle: "Indsats rel",
			DelaftaleID: "beskaeftigelse", MilestoneNo: 1, MilestoneTitle: "Opstart",
			Lines: []domain.SourceAmount{{SourceID: "lbf", AmountØre: kr(500_000)},
				{SourceID: "viborg-kommune", AmountØre: kr(200_000)}},
			TotalØre: kr(700_000), Status: store.DisbursementPending, ReleasedAt: rel.Transition.Event.At}
		if diff := cmp.Diff(want, d); diff != "" {
			t.Errorf("disbursement (-want +got):\n%s", diff)
		}

		msgs, err := s.ClaimOutbox(ctxT(t), 10, time.Millisecond)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("ClaimOutbox = %v, %v; want one message", msgs, err)
		}
		if msgs[0].Topic != store.TopicDisbursementReleased || msgs[0].Key != "disbursement.released/rel-t1" {
			t.Errorf("message %s %s", msgs[0].Topic, msgs[0].Key)
		}
		var got store.DisbursementMessage
		if err := json.Unmarshal(msgs[0].Payload, &got); err != nil {
			t.Fatal(err)
		}
		wantMsg := store.DisbursementMessage{DisbursementID: "rel-t1", PlanID: planID, InitiativeID: "rel",
			InitiativeTitle: "Indsats rel", MilestoneNo: 1, MilestoneTitle: "Opstart", Lines: want.Lines,
			TotalØre: kr(700_000), ReleasedAt: rel.Transition.Event.At}
		if diff := cmp.Diff(wantMsg, got); diff != "" {
			t.Errorf("message payload (-want +got):\n%s", diff)
		}
	}

	t.Run("release_twice_leaves_one_of_everything", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		in := approved(t, s, "rel", "beskaeftigelse")
		rel := releaseInput(t, in, 1)
		for i := range 2 {
			if err := s.Release(ctxT(t), rel); err != nil {
				t.Fatalf("Release #%d: %v", i+1, err)
			}
		}
		check(t, s, rel)
	})

	t.Run("concurrent_releases_leave_one_of_everything", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		in := approved(t, s, "rel", "beskaeftigelse")
		rel := releaseInput(t, in, 1)
		ctx := ctxT(t)
		for i, err := range parallel(func() error { return s.Release(ctx, rel) }, func() error { return s.Release(ctx, rel) }) {
			if err != nil {
				t.Errorf("Release #%d: %v", i+1, err)
			}
		}
		check(t, s, rel)
	})

	t.Run("same_milestone_under_another_id_conflict", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		in := approved(t, s, "rel", "beskaeftigelse")
		rel := releaseInput(t, in, 1)
		if err := s.Release(ctxT(t), rel); err != nil {
			t.Fatal(err)
		}
		rel.DisbursementID = "other"
		if err := s.Release(ctxT(t), rel); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("second disbursement for milestone 1 = %v, want ErrConflict", err)
		}
	})
}

func TestConfirmPayment(t *testing.T) {
	t.Parallel()
	// released returns a store with one released tranche of 700.000 kr. and the payment of it.
	released := func(t *testing.T, reference string) (*store.Store, store.PayInput) {
		t.Helper()
		s := dbtest.New(t)
		in := approved(t, s, "pay", "uddannelse-og-livschancer")
		if err := s.Release(ctxT(t), releaseInput(t, in, 1)); err != nil {
			t.Fatal(err)
		}
		return s, payInput(t, in, 1, reference)
	}

	t.Run("concurrent_same_reference_both_succeed_paid_once", func(t *testing.T) {
		t.Parallel()
		s, pay := released(t, "BANK-2022-0042")
		ctx := ctxT(t)
		for i, err := range parallel(func() error { return s.ConfirmPayment(ctx, pay) },
			func() error { return s.ConfirmPayment(ctx, pay) }) {
			if err != nil {
				t.Errorf("ConfirmPayment #%d: %v", i+1, err)
			}
		}
		if n := count(t, s, `SELECT count(*) FROM ledger_entries WHERE kind = 'pay'`); n != 2 {
			t.Errorf("pay entries = %d, want 2 (one per source)", n)
		}
		if n := count(t, s, `SELECT count(*) FROM outbox WHERE topic = 'disbursement.paid'`); n != 1 {
			t.Errorf("paid messages = %d, want 1", n)
		}
		d, err := s.GetDisbursement(ctx, pay.DisbursementID)
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != store.DisbursementPaid || d.Reference == nil || *d.Reference != "BANK-2022-0042" ||
			d.PaidBy == nil || *d.PaidBy != "fin-peter" || d.PaidAt == nil || !d.PaidAt.Equal(pay.Transition.Event.At) {
			t.Errorf("disbursement after payment = %+v", d)
		}
		in, err := s.GetInitiative(ctx, "pay")
		if err != nil || in.Milestones[0].TrancheStatus != domain.TranchePaid || in.Version != pay.Transition.Snapshot.Version {
			t.Errorf("read model after payment = v%d %s (%v)", in.Version, in.Milestones[0].TrancheStatus, err)
		}
	})

	t.Run("retry_with_same_reference_after_commit_succeeds", func(t *testing.T) {
		t.Parallel()
		s, pay := released(t, "REF-1")
		for i := range 2 {
			if err := s.ConfirmPayment(ctxT(t), pay); err != nil {
				t.Fatalf("ConfirmPayment #%d: %v", i+1, err)
			}
		}
		if n := count(t, s, `SELECT count(*) FROM ledger_entries WHERE kind = 'pay'`); n != 2 {
			t.Errorf("pay entries = %d, want 2", n)
		}
	})

	t.Run("other_reference_already_paid", func(t *testing.T) {
		t.Parallel()
		s, pay := released(t, "REF-1")
		if err := s.ConfirmPayment(ctxT(t), pay); err != nil {
			t.Fatal(err)
		}
		again := pay
		again.Reference = "REF-2"
		err := s.ConfirmPayment(ctxT(t), again)
		if ruleCode(err) != domain.CodeAlreadyPaid || !strings.Contains(err.Error(), "REF-1") {
			t.Fatalf("ConfirmPayment with another reference = %v, want %s naming REF-1", err, domain.CodeAlreadyPaid)
		}
		d, _ := s.GetDisbursement(ctxT(t), pay.DisbursementID)
		if d.Reference == nil || *d.Reference != "REF-1" {
			t.Errorf("reference changed to %v", d.Reference)
		}
	})

	t.Run("unknown_disbursement_not_found", func(t *testing.T) {
		t.Parallel()
		s, pay := released(t, "REF-1")
		pay.DisbursementID = "nope"
		if err := s.ConfirmPayment(ctxT(t), pay); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("ConfirmPayment(nope) = %v, want ErrNotFound", err)
		}
	})

	t.Run("paid_disbursement_cannot_be_edited", func(t *testing.T) {
		t.Parallel()
		s, pay := released(t, "REF-1")
		if err := s.ConfirmPayment(ctxT(t), pay); err != nil {
			t.Fatal(err)
		}
		_, err := s.DB().ExecContext(ctxT(t), `UPDATE disbursements SET status = 'pending', reference = NULL, paid_at = NULL`)
		if err == nil {
			t.Fatal("a paid disbursement was set back to pending")
		}
	})
}

func TestBudget(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	if err := s.SetDelaftaleBudgetFrame(ctx, planID, "uddannelse-og-livschancer", mp(kr(5_000_000))); err != nil {
		t.Fatal(err)
	}
	// a: 1.000.000 LBF + 200.000 kommune reserved; tranche 1 (500.000 + 200.000) released and paid.
	// b: 1.000.000 LBF + 200.000 kommune reserved; tranche 1 released, not paid.
	// c: submitted only, nothing booked.
	a := approved(t, s, "a", "uddannelse-og-livschancer")
	if err := s.Release(ctx, releaseInput(t, a, 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.ConfirmPayment(ctx, payInput(t, a, 1, "REF-A1")); err != nil {
		t.Fatal(err)
	}
	b := approved(t, s, "b", "beskaeftigelse")
	if err := s.Release(ctx, releaseInput(t, b, 1)); err != nil {
		t.Fatal(err)
	}
	submit(t, s, "c", proposal("C", "sammenhaengskraft-og-medborgerskab", []string{"vestervang"}, kr(1), 0))

	line := func(committed *domain.Money, reserved, released, paid domain.Money) store.BudgetLine {
		l := store.BudgetLine{CommittedØre: committed, ReservedØre: reserved, ReleasedØre: released, PaidØre: paid}
		if committed != nil {
			l.AvailableØre = mp(*committed - reserved - released - paid)
		}
		return l
	}
	want := store.Budget{
		PlanID: planID,
		Total:  line(mp(kr(25_689_000)), kr(1_000_000), kr(700_000), kr(700_000)),
		Sources: []store.SourceBudget{
			{SourceID: "lbf", Name: "Landsbyggefonden",
				BudgetLine: line(mp(lbfTotal), kr(1_000_000), kr(500_000), kr(500_000))},
			{SourceID: "viborg-kommune", Name: "Viborg Kommune", Local: true,
				BudgetLine: line(mp(kr(7_200_000)), 0, kr(200_000), kr(200_000))},
			{SourceID: "boligselskaberne", Name: "Boligselskaberne (Boligselskabet Viborg og Boligselskabet Sct. Jørgen)",
				Local: true, BudgetLine: line(mp(kr(4_780_000)), 0, 0, 0)},
		},
		Delaftaler: []store.DelaftaleBudget{
			{DelaftaleID: "uddannelse-og-livschancer", Name: "Uddannelse og livschancer",
				BudgetLine: line(mp(kr(5_000_000)), kr(500_000), 0, kr(700_000))},
			{DelaftaleID: "beskaeftigelse", Name: "Beskæftigelse",
				BudgetLine: line(nil, kr(500_000), kr(700_000), 0)},
			{DelaftaleID: "sammenhaengskraft-og-medborgerskab", Name: "Sammenhængskraft og medborgerskab",
				BudgetLine: line(nil, 0, 0, 0)},
		},
		MinLocalCofinancingPermille: 250,
		Pending: []store.PendingProposal{{InitiativeID: "c", Title: "C",
			Budget: []domain.SourceAmount{{SourceID: "lbf", AmountØre: kr(1)}}}},
	}
	got, err := s.Budget(ctx, planID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Budget (-want +got):\n%s", diff)
	}

	t.Run("cofinancing_of_the_approved_budget_and_after_the_pending_proposal", func(t *testing.T) {
		// 400.000 local of 2.400.000 kr. approved (16,6 %); c asks 1 kr. of LBF money: lower, and below 25 %.
		c := got.Cofinancing()
		want := store.Cofinancing{
			Approved:    domain.Share{Local: kr(400_000), Total: kr(2_400_000)},
			MinPermille: 250, BelowMinimum: true,
			Pending: []store.PendingCofinancing{{PendingProposal: got.Pending[0],
				Asked: domain.Share{Total: kr(1)}, After: domain.Share{Local: kr(400_000), Total: kr(2_400_001)}, Refused: true}},
		}
		if diff := cmp.Diff(want, c); diff != "" {
			t.Errorf("Cofinancing (-want +got):\n%s", diff)
		}
		if c.Approved.Text() != "16,6 %" || c.Pending[0].After.Text() != "16,6 %" {
			t.Errorf("shares %s -> %s, want 16,6 %% -> 16,6 %%", c.Approved.Text(), c.Pending[0].After.Text())
		}
	})

	t.Run("matches_ledger_sums", func(t *testing.T) {
		var sums struct {
			Reserve int64 `db:"reserve"`
			Release int64 `db:"release"`
			Pay     int64 `db:"pay"`
		}
		const q = `
			SELECT COALESCE(sum(amount_ore) FILTER (WHERE kind = 'reserve'), 0) AS reserve,
			       COALESCE(sum(amount_ore) FILTER (WHERE kind = 'release'), 0) AS release,
			       COALESCE(sum(amount_ore) FILTER (WHERE kind = 'pay'), 0) AS pay
			FROM ledger_entries WHERE plan_id = $1`
		if err := s.DB().GetContext(ctx, &sums, q, planID); err != nil {
			t.Fatal(err)
		}
		tot := got.Total
		if int64(tot.ReservedØre+tot.ReleasedØre+tot.PaidØre) != sums.Reserve ||
			int64(tot.ReleasedØre+tot.PaidØre) != sums.Release || int64(tot.PaidØre) != sums.Pay {
			t.Errorf("total %+v does not match ledger sums %+v", tot, sums)
		}
		avail := available(t, s)
		for _, src := range got.Sources {
			if avail[src.SourceID] != *src.AvailableØre {
				t.Errorf("%s: Available says %s, Budget says %s", src.SourceID, avail[src.SourceID], *src.AvailableØre)
			}
		}
	})

	t.Run("unknown_plan_not_found", func(t *testing.T) {
		if _, err := s.Budget(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Budget(nope) = %v, want ErrNotFound", err)
		}
		if _, err := s.Available(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Available(nope) = %v, want ErrNotFound", err)
		}
	})
}

func TestListDisbursements(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	// Five released tranches in this order; the second and fourth are paid.
	var order []string
	for i, id := range []string{"d1", "d2", "d3", "d4", "d5"} {
		in := approved(t, s, id, "beskaeftigelse")
		rel := releaseInput(t, in, 1)
		if err := s.Release(ctx, rel); err != nil {
			t.Fatal(err)
		}
		if i%2 == 1 {
			if err := s.ConfirmPayment(ctx, payInput(t, in, 1, "REF-"+id)); err != nil {
				t.Fatal(err)
			}
		}
		order = append(order, rel.DisbursementID)
	}
	all := func(t *testing.T, f store.DisbursementFilter) []string {
		t.Helper()
		var ids []string
		for range 10 {
			page, next, err := s.ListDisbursements(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range page {
				if len(d.Lines) != 2 || d.InitiativeTitle != "Indsats "+d.InitiativeID {
					t.Errorf("%s listed without lines or title: %+v", d.ID, d)
				}
				ids = append(ids, d.ID)
			}
			if next == "" {
				return ids
			}
			f.After = next
		}
		t.Fatal("pages never end")
		return nil
	}
	tests := []struct {
		name   string
		filter store.DisbursementFilter
		want   []string
	}{
		{"all_oldest_first_over_pages", store.DisbursementFilter{PlanID: planID, Limit: 2}, order},
		{"pending_only", store.DisbursementFilter{PlanID: planID, Status: store.DisbursementPending, Limit: 1},
			[]string{order[0], order[2], order[4]}},
		{"paid_only", store.DisbursementFilter{PlanID: planID, Status: store.DisbursementPaid},
			[]string{order[1], order[3]}},
		{"other_plan_none", store.DisbursementFilter{PlanID: "aarhus"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, all(t, tc.filter)); diff != "" {
				t.Errorf("IDs (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("unknown_status_refused", func(t *testing.T) {
		_, _, err := s.ListDisbursements(ctx, store.DisbursementFilter{PlanID: planID, Status: "betalt"})
		if ruleCode(err) != domain.CodeValidation {
			t.Errorf("status betalt: %v, want %s", err, domain.CodeValidation)
		}
	})
	t.Run("unknown_disbursement_not_found", func(t *testing.T) {
		if _, err := s.GetDisbursement(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetDisbursement(nope) = %v, want ErrNotFound", err)
		}
	})
}
