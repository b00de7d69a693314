package service

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/workflows"
)

var (
	lars  = store.Principal{UserID: "bs-lars", Name: "Lars Bach", Roles: map[string]domain.Role{planViborg: domain.RoleBoard}}
	sofie = store.Principal{UserID: "bs-sofie", Name: "Sofie Lund", Roles: map[string]domain.Role{planViborg: domain.RoleBoard}}
	// bent has the board role in the plan but is not on the board on record.
	bent = store.Principal{UserID: "bs-bent", Name: "Bent Ravn", Roles: map[string]domain.Role{planViborg: domain.RoleBoard}}
)

// boardPlan is the Viborg plan's rules with a board of three, Hanne in the chair, and chairAlone as its rule
// (nil: the default, milestone reports).
func boardPlan(chairAlone []domain.MatterKind) domain.Plan {
	return domain.Plan{ID: planViborg, Settings: domain.PlanSettings{BoardQuorum: 1},
		Board: &domain.Board{Version: 1, Members: []string{hanne.UserID, lars.UserID, sofie.UserID}, Chair: hanne.UserID,
			ChairAlone: chairAlone}}
}

func boardState(phase domain.Phase, change func(in *domain.Initiative)) domain.Initiative {
	in := testInitiative(iniViborg, planViborg)
	in.Phase = phase
	at := t0.Add(time.Hour)
	if phase.Approved() {
		m := &in.Milestones[0]
		m.TrancheStatus, m.DisbursementID, m.ReleasedAt, m.PaidAt = domain.TranchePaid, domain.DisbursementID(in.ID, 1), &at, &at
		m.Report = &domain.Report{Summary: "Åbnet", Actor: in.Proposer, At: at}
	}
	if change != nil {
		change(&in)
	}
	return in
}

func ballot(p store.Principal, matter string, o domain.Outcome, comment string) domain.Ballot {
	return domain.Ballot{Matter: matter, Revision: 1, Actor: actor(p, domain.RoleBoard), Outcome: o, Comment: comment,
		At: t0.Add(2 * time.Hour)}
}

