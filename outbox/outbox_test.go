package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
)

// clock is a test clock the dispatcher and the in-memory outbox share, so backoff can be tested without waiting.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// memOutbox behaves like the outbox table: a claim leases a message until now+lease, a failure sets its next
// attempt, a delivered message is never claimed again.
type memOutbox struct {
	mu    sync.Mutex
	now   func() time.Time
	msgs  []store.OutboxMessage
	retry map[int64]time.Time // retry time a failure asked for
}

func newMemOutbox(now func() time.Time, keys ...string) *memOutbox {
	m := &memOutbox{now: now, retry: map[int64]time.Time{}}
	for i, k := range keys {
		m.msgs = append(m.msgs, store.OutboxMessage{ID: int64(i + 1), Topic: store.TopicDisbursementReleased,
			Key: store.TopicDisbursementReleased + "/" + k, NextAttemptAt: now(),
			Payload: json.RawMessage(fmt.Sprintf(`{"disbursement_id":%q,"total_ore":20000000}`, k))})
	}
	return m
}

func (m *memOutbox) ClaimOutbox(_ context.Context, limit int, lease time.Duration) ([]store.OutboxMessage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	var out []store.OutboxMessage
	for i := range m.msgs {
		msg := &m.msgs[i]
		if msg.DeliveredAt != nil || msg.NextAttemptAt.After(now) || len(out) == limit {
			continue
		}
		msg.Attempts++
		msg.NextAttemptAt = now.Add(lease)
		out = append(out, *msg)
	}
	return out, nil
}

func (m *memOutbox) MarkOutboxDelivered(_ context.Context, id int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if m.msgs[id-1].DeliveredAt == nil {
		m.msgs[id-1].DeliveredAt = &now
	}
	return nil
}

func (m *memOutbox) MarkOutboxFailed(_ context.Context, id int64, errText string, retryAt time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	msg := &m.msgs[id-1]
	msg.LastError = &errText
	m.retry[id] = retryAt
	if msg.DeliveredAt == nil {
		msg.NextAttemptAt = retryAt
	}
	return nil
}

func (m *memOutbox) get(id int64) (store.OutboxMessage, time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.msgs[id-1], m.retry[id]
}

// receiver is a finance system: it verifies every request, answers what answer says and counts 2xx per key.
type receiver struct {
	t      *testing.T
	secret []byte
	answer func(key string, r *http.Request) int

	mu      sync.Mutex
	calls   int
	ok      map[string]int       // key -> 2xx answers
	firstOK map[string]time.Time // key -> when it was first accepted
}

func newReceiver(t *testing.T, secret string, answer func(key string, r *http.Request) int) (*receiver, *httptest.Server) {
	rc := &receiver{t: t, secret: []byte(secret), answer: answer, ok: map[string]int{}, firstOK: map[string]time.Time{}}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, srv
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if err := Verify(rc.secret, r.Header, body, time.Now(), 0); err != nil {
		rc.t.Errorf("webhook %s refused: %v", r.Header.Get(HeaderIdempotencyKey), err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	key := r.Header.Get(HeaderIdempotencyKey)
	rc.mu.Lock()
	rc.calls++
	rc.mu.Unlock()
	status := rc.answer(key, r)
	if status/100 == 2 {
		rc.mu.Lock()
		rc.ok[key]++
		if _, ok := rc.firstOK[key]; !ok {
			rc.firstOK[key] = time.Now()
		}
		rc.mu.Unlock()
	}
	w.WriteHeader(status)
}

func (rc *receiver) accepted() (calls int, ok map[string]int, firstOK map[string]time.Time) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	ok, firstOK = map[string]int{}, map[string]time.Time{}
	for k, v := range rc.ok {
		ok[k] = v
	}
	for k, v := range rc.firstOK {
		firstOK[k] = v
	}
	return rc.calls, ok, firstOK
}

func signedHeader(secret []byte, ts, topic, key string, body []byte) http.Header {
	h := http.Header{}
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderTopic, topic)
	h.Set(HeaderIdempotencyKey, key)
	h.Set(HeaderSignature, Sign(secret, ts, topic, key, body))
	return h
}

