package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/workflows"
)

func TestIdempotency(t *testing.T) {
	confirmPath := "/api/v1/finance/disbursements/" + disViborg + "/confirm"
	decisionPath := "/api/v1/initiatives/" + iniViborg + "/decision"

	t.Run("confirm_replayed_with_same_idempotency_key_returns_first_result", func(t *testing.T) {
		h := newHarness(t)
		paidAfterUpdate(h)
		first := h.do(http.MethodPost, confirmPath, tokPeter, `{"reference":"BANK-2024-0042"}`, "Idempotency-Key", "pay-42")
		wantStatus(t, first, http.StatusOK)
		second := h.do(http.MethodPost, confirmPath, tokPeter, `{"reference":"BANK-2024-0042"}`, "Idempotency-Key", "pay-42")
		wantStatus(t, second, http.StatusOK)
		if second.Body.String() != first.Body.String() {
			t.Errorf("replay body differs:\nfirst  %s\nsecond %s", first.Body, second.Body)
		}
		if second.Header().Get("Idempotent-Replayed") != "true" || first.Header().Get("Idempotent-Replayed") != "" {
			t.Errorf("Idempotent-Replayed first=%q second=%q, want \"\" and true",
				first.Header().Get("Idempotent-Replayed"), second.Header().Get("Idempotent-Replayed"))
		}
		if got := second.Header().Get("Content-Type"); got != first.Header().Get("Content-Type") {
			t.Errorf("replayed Content-Type %q, first %q", got, first.Header().Get("Content-Type"))
		}
		if len(h.wf.updates) != 1 {
			t.Errorf("workflow updates = %d, want 1: a replay must not run the action again", len(h.wf.updates))
		}
	})

	t.Run("same_key_with_another_body_422", func(t *testing.T) {
		h := newHarness(t)
		paidAfterUpdate(h)
		wantStatus(t, h.do(http.MethodPost, confirmPath, tokPeter, `{"reference":"A"}`, "Idempotency-Key", "k1"), http.StatusOK)
		rec := h.do(http.MethodPost, confirmPath, tokPeter, `{"reference":"B"}`, "Idempotency-Key", "k1")
		wantStatus(t, rec, http.StatusUnprocessableEntity)
		assertJSON(t, rec.Body.Bytes(), problemJSON(t, "idempotency_key_reused",
			"Idempotency-Key er allerede brugt til en anden forespørgsel. Brug en ny nøgle til en ny handling.", confirmPath))
		if len(h.wf.updates) != 1 {
			t.Errorf("updates = %d, want 1", len(h.wf.updates))
		}
	})

	t.Run("same_key_on_another_path_422", func(t *testing.T) {
		h := newHarness(t)
		h.wf.updateFn = h.answer(domain.PhaseRejected)
		wantStatus(t, h.do(http.MethodPost, decisionPath, tokHanne, `{"outcome":"reject","comment":"x"}`, "Idempotency-Key", "k1"), http.StatusOK)
		rec := h.do(http.MethodPost, "/api/v1/initiatives/"+iniViborg+"/evaluation/accept", tokHanne, `{"comment":"x"}`, "Idempotency-Key", "k1")
		wantStatus(t, rec, http.StatusUnprocessableEntity)
	})

	t.Run("same_key_by_another_user_is_independent_200", func(t *testing.T) {
		h := newHarness(t)
		h.st.principals[tokenKey("tok-lars")] = store.Principal{UserID: "bs-lars", Name: "Lars Bach", Roles: map[string]domain.Role{planViborg: domain.RoleBoard}}
		h.wf.updateFn = h.answer(domain.PhaseBoardReview)
		wantStatus(t, h.do(http.MethodPost, decisionPath, tokHanne, `{"outcome":"approve"}`, "Idempotency-Key", "vote"), http.StatusOK)
		wantStatus(t, h.do(http.MethodPost, decisionPath, "tok-lars", `{"outcome":"reject","comment":"Nej"}`, "Idempotency-Key", "vote"), http.StatusOK)
		ids := h.wf.updateIDs()
		if len(ids) != 2 || !strings.HasPrefix(ids[0], "bs-hanne/") || !strings.HasPrefix(ids[1], "bs-lars/") {
			t.Errorf("update ids = %q, want one per user, each <user>/<digest>", ids)
		}
	})

	t.Run("repeat_while_first_in_progress_409", func(t *testing.T) {
		h := newHarness(t)
		body := `{"outcome":"approve"}`
		h.st.idem["bs-hanne\x00k-slow"] = &store.IdempotencyRecord{UserID: "bs-hanne", Key: "k-slow", Method: http.MethodPost,
			Path: decisionPath, RequestHash: requestHash(http.MethodPost, decisionPath, []byte(body))}
		rec := h.do(http.MethodPost, decisionPath, tokHanne, body, "Idempotency-Key", "k-slow")
		wantStatus(t, rec, http.StatusConflict)
		assertJSON(t, rec.Body.Bytes(), problemJSON(t, "idempotency_request_in_progress",
			"En forespørgsel med samme Idempotency-Key er ved at blive behandlet. Prøv igen om et øjeblik.", decisionPath))
		if got := rec.Header().Get("Retry-After"); got != "2" {
			t.Errorf("409 in progress: Retry-After = %q, want 2", got)
		}
		if len(h.wf.updates) != 0 {
			t.Errorf("in-progress repeat reached the workflow")
		}
	})

	t.Run("server_error_is_abandoned_and_retry_reuses_the_update_id", func(t *testing.T) {
		h := newHarness(t)
		calls := 0
		h.wf.updateFn = func(ctx context.Context, c updateCall) (workflows.UpdateResult, error) {
			calls++
			if calls == 1 {
				return workflows.UpdateResult{}, fmt.Errorf("%w: update timed out", ErrStillRunning)
			}
			return h.answer(domain.PhaseFunding)(ctx, c)
		}
		first := h.do(http.MethodPost, decisionPath, tokHanne, `{"outcome":"approve"}`, "Idempotency-Key", "k-retry")
		wantStatus(t, first, http.StatusServiceUnavailable)
		if got := first.Header().Get("Retry-After"); got != "2" {
			t.Errorf("Retry-After = %q, want 2", got)
		}
		if h.st.abandoned != 1 || h.st.completed != 0 {
			t.Errorf("after 503: abandoned %d, completed %d; want 1, 0", h.st.abandoned, h.st.completed)
		}
		second := h.do(http.MethodPost, decisionPath, tokHanne, `{"outcome":"approve"}`, "Idempotency-Key", "k-retry")
		wantStatus(t, second, http.StatusOK)
		if second.Header().Get("Idempotent-Replayed") != "" {
			t.Errorf("a retry after a 5xx must run again, not replay")
		}
		if ids := h.wf.updateIDs(); len(ids) != 2 || ids[0] != ids[1] || !strings.HasPrefix(ids[0], "bs-hanne/") {
			t.Errorf("update ids = %q; want the same bs-hanne/... twice so Temporal attaches the retry to the first", ids)
		}
	})

	t.Run("client_error_is_stored_and_replayed_409", func(t *testing.T) {
		h := newHarness(t)
		h.wf.updateFn = func(context.Context, updateCall) (workflows.UpdateResult, error) {
			return workflows.UpdateResult{}, domain.Refuse(domain.CodeWrongPhase, "Indsatsen er afvist.")
		}
		first := h.do(http.MethodPost, decisionPath, tokHanne, `{"outcome":"approve"}`, "Idempotency-Key", "k-4xx")
		wantStatus(t, first, http.StatusConflict)
		second := h.do(http.MethodPost, decisionPath, tokHanne, `{"outcome":"approve"}`, "Idempotency-Key", "k-4xx")
		wantStatus(t, second, http.StatusConflict)
		if second.Body.String() != first.Body.String() || second.Header().Get("Content-Type") != contentTypeProblem ||
			second.Header().Get("Idempotent-Replayed") != "true" {
			t.Errorf("4xx replay = %s %q", second.Body, second.Header())
		}
		if len(h.wf.updates) != 1 {
			t.Errorf("updates = %d, want 1", len(h.wf.updates))
		}
	})

	t.Run("key_too_long_400", func(t *testing.T) {
		h := newHarness(t)
		rec := h.do(http.MethodPost, decisionPath, tokHanne, `{"outcome":"approve"}`, "Idempotency-Key", strings.Repeat("k", 201))
		wantStatus(t, rec, http.StatusBadRequest)
		if p := problemOf(t, rec); len(p.Errors) != 1 || p.Errors[0].Field != "Idempotency-Key" {
			t.Errorf("problem = %+v", p)
		}
	})

	t.Run("begin_failing_500_does_not_run_the_action", func(t *testing.T) {
		h := newHarness(t)
		h.st.errs["BeginIdempotent"] = errors.New("column \"key\" does not exist")
		rec := h.do(http.MethodPost, decisionPath, tokHanne, `{"outcome":"approve"}`, "Idempotency-Key", "k")
		wantStatus(t, rec, http.StatusInternalServerError)
		if len(h.wf.updates) != 0 {
			t.Errorf("action ran without an idempotency record")
		}
	})

	t.Run("begin_with_database_down_503_does_not_run_the_action", func(t *testing.T) {
		h := newHarness(t)
		h.st.errs["BeginIdempotent"] = fmt.Errorf("begin idempotent request: %w: dial tcp: connection refused", store.ErrUnavailable)
		rec := h.do(http.MethodPost, decisionPath, tokHanne, `{"outcome":"approve"}`, "Idempotency-Key", "k")
		wantStatus(t, rec, http.StatusServiceUnavailable)
		if p := problemOf(t, rec); p.Code != "dependency_unavailable" || rec.Header().Get("Retry-After") != "5" {
			t.Errorf("code %q, Retry-After %q; want dependency_unavailable and 5", p.Code, rec.Header().Get("Retry-After"))
		}
		if len(h.wf.updates) != 0 {
			t.Errorf("action ran without an idempotency record")
		}
	})

	t.Run("get_requests_ignore_the_key_200", func(t *testing.T) {
		h := newHarness(t)
		rec := h.do(http.MethodGet, "/api/v1/initiatives/"+iniViborg, tokHanne, "", "Idempotency-Key", "k")
		wantStatus(t, rec, http.StatusOK)
		if len(h.st.idem) != 0 {
			t.Errorf("a GET created an idempotency record")
		}
	})
}

