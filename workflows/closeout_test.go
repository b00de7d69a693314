package workflows_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/workflows"
)

// The board's acceptance of the evaluation settles the money in the same step: what was paid and not spent
// becomes a return per source, finance is told, and the initiative's snapshot shows the settlement.
func TestAcceptingTheEvaluationClosesTheMoneyOut(t *testing.T) {
	plan := boardPlan(t)
	fake := newFakeStore(plan)
	withSpend := evaluation()
	steps := append(approvedAndReported(),
		step{name: "accept_1", update: workflows.UpdateDecide, arg: voteOn(domain.MatterMilestone, 1, hanne, domain.OutcomeApprove, "")},
		step{name: "pay_2", update: workflows.UpdateConfirmPayment, arg: confirm(2, "BANK-2")},
		step{name: "report_2", update: workflows.UpdateReportMilestone, arg: report(2, domain.Kroner(250_000))},
		step{name: "accept_2", update: workflows.UpdateDecide, arg: voteOn(domain.MatterMilestone, 2, hanne, domain.OutcomeApprove, ""), wantPhase: domain.PhaseEvaluation},
	)
	// What was paid per source, from the proposal's tranches (all paid by now).
	paid := map[string]domain.Money{}
	for _, m := range proposal().Milestones {
		for _, l := range m.Tranche {
			paid[l.SourceID] += l.AmountØre
		}
	}
	var spend []domain.SourceAmount
	var wantLines []domain.CloseoutLine
	for _, src := range []string{"lbf", "viborg-kommune"} {
		if paid[src] == 0 {
			t.Fatalf("the fixture pays nothing from %s", src)
		}
	}
	// LBF's money is spent but 1.234,56 kr.; the municipality's in full.
	spend = []domain.SourceAmount{{SourceID: "lbf", AmountØre: paid["lbf"] - 123_456}, {SourceID: "viborg-kommune", AmountØre: paid["viborg-kommune"]}}
	wantLines = []domain.CloseoutLine{
		{SourceID: "lbf", PaidØre: paid["lbf"], SpentØre: paid["lbf"] - 123_456, ReturnØre: 123_456},
		{SourceID: "viborg-kommune", PaidØre: paid["viborg-kommune"], SpentØre: paid["viborg-kommune"]},
	}
	over := withSpend
	over.Spend = []domain.SourceAmount{{SourceID: "lbf", AmountØre: paid["lbf"] + 1}, {SourceID: "viborg-kommune", AmountØre: 0}}
	withSpend.Spend = spend
	steps = append(steps,
		step{name: "more spent than paid", update: workflows.UpdateSubmitEvaluation, arg: over, wantCode: domain.CodeValidation, rejected: true},
		step{name: "evaluate", update: workflows.UpdateSubmitEvaluation, arg: withSpend},
		step{name: "hanne", update: workflows.UpdateDecide, arg: voteOn(domain.MatterEvaluation, 0, hanne, domain.OutcomeApprove, "")},
		step{name: "lars", update: workflows.UpdateDecide, arg: voteOn(domain.MatterEvaluation, 0, lars, domain.OutcomeApprove, ""), wantPhase: domain.PhaseCompleted},
	)
	final := run(t, plan, fake, steps)
	if final.Closeout == nil {
		t.Fatal("the completed initiative has no close-out")
	}
	if d := cmp.Diff(wantLines, final.Closeout.Lines); d != "" {
		t.Fatalf("close-out lines (-want +got):\n%s", d)
	}
	if len(fake.closeouts) != 1 {
		t.Fatalf("%d close-out steps written, want 1", len(fake.closeouts))
	}
	co := fake.closeouts[0]
	if d := cmp.Diff(wantLines, co.Lines); d != "" || co.Transition.Event.Type != workflows.EventEvaluationOK ||
		co.Transition.Event.PhaseAfter != domain.PhaseCompleted {
		t.Fatalf("close-out step %s → %s, lines (-want +got):\n%s", co.Transition.Event.Type, co.Transition.Event.PhaseAfter, d)
	}
	var told bool
	for _, n := range fake.notes {
		if n.Seq == co.Transition.Event.Seq && n.Kind == store.NotifyInfo && len(n.Audience.Roles) == 1 &&
			n.Audience.Roles[0] == domain.RoleFinance {
			told = true
		}
	}
	if !told {
		t.Fatalf("finance was not told of the return: %+v", fake.notes)
	}
}
