package workflows_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.temporal.io/sdk/testsuite"

	"github.com/helhedsplan/helhedsplan/activities"
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

// Once the board has accepted the evaluation, the close-out completes even when the workflow itself is cancelled
// while the step waits for PostgreSQL: the step runs on a disconnected context (like a cancellation's).
func TestCloseoutCompletesWhenTheWorkflowIsCancelledMidStep(t *testing.T) {
	plan := boardPlan(t)
	fake := newFakeStore(plan)
	fake.down, fake.failStep = 4, workflows.EventEvaluationOK // retried after 1, 2, 4, 8 s
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(planTime)
	env.RegisterWorkflow(workflows.Initiative)
	env.RegisterActivity(&activities.Activities{Store: fake})
	updates := []struct {
		name string
		arg  any
	}{
		{workflows.UpdateDecide, vote(lars, domain.OutcomeApprove, "")},
		{workflows.UpdateDecide, vote(sofie, domain.OutcomeApprove, "")},
		{workflows.UpdateConfirmPayment, confirm(1, "BANK-1")},
		{workflows.UpdateReportMilestone, report(1, domain.Kroner(150_000))},
		{workflows.UpdateDecide, voteOn(domain.MatterMilestone, 1, hanne, domain.OutcomeApprove, "")},
		{workflows.UpdateConfirmPayment, confirm(2, "BANK-2")},
		{workflows.UpdateReportMilestone, report(2, domain.Kroner(250_000))},
		{workflows.UpdateDecide, voteOn(domain.MatterMilestone, 2, hanne, domain.OutcomeApprove, "")},
		{workflows.UpdateSubmitEvaluation, evaluation()},
		{workflows.UpdateDecide, voteOn(domain.MatterEvaluation, 0, hanne, domain.OutcomeApprove, "")},
		{workflows.UpdateDecide, voteOn(domain.MatterEvaluation, 0, lars, domain.OutcomeApprove, "")},
	}
	for i, u := range updates {
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(u.name, fmt.Sprintf("u%d", i), &testsuite.TestUpdateCallback{
				OnReject: func(err error) { t.Errorf("update %d rejected: %v", i, err) }, OnAccept: func() {},
				OnComplete: func(any, error) {},
			}, u.arg)
		}, time.Duration(i+1)*time.Minute)
	}
	// The deciding vote is at minute 11; its step fails for 15 s. Cancel the workflow 3 s into that.
	env.RegisterDelayedCallback(env.CancelWorkflow, 11*time.Minute+3*time.Second)
	env.ExecuteWorkflow(workflows.Initiative, workflows.StartInput{InitiativeID: "i1", Plan: plan, Proposer: mette, Proposal: proposal()})
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not finish")
	}
	if len(fake.closeouts) != 1 || fake.snapshot.Phase != domain.PhaseCompleted || fake.snapshot.Closeout == nil {
		t.Fatalf("%d close-out steps, read model %s: want the close-out written once and the initiative completed",
			len(fake.closeouts), fake.snapshot.Phase)
	}
	if fake.down != 0 {
		t.Fatalf("the step failed %d times fewer than planned: the close-out did not wait out the outage", fake.down)
	}
	fake.writtenOnce(t)
}
