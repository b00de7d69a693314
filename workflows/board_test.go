package workflows_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/helhedsplan/helhedsplan/activities"
	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/workflows"
)

var (
	sofie = domain.Actor{UserID: "bs-sofie", Name: "Sofie Lund", Role: domain.RoleBoard}
	karen = domain.Actor{UserID: "adm-karen", Name: "Karen Iversen", Role: domain.RoleAdmin}
)

// boardPlan is the Viborg plan with its board of three: Hanne chairs, milestone reports are the chair's alone.
func boardPlan(t *testing.T) domain.Plan {
	p := viborg(t)
	p.Board = &domain.Board{Version: 1, Members: []string{"bs-hanne", "bs-lars", "bs-sofie"}, Chair: "bs-hanne"}
	return p
}

func vote(a domain.Actor, o domain.Outcome, comment string) workflows.DecideInput {
	return workflows.DecideInput{Actor: a, Outcome: o, Comment: comment}
}

func voteOn(kind domain.MatterKind, no int, a domain.Actor, o domain.Outcome, comment string) workflows.DecideInput {
	return workflows.DecideInput{Actor: a, Outcome: o, Comment: comment, Matter: kind, No: no}
}

func lastDecision(t *testing.T, in domain.Initiative) domain.Decision {
	t.Helper()
	if len(in.Decisions) == 0 {
		t.Fatal("no decision recorded")
	}
	return in.Decisions[len(in.Decisions)-1]
}

func eventTypes(f *fakeStore) []string {
	var out []string
	for seq := int64(1); seq <= int64(len(f.events)); seq++ {
		out = append(out, f.events[seq].Type)
	}
	return out
}

func TestBoardOfThreeDecidesByMajorityAsSoonAsItIsSettled(t *testing.T) {
	plan := boardPlan(t)
	fake := newFakeStore(plan)
	final := run(t, plan, fake, []step{
		{name: "lars approves", update: workflows.UpdateDecide, arg: vote(lars, domain.OutcomeApprove, ""), wantPhase: domain.PhaseBoardReview},
		{name: "lars again", update: workflows.UpdateDecide, arg: vote(lars, domain.OutcomeApprove, ""), wantCode: domain.CodeConflict, rejected: true},
		{name: "a non-member", update: workflows.UpdateDecide, arg: vote(domain.Actor{UserID: "bs-x", Name: "X", Role: domain.RoleBoard}, domain.OutcomeApprove, ""), wantCode: domain.CodeForbidden, rejected: true},
		{name: "sofie approves", update: workflows.UpdateDecide, arg: vote(sofie, domain.OutcomeApprove, ""), wantPhase: domain.PhaseFunding},
		{name: "hanne too late", update: workflows.UpdateDecide, arg: vote(hanne, domain.OutcomeReject, "Nej"), wantCode: domain.CodeWrongPhase, rejected: true},
	})
	d := lastDecision(t, final)
	if d.Outcome != domain.OutcomeApprove || d.Tally == nil || d.Tally.Counts[domain.OutcomeApprove] != 2 ||
		!d.Tally.Early || d.Tally.Basis != domain.BasisMajority || d.Tally.Entitled != 3 || len(d.Ballots) != 2 {
		t.Fatalf("decision = %+v tally %+v, want approved early by 2 of 3", d, d.Tally)
	}
	want := []string{workflows.EventSubmitted, workflows.EventBallotCast, workflows.EventApproved, workflows.EventTrancheReleased}
	if got := eventTypes(fake); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if len(final.Ballots) != 0 {
		t.Fatalf("open ballots after the decision: %+v", final.Ballots)
	}
}