func TestVerifyRefusesEveryTamperedSignedPart(t *testing.T) {
	secret := []byte("whsec-test")
	now := time.Unix(1_700_000_000, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	body := []byte(`{"disbursement_id":"i1-t1","total_ore":20000000}`)
	const topic, key = "disbursement.released", "disbursement.released/i1-t1"

	if err := Verify(secret, signedHeader(secret, ts, topic, key, body), body, now, 0); err != nil {
		t.Fatalf("an untouched request: %v", err)
	}
	tests := []struct {
		name   string
		tamper func(h http.Header, body []byte) []byte
		want   error
	}{
		{"topic_changed", func(h http.Header, b []byte) []byte { h.Set(HeaderTopic, "disbursement.paid"); return b }, ErrSignatureMismatch},
		{"key_changed", func(h http.Header, b []byte) []byte {
			h.Set(HeaderIdempotencyKey, "disbursement.released/i1-t2")
			return b
		}, ErrSignatureMismatch},
		{"body_changed", func(h http.Header, b []byte) []byte {
			return []byte(`{"disbursement_id":"i1-t1","total_ore":90000000}`)
		}, ErrSignatureMismatch},
		{"timestamp_changed", func(h http.Header, b []byte) []byte {
			h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix()+1, 10))
			return b
		}, ErrSignatureMismatch},
		// Moving text between topic and key keeps their concatenation but not the signed string.
		{"topic_key_boundary_moved", func(h http.Header, b []byte) []byte {
			h.Set(HeaderTopic, "disbursement.released/i1")
			h.Set(HeaderIdempotencyKey, "-t1")
			return b
		}, ErrSignatureMismatch},
		{"old_sha256_format", func(h http.Header, b []byte) []byte {
			h.Set(HeaderSignature, "sha256="+h.Get(HeaderSignature)[len("v1="):])
			return b
		}, ErrSignatureMismatch},
		{"other_secret", func(h http.Header, b []byte) []byte {
			h.Set(HeaderSignature, Sign([]byte("guess"), ts, topic, key, b))
			return b
		}, ErrSignatureMismatch},
		{"topic_missing", func(h http.Header, b []byte) []byte { h.Del(HeaderTopic); return b }, ErrMissingHeader},
		{"key_missing", func(h http.Header, b []byte) []byte { h.Del(HeaderIdempotencyKey); return b }, ErrMissingHeader},
		{"signature_missing", func(h http.Header, b []byte) []byte { h.Del(HeaderSignature); return b }, ErrMissingHeader},
		{"timestamp_not_canonical", func(h http.Header, b []byte) []byte { h.Set(HeaderTimestamp, "0"+ts); return b }, ErrBadTimestamp},
		{"line_break_in_key", func(h http.Header, b []byte) []byte { h[HeaderIdempotencyKey] = []string{"a\nb"}; return b }, ErrBadHeaderValue},
		{"topic_repeated", func(h http.Header, b []byte) []byte { h.Add(HeaderTopic, "disbursement.paid"); return b }, ErrBadHeaderValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := signedHeader(secret, ts, topic, key, body)
			b := tt.tamper(h, append([]byte(nil), body...))
			if err := Verify(secret, h, b, now, 0); !errors.Is(err, tt.want) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyAllowsOnlyTheGivenClockSkew(t *testing.T) {
	secret := []byte("whsec-test")
	body := []byte(`{}`)
	sent := time.Unix(1_700_000_000, 0)
	h := signedHeader(secret, strconv.FormatInt(sent.Unix(), 10), "t", "t/k", body)
	for _, tt := range []struct {
		name    string
		now     time.Time
		maxSkew time.Duration
		want    error
	}{
		{"received_4m59s_later_default_skew", sent.Add(4*time.Minute + 59*time.Second), 0, nil},
		{"received_5m01s_later_default_skew", sent.Add(5*time.Minute + time.Second), 0, ErrTimestampSkew},
		{"receiver_clock_behind_within_skew", sent.Add(-30 * time.Second), time.Minute, nil},
		{"receiver_clock_behind_beyond_skew", sent.Add(-90 * time.Second), time.Minute, ErrTimestampSkew},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := Verify(secret, h, body, tt.now, tt.maxSkew); !errors.Is(err, tt.want) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyAcceptsOneValidSignatureAmongSeveral(t *testing.T) {
	secret := []byte("new-secret")
	body := []byte(`{}`)
	now := time.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	h := signedHeader(secret, ts, "t", "t/k", body)
	h.Set(HeaderSignature, Sign([]byte("old-secret"), ts, "t", "t/k", body)+", v2=abc, "+h.Get(HeaderSignature))
	if err := Verify(secret, h, body, now, 0); err != nil {
		t.Fatalf("rotation header: %v", err)
	}
}

func TestDeliveryIsSignedKeyedAndRetriedAfterFailure(t *testing.T) {
	const secret = "whsec-test"
	var mu sync.Mutex
	var got []http.Header
	rc, srv := newReceiver(t, secret, func(_ string, r *http.Request) int {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, r.Header.Clone())
		if len(got) == 1 {
			return http.StatusServiceUnavailable // the finance system is down the first time
		}
		return http.StatusNoContent
	})
	clk := &clock{t: time.Now()}
	box := newMemOutbox(clk.Now, "i1-t1")
	d := &Dispatcher{Store: box, URL: srv.URL, Secret: []byte(secret), Log: slog.New(slog.DiscardHandler), Now: clk.Now}

	ctx := context.Background()
	if n, err := d.DeliverOnce(ctx); err != nil || n != 1 {
		t.Fatalf("first DeliverOnce = %d, %v", n, err)
	}
	if m, retry := box.get(1); m.DeliveredAt != nil || retry.Sub(clk.Now()) != 2*time.Second {
		t.Fatalf("after a 503: delivered %v, retry in %v; want not delivered, retry in 2 s", m.DeliveredAt, retry.Sub(clk.Now()))
	}
	if n, _ := d.DeliverOnce(ctx); n != 0 {
		t.Fatal("a message was sent again before its backoff passed")
	}
	clk.Advance(2 * time.Second)
	if _, err := d.DeliverOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := d.DeliverOnce(ctx); n != 0 {
		t.Fatalf("a delivered message was claimed again")
	}
	calls, ok, _ := rc.accepted()
	if m, _ := box.get(1); m.DeliveredAt == nil || calls != 2 || ok["disbursement.released/i1-t1"] != 1 {
		t.Fatalf("delivered=%v calls=%d accepted=%v, want delivered on the second call", m.DeliveredAt, calls, ok)
	}
	for _, h := range got {
		if h.Get(HeaderIdempotencyKey) != "disbursement.released/i1-t1" || h.Get(HeaderTopic) != "disbursement.released" ||
			h.Get("Content-Type") != "application/json" || h.Get(HeaderSignature)[:3] != "v1=" {
			t.Errorf("headers = %v", h)
		}
	}
}

// TestSlowReceiverDelaysOnlyItsOwnMessage: the receiver hangs for 10 s on one message. The nine others, and one
// written while the slow one still hangs, arrive at once; the slow one times out and waits for its own retry.
func TestSlowReceiverDelaysOnlyItsOwnMessage(t *testing.T) {
	const secret = "whsec-test"
	const slowKey = "disbursement.released/slow"
	rc, srv := newReceiver(t, secret, func(key string, r *http.Request) int {
		if key == slowKey {
			select {
			case <-time.After(10 * time.Second):
			case <-r.Context().Done():
			}
		}
		return http.StatusNoContent
	})
	keys := []string{"slow"}
	for i := range 9 {
		keys = append(keys, fmt.Sprintf("i%d-t1", i))
	}
	box := newMemOutbox(time.Now, keys...)
	d := &Dispatcher{Store: box, URL: srv.URL, Secret: []byte(secret), Log: slog.New(slog.DiscardHandler),
		Interval: 20 * time.Millisecond, Workers: 4, Timeout: 2 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		_ = d.Run(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()

	waitFor(t, 3*time.Second, func() bool { _, ok, _ := rc.accepted(); return len(ok) == 9 })
	_, ok, first := rc.accepted()
	var last time.Duration
	for _, k := range keys[1:] {
		at := first[store.TopicDisbursementReleased+"/"+k]
		if ok[store.TopicDisbursementReleased+"/"+k] != 1 {
			t.Errorf("%s accepted %d times, want 1", k, ok[store.TopicDisbursementReleased+"/"+k])
		}
		last = max(last, at.Sub(start))
	}
	t.Logf("nine normal messages delivered %v after start, with one receiver call hanging", last)
	if last > time.Second {
		t.Errorf("the nine normal messages took %v, want under 1 s", last)
	}

	// A message written while the slow one still hangs is not held back either.
	box.mu.Lock()
	box.msgs = append(box.msgs, store.OutboxMessage{ID: int64(len(box.msgs) + 1), Topic: store.TopicDisbursementPaid,
		Key: store.TopicDisbursementPaid + "/late", Payload: json.RawMessage(`{}`), NextAttemptAt: time.Now()})
	box.mu.Unlock()
	added := time.Now()
	waitFor(t, time.Second, func() bool { _, ok, _ := rc.accepted(); return ok[store.TopicDisbursementPaid+"/late"] == 1 })
	t.Logf("a message written later delivered after %v", time.Since(added))

	// The slow one times out after 2 s and is scheduled for a retry after its own backoff, not delivered.
	waitFor(t, 3*time.Second, func() bool { m, _ := box.get(1); return m.LastError != nil })
	if m, retry := box.get(1); m.DeliveredAt != nil || time.Until(retry) < time.Second {
		t.Errorf("slow message: delivered %v, retry in %v; want a retry about 2 s out", m.DeliveredAt, time.Until(retry))
	}
}

// TestFailingDeliveriesAreRetriedWithTheirOwnBackoff: while the receiver refuses one message it accepts the
// others; the refused one is tried again after 2 s, 4 s, … (counted from its own attempts) and delivered once the
// receiver takes it.
func TestFailingDeliveriesAreRetriedWithTheirOwnBackoff(t *testing.T) {
	const secret = "whsec-test"
	var mu sync.Mutex
	down := true
	badKey := store.TopicDisbursementReleased + "/i1-t1"
	rc, srv := newReceiver(t, secret, func(key string, _ *http.Request) int {
		mu.Lock()
		defer mu.Unlock()
		if key == badKey && down {
			return http.StatusBadGateway
		}
		return http.StatusOK
	})
	// The test clock starts now and moves 14 s: the receiver's check against its own clock still passes.
	clk := &clock{t: time.Now()}
	box := newMemOutbox(clk.Now, "i1-t1", "i2-t1", "i3-t1")
	d := &Dispatcher{Store: box, URL: srv.URL, Secret: []byte(secret), Log: slog.New(slog.DiscardHandler), Now: clk.Now}
	ctx := context.Background()
	deliver := func() int {
		t.Helper()
		n, err := d.DeliverOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	start := clk.Now()
	if n := deliver(); n != 3 {
		t.Fatalf("claimed %d, want 3", n)
	}
	for attempt, wait := range []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second} {
		m, retry := box.get(1)
		if m.DeliveredAt != nil || retry.Sub(clk.Now()) != wait || m.Attempts != attempt+1 {
			t.Fatalf("after attempt %d: delivered %v, retry in %v, attempts %d; want retry in %v", attempt+1,
				m.DeliveredAt, retry.Sub(clk.Now()), m.Attempts, wait)
		}
		clk.Advance(wait - time.Second)
		if n := deliver(); n != 0 {
			t.Fatalf("claimed %d a second before the backoff ran out", n)
		}
		clk.Advance(time.Second)
		if attempt == 2 {
			mu.Lock()
			down = false
			mu.Unlock()
		}
		if n := deliver(); n != 1 {
			t.Fatalf("claimed %d after the backoff, want only the failing message", n)
		}
	}
	if m, _ := box.get(1); m.DeliveredAt == nil || m.Attempts != 4 {
		t.Fatalf("not delivered after the receiver came back (attempts %d)", m.Attempts)
	}
	for id := int64(2); id <= 3; id++ {
		if m, _ := box.get(id); m.DeliveredAt == nil || !m.DeliveredAt.Equal(start) || m.Attempts != 1 {
			t.Errorf("message %d: delivered %v after %d attempts, want at once on the first", id, m.DeliveredAt, m.Attempts)
		}
	}
	calls, ok, _ := rc.accepted()
	if calls != 6 || len(ok) != 3 {
		t.Errorf("receiver calls %d, accepted %v; want 6 calls and each key accepted", calls, ok)
	}
	for k, n := range ok {
		if n != 1 {
			t.Errorf("%s accepted %d times", k, n)
		}
	}
}

// TestEachMessageIsAcceptedOncePerKey runs two dispatchers against the real outbox table while the receiver
// refuses every third message's first attempt and is slow on others: every message ends delivered, and the
// receiver answered 2xx exactly once per key.
func TestEachMessageIsAcceptedOncePerKey(t *testing.T) {
	st := dbtest.New(t)
	ctx := context.Background()
	const n = 60
	refuseFirst, slowFirst := map[string]bool{}, map[string]bool{}
	for i := range n {
		topic := store.TopicDisbursementReleased
		if i%2 == 1 {
			topic = store.TopicDisbursementPaid
		}
		key := fmt.Sprintf("%s/i%d-t1", topic, i)
		refuseFirst[key], slowFirst[key] = i%3 == 0, i%5 == 0
		if _, err := st.DB().ExecContext(ctx, `INSERT INTO outbox (topic, key, payload) VALUES ($1, $2, $3)`,
			topic, key, fmt.Sprintf(`{"n":%d}`, i)); err != nil {
			t.Fatal(err)
		}
	}
	const secret = "whsec-db"
	var mu sync.Mutex
	attempts := map[string]int{}
	rc, srv := newReceiver(t, secret, func(key string, _ *http.Request) int {
		mu.Lock()
		attempts[key]++
		first := attempts[key] == 1
		mu.Unlock()
		switch {
		case first && refuseFirst[key]:
			return http.StatusServiceUnavailable
		case first && slowFirst[key]:
			time.Sleep(150 * time.Millisecond)
		}
		return http.StatusAccepted
	})

	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range 2 {
		d := &Dispatcher{Store: st, URL: srv.URL, Secret: []byte(secret), Log: slog.New(slog.DiscardHandler),
			Interval: 20 * time.Millisecond, Workers: 5, Timeout: 5 * time.Second,
			BackoffFunc: func(int) time.Duration { return 100 * time.Millisecond }}
		wg.Go(func() { _ = d.Run(runCtx) })
	}
	waitFor(t, 30*time.Second, func() bool {
		left, err := st.OutboxBacklog(ctx)
		return err == nil && left == 0
	})
	cancel()
	wg.Wait()

	calls, ok, _ := rc.accepted()
	if len(ok) != n {
		t.Errorf("%d keys accepted, want %d", len(ok), n)
	}
	for k, c := range ok {
		if c != 1 {
			t.Errorf("%s accepted %d times, want once", k, c)
		}
	}
	var undelivered, retried int
	if err := st.DB().GetContext(ctx, &undelivered, `SELECT count(*) FROM outbox WHERE delivered_at IS NULL`); err != nil {
		t.Fatal(err)
	}
	if err := st.DB().GetContext(ctx, &retried, `SELECT count(*) FROM outbox WHERE attempts > 1 AND last_error IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d receiver calls for %d messages; %d needed a retry", calls, n, retried)
	if undelivered != 0 || retried == 0 {
		t.Errorf("undelivered %d, retried %d; want 0 undelivered and some retried", undelivered, retried)
	}
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	for attempts, want := range map[int]time.Duration{0: time.Second, 1: 2 * time.Second, 5: 32 * time.Second, 9: 512 * time.Second, 10: 10 * time.Minute, 50: 10 * time.Minute} {
		if got := Backoff(attempts); got != want {
			t.Errorf("Backoff(%d) = %v, want %v", attempts, got, want)
		}
	}
}

func waitFor(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
