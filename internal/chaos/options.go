// Package chaos is the chaos suite of issue 5: it runs the system as separate processes — a private PostgreSQL
// cluster, the Temporal server, the worker and the API — drives many initiatives through the HTTP API to their
// final phases from concurrent clients, and meanwhile kills the worker, restarts Temporal, stops PostgreSQL and
// takes the finance webhook receiver down. Afterwards it waits, without any manual step, for every initiative to
// reach its final phase and checks that no money and no message was lost or doubled, then prints a table.
//
// The suite is a harness, not the system: it never repairs anything. An initiative counts as stuck only when the
// deadline after the last fault has passed, and every request is retried the way a careful client would (same
// Idempotency-Key, capped backoff, Retry-After), so what the table reports is the system's behaviour.
package chaos

import (
	"context"
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/helhedsplan/helhedsplan/store"
)

// Options configure Run. Zero values take the defaults of the full suite (or of the small one with Small).
type Options struct {
	Initiatives int // default 200 (small: 30)
	Clients     int // concurrent HTTP clients; default 20 (small: 10)
	// Small is the CI version: 30 initiatives and one fault of each kind with short outages.
	Small bool
	// Plan overrides the fault plan of the full or small suite when set (non-nil).
	Plan *FaultPlan
	// Settle bounds the wait after the last fault for every initiative to reach its final phase and every
	// webhook to be delivered; default 10 minutes (small: 5).
	Settle time.Duration
	// Think is the longest pause between two steps of one initiative; default 1 s.
	Think time.Duration
	// Dir is where the run directory is created; default the system's temp dir.
	Dir string
	// Keep keeps the run directory (logs, PostgreSQL cluster, Temporal database). It is also kept when the
	// suite fails.
	Keep bool
	// Executable is the helhedsplan binary run as the temporal, worker and api roles; default this process's.
	Executable string
	// Seed seeds the random choices (worker down times); 0 picks one, which the report prints.
	Seed uint64
	// Checks run after the drive against the run's database and Temporal; default DefaultChecks().
	Checks []Check
}

// CheckEnv is what a check gets: the run's database and a Temporal client of the run's server.
type CheckEnv struct {
	Store    *store.Store
	Temporal client.Client
	Log      *slog.Logger
}

// CheckResult is the outcome of a check.
type CheckResult struct {
	// Ran is false when the check could not run at all (for instance, it does not exist yet); that fails the
	// suite too, since nothing was proven.
	Ran     bool
	Clean   bool
	Summary string   // one line for the table
	Details []string // every finding, for the report below the table
}

// Check is a consistency check run after the drive: the ledger verifier and the doctor.
type Check struct {
	Name string
	Run  func(ctx context.Context, env CheckEnv) (CheckResult, error)
}

func (o Options) withDefaults() Options {
	if o.Initiatives <= 0 {
		o.Initiatives = 200
		if o.Small {
			o.Initiatives = 30
		}
	}
	if o.Clients <= 0 {
		o.Clients = 20
		if o.Small {
			o.Clients = 10
		}
	}
	if o.Plan == nil {
		p := FullPlan()
		if o.Small {
			p = SmallPlan()
		}
		o.Plan = &p
	}
	if o.Settle <= 0 {
		o.Settle = 10 * time.Minute
		if o.Small {
			o.Settle = 5 * time.Minute
		}
	}
	if o.Think <= 0 {
		o.Think = time.Second
	}
	if o.Checks == nil {
		o.Checks = DefaultChecks()
	}
	return o
}
