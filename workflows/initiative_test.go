package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.temporal.io/sdk/testsuite"

	"github.com/helhedsplan/helhedsplan/activities"
	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/seed"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/workflows"
)

var (
	mette = domain.Actor{UserID: "og-mette", Name: "Mette Kjær", Role: domain.RoleOperationalGroup}
	ahmed = domain.Actor{UserID: "og-ahmed", Name: "Ahmed Hassan", Role: domain.RoleOperationalGroup}
	hanne = domain.Actor{UserID: "bs-hanne", Name: "Hanne Mortensen", Role: domain.RoleBoard}
	lars  = domain.Actor{UserID: "bs-lars", Name: "Lars Bach", Role: domain.RoleBoard}
	peter = domain.Actor{UserID: "fin-peter", Name: "Peter Holm", Role: domain.RoleFinance}
)

// fakeStore keeps what the activities write, the way PostgreSQL does: a step is all or nothing, and a rerun of a
// step finds its own rows (same event type, actor, phases and payload under each seq) and writes nothing, while
// another transition under a taken seq is a divergence. It counts every write per key, so a test can prove that
// nothing was written twice.
type fakeStore struct {
	mu         sync.Mutex
	plan       domain.Plan
	events     map[int64]store.Event
	snapshot   domain.Initiative
	reserved   map[string]domain.Money
	releases   map[string]store.ReleaseInput
	payments   map[string]string // disbursement -> reference
	writes     map[string]int    // key -> times written
	notes      []store.NotifyInput
	closeouts  []store.CloseoutInput
	cancels    []store.CancelInput
	reserveErr error
	// down fails this many attempts of steps that record failStep ("" for any step) as if PostgreSQL were
	// stopped; attempts counts every call.
	down     int
	failStep string
	attempts int
	// loseAnswers commits this many steps and then reports failure, as a connection that breaks after COMMIT.
	// shiftLost, if set, stores those steps' snapshots as if written that much later, as a first attempt in a
	// workflow task that was then lost would have.
	loseAnswers int
	shiftLost   time.Duration
}

func newFakeStore(plan domain.Plan) *fakeStore {
	return &fakeStore{plan: plan, events: map[int64]store.Event{}, reserved: map[string]domain.Money{},
		releases: map[string]store.ReleaseInput{}, payments: map[string]string{}, writes: map[string]int{}}
}

func sameEvent(a, b store.Event) bool {
	return a.Type == b.Type && a.ActorID == b.ActorID && a.ActorRole == b.ActorRole &&
		a.PhaseBefore == b.PhaseBefore && a.PhaseAfter == b.PhaseAfter && string(a.Payload) == string(b.Payload)
}

