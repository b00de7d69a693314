package service

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/seed"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/workflows"
)

// The test users. Viborg is the seed plan; Aarhus is a second plan that Viborg users must not see.
const (
	planViborg = "viborg-2021-2025"
	planAarhus = "aarhus-2022-2026"

	iniViborg = "ini-viborg"
	iniAarhus = "ini-aarhus"
	disViborg = "ini-viborg-t1"
	disAarhus = "ini-aarhus-t1"
)

var (
	t0 = time.Date(2024, 3, 1, 9, 30, 0, 0, time.UTC)

	mette  = store.Principal{UserID: "og-mette", Name: "Mette Kjær", Roles: map[string]domain.Role{planViborg: domain.RoleOperationalGroup}}
	jonas  = store.Principal{UserID: "og-jonas", Name: "Jonas Lund", Roles: map[string]domain.Role{planViborg: domain.RoleOperationalGroup}}
	hanne  = store.Principal{UserID: "bs-hanne", Name: "Hanne Mortensen", Roles: map[string]domain.Role{planViborg: domain.RoleBoard}}
	peter  = store.Principal{UserID: "fin-peter", Name: "Peter Holm", Roles: map[string]domain.Role{planViborg: domain.RoleFinance}}
	karen  = store.Principal{UserID: "adm-karen", Name: "Karen Iversen", Roles: map[string]domain.Role{planViborg: domain.RoleAdmin}}
	aarhus = store.Principal{UserID: "og-aarhus", Name: "Aarhus Bruger", Roles: map[string]domain.Role{planAarhus: domain.RoleOperationalGroup}}
	multi  = store.Principal{UserID: "og-multi", Name: "Multi Bruger", Roles: map[string]domain.Role{planViborg: domain.RoleOperationalGroup, planAarhus: domain.RoleBoard}}
)

// fakeStore is an in-memory Store; errs forces a method (by name) to fail.
type fakeStore struct {
	mu          sync.Mutex
	plans       map[string]domain.Plan
	available   map[string]map[string]domain.Money
	initiatives map[string]domain.Initiative
	disb        map[string]store.Disbursement
	events      []store.Event
	meetings    map[string]store.Meeting // plan ID + "/" + meeting ID
	errs        map[string]error
	calls       []string
}

// GetMeeting makes the fake a meetingReader, as *store.Store is, for MeetingDecision's check of the meeting.
func (f *fakeStore) GetMeeting(_ context.Context, planID, id string) (store.Meeting, error) {
	if err := f.call("GetMeeting"); err != nil {
		return store.Meeting{}, err
	}
	m, ok := f.meetings[planID+"/"+id]
	if !ok {
		return store.Meeting{}, fmt.Errorf("meeting %s: %w", id, store.ErrNotFound)
	}
	return m, nil
}

func (f *fakeStore) call(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, method)
	return f.errs[method]
}

func (f *fakeStore) ListPlans(_ context.Context, ids []string) ([]domain.Plan, error) {
	if err := f.call("ListPlans"); err != nil {
		return nil, err
	}
	var out []domain.Plan
	for _, id := range ids {
		if p, ok := f.plans[id]; ok {
			out = append(out, p)
		}
	}
	return out, nil
}

func (f *fakeStore) GetPlan(_ context.Context, id string) (domain.Plan, error) {
	if err := f.call("GetPlan"); err != nil {
		return domain.Plan{}, err
	}
	p, ok := f.plans[id]
	if !ok {
		return domain.Plan{}, store.ErrNotFound
	}
	return p, nil
}

func (f *fakeStore) Budget(_ context.Context, id string) (store.Budget, error) {
	if err := f.call("Budget"); err != nil {
		return store.Budget{}, err
	}
	if _, ok := f.plans[id]; !ok {
		return store.Budget{}, store.ErrNotFound
	}
	return store.Budget{PlanID: id}, nil
}

func (f *fakeStore) Available(_ context.Context, id string) (map[string]domain.Money, error) {
	if err := f.call("Available"); err != nil {
		return nil, err
	}
	return f.available[id], nil
}

