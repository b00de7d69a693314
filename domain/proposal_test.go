package domain_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/helhedsplan/helhedsplan/domain"
)

func TestValidateProposalMoney(t *testing.T) {
	const max = math.MaxInt64
	tests := []struct {
		name      string
		proposal  *domain.Proposal
		available map[string]domain.Money
		want      outcome
	}{
		{name: "walkthrough_accepted", proposal: proposal()},
		{name: "zero_budget_refused",
			proposal: withMoney(lines("lbf", 0), lines("lbf", 1)),
			want:     invalid("budget[0].amount_ore", "not_positive")},
		{name: "negative_budget_refused",
			proposal: withMoney(lines("lbf", -1), lines("lbf", 1)),
			want:     invalid("budget[0].amount_ore", "not_positive")},
		{name: "one_ore_budget_accepted", proposal: withMoney(lines("lbf", 1), lines("lbf", 1))},
		{name: "budget_equal_to_source_commitment_accepted",
			proposal: withMoney(lines("lbf", lbfCommitted), lines("lbf", lbfCommitted))},
		{name: "budget_one_ore_above_source_commitment_refused",
			proposal: withMoney(lines("lbf", lbfCommitted+1), lines("lbf", lbfCommitted+1)),
			want:     invalid("budget[0].amount_ore", "exceeds_committed")},
		{name: "budget_one_ore_above_plan_total_refused",
			proposal: withMoney(lines("lbf", planTotal+1), lines("lbf", 1)),
			want:     invalid("budget[0].amount_ore", "exceeds_plan_total")},
		{name: "budget_max_int64_refused",
			proposal: withMoney(lines("lbf", max), lines("lbf", 1)),
			want:     invalid("budget[0].amount_ore", "exceeds_plan_total")},
		{name: "budget_min_int64_refused",
			proposal: withMoney(lines("lbf", math.MinInt64), lines("lbf", 1)),
			want:     invalid("budget[0].amount_ore", "not_positive")},
		{name: "whole_plan_budget_accepted",
			proposal: withMoney(lines("lbf", lbfCommitted, "viborg-kommune", kommuneCommitted, "boligselskaberne", selskaberCommitted),
				lines("lbf", lbfCommitted, "viborg-kommune", kommuneCommitted, "boligselskaberne", selskaberCommitted))},
		{name: "duplicate_budget_source_refused",
			proposal: withMoney(lines("lbf", 10, "lbf", 10), lines("lbf", 20)),
			want:     invalid("budget[1].source_id", "duplicate")},
		{name: "unknown_budget_source_refused",
			proposal: withMoney(lines("lbf", 10, "nordea-fonden", 10), lines("lbf", 10)),
			want:     invalid("budget[1].source_id", "unknown")},
		{name: "zero_tranche_line_refused",
			proposal: withMoney(lines("lbf", 10, "viborg-kommune", 10), lines("lbf", 10, "viborg-kommune", 0), lines("viborg-kommune", 10)),
			want:     invalid("milestones[0].tranche[1].amount_ore", "not_positive")},
		{name: "negative_tranche_line_refused",
			proposal: withMoney(lines("lbf", 10), lines("lbf", 20), lines("lbf", -10)),
			want:     invalid("milestones[1].tranche[0].amount_ore", "not_positive")},
		{name: "tranche_line_at_plan_total_not_refused_as_amount",
			proposal: withMoney(lines("lbf", 10), lines("lbf", planTotal)),
			want:     invalid("milestones", "tranches_do_not_sum_to_budget")},
		{name: "tranche_line_above_plan_total_refused",
			proposal: withMoney(lines("lbf", 10), lines("lbf", planTotal+1)),
			want:     invalid("milestones[0].tranche[0].amount_ore", "exceeds_plan_total", "milestones", "tranches_exceed_plan_total")},
		{name: "tranches_summing_above_plan_total_refused",
			proposal: withMoney(lines("lbf", 10), lines("lbf", planTotal), lines("lbf", 1)),
			want:     invalid("milestones", "tranches_exceed_plan_total")},
		{name: "tranches_not_summing_to_budget_refused",
			proposal: withMoney(lines("lbf", 10, "viborg-kommune", 10), lines("lbf", 10, "viborg-kommune", 9)),
			want:     invalid("milestones", "tranches_do_not_sum_to_budget")},
		{name: "budget_source_without_tranche_refused",
			proposal: withMoney(lines("lbf", 10, "viborg-kommune", 10), lines("lbf", 10)),
			want:     invalid("milestones", "tranches_do_not_sum_to_budget")},
		{name: "duplicate_source_in_one_tranche_refused",
			proposal: withMoney(lines("lbf", 10), lines("lbf", 5, "lbf", 5)),
			want:     invalid("milestones[0].tranche[1].source_id", "duplicate")},
		{name: "tranche_source_outside_budget_refused",
			proposal: withMoney(lines("lbf", 10), lines("lbf", 10, "viborg-kommune", 5)),
			want:     invalid("milestones[0].tranche[1].source_id", "not_in_budget")},
		{name: "empty_tranche_refused",
			proposal: withMoney(lines("lbf", 10), lines("lbf", 10), nil),
			want:     invalid("milestones[1].tranche", "required")},
		{name: "no_milestones_refused",
			proposal: withMoney(lines("lbf", 10)),
			want:     invalid("milestones", "required")},
		{name: "budget_within_available_accepted",
			proposal: proposal(), available: map[string]domain.Money{"lbf": 30_000_000, "viborg-kommune": 10_000_000}},
		{name: "budget_one_ore_above_available_refused",
			proposal: proposal(), available: map[string]domain.Money{"lbf": 29_999_999, "viborg-kommune": 10_000_000},
			want: invalid("budget[0].amount_ore", "exceeds_uncommitted")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := outcomeOf(t, domain.ValidateProposal(viborg(), tt.proposal, tt.available))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ValidateProposal (-want +got):\n%s", diff)
			}
		})
	}
}

