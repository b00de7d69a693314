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

// Three tranches with odd øre, so a figure that is off by a tranche, a line or a rounding shows:
//
//	          LBF             Viborg Kommune
//	t1   40.000.000 øre      5.000.000 øre    paid before the cancellation
//	t2   30.000.001 øre     10.000.003 øre    released, then withdrawn
//	t3   30.000.000 øre      5.000.000 øre    never released
var (
	cancelT1 = []domain.SourceAmount{{SourceID: "lbf", AmountØre: 40_000_000}, {SourceID: "viborg-kommune", AmountØre: 5_000_000}}
	cancelT2 = []domain.SourceAmount{{SourceID: "lbf", AmountØre: 30_000_001}, {SourceID: "viborg-kommune", AmountØre: 10_000_003}}
	cancelT3 = []domain.SourceAmount{{SourceID: "lbf", AmountØre: 30_000_000}, {SourceID: "viborg-kommune", AmountØre: 5_000_000}}
	// What goes back at the cancellation: the budget minus tranche 1.
	cancelBack = map[string]domain.Money{"lbf": 60_000_001, "viborg-kommune": 15_000_003}
)

func cancelProposal(title string) domain.Proposal {
	p := proposal(title, "uddannelse-og-livschancer", []string{"ringparken"}, 100_000_001, 20_000_003)
	p.Milestones = []domain.MilestonePlan{
		{Title: "Opstart", DueDate: domain.NewDate(2022, 6, 1), Tranche: cancelT1},
		{Title: "Første år", DueDate: domain.NewDate(2023, 6, 1), Tranche: cancelT2},
		{Title: "Afslutning", DueDate: domain.NewDate(2024, 6, 1), Tranche: cancelT3},
	}
	return p
}

