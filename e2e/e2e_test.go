package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/temporaltest"

	"github.com/helhedsplan/helhedsplan/activities"
	"github.com/helhedsplan/helhedsplan/doctor"
	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/internal/apiclient"
	"github.com/helhedsplan/helhedsplan/internal/faultproxy"
	"github.com/helhedsplan/helhedsplan/internal/lifecycle"
	"github.com/helhedsplan/helhedsplan/internal/stack"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
	"github.com/helhedsplan/helhedsplan/worker"
	sdkworker "go.temporal.io/sdk/worker"
)

// env is one test's system: a Temporal server, a fresh database, and the API (with or without a worker).
type env struct {
	t      *testing.T
	ts     *temporaltest.TestServer
	dsn    string
	st     *store.Store
	s      *stack.Stack
	api    *apiclient.Client
	driver *lifecycle.Driver
	proxy  *faultproxy.Proxy // the worker's way to PostgreSQL, when the test asked for one
	// workers are started by the test itself (startWorker); they stop after the end-of-test checks.
	workers []sdkworker.Worker
}

// startWorker starts a worker of the test's own (e.g. after killing one) that keeps running until the end-of-test
// checks, which query the workflows, are done.
func (e *env) startWorker(acts *activities.Activities) {
	e.t.Helper()
	w := worker.New(e.ts.GetDefaultClient(), acts, worker.Options{})
	if err := w.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.workers = append(e.workers, w)
}

// outageDuring cuts the worker's database for d, sends call once during the outage (it must answer 503 with
// Retry-After, never 500), restores the database and sends the same call again, with the same Idempotency-Key,
// until it succeeds. It returns the initiative of the successful answer.
func (e *env) outageDuring(t *testing.T, d time.Duration, call apiclient.Call) lifecycle.Initiative {
	t.Helper()
	ctx := context.Background()
	e.proxy.Down()
	start := time.Now()
	var p *apiclient.Problem
	if _, err := e.api.Do(ctx, call, nil); !errors.As(err, &p) || p.Status != http.StatusServiceUnavailable {
		e.proxy.Up()
		t.Fatalf("%s during the outage: %v, want 503", call.Path, err)
	}
	time.Sleep(d - time.Since(start))
	e.proxy.Up()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var in lifecycle.Initiative
		_, err := e.api.Do(ctx, call, &in)
		if err == nil {
			return in
		}
		if !errors.As(err, &p) || p.Status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("%s after the outage: %v", call.Path, err)
		}
		time.Sleep(time.Second)
	}
}

func newEnv(t *testing.T, opts stack.Options) *env {
	t.Helper()
	return startEnv(t, dbtest.NewDSN(t), opts, nil)
}

// newEnvWithWorkerProxy is newEnv with the worker reaching PostgreSQL through a proxy (env.proxy) that the test
// can cut, while the API keeps its own connection: the database goes away in the middle of the workflow's steps.
func newEnvWithWorkerProxy(t *testing.T, opts stack.Options) *env {
	t.Helper()
	return newEnvWithProxy(t, opts, false)
}

// newEnvWithProxy puts env.proxy between the worker and PostgreSQL and, with apiToo, between the API and
// PostgreSQL as well: then the whole service loses the database when the test cuts it. env.st (the test's own
// view of the database) never goes through the proxy.
func newEnvWithProxy(t *testing.T, opts stack.Options, apiToo bool) *env {
	t.Helper()
	dsn := dbtest.NewDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p, err := faultproxy.Start(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	u.Host = p.Addr()
	wst, err := store.Open(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wst.Close() })
	opts.WorkerStore = wst
	if apiToo {
		opts.APIStore = wst
	}
	return startEnv(t, dsn, opts, p)
}

