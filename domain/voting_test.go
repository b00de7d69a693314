package domain_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/helhedsplan/helhedsplan/domain"
)

const (
	approve = domain.OutcomeApprove
	reject  = domain.OutcomeReject
	changes = domain.OutcomeRequestChanges
)

func votes(pairs ...any) []domain.Vote {
	var vs []domain.Vote
	for i := 0; i < len(pairs); i += 2 {
		vs = append(vs, domain.Vote{MemberID: pairs[i].(string), Outcome: pairs[i+1].(domain.Outcome)})
	}
	return vs
}

func counts(a, r, c int) map[domain.Outcome]int {
	return map[domain.Outcome]int{approve: a, reject: r, changes: c}
}

// board3 is a board of three chaired by "anna".
var board3 = domain.BoardRules{Members: []string{"anna", "bo", "carl"}, Chair: "anna"}

func board(members []string, chair string, conflicts ...string) domain.BoardRules {
	return domain.BoardRules{Members: members, Chair: chair, Conflicts: conflicts}
}

func TestTally(t *testing.T) {
	four := []string{"anna", "bo", "carl", "dorte"}
	five := []string{"anna", "bo", "carl", "dorte", "erik"}
	tests := []struct {
		name     string
		rules    domain.BoardRules
		proposer string
		votes    []domain.Vote
		want     domain.TallyResult
		say      string // part of the Danish explanation
	}{
		{
			name: "no_votes_open", rules: board3, proposer: "ulla",
			want: domain.TallyResult{Counts: counts(0, 0, 0), Entitled: 3, QuorumNeeded: 2},
			say:  "Afstemningen er åben: 0 af 3",
		},
		{
			name: "one_approval_without_quorum_open", rules: board3, proposer: "ulla",
			votes: votes("bo", approve),
			want:  domain.TallyResult{Counts: counts(1, 0, 0), Entitled: 3, Voted: 1, QuorumNeeded: 2},
			say:   "mindst 2 stemmer",
		},
		{
			name: "two_of_three_approve_decided_early", rules: board3, proposer: "ulla",
			votes: votes("bo", approve, "carl", approve),
			want: domain.TallyResult{Decided: true, Outcome: approve, Basis: domain.BasisMajority, Early: true,
				Counts: counts(2, 0, 0), Entitled: 3, Voted: 2, QuorumNeeded: 2},
			say: "Godkendt med 2 af 2 afgivne stemmer (2 for godkendelse, 0 for afvisning, 0 for ændringer). " +
				"Den manglende stemme kan ikke ændre udfaldet.",
		},
		{
			name: "split_two_waits_for_third_open", rules: board3, proposer: "ulla",
			votes: votes("anna", approve, "bo", reject),
			want:  domain.TallyResult{Counts: counts(1, 1, 0), Entitled: 3, Voted: 2, QuorumNeeded: 2},
			say:   "åben",
		},
		{
			name: "third_vote_gives_majority_reject", rules: board3, proposer: "ulla",
			votes: votes("anna", approve, "bo", reject, "carl", reject),
			want: domain.TallyResult{Decided: true, Outcome: reject, Basis: domain.BasisMajority,
				Counts: counts(1, 2, 0), Entitled: 3, Voted: 3, QuorumNeeded: 2},
			say: "Afvist med 2 af 3",
		},
		{
			name: "three_way_split_chair_decides_approve", rules: board3, proposer: "ulla",
			votes: votes("bo", reject, "carl", changes, "anna", approve),
			want: domain.TallyResult{Decided: true, Outcome: approve, Basis: domain.BasisChairCastingVote,
				Counts: counts(1, 1, 1), Entitled: 3, Voted: 3, QuorumNeeded: 2},
			say: "formandens stemme er afgørende: godkendt",
		},
		{
			name: "two_two_tie_waits_for_last_vote_open", rules: board(four, "anna"), proposer: "ulla",
			votes: votes("anna", approve, "bo", approve, "carl", reject),
			want:  domain.TallyResult{Counts: counts(2, 1, 0), Entitled: 4, Voted: 3, QuorumNeeded: 3},
		},
		{
			name: "two_two_tie_chair_decides_approve", rules: board(four, "anna"), proposer: "ulla",
			votes: votes("anna", approve, "bo", approve, "carl", reject, "dorte", reject),
			want: domain.TallyResult{Decided: true, Outcome: approve, Basis: domain.BasisChairCastingVote,
				Counts: counts(2, 2, 0), Entitled: 4, Voted: 4, QuorumNeeded: 3},
			say: "Stemmelighed",
		},
		{
			name: "two_two_tie_chair_on_losing_side_decides_reject", rules: board(four, "anna"), proposer: "ulla",
			votes: votes("bo", approve, "carl", approve, "anna", reject, "dorte", reject),
			want: domain.TallyResult{Decided: true, Outcome: reject, Basis: domain.BasisChairCastingVote,
				Counts: counts(2, 2, 0), Entitled: 4, Voted: 4, QuorumNeeded: 3},
		},
		{
			name: "plurality_without_majority_request_changes", rules: board(four, "anna"), proposer: "ulla",
			votes: votes("anna", changes, "bo", approve, "carl", approve, "dorte", reject),
			want: domain.TallyResult{Decided: true, Outcome: changes, Basis: domain.BasisNoMajority,
				Counts: counts(2, 1, 1), Entitled: 4, Voted: 4, QuorumNeeded: 3},
			say: "Intet udfald fik flertal",
		},
		{
			name: "tie_with_recused_chair_request_changes", rules: board(five, "anna", "anna"), proposer: "ulla",
			votes: votes("bo", approve, "carl", approve, "dorte", reject, "erik", reject),
			want: domain.TallyResult{Decided: true, Outcome: changes, Basis: domain.BasisNoMajority,
				Counts: counts(2, 2, 0), Entitled: 4, Voted: 4, QuorumNeeded: 3, Recused: []string{"anna"}},
		},
		{
			name: "recusal_makes_two_entitled_one_vote_open", rules: board(board3.Members, "anna", "carl"), proposer: "ulla",
			votes: votes("anna", approve),
			want: domain.TallyResult{Counts: counts(1, 0, 0), Entitled: 2, Voted: 1, QuorumNeeded: 2,
				Recused: []string{"carl"}},
		},
		{
			name: "recusal_split_chair_decides_approve", rules: board(board3.Members, "anna", "carl"), proposer: "ulla",
			votes: votes("anna", approve, "bo", reject),
			want: domain.TallyResult{Decided: true, Outcome: approve, Basis: domain.BasisChairCastingVote,
				Counts: counts(1, 1, 0), Entitled: 2, Voted: 2, QuorumNeeded: 2, Recused: []string{"carl"}},
		},
		{
			name: "proposer_on_board_not_entitled_two_approve", rules: board3, proposer: "bo",
			votes: votes("anna", approve, "carl", approve),
			want: domain.TallyResult{Decided: true, Outcome: approve, Basis: domain.BasisMajority,
				Counts: counts(2, 0, 0), Entitled: 2, Voted: 2, QuorumNeeded: 2, Recused: []string{"bo"}},
		},
		{
			name: "board_of_one_reject", rules: board([]string{"anna"}, "anna"), proposer: "ulla",
			votes: votes("anna", reject),
			want: domain.TallyResult{Decided: true, Outcome: reject, Basis: domain.BasisMajority,
				Counts: counts(0, 1, 0), Entitled: 1, Voted: 1, QuorumNeeded: 1},
		},
		{
			name: "board_of_one_without_chair_approve", rules: board([]string{"anna"}, ""), proposer: "ulla",
			votes: votes("anna", approve),
			want: domain.TallyResult{Decided: true, Outcome: approve, Basis: domain.BasisMajority,
				Counts: counts(1, 0, 0), Entitled: 1, Voted: 1, QuorumNeeded: 1},
		},
		{
			name: "board_of_one_proposing_nobody_entitled_open", rules: board([]string{"anna"}, "anna"), proposer: "anna",
			want: domain.TallyResult{Counts: counts(0, 0, 0), QuorumNeeded: 1, Recused: []string{"anna"}},
			say:  "kan ikke afgøres ved afstemning",
		},
		{
			name: "five_three_approve_early", rules: board(five, "anna"), proposer: "ulla",
			votes: votes("bo", approve, "carl", approve, "dorte", approve),
			want: domain.TallyResult{Decided: true, Outcome: approve, Basis: domain.BasisMajority, Early: true,
				Counts: counts(3, 0, 0), Entitled: 5, Voted: 3, QuorumNeeded: 3},
			say: "De 2 manglende stemmer kan ikke ændre udfaldet",
		},
		{
			name: "five_two_approve_one_reject_open", rules: board(five, "anna"), proposer: "ulla",
			votes: votes("bo", approve, "carl", approve, "dorte", reject),
			want:  domain.TallyResult{Counts: counts(2, 1, 0), Entitled: 5, Voted: 3, QuorumNeeded: 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := domain.Tally(tt.rules, tt.proposer, tt.votes)
			if err != nil {
				t.Fatalf("Tally: %v", err)
			}
			if d := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(domain.TallyResult{}, "Explanation")); d != "" {
				t.Errorf("Tally (-want +got):\n%s", d)
			}
			if !strings.Contains(got.Explanation, tt.say) {
				t.Errorf("Explanation = %q, want it to contain %q", got.Explanation, tt.say)
			}
		})
	}
}