func TestRecusedMemberIsExcludedAndTheChairBreaksATie(t *testing.T) {
	plan := boardPlan(t)
	fake := newFakeStore(plan)
	final := run(t, plan, fake, []step{
		{name: "sofie votes", update: workflows.UpdateDecide, arg: vote(sofie, domain.OutcomeReject, "For dyrt")},
		{name: "sofie declares a conflict", update: workflows.UpdateDeclareConflict, arg: workflows.DeclareConflictInput{Actor: sofie, Reason: "Min mand leder projektet"}},
		{name: "sofie again", update: workflows.UpdateDeclareConflict, arg: workflows.DeclareConflictInput{Actor: sofie, Reason: "igen"}, wantCode: domain.CodeConflict, rejected: true},
		{name: "sofie cannot vote", update: workflows.UpdateDecide, arg: vote(sofie, domain.OutcomeApprove, ""), wantCode: domain.CodeForbidden, rejected: true},
		{name: "lars rejects", update: workflows.UpdateDecide, arg: vote(lars, domain.OutcomeReject, "Ikke nu"), wantPhase: domain.PhaseBoardReview},
		{name: "hanne approves: tie, chair decides", update: workflows.UpdateDecide, arg: vote(hanne, domain.OutcomeApprove, ""), wantPhase: domain.PhaseFunding},
	})
	d := lastDecision(t, final)
	if d.Tally.Basis != domain.BasisChairCastingVote || d.Tally.Entitled != 2 || !slices.Equal(d.Tally.Recused, []string{"bs-sofie"}) {
		t.Fatalf("tally %+v, want a tie of 2 entitled broken by the chair, sofie recused", d.Tally)
	}
	for _, b := range d.Ballots {
		if b.Actor.UserID == "bs-sofie" {
			t.Fatalf("sofie's vote from before her conflict counted: %+v", d.Ballots)
		}
	}
	if len(final.Conflicts) != 1 || final.Conflicts[0].UserID != "bs-sofie" {
		t.Fatalf("conflicts %+v", final.Conflicts)
	}
}

func TestAProposerOnTheBoardCannotVote(t *testing.T) {
	plan := boardPlan(t)
	fake := newFakeStore(plan)
	start := workflows.StartInput{InitiativeID: "i1", Plan: plan, Proposal: proposal(),
		Proposer: domain.Actor{UserID: "bs-lars", Name: "Lars Bach", Role: domain.RoleOperationalGroup}}
	final := runStart(t, start, fake, []step{
		{name: "lars, the proposer", update: workflows.UpdateDecide, arg: vote(lars, domain.OutcomeApprove, ""), wantCode: domain.CodeForbidden, rejected: true},
		{name: "hanne asks for changes", update: workflows.UpdateDecide, arg: vote(hanne, domain.OutcomeRequestChanges, "Skarpere mål"), wantPhase: domain.PhaseBoardReview},
		{name: "sofie asks for changes", update: workflows.UpdateDecide, arg: vote(sofie, domain.OutcomeRequestChanges, "Enig"), wantPhase: domain.PhaseChangesRequested},
	}, nil)
	d := lastDecision(t, final)
	if d.Outcome != domain.OutcomeRequestChanges || d.Tally.Entitled != 2 || !slices.Equal(d.Tally.Recused, []string{"bs-lars"}) {
		t.Fatalf("decision %+v tally %+v", d, d.Tally)
	}
}

func TestVotesNeedACommentUnlessApproving(t *testing.T) {
	plan := boardPlan(t)
	run(t, plan, newFakeStore(plan), []step{
		{name: "reject without why", update: workflows.UpdateDecide, arg: vote(lars, domain.OutcomeReject, " "), wantCode: domain.CodeValidation, rejected: true},
		{name: "finance cannot vote", update: workflows.UpdateDecide, arg: vote(peter, domain.OutcomeApprove, ""), wantCode: domain.CodeForbidden, rejected: true},
	})
}

// approvedAndPaid takes the initiative to milestone 1 reported, by the board of three.
func approvedAndReported() []step {
	return []step{
		{name: "lars", update: workflows.UpdateDecide, arg: vote(lars, domain.OutcomeApprove, "")},
		{name: "sofie", update: workflows.UpdateDecide, arg: vote(sofie, domain.OutcomeApprove, ""), wantPhase: domain.PhaseFunding},
		{name: "pay_1", update: workflows.UpdateConfirmPayment, arg: confirm(1, "BANK-1"), wantPhase: domain.PhaseExecuting},
		{name: "report_1", update: workflows.UpdateReportMilestone, arg: report(1, domain.Kroner(150_000))},
	}
}