func startEnv(t *testing.T, dsn string, opts stack.Options, proxy *faultproxy.Proxy) *env {
	t.Helper()
	ts := temporaltest.NewServer(temporaltest.WithT(t))
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s, err := stack.Start(ctx, ts.GetDefaultClient(), st, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	e := &env{t: t, ts: ts, dsn: dsn, st: st, s: s, proxy: proxy}
	// The scenarios here are about steps, faults and money, not about how the board votes: the chair decides every
	// matter alone, so one request is one decision. The voting tests set the seeded rules back (boardVotes).
	e.setBoard(domain.MatterKinds, "e2e: formanden træffer alle beslutninger alene")
	// Registered after s.Close, so it runs before it: whatever the scenario did, the money adds up.
	t.Cleanup(func() {
		defer func() {
			for _, w := range e.workers {
				w.Stop()
			}
		}()
		if t.Failed() {
			return
		}
		violations, err := st.VerifyLedger(context.Background())
		if err != nil {
			t.Errorf("ledger verify: %v", err)
		}
		for _, v := range violations {
			t.Errorf("ledger verify: %s", v)
		}
		// And every open workflow agrees with the read model, the event log, the ledger and the disbursements.
		rep, err := doctor.Check(context.Background(), doctor.Deps{Client: ts.GetDefaultClient(), Store: st},
			doctor.Options{OutboxGrace: -1})
		if err != nil {
			t.Errorf("doctor: %v", err)
		}
		for _, f := range rep.Findings {
			t.Errorf("doctor: %s %s: %s", f.InitiativeID, f.Kind, f.Detail)
		}
	})
	api := &apiclient.Client{BaseURL: s.URL}
	e.api = api
	e.driver = &lifecycle.Driver{API: api, Tokens: lifecycle.Tokens{
		OperationalGroup: s.Tokens["og-mette"], Board: s.Tokens["bs-hanne"], OtherBoard: []string{s.Tokens["bs-lars"], s.Tokens["bs-sofie"]}, Finance: s.Tokens["fin-peter"]}}
	return e
}

// setBoard records the seeded board of three (Hanne chairs) with chairAlone as what the chair decides alone.
func (e *env) setBoard(chairAlone []domain.MatterKind, note string) {
	e.t.Helper()
	b := domain.Board{Members: []string{"bs-hanne", "bs-lars", "bs-sofie"}, Chair: "bs-hanne",
		ChairAlone: append([]domain.MatterKind{}, chairAlone...)}
	admin := domain.Actor{UserID: "adm-karen", Name: "Karen Iversen", Role: domain.RoleAdmin}
	if _, err := e.st.SetBoard(context.Background(), "viborg-2021-2025", b, admin, note); err != nil {
		e.t.Fatalf("set the board: %v", err)
	}
}

// boardVotes gives the board the seeded rules: proposals, evaluations, changes and cancellations by majority
// vote, milestone reports by the chair alone.
func (e *env) boardVotes() { e.setBoard(domain.DefaultChairAlone, "e2e: bestyrelsen stemmer") }

func (e *env) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.st.DB().Get(&n, q, args...); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return n
}

type budgetLine struct {
	CommittedOre *int64 `json:"committed_ore"`
	ReservedOre  int64  `json:"reserved_ore"`
	ReleasedOre  int64  `json:"released_ore"`
	PaidOre      int64  `json:"paid_ore"`
	AvailableOre *int64 `json:"available_ore"`
}

type budget struct {
	Total   budgetLine `json:"total"`
	Sources []struct {
		SourceID string `json:"source_id"`
		budgetLine
	} `json:"sources"`
	Delaftaler []struct {
		DelaftaleID string `json:"delaftale_id"`
		budgetLine
	} `json:"delaftaler"`
}

func (e *env) budget(ctx context.Context) budget {
	e.t.Helper()
	var b budget
	if _, err := e.api.Do(ctx, apiclient.Call{Method: "GET", Path: "/api/v1/plans/viborg-2021-2025/budget", Token: e.s.Tokens["bs-hanne"]}, &b); err != nil {
		e.t.Fatal(err)
	}
	return b
}