func (f *fakeStore) WriteStep(_ context.Context, s store.Step) (store.StepResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts++
	var trs []store.Transition
	if s.Reserve != nil {
		if f.reserveErr != nil {
			return store.StepResult{}, f.reserveErr
		}
		trs = append(trs, s.Reserve.Transition)
	}
	trs = append(trs, s.Transitions...)
	if s.Release != nil {
		trs = append(trs, s.Release.Transition)
	}
	if s.Pay != nil {
		if ref, ok := f.payments[s.Pay.DisbursementID]; ok && ref != s.Pay.Reference {
			return store.StepResult{}, domain.Refuse(domain.CodeAlreadyPaid, "paid with %s", ref)
		}
		trs = append(trs, s.Pay.Transition)
	}
	if s.Cancel != nil {
		trs = append(trs, s.Cancel.Transition)
	}
	if s.Closeout != nil {
		trs = append(trs, s.Closeout.Transition)
	}
	if f.down > 0 && slices.ContainsFunc(trs, func(tr store.Transition) bool {
		return f.failStep == "" || tr.Event.Type == f.failStep
	}) {
		f.down--
		return store.StepResult{}, fmt.Errorf("begin: %w: dial tcp 127.0.0.1:5432: connection refused", store.ErrUnavailable)
	}
	existed := 0
	for _, tr := range trs {
		if e, ok := f.events[tr.Event.Seq]; ok {
			if !sameEvent(e, tr.Event) {
				return store.StepResult{}, fmt.Errorf("seq %d: %w", tr.Event.Seq, store.ErrDivergence)
			}
			existed++
		}
	}
	last := trs[len(trs)-1].Snapshot
	if existed == len(trs) {
		res := store.StepResult{}
		if f.snapshot.Version == last.Version && !sameJSON(f.snapshot, last) {
			stored := f.snapshot
			res.Stored = &stored
		}
		return res, nil
	}
	for _, tr := range trs {
		f.events[tr.Event.Seq] = tr.Event
		f.writes[fmt.Sprintf("event/%d", tr.Event.Seq)]++
	}
	f.snapshot = last
	if f.loseAnswers > 0 && f.shiftLost != 0 {
		f.snapshot.UpdatedAt = f.snapshot.UpdatedAt.Add(f.shiftLost)
	}
	if s.Reserve != nil {
		for _, l := range s.Reserve.Lines {
			f.reserved[l.SourceID] += l.AmountØre
			f.writes[store.ReserveKey("i", s.Reserve.KeySuffix, l.SourceID)]++
		}
	}
	if s.Unreserve != nil {
		for _, l := range s.Unreserve.Lines {
			f.reserved[l.SourceID] -= l.AmountØre
			f.writes["unreserve/"+s.Unreserve.Reason+"/"+l.SourceID]++
		}
	}
	if s.Release != nil {
		f.releases[s.Release.DisbursementID] = *s.Release
		f.writes["release/"+s.Release.DisbursementID]++
	}
	if s.Pay != nil {
		f.payments[s.Pay.DisbursementID] = s.Pay.Reference
		f.writes["pay/"+s.Pay.DisbursementID]++
	}
	if s.Cancel != nil {
		f.cancels = append(f.cancels, *s.Cancel)
		f.writes["cancel/"+s.Cancel.InitiativeID]++
	}
	if s.Closeout != nil {
		f.closeouts = append(f.closeouts, *s.Closeout)
		f.writes["closeout/"+s.Closeout.InitiativeID]++
	}
	for _, n := range s.Notify {
		f.notes = append(f.notes, n)
		f.writes[fmt.Sprintf("notify/%d/%s", n.Seq, n.Kind)]++
	}
	if f.loseAnswers > 0 {
		f.loseAnswers--
		return store.StepResult{}, errors.New("read tcp 127.0.0.1:5432: connection reset by peer (after COMMIT)")
	}
	return store.StepResult{}, nil
}

func sameJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}

func (f *fakeStore) GetPlan(context.Context, string) (domain.Plan, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.plan, nil
}

func (f *fakeStore) Available(context.Context, string) (map[string]domain.Money, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]domain.Money{}
	for _, s := range f.plan.FundingSources {
		out[s.ID] = s.CommittedØre - f.reserved[s.ID]
	}
	return out, nil
}

func (f *fakeStore) GetInitiative(context.Context, string) (domain.Initiative, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snapshot, nil
}

// writtenOnce fails the test if any key was written more than once.
func (f *fakeStore) writtenOnce(t *testing.T) {
	t.Helper()
	for k, n := range f.writes {
		if n != 1 {
			t.Errorf("%s written %d times, want once", k, n)
		}
	}
}

func viborg(t *testing.T) domain.Plan {
	t.Helper()
	s, err := seed.Viborg()
	if err != nil {
		t.Fatal(err)
	}
	return s.Plan
}

// proposal is a two-milestone initiative under Beskæftigelse: 300.000 kr. from LBF, 100.000 kr. from the
// municipality.
// planTime is when the workflow tests start: a Tuesday in the plan period.
var planTime = time.Date(2021, 6, 1, 9, 0, 0, 0, time.UTC)

func proposal() domain.Proposal {
	return domain.Proposal{
		Title:          "Jobbro Vestervang",
		Description:    "Opsøgende jobvejledning i boligområdet.",
		DelaftaleID:    "beskaeftigelse",
		HousingAreaIDs: []string{"vestervang", "ringparken"},
		TargetGroup:    "Ledige beboere 18-64 år",
		Goals: []domain.Goal{
			{Description: "Flere i job", SuccessCriterion: "40 beboere i job eller uddannelse"},
			{Description: "Samarbejde med jobcentret", SuccessCriterion: "Fast ugentlig træffetid"},
		},
		Budget: []domain.SourceAmount{{SourceID: "lbf", AmountØre: domain.Kroner(300_000)}, {SourceID: "viborg-kommune", AmountØre: domain.Kroner(100_000)}},
		Milestones: []domain.MilestonePlan{
			{Title: "Opstart", DueDate: domain.NewDate(2022, 3, 1), Tranche: []domain.SourceAmount{
				{SourceID: "lbf", AmountØre: domain.Kroner(150_000)}, {SourceID: "viborg-kommune", AmountØre: domain.Kroner(50_000)}}},
			{Title: "Midtvejs", DueDate: domain.NewDate(2023, 3, 1), Tranche: []domain.SourceAmount{
				{SourceID: "lbf", AmountØre: domain.Kroner(150_000)}, {SourceID: "viborg-kommune", AmountØre: domain.Kroner(50_000)}}},
		},
	}
}

