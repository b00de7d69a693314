package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/helhedsplan/helhedsplan/internal/apiclient"
	"github.com/helhedsplan/helhedsplan/internal/lifecycle"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/workflows"
)

// This file holds what the TestWhy* tests of issue 5 share: raw HTTP calls (for headers and bodies the typed
// client cannot send or show), faults that lose one step's answer, and short database probes.

// rawAnswer is an HTTP answer as the client saw it.
type rawAnswer struct {
	status  int
	header  http.Header
	body    []byte
	problem whyProblem // decoded when the answer is problem+json
}

// whyProblem is an RFC 9457 problem body, with the readiness checks /readyz adds.
type whyProblem struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
	Errors []struct {
		Field string `json:"field"`
		Code  string `json:"code"`
	} `json:"errors"`
	Checks map[string]string `json:"checks"`
}

func (p whyProblem) has(field, code string) bool {
	for _, f := range p.Errors {
		if f.Field == field && f.Code == code {
			return true
		}
	}
	return false
}

func (a rawAnswer) String() string {
	return fmt.Sprintf("%d %s (Retry-After %q)", a.status, bytes.TrimSpace(a.body), a.header.Get("Retry-After"))
}

// doRaw sends body as it is (nil sends none) to the API at baseURL, with a bearer token and an Idempotency-Key
// when given.
func doRaw(baseURL, method, path, token, key string, body []byte) (rawAnswer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, baseURL+path, r)
	if err != nil {
		return rawAnswer{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return rawAnswer{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return rawAnswer{}, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	a := rawAnswer{status: resp.StatusCode, header: resp.Header, body: raw}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		if err := json.Unmarshal(raw, &a.problem); err != nil {
			return a, fmt.Errorf("%s %s: problem body %s: %w", method, path, raw, err)
		}
	}
	return a, nil
}

// rawCall is doRaw that fails the test when the call cannot be made.
func rawCall(t *testing.T, baseURL, method, path, token, key string, body []byte) rawAnswer {
	t.Helper()
	a, err := doRaw(baseURL, method, path, token, key, body)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// raw is rawCall against the env's API.
func (e *env) raw(t *testing.T, method, path, token, key string, body []byte) rawAnswer {
	t.Helper()
	return rawCall(t, e.s.URL, method, path, token, key, body)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeInitiative reads an initiative from a 2xx answer.
func decodeInitiative(t *testing.T, a rawAnswer) lifecycle.Initiative {
	t.Helper()
	var in lifecycle.Initiative
	if err := json.Unmarshal(a.body, &in); err != nil {
		t.Fatalf("initiative in %s: %v", a.body, err)
	}
	return in
}

// want503 fails unless the answer is 503 with a Retry-After header.
func want503(t *testing.T, what string, a rawAnswer) {
	t.Helper()
	if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" {
		t.Fatalf("%s: %s, want 503 with Retry-After", what, a)
	}
}

// problemOf returns the problem in an error of the typed client.
func problemOf(err error) *apiclient.Problem {
	var p *apiclient.Problem
	if errors.As(err, &p) {
		return p
	}
	return nil
}

// fieldProblem reports whether err is a problem with status and code naming field with fieldCode.
func fieldProblem(err error, status int, code, field, fieldCode string) bool {
	p := problemOf(err)
	if p == nil || p.Status != status || p.Code != code {
		return false
	}
	for _, f := range p.Errors {
		if f.Field == field && f.Code == fieldCode {
			return true
		}
	}
	return false
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", timeout, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// untilOK sends the same raw call (same Idempotency-Key) until it answers 2xx; every other answer must be 503
// with Retry-After. It returns the 2xx answer.
func (e *env) untilOK(t *testing.T, timeout time.Duration, method, path, token, key string, body []byte) rawAnswer {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		a := e.raw(t, method, path, token, key, body)
		if a.status >= 200 && a.status < 300 {
			return a
		}
		want503(t, method+" "+path+" while recovering", a)
		if time.Now().After(deadline) {
			t.Fatalf("%s %s: still %s after %s", method, path, a, timeout)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// events returns the types of an initiative's events in seq order, and fails unless the seqs are 1..n.
func (e *env) eventTypes(t *testing.T, initiativeID string) []string {
	t.Helper()
	var rows []struct {
		Seq  int64  `db:"seq"`
		Type string `db:"type"`
	}
	if err := e.st.DB().Select(&rows, `SELECT seq, type FROM initiative_events WHERE initiative_id = $1 ORDER BY seq`, initiativeID); err != nil {
		t.Fatal(err)
	}
	var types []string
	for i, r := range rows {
		if r.Seq != int64(i+1) {
			t.Fatalf("event log of %s: event %d has seq %d (a gap or a duplicate)", initiativeID, i+1, r.Seq)
		}
		// Reminders and escalations come with the calendar, not with the steps these tests take: the scenarios'
		// due dates lie in the plan period (2021-2025), so every report is overdue the moment it is due.
		if r.Type != workflows.EventReminder && r.Type != workflows.EventEscalated {
			types = append(types, r.Type)
		}
	}
	return types
}

// eventCount is the number of events in an initiative's log, alarms included: its read-model version.
func (e *env) eventCount(initiativeID string) int64 {
	return int64(e.count(`SELECT count(*) FROM initiative_events WHERE initiative_id = $1`, initiativeID))
}

// ledger counts an initiative's ledger entries of one kind.
func (e *env) ledger(initiativeID, kind string) int {
	e.t.Helper()
	return e.count(`SELECT count(*) FROM ledger_entries WHERE initiative_id = $1 AND kind = $2`, initiativeID, kind)
}

// halfDone counts initiatives with money reserved but no disbursement: an approval that is half done.
func (e *env) halfDone() int {
	e.t.Helper()
	return e.count(`
		SELECT count(*) FROM initiatives i
		WHERE EXISTS (SELECT 1 FROM ledger_entries l WHERE l.initiative_id = i.id AND l.kind = 'reserve')
		  AND NOT EXISTS (SELECT 1 FROM disbursements d WHERE d.initiative_id = i.id)`)
}

// pqError returns the PostgreSQL error in err.
func pqError(err error) *pq.Error {
	var p *pq.Error
	if errors.As(err, &p) {
		return p
	}
	return nil
}

// wantRefused fails unless err is a PostgreSQL error naming constraint (or, when constraint is "", of SQLSTATE
// code).
func wantRefused(t *testing.T, what string, err error, constraint string, code pq.ErrorCode) {
	t.Helper()
	p := pqError(err)
	switch {
	case err == nil:
		t.Errorf("%s: the database accepted it", what)
	case p == nil:
		t.Errorf("%s: %v, want a PostgreSQL error", what, err)
	case constraint != "" && p.Constraint != constraint:
		t.Errorf("%s: refused by %q (%s: %s), want constraint %q", what, p.Constraint, p.Code, p.Message, constraint)
	case constraint == "" && p.Code != code:
		t.Errorf("%s: SQLSTATE %s (%s), want %s", what, p.Code, p.Message, code)
	default:
		t.Logf("%s: refused: %s", what, p.Message)
	}
}

// loseAnswer commits every step and reports the first attempt of each step that match selects as failed, as a
// connection that breaks right after COMMIT does. lost counts the answers it took away.
type loseAnswer struct {
	match func(store.Step) bool
	mu    sync.Mutex
	seen  map[string]bool
	lost  int
}

func (l *loseAnswer) AfterStep(_ context.Context, s store.Step) error {
	if !l.match(s) {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	key := stepKey(s)
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	if l.seen[key] {
		return nil
	}
	l.seen[key] = true
	l.lost++
	return errors.New("read tcp 127.0.0.1:5432: connection reset by peer (after COMMIT)")
}

func (l *loseAnswer) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}

// stepHasEvent reports whether the step records an event of the type.
func stepHasEvent(s store.Step, eventType string) bool {
	trs := append([]store.Transition{}, s.Transitions...)
	for _, tr := range []*store.Transition{transitionOf(s.Reserve), transitionOf(s.Release), transitionOf(s.Pay)} {
		if tr != nil {
			trs = append(trs, *tr)
		}
	}
	for _, tr := range trs {
		if tr.Event.Type == eventType {
			return true
		}
	}
	return false
}

// cutMidStep sends a raw POST with an Idempotency-Key and cuts the database while the step it starts has its
// transaction open (see cutDuring); check runs once that transaction is gone. After down the database comes back
// and the same call is repeated until it succeeds; that answer is returned.
func (e *env) cutMidStep(t *testing.T, down time.Duration, method, path, token, key string, body []byte, check func()) lifecycle.Initiative {
	t.Helper()
	cut := e.cutDuring(t, method, path, token, key, body, check)
	time.Sleep(down - time.Since(cut))
	e.proxy.Up()
	return decodeInitiative(t, e.untilOK(t, 2*time.Minute, method, path, token, key, body))
}

// cutDuring sends call and cuts env.proxy (the worker's database, or the whole service's) while the step the call
// starts has its transaction open: it holds the outbox table locked, so the step's transaction stops at its last
// write (the finance message), after the reservation, the events, the disbursement and the ledger entries; then it
// takes the database away and lets the transaction go on into a closed connection, which PostgreSQL rolls back.
// check runs once that transaction is gone. The call must answer 503 with Retry-After. The database stays down;
// cutDuring returns when it was cut.
func (e *env) cutDuring(t *testing.T, method, path, token, key string, body []byte, check func()) time.Time {
	t.Helper()
	ctx := context.Background()
	lock, err := e.st.DB().BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lock.Rollback() }()
	if _, err := lock.ExecContext(ctx, `LOCK TABLE outbox IN EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	type answer struct {
		a   rawAnswer
		err error
	}
	answered := make(chan answer, 1)
	go func() {
		a, err := doRaw(e.s.URL, method, path, token, key, body)
		answered <- answer{a, err}
	}()

	var pid int
	waitFor(t, 10*time.Second, "the step's transaction to reach its last write", func() bool {
		err := e.st.DB().Get(&pid, `
			SELECT pid FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()
			  AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO outbox%'
			LIMIT 1`)
		return err == nil
	})
	e.proxy.Down()
	cut := time.Now()
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "PostgreSQL to end the cut transaction", func() bool {
		return e.count(`SELECT count(*) FROM pg_stat_activity WHERE pid = $1`, pid) == 0
	})
	check()
	got := <-answered
	if got.err != nil {
		t.Fatal(got.err)
	}
	want503(t, path+" while the database is down", got.a)
	return cut
}

// danish is n characters of Danish letters, two bytes each in UTF-8.
func danish(n int) string {
	const letters = "æøåÆØÅ"
	rs := []rune(letters)
	var b strings.Builder
	b.Grow(2 * n)
	for i := range n {
		b.WriteRune(rs[i%len(rs)])
	}
	return b.String()
}
