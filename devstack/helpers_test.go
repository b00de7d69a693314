package devstack

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// testLogger returns a logger that writes to the test log until the test ends. Server goroutines can still log
// while they wind down after Stop, and testing panics on a Log after the test completed, so late lines are dropped.
func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// unusedPort returns a port nothing listens on right now.
func unusedPort(t *testing.T) int {
	t.Helper()
	p, err := freePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return p
}