func TestTheChairAloneAcceptsOrSendsBackMilestoneReports(t *testing.T) {
	plan := boardPlan(t)
	fake := newFakeStore(plan)
	steps := append(approvedAndReported(),
		step{name: "lars may not", update: workflows.UpdateDecide, arg: voteOn(domain.MatterMilestone, 1, lars, domain.OutcomeApprove, ""), wantCode: domain.CodeForbidden, rejected: true},
		step{name: "reject is not for reports", update: workflows.UpdateDecide, arg: voteOn(domain.MatterMilestone, 1, hanne, domain.OutcomeReject, "nej"), wantCode: domain.CodeValidation, rejected: true},
		step{name: "hanne sends it back", update: workflows.UpdateDecide, arg: voteOn(domain.MatterMilestone, 1, hanne, domain.OutcomeRequestChanges, "Mangler tal for deltagere"), wantPhase: domain.PhaseExecuting},
		step{name: "accept with no report", update: workflows.UpdateDecide, arg: voteOn(domain.MatterMilestone, 1, hanne, domain.OutcomeApprove, ""), wantCode: domain.CodeConflict, rejected: true},
		step{name: "report again", update: workflows.UpdateReportMilestone, arg: report(1, domain.Kroner(160_000))},
		step{name: "hanne accepts", update: workflows.UpdateDecide, arg: voteOn(domain.MatterMilestone, 1, hanne, domain.OutcomeApprove, ""), wantPhase: domain.PhaseFunding},
	)
	final := run(t, plan, fake, steps)
	m, _ := final.Milestone(1)
	if m.AcceptedAt == nil || m.Report == nil || m.Report.SpentØre != domain.Kroner(160_000) || len(m.Returned) != 1 ||
		m.Returned[0].Comment != "Mangler tal for deltagere" || m.Returned[0].SpentØre != domain.Kroner(150_000) {
		t.Fatalf("milestone 1 = %+v", m)
	}
	d := lastDecision(t, final)
	if d.Matter != "milestone/1/2" || !d.Tally.ChairAlone {
		t.Fatalf("decision %+v", d)
	}
	if m2, _ := final.Milestone(2); m2.TrancheStatus != domain.TrancheReleased {
		t.Fatalf("tranche 2 is %s, want released with the acceptance", m2.TrancheStatus)
	}
}

func TestTheBoardVotesOnTheEvaluationAndCanSendItBack(t *testing.T) {
	plan := boardPlan(t)
	fake := newFakeStore(plan)
	steps := append(approvedAndReported(),
		step{name: "accept_1", update: workflows.UpdateDecide, arg: voteOn(domain.MatterMilestone, 1, hanne, domain.OutcomeApprove, "")},
		step{name: "pay_2", update: workflows.UpdateConfirmPayment, arg: confirm(2, "BANK-2")},
		step{name: "report_2", update: workflows.UpdateReportMilestone, arg: report(2, domain.Kroner(250_000))},
		step{name: "accept_2", update: workflows.UpdateDecide, arg: voteOn(domain.MatterMilestone, 2, hanne, domain.OutcomeApprove, ""), wantPhase: domain.PhaseEvaluation},
		step{name: "evaluate", update: workflows.UpdateSubmitEvaluation, arg: evaluation()},
		step{name: "lars: back", update: workflows.UpdateDecide, arg: voteOn(domain.MatterEvaluation, 0, lars, domain.OutcomeRequestChanges, "Mål 2 er ikke belyst")},
		step{name: "sofie: back", update: workflows.UpdateDecide, arg: voteOn(domain.MatterEvaluation, 0, sofie, domain.OutcomeRequestChanges, "Enig"), wantPhase: domain.PhaseEvaluation},
		step{name: "evaluate again", update: workflows.UpdateSubmitEvaluation, arg: evaluation()},
		step{name: "hanne", update: workflows.UpdateDecide, arg: voteOn(domain.MatterEvaluation, 0, hanne, domain.OutcomeApprove, "")},
		step{name: "sofie", update: workflows.UpdateDecide, arg: voteOn(domain.MatterEvaluation, 0, sofie, domain.OutcomeApprove, ""), wantPhase: domain.PhaseCompleted},
	)
	final := run(t, plan, fake, steps)
	if final.Phase != domain.PhaseCompleted || len(final.EvaluationsReturned) != 1 || final.Evaluation.AcceptedAt == nil {
		t.Fatalf("final %s, returned %d", final.Phase, len(final.EvaluationsReturned))
	}
	if d := lastDecision(t, final); d.Matter != "evaluation/2" || d.Tally.Counts[domain.OutcomeApprove] != 2 {
		t.Fatalf("decision %+v", d)
	}
}