func TestSeveralInitiativesRunToCompletedAndTheBudgetAddsUp(t *testing.T) {
	e := newEnv(t, stack.Options{})
	ctx := context.Background()

	// Three initiatives run concurrently to completion; one is rejected and one withdrawn.
	type plan struct {
		milestones int
		lbf, vk    int64 // øre per milestone
	}
	// Each is exactly 25 % local (Viborg Kommune), so whatever order the concurrent approvals take, the approved
	// budget's local share stays at the plan's minimum and the co-financing rule refuses none of them.
	plans := []plan{{2, 15_000_000, 5_000_000}, {3, 30_000_000, 10_000_000}, {1, 150_000_000, 50_000_000}}
	var wg sync.WaitGroup
	errs := make([]error, len(plans))
	for i, p := range plans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			prop := lifecycle.Sample(fmt.Sprintf("Indsats %d", i+1), p.milestones, p.lbf, p.vk)
			in, err := e.driver.Propose(ctx, prop)
			if err != nil {
				errs[i] = err
				return
			}
			if in.Phase != "board_review" || in.Version != 1 {
				errs[i] = fmt.Errorf("after POST: phase %s version %d", in.Phase, in.Version)
				return
			}
			_, errs[i] = e.driver.Complete(ctx, in, 1000)
		}()
	}
	rejected, err := e.driver.Propose(ctx, lifecycle.Sample("Afvises", 1, 1_000_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	if in, err := e.driver.Act(ctx, rejected.ID, "/decision", "", e.driver.Tokens.Board, map[string]string{"outcome": "reject", "comment": "Uden for rammen"}); err != nil || in.Phase != "rejected" {
		t.Fatalf("reject: %v %+v", err, in)
	}
	withdrawn, err := e.driver.Propose(ctx, lifecycle.Sample("Trækkes", 1, 1_000_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	if in, err := e.driver.Act(ctx, withdrawn.ID, "/withdraw", "", e.driver.Tokens.OperationalGroup, map[string]string{"reason": "Finansieret andetsteds"}); err != nil || in.Phase != "withdrawn" {
		t.Fatalf("withdraw: %v %+v", err, in)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}

	var wantLBF, wantVK int64
	for _, p := range plans {
		wantLBF += p.lbf * int64(p.milestones)
		wantVK += p.vk * int64(p.milestones)
	}
	b := e.budget(ctx)
	got := map[string]budgetLine{}
	for _, s := range b.Sources {
		got[s.SourceID] = s.budgetLine
	}
	committed := map[string]int64{"lbf": 1_370_900_000, "viborg-kommune": 720_000_000, "boligselskaberne": 478_000_000}
	paid := map[string]int64{"lbf": wantLBF, "viborg-kommune": wantVK, "boligselskaberne": 0}
	for id, c := range committed {
		l := got[id]
		if l.CommittedOre == nil || *l.CommittedOre != c || l.PaidOre != paid[id] || l.ReservedOre != 0 || l.ReleasedOre != 0 ||
			l.AvailableOre == nil || *l.AvailableOre != c-paid[id] {
			t.Errorf("source %s: %+v (committed %v available %v), want committed %d paid %d available %d", id, l, deref(l.CommittedOre), deref(l.AvailableOre), c, paid[id], c-paid[id])
		}
	}
	if b.Total.PaidOre != wantLBF+wantVK || b.Total.CommittedOre == nil || *b.Total.CommittedOre != 2_568_900_000 {
		t.Errorf("total %+v, want paid %d of 2.568.900.000 øre", b.Total, wantLBF+wantVK)
	}
	for _, d := range b.Delaftaler {
		want := int64(0)
		if d.DelaftaleID == "uddannelse-og-livschancer" {
			want = wantLBF + wantVK
		}
		if d.PaidOre != want {
			t.Errorf("delaftale %s paid %d, want %d", d.DelaftaleID, d.PaidOre, want)
		}
	}
	// The ledger balances with the read model: every paid disbursement has one pay entry per source line.
	if n := e.count(`SELECT count(*) FROM disbursements WHERE status = 'paid'`); n != 6 {
		t.Errorf("paid disbursements = %d, want 6", n)
	}
	if n := e.count(`SELECT count(*) FROM disbursements WHERE status <> 'paid'`); n != 0 {
		t.Errorf("unpaid disbursements = %d, want 0", n)
	}

	// The list filters by phase and the event log tells the story in order.
	var list struct {
		Items []struct {
			ID    string `json:"id"`
			Phase string `json:"phase"`
		} `json:"items"`
	}
	if _, err := e.api.Do(ctx, apiclient.Call{Method: "GET", Path: "/api/v1/initiatives?phase=completed", Token: e.s.Tokens["og-ahmed"]}, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 3 {
		t.Errorf("completed initiatives listed: %d, want 3", len(list.Items))
	}
	var events struct {
		Items []struct {
			Seq  int64  `json:"seq"`
			Type string `json:"type"`
		} `json:"items"`
	}
	if _, err := e.api.Do(ctx, apiclient.Call{Method: "GET", Path: "/api/v1/initiatives/" + list.Items[0].ID + "/events", Token: e.s.Tokens["bs-lars"]}, &events); err != nil {
		t.Fatal(err)
	}
	if len(events.Items) < 8 || events.Items[0].Type != "submitted" || events.Items[len(events.Items)-1].Type != "evaluation_accepted" {
		t.Errorf("events = %+v", events.Items)
	}
	for i, ev := range events.Items {
		if ev.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d", i, ev.Seq)
		}
	}
}

func TestRefusedActionsAnswerProblemsAndTheWorkflowGoesOn(t *testing.T) {
	e := newEnv(t, stack.Options{})
	ctx := context.Background()
	in, err := e.driver.Propose(ctx, lifecycle.Sample("Afvisninger", 1, 1_000_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		call   apiclient.Call
		status int
		code   string
	}{
		{"report_before_approval_409", apiclient.Call{Path: "/milestones/1/report", Token: e.s.Tokens["og-mette"], Body: map[string]any{"summary": "x", "spent_ore": 0}}, 409, "wrong_phase"},
		{"decision_by_operational_group_403", apiclient.Call{Path: "/decision", Token: e.s.Tokens["og-mette"], Body: map[string]string{"outcome": "approve"}}, 403, ""},
		{"withdraw_by_other_member_403", apiclient.Call{Path: "/withdraw", Token: e.s.Tokens["og-ahmed"], Body: map[string]string{"reason": "x"}}, 403, "forbidden"},
		{"reject_without_comment_422", apiclient.Call{Path: "/decision", Token: e.s.Tokens["bs-hanne"], Body: map[string]string{"outcome": "reject"}}, 422, "validation_failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.call.Method, tc.call.Path = "POST", "/api/v1/initiatives/"+in.ID+tc.call.Path
			status, err := e.api.Do(ctx, tc.call, nil)
			var p *apiclient.Problem
			if !errors.As(err, &p) || status != tc.status || (tc.code != "" && p.Code != tc.code) {
				t.Fatalf("got %d %v, want %d %s", status, err, tc.status, tc.code)
			}
			if p.Detail == "" {
				t.Errorf("problem without a detail for the user: %+v", p)
			}
		})
	}
	// Too much money: more than Landsbyggefonden has committed to the whole plan.
	greedy := lifecycle.Sample("For dyr", 1, 1_370_900_001, 0)
	if _, err := e.driver.Propose(ctx, greedy); !hasField(err, "exceeds_committed") {
		t.Errorf("over-budget proposal: %v, want 422 exceeds_committed", err)
	}
	// After all that, the initiative still completes.
	if _, err := e.driver.Complete(ctx, in, 0); err != nil {
		t.Fatal(err)
	}
}

func hasField(err error, code string) bool {
	var p *apiclient.Problem
	if !errors.As(err, &p) || p.Status != 422 {
		return false
	}
	for _, f := range p.Errors {
		if f.Code == code {
			return true
		}
	}
	return false
}

func TestSameConfirmSentTwiceConcurrentlyPaysOnce(t *testing.T) {
	e := newEnv(t, stack.Options{})
	ctx := context.Background()
	in, err := e.driver.Propose(ctx, lifecycle.Sample("Dobbelt bekræftelse", 1, 10_000_000, 5_000_000))
	if err != nil {
		t.Fatal(err)
	}
	in, err = e.driver.Act(ctx, in.ID, "/decision", "", e.driver.Tokens.Board, map[string]string{"outcome": "approve"})
	if err != nil {
		t.Fatal(err)
	}
	disb := in.Milestones[0].DisbursementID

	// Finance's inbox shows the pending disbursement.
	var inbox struct {
		Items []struct {
			ID       string `json:"id"`
			TotalOre int64  `json:"total_ore"`
		} `json:"items"`
	}
	if _, err := e.api.Do(ctx, apiclient.Call{Method: "GET", Path: "/api/v1/finance/disbursements?status=pending", Token: e.s.Tokens["fin-peter"]}, &inbox); err != nil {
		t.Fatal(err)
	}
	if len(inbox.Items) != 1 || inbox.Items[0].ID != disb || inbox.Items[0].TotalOre != 15_000_000 {
		t.Fatalf("finance inbox = %+v, want %s for 150.000 kr.", inbox.Items, disb)
	}

	const n = 8
	var wg sync.WaitGroup
	statuses := make([]int, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i], errs[i] = e.api.Do(ctx, apiclient.Call{Method: "POST", Path: "/api/v1/finance/disbursements/" + disb + "/confirm",
				Token: e.s.Tokens["fin-peter"], Body: map[string]string{"reference": "NETS-4711"}}, nil)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || statuses[i] != 200 {
			t.Errorf("confirm %d: %d %v", i, statuses[i], errs[i])
		}
	}
	if got := e.count(`SELECT count(*) FROM ledger_entries WHERE kind = 'pay'`); got != 2 {
		t.Errorf("pay ledger entries = %d, want 2 (one per source)", got)
	}
	if got := e.count(`SELECT count(*) FROM initiative_events WHERE type = 'payment_confirmed'`); got != 1 {
		t.Errorf("payment_confirmed events = %d, want 1", got)
	}
	// A different reference for the same disbursement is refused.
	status, err := e.api.Do(ctx, apiclient.Call{Method: "POST", Path: "/api/v1/finance/disbursements/" + disb + "/confirm",
		Token: e.s.Tokens["fin-peter"], Body: map[string]string{"reference": "NETS-9999"}}, nil)
	var p *apiclient.Problem
	if !errors.As(err, &p) || status != 409 || p.Code != "already_paid" {
		t.Errorf("confirm with another reference: %d %v, want 409 already_paid", status, err)
	}
	if b := e.budget(ctx); b.Total.PaidOre != 15_000_000 {
		t.Errorf("paid = %d øre, want 15.000.000", b.Total.PaidOre)
	}
}

func TestIdempotencyKeyMakesARetriedPostHappenOnce(t *testing.T) {
	e := newEnv(t, stack.Options{})
	ctx := context.Background()
	call := apiclient.Call{Method: "POST", Path: "/api/v1/initiatives", Token: e.s.Tokens["og-mette"],
		Body: lifecycle.Sample("Gentaget", 1, 1_000_000, 0), IdempotencyKey: "retry-1"}
	var first, second lifecycle.Initiative
	if _, err := e.api.Do(ctx, call, &first); err != nil {
		t.Fatal(err)
	}
	if _, err := e.api.Do(ctx, call, &second); err != nil {
		t.Fatal(err)
	}
	if first.ID == "" || first.ID != second.ID {
		t.Fatalf("ids %q and %q, want the same", first.ID, second.ID)
	}
	if n := e.count(`SELECT count(*) FROM initiatives`); n != 1 {
		t.Fatalf("initiatives = %d, want 1", n)
	}
}

// TestWorkerKilledDuringTrancheReleasePaysOnce runs the worker in a child process, lets it commit a tranche
// release, kills it with SIGKILL before it can tell Temporal, and lets a fresh worker retry the activity.
func TestWorkerKilledDuringTrancheReleasePaysOnce(t *testing.T) {
	e := newEnv(t, stack.Options{NoWorker: true})
	ctx := context.Background()

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), childWorkerEnv+"=1", "E2E_TEMPORAL="+e.ts.GetFrontendHostPort(),
		"E2E_NAMESPACE="+e.ts.GetDefaultNamespace(), "E2E_DSN="+e.dsn)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	released := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "RELEASED ") {
				close(released)
				return
			}
		}
	}()

	in, err := e.driver.Propose(ctx, lifecycle.Sample("Dræbt worker", 2, 20_000_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	approved := make(chan error, 1)
	var after lifecycle.Initiative
	go func() {
		var err error
		after, err = e.driver.Act(ctx, in.ID, "/decision", "", e.driver.Tokens.Board, map[string]string{"outcome": "approve"})
		approved <- err
	}()
	select {
	case <-released:
	case <-time.After(60 * time.Second):
		t.Fatal("the child worker never released the tranche")
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	if n := e.count(`SELECT count(*) FROM disbursements`); n != 1 {
		t.Fatalf("disbursements after the kill = %d, want 1 (the release committed)", n)
	}

	// A new worker picks the activity up once its start-to-close timeout has passed, and finds the release done.
	e.startWorker(&activities.Activities{Store: e.st})
	if err := <-approved; err != nil {
		t.Fatalf("approve: %v", err)
	}
	if after.Phase != "funding" || after.Milestones[0].TrancheStatus != "released" {
		t.Fatalf("after approval: %+v", after)
	}
	want := map[string]int{
		`SELECT count(*) FROM disbursements`:                                           1,
		`SELECT count(*) FROM ledger_entries WHERE kind = 'release'`:                   1,
		`SELECT count(*) FROM ledger_entries WHERE kind = 'reserve'`:                   1,
		`SELECT count(*) FROM outbox WHERE topic = 'disbursement.released'`:            1,
		`SELECT count(*) FROM initiative_events WHERE type = 'tranche_released'`:       1,
		`SELECT count(*) FROM initiative_events WHERE initiative_id = '` + in.ID + `'`: 3,
	}
	got := map[string]int{}
	for q := range want {
		got[q] = e.count(q)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("after the retried release (-want +got):\n%s", diff)
	}
	// And the rest of the lifecycle runs on the new worker, paying each tranche once.
	if err := e.driver.Confirm(ctx, after.Milestones[0].DisbursementID, "BANK-1"); err != nil {
		t.Fatal(err)
	}
	if n := e.count(`SELECT count(*) FROM ledger_entries WHERE kind = 'pay'`); n != 1 {
		t.Fatalf("pay entries = %d, want 1", n)
	}
}

const childWorkerEnv = "HELHEDSPLAN_E2E_CHILD_WORKER"

// crashAfterRelease announces a committed step that released a tranche on stdout and then hangs, as a worker
// would that is about to be killed.
type crashAfterRelease struct{}

func (crashAfterRelease) AfterStep(ctx context.Context, s store.Step) error {
	if s.Release == nil {
		return nil
	}
	fmt.Printf("RELEASED %s\n", s.Release.DisbursementID)
	<-ctx.Done()
	select {} // never report completion
}

// TestMain doubles as the child worker of TestWorkerKilledDuringTrancheReleasePaysOnce.
func TestMain(m *testing.M) {
	if os.Getenv(childWorkerEnv) == "" {
		os.Exit(m.Run())
	}
	ctx := context.Background()
	st, err := store.Open(ctx, os.Getenv("E2E_DSN"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child worker:", err)
		os.Exit(2)
	}
	c, err := client.DialContext(ctx, client.Options{HostPort: os.Getenv("E2E_TEMPORAL"), Namespace: os.Getenv("E2E_NAMESPACE")})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child worker:", err)
		os.Exit(2)
	}
	w := worker.New(c, &activities.Activities{Store: st, Faults: crashAfterRelease{}}, worker.Options{})
	if err := w.Run(nil); err != nil {
		fmt.Fprintln(os.Stderr, "child worker:", err)
		os.Exit(2)
	}
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}
