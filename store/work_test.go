package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
)

var ahmed = domain.Actor{UserID: "og-ahmed", Name: "Ahmed Hassan", Role: domain.RoleOperationalGroup}

// advance records one more transition of in after change has been applied to it.
func advance(t *testing.T, s *store.Store, in *domain.Initiative, typ string, actor domain.Actor, phase domain.Phase,
	change func(in *domain.Initiative, at time.Time)) {
	t.Helper()
	at := t0.Add(time.Duration(in.Version) * time.Hour)
	if change != nil {
		change(in, at)
	}
	if err := s.RecordTransition(ctxT(t), step(t, in, typ, actor, phase)); err != nil {
		t.Fatalf("%s %s: %v", typ, in.ID, err)
	}
}

// workScenario records one initiative in each state that makes someone wait (and one that makes nobody wait), so
// that their last transitions happen at different times: the later in the list, the more steps it took.
func workScenario(t *testing.T, s *store.Store) {
	t.Helper()
	p := proposal("Lektiecafé", "uddannelse-og-livschancer", []string{"houlkaervaenget"}, kr(100_000), kr(20_000))
	release := func(no int) func(*domain.Initiative, time.Time) {
		return func(in *domain.Initiative, at time.Time) {
			in.Milestones[no-1].TrancheStatus, in.Milestones[no-1].ReleasedAt = domain.TrancheReleased, &at
		}
	}
	pay := func(no int) func(*domain.Initiative, time.Time) {
		return func(in *domain.Initiative, at time.Time) {
			in.Milestones[no-1].TrancheStatus, in.Milestones[no-1].PaidAt = domain.TranchePaid, &at
		}
	}
	report := func(no int) func(*domain.Initiative, time.Time) {
		return func(in *domain.Initiative, at time.Time) {
			in.Milestones[no-1].Report = &domain.Report{Summary: "Godt i gang", Actor: mette, At: at}
		}
	}
	accept := func(no int) func(*domain.Initiative, time.Time) {
		return func(in *domain.Initiative, at time.Time) {
			in.Milestones[no-1].AcceptedBy, in.Milestones[no-1].AcceptedAt = &hanne, &at
		}
	}

	// review: waits for the board since t0.
	submit(t, s, "review", p)

	// changes: the board sent it back; waits for the operational group.
	changes := submit(t, s, "changes", p)
	advance(t, s, changes, "changes_requested", hanne, domain.PhaseChangesRequested, nil)

	// funding: tranche 1 released; waits for finance.
	funding := submit(t, s, "funding", p)
	advance(t, s, funding, "approved", hanne, domain.PhaseFunding, release(1))

	// ahmeds: Ahmed's initiative, tranche 1 paid, milestone 1 to report.
	ahmeds := initiative("ahmeds", p)
	ahmeds.Proposer = ahmed
	if err := s.RecordTransition(ctxT(t), step(t, ahmeds, "submitted", ahmed, domain.PhaseBoardReview)); err != nil {
		t.Fatal(err)
	}
	advance(t, s, ahmeds, "approved", hanne, domain.PhaseFunding, release(1))
	advance(t, s, ahmeds, "payment_confirmed", peter, domain.PhaseExecuting, pay(1))

	// reported: milestone 1 reported; waits for the board.
	reported := submit(t, s, "reported", p)
	advance(t, s, reported, "approved", hanne, domain.PhaseFunding, release(1))
	advance(t, s, reported, "payment_confirmed", peter, domain.PhaseExecuting, pay(1))
	advance(t, s, reported, "milestone_reported", mette, domain.PhaseExecuting, report(1))

	// second: milestone 1 accepted, tranche 2 paid: milestone 2 (due 1.6.2023) to report.
	second := submit(t, s, "second", p)
	advance(t, s, second, "approved", hanne, domain.PhaseFunding, release(1))
	advance(t, s, second, "payment_confirmed", peter, domain.PhaseExecuting, pay(1))
	advance(t, s, second, "milestone_reported", mette, domain.PhaseExecuting, report(1))
	advance(t, s, second, "milestone_accepted", hanne, domain.PhaseFunding, func(in *domain.Initiative, at time.Time) {
		accept(1)(in, at)
		release(2)(in, at)
	})
	advance(t, s, second, "payment_confirmed", peter, domain.PhaseExecuting, pay(2))

	// evaluate: all milestones accepted, no evaluation yet.
	evaluate := submit(t, s, "evaluate", p)
	for _, c := range []func(*domain.Initiative, time.Time){release(1), pay(1), report(1), accept(1), release(2), pay(2), report(2)} {
		advance(t, s, evaluate, "step", hanne, domain.PhaseExecuting, c)
	}
	advance(t, s, evaluate, "milestone_accepted", hanne, domain.PhaseEvaluation, accept(2))

	// evaluated: evaluation submitted; waits for the board. Then done: completed, nobody waits.
	for _, id := range []string{"evaluated", "done"} {
		in := submit(t, s, id, p)
		for _, c := range []func(*domain.Initiative, time.Time){release(1), pay(1), report(1), accept(1), release(2), pay(2), report(2), accept(2)} {
			advance(t, s, in, "step", hanne, domain.PhaseExecuting, c)
		}
		advance(t, s, in, "evaluation_submitted", mette, domain.PhaseEvaluation, func(in *domain.Initiative, at time.Time) {
			in.Evaluation = &domain.Evaluation{Summary: "Nået", SubmittedBy: mette, SubmittedAt: at}
		})
		if id == "done" {
			advance(t, s, in, "evaluation_accepted", hanne, domain.PhaseCompleted, func(in *domain.Initiative, at time.Time) {
				in.Evaluation.AcceptedBy, in.Evaluation.AcceptedAt = &hanne, &at
			})
		}
	}
}