func TestTallyRefuses(t *testing.T) {
	tests := []struct {
		name     string
		rules    domain.BoardRules
		proposer string
		votes    []domain.Vote
		code     domain.Code
		say      string
	}{
		{"non_member_forbidden", board3, "ulla", votes("xena", approve), domain.CodeForbidden, "ikke medlem"},
		{"recused_member_forbidden", board(board3.Members, "anna", "carl"), "ulla", votes("carl", approve),
			domain.CodeForbidden, "inhabil"},
		{"proposer_forbidden", board3, "bo", votes("bo", approve), domain.CodeForbidden, "stillet forslaget"},
		{"proposer_with_conflict_forbidden", board(board3.Members, "anna", "bo"), "bo", votes("bo", approve),
			domain.CodeForbidden, "stillet forslaget"},
		{"duplicate_vote_conflict", board3, "ulla", votes("anna", approve, "anna", reject), domain.CodeConflict,
			"allerede stemt"},
		{"late_vote_after_early_decision_conflict", board3, "ulla", votes("anna", approve, "bo", approve, "carl", reject),
			domain.CodeConflict, "allerede afgjort (godkendt)"},
		{"unknown_outcome_validation", board3, "ulla", votes("anna", domain.Outcome("abstain")), domain.CodeValidation,
			"Ukendt stemme"},
		{"chair_not_member_validation", board(board3.Members, "xena"), "ulla", nil, domain.CodeValidation, "Formanden"},
		{"no_members_validation", board(nil, ""), "ulla", nil, domain.CodeValidation, "ingen medlemmer"},
		{"duplicate_member_validation", board([]string{"anna", "anna"}, "anna"), "ulla", nil, domain.CodeValidation,
			"to gange"},
		{"unknown_decision_rule_validation", domain.BoardRules{Members: []string{"anna"}, Decision: "unanimity"}, "ulla",
			nil, domain.CodeValidation, "beslutningsregel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := domain.Tally(tt.rules, tt.proposer, tt.votes)
			var re *domain.RuleError
			if !errors.As(err, &re) {
				t.Fatalf("Tally error = %v, want a *RuleError", err)
			}
			if re.Code != tt.code || !strings.Contains(re.Message, tt.say) {
				t.Errorf("Tally error = %s %q, want %s containing %q", re.Code, re.Message, tt.code, tt.say)
			}
		})
	}
}