// cancellable builds initiative id through the store: approved, tranche 1 released and paid, tranche 2 released
// and waiting for finance.
func cancellable(t *testing.T, s *store.Store, id string) *domain.Initiative {
	t.Helper()
	ctx := ctxT(t)
	in := submit(t, s, id, cancelProposal("Indsats "+id))
	if err := s.Reserve(ctx, approveInput(t, in)); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, releaseInput(t, in, 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.ConfirmPayment(ctx, payInput(t, in, 1, "NETS-"+id+"-1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, releaseInput(t, in, 2)); err != nil {
		t.Fatal(err)
	}
	return in
}

// cancelInput is the board's cancellation of in as the workflow computes it (workflows/board.go): released
// tranches withdrawn, scheduled ones cancelled, and the budget minus what was paid given back.
func cancelInput(t *testing.T, in *domain.Initiative) store.CancelInput {
	t.Helper()
	var withdraw []store.WithdrawInput
	var withdrawn []string
	paid := map[string]domain.Money{}
	for i := range in.Milestones {
		m := &in.Milestones[i]
		switch m.TrancheStatus {
		case domain.TrancheReleased:
			withdraw = append(withdraw, store.WithdrawInput{DisbursementID: m.DisbursementID, MilestoneNo: m.No,
				Lines: m.Tranche})
			withdrawn = append(withdrawn, m.DisbursementID)
			m.TrancheStatus = domain.TrancheWithdrawn
		case domain.TranchePaid:
			for _, l := range m.Tranche {
				paid[l.SourceID] += l.AmountØre
			}
		case domain.TrancheScheduled:
			m.TrancheStatus = domain.TrancheCancelled
		}
	}
	var back []domain.SourceAmount
	for _, l := range in.Proposal.Budget {
		if rest := l.AmountØre - paid[l.SourceID]; rest > 0 {
			back = append(back, domain.SourceAmount{SourceID: l.SourceID, AmountØre: rest})
		}
	}
	in.Cancellation = &domain.Cancellation{Round: 1, Reason: "Beboerhuset er lukket", ProposedBy: hanne,
		ProposedAt: t0, Decided: true, Outcome: domain.OutcomeApprove, Returned: back, Withdrawn: withdrawn}
	tr := step(t, in, "cancelled", hanne, domain.PhaseCancelled)
	return store.CancelInput{PlanID: planID, InitiativeID: in.ID, DelaftaleID: in.Proposal.DelaftaleID,
		Withdraw: withdraw, Unreserve: back, Transition: tr}
}

// rowCounts counts the rows of every table a cancellation writes to.
func rowCounts(t *testing.T, s *store.Store) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range []string{"initiative_events", "ledger_entries", "disbursements", "disbursement_lines", "outbox"} {
		out[table] = count(t, s, `SELECT count(*) FROM `+table)
	}
	out["withdrawn disbursements"] = count(t, s, `SELECT count(*) FROM disbursements WHERE status = 'withdrawn'`)
	return out
}

func sourceLine(t *testing.T, b store.Budget, source string) store.BudgetLine {
	t.Helper()
	for _, l := range b.Sources {
		if l.SourceID == source {
			return l.BudgetLine
		}
	}
	t.Fatalf("budget has no source %s", source)
	return store.BudgetLine{}
}

func delaftaleLine(t *testing.T, b store.Budget, id string) store.BudgetLine {
	t.Helper()
	for _, l := range b.Delaftaler {
		if l.DelaftaleID == id {
			return l.BudgetLine
		}
	}
	t.Fatalf("budget has no delaftale %s", id)
	return store.BudgetLine{}
}

// line is the budget line with these figures, available being committed minus the rest (nil without committed).
func line(committed *domain.Money, reserved, released, paid domain.Money) store.BudgetLine {
	l := store.BudgetLine{CommittedØre: committed, ReservedØre: reserved, ReleasedØre: released, PaidØre: paid}
	if committed != nil {
		l.AvailableØre = mp(*committed - reserved - released - paid)
	}
	return l
}

// A cancellation takes the unpaid tranche back from finance and gives everything not paid back to the sources in
// the same transaction: the money is available to new proposals at once, and the figures are right to the øre.
func TestCancelReturnsTheUnpaidMoneyAtOnce(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	in := cancellable(t, s, "c")
	availBefore, err := s.Available(ctx, planID)
	if err != nil {
		t.Fatal(err)
	}
	before, err := s.Budget(ctx, planID)
	if err != nil {
		t.Fatal(err)
	}
	// Before: tranche 1 paid, tranche 2 released, tranche 3 reserved.
	lbfC, komC := sourceLine(t, before, "lbf").CommittedØre, sourceLine(t, before, "viborg-kommune").CommittedØre
	if diff := cmp.Diff(line(lbfC, 30_000_000, 30_000_001, 40_000_000), sourceLine(t, before, "lbf")); diff != "" {
		t.Fatalf("LBF before the cancellation (-want +got):\n%s", diff)
	}

	ci := cancelInput(t, in)
	res, err := s.WriteStep(ctx, store.Step{Cancel: &ci})
	if err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if res.Stored != nil {
		t.Errorf("first cancellation hands back a stored snapshot: %+v", res.Stored)
	}

	t.Run("tranche_2_withdrawn_tranche_1_stays_paid", func(t *testing.T) {
		d2, err := s.GetDisbursement(ctx, domain.DisbursementID("c", 2))
		if err != nil {
			t.Fatal(err)
		}
		if d2.Status != store.DisbursementWithdrawn || d2.WithdrawnAt == nil ||
			!d2.WithdrawnAt.Equal(ci.Transition.Event.At) || d2.WithdrawnReason == nil ||
			!strings.Contains(*d2.WithdrawnReason, "Beboerhuset er lukket") || d2.Reference != nil || d2.PaidAt != nil {
			t.Errorf("tranche 2 after the cancellation = %+v", d2)
		}
		d1, err := s.GetDisbursement(ctx, domain.DisbursementID("c", 1))
		if err != nil || d1.Status != store.DisbursementPaid {
			t.Errorf("tranche 1 after the cancellation = %+v (%v), want paid", d1, err)
		}
		got, err := s.GetInitiative(ctx, "c")
		if err != nil || got.Phase != domain.PhaseCancelled || got.Version != ci.Transition.Snapshot.Version {
			t.Errorf("read model = v%d %s (%v), want v%d cancelled", got.Version, got.Phase, err,
				ci.Transition.Snapshot.Version)
		}
	})

	t.Run("ledger_entries", func(t *testing.T) {
		var rows []struct {
			Key       string `db:"idempotency_key"`
			Kind      string `db:"kind"`
			Milestone *int   `db:"milestone_no"`
			AmountØre int64  `db:"amount_ore"`
		}
		if err := s.DB().SelectContext(ctx, &rows, `
			SELECT idempotency_key, kind, milestone_no, amount_ore FROM ledger_entries
			WHERE initiative_id = 'c' AND kind IN ('withdraw', 'unreserve') ORDER BY idempotency_key`); err != nil {
			t.Fatal(err)
		}
		type row = struct {
			Key       string `db:"idempotency_key"`
			Kind      string `db:"kind"`
			Milestone *int   `db:"milestone_no"`
			AmountØre int64  `db:"amount_ore"`
		}
		want := []row{
			{"unreserve/c/cancelled/lbf", "unreserve", nil, 60_000_001},
			{"unreserve/c/cancelled/viborg-kommune", "unreserve", nil, 15_000_003},
			{"withdraw/c-t2/lbf", "withdraw", milestone(2), 30_000_001},
			{"withdraw/c-t2/viborg-kommune", "withdraw", milestone(2), 10_000_003},
		}
		if diff := cmp.Diff(want, rows); diff != "" {
			t.Errorf("withdraw and unreserve entries (-want +got):\n%s", diff)
		}
	})

	t.Run("available_goes_up_by_the_budget_minus_tranche_1", func(t *testing.T) {
		after, err := s.Available(ctx, planID)
		if err != nil {
			t.Fatal(err)
		}
		for src, a := range after {
			if got, want := a-availBefore[src], cancelBack[src]; got != want {
				t.Errorf("available from %s went up by %s, want %s", src, got, want)
			}
		}
	})

	t.Run("budget_figures_to_the_øre", func(t *testing.T) {
		b, err := s.Budget(ctx, planID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(line(lbfC, 0, 0, 40_000_000), sourceLine(t, b, "lbf")); diff != "" {
			t.Errorf("LBF (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(line(komC, 0, 0, 5_000_000), sourceLine(t, b, "viborg-kommune")); diff != "" {
			t.Errorf("Viborg Kommune (-want +got):\n%s", diff)
		}
		frame := delaftaleLine(t, before, "uddannelse-og-livschancer").CommittedØre
		if diff := cmp.Diff(line(frame, 0, 0, 45_000_000), delaftaleLine(t, b, "uddannelse-og-livschancer")); diff != "" {
			t.Errorf("delaftale (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(line(before.Total.CommittedØre, 0, 0, 45_000_000), b.Total); diff != "" {
			t.Errorf("total (-want +got):\n%s", diff)
		}
	})

	t.Run("finance_is_told_and_the_inbox_drops_it", func(t *testing.T) {
		var payload json.RawMessage
		if err := s.DB().GetContext(ctx, &payload, `SELECT payload FROM outbox WHERE topic = $1 AND key = $2`,
			store.TopicDisbursementWithdrawn, store.TopicDisbursementWithdrawn+"/c-t2"); err != nil {
			t.Fatalf("withdrawn message: %v", err)
		}
		var msg store.DisbursementMessage
		if err := json.Unmarshal(payload, &msg); err != nil {
			t.Fatal(err)
		}
		if msg.DisbursementID != "c-t2" || msg.MilestoneNo != 2 || msg.TotalØre != 40_000_004 ||
			msg.WithdrawnAt == nil || !msg.WithdrawnAt.Equal(ci.Transition.Event.At) || msg.WithdrawnReason == "" ||
			msg.PaidAt != nil || len(msg.Lines) != 2 {
			t.Errorf("withdrawn message = %+v", msg)
		}
		pending, _, err := s.ListDisbursements(ctx, store.DisbursementFilter{PlanID: planID, Status: store.DisbursementPending})
		if err != nil {
			t.Fatal(err)
		}
		if len(pending) != 0 {
			t.Errorf("pending disbursements after the cancellation: %+v", pending)
		}
		withdrawn, _, err := s.ListDisbursements(ctx, store.DisbursementFilter{PlanID: planID, Status: store.DisbursementWithdrawn})
		if err != nil || len(withdrawn) != 1 || withdrawn[0].ID != "c-t2" {
			t.Errorf("withdrawn disbursements = %+v (%v), want c-t2", withdrawn, err)
		}
	})

	t.Run("ledger_verifies", func(t *testing.T) {
		r, err := s.VerifyLedgerReport(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Violations) != 0 {
			t.Fatalf("violations after a cancellation:\n%v", r.Violations)
		}
		if r.Cancelled != 1 || r.Withdrawn != 1 || r.Withdrawals != 2 {
			t.Errorf("report counts cancelled %d, withdrawn %d, withdrawals %d; want 1, 1, 2", r.Cancelled, r.Withdrawn,
				r.Withdrawals)
		}
	})

	rows := rowCounts(t, s)

	t.Run("same_step_again_writes_nothing", func(t *testing.T) {
		res, err := s.WriteStep(ctx, store.Step{Cancel: &ci})
		if err != nil || res.Stored != nil {
			t.Fatalf("rerun = %+v, %v; want nothing to adopt", res, err)
		}
	})

	t.Run("same_step_at_a_later_time_hands_back_what_was_stored", func(t *testing.T) {
		c2 := ci
		c2.Transition = later(t, ci.Transition, time.Minute)
		res, err := s.WriteStep(ctx, store.Step{Cancel: &c2})
		if err != nil {
			t.Fatal(err)
		}
		if res.Stored == nil || !res.Stored.UpdatedAt.Equal(ci.Transition.Snapshot.UpdatedAt) {
			t.Fatalf("Stored = %+v, want the first attempt's snapshot", res.Stored)
		}
		d2, err := s.GetDisbursement(ctx, "c-t2")
		if err != nil || d2.WithdrawnAt == nil || !d2.WithdrawnAt.Equal(ci.Transition.Event.At) {
			t.Errorf("withdrawn_at after a later rerun = %v (%v), want the first attempt's %s", d2.WithdrawnAt, err,
				ci.Transition.Event.At)
		}
	})

	for _, tc := range []struct {
		name   string
		change func(c *store.CancelInput)
	}{
		{"other_amount_given_back", func(c *store.CancelInput) {
			c.Unreserve = []domain.SourceAmount{{SourceID: "lbf", AmountØre: 60_000_000},
				{SourceID: "viborg-kommune", AmountØre: 15_000_003}}
		}},
		{"other_lines_withdrawn", func(c *store.CancelInput) {
			c.Withdraw = []store.WithdrawInput{{DisbursementID: "c-t2", MilestoneNo: 2,
				Lines: []domain.SourceAmount{{SourceID: "lbf", AmountØre: 30_000_001}}}}
		}},
		{"withdrawn_tranche_left_out", func(c *store.CancelInput) { c.Withdraw = nil }},
		{"paid_tranche_named_as_withdrawn", func(c *store.CancelInput) {
			c.Withdraw = append(c.Withdraw, store.WithdrawInput{DisbursementID: "c-t1", MilestoneNo: 1, Lines: cancelT1})
		}},
	} {
		t.Run("rerun_with_"+tc.name+"_diverges", func(t *testing.T) {
			c2 := ci
			c2.Withdraw = append([]store.WithdrawInput(nil), ci.Withdraw...)
			tc.change(&c2)
			_, err := s.WriteStep(ctx, store.Step{Cancel: &c2})
			var rule *domain.RuleError
			switch {
			case tc.name == "paid_tranche_named_as_withdrawn":
				// A paid tranche can never be withdrawn, rerun or not: the board is told.
				if !errors.As(err, &rule) || rule.Code != domain.CodeConflict {
					t.Fatalf("WriteStep = %v, want a RuleError (conflict)", err)
				}
			case !errors.Is(err, store.ErrDivergence):
				t.Fatalf("WriteStep = %v, want ErrDivergence", err)
			}
		})
	}

	t.Run("nothing_written_by_reruns", func(t *testing.T) {
		if diff := cmp.Diff(rows, rowCounts(t, s)); diff != "" {
			t.Errorf("rows after reruns (-before +after):\n%s", diff)
		}
		verifyClean(t, s)
	})

	t.Run("a_withdrawn_tranche_cannot_be_paid", func(t *testing.T) {
		pay := payInput(t, in, 2, "NETS-c-2")
		err := s.ConfirmPayment(ctx, pay)
		var rule *domain.RuleError
		if !errors.As(err, &rule) || rule.Code != domain.CodeConflict ||
			!strings.Contains(rule.Message, "Udbetalingen er trukket tilbage") {
			t.Fatalf("ConfirmPayment of a withdrawn tranche = %v, want a RuleError saying it was withdrawn", err)
		}
		// Nor by hand: a withdrawn disbursement is final, like a paid one.
		_, err = s.DB().ExecContext(ctx, `UPDATE disbursements SET status = 'paid', reference = 'X', paid_at = now()
		                                  WHERE id = 'c-t2'`)
		refusedBy(t, err, "42501", "")
		_, err = s.DB().ExecContext(ctx, `UPDATE disbursements SET withdrawn_reason = 'andet' WHERE id = 'c-t2'`)
		refusedBy(t, err, "42501", "")
		if diff := cmp.Diff(rows, rowCounts(t, s)); diff != "" {
			t.Errorf("rows after refused payments (-before +after):\n%s", diff)
		}
	})
}

// A tranche finance paid before the board's cancellation reached the database cannot be withdrawn: the step is
// refused with a Danish message for the board, and nothing of it is written.
func TestCancelRefusesAPaidTranche(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	in := cancellable(t, s, "p")
	stale := clone(t, *in) // the workflow's state before finance's payment of tranche 2 landed
	if err := s.ConfirmPayment(ctx, payInput(t, in, 2, "NETS-p-2")); err != nil {
		t.Fatal(err)
	}
	before := rowCounts(t, s)
	ci := cancelInput(t, &stale)
	_, err := s.WriteStep(ctx, store.Step{Cancel: &ci})
	var rule *domain.RuleError
	if !errors.As(err, &rule) || rule.Code != domain.CodeConflict ||
		!strings.Contains(rule.Message, "Raten er allerede udbetalt") || !strings.Contains(rule.Message, "p-t2") {
		t.Fatalf("cancel naming a paid tranche = %v, want a RuleError (conflict) naming p-t2", err)
	}
	if diff := cmp.Diff(before, rowCounts(t, s)); diff != "" {
		t.Errorf("rows after the refusal (-before +after):\n%s", diff)
	}
	got, err := s.GetInitiative(ctx, "p")
	if err != nil || got.Phase == domain.PhaseCancelled {
		t.Errorf("read model after the refusal: %s (%v)", got.Phase, err)
	}
	d, err := s.GetDisbursement(ctx, "p-t2")
	if err != nil || d.Status != store.DisbursementPaid {
		t.Errorf("tranche 2 after the refusal = %+v (%v), want paid", d, err)
	}
	verifyClean(t, s)
}

// A cancellation the ledger does not agree with — money left reserved or released after it — is refused whole.
func TestCancelMustSettleTheLedger(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(c *store.CancelInput)
		want   func(t *testing.T, err error)
	}{
		{"too_little_given_back", func(c *store.CancelInput) {
			c.Unreserve = []domain.SourceAmount{{SourceID: "lbf", AmountØre: 60_000_001}}
		}, func(t *testing.T, err error) {
			if !errors.Is(err, store.ErrDivergence) || !strings.Contains(err.Error(), "not settled") {
				t.Fatalf("WriteStep = %v, want ErrDivergence: not settled", err)
			}
		}},
		{"pending_tranche_not_withdrawn", func(c *store.CancelInput) {
			c.Withdraw = nil
			// What is left to give back without the withdrawal: tranche 3 only.
			c.Unreserve = cancelT3
		}, func(t *testing.T, err error) {
			if !errors.Is(err, store.ErrDivergence) || !strings.Contains(err.Error(), "still pending") {
				t.Fatalf("WriteStep = %v, want ErrDivergence: still pending", err)
			}
		}},
		{"pending_tranche_not_withdrawn_but_given_back", func(c *store.CancelInput) { c.Withdraw = nil },
			func(t *testing.T, err error) {
				// The database itself refuses to give back released money.
				refusedBy(t, err, "23514", "ledger_released_within_reserved")
			}},
		{"another_initiatives_tranche", func(c *store.CancelInput) {
			c.Withdraw[0].DisbursementID = "other-t2"
		}, func(t *testing.T, err error) {
			if !errors.Is(err, store.ErrDivergence) {
				t.Fatalf("WriteStep = %v, want ErrDivergence", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := dbtest.New(t)
			in := cancellable(t, s, "s")
			cancellable(t, s, "other")
			before := rowCounts(t, s)
			ci := cancelInput(t, in)
			tc.change(&ci)
			_, err := s.WriteStep(ctxT(t), store.Step{Cancel: &ci})
			tc.want(t, err)
			if diff := cmp.Diff(before, rowCounts(t, s)); diff != "" {
				t.Errorf("rows after the refusal (-before +after):\n%s", diff)
			}
		})
	}
}

// Cancelling with nothing pending (every released tranche paid) gives back the rest of the budget; cancelling
// right after approval withdraws tranche 1 and gives back the whole budget.
func TestCancelWithoutPaymentsOrPendingTranches(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	availBefore, err := s.Available(ctx, planID)
	if err != nil {
		t.Fatal(err)
	}

	// a: tranche 1 paid, nothing pending.
	a := submit(t, s, "a", cancelProposal("A"))
	if err := s.Reserve(ctx, approveInput(t, a)); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, releaseInput(t, a, 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.ConfirmPayment(ctx, payInput(t, a, 1, "NETS-a-1")); err != nil {
		t.Fatal(err)
	}
	ca := cancelInput(t, a)
	if len(ca.Withdraw) != 0 {
		t.Fatalf("nothing is pending, yet the cancellation withdraws %+v", ca.Withdraw)
	}
	if _, err := s.WriteStep(ctx, store.Step{Cancel: &ca}); err != nil {
		t.Fatal(err)
	}

	// b: approved, tranche 1 released and not paid.
	b := submit(t, s, "b", cancelProposal("B"))
	res, rel := approveInput(t, b), releaseInput(t, b, 1)
	if _, err := s.WriteStep(ctx, store.Step{Reserve: &res, Release: &rel}); err != nil {
		t.Fatal(err)
	}
	cb := cancelInput(t, b)
	if _, err := s.WriteStep(ctx, store.Step{Cancel: &cb}); err != nil {
		t.Fatal(err)
	}

	after, err := s.Available(ctx, planID)
	if err != nil {
		t.Fatal(err)
	}
	// Only a's tranche 1 is gone for good.
	for src, want := range map[string]domain.Money{"lbf": 40_000_000, "viborg-kommune": 5_000_000} {
		if got := availBefore[src] - after[src]; got != want {
			t.Errorf("available from %s is %s lower than before both initiatives, want %s", src, got, want)
		}
	}
	verifyClean(t, s)
}

// The database refuses a withdrawal the money rules forbid, whoever writes it.
func TestWithdrawRulesInDatabase(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	// 1.000.000 kr. from LBF and 200.000 kr. from the kommune; tranche 1 is 500.000 + 200.000 kr.
	in := reservedInitiative(t, s, "w", "beskaeftigelse")
	if err := s.Release(ctx, releaseInput(t, in, 1)); err != nil {
		t.Fatal(err)
	}
	entry := func(source string, no int, kind string, amount int64, key string) error {
		_, err := s.DB().ExecContext(ctx, qInsertEntry, ledgerRow{source: source, initiative: "w",
			delaftale: "beskaeftigelse", milestone: milestone(no), kind: kind, amount: amount, key: key}.args()...)
		return err
	}

	t.Run("more_than_released_refused", func(t *testing.T) {
		pqErr := refusedBy(t, entry("lbf", 1, "withdraw", int64(kr(500_000))+1, "withdraw/w-t1/lbf"), "23514",
			"ledger_withdrawn_within_unpaid")
		if !strings.Contains(pqErr.Message, "500.000,01 kr.") || !strings.Contains(pqErr.Message, "500.000,00 kr.") {
			t.Errorf("message %q does not give the figures", pqErr.Message)
		}
	})
	t.Run("unreleased_milestone_refused", func(t *testing.T) {
		refusedBy(t, entry("lbf", 2, "withdraw", 1, "withdraw/w-t2/lbf"), "23514", "ledger_withdrawn_within_unpaid")
	})
	t.Run("without_milestone_refused", func(t *testing.T) {
		_, err := s.DB().ExecContext(ctx, qInsertEntry, ledgerRow{source: "lbf", initiative: "w",
			delaftale: "beskaeftigelse", kind: "withdraw", amount: 1, key: "withdraw/w/lbf"}.args()...)
		refusedBy(t, err, "23514", "ledger_entries_check")
	})
	t.Run("the_whole_release_then_no_payment", func(t *testing.T) {
		if err := entry("lbf", 1, "withdraw", int64(kr(500_000)), "withdraw/w-t1/lbf"); err != nil {
			t.Fatalf("withdrawing exactly the release: %v", err)
		}
		refusedBy(t, entry("lbf", 1, "pay", 1, "pay/w-t1/lbf"), "23514", "ledger_paid_within_released")
		refusedBy(t, entry("lbf", 1, "withdraw", 1, "withdraw/w-t1/lbf-again"), "23514", "ledger_withdrawn_within_unpaid")
		// The money is reserved again, so it can be given back, and not a øre more.
		if err := s.Unreserve(ctx, store.UnreserveInput{PlanID: planID, InitiativeID: "w", DelaftaleID: "beskaeftigelse",
			Reason: "test", Lines: []domain.SourceAmount{{SourceID: "lbf", AmountØre: kr(1_000_000)}}}); err != nil {
			t.Fatalf("giving back the withdrawn and the unreleased money: %v", err)
		}
		err := s.Unreserve(ctx, store.UnreserveInput{PlanID: planID, InitiativeID: "w", DelaftaleID: "beskaeftigelse",
			Reason: "test2", Lines: []domain.SourceAmount{{SourceID: "lbf", AmountØre: 1}}})
		refusedBy(t, err, "23514", "ledger_released_within_reserved")
	})
	t.Run("after_payment_refused", func(t *testing.T) {
		y := reservedInitiative(t, s, "y", "beskaeftigelse")
		if err := s.Release(ctx, releaseInput(t, y, 1)); err != nil {
			t.Fatal(err)
		}
		if err := s.ConfirmPayment(ctx, payInput(t, y, 1, "NETS-y-1")); err != nil {
			t.Fatal(err)
		}
		_, err := s.DB().ExecContext(ctx, qInsertEntry, ledgerRow{source: "viborg-kommune", initiative: "y",
			delaftale: "beskaeftigelse", milestone: milestone(1), kind: "withdraw", amount: 1,
			key: "withdraw/y-t1/viborg-kommune"}.args()...)
		refusedBy(t, err, "23514", "ledger_withdrawn_within_unpaid")
	})

	t.Run("disbursement_status_rules", func(t *testing.T) {
		_, err := s.DB().ExecContext(ctx,
			`UPDATE disbursements SET status = 'withdrawn', withdrawn_at = now() WHERE id = 'y-t1'`)
		refusedBy(t, err, "42501", "") // paid is final
		x := submit(t, s, "x", proposal("X", "beskaeftigelse", []string{"vestervang"}, kr(1_000), 0))
		if err := s.Reserve(ctx, approveInput(t, x)); err != nil {
			t.Fatal(err)
		}
		if err := s.Release(ctx, releaseInput(t, x, 1)); err != nil {
			t.Fatal(err)
		}
		_, err = s.DB().ExecContext(ctx, `UPDATE disbursements SET status = 'withdrawn' WHERE id = 'x-t1'`)
		refusedBy(t, err, "23514", "disbursements_withdrawn_check")
		_, err = s.DB().ExecContext(ctx, `UPDATE disbursements SET withdrawn_reason = 'x' WHERE id = 'x-t1'`)
		refusedBy(t, err, "23514", "disbursements_withdrawn_reason_check")
		if _, err := s.DB().ExecContext(ctx,
			`UPDATE disbursements SET status = 'withdrawn', withdrawn_at = now() WHERE id = 'x-t1'`); err != nil {
			t.Fatalf("withdrawing a pending disbursement: %v", err)
		}
		_, err = s.DB().ExecContext(ctx, `UPDATE disbursements SET status = 'pending', withdrawn_at = NULL WHERE id = 'x-t1'`)
		refusedBy(t, err, "42501", "") // withdrawn is final
	})
}

// ledger verify understands withdrawals and cancelled initiatives: a clean cancellation verifies (above), and each
// way its rows can be broken is named.
func TestVerifyLedgerAfterCancellation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		corrupt func(t *testing.T, s *store.Store)
		want    []ruleAt
		detail  string // a figure or phrase the first violation's detail must hold
	}{
		{
			name: "withdraw_entry_missing",
			corrupt: func(t *testing.T, s *store.Store) {
				bypassRules(t, s, `DELETE FROM ledger_entries WHERE idempotency_key = 'withdraw/c-t2/lbf'`)
			},
			want: []ruleAt{{store.RuleReleasedWithinReserved, "indsats c, kilde lbf"},
				{store.RuleWithdrawEntry, "udbetaling c-t2, kilde lbf"},
				{store.RuleCancelledSettled, "indsats c, kilde lbf"},
				{store.RuleTrancheReleases, "indsats c, milepæl 2, kilde lbf"}},
			detail: "frigivet 700.000,01 kr. og givet tilbage 600.000,01 kr., men kun reserveret 1.000.000,01 kr.",
		},
		{
			name: "withdrawn_disbursement_shown_pending",
			corrupt: func(t *testing.T, s *store.Store) {
				bypassRules(t, s, `UPDATE disbursements SET status = 'pending', withdrawn_at = NULL, withdrawn_reason = NULL
				                   WHERE id = 'c-t2'`)
			},
			want: []ruleAt{{store.RuleWithdrawEntry, "udbetaling c-t2, kilde lbf"},
				{store.RuleWithdrawEntry, "udbetaling c-t2, kilde viborg-kommune"},
				{store.RuleCancelledSettled, "indsats c"}},
			detail: "udbetalingen er pending",
		},
		{
			name: "money_left_reserved",
			corrupt: func(t *testing.T, s *store.Store) {
				bypassRules(t, s, `DELETE FROM ledger_entries WHERE idempotency_key = 'unreserve/c/cancelled/viborg-kommune'`)
			},
			want: []ruleAt{{store.RuleReservationBudget, "indsats c, kilde viborg-kommune"},
				{store.RuleCancelledSettled, "indsats c, kilde viborg-kommune"}},
			detail: "skal der være reserveret 50.000,00 kr., men der er reserveret 200.000,03 kr.",
		},
		{
			name: "withdrawal_of_an_unreleased_tranche",
			corrupt: func(t *testing.T, s *store.Store) {
				bypassRules(t, s, `
					INSERT INTO ledger_entries (plan_id, source_id, initiative_id, delaftale_id, milestone_no, kind,
					                            amount_ore, idempotency_key)
					VALUES ('viborg-2021-2025', 'lbf', 'c', 'uddannelse-og-livschancer', 3, 'withdraw', 1,
					        'withdraw/c-t3/lbf')`)
			},
			want: []ruleAt{{store.RulePaidWithinReleased, "indsats c, kilde lbf"},
				{store.RuleWithdrawnWithinUnpaid, "indsats c, milepæl 3, kilde lbf"},
				{store.RuleWithdrawEntry, "postering withdraw/c-t3/lbf"},
				{store.RuleCancelledSettled, "indsats c, kilde lbf"},
				{store.RuleTrancheReleases, "indsats c, milepæl 3, kilde lbf"}},
			detail: "udbetalt 400.000,00 kr. og trukket 300.000,02 kr. tilbage, men kun frigivet 700.000,01 kr.",
		},
		{
			name: "read_model_shows_the_withdrawn_tranche_released",
			corrupt: func(t *testing.T, s *store.Store) {
				execAll(t, s.DB(), `UPDATE initiatives SET snapshot = jsonb_set(snapshot, '{milestones,1,tranche_status}', '"released"')
				                    WHERE id = 'c'`)
			},
			want: []ruleAt{{store.RuleTrancheReleases, "indsats c, milepæl 2, kilde lbf"},
				{store.RuleTrancheReleases, "indsats c, milepæl 2, kilde viborg-kommune"}},
			detail: "læsemodellen viser frigivet 300.000,01 kr., regnskabet 0,00 kr.",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name+"_found", func(t *testing.T) {
			t.Parallel()
			s := dbtest.New(t)
			ci := cancelInput(t, cancellable(t, s, "c"))
			if _, err := s.WriteStep(ctxT(t), store.Step{Cancel: &ci}); err != nil {
				t.Fatal(err)
			}
			verifyClean(t, s)
			tc.corrupt(t, s)
			vs, err := s.VerifyLedger(ctxT(t))
			if err != nil {
				t.Fatalf("VerifyLedger: %v", err)
			}
			if diff := cmp.Diff(tc.want, rulesOf(vs)); diff != "" {
				t.Fatalf("violations (-want +got):\n%s\nall: %v", diff, vs)
			}
			if tc.detail != "" && !strings.Contains(vs[0].Detail, tc.detail) {
				t.Errorf("first violation's detail %q does not hold %q", vs[0].Detail, tc.detail)
			}
		})
	}
}
