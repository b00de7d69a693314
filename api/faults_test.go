package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/workflows"
)

// databaseDown is what the store returns while PostgreSQL is down: a transient error wrapping store.ErrUnavailable.
func databaseDown(op string) error {
	return fmt.Errorf("%s: %w: dial tcp 10.1.2.3:5432: %w", op, store.ErrUnavailable, syscall.ECONNREFUSED)
}

// TestDatabaseDownIs503 covers every store call a request makes: with PostgreSQL down each answers 503
// dependency_unavailable with Retry-After, never 500, and nothing reaches the workflow.
func TestDatabaseDownIs503(t *testing.T) {
	base := "/api/v1/initiatives/" + iniViborg
	tests := []struct {
		name, failing, method, path, token, body string
		headers                                  []string
	}{
		{name: "token_lookup", failing: "PrincipalByTokenHash", method: http.MethodGet, path: "/api/v1/me", token: tokMette},
		{name: "list_plans", failing: "ListPlans", method: http.MethodGet, path: "/api/v1/plans", token: tokMette},
		{name: "get_plan", failing: "GetPlan", method: http.MethodGet, path: "/api/v1/plans/" + planViborg, token: tokMette},
		{name: "budget", failing: "Budget", method: http.MethodGet, path: "/api/v1/plans/" + planViborg + "/budget", token: tokMette},
		{name: "get_initiative", failing: "GetInitiative", method: http.MethodGet, path: base, token: tokMette},
		{name: "list_initiatives", failing: "ListInitiatives", method: http.MethodGet, path: "/api/v1/initiatives", token: tokMette},
		{name: "list_events", failing: "ListEvents", method: http.MethodGet, path: base + "/events", token: tokMette},
		{name: "list_disbursements", failing: "ListDisbursements", method: http.MethodGet, path: "/api/v1/finance/disbursements", token: tokPeter},
		{name: "plan_for_create", failing: "GetPlan", method: http.MethodPost, path: "/api/v1/initiatives", token: tokMette, body: "create"},
		{name: "available_for_create", failing: "Available", method: http.MethodPost, path: "/api/v1/initiatives", token: tokMette, body: "create"},
		{name: "initiative_for_decision", failing: "GetInitiative", method: http.MethodPost, path: base + "/decision", token: tokHanne,
			body: `{"outcome":"approve"}`},
		{name: "disbursement_for_confirm", failing: "GetDisbursement", method: http.MethodPost,
			path: "/api/v1/finance/disbursements/" + disViborg + "/confirm", token: tokPeter, body: `{"reference":"B-1"}`},
		{name: "begin_idempotent", failing: "BeginIdempotent", method: http.MethodPost, path: base + "/decision", token: tokHanne,
			body: `{"outcome":"approve"}`, headers: []string{"Idempotency-Key", "k1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name+"_503", func(t *testing.T) {
			h := newHarness(t)
			h.st.errs[tt.failing] = databaseDown(tt.failing)
			body := tt.body
			if body == "create" {
				body = createBody(t, nil)
			}
			rec := h.do(tt.method, tt.path, tt.token, body, tt.headers...)
			wantStatus(t, rec, http.StatusServiceUnavailable)
			assertJSON(t, rec.Body.Bytes(), problemJSON(t, "dependency_unavailable", detailDatabase, tt.path))
			if got := rec.Header().Get("Retry-After"); got != "5" {
				t.Errorf("Retry-After = %q, want 5", got)
			}
			if len(h.wf.starts)+len(h.wf.updates) != 0 {
				t.Errorf("the workflow was called although the database is down")
			}
			if !strings.Contains(h.logs.String(), "10.1.2.3") {
				t.Errorf("the cause is not logged")
			}
		})
	}
}