func TestAMeetingDecidesWithTheMembersPresent(t *testing.T) {
	plan := boardPlan(t)
	fake := newFakeStore(plan)
	meeting := func(a domain.Actor, present []string, votes ...workflows.MeetingVote) workflows.MeetingDecisionInput {
		return workflows.MeetingDecisionInput{Actor: a, MeetingID: "m-2021-06", Present: present, Votes: votes}
	}
	yes := func(id string) workflows.MeetingVote {
		return workflows.MeetingVote{MemberID: id, Outcome: domain.OutcomeApprove}
	}
	final := run(t, plan, fake, []step{
		{name: "lars is not chair", update: workflows.UpdateMeetingDecision, arg: meeting(lars, []string{"bs-lars", "bs-sofie"}, yes("bs-lars"), yes("bs-sofie")), wantCode: domain.CodeForbidden, rejected: true},
		{name: "one of three is no quorum", update: workflows.UpdateMeetingDecision, arg: meeting(hanne, []string{"bs-hanne"}, yes("bs-hanne")), wantCode: domain.CodeConflict, rejected: true},
		{name: "a vote from someone absent", update: workflows.UpdateMeetingDecision, arg: meeting(hanne, []string{"bs-hanne"}, yes("bs-hanne"), yes("bs-lars")), wantCode: domain.CodeValidation, rejected: true},
		{name: "admin records two of three", update: workflows.UpdateMeetingDecision, arg: meeting(karen, []string{"bs-hanne", "bs-lars"}, yes("bs-hanne"), yes("bs-lars")), wantPhase: domain.PhaseFunding},
	})
	d := lastDecision(t, final)
	if d.Tally.MeetingID != "m-2021-06" || !slices.Equal(d.Tally.Present, []string{"bs-hanne", "bs-lars"}) || d.Tally.Voted != 2 || d.Tally.Early {
		t.Fatalf("tally %+v", d.Tally)
	}
	if e := fake.events[2]; e.Type != workflows.EventApproved || e.ActorID != "adm-karen" {
		t.Fatalf("event 2 = %s by %s, want approved recorded by the admin", e.Type, e.ActorID)
	}
}