// step is one update sent to the workflow. wantCode "" means it must succeed; otherwise it must be refused with
// that code. rejected says the refusal must come from the validator (nothing written to history).
type step struct {
	name      string
	update    string
	arg       any
	wantPhase domain.Phase
	wantCode  domain.Code
	rejected  bool
}

type outcome struct {
	rejected bool
	err      error
	result   workflows.UpdateResult
	sent     time.Time // test time when the update was sent
	at       time.Time // test time when the update completed
}

// run starts an initiative, sends the steps one simulated hour apart, queries the state after the last and, if
// the workflow is still open, cancels it. It returns the final state.
func run(t *testing.T, plan domain.Plan, fake *fakeStore, steps []step) domain.Initiative {
	t.Helper()
	return runWith(t, plan, fake, steps, nil)
}

// runWith is run, telling observe the outcome of each step once all have run.
func runWith(t *testing.T, plan domain.Plan, fake *fakeStore, steps []step, observe func(i int, o outcome)) domain.Initiative {
	t.Helper()
	return runStart(t, workflows.StartInput{InitiativeID: "i1", Plan: plan, Proposer: mette, Proposal: proposal()},
		fake, steps, observe)
}

// runStart is runWith from the given start.
func runStart(t *testing.T, start workflows.StartInput, fake *fakeStore, steps []step, observe func(i int, o outcome)) domain.Initiative {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	// Inside the plan period, months before the first milestone is due: no deadline comes near in these tests'
	// hours (the deadline tests say when it does).
	env.SetStartTime(planTime)
	env.RegisterWorkflow(workflows.Initiative)
	env.RegisterActivity(&activities.Activities{Store: fake})

	outcomes := make([]outcome, len(steps))
	for i, st := range steps {
		i, st := i, st
		env.RegisterDelayedCallback(func() {
			outcomes[i].sent = env.Now()
			env.UpdateWorkflow(st.update, fmt.Sprintf("u%d", i), &testsuite.TestUpdateCallback{
				OnReject: func(err error) { outcomes[i].rejected, outcomes[i].err = true, err },
				OnAccept: func() {},
				OnComplete: func(r any, err error) {
					outcomes[i].err = err
					outcomes[i].result, _ = r.(workflows.UpdateResult)
					outcomes[i].at = env.Now()
				},
			}, st.arg)
		}, time.Duration(i+1)*time.Hour)
	}
	var final domain.Initiative
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(workflows.QueryState)
		if err != nil {
			t.Errorf("query: %v", err)
			return
		}
		if err := v.Get(&final); err != nil {
			t.Errorf("query result: %v", err)
		}
		if !final.Phase.Terminal() {
			env.CancelWorkflow()
		}
	}, time.Duration(len(steps)+1)*time.Hour)

	env.ExecuteWorkflow(workflows.Initiative, start)
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not finish")
	}
	if final.ID == "" { // the workflow closed before the query: the read model holds the final state
		var res workflows.UpdateResult
		if err := env.GetWorkflowResult(&res); err != nil {
			t.Fatalf("workflow failed: %v", err)
		}
		if !res.Phase.Terminal() {
			t.Fatalf("workflow closed in phase %s", res.Phase)
		}
		final = fake.snapshot
	}

	for i, st := range steps {
		o := outcomes[i]
		if observe != nil {
			observe(i, o)
		}
		if st.wantCode == "" {
			if o.rejected || o.err != nil {
				t.Fatalf("step %d %s: got error %v (rejected=%v), want success", i, st.name, o.err, o.rejected)
			}
			if st.wantPhase != "" && o.result.Phase != st.wantPhase {
				t.Fatalf("step %d %s: phase %s, want %s", i, st.name, o.result.Phase, st.wantPhase)
			}
			continue
		}
		rule, ok := activities.AsRuleError(o.err)
		if !ok || rule.Code != st.wantCode {
			t.Fatalf("step %d %s: got %v, want refusal %s", i, st.name, o.err, st.wantCode)
		}
		if st.rejected && !o.rejected {
			t.Fatalf("step %d %s: refused in the handler, want the validator to reject it", i, st.name)
		}
		if rule.Message == "" {
			t.Fatalf("step %d %s: refusal has no message for the user", i, st.name)
		}
	}
	return final
}

func decide(a domain.Actor, o domain.Outcome, comment string) workflows.DecideInput {
	return workflows.DecideInput{Actor: a, Outcome: o, Comment: comment}
}