// With a board on record, the votes follow its rules: members vote, once per round; a member with a conflict
// or who proposed the initiative does not; where the chair decides alone only the chair does; the chair and the
// secretariat record a meeting's votes on the matters the board votes on.
func TestAllowed_withABoard(t *testing.T) {
	decide := Action{Kind: ActDecide, Matter: domain.MatterProposal}
	conflict, cancel := Action{Kind: ActDeclareConflict}, Action{Kind: ActProposeCancel}
	meeting := func(m domain.MatterKind, no int) Action {
		return Action{Kind: ActMeetingDecision, Matter: m, Milestone: no}
	}
	acceptMS := Action{Kind: ActAcceptMilestone, Matter: domain.MatterMilestone, Milestone: 1}
	returnMS := Action{Kind: ActReturnMilestone, Matter: domain.MatterMilestone, Milestone: 1}
	voteCancel := Action{Kind: ActVoteCancel, Matter: domain.MatterCancellation}
	milestoneKey := domain.MatterKey(domain.MatterMilestone, 1, 1)
	reqChange := Action{Kind: ActRequestChange}

	tests := []struct {
		name string
		in   domain.Initiative
		plan domain.Plan
		want map[string][]Action
	}{
		{"proposal_every_member_votes", boardState(domain.PhaseBoardReview, nil), boardPlan(nil), map[string][]Action{
			hanne.UserID: {decide, conflict, meeting(domain.MatterProposal, 0)}, lars.UserID: {decide, conflict},
			sofie.UserID: {decide, conflict}, karen.UserID: {meeting(domain.MatterProposal, 0)},
			mette.UserID: {{Kind: ActWithdraw}}}},
		{"proposal_member_with_a_conflict_does_not_vote", boardState(domain.PhaseBoardReview, func(in *domain.Initiative) {
			in.Conflicts = []domain.Conflict{{UserID: lars.UserID, Name: lars.Name, Reason: "Min bror søger", At: t0}}
		}), boardPlan(nil), map[string][]Action{
			hanne.UserID: {decide, conflict, meeting(domain.MatterProposal, 0)}, sofie.UserID: {decide, conflict},
			karen.UserID: {meeting(domain.MatterProposal, 0)}, mette.UserID: {{Kind: ActWithdraw}}}},
		{"proposal_member_who_voted_votes_no_more", boardState(domain.PhaseBoardReview, func(in *domain.Initiative) {
			in.Ballots = []domain.Ballot{ballot(sofie, "", domain.OutcomeApprove, "")}
		}), boardPlan(nil), map[string][]Action{
			hanne.UserID: {decide, conflict, meeting(domain.MatterProposal, 0)}, lars.UserID: {decide, conflict},
			sofie.UserID: {conflict}, karen.UserID: {meeting(domain.MatterProposal, 0)}, mette.UserID: {{Kind: ActWithdraw}}}},
		{"proposal_by_a_board_member_who_may_not_vote_on_it", boardState(domain.PhaseBoardReview, func(in *domain.Initiative) {
			in.Proposer = actor(lars, domain.RoleBoard)
		}), boardPlan(nil), map[string][]Action{
			hanne.UserID: {decide, conflict, meeting(domain.MatterProposal, 0)}, lars.UserID: {conflict},
			sofie.UserID: {decide, conflict}, karen.UserID: {meeting(domain.MatterProposal, 0)}}},
		{"milestone_report_the_chair_decides_alone", boardState(domain.PhaseExecuting, nil), boardPlan(nil), map[string][]Action{
			hanne.UserID: {acceptMS, returnMS, cancel, conflict}, lars.UserID: {cancel, conflict},
			sofie.UserID: {cancel, conflict}, karen.UserID: {reqChange, cancel}, mette.UserID: {reqChange}}},
		{"milestone_report_the_board_votes_on_everything", boardState(domain.PhaseExecuting, nil), boardPlan([]domain.MatterKind{}),
			map[string][]Action{
				hanne.UserID: {acceptMS, returnMS, cancel, conflict, meeting(domain.MatterMilestone, 1)},
				lars.UserID:  {acceptMS, returnMS, cancel, conflict}, sofie.UserID: {acceptMS, returnMS, cancel, conflict},
				karen.UserID: {reqChange, cancel, meeting(domain.MatterMilestone, 1)}, mette.UserID: {reqChange}}},
		{"milestone_report_sent_back_once_is_a_new_round", boardState(domain.PhaseExecuting, func(in *domain.Initiative) {
			// Lars voted in round 1; the report came back and round 2 is open.
			in.Ballots = []domain.Ballot{ballot(lars, milestoneKey, domain.OutcomeRequestChanges, "Tal mangler")}
			in.Milestones[0].Returned = []domain.ReturnedReport{{Summary: "Første udgave", Comment: "Tal mangler", At: t0}}
		}), boardPlan([]domain.MatterKind{}), map[string][]Action{
			hanne.UserID: {acceptMS, returnMS, cancel, conflict, meeting(domain.MatterMilestone, 1)},
			lars.UserID:  {acceptMS, returnMS, cancel, conflict}, sofie.UserID: {acceptMS, returnMS, cancel, conflict},
			karen.UserID: {reqChange, cancel, meeting(domain.MatterMilestone, 1)}, mette.UserID: {reqChange}}},
		{"cancellation_open", boardState(domain.PhaseExecuting, func(in *domain.Initiative) {
			in.Milestones[0].Report = nil
			in.Cancellation = &domain.Cancellation{Round: 1, Reason: "Ingen deltagere", ProposedBy: actor(karen, domain.RoleAdmin), ProposedAt: t0}
		}), boardPlan(nil), map[string][]Action{
			hanne.UserID: {voteCancel, conflict, meeting(domain.MatterCancellation, 0)}, lars.UserID: {voteCancel, conflict},
			sofie.UserID: {voteCancel, conflict}, karen.UserID: {meeting(domain.MatterCancellation, 0)},
			mette.UserID: {{Kind: ActReportMilestone, Milestone: 1}}, jonas.UserID: {{Kind: ActReportMilestone, Milestone: 1}}}},
		{"cancellation_refused_may_be_proposed_again", boardState(domain.PhaseExecuting, func(in *domain.Initiative) {
			in.Milestones[0].Report = nil
			in.Cancellation = &domain.Cancellation{Round: 1, Decided: true, Outcome: domain.OutcomeReject}
		}), boardPlan(nil), map[string][]Action{
			hanne.UserID: {cancel, conflict}, lars.UserID: {cancel, conflict}, sofie.UserID: {cancel, conflict},
			karen.UserID: {reqChange, cancel}, mette.UserID: {{Kind: ActReportMilestone, Milestone: 1}, reqChange},
			jonas.UserID: {{Kind: ActReportMilestone, Milestone: 1}}}},
		{"member_with_a_conflict_proposes_no_cancellation", boardState(domain.PhaseFunding, func(in *domain.Initiative) {
			in.Milestones[0].TrancheStatus, in.Milestones[0].PaidAt, in.Milestones[0].Report = domain.TrancheReleased, nil, nil
			in.Conflicts = []domain.Conflict{{UserID: hanne.UserID, Name: hanne.Name, Reason: "Ansat i boligselskabet"}}
		}), boardPlan(nil), map[string][]Action{
			lars.UserID: {cancel, conflict}, sofie.UserID: {cancel, conflict}, karen.UserID: {reqChange, cancel},
			mette.UserID: {reqChange},
			peter.UserID: {{Kind: ActConfirmPayment, Milestone: 1, DisbursementID: domain.DisbursementID(iniViborg, 1)}}}},
	}
	users := []store.Principal{mette, jonas, hanne, lars, sofie, bent, peter, karen}
	for _, tt := range tests {
		for _, p := range users {
			t.Run(tt.name+"/"+p.UserID, func(t *testing.T) {
				got := Allowed(p, tt.in, tt.plan)
				if diff := cmp.Diff(tt.want[p.UserID], got); diff != "" {
					t.Fatalf("Allowed (-want +got):\n%s", diff)
				}
				fx := newFixture(t)
				fx.st.initiatives[tt.in.ID] = tt.in
				for _, a := range got {
					if a.Kind == ActConfirmPayment {
						continue
					}
					if _, err := fx.svc.Begin(context.Background(), p, tt.in.ID, a.Kind); err != nil {
						t.Errorf("%s is offered but Begin refuses it: %v", a.Kind, err)
					}
				}
			})
		}
	}
}