func TestCancellationWithdrawsTheUnpaidTrancheAndReturnsTheMoney(t *testing.T) {
	plan := boardPlan(t)
	fake := newFakeStore(plan)
	steps := append(approvedAndReported(),
		step{name: "accept_1 releases tranche 2", update: workflows.UpdateDecide, arg: voteOn(domain.MatterMilestone, 1, hanne, domain.OutcomeApprove, ""), wantPhase: domain.PhaseFunding},
		step{name: "finance cannot propose", update: workflows.UpdateProposeCancel, arg: workflows.ProposeCancelInput{Actor: peter, Reason: "x"}, wantCode: domain.CodeForbidden, rejected: true},
		step{name: "admin proposes", update: workflows.UpdateProposeCancel, arg: workflows.ProposeCancelInput{Actor: karen, Reason: "Lokalerne er revet ned"}},
		step{name: "twice", update: workflows.UpdateProposeCancel, arg: workflows.ProposeCancelInput{Actor: hanne, Reason: "igen"}, wantCode: domain.CodeConflict, rejected: true},
		step{name: "lars", update: workflows.UpdateDecide, arg: voteOn(domain.MatterCancellation, 0, lars, domain.OutcomeApprove, "")},
		step{name: "sofie", update: workflows.UpdateDecide, arg: voteOn(domain.MatterCancellation, 0, sofie, domain.OutcomeApprove, ""), wantPhase: domain.PhaseCancelled},
	)
	final := run(t, plan, fake, steps)
	if final.Phase != domain.PhaseCancelled || final.Cancellation == nil || !final.Cancellation.Decided {
		t.Fatalf("final %s cancellation %+v", final.Phase, final.Cancellation)
	}
	if len(fake.cancels) != 1 {
		t.Fatalf("%d cancel steps written, want 1", len(fake.cancels))
	}
	c := fake.cancels[0]
	wantBack := []domain.SourceAmount{{SourceID: "lbf", AmountØre: domain.Kroner(150_000)}, {SourceID: "viborg-kommune", AmountØre: domain.Kroner(50_000)}}
	if len(c.Withdraw) != 1 || c.Withdraw[0].DisbursementID != domain.DisbursementID("i1", 2) || !slices.Equal(c.Unreserve, wantBack) {
		t.Fatalf("cancel step %+v, want tranche 2 withdrawn and %v given back", c, wantBack)
	}
	m2, _ := final.Milestone(2)
	if m2.TrancheStatus != domain.TrancheWithdrawn {
		t.Fatalf("tranche 2 is %s", m2.TrancheStatus)
	}
	finance := false
	for _, n := range fake.notes {
		finance = finance || slices.Contains(n.Audience.Roles, domain.RoleFinance)
	}
	if !finance {
		t.Fatalf("finance was not told the tranche was withdrawn: %+v", fake.notes)
	}
	fake.writtenOnce(t)
}

func TestTheBoardCanVoteNotToCancel(t *testing.T) {
	plan := boardPlan(t)
	final := run(t, plan, newFakeStore(plan), []step{
		{name: "lars", update: workflows.UpdateDecide, arg: vote(lars, domain.OutcomeApprove, "")},
		{name: "sofie", update: workflows.UpdateDecide, arg: vote(sofie, domain.OutcomeApprove, "")},
		{name: "hanne proposes", update: workflows.UpdateProposeCancel, arg: workflows.ProposeCancelInput{Actor: hanne, Reason: "Usikker økonomi"}},
		{name: "lars no", update: workflows.UpdateDecide, arg: voteOn(domain.MatterCancellation, 0, lars, domain.OutcomeReject, "Fortsæt")},
		{name: "sofie no", update: workflows.UpdateDecide, arg: voteOn(domain.MatterCancellation, 0, sofie, domain.OutcomeReject, "Fortsæt"), wantPhase: domain.PhaseFunding},
		{name: "a new proposal may follow", update: workflows.UpdateProposeCancel, arg: workflows.ProposeCancelInput{Actor: hanne, Reason: "Nu er det alvor"}},
	})
	if final.Cancellation == nil || final.Cancellation.Round != 2 || final.Cancellation.Decided {
		t.Fatalf("cancellation %+v, want round 2 open", final.Cancellation)
	}
}

// timed is an update sent at a given time.
type timed struct {
	at     time.Time
	update string
	arg    any
}