func confirm(no int, ref string) workflows.ConfirmPaymentInput {
	return workflows.ConfirmPaymentInput{Actor: peter, DisbursementID: domain.DisbursementID("i1", no), Reference: ref}
}

func report(no int, spent domain.Money) workflows.ReportMilestoneInput {
	return workflows.ReportMilestoneInput{Actor: mette, No: no, Summary: "Som planlagt", SpentØre: spent}
}

func accept(no int) workflows.AcceptMilestoneInput {
	return workflows.AcceptMilestoneInput{Actor: hanne, No: no}
}

func evaluation() workflows.SubmitEvaluationInput {
	return workflows.SubmitEvaluationInput{Actor: mette, Summary: "Målene er nået", Results: []domain.GoalResult{
		{GoalID: "g1", Achieved: true, Result: "43 beboere i job eller uddannelse"},
		{GoalID: "g2", Achieved: true, Result: "Træffetid hver tirsdag"},
	}}
}

// happyPath takes the initiative from approval to completion.
func happyPath() []step {
	return []step{
		{name: "approve", update: workflows.UpdateDecide, arg: decide(hanne, domain.OutcomeApprove, "Godkendt"), wantPhase: domain.PhaseFunding},
		{name: "pay_1", update: workflows.UpdateConfirmPayment, arg: confirm(1, "BANK-1"), wantPhase: domain.PhaseExecuting},
		{name: "report_1", update: workflows.UpdateReportMilestone, arg: report(1, domain.Kroner(180_000)), wantPhase: domain.PhaseExecuting},
		{name: "accept_1", update: workflows.UpdateAcceptMilestone, arg: accept(1), wantPhase: domain.PhaseFunding},
		{name: "pay_2", update: workflows.UpdateConfirmPayment, arg: confirm(2, "BANK-2"), wantPhase: domain.PhaseExecuting},
		{name: "report_2", update: workflows.UpdateReportMilestone, arg: report(2, domain.Kroner(210_000)), wantPhase: domain.PhaseExecuting},
		{name: "accept_2", update: workflows.UpdateAcceptMilestone, arg: accept(2), wantPhase: domain.PhaseEvaluation},
		{name: "evaluate", update: workflows.UpdateSubmitEvaluation, arg: evaluation(), wantPhase: domain.PhaseEvaluation},
		{name: "accept_evaluation", update: workflows.UpdateAcceptEvaluation, arg: workflows.AcceptEvaluationInput{Actor: hanne}, wantPhase: domain.PhaseCompleted},
	}
}

func TestLifecycleFromProposalToCompleted(t *testing.T) {
	fake := newFakeStore(viborg(t))
	final := run(t, viborg(t), fake, happyPath())

	if final.Phase != domain.PhaseCompleted {
		t.Fatalf("phase = %s, want completed", final.Phase)
	}
	wantEvents := []string{workflows.EventSubmitted, workflows.EventApproved, workflows.EventTrancheReleased,
		workflows.EventPaymentConfirmed, workflows.EventMilestoneReported, workflows.EventMilestoneAccepted,
		workflows.EventTrancheReleased, workflows.EventPaymentConfirmed, workflows.EventMilestoneReported,
		workflows.EventMilestoneAccepted, workflows.EventEvaluationSent, workflows.EventEvaluationOK}
	var got []string
	for seq := int64(1); seq <= int64(len(fake.events)); seq++ {
		e, ok := fake.events[seq]
		if !ok {
			t.Fatalf("event log has a gap at seq %d", seq)
		}
		got = append(got, e.Type)
	}
	if diff := cmp.Diff(wantEvents, got); diff != "" {
		t.Errorf("event log (-want +got):\n%s", diff)
	}
	if fake.snapshot.Version != int64(len(wantEvents)) || fake.snapshot.Phase != domain.PhaseCompleted {
		t.Errorf("read model at version %d phase %s, want %d completed", fake.snapshot.Version, fake.snapshot.Phase, len(wantEvents))
	}
	wantReserved := map[string]domain.Money{"lbf": domain.Kroner(300_000), "viborg-kommune": domain.Kroner(100_000)}
	if diff := cmp.Diff(wantReserved, fake.reserved); diff != "" {
		t.Errorf("reserved (-want +got):\n%s", diff)
	}
	wantPaid := map[string]string{domain.DisbursementID("i1", 1): "BANK-1", domain.DisbursementID("i1", 2): "BANK-2"}
	if diff := cmp.Diff(wantPaid, fake.payments); diff != "" {
		t.Errorf("payments (-want +got):\n%s", diff)
	}
	if final.PaidTotal() != domain.Kroner(400_000) || final.SpentTotal() != domain.Kroner(390_000) {
		t.Errorf("paid %s spent %s", final.PaidTotal(), final.SpentTotal())
	}
	if final.Evaluation == nil || final.Evaluation.AcceptedBy == nil || final.Evaluation.AcceptedBy.UserID != hanne.UserID {
		t.Errorf("evaluation not accepted by the board: %+v", final.Evaluation)
	}
}

