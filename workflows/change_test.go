package workflows_test

import (
	"testing"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/workflows"
)

// changedPlan keeps milestone 1 (its tranche is released at approval), moves milestone 2's due date and 50.000
// kr. of its LBF money to a new third milestone, to which the housing associations add extra.
func changedPlan(extra domain.Money) workflows.RequestChangeInput {
	p := proposal()
	budget := []domain.SourceAmount{{SourceID: "lbf", AmountØre: domain.Kroner(300_000)},
		{SourceID: "viborg-kommune", AmountØre: domain.Kroner(100_000)}}
	ms := []domain.MilestonePlan{p.Milestones[0],
		{Title: "Midtvejs", DueDate: domain.NewDate(2023, 6, 1), Tranche: []domain.SourceAmount{
			{SourceID: "lbf", AmountØre: domain.Kroner(100_000)}, {SourceID: "viborg-kommune", AmountØre: domain.Kroner(50_000)}}},
		{Title: "Afslutning", DueDate: domain.NewDate(2024, 3, 1), Tranche: []domain.SourceAmount{
			{SourceID: "lbf", AmountØre: domain.Kroner(50_000)}}},
	}
	if extra > 0 {
		budget = append(budget, domain.SourceAmount{SourceID: "boligselskaberne", AmountØre: extra})
		ms[2].Tranche = append(ms[2].Tranche, domain.SourceAmount{SourceID: "boligselskaberne", AmountØre: extra})
	}
	return workflows.RequestChangeInput{Actor: mette, Reason: "Forlænget med en afslutningsfase", Budget: budget, Milestones: ms}
}

func approvedByBoard() []step {
	return []step{
		{name: "lars", update: workflows.UpdateDecide, arg: vote(lars, domain.OutcomeApprove, "")},
		{name: "sofie", update: workflows.UpdateDecide, arg: vote(sofie, domain.OutcomeApprove, ""), wantPhase: domain.PhaseFunding},
	}
}

func TestAChangeMovesMoneyBetweenMilestonesAfterAVoteAndTheReservationFollows(t *testing.T) {
	plan := boardPlan(t)
	fake := newFakeStore(plan)
	steps := append(approvedByBoard(),
		step{name: "finance may not ask", update: workflows.UpdateRequestChange, arg: workflows.RequestChangeInput{Actor: peter, Reason: "x"}, wantCode: domain.CodeForbidden, rejected: true},
		step{name: "mette asks", update: workflows.UpdateRequestChange, arg: changedPlan(domain.Kroner(20_000))},
		step{name: "another while open", update: workflows.UpdateRequestChange, arg: changedPlan(0), wantCode: domain.CodeConflict, rejected: true},
		step{name: "request_changes is not a vote on a change", update: workflows.UpdateDecide, arg: voteOn(domain.MatterChange, 0, lars, domain.OutcomeRequestChanges, "?"), wantCode: domain.CodeValidation, rejected: true},
		step{name: "lars", update: workflows.UpdateDecide, arg: voteOn(domain.MatterChange, 0, lars, domain.OutcomeApprove, "")},
		step{name: "hanne", update: workflows.UpdateDecide, arg: voteOn(domain.MatterChange, 0, hanne, domain.OutcomeApprove, ""), wantPhase: domain.PhaseFunding},
	)
	final := run(t, plan, fake, steps)
	if len(final.Milestones) != 3 || final.Milestones[0].TrancheStatus != domain.TrancheReleased ||
		final.Milestones[2].TrancheStatus != domain.TrancheScheduled || final.Milestones[1].DueDate != domain.NewDate(2023, 6, 1) {
		t.Fatalf("milestones after the change: %+v", final.Milestones)
	}
	c := final.Changes[0]
	if c.Status != domain.ChangeApplied || c.MovedØre != domain.Kroner(70_000) || c.ChairAlone || c.Strategic {
		t.Fatalf("change %+v", c)
	}
	if len(final.Versions) != 2 || final.Versions[1].ChangeNo != 1 || len(final.Versions[1].DecidedBy) != 2 {
		t.Fatalf("versions %+v", final.Versions)
	}
	if got := fake.reserved["boligselskaberne"]; got != domain.Kroner(20_000) {
		t.Fatalf("reserved from the housing associations %s, want 20.000 kr.", got)
	}
	if got := fake.reserved["lbf"]; got != domain.Kroner(300_000) {
		t.Fatalf("reserved from LBF %s, want unchanged 300.000 kr.", got)
	}
	fake.writtenOnce(t)
}