type workRow struct {
	ID        string
	Kind      store.WorkKind
	Milestone int
	Due       string
}

func TestListWorkShowsWhatWaitsForEachRoleOldestFirst(t *testing.T) {
	s := dbtest.New(t)
	workScenario(t, s)
	tests := []struct {
		name   string
		role   domain.Role
		userID string
		want   []workRow
	}{
		{"board_decides_accepts_reports_and_evaluations", domain.RoleBoard, "bs-hanne", []workRow{
			{"review", store.WorkDecide, 0, ""},
			{"reported", store.WorkAcceptReport, 1, "2022-06-01"},
			{"evaluated", store.WorkAcceptEvaluation, 0, ""},
		}},
		{"finance_pays_released_tranches", domain.RoleFinance, "fin-peter", []workRow{
			{"funding", store.WorkPay, 1, "2022-06-01"},
		}},
		{"operational_group_mette_sees_her_own_first", domain.RoleOperationalGroup, "og-mette", []workRow{
			{"changes", store.WorkRevise, 0, ""},
			{"second", store.WorkReport, 2, "2023-06-01"},
			{"evaluate", store.WorkEvaluate, 0, ""},
			{"ahmeds", store.WorkReport, 1, "2022-06-01"},
		}},
		{"operational_group_ahmed_sees_his_own_first", domain.RoleOperationalGroup, "og-ahmed", []workRow{
			{"ahmeds", store.WorkReport, 1, "2022-06-01"},
			{"changes", store.WorkRevise, 0, ""},
			{"second", store.WorkReport, 2, "2023-06-01"},
			{"evaluate", store.WorkEvaluate, 0, ""},
		}},
		{"admin_has_no_work_of_its_own", domain.RoleAdmin, "adm-karen", []workRow{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, more, err := s.ListWork(ctxT(t), store.WorkFilter{PlanID: planID, Role: tt.role, UserID: tt.userID})
			if err != nil {
				t.Fatal(err)
			}
			if more {
				t.Error("more = true, want false")
			}
			got := []workRow{}
			for i, it := range items {
				got = append(got, workRow{it.InitiativeID, it.Kind, it.MilestoneNo, it.DueDate.String()})
				if it.Role != tt.role || it.Title != "Lektiecafé" {
					t.Errorf("item %d: role %q title %q", i, it.Role, it.Title)
				}
				if i > 0 && tt.role != domain.RoleOperationalGroup && it.Since.Before(items[i-1].Since) {
					t.Errorf("item %d (%s) waits since %v, before the item above it", i, it.InitiativeID, it.Since)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("work (-want +got):\n%s", diff)
			}
		})
	}
}

func TestListWorkIsBoundedAndKeepsToItsPlan(t *testing.T) {
	s := dbtest.New(t)
	workScenario(t, s)
	items, more, err := s.ListWork(ctxT(t), store.WorkFilter{PlanID: planID, Role: domain.RoleBoard, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || !more {
		t.Fatalf("limit 2: %d items, more %v; want 2 and more", len(items), more)
	}
	items, _, err = s.ListWork(ctxT(t), store.WorkFilter{PlanID: "another-plan", Role: domain.RoleBoard})
	if err != nil || len(items) != 0 {
		t.Fatalf("another plan: %v, %v; want none", items, err)
	}
}

func TestPrincipalByUserID(t *testing.T) {
	s := dbtest.New(t)
	p, err := s.PrincipalByUserID(ctxT(t), "bs-hanne")
	if err != nil {
		t.Fatal(err)
	}
	want := store.Principal{UserID: "bs-hanne", Name: "Hanne Mortensen", Email: "hanne.mortensen@example.dk",
		Roles: map[string]domain.Role{planID: domain.RoleBoard}}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("principal (-want +got):\n%s", diff)
	}
	if _, err := s.PrincipalByUserID(ctxT(t), "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown user: %v, want ErrNotFound", err)
	}
}