func TestRefusedActionsLeaveTheWorkflowRunning(t *testing.T) {
	approve := step{name: "approve", update: workflows.UpdateDecide, arg: decide(hanne, domain.OutcomeApprove, "")}
	pay1 := step{name: "pay_1", update: workflows.UpdateConfirmPayment, arg: confirm(1, "BANK-1")}
	report1 := step{name: "report_1", update: workflows.UpdateReportMilestone, arg: report(1, domain.Kroner(10))}
	tests := []struct {
		name   string
		before []step
		bad    step
		// after is a valid action that must still work, proving the refusal did not wedge the workflow.
		after step
	}{
		{name: "decision_by_operational_group_forbidden",
			bad: step{update: workflows.UpdateDecide, arg: decide(mette, domain.OutcomeApprove, ""), wantCode: domain.CodeForbidden}, after: approve},
		{name: "reject_without_comment_validation_failed",
			bad: step{update: workflows.UpdateDecide, arg: decide(hanne, domain.OutcomeReject, " "), wantCode: domain.CodeValidation}, after: approve},
		{name: "unknown_outcome_validation_failed",
			bad: step{update: workflows.UpdateDecide, arg: decide(hanne, "maybe", "hmm"), wantCode: domain.CodeValidation}, after: approve},
		{name: "report_before_approval_wrong_phase",
			bad: step{update: workflows.UpdateReportMilestone, arg: report(1, 0), wantCode: domain.CodeWrongPhase}, after: approve},
		{name: "resubmit_without_request_wrong_phase",
			bad: step{update: workflows.UpdateResubmit, arg: workflows.ResubmitInput{Actor: mette, Proposal: proposal()}, wantCode: domain.CodeWrongPhase}, after: approve},
		{name: "withdraw_by_other_member_forbidden",
			bad: step{update: workflows.UpdateWithdraw, arg: workflows.WithdrawInput{Actor: ahmed}, wantCode: domain.CodeForbidden}, after: approve},
		{name: "approve_twice_wrong_phase", before: []step{approve},
			bad: step{update: workflows.UpdateDecide, arg: decide(lars, domain.OutcomeApprove, ""), wantCode: domain.CodeWrongPhase}, after: pay1},
		{name: "withdraw_after_approval_wrong_phase", before: []step{approve},
			bad: step{update: workflows.UpdateWithdraw, arg: workflows.WithdrawInput{Actor: mette}, wantCode: domain.CodeWrongPhase}, after: pay1},
		{name: "confirm_by_board_forbidden", before: []step{approve},
			bad: step{update: workflows.UpdateConfirmPayment, arg: workflows.ConfirmPaymentInput{Actor: hanne, DisbursementID: domain.DisbursementID("i1", 1), Reference: "X"}, wantCode: domain.CodeForbidden}, after: pay1},
		{name: "confirm_unreleased_tranche_not_found", before: []step{approve},
			bad: step{update: workflows.UpdateConfirmPayment, arg: confirm(2, "BANK-2"), wantCode: domain.CodeNotFound}, after: pay1},
		{name: "confirm_without_reference_validation_failed", before: []step{approve},
			bad: step{update: workflows.UpdateConfirmPayment, arg: confirm(1, ""), wantCode: domain.CodeValidation}, after: pay1},
		{name: "report_while_tranche_unpaid_wrong_phase", before: []step{approve},
			bad: step{update: workflows.UpdateReportMilestone, arg: report(1, 0), wantCode: domain.CodeWrongPhase}, after: pay1},
		{name: "confirm_again_with_other_reference_already_paid", before: []step{approve, pay1},
			bad: step{update: workflows.UpdateConfirmPayment, arg: confirm(1, "BANK-OTHER"), wantCode: domain.CodeAlreadyPaid}, after: report1},
		{name: "report_unknown_milestone", before: []step{approve, pay1},
			bad: step{update: workflows.UpdateReportMilestone, arg: report(7, 0), wantCode: domain.CodeUnknownMilestone}, after: report1},
		{name: "report_second_milestone_first_unknown_milestone", before: []step{approve, pay1},
			bad: step{update: workflows.UpdateReportMilestone, arg: report(2, 0), wantCode: domain.CodeUnknownMilestone}, after: report1},
		{name: "report_spending_more_than_paid_validation_failed", before: []step{approve, pay1},
			bad: step{update: workflows.UpdateReportMilestone, arg: report(1, domain.Kroner(200_001)), wantCode: domain.CodeValidation}, after: report1},
		{name: "report_negative_spending_validation_failed", before: []step{approve, pay1},
			bad: step{update: workflows.UpdateReportMilestone, arg: report(1, -1), wantCode: domain.CodeValidation}, after: report1},
		{name: "accept_unreported_milestone_conflict", before: []step{approve, pay1},
			bad: step{update: workflows.UpdateAcceptMilestone, arg: accept(1), wantCode: domain.CodeConflict}, after: report1},
		{name: "accept_milestone_by_operational_group_forbidden", before: []step{approve, pay1, report1},
			bad: step{update: workflows.UpdateAcceptMilestone, arg: workflows.AcceptMilestoneInput{Actor: mette, No: 1}, wantCode: domain.CodeForbidden}, after: step{update: workflows.UpdateAcceptMilestone, arg: accept(1)}},
		{name: "evaluation_during_execution_wrong_phase", before: []step{approve, pay1},
			bad: step{update: workflows.UpdateSubmitEvaluation, arg: evaluation(), wantCode: domain.CodeWrongPhase}, after: report1},
		{name: "accept_evaluation_during_execution_wrong_phase", before: []step{approve, pay1},
			bad: step{update: workflows.UpdateAcceptEvaluation, arg: workflows.AcceptEvaluationInput{Actor: hanne}, wantCode: domain.CodeWrongPhase}, after: report1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.bad.name, tc.bad.rejected = "bad", true
			steps := append(append(append([]step{}, tc.before...), tc.bad), tc.after)
			fake := newFakeStore(viborg(t))
			run(t, viborg(t), fake, steps)
			// A refused action writes nothing: one event per successful step plus the submission (and a release
			// for an approval or an accepted non-final milestone).
			for seq := int64(1); seq <= int64(len(fake.events)); seq++ {
				if _, ok := fake.events[seq]; !ok {
					t.Fatalf("event log has a gap at %d", seq)
				}
			}
		})
	}
}

