package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
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
		wantStatus(t, h.do(http.MethodPost, decisionPath, tokHanne, `{"comment":"x"}`, "Idempotency-Key", "k1"), http.StatusOK)
		rec := h.do(http.MethodPost, "/api/v1/initiatives/"+iniViborg+"/evaluation/accept", tokHanne, `{"comment":"x"}`, "Idempotency-Key", "k1")
		wantStatus(t, rec, http.StatusUnprocessableEntity)
	})

	t.Run("same_key_by_another_user_is_independent_200", func(t *testing.T) {
		h := newHarness(t)
		h.st.principals[tokenKey("tok-lars")] = store.Principal{UserID: "bs-lars", Name: "Lars Bach", Roles: map[string]domain.Role{planViborg: domain.RoleBoard}}
		h.wf.updateFn = h.answer(domain.PhaseBoardReview)
		wantStatus(t, h.do(http.MethodPost, decisionPath, tokHanne, `{"outcome":"approve"}`, "Idempotency-Key", "vote"), http.StatusOK)
		wantStatus(t, h.do(http.MethodPost, decisionPath, "tok-lars", `{"outcome":"reject","comment":"Nej"}`, "Idempotency-Key", "vote"), http.StatusOK)
		if len(h.wf.updates) != 2 || h.wf.updates[0].UpdateID != "bs-hanne/vote" || h.wf.updates[1].UpdateID != "bs-lars/vote" {
			t.Errorf("updates = %+v, want one per user with ids <user>/<key>", h.wf.updates)
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
		if rec.Header().Get("Retry-After") == "" {
			t.Errorf("409 in progress without Retry-After")
		}
		if len(h.wf.updates) != 0 {
			t.Errorf("in-progress repeat reached the workflow")
		}
	})

	t.Run("server_error_is_abandoned_and_retry_reuses_the_update_id", func(t *testing.T) {
		h := newHarness(t)
		calls := 0
		h.wf.updateFn = func(c updateCall) (domain.Initiative, error) {
			calls++
			if calls == 1 {
				return domain.Initiative{}, fmt.Errorf("%w: update timed out", ErrUnavailable)
			}
			return h.answer(domain.PhaseFunding)(c)
		}
		first := h.do(http.MethodPost, decisionPath, tokHanne, `{"outcome":"approve"}`, "Idempotency-Key", "k-retry")
		wantStatus(t, first, http.StatusServiceUnavailable)
		if h.st.abandoned != 1 || h.st.completed != 0 {
			t.Errorf("after 503: abandoned %d, completed %d; want 1, 0", h.st.abandoned, h.st.completed)
		}
		second := h.do(http.MethodPost, decisionPath, tokHanne, `{"outcome":"approve"}`, "Idempotency-Key", "k-retry")
		wantStatus(t, second, http.StatusOK)
		if second.Header().Get("Idempotent-Replayed") != "" {
			t.Errorf("a retry after a 5xx must run again, not replay")
		}
		if h.wf.updates[0].UpdateID != "bs-hanne/k-retry" || h.wf.updates[1].UpdateID != "bs-hanne/k-retry" {
			t.Errorf("update ids = %q, %q; want bs-hanne/k-retry twice so Temporal deduplicates",
				h.wf.updates[0].UpdateID, h.wf.updates[1].UpdateID)
		}
	})

	t.Run("client_error_is_stored_and_replayed_409", func(t *testing.T) {
		h := newHarness(t)
		h.wf.updateFn = func(updateCall) (domain.Initiative, error) {
			return domain.Initiative{}, domain.Refuse(domain.CodeWrongPhase, "Indsatsen er afvist.")
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
		h.st.errs["BeginIdempotent"] = errors.New("deadlock detected")
		rec := h.do(http.MethodPost, decisionPath, tokHanne, `{"outcome":"approve"}`, "Idempotency-Key", "k")
		wantStatus(t, rec, http.StatusInternalServerError)
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