func TestAChangeThatGivesMoneyBackUnreservesIt(t *testing.T) {
	plan := boardPlan(t)
	plan.Settings.ReallocationThresholdØre = domain.Kroner(100_000) // moving less: the chair decides alone
	fake := newFakeStore(plan)
	in := changedPlan(0)
	in.Budget[0].AmountØre = domain.Kroner(250_000) // 50.000 kr. less from LBF: the last phase is dropped
	in.Milestones = in.Milestones[:2]
	steps := append(approvedByBoard(),
		step{name: "mette asks", update: workflows.UpdateRequestChange, arg: in},
		step{name: "lars may not: the chair decides alone", update: workflows.UpdateDecide, arg: voteOn(domain.MatterChange, 0, lars, domain.OutcomeApprove, ""), wantCode: domain.CodeForbidden, rejected: true},
		step{name: "hanne", update: workflows.UpdateDecide, arg: voteOn(domain.MatterChange, 0, hanne, domain.OutcomeApprove, "")},
	)
	final := run(t, plan, fake, steps)
	if c := final.Changes[0]; c.Status != domain.ChangeApplied || !c.ChairAlone || c.MovedØre != domain.Kroner(50_000) {
		t.Fatalf("change %+v", c)
	}
	if got := fake.reserved["lbf"]; got != domain.Kroner(250_000) {
		t.Fatalf("reserved from LBF %s, want 250.000 kr. after giving 50.000 kr. back", got)
	}
}

func TestAChangeAskingForMoreThanASourceHasIsRefusedBeforeTheVote(t *testing.T) {
	plan := boardPlan(t)
	fake := newFakeStore(plan)
	fake.reserved["boligselskaberne"] = domain.Kroner(4_770_000) // other initiatives hold all but 10.000 kr.
	run(t, plan, fake, append(approvedByBoard(),
		step{name: "too much", update: workflows.UpdateRequestChange, arg: changedPlan(domain.Kroner(20_000)), wantCode: domain.CodeInsufficientFunds},
		step{name: "what is there", update: workflows.UpdateRequestChange, arg: changedPlan(domain.Kroner(10_000))},
	))
}

func TestAStrategicChangeWaitsForLandsbyggefonden(t *testing.T) {
	plan := boardPlan(t)
	plan.Settings.StrategicChangeØre = domain.Kroner(50_000)
	fake := newFakeStore(plan)
	lbf := func(a domain.Actor, ok bool) workflows.RecordLBFInput {
		return workflows.RecordLBFInput{Actor: a, ChangeNo: 1, Approved: ok, LetterDate: domain.NewDate(2021, 8, 2), Reference: "LBF 2021-0815"}
	}
	steps := append(approvedByBoard(),
		step{name: "mette asks", update: workflows.UpdateRequestChange, arg: changedPlan(domain.Kroner(20_000))},
		step{name: "too early for LBF", update: workflows.UpdateRecordLBF, arg: lbf(karen, true), wantCode: domain.CodeConflict, rejected: true},
		step{name: "lars", update: workflows.UpdateDecide, arg: voteOn(domain.MatterChange, 0, lars, domain.OutcomeApprove, "")},
		step{name: "hanne", update: workflows.UpdateDecide, arg: voteOn(domain.MatterChange, 0, hanne, domain.OutcomeApprove, "")},
		step{name: "only admin records LBF", update: workflows.UpdateRecordLBF, arg: lbf(hanne, true), wantCode: domain.CodeForbidden, rejected: true},
		step{name: "karen records LBF's approval", update: workflows.UpdateRecordLBF, arg: lbf(karen, true)},
	)
	final := run(t, plan, fake, steps)
	c := final.Changes[0]
	if c.Status != domain.ChangeApplied || !c.Strategic || c.LBF == nil || c.LBF.Reference != "LBF 2021-0815" {
		t.Fatalf("change %+v", c)
	}
	var types []string
	for _, e := range eventTypes(fake) {
		if e == workflows.EventChangeApproved || e == workflows.EventChangeApplied {
			types = append(types, e)
		}
	}
	if len(types) != 2 || types[0] != workflows.EventChangeApproved {
		t.Fatalf("change events %v, want approved by the board, then applied after LBF", types)
	}
	if fake.reserved["boligselskaberne"] != domain.Kroner(20_000) {
		t.Fatalf("reserved %v", fake.reserved)
	}
}