func TestEvaluationRefusals(t *testing.T) {
	missingGoal := evaluation()
	missingGoal.Results = missingGoal.Results[:1]
	unknownGoal := evaluation()
	unknownGoal.Results = append(unknownGoal.Results, domain.GoalResult{GoalID: "g9", Result: "?"})
	steps := append(happyPath()[:7],
		step{name: "missing_goal", update: workflows.UpdateSubmitEvaluation, arg: missingGoal, wantCode: domain.CodeValidation, rejected: true},
		step{name: "unknown_goal", update: workflows.UpdateSubmitEvaluation, arg: unknownGoal, wantCode: domain.CodeValidation, rejected: true},
		step{name: "accept_before_submit", update: workflows.UpdateAcceptEvaluation, arg: workflows.AcceptEvaluationInput{Actor: hanne}, wantCode: domain.CodeConflict, rejected: true},
		step{name: "submit", update: workflows.UpdateSubmitEvaluation, arg: evaluation()},
		step{name: "submit_twice", update: workflows.UpdateSubmitEvaluation, arg: evaluation(), wantCode: domain.CodeConflict, rejected: true},
		step{name: "accept", update: workflows.UpdateAcceptEvaluation, arg: workflows.AcceptEvaluationInput{Actor: hanne}, wantPhase: domain.PhaseCompleted},
	)
	if final := run(t, viborg(t), newFakeStore(viborg(t)), steps); final.Phase != domain.PhaseCompleted {
		t.Fatalf("phase %s, want completed", final.Phase)
	}
}

