package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/seed"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/workflows"
)

// Tokens of the test users. Viborg is the seed plan; "aarhus" is a second plan that Viborg users must not see.
const (
	tokMette = "tok-mette" // operational group, Viborg
	tokHanne = "tok-hanne" // board, Viborg
	tokPeter = "tok-peter" // finance, Viborg
	tokKaren = "tok-karen" // admin, Viborg
	tokOther = "tok-other" // operational group, Aarhus only
	tokMulti = "tok-multi" // operational group in both plans
	tokNone  = "tok-none"  // a valid user with no plan

	planViborg = "viborg-2021-2025"
	planAarhus = "aarhus-2022-2026"

	iniViborg = "ini-viborg"
	iniAarhus = "ini-aarhus"
	disViborg = "ini-viborg-t1"
	disAarhus = "ini-aarhus-t1"

	testRequestID = "req-test-1"

	meetingViborg    = "0191f5a2-0000-7000-8000-000000000305" // a scheduled meeting of the Viborg plan
	meetingCancelled = "0191f5a2-0000-7000-8000-000000000402" // a cancelled one
)

var t0 = time.Date(2024, 3, 1, 9, 30, 0, 0, time.UTC)

// fakeStore is an in-memory Store. errs forces a method (by name) to fail.
type fakeStore struct {
	mu             sync.Mutex
	principals     map[string]store.Principal // hex(sha256(token)) -> principal
	principalCalls int
	plans          map[string]domain.Plan
	budgets        map[string]store.Budget
	available      map[string]map[string]domain.Money
	initiatives    map[string]domain.Initiative
	summaries      []store.InitiativeSummary
	nextCursor     string
	events         []store.Event
	disb           map[string]store.Disbursement
	meetings       map[string]store.Meeting // plan ID + "/" + meeting ID
	idem           map[string]*store.IdempotencyRecord
	errs           map[string]error
	initFilter     store.InitiativeFilter
	disbFilter     store.DisbursementFilter
	eventsArgs     [2]int64
	completed      int
	abandoned      int
	pingCalls      int
	onGetDisb      func(d *store.Disbursement) // lets a test change the stored disbursement after an update
	getDisbCalls   int
	migrations     []store.MigrationState // MigrationStatus answers these (all applied by default)
	migrationCalls int
	settleCtxErrs  []error // ctx.Err() seen by each CompleteIdempotent and AbandonIdempotent
}

func tokenKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func (f *fakeStore) fail(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.errs[method]
}

func (f *fakeStore) Ping(context.Context) error {
	f.mu.Lock()
	f.pingCalls++
	f.mu.Unlock()
	return f.fail("Ping")
}

func (f *fakeStore) PrincipalByTokenHash(_ context.Context, h []byte) (store.Principal, error) {
	f.mu.Lock()
	f.principalCalls++
	f.mu.Unlock()
	if err := f.fail("PrincipalByTokenHash"); err != nil {
		return store.Principal{}, err
	}
	p, ok := f.principals[hex.EncodeToString(h)]
	if !ok {
		return store.Principal{}, fmt.Errorf("principal: %w", store.ErrNotFound)
	}
	return p, nil
}

