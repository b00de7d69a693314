package api

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/workflows"
)

// A NUL or invalid UTF-8 in the path or a query parameter is refused with 400 before any handler, store or
// idempotency record sees it (PostgreSQL would refuse the text with a 500).
func TestBadURLIsRefusedBeforeAnythingIsRead(t *testing.T) {
	tests := []struct{ name, method, path string }{
		{"nul_in_initiative_id", http.MethodGet, "/api/v1/initiatives/%00"},
		{"invalid_utf8_in_initiative_id", http.MethodGet, "/api/v1/initiatives/%FF/events"},
		{"nul_in_query", http.MethodGet, "/api/v1/initiatives?delaftale=%00"},
		{"invalid_utf8_in_query", http.MethodGet, "/api/v1/initiatives?housing_area=%FF"},
		{"control_char_in_query_name", http.MethodGet, "/api/v1/initiatives?%01=x"},
		{"nul_in_disbursement_on_confirm", http.MethodPost, "/api/v1/finance/disbursements/%00/confirm"},
		{"invalid_utf8_with_idempotency_key", http.MethodPost, "/api/v1/initiatives/%FF/decision"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			rec := h.do(tt.method, tt.path, tokHanne, `{"outcome":"approve"}`, "Idempotency-Key", "k-"+tt.name)
			wantStatus(t, rec, http.StatusBadRequest)
			if len(h.st.idem) != 0 || len(h.wf.updates) != 0 {
				t.Errorf("a bad URL reached the idempotency store (%d) or the workflow (%d)", len(h.st.idem), len(h.wf.updates))
			}
		})
	}
}

// flakyAbandon fails AbandonIdempotent while down is true, as PostgreSQL does while it is stopped.
type flakyAbandon struct {
	*fakeStore
	mu   sync.Mutex
	down bool
}

func (f *flakyAbandon) AbandonIdempotent(ctx context.Context, user, key string) error {
	f.mu.Lock()
	down := f.down
	f.mu.Unlock()
	if down {
		return store.ErrUnavailable
	}
	return f.fakeStore.AbandonIdempotent(ctx, user, key)
}

// The database is down when a request fails and its key should be released: the release is retried in the
// background, so once PostgreSQL is back the client's retry runs instead of getting 409 for the rest of the lease.
func TestAKeyIsReleasedOnceTheDatabaseIsBack(t *testing.T) {
	abandonRetryInterval = 50 * time.Millisecond
	t.Cleanup(func() { abandonRetryInterval = time.Second })
	h := newHarness(t)
	flaky := &flakyAbandon{fakeStore: h.st, down: true}
	reg := prometheus.NewRegistry()
	h.e = New(Config{}, flaky, h.wf, slog.New(slog.DiscardHandler), reg, reg)
	h.wf.updateFn = func(context.Context, updateCall) (workflows.UpdateResult, error) {
		return workflows.UpdateResult{}, ErrStillRunning
	}
	path := "/api/v1/initiatives/" + iniViborg + "/decision"
	body := `{"outcome":"approve"}`
	wantStatus(t, h.do(http.MethodPost, path, tokHanne, body, "Idempotency-Key", "k1"), http.StatusServiceUnavailable)
	if rec := h.do(http.MethodPost, path, tokHanne, body, "Idempotency-Key", "k1"); rec.Code != http.StatusConflict {
		t.Fatalf("while the database is down the key is still held: got %d, want 409", rec.Code)
	}
	flaky.mu.Lock()
	flaky.down = false
	flaky.mu.Unlock()
	// The retry right after the database is back runs again (503: the fake update is still running), never 409.
	if rec := h.do(http.MethodPost, path, tokHanne, body, "Idempotency-Key", "k1"); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("retry once the database is back: %d %s, want 503 (it ran again)", rec.Code, rec.Body)
	}
	if n := len(h.wf.updateIDs()); n != 2 {
		t.Fatalf("the update was sent %d times, want 2 (first attempt and retry)", n)
	}

	// Without a retry, the background release frees the key by itself.
	flaky.mu.Lock()
	flaky.down = true
	flaky.mu.Unlock()
	wantStatus(t, h.do(http.MethodPost, path, tokHanne, body, "Idempotency-Key", "k2"), http.StatusServiceUnavailable)
	flaky.mu.Lock()
	flaky.down = false
	flaky.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		h.st.mu.Lock()
		_, held := h.st.idem["bs-hanne\x00k2"]
		h.st.mu.Unlock()
		if !held {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the background release never freed the key")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