func TestChangesRequestedThenResubmittedThenApproved(t *testing.T) {
	revised := proposal()
	revised.Title = "Jobbro Vestervang og Ringparken"
	bad := proposal()
	bad.Milestones[0].DueDate = domain.NewDate(2027, 1, 1)
	fake := newFakeStore(viborg(t))
	final := run(t, viborg(t), fake, []step{
		{name: "request_changes", update: workflows.UpdateDecide, arg: decide(hanne, domain.OutcomeRequestChanges, "Uddyb målgruppen"), wantPhase: domain.PhaseChangesRequested},
		{name: "resubmit_outside_period", update: workflows.UpdateResubmit, arg: workflows.ResubmitInput{Actor: mette, Proposal: bad}, wantCode: domain.CodeValidation, rejected: true},
		{name: "resubmit", update: workflows.UpdateResubmit, arg: workflows.ResubmitInput{Actor: mette, Proposal: revised, Comment: "Målgruppe uddybet"}, wantPhase: domain.PhaseBoardReview},
		{name: "approve", update: workflows.UpdateDecide, arg: decide(hanne, domain.OutcomeApprove, ""), wantPhase: domain.PhaseFunding},
	})
	if final.Revision != 2 || final.Proposal.Title != revised.Title {
		t.Errorf("revision %d title %q, want 2 and the revised title", final.Revision, final.Proposal.Title)
	}
	if len(final.Decisions) != 2 || final.Decisions[0].Outcome != domain.OutcomeRequestChanges || final.Decisions[1].Revision != 2 {
		t.Errorf("decisions = %+v", final.Decisions)
	}
	if len(fake.releases) != 1 {
		t.Errorf("releases = %d, want 1", len(fake.releases))
	}
}

func TestWithdrawnAfterChangesWereRequested(t *testing.T) {
	fake := newFakeStore(viborg(t))
	final := run(t, viborg(t), fake, []step{
		{name: "request_changes", update: workflows.UpdateDecide, arg: decide(hanne, domain.OutcomeRequestChanges, "For dyrt"), wantPhase: domain.PhaseChangesRequested},
		{name: "resubmit_by_board", update: workflows.UpdateResubmit, arg: workflows.ResubmitInput{Actor: hanne, Proposal: proposal()}, wantCode: domain.CodeForbidden, rejected: true},
		{name: "decide_while_changes_requested", update: workflows.UpdateDecide, arg: decide(lars, domain.OutcomeApprove, ""), wantCode: domain.CodeWrongPhase, rejected: true},
		{name: "withdraw", update: workflows.UpdateWithdraw, arg: workflows.WithdrawInput{Actor: mette, Reason: "Droppet"}, wantPhase: domain.PhaseWithdrawn},
	})
	if final.Phase != domain.PhaseWithdrawn || final.WithdrawnReason != "Droppet" || len(fake.reserved) != 0 {
		t.Fatalf("final %s reason %q reserved %v", final.Phase, final.WithdrawnReason, fake.reserved)
	}
}

func TestRejectionAndWithdrawalCloseTheWorkflow(t *testing.T) {
	for name, st := range map[string]step{
		"rejected":  {update: workflows.UpdateDecide, arg: decide(hanne, domain.OutcomeReject, "Ligger uden for delaftalen"), wantPhase: domain.PhaseRejected},
		"withdrawn": {update: workflows.UpdateWithdraw, arg: workflows.WithdrawInput{Actor: mette, Reason: "Dækket af kommunen"}, wantPhase: domain.PhaseWithdrawn},
	} {
		t.Run(name, func(t *testing.T) {
			fake := newFakeStore(viborg(t))
			final := run(t, viborg(t), fake, []step{st})
			if final.Phase != st.wantPhase || len(fake.reserved) != 0 {
				t.Fatalf("phase %s reserved %v", final.Phase, fake.reserved)
			}
		})
	}
}

func TestApprovalWithoutMoneyIsRefusedAndNothingReleased(t *testing.T) {
	fake := newFakeStore(viborg(t))
	fake.reserveErr = domain.Refuse(domain.CodeInsufficientFunds, "Landsbyggefonden har kun 0,00 kr. tilbage")
	final := run(t, viborg(t), fake, []step{
		{name: "approve", update: workflows.UpdateDecide, arg: decide(hanne, domain.OutcomeApprove, ""), wantCode: domain.CodeInsufficientFunds},
		{name: "reject", update: workflows.UpdateDecide, arg: decide(hanne, domain.OutcomeReject, "Ingen midler"), wantPhase: domain.PhaseRejected},
	})
	if final.Phase != domain.PhaseRejected || len(fake.releases) != 0 || len(final.Decisions) != 1 {
		t.Fatalf("phase %s releases %d decisions %d", final.Phase, len(fake.releases), len(final.Decisions))
	}
}

func TestSameConfirmationTwiceIsOnePayment(t *testing.T) {
	fake := newFakeStore(viborg(t))
	steps := happyPath()[:2]
	steps = append(steps, step{name: "pay_1_again", update: workflows.UpdateConfirmPayment, arg: confirm(1, "BANK-1"), wantPhase: domain.PhaseExecuting})
	final := run(t, viborg(t), fake, steps)
	var payments int
	for _, e := range fake.events {
		if e.Type == workflows.EventPaymentConfirmed {
			payments++
		}
	}
	if payments != 1 || final.Milestones[0].PaymentReference != "BANK-1" {
		t.Fatalf("payment events %d, reference %q", payments, final.Milestones[0].PaymentReference)
	}
}