// runTimeline starts the initiative at start, sends each update at its time, and cancels the workflow at end. Time
// between is skipped by the test environment, timers and all.
func runTimeline(t *testing.T, plan domain.Plan, p domain.Proposal, fake *fakeStore, start, end time.Time, updates []timed) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(start)
	env.RegisterWorkflow(workflows.Initiative)
	env.RegisterActivity(&activities.Activities{Store: fake})
	for i, u := range updates {
		u := u
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(u.update, fmt.Sprintf("u%d", i), &testsuite.TestUpdateCallback{
				OnReject: func(err error) { t.Errorf("update %s at %s rejected: %v", u.update, u.at, err) },
				OnAccept: func() {},
				OnComplete: func(_ any, err error) {
					if err != nil {
						t.Errorf("update %s at %s: %v", u.update, u.at, err)
					}
				},
			}, u.arg)
		}, u.at.Sub(start))
	}
	env.RegisterDelayedCallback(env.CancelWorkflow, end.Sub(start))
	env.ExecuteWorkflow(workflows.Initiative, workflows.StartInput{InitiativeID: "i1", Plan: plan, Proposer: mette, Proposal: p})
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not finish")
	}
}

func cph(y int, m time.Month, d, h int) time.Time {
	return time.Date(y, m, d, h, 0, 0, 0, domain.Copenhagen)
}

// alerts are the reminder and escalation events written, as "type key at", with the notification's audience.
type alert struct {
	typ, key string
	at       time.Time
	audience store.Audience
}

func alerts(t *testing.T, f *fakeStore) []alert {
	t.Helper()
	var out []alert
	for seq := int64(1); seq <= int64(len(f.events)); seq++ {
		e := f.events[seq]
		if e.Type != workflows.EventReminder && e.Type != workflows.EventEscalated {
			continue
		}
		a := alert{typ: e.Type, at: e.At.In(domain.Copenhagen)}
		for _, n := range f.notes {
			if n.Seq == seq {
				a.audience = n.Audience
			}
		}
		for _, x := range f.snapshot.Alerts {
			if x.At.Equal(e.At) {
				a.key = x.Key
			}
		}
		out = append(out, a)
	}
	return out
}

func proposalDue(first, second domain.Date) domain.Proposal {
	p := proposal()
	p.Milestones[0].DueDate, p.Milestones[1].DueDate = first, second
	return p
}

// Submitted on Wednesday 20 March 2024, the board has 15 business days: Skærtorsdag, Langfredag and 2. påskedag
// are not among them, so the deadline is Monday 15 April, not Wednesday 10 April. Reminders go out 5 and 1
// business days before, at 08:00, to the members who have not voted; the escalation to the chair on the first
// business day after. Once the board decides, nothing more is sent for the proposal.
func TestBoardDeadlineRemindersAndEscalationSkipEaster(t *testing.T) {
	plan := boardPlan(t)
	fake := newFakeStore(plan)
	start := cph(2024, 3, 20, 10)
	// It ends before the first reminder of the payment the approval releases.
	runTimeline(t, plan, proposalDue(domain.NewDate(2025, 6, 2), domain.NewDate(2025, 11, 3)), fake, start, cph(2024, 4, 23, 12), []timed{
		{cph(2024, 4, 9, 13), workflows.UpdateDecide, vote(lars, domain.OutcomeApprove, "")},
		{cph(2024, 4, 17, 9), workflows.UpdateDecide, vote(sofie, domain.OutcomeApprove, "")},
	})
	got := alerts(t, fake)
	want := []alert{
		{workflows.EventReminder, "proposal/r1/remind-5", cph(2024, 4, 8, 8), store.Audience{UserIDs: []string{"bs-hanne", "bs-lars", "bs-sofie"}}},
		{workflows.EventReminder, "proposal/r1/remind-1", cph(2024, 4, 12, 8), store.Audience{UserIDs: []string{"bs-hanne", "bs-sofie"}}},
		{workflows.EventEscalated, "proposal/r1/escalate", cph(2024, 4, 16, 8), store.Audience{UserIDs: []string{"bs-hanne"}}},
	}
	compareAlerts(t, got, want)
	if fake.snapshot.Phase != domain.PhaseFunding {
		t.Fatalf("phase %s, want funding after the two votes", fake.snapshot.Phase)
	}
}

