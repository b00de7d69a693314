package domain_test

import (
	"testing"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
)

func TestChangeRequests(t *testing.T) {
	plan := viborg()
	plan.Settings.ReallocationThresholdØre = 5_000_000
	plan.Settings.StrategicChangeØre = 10_000_000
	released := func() *domain.Initiative {
		in := initiative(domain.PhaseFunding)
		in.Milestones[0].TrancheStatus = domain.TrancheReleased
		return in
	}
	moved := func(amount domain.Money) []domain.MilestonePlan {
		ms := released().CurrentPlan()
		ms[1].Tranche = lines("lbf", 15_000_000-amount, "viborg-kommune", 5_000_000)
		ms = append(ms, domain.MilestonePlan{Title: "Ekstra", DueDate: domain.NewDate(2022, time.March, 1),
			Tranche: lines("lbf", amount)})
		return ms
	}
	budget := released().Proposal.Budget
	tests := []struct {
		name       string
		in         *domain.Initiative
		actor      domain.Actor
		budget     []domain.SourceAmount
		milestones []domain.MilestonePlan
		available  map[string]domain.Money
		want       outcome
		chairAlone bool
		strategic  bool
	}{
		{name: "small move: the chair decides", in: released(), actor: mette, budget: budget, milestones: moved(1_000_000), chairAlone: true},
		{name: "big move: strategic", in: released(), actor: karen, budget: budget, milestones: moved(14_000_000), strategic: true},
		{name: "another member of the group", in: released(), actor: ahmed, budget: budget, milestones: moved(1),
			want: outcome{Code: domain.CodeForbidden}},
		{name: "before approval", in: initiative(domain.PhaseBoardReview), actor: mette, budget: budget, milestones: moved(1),
			want: outcome{Code: domain.CodeWrongPhase}},
		{name: "nothing changes", in: released(), actor: mette, budget: budget, milestones: released().CurrentPlan(),
			want: outcome{Code: domain.CodeValidation}},
		{name: "a released tranche changes", in: released(), actor: mette, budget: budget,
			milestones: func() []domain.MilestonePlan {
				ms := released().CurrentPlan()
				ms[0].Tranche, ms[1].Tranche = ms[1].Tranche, ms[0].Tranche
				ms[0].Tranche = lines("lbf", 14_000_000, "viborg-kommune", 5_000_000)
				ms[1].Tranche = lines("lbf", 16_000_000, "viborg-kommune", 5_000_000)
				return ms
			}(),
			want: invalid("milestones[0]", "released_changed")},
		{name: "a released milestone removed", in: released(), actor: mette, budget: lines("lbf", 15_000_000, "viborg-kommune", 5_000_000),
			milestones: released().CurrentPlan()[1:],
			want:       invalid("milestones[0]", "released_changed")},
		{name: "more than is available", in: released(), actor: mette,
			budget: lines("lbf", 30_000_000, "viborg-kommune", 10_000_000, "boligselskaberne", 1_000_000),
			milestones: func() []domain.MilestonePlan {
				ms := released().CurrentPlan()
				ms[1].Tranche = lines("lbf", 15_000_000, "viborg-kommune", 5_000_000, "boligselskaberne", 1_000_000)
				return ms
			}(),
			available: map[string]domain.Money{"boligselskaberne": 999_999},
			want:      outcome{Code: domain.CodeInsufficientFunds, Problems: []problem{{"budget", "insufficient_funds"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := domain.CheckRequestChange(tc.in, plan, tc.actor, "Fordi", tc.budget, tc.milestones, tc.available)
			got := outcomeOf(t, err)
			if got.Code != tc.want.Code || (tc.want.Problems != nil && !sameProblems(got.Problems, tc.want.Problems)) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			if err == nil && (c.ChairAlone != tc.chairAlone || c.Strategic != tc.strategic || c.No != 1) {
				t.Fatalf("change %+v, want chair alone %v strategic %v", c, tc.chairAlone, tc.strategic)
			}
		})
	}
}

func sameProblems(a, b []problem) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestApplyChangeKeepsReleasedMilestones(t *testing.T) {
	in := initiative(domain.PhaseExecuting)
	in.Milestones[0].TrancheStatus = domain.TranchePaid
	in.Milestones[0].PaymentReference = "BANK-1"
	c := domain.Change{Milestones: append(in.CurrentPlan(), domain.MilestonePlan{Title: "Ny", Tranche: lines("lbf", 1)})}
	c.Milestones[0].DueDate = domain.NewDate(2022, time.February, 1)
	out := domain.ApplyChange(in, &c)
	if len(out) != 3 || out[0].PaymentReference != "BANK-1" || out[0].DueDate != domain.NewDate(2022, time.February, 1) ||
		out[2].TrancheStatus != domain.TrancheScheduled || out[2].No != 3 {
		t.Fatalf("milestones %+v", out)
	}
}

// A reminder that would go out before the step opened is not sent; the others and the escalation are.
func TestAlarmsOfAStepOpenedCloseToItsDeadline(t *testing.T) {
	cal := domain.DanishBusinessCalendar()
	plan := viborg()
	in := executing()
	paid := time.Date(2021, time.December, 29, 10, 0, 0, 0, time.UTC)
	in.Milestones[0].PaidAt = &paid // report due 3 January 2022: 1 business day later (31/12 and 1/1 are closed)
	steps := domain.OpenSteps(in, plan, cal)
	if len(steps) != 1 || steps[0].Kind != domain.StepReport || steps[0].Deadline != domain.NewDate(2022, time.January, 3) {
		t.Fatalf("steps %+v", steps)
	}
	alarms := domain.Alarms(steps, plan, cal)
	// 5 business days before is 22 December, before the tranche was paid: not sent. 1 business day before is
	// 30 December (nytårsaftensdag and nytårsdag are closed).
	if len(alarms) != 2 || alarms[0].Key != "report/1/1/remind-1" || domain.LocalDate(alarms[0].At) != domain.NewDate(2021, time.December, 30) ||
		alarms[1].Kind != domain.AlarmEscalation || domain.LocalDate(alarms[1].At) != domain.NewDate(2022, time.January, 4) {
		t.Fatalf("alarms %+v, want the 1-day reminder on 30 December and the escalation on 4 January", alarms)
	}
	if !steps[0].Overdue(domain.NewDate(2022, time.January, 4)) || steps[0].Overdue(domain.NewDate(2022, time.January, 3)) {
		t.Fatal("overdue from the day after the deadline")
	}
}
