package api

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/helhedsplan/helhedsplan/store"
)

// fakePurger records each purge; the first fails as if the database were down.
type fakePurger struct {
	mu     sync.Mutex
	before []time.Time
	at     []time.Time
}

func (p *fakePurger) PurgeIdempotency(_ context.Context, olderThan time.Time) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.before = append(p.before, olderThan)
	p.at = append(p.at, time.Now())
	if len(p.before) == 1 {
		return 0, fmt.Errorf("purge idempotency keys: %w: connection refused", store.ErrUnavailable)
	}
	return 7, nil
}

func (p *fakePurger) calls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.before)
}

func TestRunIdempotencyPurger(t *testing.T) {
	p := &fakePurger{}
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		RunIdempotencyPurger(ctx, p, 20*time.Millisecond, log)
	}()
	deadline := time.After(5 * time.Second)
	for p.calls() < 3 {
		select {
		case <-deadline:
			t.Fatalf("purged %d times in 5 s, want a purge at start and then every 20 ms", p.calls())
		case <-time.After(5 * time.Millisecond):
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("the purger did not stop when its context ended")
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if first := p.at[0].Sub(start); first > time.Second {
		t.Errorf("first purge after %s, want at start", first)
	}
	for i, b := range p.before {
		if age := p.at[i].Sub(b); age < store.IdempotencyTTL || age > store.IdempotencyTTL+time.Minute {
			t.Errorf("purge %d deleted rows older than %s, want store.IdempotencyTTL (%s)", i, age, store.IdempotencyTTL)
		}
	}
	out := logs.String()
	if !strings.Contains(out, `"msg":"purging expired idempotency keys failed"`) || !strings.Contains(out, "connection refused") {
		t.Errorf("the failed purge is not logged:\n%s", out)
	}
	if !strings.Contains(out, `"msg":"purged expired idempotency keys","deleted":7`) {
		t.Errorf("the purged count is not logged:\n%s", out)
	}
}

func TestRunIdempotencyPurgerStoppedBeforeStartDoesNothing(t *testing.T) {
	p := &fakePurger{}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	RunIdempotencyPurger(ctx, p, time.Hour, nil)
	if p.calls() != 0 {
		t.Errorf("purged %d times after shutdown", p.calls())
	}
}
