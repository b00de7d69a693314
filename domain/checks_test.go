package domain_test

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/helhedsplan/helhedsplan/domain"
)

func TestValidText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"empty_valid", "", true},
		{"danish_valid", "Lektiecafé i Houlkærvænget, 4.-9. klasse", true},
		{"tab_newline_return_valid", "linje 1\r\n\tlinje 2", true},
		{"replacement_char_valid", "\uFFFD", true},
		{"emoji_valid", "👍", true},
		{"nul_invalid", "nej\x00", false},
		{"invalid_utf8_invalid", "bl\xe5b\xe6r", false},
		{"truncated_utf8_invalid", "\xc3", false},
		{"utf8_surrogate_invalid", "\xed\xa0\x80", false},
		{"escape_invalid", "\x1b[31mrød", false},
		{"bell_invalid", "\a", false},
		{"delete_invalid", "\x7f", false},
		{"c1_control_invalid", "\u0085", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := domain.ValidText(tt.in); got != tt.want {
				t.Errorf("ValidText(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// TestChecksRefuseBadText sends each bad text to every text input of every rule. Each input is first sent with a
// good text that includes tab and newline, so a refusal can only come from the bad characters.
func TestChecksRefuseBadText(t *testing.T) {
	type input struct {
		name  string
		field string
		check func(s string) error
	}
	resubmit := func(edit func(p *domain.Proposal, s string)) func(string) error {
		return func(s string) error {
			p := proposal()
			edit(p, s)
			return domain.CheckResubmit(initiative(domain.PhaseChangesRequested), mette, viborg(), p, "")
		}
	}
	propose := func(edit func(p *domain.Proposal, s string)) func(string) error {
		return func(s string) error {
			p := proposal()
			edit(p, s)
			return domain.ValidateProposal(viborg(), p, nil)
		}
	}
	results := func(summary, result string) error {
		return domain.CheckSubmitEvaluation(evaluating(), mette, summary,
			[]domain.GoalResult{{GoalID: "g1", Achieved: true, Result: result}}, nil)
	}
	inputs := []input{
		{"propose_title", "title", propose(func(p *domain.Proposal, s string) { p.Title = s })},
		{"propose_description", "description", propose(func(p *domain.Proposal, s string) { p.Description = s })},
		{"propose_target_group", "target_group", propose(func(p *domain.Proposal, s string) { p.TargetGroup = s })},
		{"propose_goal_description", "goals[0].description", propose(func(p *domain.Proposal, s string) { p.Goals[0].Description = s })},
		{"propose_success_criterion", "goals[0].success_criterion",
			propose(func(p *domain.Proposal, s string) { p.Goals[0].SuccessCriterion = s })},
		{"propose_milestone_title", "milestones[1].title", propose(func(p *domain.Proposal, s string) { p.Milestones[1].Title = s })},
		{"ballot_comment", "comment", func(s string) error {
			return domain.CheckBallot(initiative(domain.PhaseBoardReview),
				domain.Ballot{Revision: 1, Actor: hanne, Outcome: domain.OutcomeRequestChanges, Comment: s})
		}},
		{"resubmit_title", "title", resubmit(func(p *domain.Proposal, s string) { p.Title = s })},
		{"resubmit_goal_description", "goals[0].description", resubmit(func(p *domain.Proposal, s string) { p.Goals[0].Description = s })},
		{"resubmit_comment", "comment", func(s string) error {
			return domain.CheckResubmit(initiative(domain.PhaseChangesRequested), mette, viborg(), proposal(), s)
		}},
		{"withdraw_reason", "reason", func(s string) error {
			return domain.CheckWithdraw(initiative(domain.PhaseChangesRequested), mette, s)
		}},
		{"report_summary", "summary", func(s string) error { return domain.CheckReport(executing(), mette, 1, s, 0) }},
		{"accept_milestone_comment", "comment", func(s string) error { return domain.CheckAcceptMilestone(reported(), hanne, 1, s) }},
		{"evaluation_summary", "summary", func(s string) error { return results(s, "Gennemsnittet steg 0,7") }},
		{"evaluation_result", "results[0].result", func(s string) error { return results("Målet er nået", s) }},
		{"accept_evaluation_comment", "comment", func(s string) error {
			in := evaluating()
			in.Evaluation = &domain.Evaluation{Summary: "Målet er nået", SubmittedBy: mette}
			return domain.CheckAcceptEvaluation(in, hanne, s)
		}},
		{"confirm_reference", "reference", func(s string) error {
			in := initiative(domain.PhaseFunding)
			in.Milestones[0].TrancheStatus = domain.TrancheReleased
			in.Milestones[0].DisbursementID = domain.DisbursementID(in.ID, 1)
			return domain.CheckConfirmPayment(in, peter, in.Milestones[0].DisbursementID, s)
		}},
	}
	bad := map[string]string{
		"nul":          "Godkendt\x00",
		"invalid_utf8": "Godkendt \xff\xfe",
		"escape":       "Godkendt \x1b[2J",
		"c1_control":   "Godkendt \u009b",
	}
	for _, in := range inputs {
		t.Run(in.name+"/good_text_accepted", func(t *testing.T) {
			if err := in.check("Godkendt\tpå mødet\r\nden 3/2"); err != nil {
				t.Fatalf("good text refused: %v", err)
			}
		})
		for name, s := range bad {
			t.Run(in.name+"/"+name+"_refused", func(t *testing.T) {
				got := outcomeOf(t, in.check(s))
				if diff := cmp.Diff(invalid(in.field, "invalid_characters"), got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestChecksLimitText covers the free-text limits of the rules other than the proposal's (TestValidateProposalLimits).
func TestChecksLimitText(t *testing.T) {
	s := strings.Repeat
	funding := func() *domain.Initiative {
		in := initiative(domain.PhaseFunding)
		in.Milestones[0].TrancheStatus = domain.TrancheReleased
		in.Milestones[0].DisbursementID = domain.DisbursementID(in.ID, 1)
		return in
	}
	tests := []struct {
		name string
		err  error
		want outcome
	}{
		{"ballot_comment_at_limit_accepted", domain.CheckBallot(initiative(domain.PhaseBoardReview),
			domain.Ballot{Actor: hanne, Outcome: domain.OutcomeReject, Comment: s("æ", domain.MaxCommentLen)}), outcome{}},
		{"ballot_comment_over_limit_refused", domain.CheckBallot(initiative(domain.PhaseBoardReview),
			domain.Ballot{Actor: hanne, Outcome: domain.OutcomeReject, Comment: s("æ", domain.MaxCommentLen+1)}), invalid("comment", "too_long")},
		{"resubmit_comment_at_limit_accepted", domain.CheckResubmit(initiative(domain.PhaseChangesRequested), mette, viborg(),
			proposal(), s("æ", domain.MaxCommentLen)), outcome{}},
		{"resubmit_comment_over_limit_refused", domain.CheckResubmit(initiative(domain.PhaseChangesRequested), mette, viborg(),
			proposal(), s("æ", domain.MaxCommentLen+1)), invalid("comment", "too_long")},
		{"withdraw_reason_over_limit_refused", domain.CheckWithdraw(initiative(domain.PhaseBoardReview), mette, s("æ", domain.MaxCommentLen+1)),
			invalid("reason", "too_long")},
		{"report_summary_at_limit_accepted", domain.CheckReport(executing(), mette, 1, s("æ", domain.MaxSummaryLen), 0), outcome{}},
		{"report_summary_over_limit_refused", domain.CheckReport(executing(), mette, 1, s("æ", domain.MaxSummaryLen+1), 0), invalid("summary", "too_long")},
		{"accept_milestone_comment_at_limit_accepted", domain.CheckAcceptMilestone(reported(), hanne, 1, s("æ", domain.MaxCommentLen)), outcome{}},
		{"accept_milestone_comment_over_limit_refused", domain.CheckAcceptMilestone(reported(), hanne, 1, s("æ", domain.MaxCommentLen+1)),
			invalid("comment", "too_long")},
		{"confirm_reference_200_accepted", domain.CheckConfirmPayment(funding(), peter, "i1-t1", s("Ø", 200)), outcome{}},
		{"confirm_reference_201_refused", domain.CheckConfirmPayment(funding(), peter, "i1-t1", s("Ø", 201)),
			invalid("reference", "too_long")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, outcomeOf(t, tt.err)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckAcceptEvaluationComment(t *testing.T) {
	in := evaluating()
	in.Evaluation = &domain.Evaluation{Summary: "Målet er nået", SubmittedBy: mette}
	if err := domain.CheckAcceptEvaluation(in, hanne, strings.Repeat("æ", domain.MaxCommentLen)); err != nil {
		t.Errorf("comment of %d characters refused: %v", domain.MaxCommentLen, err)
	}
	got := outcomeOf(t, domain.CheckAcceptEvaluation(in, hanne, strings.Repeat("æ", domain.MaxCommentLen+1)))
	if diff := cmp.Diff(invalid("comment", "too_long"), got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestCheckSubmitEvaluationResults(t *testing.T) {
	withGoals := func(n int) *domain.Initiative {
		in := evaluating()
		in.Proposal.Goals = nil
		for i := range n {
			in.Proposal.Goals = append(in.Proposal.Goals, domain.Goal{ID: "g" + strconv.Itoa(i+1), Description: "Mål", SuccessCriterion: "K"})
		}
		return in
	}
	results := func(n int) []domain.GoalResult {
		var rs []domain.GoalResult
		for i := range n {
			rs = append(rs, domain.GoalResult{GoalID: "g" + strconv.Itoa(i+1), Result: "Nået"})
		}
		return rs
	}
	tests := []struct {
		name string
		err  error
		want outcome
	}{
		{"20_results_accepted", domain.CheckSubmitEvaluation(withGoals(20), mette, "Resumé", results(20), nil), outcome{}},
		{"21_results_refused", domain.CheckSubmitEvaluation(withGoals(20), mette, "Resumé", results(21), nil), invalid("results", "too_many")},
		{"result_at_limit_accepted", domain.CheckSubmitEvaluation(withGoals(1), mette, "Resumé",
			[]domain.GoalResult{{GoalID: "g1", Result: strings.Repeat("æ", domain.MaxSummaryLen)}}, nil), outcome{}},
		{"result_20001_chars_refused", domain.CheckSubmitEvaluation(withGoals(1), mette, "Resumé",
			[]domain.GoalResult{{GoalID: "g1", Result: strings.Repeat("æ", 20_001)}}, nil), invalid("results[0].result", "too_long")},
		{"summary_20001_chars_refused", domain.CheckSubmitEvaluation(withGoals(1), mette, strings.Repeat("æ", 20_001),
			results(1), nil), invalid("summary", "too_long")},
		{"unknown_goal_with_nul_refused", domain.CheckSubmitEvaluation(withGoals(1), mette, "Resumé",
			append(results(1), domain.GoalResult{GoalID: "g1\x00", Result: "Nået"}), nil), invalid("results[1].goal_id", "unknown")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, outcomeOf(t, tt.err)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckResubmit(t *testing.T) {
	atRevision := func(n int) *domain.Initiative {
		in := initiative(domain.PhaseChangesRequested)
		in.Revision = n
		return in
	}
	tests := []struct {
		name        string
		in          *domain.Initiative
		actor       domain.Actor
		want        outcome
		wantMessage string
	}{
		{name: "proposer_accepted", in: atRevision(1), actor: mette},
		{name: "admin_accepted", in: atRevision(1), actor: karen},
		{name: "other_operational_group_member_forbidden", in: atRevision(1), actor: ahmed,
			want: outcome{Code: domain.CodeForbidden}, wantMessage: "Mette Kjær"},
		{name: "proposers_user_id_with_board_role_forbidden", in: atRevision(1),
			actor: domain.Actor{UserID: mette.UserID, Name: mette.Name, Role: domain.RoleBoard},
			want:  outcome{Code: domain.CodeForbidden}, wantMessage: "Mette Kjær"},
		{name: "board_forbidden", in: atRevision(1), actor: hanne, want: outcome{Code: domain.CodeForbidden}},
		{name: "finance_forbidden", in: atRevision(1), actor: peter, want: outcome{Code: domain.CodeForbidden}},
		{name: "in_board_review_wrong_phase", in: initiative(domain.PhaseBoardReview), actor: mette,
			want: outcome{Code: domain.CodeWrongPhase}},
		{name: "revision_9_accepted", in: atRevision(domain.MaxRevisions - 1), actor: mette},
		{name: "revision_10_conflict", in: atRevision(domain.MaxRevisions), actor: mette,
			want: outcome{Code: domain.CodeConflict}, wantMessage: "10 versioner"},
		{name: "revision_10_conflict_for_admin_too", in: atRevision(domain.MaxRevisions), actor: karen,
			want: outcome{Code: domain.CodeConflict}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := domain.CheckResubmit(tt.in, tt.actor, viborg(), proposal(), "Budgettet er rettet")
			if diff := cmp.Diff(tt.want, outcomeOf(t, err)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if tt.wantMessage != "" && !strings.Contains(err.Error(), tt.wantMessage) {
				t.Errorf("message %q does not name %q", err, tt.wantMessage)
			}
		})
	}
}

func TestCheckResubmitValidatesProposal(t *testing.T) {
	p := withMoney(lines("lbf", 1_000_000),
		lines("lbf", 500_000_000), lines("lbf", int64(math.MaxInt64)), lines("lbf", int64(9223372036355775809)))
	got := outcomeOf(t, domain.CheckResubmit(initiative(domain.PhaseChangesRequested), mette, viborg(), p, "Nul\x00"))
	want := invalid(
		"milestones[1].tranche[0].amount_ore", "exceeds_plan_total",
		"milestones[2].tranche[0].amount_ore", "exceeds_plan_total",
		"milestones", "tranches_exceed_plan_total",
		"comment", "invalid_characters")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestCheckReportSpent(t *testing.T) {
	// Tranche 1 of the walk-through initiative is 200.000 kr. and paid.
	const paid domain.Money = 20_000_000
	withEarlierReport := func(spent domain.Money) *domain.Initiative {
		in := executing()
		in.Milestones[1].TrancheStatus = domain.TranchePaid
		in.Milestones[0].Report = &domain.Report{Summary: "Udført", SpentØre: spent, Actor: mette}
		in.Milestones[0].AcceptedBy, in.Milestones[0].AcceptedAt = &hanne, &in.CreatedAt
		return in
	}
	corrupt := executing()
	corrupt.Milestones[0].Tranche = lines("lbf", int64(math.MaxInt64))
	tests := []struct {
		name  string
		in    *domain.Initiative
		no    int
		spent domain.Money
		want  outcome
	}{
		{"zero_accepted", executing(), 1, 0, outcome{}},
		{"all_that_is_paid_accepted", executing(), 1, paid, outcome{}},
		{"one_ore_above_paid_refused", executing(), 1, paid + 1, invalid("spent_ore", "exceeds_paid")},
		{"negative_refused", executing(), 1, -1, invalid("spent_ore", "negative")},
		{"min_int64_refused", executing(), 1, math.MinInt64, invalid("spent_ore", "negative")},
		{"above_max_money_refused", executing(), 1, domain.MaxMoney + 1, invalid("spent_ore", "too_large")},
		{"max_int64_refused", executing(), 1, math.MaxInt64, invalid("spent_ore", "too_large")},
		{"max_money_exceeds_paid", executing(), 1, domain.MaxMoney, invalid("spent_ore", "exceeds_paid")},
		// Two tranches paid: 400.000 kr.; 300.000 kr. reported on milestone 1.
		{"running_total_equal_to_paid_accepted", withEarlierReport(30_000_000), 2, 10_000_000, outcome{}},
		{"running_total_one_ore_above_paid_refused", withEarlierReport(30_000_000), 2, 10_000_001,
			invalid("spent_ore", "exceeds_paid")},
		{"running_total_of_max_amounts_refused", withEarlierReport(domain.MaxMoney), 2, domain.MaxMoney,
			invalid("spent_ore", "exceeds_paid")},
		{"corrupt_earlier_report_conflict", withEarlierReport(math.MaxInt64), 2, 1,
			outcome{Code: domain.CodeConflict}},
		{"corrupt_paid_tranche_conflict", corrupt, 1, 1, outcome{Code: domain.CodeConflict}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := outcomeOf(t, domain.CheckReport(tt.in, mette, tt.no, "Caféen er åben", tt.spent))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
