package chaos

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// FaultKind names a fault the suite injects.
type FaultKind string

// The faults of issue 5.
const (
	FaultWorkerKill      FaultKind = "worker SIGKILL"
	FaultTemporalRestart FaultKind = "Temporal restart"
	FaultPostgresDown    FaultKind = "PostgreSQL down"
	FaultWebhookDown     FaultKind = "webhook down"
)

// FaultPlan says how many faults of each kind to inject and how long the outages last.
type FaultPlan struct {
	WorkerKills      int
	TemporalRestarts int             // alternately SIGTERM (clean stop) and SIGKILL
	PostgresOutages  []time.Duration // each is `pg_ctl stop -m immediate`, this long, then a start
	WebhookOutages   []time.Duration // the first half answering 503, the second refusing connections
	// WorkerDownMin and WorkerDownMax bound how long a killed worker stays down before it is started again.
	WorkerDownMin, WorkerDownMax time.Duration
	// Lead is the time from the first initiative to the first fault; Gap the time between two faults.
	Lead, Gap time.Duration
}

// FullPlan is issue 5's suite: 5 worker kills, 2 Temporal restarts, PostgreSQL down for 30 s and for 90 s, the
// finance webhook down for 60 s.
func FullPlan() FaultPlan {
	return FaultPlan{
		WorkerKills: 5, TemporalRestarts: 2,
		PostgresOutages: []time.Duration{30 * time.Second, 90 * time.Second},
		WebhookOutages:  []time.Duration{60 * time.Second},
		WorkerDownMin:   time.Second, WorkerDownMax: 3 * time.Second,
		Lead: 15 * time.Second, Gap: 20 * time.Second,
	}
}

// SmallPlan is the CI version: one fault of each kind, with short outages.
func SmallPlan() FaultPlan {
	return FaultPlan{
		WorkerKills: 1, TemporalRestarts: 1,
		PostgresOutages: []time.Duration{20 * time.Second},
		WebhookOutages:  []time.Duration{20 * time.Second},
		WorkerDownMin:   time.Second, WorkerDownMax: 3 * time.Second,
		Lead: 8 * time.Second, Gap: 10 * time.Second,
	}
}

// PlannedFault is one fault of the schedule.
type PlannedFault struct {
	Kind FaultKind
	// Down is how long the component stays down: the outage of PostgreSQL or the webhook, or the time a killed
	// worker waits before it is started again.
	Down time.Duration
	// Hard is SIGKILL rather than SIGTERM (Temporal restarts).
	Hard bool
}

func (f PlannedFault) String() string {
	switch f.Kind {
	case FaultTemporalRestart:
		if f.Hard {
			return "Temporal restart (SIGKILL)"
		}
		return "Temporal restart (SIGTERM)"
	case FaultPostgresDown, FaultWebhookDown:
		return fmt.Sprintf("%s %s", f.Kind, f.Down)
	}
	return string(f.Kind)
}

// Schedule orders the faults: the outages and Temporal restarts interleaved (webhook, Temporal, PostgreSQL, ...),
// and the worker kills spread evenly between them, so the faults come one at a time and every kind meets
// initiatives in every phase. rng picks the worker kills' down times.
func (p FaultPlan) Schedule(rng *rand.Rand) []PlannedFault {
	var big []PlannedFault
	for i := 0; i < max(len(p.WebhookOutages), p.TemporalRestarts, len(p.PostgresOutages)); i++ {
		if i < len(p.WebhookOutages) {
			big = append(big, PlannedFault{Kind: FaultWebhookDown, Down: p.WebhookOutages[i]})
		}
		if i < p.TemporalRestarts {
			big = append(big, PlannedFault{Kind: FaultTemporalRestart, Hard: i%2 == 1})
		}
		if i < len(p.PostgresOutages) {
			big = append(big, PlannedFault{Kind: FaultPostgresDown, Down: p.PostgresOutages[i]})
		}
	}
	// Slot j holds the kills that come before big[j]; the last slot those after the last big fault.
	slots := len(big) + 1
	kills := make([]int, slots)
	for k := 0; k < p.WorkerKills; k++ {
		kills[k*slots/max(p.WorkerKills, 1)%slots]++
	}
	var out []PlannedFault
	for j := 0; j < slots; j++ {
		for range kills[j] {
			down := p.WorkerDownMin
			if span := p.WorkerDownMax - p.WorkerDownMin; span > 0 && rng != nil {
				down += time.Duration(rng.Int64N(int64(span) + 1))
			}
			out = append(out, PlannedFault{Kind: FaultWorkerKill, Down: down})
		}
		if j < len(big) {
			out = append(out, big[j])
		}
	}
	return out
}

// Estimate is roughly how long the schedule takes, for spreading the initiatives over it: the lead, the gaps, the
// outages and an allowance for each restart.
func Estimate(plan FaultPlan, faults []PlannedFault) time.Duration {
	d := plan.Lead
	for i, f := range faults {
		if i > 0 {
			d += plan.Gap
		}
		switch f.Kind {
		case FaultWorkerKill:
			d += f.Down + 3*time.Second
		case FaultTemporalRestart:
			d += 10 * time.Second
		case FaultPostgresDown:
			d += f.Down + 3*time.Second
		case FaultWebhookDown:
			d += f.Down
		}
	}
	return d
}

// FaultEvent is one injected fault as it happened.
type FaultEvent struct {
	PlannedFault
	Start  time.Time // when the component went down
	End    time.Time // when it was back and ready
	Detail string
	Err    string // the fault could not be injected or the component did not come back
}