// A tranche released on Tuesday 17 December 2024 is to be paid within 10 business days: juleaftensdag, juledag,
// 2. juledag, nytårsaftensdag and nytårsdag do not count, so the deadline is 7 January 2025.
func TestPaymentDeadlineSkipsChristmas(t *testing.T) {
	plan := boardPlan(t)
	plan.Settings.FinanceLead = "fin-peter"
	fake := newFakeStore(plan)
	start := cph(2024, 12, 16, 10)
	runTimeline(t, plan, proposalDue(domain.NewDate(2025, 6, 2), domain.NewDate(2025, 11, 3)), fake, start, cph(2025, 1, 20, 12), []timed{
		{cph(2024, 12, 17, 9), workflows.UpdateDecide, vote(lars, domain.OutcomeApprove, "")},
		{cph(2024, 12, 17, 10), workflows.UpdateDecide, vote(sofie, domain.OutcomeApprove, "")},
		{cph(2025, 1, 9, 11), workflows.UpdateConfirmPayment, confirm(1, "BANK-1")},
	})
	fin := store.Audience{Roles: []domain.Role{domain.RoleFinance}}
	compareAlerts(t, alerts(t, fake), []alert{
		{workflows.EventReminder, "payment/i1-t1/remind-5", cph(2024, 12, 27, 8), fin},
		{workflows.EventReminder, "payment/i1-t1/remind-1", cph(2025, 1, 6, 8), fin},
		{workflows.EventEscalated, "payment/i1-t1/escalate", cph(2025, 1, 8, 8), store.Audience{UserIDs: []string{"fin-peter"}}},
	})
}

// Over the years of an initiative every waiting step gets its reminders and escalation, in order, each at 08:00
// on a Danish business day, and none after its step is done.
func TestAFourYearInitiativesAlarmsFireInOrderOnBusinessDays(t *testing.T) {
	plan := boardPlan(t)
	fake := newFakeStore(plan)
	start := cph(2022, 1, 10, 10)
	p := proposalDue(domain.NewDate(2023, 3, 1), domain.NewDate(2025, 3, 3))
	runTimeline(t, plan, p, fake, start, cph(2025, 12, 30, 12), []timed{
		{cph(2022, 1, 12, 9), workflows.UpdateDecide, vote(lars, domain.OutcomeApprove, "")},
		{cph(2022, 1, 12, 10), workflows.UpdateDecide, vote(sofie, domain.OutcomeApprove, "")},
		{cph(2022, 2, 1, 10), workflows.UpdateConfirmPayment, confirm(1, "BANK-1")},                // 14 business days: escalated
		{cph(2023, 3, 10, 10), workflows.UpdateReportMilestone, report(1, domain.Kroner(200_000))}, // late: escalated
		{cph(2023, 3, 13, 10), workflows.UpdateDecide, voteOn(domain.MatterMilestone, 1, hanne, domain.OutcomeApprove, "")},
		{cph(2023, 3, 14, 10), workflows.UpdateConfirmPayment, confirm(2, "BANK-2")},
		{cph(2025, 2, 20, 10), workflows.UpdateReportMilestone, report(2, domain.Kroner(200_000))},
		{cph(2025, 2, 21, 10), workflows.UpdateDecide, voteOn(domain.MatterMilestone, 2, hanne, domain.OutcomeApprove, "")},
		{cph(2025, 5, 1, 10), workflows.UpdateSubmitEvaluation, evaluation()},
		{cph(2025, 5, 2, 10), workflows.UpdateDecide, voteOn(domain.MatterEvaluation, 0, hanne, domain.OutcomeApprove, "")},
		{cph(2025, 5, 2, 11), workflows.UpdateDecide, voteOn(domain.MatterEvaluation, 0, lars, domain.OutcomeApprove, "")},
	})
	if fake.snapshot.Phase != domain.PhaseCompleted {
		t.Fatalf("phase %s, want completed", fake.snapshot.Phase)
	}
	got := alerts(t, fake)
	var keys []string
	for i, a := range got {
		keys = append(keys, a.key)
		if h := a.at.Hour(); h != domain.AlarmHour || a.at.Minute() != 0 {
			t.Errorf("%s at %s, want 08:00 Copenhagen time", a.key, a.at)
		}
		if !calendarIsBusinessDay(a.at) {
			t.Errorf("%s on %s, not a business day", a.key, a.at.Format("Monday 2 January 2006"))
		}
		if i > 0 && a.at.Before(got[i-1].at) {
			t.Errorf("%s at %s before %s at %s", a.key, a.at, got[i-1].key, got[i-1].at)
		}
	}
	want := []string{
		"payment/i1-t1/remind-5", "payment/i1-t1/remind-1", "payment/i1-t1/escalate",
		"report/1/1/remind-5", "report/1/1/remind-1", "report/1/1/escalate",
		"evaluation/1/remind-5", "evaluation/1/remind-1", "evaluation/1/escalate",
	}
	// Payment 2 was confirmed the day after its release and report 2 (due 3 March 2025) was in on 20 February,
	// before their first reminders: nothing for them. The evaluation was due 40 business days after 21 February
	// 2025: 23 April, after Skærtorsdag, Langfredag and 2. påskedag; it came on 1 May, after the escalation.
	if !slices.Equal(keys, want) {
		t.Fatalf("alarms\n got %v\nwant %v", keys, want)
	}
}

