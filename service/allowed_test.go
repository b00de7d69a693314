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

	tests := []struct {
		name string
		in   domain.Initiative
		want map[string][]Action // by user ID; users not named may do nothing
	}{
		{"board_review", state(domain.PhaseBoardReview, nil), map[string][]Action{
			hanne.UserID: {act(ActDecide)}, lars.UserID: {act(ActDecide)}, mette.UserID: {act(ActWithdraw)}}},
		{"board_review_after_hannes_ballot", state(domain.PhaseBoardReview, func(in *domain.Initiative) {
			in.Ballots = []domain.Ballot{{Revision: 1, Actor: domain.Actor{UserID: hanne.UserID, Role: domain.RoleBoard},
				Outcome: domain.OutcomeApprove, At: at}}
		}), map[string][]Action{lars.UserID: {act(ActDecide)}, mette.UserID: {act(ActWithdraw)}}},
		{"changes_requested", state(domain.PhaseChangesRequested, nil), map[string][]Action{
			mette.UserID: {act(ActResubmit), act(ActWithdraw)}, karen.UserID: {act(ActResubmit)}}},
		{"changes_requested_at_last_revision", state(domain.PhaseChangesRequested, func(in *domain.Initiative) {
			in.Revision = domain.MaxRevisions
		}), map[string][]Action{mette.UserID: {act(ActWithdraw)}}},
		{"rejected", state(domain.PhaseRejected, nil), nil},
		{"withdrawn", state(domain.PhaseWithdrawn, nil), nil},
		{"funding", state(domain.PhaseFunding, released), map[string][]Action{peter.UserID: {confirm1}}},
		{"executing", state(domain.PhaseExecuting, paid), map[string][]Action{
			mette.UserID: {{Kind: ActReportMilestone, Milestone: 1}}, jonas.UserID: {{Kind: ActReportMilestone, Milestone: 1}}}},
		{"executing_reported", state(domain.PhaseExecuting, reported), map[string][]Action{
			hanne.UserID: {{Kind: ActAcceptMilestone, Milestone: 1}}, lars.UserID: {{Kind: ActAcceptMilestone, Milestone: 1}}}},
		{"evaluation", state(domain.PhaseEvaluation, accepted), map[string][]Action{
			mette.UserID: {act(ActSubmitEvaluation)}, jonas.UserID: {act(ActSubmitEvaluation)}}},
		{"evaluation_submitted", state(domain.PhaseEvaluation, evaluated), map[string][]Action{
			hanne.UserID: {act(ActAcceptEvaluation)}, lars.UserID: {act(ActAcceptEvaluation)}}},
		{"completed", state(domain.PhaseCompleted, evaluated), nil},
	}
	users := []store.Principal{mette, jonas, hanne, lars, peter, karen, aarhus}
	for _, tt := range tests {
		for _, p := range users {
			t.Run(tt.name+"/"+p.UserID, func(t *testing.T) {
				got := Allowed(p, tt.in)
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
					if !Allows(p, tt.in, a.Kind) {
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
	if Allows(mette, in, ActDecide) {
		t.Fatal("the operational group is offered a decision")
	}
	err := domain.CheckBallot(&in, domain.Ballot{Revision: 1, Actor: actor(mette, domain.RoleOperationalGroup), Outcome: domain.OutcomeApprove})
	if ruleCode(err) != domain.CodeForbidden {
		t.Errorf("the rule says %v to the operational group's decision, want forbidden", err)
	}
	if !Allows(hanne, in, ActDecide) {
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