func TestCheckVote(t *testing.T) {
	tests := []struct {
		name string
		cast []domain.Vote
		v    domain.Vote
		code domain.Code // empty: accepted
	}{
		{"first_vote_accepted", nil, domain.Vote{MemberID: "anna", Outcome: reject}, ""},
		{"second_vote_accepted", votes("anna", approve), domain.Vote{MemberID: "bo", Outcome: reject}, ""},
		{"retry_of_same_vote_conflict", votes("anna", approve), domain.Vote{MemberID: "anna", Outcome: approve},
			domain.CodeConflict},
		{"vote_after_decision_conflict", votes("anna", approve, "bo", approve),
			domain.Vote{MemberID: "carl", Outcome: reject}, domain.CodeConflict},
		{"outsider_forbidden", nil, domain.Vote{MemberID: "xena", Outcome: approve}, domain.CodeForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := domain.CheckVote(board3, "ulla", tt.cast, tt.v)
			var re *domain.RuleError
			switch {
			case tt.code == "" && err != nil:
				t.Errorf("CheckVote = %v, want accepted", err)
			case tt.code != "" && (!errors.As(err, &re) || re.Code != tt.code):
				t.Errorf("CheckVote = %v, want code %s", err, tt.code)
			}
		})
	}
}

func TestTallyClosed(t *testing.T) {
	tests := []struct {
		name  string
		votes []domain.Vote
		want  domain.TallyResult
		say   string
	}{
		{
			name:  "meeting_two_present_tie_chair_decides_approve",
			votes: votes("bo", reject, "anna", approve),
			want: domain.TallyResult{Decided: true, Outcome: approve, Basis: domain.BasisChairCastingVote,
				Counts: counts(1, 1, 0), Entitled: 3, Voted: 2, QuorumNeeded: 2},
		},
		{
			name:  "meeting_one_present_not_quorate",
			votes: votes("anna", approve),
			want:  domain.TallyResult{Counts: counts(1, 0, 0), Entitled: 3, Voted: 1, QuorumNeeded: 2},
			say:   "ikke beslutningsdygtig",
		},
		{
			name:  "meeting_all_vote_together_approve",
			votes: votes("anna", approve, "bo", approve, "carl", reject),
			want: domain.TallyResult{Decided: true, Outcome: approve, Basis: domain.BasisMajority,
				Counts: counts(2, 1, 0), Entitled: 3, Voted: 3, QuorumNeeded: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := domain.TallyClosed(board3, "ulla", tt.votes)
			if err != nil {
				t.Fatalf("TallyClosed: %v", err)
			}
			if d := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(domain.TallyResult{}, "Explanation")); d != "" {
				t.Errorf("TallyClosed (-want +got):\n%s", d)
			}
			if !strings.Contains(got.Explanation, tt.say) {
				t.Errorf("Explanation = %q, want it to contain %q", got.Explanation, tt.say)
			}
		})
	}
}

// TestTallyOrderDoesNotChangeDecision: members voting "at the same instant" are serialised in some order; every
// order of the same votes must give the same decision, or the order would decide.
func TestTallyOrderDoesNotChangeDecision(t *testing.T) {
	rules := board([]string{"anna", "bo", "carl", "dorte"}, "anna")
	all := votes("anna", approve, "bo", reject, "carl", reject, "dorte", approve)
	closed, err := domain.TallyClosed(rules, "ulla", all)
	if err != nil {
		t.Fatal(err)
	}
	perms := [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}, {1, 2, 0, 3}, {2, 1, 3, 0}, {1, 3, 2, 0}}
	for _, p := range perms {
		var vs []domain.Vote
		for _, i := range p {
			vs = append(vs, all[i])
		}
		got, err := domain.Tally(rules, "ulla", vs)
		if err != nil {
			t.Fatalf("order %v: %v", p, err)
		}
		if !got.Decided || got.Outcome != closed.Outcome {
			t.Errorf("order %v: decided=%v outcome=%s, want %s", p, got.Decided, got.Outcome, closed.Outcome)
		}
	}
}