// OpenRounds says, per open matter, who may vote, who voted what, who is recused and why, and the quorum.
func TestOpenRounds(t *testing.T) {
	status := func(r Round) map[string]MemberStatus {
		out := map[string]MemberStatus{}
		for _, m := range r.Members {
			out[m.UserID] = m.Status
		}
		return out
	}
	t.Run("proposal_with_a_conflict_and_a_vote", func(t *testing.T) {
		in := boardState(domain.PhaseBoardReview, func(in *domain.Initiative) {
			in.Conflicts = []domain.Conflict{{UserID: lars.UserID, Name: lars.Name, Reason: "Min bror søger"}}
			in.Ballots = []domain.Ballot{ballot(sofie, "", domain.OutcomeRequestChanges, "Uddyb budgettet")}
		})
		rounds := OpenRounds(in, boardPlan(nil))
		if len(rounds) != 1 || rounds[0].Matter != domain.MatterProposal || rounds[0].Key != "" {
			t.Fatalf("rounds %+v, want the proposal", rounds)
		}
		r := rounds[0]
		want := map[string]MemberStatus{hanne.UserID: MemberMayVote, lars.UserID: MemberRecused, sofie.UserID: MemberVoted}
		if diff := cmp.Diff(want, status(r)); diff != "" {
			t.Errorf("statuses (-want +got):\n%s", diff)
		}
		l := r.Member(lars.UserID, domain.RoleBoard)
		if l.Recused != RecusedConflict || l.ConflictReason != "Min bror søger" || l.Name != "Lars Bach" ||
			!strings.Contains(l.Reason, "inhabil") {
			t.Errorf("Lars = %+v, want recused for his conflict, with its reason", l)
		}
		s := r.Member(sofie.UserID, domain.RoleBoard)
		if s.Ballot == nil || s.Ballot.Comment != "Uddyb budgettet" || s.Name != "Sofie Lund" {
			t.Errorf("Sofie = %+v, want her vote with its comment", s)
		}
		// Two entitled (Lars is recused): quorate with 2 votes; 1 has voted.
		if r.Entitled != 2 || r.QuorumNeeded != 2 || r.Tally.Voted != 1 || !strings.HasPrefix(r.Explanation, "Afstemningen er åben") {
			t.Errorf("entitled %d, quorum %d, voted %d, %q", r.Entitled, r.QuorumNeeded, r.Tally.Voted, r.Explanation)
		}
		if b := r.Member(bent.UserID, domain.RoleBoard); b.Status != MemberNotOnBoard {
			t.Errorf("a board-role user not on the board: %+v", b)
		}
		if r.Step.Deadline != domain.NewDate(2024, 3, 22) {
			t.Errorf("deadline %s, want 15 business days after 1 March 2024", r.Step.Deadline)
		}
	})
	t.Run("milestone_report_the_chair_decides_alone", func(t *testing.T) {
		rounds := OpenRounds(boardState(domain.PhaseExecuting, nil), boardPlan(nil))
		if len(rounds) != 1 || rounds[0].Matter != domain.MatterMilestone || rounds[0].No != 1 || !rounds[0].ChairAlone ||
			rounds[0].Key != "milestone/1/1" {
			t.Fatalf("rounds %+v, want milestone 1 round 1, the chair alone", rounds)
		}
		want := map[string]MemberStatus{hanne.UserID: MemberMayVote, lars.UserID: MemberChairDecides, sofie.UserID: MemberChairDecides}
		if diff := cmp.Diff(want, status(rounds[0])); diff != "" {
			t.Errorf("statuses (-want +got):\n%s", diff)
		}
		if m := rounds[0].Member(hanne.UserID, domain.RoleBoard); !m.Chair {
			t.Error("Hanne is not marked as the chair")
		}
	})
	t.Run("legacy_without_a_board", func(t *testing.T) {
		in := boardState(domain.PhaseBoardReview, func(in *domain.Initiative) {
			in.Ballots = []domain.Ballot{ballot(hanne, "", domain.OutcomeApprove, "")}
		})
		r := OpenRounds(in, domain.Plan{Settings: domain.PlanSettings{BoardQuorum: 2}})[0]
		if r.Voting || r.QuorumNeeded != 2 {
			t.Errorf("voting %v, quorum %d; want the legacy count of 2", r.Voting, r.QuorumNeeded)
		}
		if m := r.Member(lars.UserID, domain.RoleBoard); m.Status != MemberMayVote {
			t.Errorf("Lars: %+v, want may vote (any board member without a board on record)", m)
		}
		if m := r.Member(hanne.UserID, domain.RoleBoard); m.Status != MemberVoted {
			t.Errorf("Hanne: %+v, want voted", m)
		}
		if m := r.Member(mette.UserID, domain.RoleOperationalGroup); m.Status != MemberNotOnBoard {
			t.Errorf("Mette: %+v, want not on the board", m)
		}
	})
	t.Run("terminal_initiative_has_none", func(t *testing.T) {
		if r := OpenRounds(boardState(domain.PhaseCompleted, nil), boardPlan(nil)); len(r) != 0 {
			t.Errorf("rounds %+v", r)
		}
	})
}

