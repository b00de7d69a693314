package chaos

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// checkOutcome is one check's result, or the error that kept it from finishing.
type checkOutcome struct {
	Name   string
	Result CheckResult
	Err    string
}

// result is everything a run found, for the report.
type result struct {
	RunID       string
	Seed        uint64
	Dir         string
	Initiatives int
	Clients     int
	Small       bool
	Settle      time.Duration
	Plan        FaultPlan

	Began              time.Time // the suite's start: every t+ in the report counts from here
	Start              time.Time // first initiative
	Faults             []FaultEvent
	Unexpected         []string
	LastFaultEnd       time.Time
	LastInitiativeDone time.Time
	OutboxDrained      time.Time // zero if it never drained
	Answers            []answer
	Runs               []*initiativeRun
	Receiver           ReceiverStats
	Verify             *verification
	Checks             []checkOutcome
	Problems           []string
}

// afterWindow is how long after a fault its late 5xx answers are still counted for it: an update that waited for
// a dead worker is answered 503 only when the API's update timeout runs out.
const afterWindow = 60 * time.Second

// failures lists everything that makes the run fail; empty means it passed.
func (r *result) failures() []string {
	var f []string
	for _, e := range r.Faults {
		if e.Err != "" {
			f = append(f, fmt.Sprintf("fault %s not injected or not recovered: %s", e.PlannedFault, e.Err))
		}
	}
	if want := len(r.Plan.Schedule(nil)); len(r.Faults) < want {
		f = append(f, fmt.Sprintf("only %d of %d faults injected", len(r.Faults), want))
	}
	if n := len(r.Unexpected); n > 0 {
		f = append(f, fmt.Sprintf("%d components exited by themselves", n))
	}
	failedRuns := 0
	for _, run := range r.Runs {
		if run.Failure != "" {
			failedRuns++
		}
	}
	if failedRuns > 0 {
		f = append(f, fmt.Sprintf("%d initiatives refused a valid step or answered it wrongly", failedRuns))
	}
	if v := r.Verify; v != nil {
		if n := len(v.Stuck); n > 0 {
			f = append(f, fmt.Sprintf("%d initiatives not in their expected final phase after the deadline", n))
		}
		for _, t := range []struct {
			name string
			t    tally
		}{{"disbursements", v.Disbursements}, {"payments", v.Payments}, {"ledger release entries", v.ReleaseLines},
			{"ledger pay entries", v.PayLines}, {"reservations", v.Reservations}, {"outbox messages", v.OutboxRows},
			{"webhook deliveries", v.Webhooks}} {
			if !t.t.ok() {
				f = append(f, fmt.Sprintf("%s: %d duplicate, %d missing of %d", t.name, t.t.Duplicates, t.t.Missing, t.t.Expected))
			}
		}
		if v.DuplicateInitiatives > 0 || v.UnknownInitiatives > 0 {
			f = append(f, fmt.Sprintf("%d initiatives created twice, %d created by no client", v.DuplicateInitiatives, v.UnknownInitiatives))
		}
		if v.Undelivered > 0 {
			f = append(f, fmt.Sprintf("%d outbox messages undelivered", v.Undelivered))
		}
		if v.Unexpected+v.Differed+v.BadSignatures+v.NoKey > 0 {
			f = append(f, fmt.Sprintf("webhooks: %d unknown keys, %d changed payloads, %d bad signatures, %d without key",
				v.Unexpected, v.Differed, v.BadSignatures, v.NoKey))
		}
	} else {
		f = append(f, "nothing verified")
	}
	if c := countAnswers(r.Answers, time.Time{}, farFuture); c.S500 > 0 {
		f = append(f, fmt.Sprintf("%d answers were 500 (an outage must be answered 503)", c.S500))
	}
	for _, c := range r.Checks {
		switch {
		case c.Err != "":
			f = append(f, fmt.Sprintf("%s could not run: %s", c.Name, c.Err))
		case !c.Result.Ran:
			f = append(f, fmt.Sprintf("%s did not run: %s", c.Name, c.Result.Summary))
		case !c.Result.Clean:
			f = append(f, fmt.Sprintf("%s: %s", c.Name, c.Result.Summary))
		}
	}
	f = append(f, r.Problems...)
	return f
}