func calendarIsBusinessDay(t time.Time) bool {
	return domain.DanishBusinessCalendar().IsBusinessDay(domain.LocalDate(t))
}

func compareAlerts(t *testing.T, got, want []alert) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d alarms %+v, want %d %+v", len(got), got, len(want), want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.typ != w.typ || g.key != w.key || !g.at.Equal(w.at) || !slices.Equal(g.audience.UserIDs, w.audience.UserIDs) ||
			!slices.Equal(g.audience.Roles, w.audience.Roles) {
			t.Errorf("alarm %d = %s %s at %s to %+v\n     want %s %s at %s to %+v", i, g.typ, g.key, g.at, g.audience,
				w.typ, w.key, w.at, w.audience)
		}
	}
}

// Once the board has voted to cancel, the compensation completes even when the workflow itself is cancelled while
// the step waits for PostgreSQL: the step runs on a disconnected context, and the workflow finishes it before it
// closes.
func TestCancellationCompletesWhenTheWorkflowIsCancelledMidStep(t *testing.T) {
	plan := boardPlan(t)
	fake := newFakeStore(plan)
	fake.down, fake.failStep = 4, workflows.EventCancelled // retried after 1, 2, 4, 8 s
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
		{workflows.UpdateProposeCancel, workflows.ProposeCancelInput{Actor: karen, Reason: "Projektet er opgivet"}},
		{workflows.UpdateDecide, voteOn(domain.MatterCancellation, 0, lars, domain.OutcomeApprove, "")},
		{workflows.UpdateDecide, voteOn(domain.MatterCancellation, 0, sofie, domain.OutcomeApprove, "")},
	}
	for i, u := range updates {
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(u.name, fmt.Sprintf("u%d", i), &testsuite.TestUpdateCallback{
				OnReject: func(err error) { t.Errorf("update %d rejected: %v", i, err) }, OnAccept: func() {},
				OnComplete: func(any, error) {},
			}, u.arg)
		}, time.Duration(i+1)*time.Minute)
	}
	// The last vote is at minute 5; its step fails for 15 s. Cancel the workflow 3 s into that.
	env.RegisterDelayedCallback(env.CancelWorkflow, 5*time.Minute+3*time.Second)
	env.ExecuteWorkflow(workflows.Initiative, workflows.StartInput{InitiativeID: "i1", Plan: plan, Proposer: mette, Proposal: proposal()})
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not finish")
	}
	if len(fake.cancels) != 1 || fake.snapshot.Phase != domain.PhaseCancelled {
		t.Fatalf("%d cancel steps, read model %s: want the compensation written once and the initiative cancelled",
			len(fake.cancels), fake.snapshot.Phase)
	}
	if fake.down != 0 {
		t.Fatalf("the step failed %d times fewer than planned: the cancellation did not wait out the outage", fake.down)
	}
	fake.writtenOnce(t)
}
