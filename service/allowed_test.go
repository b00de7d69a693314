package service

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

// Allowed offers exactly the actions the workflow would accept now, per phase and role: the proposer versus
// another member of the operational group, the board, finance and the secretariat (admin).
func TestAllowed(t *testing.T) {
	lars := store.Principal{UserID: "bs-lars", Name: "Lars Bach", Roles: map[string]domain.Role{planViborg: domain.RoleBoard}}
	at := t0.Add(time.Hour)
	state := func(phase domain.Phase, change func(in *domain.Initiative)) domain.Initiative {
		in := testInitiative(iniViborg, planViborg)
		in.Phase = phase
		if change != nil {
			change(&in)
		}
		return in
	}
	released := func(in *domain.Initiative) {
		in.Milestones[0].TrancheStatus = domain.TrancheReleased
		in.Milestones[0].DisbursementID = domain.DisbursementID(in.ID, 1)
		in.Milestones[0].ReleasedAt = &at
	}
	paid := func(in *domain.Initiative) {
		released(in)
		in.Milestones[0].TrancheStatus = domain.TranchePaid
		in.Milestones[0].PaidAt = &at
		in.Milestones[0].PaymentReference = "BANK-1"
	}
	reported := func(in *domain.Initiative) {
		paid(in)
		in.Milestones[0].Report = &domain.Report{Summary: "Åbnet", Actor: in.Proposer, At: at}
	}
	accepted := func(in *domain.Initiative) {
		reported(in)
		in.Milestones[0].AcceptedBy = &domain.Actor{UserID: hanne.UserID, Role: domain.RoleBoard}
		in.Milestones[0].AcceptedAt = &at
	}
	evaluated := func(in *domain.Initiative) {
		accepted(in)
		in.Evaluation = &domain.Evaluation{Summary: "Nået", SubmittedBy: in.Proposer, SubmittedAt: at,
			Results: []domain.GoalResult{{GoalID: "g1", Achieved: true, Result: "41"}}}
	}
	act := func(k ActionKind) Action { return Action{Kind: k} }
	confirm1 := Action{Kind: ActConfirmPayment, Milestone: 1, DisbursementID: domain.DisbursementID(iniViborg, 1)}
	decide := Action{Kind: ActDecide, Matter: domain.MatterProposal}
	conflict, cancel := act(ActDeclareConflict), act(ActProposeCancel)
	acceptMS := Action{Kind: ActAcceptMilestone, Matter: domain.MatterMilestone, Milestone: 1}
	returnMS := Action{Kind: ActReturnMilestone, Matter: domain.MatterMilestone, Milestone: 1}
	acceptEval := Action{Kind: ActAcceptEvaluation, Matter: domain.MatterEvaluation}
	returnEval := Action{Kind: ActReturnEvaluation, Matter: domain.MatterEvaluation}
	change := act(ActRequestChange)
	voteChange := Action{Kind: ActVoteChange, Matter: domain.MatterChange, Change: 1}
	openChange := func(status domain.ChangeStatus) func(in *domain.Initiative) {
		return func(in *domain.Initiative) {
			paid(in)
			in.Changes = []domain.Change{{No: 1, Reason: "Flyt en rate", RequestedBy: in.Proposer, RequestedAt: at,
				Budget: in.Proposal.Budget, Milestones: in.Proposal.Milestones, Status: status}}
		}
	}

	// The plan has no board on record (legacy): any board member votes once per round.
	tests := []struct {
		name string
		in   domain.Initiative
		want map[string][]Action // by user ID; users not named may do nothing
	}{
		{"board_review", state(domain.PhaseBoardReview, nil), map[string][]Action{
			hanne.UserID: {decide, conflict}, lars.UserID: {decide, conflict}, mette.UserID: {act(ActWithdraw)}}},
		{"board_review_after_hannes_ballot", state(domain.PhaseBoardReview, func(in *domain.Initiative) {
			in.Ballots = []domain.Ballot{{Revision: 1, Actor: domain.Actor{UserID: hanne.UserID, Role: domain.RoleBoard},
				Outcome: domain.OutcomeApprove, At: at}}
		}), map[string][]Action{hanne.UserID: {conflict}, lars.UserID: {decide, conflict}, mette.UserID: {act(ActWithdraw)}}},
		{"board_review_after_lars_declared_a_conflict", state(domain.PhaseBoardReview, func(in *domain.Initiative) {
			in.Conflicts = []domain.Conflict{{UserID: lars.UserID, Name: lars.Name, Reason: "Nabo", At: at}}
		}), map[string][]Action{hanne.UserID: {decide, conflict}, mette.UserID: {act(ActWithdraw)}}},
		{"changes_requested", state(domain.PhaseChangesRequested, nil), map[string][]Action{
			mette.UserID: {act(ActResubmit), act(ActWithdraw)}, karen.UserID: {act(ActResubmit)},
			hanne.UserID: {conflict}, lars.UserID: {conflict}}},
		{"changes_requested_at_last_revision", state(domain.PhaseChangesRequested, func(in *domain.Initiative) {
			in.Revision = domain.MaxRevisions
		}), map[string][]Action{mette.UserID: {act(ActWithdraw)}, hanne.UserID: {conflict}, lars.UserID: {conflict}}},
		{"rejected", state(domain.PhaseRejected, nil), nil},
		{"withdrawn", state(domain.PhaseWithdrawn, nil), nil},
		{"funding", state(domain.PhaseFunding, released), map[string][]Action{peter.UserID: {confirm1},
			mette.UserID: {change}, hanne.UserID: {cancel, conflict}, lars.UserID: {cancel, conflict},
			karen.UserID: {change, cancel}}},
		{"executing", state(domain.PhaseExecuting, paid), map[string][]Action{
			mette.UserID: {{Kind: ActReportMilestone, Milestone: 1}, change}, jonas.UserID: {{Kind: ActReportMilestone, Milestone: 1}},
			hanne.UserID: {cancel, conflict}, lars.UserID: {cancel, conflict}, karen.UserID: {change, cancel}}},
		{"executing_reported", state(domain.PhaseExecuting, reported), map[string][]Action{
			mette.UserID: {change}, hanne.UserID: {acceptMS, returnMS, cancel, conflict},
			lars.UserID: {acceptMS, returnMS, cancel, conflict}, karen.UserID: {change, cancel}}},
		{"executing_with_a_change_to_vote_on", state(domain.PhaseExecuting, openChange(domain.ChangeVoting)),
			map[string][]Action{
				mette.UserID: {{Kind: ActReportMilestone, Milestone: 1}}, jonas.UserID: {{Kind: ActReportMilestone, Milestone: 1}},
				hanne.UserID: {voteChange, cancel, conflict}, lars.UserID: {voteChange, cancel, conflict},
				karen.UserID: {cancel}}},
		{"executing_with_a_change_awaiting_lbf", state(domain.PhaseExecuting, openChange(domain.ChangeAwaitingLBF)),
			map[string][]Action{
				mette.UserID: {{Kind: ActReportMilestone, Milestone: 1}}, jonas.UserID: {{Kind: ActReportMilestone, Milestone: 1}},
				hanne.UserID: {cancel, conflict}, lars.UserID: {cancel, conflict},
				karen.UserID: {{Kind: ActRecordLBF, Change: 1}, cancel}}},
		{"executing_after_a_change_was_applied", state(domain.PhaseExecuting, openChange(domain.ChangeApplied)),
			map[string][]Action{
				mette.UserID: {{Kind: ActReportMilestone, Milestone: 1}, change}, jonas.UserID: {{Kind: ActReportMilestone, Milestone: 1}},
				hanne.UserID: {cancel, conflict}, lars.UserID: {cancel, conflict}, karen.UserID: {change, cancel}}},
		{"executing_with_a_cancellation_open", state(domain.PhaseExecuting, func(in *domain.Initiative) {
			paid(in)
			in.Cancellation = &domain.Cancellation{Round: 1, Reason: "Ingen deltagere", ProposedBy: actor(karen, domain.RoleAdmin), ProposedAt: at}
		}), map[string][]Action{
			mette.UserID: {{Kind: ActReportMilestone, Milestone: 1}}, jonas.UserID: {{Kind: ActReportMilestone, Milestone: 1}},
			hanne.UserID: {{Kind: ActVoteCancel, Matter: domain.MatterCancellation}, conflict},
			lars.UserID:  {{Kind: ActVoteCancel, Matter: domain.MatterCancellation}, conflict}}},
		{"evaluation", state(domain.PhaseEvaluation, accepted), map[string][]Action{
			mette.UserID: {act(ActSubmitEvaluation)}, jonas.UserID: {act(ActSubmitEvaluation)},
			hanne.UserID: {cancel, conflict}, lars.UserID: {cancel, conflict}, karen.UserID: {cancel}}},
		{"evaluation_submitted", state(domain.PhaseEvaluation, evaluated), map[string][]Action{
			hanne.UserID: {acceptEval, returnEval, cancel, conflict}, lars.UserID: {acceptEval, returnEval, cancel, conflict},
			karen.UserID: {cancel}}},
		{"completed", state(domain.PhaseCompleted, evaluated), nil},
		{"cancelled", state(domain.PhaseCancelled, paid), nil},
	}
	users := []store.Principal{mette, jonas, hanne, lars, peter, karen, aarhus}
	for _, tt := range tests {
		for _, p := range users {
			t.Run(tt.name+"/"+p.UserID, func(t *testing.T) {
				got := Allowed(p, tt.in, domain.Plan{})
				if diff := cmp.Diff(tt.want[p.UserID], got); diff != "" {
					t.Fatalf("Allowed (-want +got):\n%s", diff)
				}
				// Whatever is offered also passes the service's own gate, so the button never leads to a refusal
				// of access or role.
				fx := newFixture(t)
				fx.st.initiatives[tt.in.ID] = tt.in
				for _, a := range got {
					var err error
					if a.Kind == ActConfirmPayment {
						_, err = fx.svc.BeginPayment(context.Background(), p, a.DisbursementID)
					} else {
						_, err = fx.svc.Begin(context.Background(), p, tt.in.ID, a.Kind)
					}
					if err != nil {
						t.Errorf("%s is offered but Begin refuses it: %v", a.Kind, err)
					}
					if !Allows(p, tt.in, domain.Plan{}, a.Kind) {
						t.Errorf("Allows(%s) = false for an offered action", a.Kind)
					}
				}
			})
		}
	}
}

