package outbox

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/helhedsplan/helhedsplan/store"
)

type memOutbox struct {
	mu        sync.Mutex
	msgs      []store.OutboxMessage
	delivered map[int64]bool
	failedAt  map[int64]time.Time
}

func (m *memOutbox) ClaimOutbox(_ context.Context, limit int, _ time.Duration) ([]store.OutboxMessage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.OutboxMessage
	for i := range m.msgs {
		if m.delivered[m.msgs[i].ID] || len(out) == limit {
			continue
		}
		if t, ok := m.failedAt[m.msgs[i].ID]; ok && t.After(time.Now()) {
			continue
		}
		m.msgs[i].Attempts++
		out = append(out, m.msgs[i])
	}
	return out, nil
}

func (m *memOutbox) MarkOutboxDelivered(_ context.Context, id int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.delivered[id] = true
	return nil
}

func (m *memOutbox) MarkOutboxFailed(_ context.Context, id int64, _ string, retryAt time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failedAt[id] = retryAt
	return nil
}

func TestDeliveryIsSignedKeyedAndRetriedAfterFailure(t *testing.T) {
	secret := []byte("whsec-test")
	var mu sync.Mutex
	var calls int
	var got []http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		calls++
		got = append(got, r.Header.Clone())
		if r.Header.Get(HeaderSignature) != Sign(secret, r.Header.Get(HeaderTimestamp), body) {
			t.Errorf("bad signature")
		}
		var v map[string]any
		if err := json.Unmarshal(body, &v); err != nil || v["disbursement_id"] != "i1-t1" {
			t.Errorf("body = %s", body)
		}
		if calls == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // the finance system is down the first time
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	box := &memOutbox{delivered: map[int64]bool{}, failedAt: map[int64]time.Time{},
		msgs: []store.OutboxMessage{{ID: 1, Topic: "disbursement.released", Key: "disbursement.released/i1-t1",
			Payload: json.RawMessage(`{"disbursement_id":"i1-t1","total_ore":20000000}`)}}}
	d := &Dispatcher{Store: box, URL: srv.URL, Secret: secret, Log: slog.New(slog.DiscardHandler)}

	ctx := context.Background()
	if n, err := d.DeliverOnce(ctx); err != nil || n != 1 {
		t.Fatalf("first DeliverOnce = %d, %v", n, err)
	}
	if box.delivered[1] {
		t.Fatal("a 503 must not count as delivered")
	}
	if wait := time.Until(box.failedAt[1]); wait <= 0 || wait > 3*time.Second {
		t.Fatalf("retry scheduled in %v, want about 2 s after the first attempt", wait)
	}
	box.failedAt[1] = time.Now() // the backoff has passed
	if _, err := d.DeliverOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if !box.delivered[1] || calls != 2 {
		t.Fatalf("delivered=%v calls=%d, want delivered on the second call", box.delivered[1], calls)
	}
	if n, _ := d.DeliverOnce(ctx); n != 0 || calls != 2 {
		t.Fatalf("a delivered message was sent again (claimed %d, calls %d)", n, calls)
	}
	for _, h := range got {
		if h.Get("Idempotency-Key") != "disbursement.released/i1-t1" || h.Get(HeaderTopic) != "disbursement.released" {
			t.Errorf("headers = %v", h)
		}
	}
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	for attempts, want := range map[int]time.Duration{0: time.Second, 1: 2 * time.Second, 5: 32 * time.Second, 9: 512 * time.Second, 10: 10 * time.Minute, 50: 10 * time.Minute} {
		if got := Backoff(attempts); got != want {
			t.Errorf("Backoff(%d) = %v, want %v", attempts, got, want)
		}
	}
}
