package store_test

import (
	"slices"
	"testing"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
)

// OpenInitiatives reads the whole snapshots of the initiatives that can have a step with a deadline — not those
// waiting for a revision, not the closed ones, not another plan's — least recently changed first, bounded.
func TestOpenInitiativesReadsTheSnapshotsWithDeadlines(t *testing.T) {
	s := dbtest.New(t)
	p := proposal("Lektiecafé", "uddannelse-og-livschancer", []string{"houlkaervaenget"}, kr(100_000), kr(20_000))
	review := submit(t, s, "review", p)
	funding := submit(t, s, "funding", p)
	advance(t, s, funding, "approved", hanne, domain.PhaseFunding, func(in *domain.Initiative, at time.Time) {
		in.Milestones[0].TrancheStatus, in.Milestones[0].ReleasedAt = domain.TrancheReleased, &at
		in.Milestones[0].DisbursementID = domain.DisbursementID(in.ID, 1)
	})
	changes := submit(t, s, "changes", p)
	advance(t, s, changes, "changes_requested", hanne, domain.PhaseChangesRequested, nil)
	rejected := submit(t, s, "rejected", p)
	advance(t, s, rejected, "rejected", hanne, domain.PhaseRejected, nil)

	got, more, err := s.OpenInitiatives(ctxT(t), planID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, in := range got {
		ids = append(ids, in.ID)
	}
	if more || !slices.Equal(ids, []string{"review", "funding"}) {
		t.Fatalf("open initiatives %v (more %v), want review then funding", ids, more)
	}
	if got[1].Milestones[0].ReleasedAt == nil || got[1].Milestones[0].DisbursementID != "funding-t1" {
		t.Errorf("the snapshot is not whole: %+v", got[1].Milestones[0])
	}
	if steps := domain.OpenSteps(&got[0], domain.Plan{}, domain.DanishBusinessCalendar()); len(steps) != 1 {
		t.Errorf("open steps of the proposal: %+v", steps)
	}

	one, more, err := s.OpenInitiatives(ctxT(t), planID, 1)
	if err != nil || len(one) != 1 || !more || one[0].ID != review.ID {
		t.Errorf("limit 1: %d initiatives, more %v, err %v; want review and more", len(one), more, err)
	}
	if other, _, err := s.OpenInitiatives(ctxT(t), "anden-plan", 0); err != nil || len(other) != 0 {
		t.Errorf("another plan: %d, %v", len(other), err)
	}
}

func TestInitiativesByIDKeepsToThePlan(t *testing.T) {
	s := dbtest.New(t)
	p := proposal("Lektiecafé", "uddannelse-og-livschancer", []string{"houlkaervaenget"}, kr(100_000), 0)
	submit(t, s, "a", p)
	submit(t, s, "b", p)
	got, err := s.InitiativesByID(ctxT(t), planID, []string{"b", "nope", "a"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, in := range got {
		ids = append(ids, in.ID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"a", "b"}) {
		t.Errorf("ids %v, want a and b", ids)
	}
	if other, err := s.InitiativesByID(ctxT(t), "anden-plan", []string{"a"}); err != nil || len(other) != 0 {
		t.Errorf("another plan's initiative by id: %d, %v", len(other), err)
	}
	if none, err := s.InitiativesByID(ctxT(t), planID, nil); err != nil || none != nil {
		t.Errorf("no ids: %v, %v", none, err)
	}
}
