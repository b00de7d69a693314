package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/helhedsplan/helhedsplan/outbox"
)

// deliver posts one signed webhook to url as the outbox dispatcher does.
func deliver(t *testing.T, url string, secret []byte, topic, key, body string) (int, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(outbox.HeaderIdempotencyKey, key)
	req.Header.Set(outbox.HeaderTopic, topic)
	req.Header.Set(outbox.HeaderTimestamp, ts)
	req.Header.Set(outbox.HeaderSignature, outbox.Sign(secret, ts, topic, key, []byte(body)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

func TestReceiver_repeats_answered_2xx_and_counted_as_duplicates(t *testing.T) {
	secret := []byte("s3cret")
	r := NewReceiver(secret)
	srv := httptest.NewServer(r)
	defer srv.Close()

	const rel, paid = "disbursement.released/a-t1", "disbursement.paid/a-t1"
	for _, d := range []struct{ topic, key, body string }{
		{"disbursement.released", rel, `{"id":"a-t1"}`},
		{"disbursement.released", rel, `{"id":"a-t1"}`}, // a repeat after a lost answer
		{"disbursement.paid", paid, `{"id":"a-t1","reference":"X"}`},
		{"disbursement.released", rel, `{"id":"a-t1","total":2}`}, // a repeat with another payload
	} {
		status, err := deliver(t, srv.URL, secret, d.topic, d.key, d.body)
		if err != nil || status != http.StatusOK {
			t.Fatalf("deliver %s: %d %v, want 200", d.key, status, err)
		}
	}
	if status, _ := deliver(t, srv.URL, []byte("wrong"), "disbursement.paid", paid, `{}`); status != http.StatusUnauthorized {
		t.Errorf("wrongly signed delivery answered %d, want 401", status)
	}

	s := r.Stats()
	got := struct {
		Keys, Accepted, Duplicates, BadSig int
		DupKeys, Differed                  []string
		Counts                             map[string]int
	}{s.Keys, s.Accepted, s.Duplicates, s.BadSig, s.DupKeys, s.Differed, s.AcceptedKey}
	want := struct {
		Keys, Accepted, Duplicates, BadSig int
		DupKeys, Differed                  []string
		Counts                             map[string]int
	}{2, 4, 2, 1, []string{rel}, []string{rel}, map[string]int{rel: 3, paid: 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

func TestReceiver_down_503_then_refusing_then_back_on_the_same_port(t *testing.T) {
	secret := []byte("k")
	r := NewReceiver(secret)
	if err := r.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	url := "http://" + r.Addr()
	// A client with keep-alive, as the dispatcher has: a kept connection must not get through while refusing.
	if status, err := deliver(t, url, secret, "t", "k1", "{}"); err != nil || status != http.StatusOK {
		t.Fatalf("up: %d %v", status, err)
	}

	if err := r.SetMode(receiver503); err != nil {
		t.Fatal(err)
	}
	if status, err := deliver(t, url, secret, "t", "k2", "{}"); err != nil || status != http.StatusServiceUnavailable {
		t.Errorf("503 mode: %d %v, want 503", status, err)
	}

	if err := r.SetMode(receiverRefused); err != nil {
		t.Fatal(err)
	}
	if status, err := deliver(t, url, secret, "t", "k2", "{}"); err == nil {
		t.Errorf("refusing mode: answered %d, want a connection error", status)
	}

	if err := r.SetMode(receiverUp); err != nil {
		t.Fatal(err)
	}
	if got := "http://" + r.Addr(); got != url {
		t.Errorf("back on %s, want %s", got, url)
	}
	if status, err := deliver(t, url, secret, "t", "k2", "{}"); err != nil || status != http.StatusOK {
		t.Errorf("back up: %d %v, want 200", status, err)
	}
	s := r.Stats()
	if s.Keys != 2 || s.Duplicates != 0 || s.TurnedAway != 1 {
		t.Errorf("stats: %d keys, %d duplicates, %d turned away; want 2, 0, 1", s.Keys, s.Duplicates, s.TurnedAway)
	}
}

func TestSchedule_full_plan_has_every_fault_of_issue_5(t *testing.T) {
	got := FullPlan().Schedule(rand.New(rand.NewPCG(1, 2)))
	var kinds []string
	for _, f := range got {
		kinds = append(kinds, f.String())
		if f.Kind == FaultWorkerKill && (f.Down < time.Second || f.Down > 3*time.Second) {
			t.Errorf("worker down %s, want 1-3 s", f.Down)
		}
	}
	want := []string{
		"worker SIGKILL", "webhook down 1m0s",
		"worker SIGKILL", "Temporal restart (SIGTERM)",
		"worker SIGKILL", "PostgreSQL down 30s",
		"worker SIGKILL", "Temporal restart (SIGKILL)",
		"worker SIGKILL", "PostgreSQL down 1m30s",
	}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("schedule (-want +got):\n%s", diff)
	}
}

func TestSchedule_small_plan_has_one_fault_of_each_kind(t *testing.T) {
	got := SmallPlan().Schedule(nil)
	n := map[FaultKind]int{}
	for _, f := range got {
		n[f.Kind]++
	}
	want := map[FaultKind]int{FaultWorkerKill: 1, FaultTemporalRestart: 1, FaultPostgresDown: 1, FaultWebhookDown: 1}
	if diff := cmp.Diff(want, n); diff != "" {
		t.Errorf("kinds (-want +got):\n%s", diff)
	}
	if est := Estimate(SmallPlan(), got); est > 3*time.Minute {
		t.Errorf("small schedule takes about %s; CI needs it short", est)
	}
}

func TestSchedule_kills_spread_between_the_outages(t *testing.T) {
	p := FaultPlan{WorkerKills: 7, TemporalRestarts: 1, PostgresOutages: []time.Duration{time.Second}}
	got := p.Schedule(nil)
	// Never two outages in a row while kills are left to put between them.
	for i := 1; i < len(got); i++ {
		if got[i].Kind != FaultWorkerKill && got[i-1].Kind != FaultWorkerKill {
			t.Errorf("faults %d and %d are both outages: %v", i-1, i, got)
		}
	}
	if len(got) != 9 {
		t.Errorf("%d faults, want 9", len(got))
	}
}

func TestCountAnswers_by_window(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	as := []answer{
		{at: t0.Add(-time.Second), status: 500},
		{at: t0, status: 503},
		{at: t0.Add(time.Second), status: 503, noRetry: true},
		{at: t0.Add(2 * time.Second), netErr: true},
		{at: t0.Add(3 * time.Second), status: 409, inFlight: true},
		{at: t0.Add(4 * time.Second), status: 200},
		{at: t0.Add(5 * time.Second), status: 502},
	}
	got := countAnswers(as, t0, t0.Add(5*time.Second))
	want := answerCounts{Total: 5, OK: 1, S503: 2, NoRetryAfter: 1, NetErr: 1, InFlight: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"5", 5 * time.Second, true},
		{now.Add(7 * time.Second).Format(http.TimeFormat), 7 * time.Second, true},
		{"soon", 0, false},
	} {
		got, ok := retryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("retryAfter(%q) = %s, %v; want %s, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestBackoff_is_capped(t *testing.T) {
	for attempt := 1; attempt < 40; attempt++ {
		d := backoff(attempt, 200*time.Millisecond, 5*time.Second)
		if d <= 0 || d > 5*time.Second {
			t.Fatalf("backoff(%d) = %s, want in (0, 5s]", attempt, d)
		}
	}
}

// flaky answers the scripted statuses in order, then 200, and records the Idempotency-Key of every attempt.
type flaky struct {
	mu     sync.Mutex
	script []func(w http.ResponseWriter)
	keys   []string
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	f.mu.Lock()
	f.keys = append(f.keys, r.Header.Get("Idempotency-Key"))
	var next func(http.ResponseWriter)
	if len(f.script) > 0 {
		next, f.script = f.script[0], f.script[1:]
	}
	f.mu.Unlock()
	if next != nil {
		next(w)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, `{"id":"x","phase":"funding"}`)
}

func problem(status int, code, retryAfter string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"status":%d,"code":%q,"detail":"d"}`, status, code)
	}
}

func testClient(url string) (*apiClient, *recorder, *[]time.Duration) {
	rec := &recorder{}
	c := newAPIClient(url, rec, slog.New(slog.DiscardHandler), 1)
	var waits []time.Duration
	c.sleep = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return ctx.Err()
	}
	return c, rec, &waits
}

func TestClient_retries_with_the_same_key_until_success(t *testing.T) {
	f := &flaky{script: []func(http.ResponseWriter){
		problem(503, "service_unavailable", "7"),
		problem(500, "internal_error", ""),
		problem(409, "idempotency_request_in_progress", "1"),
		problem(502, "", ""),
	}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c, rec, waits := testClient(srv.URL)

	var out struct{ Phase string }
	if err := c.do(context.Background(), "POST", "/x", "tok", "key-1", map[string]string{"a": "b"}, &out); err != nil {
		t.Fatal(err)
	}
	if out.Phase != "funding" {
		t.Errorf("decoded phase %q", out.Phase)
	}
	if diff := cmp.Diff([]string{"key-1", "key-1", "key-1", "key-1", "key-1"}, f.keys); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	if len(*waits) != 4 || (*waits)[0] < 7*time.Second {
		t.Errorf("waits %v: want 4, the first honouring Retry-After 7", *waits)
	}
	got := countAnswers(rec.snapshot(), time.Time{}, farFuture)
	want := answerCounts{Total: 5, OK: 1, S500: 1, S503: 1, S5xxOther: 1, InFlight: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("recorded (-want +got):\n%s", diff)
	}
}

func TestClient_business_refusal_is_not_retried(t *testing.T) {
	f := &flaky{script: []func(http.ResponseWriter){problem(409, "wrong_phase", "")}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c, _, _ := testClient(srv.URL)
	err := c.do(context.Background(), "POST", "/x", "tok", "key-2", nil, nil)
	r, ok := isRefusal(err)
	if !ok || r.Status != 409 || r.Code != "wrong_phase" {
		t.Fatalf("err = %v, want a 409 wrong_phase refusal", err)
	}
	if len(f.keys) != 1 {
		t.Errorf("%d attempts, want 1", len(f.keys))
	}
}

func TestClient_connection_errors_are_retried_until_the_deadline(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens any more
	c, rec, _ := testClient(url)
	attempts := 0
	ctx, cancel := context.WithCancel(context.Background())
	c.sleep = func(context.Context, time.Duration) error {
		if attempts++; attempts == 3 {
			cancel()
			return context.Canceled
		}
		return nil
	}
	err := c.do(ctx, "POST", "/x", "tok", "key-3", nil, nil)
	var g *GaveUp
	if !errors.As(err, &g) || g.Attempts != 3 {
		t.Fatalf("err = %v, want GaveUp after 3 attempts", err)
	}
	if n := countAnswers(rec.snapshot(), time.Time{}, farFuture).NetErr; n != 3 {
		t.Errorf("%d connection errors recorded, want 3", n)
	}
}

func TestScenarios_mix(t *testing.T) {
	n := map[string]int{}
	for i := range 200 {
		n[scenarioFor(i).expectedPhase()]++
	}
	if diff := cmp.Diff(map[string]int{"completed": 130, "executing": 10, "rejected": 20, "withdrawn": 40}, n); diff != "" {
		t.Errorf("final phases of 200 (-want +got):\n%s", diff)
	}
}