func TestReadAfterUpdateWithDatabaseDown503AbandonsTheKey(t *testing.T) {
	h := newHarness(t)
	path := "/api/v1/initiatives/" + iniViborg + "/decision"
	h.wf.updateFn = func(ctx context.Context, c updateCall) (workflows.UpdateResult, error) {
		res := h.st.transition(c.InitiativeID, domain.PhaseRejected)
		h.st.mu.Lock()
		h.st.errs["GetInitiative"] = databaseDown("get initiative") // the database dies right after the write
		h.st.mu.Unlock()
		return res, nil
	}
	rec := h.do(http.MethodPost, path, tokHanne, `{"outcome":"reject","comment":"Nej"}`, "Idempotency-Key", "k-read")
	wantStatus(t, rec, http.StatusServiceUnavailable)
	if p := problemOf(t, rec); p.Code != codeDependencyUnavailable || rec.Header().Get("Retry-After") != "5" {
		t.Errorf("problem %q, Retry-After %q", p.Code, rec.Header().Get("Retry-After"))
	}
	if h.st.abandoned != 1 || h.st.completed != 0 {
		t.Errorf("abandoned %d, completed %d; want the key released for the retry", h.st.abandoned, h.st.completed)
	}
}

func TestTemporalDownIs503(t *testing.T) {
	down := translateTemporalError(serviceerror.NewUnavailable("connection refused 10.0.0.7:7233"), false)

	h := newHarness(t)
	h.wf.startFn = func(workflows.StartInput) (workflows.UpdateResult, error) { return workflows.UpdateResult{}, down }
	rec := h.do(http.MethodPost, "/api/v1/initiatives", tokMette, createBody(t, nil))
	wantStatus(t, rec, http.StatusServiceUnavailable)
	assertJSON(t, rec.Body.Bytes(), problemJSON(t, "dependency_unavailable", detailDependency, "/api/v1/initiatives"))
	if rec.Header().Get("Retry-After") != "5" {
		t.Errorf("start: Retry-After = %q, want 5", rec.Header().Get("Retry-After"))
	}

	h.wf.updateFn = func(context.Context, updateCall) (workflows.UpdateResult, error) {
		return workflows.UpdateResult{}, down
	}
	path := "/api/v1/initiatives/" + iniViborg + "/decision"
	rec = h.do(http.MethodPost, path, tokHanne, `{"outcome":"approve"}`)
	wantStatus(t, rec, http.StatusServiceUnavailable)
	assertJSON(t, rec.Body.Bytes(), problemJSON(t, "dependency_unavailable", detailDependency, path))
	if rec.Header().Get("Retry-After") != "5" {
		t.Errorf("update: Retry-After = %q, want 5", rec.Header().Get("Retry-After"))
	}
}

// TestUpdateStillRunningAtTimeout: the update waits (its write waits for the database) past the request's
// timeout. The client gets 503 with Retry-After, the key is released although the request's context has ended,
// and the retry with the same key reaches the same update (same ID) and gets its result.
func TestUpdateStillRunningAtTimeout(t *testing.T) {
	h := newHarnessWith(t, Config{RequestTimeout: 50 * time.Millisecond})
	path := "/api/v1/initiatives/" + iniViborg + "/milestones/1/accept"
	calls := 0
	h.wf.updateFn = func(ctx context.Context, c updateCall) (workflows.UpdateResult, error) {
		calls++
		if calls == 1 {
			<-ctx.Done() // as the SDK's wait for the update result ends with the request's deadline
			return workflows.UpdateResult{}, translateTemporalError(client.NewWorkflowUpdateServiceTimeoutOrCanceledError(ctx.Err()), false)
		}
		return h.st.transition(c.InitiativeID, domain.PhaseEvaluation), nil // by now the update has completed
	}
	first := h.do(http.MethodPost, path, tokHanne, `{"comment":"Fint"}`, "Idempotency-Key", "accept-1")
	wantStatus(t, first, http.StatusServiceUnavailable)
	assertJSON(t, first.Body.Bytes(), problemJSON(t, "service_unavailable", detailRunning, path))
	if got := first.Header().Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After = %q, want 2", got)
	}
	if h.st.abandoned != 1 || h.st.completed != 0 {
		t.Fatalf("after the timeout: abandoned %d, completed %d; want the key released", h.st.abandoned, h.st.completed)
	}
	for _, err := range h.st.settleCtxErrs {
		if err != nil {
			t.Errorf("idempotency bookkeeping ran with an ended context: %v", err)
		}
	}

	second := h.do(http.MethodPost, path, tokHanne, `{"comment":"Fint"}`, "Idempotency-Key", "accept-1")
	wantStatus(t, second, http.StatusOK)
	if ids := h.wf.updateIDs(); len(ids) != 2 || ids[0] != ids[1] {
		t.Errorf("update ids = %q, want the retry to carry the first request's update id", ids)
	}
	if !strings.Contains(second.Body.String(), `"phase":"evaluation"`) {
		t.Errorf("retry answered %s, want the update's result", second.Body)
	}
}

