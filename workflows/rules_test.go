package workflows_test

import (
	"testing"

	"github.com/helhedsplan/helhedsplan/activities"
	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/workflows"
)

// The store refuses the reservation for the plan's money rules (delaftale frame, local co-financing): the deciding
// vote is refused with the store's message, and the initiative waits in board_review with nothing decided,
// reserved or released.
func TestAnApprovalRefusedForTheMoneyRulesLeavesTheProposalWithTheBoard(t *testing.T) {
	for _, refusal := range []*domain.RuleError{
		domain.Refuse(domain.CodeCofinancing, "Den lokale medfinansiering af planens godkendte budget skal være mindst "+
			"25,0 %%. Andelen ville falde fra 50,0 %% til 24,9 %%."),
		domain.Refuse(domain.CodeFrameExceeded, "Delaftalen Beskæftigelse har en ramme på 2.000.000,00 kr.; "+
			"1.200.000,00 kr. er reserveret, og forslaget beder om 1.200.000,00 kr., i alt 2.400.000,00 kr."),
	} {
		t.Run(string(refusal.Code), func(t *testing.T) {
			plan := boardPlan(t)
			fake := newFakeStore(plan)
			fake.reserveErr = refusal
			var got *domain.RuleError
			final := runWith(t, plan, fake, []step{
				{name: "lars approves", update: workflows.UpdateDecide, arg: vote(lars, domain.OutcomeApprove, ""), wantPhase: domain.PhaseBoardReview},
				{name: "sofie approves: decided, but the money is refused", update: workflows.UpdateDecide,
					arg: vote(sofie, domain.OutcomeApprove, ""), wantCode: refusal.Code},
			}, func(i int, o outcome) {
				if i == 1 {
					got, _ = activities.AsRuleError(o.err)
				}
			})
			if got == nil || got.Message != refusal.Message {
				t.Errorf("refusal = %+v, want the store's message %q", got, refusal.Message)
			}
			if final.Phase != domain.PhaseBoardReview || len(final.Decisions) != 0 || len(fake.reserved) != 0 || len(fake.releases) != 0 {
				t.Fatalf("after the refusal: phase %s, decisions %d, reserved %v, releases %d; want board_review and nothing else",
					final.Phase, len(final.Decisions), fake.reserved, len(fake.releases))
			}
		})
	}
}