var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

func (r *result) at(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return fmt.Sprintf("t+%.1fs", t.Sub(r.Began).Seconds())
}

// afterEnd is the end of fault i's "after" window: afterWindow past its end, but never into the next fault.
func (r *result) afterEnd(i int) time.Time {
	end := r.Faults[i].End.Add(afterWindow)
	if i+1 < len(r.Faults) && r.Faults[i+1].Start.Before(end) {
		end = r.Faults[i+1].Start
	}
	return end
}

// write prints the report: the faults with the API's answers during each, the initiatives by phase, what was
// counted once, the recovery time and the checks, then the details and the verdict.
func (r *result) write(w io.Writer, limit int) {
	fmt.Fprintf(w, "\n== helhedsplan chaos run %s: %d initiatives, %d clients%s, seed %d ==\n\n", r.RunID, r.Initiatives, r.Clients,
		map[bool]string{true: " (small)", false: ""}[r.Small], r.Seed)

	fmt.Fprintf(w, "Faults injected (t = since the suite started; first initiative at %s). 500/503/other/conn err: answers the\n", r.at(r.Start))
	fmt.Fprintln(w, "clients got while the component was down; after: 5xx in the 60 s after it was back (up to the next fault)")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tfault\tat\tback after\t500\t503\tother 5xx\tconn err\tafter\tdetail")
	for i, e := range r.Faults {
		during := countAnswers(r.Answers, e.Start, e.End)
		after := countAnswers(r.Answers, e.End, r.afterEnd(i))
		back := e.End.Sub(e.Start).Round(100 * time.Millisecond).String()
		detail := e.Detail
		if e.Err != "" {
			back, detail = "FAILED", e.Err
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", i+1, e.PlannedFault, r.at(e.Start), back,
			during.S500, during.S503, during.S5xxOther, during.NetErr, after.fiveXX(), detail)
	}
	tw.Flush()
	kinds := map[FaultKind]int{}
	for _, e := range r.Faults {
		kinds[e.Kind]++
	}
	fmt.Fprintf(w, "  by kind: %d %s, %d %s, %d %s, %d %s\n", kinds[FaultWorkerKill], FaultWorkerKill,
		kinds[FaultTemporalRestart], FaultTemporalRestart, kinds[FaultPostgresDown], FaultPostgresDown,
		kinds[FaultWebhookDown], FaultWebhookDown)
	for _, u := range r.Unexpected {
		fmt.Fprintf(w, "  UNEXPECTED EXIT: %s\n", u)
	}

	all := countAnswers(r.Answers, time.Time{}, farFuture)
	fmt.Fprintf(w, "\nAPI answers: %d attempts, %d 2xx, 5xx: %d (500: %d, 503: %d, other: %d; 503 without Retry-After: %d), connection errors/timeouts: %d, 409 in progress: %d, other 4xx: %d\n",
		all.Total, all.OK, all.fiveXX(), all.S500, all.S503, all.S5xxOther, all.NoRetryAfter, all.NetErr, all.InFlight, all.Other4xx)
	outside := all
	for i, e := range r.Faults {
		c := countAnswers(r.Answers, e.Start, r.afterEnd(i))
		outside.S500 -= c.S500
		outside.S503 -= c.S503
		outside.S5xxOther -= c.S5xxOther
	}
	if n := outside.fiveXX(); n > 0 {
		fmt.Fprintf(w, "  5xx answers outside every fault and the minute after it: %d\n", n)
	}

	v := r.Verify
	if v == nil {
		fmt.Fprintln(w, "\nNothing verified.")
	} else {
		fmt.Fprintln(w, "\nInitiatives by final phase (read model)")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "phase\texpected\treached\tactual")
		phases := map[string]bool{}
		for p := range v.Expected {
			phases[p] = true
		}
		for p := range v.Actual {
			phases[p] = true
		}
		var names []string
		for p := range phases {
			names = append(names, p)
		}
		sort.Strings(names)
		for _, p := range names {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", p, v.Expected[p], v.Reached[p], v.Actual[p])
		}
		tw.Flush()
		fmt.Fprintf(w, "  stuck: %d; initiatives in the database: %d (created twice: %d, by no client: %d)\n",
			len(v.Stuck), v.InitiativesInDB, v.DuplicateInitiatives, v.UnknownInitiatives)

		fmt.Fprintln(w, "\nExactly once")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "what\texpected\tfound\tduplicates\tmissing")
		for _, t := range []struct {
			name string
			t    tally
		}{
			{"disbursements (one per released milestone)", v.Disbursements},
			{"payments (one per paid milestone, suite's reference)", v.Payments},
			{"ledger release entries (one per disbursement line)", v.ReleaseLines},
			{"ledger pay entries (one per paid line)", v.PayLines},
			{"reservations (budget once approved, else none)", v.Reservations},
			{"outbox messages (released + paid per disbursement)", v.OutboxRows},
			{"webhook deliveries (each outbox message, 2xx once)", v.Webhooks},
		} {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", t.name, t.t.Expected, t.t.Found, t.t.Duplicates, t.t.Missing)
		}
		tw.Flush()
		fmt.Fprintf(w, "  outbox undelivered: %d; receiver: %d requests turned away while down, %d unknown keys, %d changed payloads, %d bad signatures\n",
			v.Undelivered, r.Receiver.TurnedAway, v.Unexpected, v.Differed, v.BadSignatures)
	}

	fmt.Fprintln(w, "\nRecovery")
	fmt.Fprintf(w, "  last fault over at %s; last initiative final at %s; outbox drained at %s\n",
		r.at(r.LastFaultEnd), r.at(r.LastInitiativeDone), r.at(r.OutboxDrained))
	switch {
	case v == nil || len(v.Stuck) > 0 || r.OutboxDrained.IsZero():
		fmt.Fprintf(w, "  everything completed: NO, not within %s of the last fault\n", r.Settle)
	default:
		done := r.LastInitiativeDone
		if r.OutboxDrained.After(done) {
			done = r.OutboxDrained
		}
		fmt.Fprintf(w, "  everything completed %.1f s after the last fault\n", max(done.Sub(r.LastFaultEnd).Seconds(), 0))
	}

	fmt.Fprintln(w, "\nChecks")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range r.Checks {
		status := c.Result.Summary
		switch {
		case c.Err != "":
			status = "ERROR: " + c.Err
		case !c.Result.Ran:
			status = "NOT RUN: " + status
		}
		fmt.Fprintf(tw, "  %s\t%s\n", c.Name, status)
	}
	tw.Flush()

	var anomalies []string
	var failed []string
	for _, run := range r.Runs {
		for _, a := range run.Anomalies {
			anomalies = append(anomalies, fmt.Sprintf("#%d %s: %s", run.Index, run.ID, a))
		}
		if run.Failure != "" {
			failed = append(failed, fmt.Sprintf("#%d %s %s: %s", run.Index, run.Scenario, run.ID, run.Failure))
		}
	}
	section(w, limit, "Refused or wrongly answered steps", failed)
	if v != nil {
		section(w, limit, "Stuck initiatives", v.Stuck)
		section(w, limit, "Findings", v.Details)
	}
	for _, c := range r.Checks {
		section(w, limit, c.Name+" findings", c.Result.Details)
	}
	section(w, limit, "Answers that did not show their step's effect at once (informational)", anomalies)
	section(w, limit, "Problems", r.Problems)

	if f := r.failures(); len(f) > 0 {
		fmt.Fprintf(w, "\nRESULT: FAIL\n")
		for _, line := range f {
			fmt.Fprintf(w, "  - %s\n", line)
		}
	} else {
		fmt.Fprintf(w, "\nRESULT: PASS\n")
	}
}

// section prints a list under a heading, at most limit lines of it (0: all); report.txt has them all.
func section(w io.Writer, limit int, title string, lines []string) {
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s (%d):\n", title, len(lines))
	for i, l := range lines {
		if limit > 0 && i == limit {
			fmt.Fprintf(w, "  ... %d more in report.txt\n", len(lines)-i)
			break
		}
		fmt.Fprintf(w, "  %s\n", strings.TrimSpace(l))
	}
}