// TestSlowRequestStillSettlesItsKey: a request slower than the settle timeout still stores its answer, because
// the settle timeout starts when the handler returns.
func TestSlowRequestStillSettlesItsKey(t *testing.T) {
	h := newHarnessWith(t, Config{SettleTimeout: 20 * time.Millisecond})
	path := "/api/v1/initiatives/" + iniViborg + "/decision"
	h.wf.updateFn = func(ctx context.Context, c updateCall) (workflows.UpdateResult, error) {
		time.Sleep(100 * time.Millisecond) // five settle timeouts
		return h.answer(domain.PhaseFunding)(ctx, c)
	}
	first := h.do(http.MethodPost, path, tokHanne, `{"outcome":"approve"}`, "Idempotency-Key", "slow-1")
	wantStatus(t, first, http.StatusOK)
	if h.st.completed != 1 || h.st.abandoned != 0 {
		t.Fatalf("completed %d, abandoned %d; want the slow answer stored (errors seen: %v)", h.st.completed, h.st.abandoned, h.st.settleCtxErrs)
	}
	second := h.do(http.MethodPost, path, tokHanne, `{"outcome":"approve"}`, "Idempotency-Key", "slow-1")
	wantStatus(t, second, http.StatusOK)
	if second.Header().Get("Idempotent-Replayed") != "true" || len(h.wf.updates) != 1 {
		t.Errorf("repeat: replayed %q, updates %d; want the stored answer and no second update",
			second.Header().Get("Idempotent-Replayed"), len(h.wf.updates))
	}
}

// TestReadModelBehindIs503: the workflow says version 9, the read model holds 1. The API refuses to answer with
// the older initiative.
func TestReadModelBehindIs503(t *testing.T) {
	h := newHarness(t)
	path := "/api/v1/initiatives/" + iniViborg + "/decision"
	h.wf.updateFn = func(context.Context, updateCall) (workflows.UpdateResult, error) {
		return workflows.UpdateResult{InitiativeID: iniViborg, Phase: domain.PhaseFunding, Version: 9}, nil
	}
	rec := h.do(http.MethodPost, path, tokHanne, `{"outcome":"approve"}`)
	wantStatus(t, rec, http.StatusServiceUnavailable)
	assertJSON(t, rec.Body.Bytes(), problemJSON(t, "service_unavailable", detailRunning, path))
	if rec.Header().Get("Retry-After") != "2" {
		t.Errorf("Retry-After = %q, want 2", rec.Header().Get("Retry-After"))
	}
	if !strings.Contains(h.logs.String(), "read model at version 1, workflow at 9") {
		t.Errorf("the disagreement is not logged:\n%s", h.logs)
	}

	h.wf.startFn = func(in workflows.StartInput) (workflows.UpdateResult, error) { // started, but not in the read model
		return workflows.UpdateResult{InitiativeID: in.InitiativeID, Phase: domain.PhaseBoardReview, Version: 1}, nil
	}
	rec = h.do(http.MethodPost, "/api/v1/initiatives", tokMette, createBody(t, nil))
	wantStatus(t, rec, http.StatusServiceUnavailable)
	if p := problemOf(t, rec); p.Code != codeServiceUnavailable {
		t.Errorf("create missing from the read model: code %q, want service_unavailable (not 404)", p.Code)
	}
}