func TestQuorumOfTwoNeedsTwoBallots(t *testing.T) {
	plan := viborg(t)
	plan.Settings.BoardQuorum = 2
	fake := newFakeStore(plan)
	final := run(t, plan, fake, []step{
		{name: "first_ballot", update: workflows.UpdateDecide, arg: decide(hanne, domain.OutcomeApprove, ""), wantPhase: domain.PhaseBoardReview},
		{name: "same_member_again", update: workflows.UpdateDecide, arg: decide(hanne, domain.OutcomeApprove, ""), wantCode: domain.CodeConflict, rejected: true},
		{name: "second_ballot", update: workflows.UpdateDecide, arg: decide(lars, domain.OutcomeApprove, ""), wantPhase: domain.PhaseFunding},
	})
	if len(final.Decisions) != 1 || len(final.Decisions[0].Ballots) != 2 || len(final.Ballots) != 0 {
		t.Fatalf("decisions %+v ballots %+v", final.Decisions, final.Ballots)
	}
}

func TestTransientDatabaseErrorsAreRetriedWithoutDuplicates(t *testing.T) {
	fake := newFakeStore(viborg(t))
	fake.down = 3
	final := run(t, viborg(t), fake, happyPath())
	if final.Phase != domain.PhaseCompleted || len(fake.events) != 12 {
		t.Fatalf("phase %s events %d, want completed and 12", final.Phase, len(fake.events))
	}
	fake.writtenOnce(t)
}

// The database is down for longer than ten minutes while the board approves: the approval's step is retried, with
// backoff, until PostgreSQL is back; then the update completes, the workflow goes on to completion, and nothing
// is written twice.
func TestApprovalWaitsOutATenMinuteOutage(t *testing.T) {
	fake := newFakeStore(viborg(t))
	fake.down, fake.failStep = 20, workflows.EventApproved
	var waited time.Duration
	final := runWith(t, viborg(t), fake, happyPath(), func(i int, o outcome) {
		if i == 0 {
			waited = o.at.Sub(o.sent)
		}
	})
	if final.Phase != domain.PhaseCompleted {
		t.Fatalf("phase %s, want completed", final.Phase)
	}
	t.Logf("the approval completed %s (test time) after it was sent, after %d attempts", waited, fake.attempts)
	if waited < 10*time.Minute {
		t.Fatalf("approval completed %s after it was sent, want after the outage of more than 10 minutes", waited)
	}
	if fake.down != 0 {
		t.Fatalf("%d failures left; the outage did not run its course", fake.down)
	}
	fake.writtenOnce(t)
}

// Every step commits and then loses its answer (the connection breaks after COMMIT): each is retried, finds its
// own rows, and the lifecycle completes with every event, reservation, release and payment written once.
func TestLostAnswersAfterCommitAreNotRepeated(t *testing.T) {
	fake := newFakeStore(viborg(t))
	fake.loseAnswers = 100
	final := run(t, viborg(t), fake, happyPath())
	if final.Phase != domain.PhaseCompleted || len(fake.events) != 12 {
		t.Fatalf("phase %s events %d, want completed and 12", final.Phase, len(fake.events))
	}
	// One lost answer per step that writes: the submission and the nine updates of the happy path.
	if lost := 100 - fake.loseAnswers; lost != 10 {
		t.Fatalf("answers lost: %d, want 10", lost)
	}
	fake.writtenOnce(t)
}

// A step commits, the worker dies before the workflow task completes, and the next worker runs the update again
// at a later time: the rerun finds the step with the first attempt's times, and the workflow adopts what was
// stored rather than its own recomputation, so the workflow and the read model agree to the byte.
func TestRerunAfterACrashAdoptsWhatTheFirstAttemptStored(t *testing.T) {
	fake := newFakeStore(viborg(t))
	fake.loseAnswers, fake.shiftLost = 100, time.Minute
	final := run(t, viborg(t), fake, happyPath())
	if final.Phase != domain.PhaseCompleted {
		t.Fatalf("phase %s, want completed", final.Phase)
	}
	if !sameJSON(final, fake.snapshot) {
		t.Fatalf("the workflow's state and the read model differ:\nworkflow %+v\nstored   %+v", final, fake.snapshot)
	}
	fake.writtenOnce(t)
}