// TestValidateProposalWhy0 is issue 5, Why 0: these tranches summed to the 10.000 kr. budget in wrapped int64
// arithmetic (500000000 + 9223372036854775807 + 9223372036355775809 = 2^64 + 1000000), the proposal passed, and
// finance was asked for 5.000.000 kr.
func TestValidateProposalWhy0(t *testing.T) {
	p := withMoney(lines("lbf", 1_000_000),
		lines("lbf", 500_000_000), lines("lbf", int64(math.MaxInt64)), lines("lbf", int64(9223372036355775809)))
	var wrapped domain.Money
	for _, m := range p.Milestones {
		wrapped += m.Tranche[0].AmountØre // the unchecked sum the old code did
	}
	if wrapped != 1_000_000 {
		t.Fatalf("the attack no longer wraps to the budget (%d); the test would prove nothing", wrapped)
	}
	got := outcomeOf(t, domain.ValidateProposal(viborg(), p, nil))
	want := invalid(
		"milestones[1].tranche[0].amount_ore", "exceeds_plan_total",
		"milestones[2].tranche[0].amount_ore", "exceeds_plan_total",
		"milestones", "tranches_exceed_plan_total")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ValidateProposal (-want +got):\n%s", diff)
	}
}

// TestValidateProposalCeilingIsMaxMoney: a plan whose commitments add up to more than MaxMoney (no real plan does)
// still never lets an amount or a budget above MaxMoney through, because the database would refuse to store it.
func TestValidateProposalCeilingIsMaxMoney(t *testing.T) {
	huge := viborg()
	for i := range huge.FundingSources {
		huge.FundingSources[i].CommittedØre = domain.MaxMoney
	}
	max := domain.MaxMoney
	tests := []struct {
		name     string
		proposal *domain.Proposal
		want     outcome
	}{
		{name: "max_money_budget_accepted", proposal: withMoney(lines("lbf", max), lines("lbf", max))},
		{name: "max_money_plus_one_refused", proposal: withMoney(lines("lbf", max+1), lines("lbf", max+1)),
			want: invalid("budget[0].amount_ore", "exceeds_plan_total", "milestones[0].tranche[0].amount_ore", "exceeds_plan_total",
				"milestones", "tranches_exceed_plan_total")},
		{name: "budget_total_above_max_money_refused",
			proposal: withMoney(lines("lbf", max, "viborg-kommune", 1), lines("lbf", max, "viborg-kommune", 1)),
			want:     invalid("budget", "exceeds_plan_total")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := outcomeOf(t, domain.ValidateProposal(huge, tt.proposal, nil))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ValidateProposal (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateProposalLimits(t *testing.T) {
	many := viborg()
	for i := len(many.HousingAreas); i < 25; i++ {
		many.HousingAreas = append(many.HousingAreas, domain.HousingArea{ID: fmt.Sprintf("omraade-%d", i)})
	}
	areas := func(n int) []string {
		var ids []string
		for _, a := range many.HousingAreas[:n] {
			ids = append(ids, a.ID)
		}
		return ids
	}
	goals := func(n int) []domain.Goal {
		gs := make([]domain.Goal, n)
		for i := range gs {
			gs[i] = domain.Goal{Description: "Mål", SuccessCriterion: "Kriterium"}
		}
		return gs
	}
	milestones := func(n int) *domain.Proposal {
		ts := make([][]domain.SourceAmount, n)
		for i := range ts {
			ts[i] = lines("lbf", 100)
		}
		return withMoney(lines("lbf", 100*n), ts...)
	}
	with := func(f func(p *domain.Proposal)) *domain.Proposal {
		p := proposal()
		f(p)
		return p
	}
	s := strings.Repeat
	tests := []struct {
		name     string
		proposal *domain.Proposal
		want     outcome
	}{
		{"title_200_chars_accepted", with(func(p *domain.Proposal) { p.Title = s("æ", 200) }), outcome{}},
		{"title_201_chars_refused", with(func(p *domain.Proposal) { p.Title = s("æ", 201) }), invalid("title", "too_long")},
		{"description_20000_chars_accepted", with(func(p *domain.Proposal) { p.Description = s("ø", 20_000) }), outcome{}},
		{"description_20001_chars_refused", with(func(p *domain.Proposal) { p.Description = s("ø", 20_001) }),
			invalid("description", "too_long")},
		{"target_group_20000_chars_accepted", with(func(p *domain.Proposal) { p.TargetGroup = s("å", 20_000) }), outcome{}},
		{"target_group_20001_chars_refused", with(func(p *domain.Proposal) { p.TargetGroup = s("å", 20_001) }),
			invalid("target_group", "too_long")},
		{"goal_description_2000_chars_accepted", with(func(p *domain.Proposal) { p.Goals[0].Description = s("€", 2_000) }), outcome{}},
		{"goal_description_2001_chars_refused", with(func(p *domain.Proposal) { p.Goals[0].Description = s("€", 2_001) }),
			invalid("goals[0].description", "too_long")},
		{"success_criterion_2000_chars_accepted", with(func(p *domain.Proposal) { p.Goals[0].SuccessCriterion = s("x", 2_000) }), outcome{}},
		{"success_criterion_2001_chars_refused", with(func(p *domain.Proposal) { p.Goals[0].SuccessCriterion = s("x", 2_001) }),
			invalid("goals[0].success_criterion", "too_long")},
		{"milestone_title_200_chars_accepted", with(func(p *domain.Proposal) { p.Milestones[1].Title = s("a", 200) }), outcome{}},
		{"milestone_title_201_chars_refused", with(func(p *domain.Proposal) { p.Milestones[1].Title = s("a", 201) }),
			invalid("milestones[1].title", "too_long")},
		{"goal_id_40_chars_accepted", with(func(p *domain.Proposal) { p.Goals[0].ID = s("A-z_9", 8) }), outcome{}},
		{"goal_id_41_chars_refused", with(func(p *domain.Proposal) { p.Goals[0].ID = s("a", 41) }), invalid("goals[0].id", "too_long")},
		{"goal_id_with_space_refused", with(func(p *domain.Proposal) { p.Goals[0].ID = "mål 1" }),
			invalid("goals[0].id", "invalid_characters")},
		{"goal_id_with_nul_refused", with(func(p *domain.Proposal) { p.Goals[0].ID = "g\x00" }),
			invalid("goals[0].id", "invalid_characters")},
		{"duplicate_goal_id_refused", with(func(p *domain.Proposal) {
			p.Goals = append(goals(1), domain.Goal{ID: "g1", Description: "To", SuccessCriterion: "To"})
		}), invalid("goals[1].id", "duplicate")},
		{"20_goals_accepted", with(func(p *domain.Proposal) { p.Goals = goals(20) }), outcome{}},
		{"21_goals_refused", with(func(p *domain.Proposal) { p.Goals = goals(21) }), invalid("goals", "too_many")},
		{"40_milestones_accepted", milestones(40), outcome{}},
		{"41_milestones_refused", milestones(41), invalid("milestones", "too_many")},
		{"20_housing_areas_accepted", with(func(p *domain.Proposal) { p.HousingAreaIDs = areas(20) }), outcome{}},
		{"21_housing_areas_refused", with(func(p *domain.Proposal) { p.HousingAreaIDs = areas(21) }),
			invalid("housing_area_ids", "too_many")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := outcomeOf(t, domain.ValidateProposal(many, tt.proposal, nil))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ValidateProposal (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateProposalFillsGoalIDs(t *testing.T) {
	p := proposal()
	p.Goals = append(p.Goals, domain.Goal{ID: "tryghed", Description: "Tryghed", SuccessCriterion: "Målt i trivselsundersøgelsen"},
		domain.Goal{Description: "Job", SuccessCriterion: "10 i job"})
	if err := domain.ValidateProposal(viborg(), p, nil); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range p.Goals {
		got = append(got, g.ID)
	}
	if diff := cmp.Diff([]string{"g1", "tryghed", "g3"}, got); diff != "" {
		t.Errorf("goal IDs (-want +got):\n%s", diff)
	}
}