// expire forgets the stored record of a key, as store.BeginIdempotent does once store.IdempotencyTTL has passed
// (or the purger has run).
func (f *fakeStore) expire(user, key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.idem, user+"\x00"+key)
}

// TestIdempotencyKeyReusedAfterExpiry: once a key's record is gone, only Temporal's update ID stands between a
// reused key and another request's result. It is bound to the request, so another request runs as itself and the
// same request still gets its own result.
func TestIdempotencyKeyReusedAfterExpiry(t *testing.T) {
	decision := "/api/v1/initiatives/" + iniViborg + "/decision"
	reject := `{"outcome":"reject","comment":"Nej"}`
	approve := `{"outcome":"approve"}`

	h := newHarness(t)
	h.st.initiatives["ini-viborg-2"] = testInitiative("ini-viborg-2", planViborg)
	h.wf.updateFn = h.answer(domain.PhaseBoardReview)
	send := func(path, body string) {
		t.Helper()
		wantStatus(t, h.do(http.MethodPost, path, tokHanne, body, "Idempotency-Key", "vote"), http.StatusOK)
		h.st.expire("bs-hanne", "vote")
	}
	send(decision, reject)
	send(decision, approve)                                                          // same key, same route, another body
	send("/api/v1/initiatives/ini-viborg-2/decision", reject)                        // same key and body, another initiative
	send("/api/v1/initiatives/"+iniViborg+"/evaluation/accept", `{"comment":"Nej"}`) // another route
	send(decision, reject)                                                           // the first request again

	ids := h.wf.updateIDs()
	if len(ids) != 5 {
		t.Fatalf("updates = %q, want 5", ids)
	}
	for i := 1; i < 4; i++ {
		for j := range i {
			if ids[i] == ids[j] {
				t.Errorf("requests %d and %d differ but share update id %q: one could get the other's result", j, i, ids[i])
			}
		}
	}
	if ids[4] != ids[0] {
		t.Errorf("the same request again got update id %q, first %q: Temporal could not answer it with its own result", ids[4], ids[0])
	}
	for _, id := range ids {
		if !strings.HasPrefix(id, "bs-hanne/") || len(id) != len("bs-hanne/")+32 {
			t.Errorf("update id %q is not <user>/<32 hex>", id)
		}
	}
}

// TestCreateKeyReusedAfterExpiryProposesAnotherInitiative: the initiative ID derived from a key is bound to the
// proposal too, so a reused key with another proposal cannot be answered with the first initiative.
func TestCreateKeyReusedAfterExpiryProposesAnotherInitiative(t *testing.T) {
	h := newHarness(t)
	var ids []string
	h.wf.startFn = func(in workflows.StartInput) (workflows.UpdateResult, error) {
		ids = append(ids, in.InitiativeID)
		return h.st.put(testInitiative(in.InitiativeID, planViborg)), nil
	}
	first, other := createBody(t, nil), createBody(t, func(m map[string]any) { m["title"] = "Fritidsjob" })
	for _, body := range []string{first, other, first} {
		wantStatus(t, h.do(http.MethodPost, "/api/v1/initiatives", tokMette, body, "Idempotency-Key", "create"), http.StatusCreated)
		h.st.expire("og-mette", "create")
	}
	if len(ids) != 3 || ids[0] == ids[1] || ids[0] != ids[2] {
		t.Errorf("initiative ids = %q; want another for another proposal and the same for the same one", ids)
	}
}