func (f *fakeStore) ListPlans(_ context.Context, ids []string) ([]domain.Plan, error) {
	if err := f.fail("ListPlans"); err != nil {
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
	if err := f.fail("GetPlan"); err != nil {
		return domain.Plan{}, err
	}
	p, ok := f.plans[id]
	if !ok {
		return domain.Plan{}, store.ErrNotFound
	}
	return p, nil
}

func (f *fakeStore) MigrationStatus(context.Context) ([]store.MigrationState, error) {
	f.mu.Lock()
	f.migrationCalls++
	states := slices.Clone(f.migrations)
	f.mu.Unlock()
	if err := f.fail("MigrationStatus"); err != nil {
		return nil, err
	}
	return states, nil
}

func (f *fakeStore) Budget(_ context.Context, id string) (store.Budget, error) {
	if err := f.fail("Budget"); err != nil {
		return store.Budget{}, err
	}
	b, ok := f.budgets[id]
	if !ok {
		return store.Budget{}, store.ErrNotFound
	}
	return b, nil
}

func (f *fakeStore) Available(_ context.Context, id string) (map[string]domain.Money, error) {
	if err := f.fail("Available"); err != nil {
		return nil, err
	}
	return f.available[id], nil
}

func (f *fakeStore) GetInitiative(_ context.Context, id string) (domain.Initiative, error) {
	if err := f.fail("GetInitiative"); err != nil {
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
	if err := f.fail("ListInitiatives"); err != nil {
		return nil, "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.initFilter = fl
	if fl.After == "garbage" {
		return nil, "", fmt.Errorf("decode cursor: %w", store.ErrBadCursor)
	}
	return f.summaries, f.nextCursor, nil
}

func (f *fakeStore) ListEvents(_ context.Context, id string, after int64, limit int) ([]store.Event, error) {
	if err := f.fail("ListEvents"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.eventsArgs = [2]int64{after, int64(limit)}
	var out []store.Event
	for _, e := range f.events {
		if e.InitiativeID == id && e.Seq > after && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (f *fakeStore) ListDisbursements(_ context.Context, fl store.DisbursementFilter) ([]store.Disbursement, string, error) {
	if err := f.fail("ListDisbursements"); err != nil {
		return nil, "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.disbFilter = fl
	var out []store.Disbursement
	for _, id := range slices.Sorted(maps.Keys(f.disb)) {
		if d := f.disb[id]; d.PlanID == fl.PlanID && (fl.Status == "" || d.Status == fl.Status) {
			out = append(out, d)
		}
	}
	return out, "", nil
}

// GetMeeting makes the fake a meeting reader, as *store.Store is, for the check of a meeting decision's meeting.
func (f *fakeStore) GetMeeting(_ context.Context, planID, id string) (store.Meeting, error) {
	if err := f.fail("GetMeeting"); err != nil {
		return store.Meeting{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.meetings[planID+"/"+id]
	if !ok {
		return store.Meeting{}, fmt.Errorf("meeting %s: %w", id, store.ErrNotFound)
	}
	return m, nil
}

func (f *fakeStore) GetDisbursement(_ context.Context, id string) (store.Disbursement, error) {
	if err := f.fail("GetDisbursement"); err != nil {
		return store.Disbursement{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.getDisbCalls++
	d, ok := f.disb[id]
	if !ok {
		return store.Disbursement{}, store.ErrNotFound
	}
	if f.onGetDisb != nil && f.getDisbCalls > 1 {
		f.onGetDisb(&d)
		f.disb[id] = d
	}
	return d, nil
}

func (f *fakeStore) BeginIdempotent(_ context.Context, r store.IdempotencyRecord) (*store.IdempotencyRecord, error) {
	if err := f.fail("BeginIdempotent"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k := r.UserID + "\x00" + r.Key
	if prev, ok := f.idem[k]; ok {
		cp := *prev
		return &cp, nil
	}
	cp := r
	f.idem[k] = &cp
	return nil, nil
}

// CompleteIdempotent fails, like the real store, when its context has ended.
func (f *fakeStore) CompleteIdempotent(ctx context.Context, user, key string, status int, ct string, body []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.settleCtxErrs = append(f.settleCtxErrs, ctx.Err())
	if err := ctx.Err(); err != nil {
		return err
	}
	r := f.idem[user+"\x00"+key]
	r.Status, r.ContentType, r.Body = &status, &ct, append([]byte(nil), body...)
	f.completed++
	return nil
}

// AbandonIdempotent fails, like the real store, when its context has ended.
func (f *fakeStore) AbandonIdempotent(ctx context.Context, user, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.settleCtxErrs = append(f.settleCtxErrs, ctx.Err())
	if err := ctx.Err(); err != nil {
		return err
	}
	delete(f.idem, user+"\x00"+key)
	f.abandoned++
	return nil
}

type updateCall struct {
	InitiativeID, Name, UpdateID string
	Arg                          any
}

// fakeWorkflows records calls; startFn and updateFn decide the answers. ctx is the context of the call, so a fake
// can wait for the request's deadline as a real update does.
type fakeWorkflows struct {
	mu       sync.Mutex
	starts   []workflows.StartInput
	updates  []updateCall
	startFn  func(in workflows.StartInput) (workflows.UpdateResult, error)
	updateFn func(ctx context.Context, call updateCall) (workflows.UpdateResult, error)
	readyErr error
}

func (f *fakeWorkflows) Start(_ context.Context, in workflows.StartInput) (workflows.UpdateResult, error) {
	f.mu.Lock()
	f.starts = append(f.starts, in)
	fn := f.startFn
	f.mu.Unlock()
	if fn == nil {
		return workflows.UpdateResult{}, fmt.Errorf("unexpected start")
	}
	return fn(in)
}

func (f *fakeWorkflows) Update(ctx context.Context, id, name, updateID string, arg any) (workflows.UpdateResult, error) {
	call := updateCall{InitiativeID: id, Name: name, UpdateID: updateID, Arg: arg}
	f.mu.Lock()
	f.updates = append(f.updates, call)
	fn := f.updateFn
	f.mu.Unlock()
	if fn == nil {
		return workflows.UpdateResult{}, fmt.Errorf("unexpected update %s", name)
	}
	return fn(ctx, call)
}

// updateIDs lists the update IDs the workflow received, in order.
func (f *fakeWorkflows) updateIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := make([]string, len(f.updates))
	for i, u := range f.updates {
		ids[i] = u.UpdateID
	}
	return ids
}

func (f *fakeWorkflows) Ready(context.Context) error { return f.readyErr }

// harness is the real router over fakes.
type harness struct {
	t    *testing.T
	st   *fakeStore
	wf   *fakeWorkflows
	e    *echo.Echo
	reg  *prometheus.Registry
	logs *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func viborgPlan(t *testing.T) domain.Plan {
	t.Helper()
	s, err := seed.Viborg()
	if err != nil {
		t.Fatal(err)
	}
	return s.Plan
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessWith(t, Config{})
}

// newHarnessWith is newHarness with a configuration (zero fields take the defaults).
func newHarnessWith(t *testing.T, cfg Config) *harness {
	t.Helper()
	viborg := viborgPlan(t)
	aarhus := domain.Plan{ID: planAarhus, Name: "Helhedsplan Aarhus", Municipality: "Aarhus Kommune",
		PeriodStart: domain.NewDate(2022, 1, 1), PeriodEnd: domain.NewDate(2026, 12, 31)}
	st := &fakeStore{
		principals: map[string]store.Principal{
			tokenKey(tokMette): {UserID: "og-mette", Name: "Mette Kjær", Email: "mette.kjaer@example.dk", Roles: map[string]domain.Role{planViborg: domain.RoleOperationalGroup}},
			tokenKey(tokHanne): {UserID: "bs-hanne", Name: "Hanne Mortensen", Roles: map[string]domain.Role{planViborg: domain.RoleBoard}},
			tokenKey(tokPeter): {UserID: "fin-peter", Name: "Peter Holm", Roles: map[string]domain.Role{planViborg: domain.RoleFinance}},
			tokenKey(tokKaren): {UserID: "adm-karen", Name: "Karen Iversen", Roles: map[string]domain.Role{planViborg: domain.RoleAdmin}},
			tokenKey(tokOther): {UserID: "og-aarhus", Name: "Aarhus Bruger", Roles: map[string]domain.Role{planAarhus: domain.RoleOperationalGroup}},
			tokenKey(tokMulti): {UserID: "og-multi", Name: "Multi Bruger", Roles: map[string]domain.Role{planViborg: domain.RoleOperationalGroup, planAarhus: domain.RoleOperationalGroup}},
			tokenKey(tokNone):  {UserID: "no-plan", Name: "Uden Plan", Roles: map[string]domain.Role{}},
		},
		plans:     map[string]domain.Plan{planViborg: viborg, planAarhus: aarhus},
		budgets:   map[string]store.Budget{},
		available: map[string]map[string]domain.Money{planViborg: {"lbf": domain.Kroner(13_709_000), "viborg-kommune": domain.Kroner(7_200_000), "boligselskaberne": domain.Kroner(4_780_000)}},
		initiatives: map[string]domain.Initiative{
			iniViborg: testInitiative(iniViborg, planViborg),
			iniAarhus: testInitiative(iniAarhus, planAarhus),
		},
		disb: map[string]store.Disbursement{
			disViborg: testDisbursement(disViborg, planViborg, iniViborg),
			disAarhus: testDisbursement(disAarhus, planAarhus, iniAarhus),
		},
		meetings: map[string]store.Meeting{
			planViborg + "/" + meetingViborg: {PlanID: planViborg, ID: meetingViborg, HeldOn: domain.NewDate(2024, 3, 5),
				Title: "Bestyrelsesmøde"},
			planViborg + "/" + meetingCancelled: {PlanID: planViborg, ID: meetingCancelled, HeldOn: domain.NewDate(2024, 4, 2),
				Title: "Bestyrelsesmøde", CancelledAt: &t0},
		},
		idem: map[string]*store.IdempotencyRecord{},
		errs: map[string]error{},
		migrations: []store.MigrationState{
			{Version: 1, Name: "00001_init.sql", Applied: true, AppliedAt: t0},
			{Version: 2, Name: "00002_ledger.sql", Applied: true, AppliedAt: t0},
		},
	}
	wf := &fakeWorkflows{}
	logs := &syncBuffer{}
	reg := prometheus.NewRegistry()
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := New(cfg, st, wf, log, reg, reg)
	return &harness{t: t, st: st, wf: wf, e: e, reg: reg, logs: logs}
}

func testInitiative(id, plan string) domain.Initiative {
	return domain.Initiative{
		ID: id, PlanID: plan, Phase: domain.PhaseBoardReview, Version: 1, Revision: 1,
		Proposer: domain.Actor{UserID: "og-mette", Name: "Mette Kjær", Role: domain.RoleOperationalGroup},
		Proposal: domain.Proposal{
			Title: "Lektiecafé i Ringparken", Description: "Lektiehjælp to gange om ugen.",
			DelaftaleID: "uddannelse-og-livschancer", HousingAreaIDs: []string{"ringparken"},
			TargetGroup: "Børn i 4.-9. klasse",
			Goals:       []domain.Goal{{ID: "g1", Description: "Flere børn får lektiehjælp", SuccessCriterion: "40 børn deltager"}},
			Budget:      []domain.SourceAmount{{SourceID: "lbf", AmountØre: domain.Kroner(100_000)}},
			Milestones: []domain.MilestonePlan{{Title: "Opstart", DueDate: domain.NewDate(2024, 6, 30),
				Tranche: []domain.SourceAmount{{SourceID: "lbf", AmountØre: domain.Kroner(100_000)}}}},
		},
		Decisions: []domain.Decision{},
		Milestones: []domain.Milestone{{No: 1, Title: "Opstart", DueDate: domain.NewDate(2024, 6, 30),
			Tranche:       []domain.SourceAmount{{SourceID: "lbf", AmountØre: domain.Kroner(100_000)}},
			TrancheStatus: domain.TrancheScheduled}},
		CreatedAt: t0, UpdatedAt: t0,
	}
}

func testDisbursement(id, plan, initiative string) store.Disbursement {
	return store.Disbursement{
		ID: id, PlanID: plan, InitiativeID: initiative, InitiativeTitle: "Lektiecafé i Ringparken",
		MilestoneNo: 1, MilestoneTitle: "Opstart",
		Lines:    []domain.SourceAmount{{SourceID: "lbf", AmountØre: domain.Kroner(100_000)}},
		TotalØre: domain.Kroner(100_000), Status: store.DisbursementPending, ReleasedAt: t0,
	}
}

// do sends a request through the router. body is raw JSON ("" for none); headers are name, value pairs.
func (h *harness) do(method, path, token, body string, headers ...string) *httptest.ResponseRecorder {
	h.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	req.Header.Set(echo.HeaderXRequestID, testRequestID)
	if body != "" {
		req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	}
	if token != "" {
		req.Header.Set(echo.HeaderAuthorization, "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.e.ServeHTTP(rec, req)
	return rec
}

// jsonOf decodes a body for comparison.
func jsonOf(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, b)
	}
	return v
}

// assertJSON compares a response body with the expected JSON text.
func assertJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	if diff := cmp.Diff(jsonOf(t, []byte(want)), jsonOf(t, got)); diff != "" {
		t.Errorf("body mismatch (-want +got):\n%s", diff)
	}
}

// problemJSON is the expected problem body for code with the given detail and path.
func problemJSON(t *testing.T, code, detail, path string, fields ...domain.FieldProblem) string {
	t.Helper()
	kind, ok := problemKinds[code]
	if !ok {
		t.Fatalf("unknown problem code %q", code)
	}
	p := problem{Type: problemTypeBase + code, Title: kind.title, Status: kind.status, Detail: detail,
		Instance: path, Code: code, RequestID: testRequestID}
	for _, f := range fields {
		p.Errors = append(p.Errors, fieldError(f))
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// problemOf decodes a problem body and checks its content type.
func problemOf(t *testing.T, rec *httptest.ResponseRecorder) problem {
	t.Helper()
	if ct := rec.Header().Get(echo.HeaderContentType); ct != contentTypeProblem {
		t.Errorf("Content-Type = %q, want %q (body %s)", ct, contentTypeProblem, rec.Body)
	}
	var p problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("problem body: %v\n%s", err, rec.Body)
	}
	return p
}

func wantStatus(t *testing.T, rec *httptest.ResponseRecorder, status int) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, status, rec.Body)
	}
}

// answer acts as a workflow update does: it records the initiative with a changed phase and the next version in
// the read model, then returns the small result.
func (h *harness) answer(phase domain.Phase) func(context.Context, updateCall) (workflows.UpdateResult, error) {
	return func(_ context.Context, c updateCall) (workflows.UpdateResult, error) {
		return h.st.transition(c.InitiativeID, phase), nil
	}
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

// put stores an initiative in the read model, as the workflow's first write does.
func (f *fakeStore) put(in domain.Initiative) workflows.UpdateResult {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.initiatives[in.ID] = in
	return workflows.UpdateResult{InitiativeID: in.ID, Phase: in.Phase, Version: in.Version}
}

var _ http.Handler = (*echo.Echo)(nil)
