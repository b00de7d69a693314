package store_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/seed"
	"github.com/helhedsplan/helhedsplan/store"
)

const planID = "viborg-2021-2025"

// Seeded people, as the workflows would name them.
var (
	mette = domain.Actor{UserID: "og-mette", Name: "Mette Kjær", Role: domain.RoleOperationalGroup}
	hanne = domain.Actor{UserID: "bs-hanne", Name: "Hanne Mortensen", Role: domain.RoleBoard}
	peter = domain.Actor{UserID: "fin-peter", Name: "Peter Holm", Role: domain.RoleFinance}
)

// t0 is when the test initiatives are submitted; later steps happen an hour apart.
var t0 = time.Date(2022, 3, 1, 9, 0, 0, 0, time.UTC)

// cmpDates compares domain.Date by value; its field is unexported.
var cmpDates = cmp.Comparer(func(a, b domain.Date) bool { return a.String() == b.String() })

// cmpJSON compares JSON by meaning: jsonb does not keep the writer's spacing or key order.
var cmpJSON = cmp.Transformer("json", func(b json.RawMessage) any {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return string(b)
	}
	return v
})

// ignoreRecordedAt drops the database's write time, which the test cannot know.
var ignoreRecordedAt = cmpopts.IgnoreFields(store.Event{}, "RecordedAt")

func ctxT(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func viborg(t testing.TB) seed.Seed {
	t.Helper()
	sd, err := seed.Viborg()
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	return sd
}

// kr is whole kroner as øre.
func kr(n int64) domain.Money { return domain.Kroner(n) }

func mp(m domain.Money) *domain.Money { return &m }

// proposal is a valid proposal for the Viborg plan: two milestones whose tranches add up to the budget, so the
// first tranche is lbf/2 + kommune and the second lbf - lbf/2.
func proposal(title, delaftale string, areas []string, lbf, kommune domain.Money) domain.Proposal {
	budget := []domain.SourceAmount{{SourceID: "lbf", AmountØre: lbf}}
	first := []domain.SourceAmount{{SourceID: "lbf", AmountØre: lbf / 2}}
	if kommune > 0 {
		budget = append(budget, domain.SourceAmount{SourceID: "viborg-kommune", AmountØre: kommune})
		first = append(first, domain.SourceAmount{SourceID: "viborg-kommune", AmountØre: kommune})
	}
	return domain.Proposal{
		Title:          title,
		Description:    "Lektiecafé to gange om ugen i beboerhuset.",
		DelaftaleID:    delaftale,
		HousingAreaIDs: areas,
		TargetGroup:    "Skolebørn i 4.-9. klasse",
		Goals:          []domain.Goal{{ID: "g1", Description: "Flere gennemfører 9. klasse", SuccessCriterion: "90 %"}},
		Budget:         budget,
		Milestones: []domain.MilestonePlan{
			{Title: "Opstart", DueDate: domain.NewDate(2022, 6, 1), Tranche: first},
			{Title: "Afslutning", DueDate: domain.NewDate(2023, 6, 1),
				Tranche: []domain.SourceAmount{{SourceID: "lbf", AmountØre: lbf - lbf/2}, {SourceID: "viborg-kommune"}}},
		},
	}
}

// initiative is a submitted-to-be initiative (version 0, no phase); step moves it on.
func initiative(id string, p domain.Proposal) *domain.Initiative {
	return &domain.Initiative{
		ID:         id,
		PlanID:     planID,
		Revision:   1,
		Proposer:   mette,
		Proposal:   p,
		Decisions:  []domain.Decision{},
		Milestones: domain.MilestonesFromPlan(p.Milestones),
		CreatedAt:  t0,
	}
}

// step moves in to phase as one transition by actor at t0 + version hours, and returns what an activity would
// record. The snapshot is a deep copy, so later steps do not change transitions already made.
func step(t testing.TB, in *domain.Initiative, typ string, actor domain.Actor, phase domain.Phase) store.Transition {
	t.Helper()
	before := in.Phase
	in.Version++
	in.Phase = phase
	at := t0.Add(time.Duration(in.Version-1) * time.Hour)
	in.UpdatedAt = at
	payload, err := json.Marshal(map[string]any{"type": typ, "version": in.Version})
	if err != nil {
		t.Fatal(err)
	}
	return store.Transition{
		Event: store.Event{
			InitiativeID: in.ID, Seq: in.Version, Type: typ, ActorID: actor.UserID, ActorName: actor.Name,
			ActorRole: actor.Role, At: at, PhaseBefore: before, PhaseAfter: phase, Payload: payload,
		},
		Snapshot: clone(t, *in),
	}
}

func clone(t testing.TB, in domain.Initiative) domain.Initiative {
	t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out domain.Initiative
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// submit records the first transition of a new initiative.
func submit(t testing.TB, s *store.Store, id string, p domain.Proposal) *domain.Initiative {
	t.Helper()
	in := initiative(id, p)
	if err := s.RecordTransition(ctxT(t), step(t, in, "submitted", mette, domain.PhaseBoardReview)); err != nil {
		t.Fatalf("submit %s: %v", id, err)
	}
	return in
}

// approveInput is the board's approval of in as the Reserve activity would send it.
func approveInput(t testing.TB, in *domain.Initiative) store.ReserveInput {
	t.Helper()
	tr := step(t, in, "approved", hanne, domain.PhaseExecuting)
	return store.ReserveInput{PlanID: planID, InitiativeID: in.ID, DelaftaleID: in.Proposal.DelaftaleID,
		Lines: in.Proposal.Budget, Transition: tr}
}

// releaseInput releases milestone no's tranche of in.
func releaseInput(t testing.TB, in *domain.Initiative, no int) store.ReleaseInput {
	t.Helper()
	m := &in.Milestones[no-1]
	m.TrancheStatus = domain.TrancheReleased
	m.DisbursementID = domain.DisbursementID(in.ID, no)
	tr := step(t, in, "tranche_released", hanne, domain.PhaseFunding)
	m.ReleasedAt = &tr.Event.At
	tr.Snapshot = clone(t, *in)
	return store.ReleaseInput{PlanID: planID, InitiativeID: in.ID, DelaftaleID: in.Proposal.DelaftaleID,
		DisbursementID: m.DisbursementID, MilestoneNo: no, MilestoneTitle: m.Title, Lines: m.Tranche, Transition: tr}
}

// payInput confirms payment of milestone no's tranche with reference.
func payInput(t testing.TB, in *domain.Initiative, no int, reference string) store.PayInput {
	t.Helper()
	m := &in.Milestones[no-1]
	m.TrancheStatus = domain.TranchePaid
	m.PaymentReference = reference
	tr := step(t, in, "payment_confirmed", peter, domain.PhaseExecuting)
	m.PaidAt = &tr.Event.At
	tr.Snapshot = clone(t, *in)
	return store.PayInput{DisbursementID: m.DisbursementID, Reference: reference, Actor: peter, Transition: tr}
}

// count runs a SELECT count(*) query.
func count(t testing.TB, s *store.Store, q string, args ...any) int {
	t.Helper()
	var n int
	if err := s.DB().GetContext(ctxT(t), &n, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// parallel runs fns at the same moment and returns their errors in order. The start gate makes them race for
// real rather than one finishing before the next goroutine is scheduled.
func parallel(fns ...func() error) []error {
	errs := make([]error, len(fns))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() {
			<-start
			errs[i] = fn()
		})
	}
	close(start)
	wg.Wait()
	return errs
}