// Votes and the board's other actions check what they can before anything is sent: the matter, the milestone,
// the text a send-back, a conflict, a cancellation or a meeting cannot do without.
func TestBoardActions_refuseBadInputBeforeTheWorkflow(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		p     store.Principal
		kind  ActionKind
		run   func(s *Service, tg *Target) error
		field string
	}{
		{"unknown_matter", hanne, ActDecide, func(s *Service, tg *Target) error {
			_, err := s.CastVote(ctx, tg, Vote{Matter: "budget", Outcome: domain.OutcomeApprove}, Idem{})
			return err
		}, "matter"},
		{"number_on_a_change", hanne, ActDecide, func(s *Service, tg *Target) error {
			_, err := s.CastVote(ctx, tg, Vote{Matter: domain.MatterChange, No: 1, Outcome: domain.OutcomeApprove}, Idem{})
			return err
		}, "milestone_no"},
		{"milestone_without_number", hanne, ActDecide, func(s *Service, tg *Target) error {
			_, err := s.CastVote(ctx, tg, Vote{Matter: domain.MatterMilestone, Outcome: domain.OutcomeApprove}, Idem{})
			return err
		}, "milestone_no"},
		{"number_on_the_proposal", hanne, ActDecide, func(s *Service, tg *Target) error {
			_, err := s.CastVote(ctx, tg, Vote{No: 2, Outcome: domain.OutcomeApprove}, Idem{})
			return err
		}, "milestone_no"},
		{"return_milestone_without_comment", hanne, ActReturnMilestone, func(s *Service, tg *Target) error {
			_, err := s.ReturnMilestone(ctx, tg, 1, "  ", Idem{})
			return err
		}, "comment"},
		{"return_evaluation_without_comment", hanne, ActReturnEvaluation, func(s *Service, tg *Target) error {
			_, err := s.ReturnEvaluation(ctx, tg, "", Idem{})
			return err
		}, "comment"},
		{"conflict_without_reason", hanne, ActDeclareConflict, func(s *Service, tg *Target) error {
			_, err := s.DeclareConflict(ctx, tg, "", Idem{})
			return err
		}, "reason"},
		{"cancel_without_reason", karen, ActProposeCancel, func(s *Service, tg *Target) error {
			_, err := s.ProposeCancel(ctx, tg, "\n", Idem{})
			return err
		}, "reason"},
		{"meeting_without_id", karen, ActMeetingDecision, func(s *Service, tg *Target) error {
			_, err := s.MeetingDecision(ctx, tg, MeetingVotes{Votes: []workflows.MeetingVote{{MemberID: hanne.UserID,
				Outcome: domain.OutcomeApprove}}}, Idem{})
			return err
		}, "meeting_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			tg, err := fx.svc.Begin(ctx, tt.p, iniViborg, tt.kind)
			if err != nil {
				t.Fatal(err)
			}
			err = tt.run(fx.svc, tg)
			var re *domain.RuleError
			if ruleCode(err) != domain.CodeValidation || !asRuleError(err, &re) || len(re.Problems) != 1 ||
				re.Problems[0].Field != tt.field {
				t.Fatalf("err %v, want a validation problem on %s", err, tt.field)
			}
			if len(fx.wf.updates) != 0 {
				t.Errorf("the refused input reached the workflow: %+v", fx.wf.updates)
			}
		})
	}
	t.Run("vote_with_another_matters_target_is_a_programming_error", func(t *testing.T) {
		fx := newFixture(t)
		tg, _ := fx.svc.Begin(ctx, hanne, iniViborg, ActAcceptMilestone)
		_, err := fx.svc.CastVote(ctx, tg, Vote{Matter: domain.MatterEvaluation, Outcome: domain.OutcomeApprove}, Idem{})
		if err == nil || ruleCode(err) != "" || len(fx.wf.updates) != 0 {
			t.Fatalf("err %v with %d updates, want a programming error and none", err, len(fx.wf.updates))
		}
	})
}

func asRuleError(err error, re **domain.RuleError) bool {
	r, ok := err.(*domain.RuleError)
	if ok {
		*re = r
	}
	return ok
}
