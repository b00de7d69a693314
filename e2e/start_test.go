package e2e

import (
	"context"
	"errors"
	"testing"

	"github.com/helhedsplan/helhedsplan/api"
	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/internal/stack"
	"github.com/helhedsplan/helhedsplan/seed"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/workflows"
)

// TestStartingAnInitiativeTwiceIsAConflict runs the API's Temporal adapter against the real server: the first
// start answers with the recorded initiative, a second start of the same initiative is refused, not attached.
func TestStartingAnInitiativeTwiceIsAConflict(t *testing.T) {
	e := newEnv(t, stack.Options{})
	ctx := context.Background()
	sd, err := seed.Viborg()
	if err != nil {
		t.Fatal(err)
	}
	p := domain.Proposal{Title: "To gange", Description: "d", DelaftaleID: "beskaeftigelse", HousingAreaIDs: []string{"ringparken"},
		TargetGroup: "t", Goals: []domain.Goal{{Description: "g", SuccessCriterion: "s"}},
		Budget: []domain.SourceAmount{{SourceID: "lbf", AmountØre: 100}},
		Milestones: []domain.MilestonePlan{{Title: "m", DueDate: domain.NewDate(2022, 1, 1),
			Tranche: []domain.SourceAmount{{SourceID: "lbf", AmountØre: 100}}}}}
	in := workflows.StartInput{InitiativeID: "dobbelt-1", Plan: sd.Plan.Rules(),
		Proposer: domain.Actor{UserID: "og-mette", Name: "Mette Kjær", Role: domain.RoleOperationalGroup}, Proposal: p}
	wf := api.NewTemporalWorkflows(e.ts.GetDefaultClient())
	got, err := wf.Start(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if got.InitiativeID != "dobbelt-1" || got.Phase != domain.PhaseBoardReview || got.Version != 1 {
		t.Fatalf("first start = %+v", got)
	}
	stored, err := e.st.GetInitiative(ctx, "dobbelt-1")
	if err != nil || stored.Version != 1 {
		t.Fatalf("read model after start: %+v, %v", stored, err)
	}
	if _, err := wf.Start(ctx, in); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second start = %v, want ErrConflict", err)
	}
}