func (f *fakeStore) GetInitiative(_ context.Context, id string) (domain.Initiative, error) {
	if err := f.call("GetInitiative"); err != nil {
		return domain.Initiative{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	in, ok := f.initiatives[id]
	if !ok {
		return domain.Initiative{}, fmt.Errorf("initiative %s: %w", id, store.ErrNotFound)
	}
	return in, nil
}

func (f *fakeStore) ListInitiatives(_ context.Context, fl store.InitiativeFilter) ([]store.InitiativeSummary, string, error) {
	if err := f.call("ListInitiatives"); err != nil {
		return nil, "", err
	}
	var out []store.InitiativeSummary
	for _, in := range f.initiatives {
		if in.PlanID == fl.PlanID {
			out = append(out, store.InitiativeSummary{ID: in.ID, PlanID: in.PlanID, Phase: in.Phase})
		}
	}
	return out, "", nil
}

func (f *fakeStore) ListEvents(_ context.Context, id string, after int64, limit int) ([]store.Event, error) {
	if err := f.call("ListEvents"); err != nil {
		return nil, err
	}
	var out []store.Event
	for _, e := range f.events {
		if e.InitiativeID == id && e.Seq > after && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (f *fakeStore) ListDisbursements(_ context.Context, fl store.DisbursementFilter) ([]store.Disbursement, string, error) {
	if err := f.call("ListDisbursements"); err != nil {
		return nil, "", err
	}
	var out []store.Disbursement
	for _, d := range f.disb {
		if d.PlanID == fl.PlanID {
			out = append(out, d)
		}
	}
	return out, "", nil
}

func (f *fakeStore) GetDisbursement(_ context.Context, id string) (store.Disbursement, error) {
	if err := f.call("GetDisbursement"); err != nil {
		return store.Disbursement{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.disb[id]
	if !ok {
		return store.Disbursement{}, store.ErrNotFound
	}
	return d, nil
}

// transition moves the stored initiative to phase and the next version, as the workflow's write does.
func (f *fakeStore) transition(id string, phase domain.Phase) workflows.UpdateResult {
	f.mu.Lock()
	defer f.mu.Unlock()
	in := f.initiatives[id]
	in.Phase = phase
	in.Version++
	f.initiatives[id] = in
	return workflows.UpdateResult{InitiativeID: id, Phase: phase, Version: in.Version}
}

type updateCall struct {
	InitiativeID, Name, UpdateID string
	Arg                          any
}

// fakeWorkflows records calls; startFn and updateFn decide the answers (nil: an error saying the call was not
// expected).
type fakeWorkflows struct {
	mu       sync.Mutex
	starts   []workflows.StartInput
	updates  []updateCall
	startFn  func(in workflows.StartInput) (workflows.UpdateResult, error)
	updateFn func(call updateCall) (workflows.UpdateResult, error)
}

var errUnexpected = errors.New("unexpected workflow call")

func (f *fakeWorkflows) Start(_ context.Context, in workflows.StartInput) (workflows.UpdateResult, error) {
	f.mu.Lock()
	f.starts = append(f.starts, in)
	fn := f.startFn
	f.mu.Unlock()
	if fn == nil {
		return workflows.UpdateResult{}, errUnexpected
	}
	return fn(in)
}

func (f *fakeWorkflows) Update(_ context.Context, id, name, updateID string, arg any) (workflows.UpdateResult, error) {
	call := updateCall{InitiativeID: id, Name: name, UpdateID: updateID, Arg: arg}
	f.mu.Lock()
	f.updates = append(f.updates, call)
	fn := f.updateFn
	f.mu.Unlock()
	if fn == nil {
		return workflows.UpdateResult{}, errUnexpected
	}
	return fn(call)
}

type fixture struct {
	st  *fakeStore
	wf  *fakeWorkflows
	svc *Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	sd, err := seed.Viborg()
	if err != nil {
		t.Fatal(err)
	}
	aarhusPlan := domain.Plan{ID: planAarhus, Name: "Helhedsplan Aarhus", PeriodStart: domain.NewDate(2022, 1, 1),
		PeriodEnd: domain.NewDate(2026, 12, 31)}
	st := &fakeStore{
		plans: map[string]domain.Plan{planViborg: sd.Plan, planAarhus: aarhusPlan},
		available: map[string]map[string]domain.Money{planViborg: {"lbf": domain.Kroner(13_709_000),
			"viborg-kommune": domain.Kroner(7_200_000), "boligselskaberne": domain.Kroner(4_780_000)}},
		initiatives: map[string]domain.Initiative{
			iniViborg: testInitiative(iniViborg, planViborg),
			iniAarhus: testInitiative(iniAarhus, planAarhus),
		},
		disb: map[string]store.Disbursement{
			disViborg: {ID: disViborg, PlanID: planViborg, InitiativeID: iniViborg, MilestoneNo: 1, Status: store.DisbursementPending},
			disAarhus: {ID: disAarhus, PlanID: planAarhus, InitiativeID: iniAarhus, MilestoneNo: 1, Status: store.DisbursementPending},
		},
		events: []store.Event{{InitiativeID: iniViborg, Seq: 1, Type: "proposed"}, {InitiativeID: iniAarhus, Seq: 1, Type: "proposed"}},
		meetings: map[string]store.Meeting{
			planViborg + "/møde-5": {PlanID: planViborg, ID: "møde-5", HeldOn: domain.NewDate(2024, 3, 5), Title: "Bestyrelsesmøde"},
			planViborg + "/møde-aflyst": {PlanID: planViborg, ID: "møde-aflyst", HeldOn: domain.NewDate(2024, 4, 2),
				Title: "Bestyrelsesmøde", CancelledAt: &t0},
		},
		errs: map[string]error{},
	}
	wf := &fakeWorkflows{}
	return &fixture{st: st, wf: wf, svc: New(st, wf, nil)}
}

// answer acts as a workflow update does: it records the initiative with phase and the next version in the read
// model, then returns the small result.
func (fx *fixture) answer(phase domain.Phase) func(updateCall) (workflows.UpdateResult, error) {
	return func(c updateCall) (workflows.UpdateResult, error) {
		return fx.st.transition(c.InitiativeID, phase), nil
	}
}

func testProposal() domain.Proposal {
	return domain.Proposal{
		Title: "Lektiecafé i Ringparken", Description: "Lektiehjælp to gange om ugen.",
		DelaftaleID: "uddannelse-og-livschancer", HousingAreaIDs: []string{"ringparken"},
		TargetGroup: "Børn i 4.-9. klasse",
		Goals:       []domain.Goal{{ID: "g1", Description: "Flere børn får lektiehjælp", SuccessCriterion: "40 børn deltager"}},
		Budget:      []domain.SourceAmount{{SourceID: "lbf", AmountØre: domain.Kroner(100_000)}},
		Milestones: []domain.MilestonePlan{{Title: "Opstart", DueDate: domain.NewDate(2024, 6, 30),
			Tranche: []domain.SourceAmount{{SourceID: "lbf", AmountØre: domain.Kroner(100_000)}}}},
	}
}

// testInitiative is an initiative in board_review proposed by Mette, with one milestone.
func testInitiative(id, plan string) domain.Initiative {
	p := testProposal()
	return domain.Initiative{
		ID: id, PlanID: plan, Phase: domain.PhaseBoardReview, Version: 1, Revision: 1,
		Proposer:   domain.Actor{UserID: mette.UserID, Name: mette.Name, Role: domain.RoleOperationalGroup},
		Proposal:   p,
		Decisions:  []domain.Decision{},
		Milestones: domain.MilestonesFromPlan(p.Milestones),
		CreatedAt:  t0, UpdatedAt: t0,
	}
}

// ruleCode is the code of a *domain.RuleError in err's chain, or "".
func ruleCode(err error) domain.Code {
	var re *domain.RuleError
	if errors.As(err, &re) {
		return re.Code
	}
	return ""
}