// An offered action carried out with good input passes the workflow's rule; one not offered is refused by it
// with the Danish message the API gives.
func TestAllowed_agreesWithTheRules(t *testing.T) {
	in := testInitiative(iniViborg, planViborg)
	if Allows(mette, in, domain.Plan{}, ActDecide) {
		t.Fatal("the operational group is offered a decision")
	}
	err := domain.CheckBallot(&in, domain.Ballot{Revision: 1, Actor: actor(mette, domain.RoleOperationalGroup), Outcome: domain.OutcomeApprove})
	if ruleCode(err) != domain.CodeForbidden {
		t.Errorf("the rule says %v to the operational group's decision, want forbidden", err)
	}
	if !Allows(hanne, in, domain.Plan{}, ActDecide) {
		t.Fatal("the board is not offered the decision")
	}
	if err := domain.CheckBallot(&in, domain.Ballot{Revision: 1, Actor: actor(hanne, domain.RoleBoard), Outcome: domain.OutcomeApprove}); err != nil {
		t.Errorf("the rule refuses the offered decision: %v", err)
	}
}

func TestMayPropose(t *testing.T) {
	if err := MayPropose(mette, planViborg); err != nil {
		t.Errorf("operational group: %v", err)
	}
	for _, p := range []store.Principal{hanne, peter, karen} {
		if err := MayPropose(p, planViborg); ruleCode(err) != domain.CodeForbidden {
			t.Errorf("%s: %v, want forbidden", p.UserID, err)
		}
	}
}
