package chaos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/helhedsplan/helhedsplan/internal/lifecycle"
)

// scenario is the path one initiative takes.
type scenario int

const (
	scenarioComplete            scenario = iota // approve, two paid milestones, evaluation: completed
	scenarioReject                              // the board rejects: rejected
	scenarioWithdraw                            // the proposer withdraws in board review: withdrawn
	scenarioChangesThenComplete                 // changes requested, resubmitted, then approved and completed
	scenarioChangesThenWithdraw                 // changes requested, then withdrawn: withdrawn
	scenarioLeftOpen                            // approved, tranche 1 paid, milestone 1 reported: left executing
)

func (s scenario) String() string {
	return [...]string{"complete", "reject", "withdraw", "changes+complete", "changes+withdraw", "left-open"}[s]
}

// expectedPhase is the final phase of the scenario.
func (s scenario) expectedPhase() string {
	switch s {
	case scenarioReject:
		return "rejected"
	case scenarioWithdraw, scenarioChangesThenWithdraw:
		return "withdrawn"
	case scenarioLeftOpen:
		return "executing"
	}
	return "completed"
}

// scenarioFor spreads the scenarios evenly over the initiatives: in every ten, seven are completed (one of them
// after a round of changes), one is rejected and two are withdrawn (one after changes were requested); in every
// twenty, one of the completed is instead left open in executing, so the doctor has open workflows to compare
// with the database once the faults are over.
func scenarioFor(i int) scenario {
	if i%20 == 3 {
		return scenarioLeftOpen
	}
	switch i % 10 {
	case 0:
		return scenarioReject
	case 4:
		return scenarioWithdraw
	case 7:
		return scenarioChangesThenComplete
	case 9:
		return scenarioChangesThenWithdraw
	}
	return scenarioComplete
}

// Amounts of every proposal (øre). 200 initiatives use a few percent of the plan's money, so no approval can
// fail for want of funds.
const (
	milestones          = 2
	lbfPerMilestone     = 100_000
	kommunePerMilestone = 50_000
	spentPerMilestone   = 140_000
)

// initiativeRun is what the suite knows about one initiative it drives.
type initiativeRun struct {
	Index    int
	Scenario scenario
	Title    string
	ID       string
	Phase    string // phase in the last answer
	Step     string // step being driven; "done" at the end
	Started  time.Time
	DoneAt   time.Time // when the final step was answered
	// Disbursement and Reference are the disbursement of milestone k (index k-1) and the payment reference the
	// suite confirmed it with.
	Disbursement [milestones]string
	Reference    [milestones]string
	// Failure is a refusal or an answer that contradicts the step just taken: a failure of the system.
	Failure string
	// Stalled is set when the deadline came first: the step and its last answer.
	Stalled string
	// Anomalies are answers that did not show the step's effect although a later read did.
	Anomalies []string
}

func (r *initiativeRun) expectedPhase() string { return r.Scenario.expectedPhase() }

// driver takes initiatives through the API as the operational group, the board and finance would.
type driver struct {
	api    *apiClient
	tokens lifecycle.Tokens
	runID  string
	log    *slog.Logger
	// think is the longest pause between two steps of one initiative; each pause is random below it, so
	// initiatives are caught by faults in every phase.
	think time.Duration
	// poll is how often a read is repeated while waiting for an effect to show.
	poll time.Duration

	started, finished, failed atomic.Int64
}

// key is the Idempotency-Key of one step: the same on every retry of the step, unique across steps and runs.
func (d *driver) key(r *initiativeRun, step string) string {
	return fmt.Sprintf("chaos-%s-%d-%s", d.runID, r.Index, step)
}

// driveAll drives runs on clients goroutines. Run i starts no earlier than startAt(i), so the work is spread over
// the whole fault schedule. It returns when every run has ended or ctx has.
func (d *driver) driveAll(ctx context.Context, runs []*initiativeRun, clients int, startAt func(i int) time.Time) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(clients, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(runs) {
					return
				}
				r := runs[i]
				if sleepCtx(ctx, time.Until(startAt(i))) != nil {
					r.Stalled = "never started: the deadline came first"
					continue
				}
				d.started.Add(1)
				r.Started = time.Now()
				err := d.drive(ctx, r)
				_, refused := isRefusal(err)
				switch {
				case err == nil:
					r.Step, r.DoneAt = "done", time.Now()
					d.finished.Add(1)
				case !refused && ctx.Err() != nil:
					r.Stalled = fmt.Sprintf("at step %s: %v", r.Step, err)
					d.failed.Add(1)
				default:
					r.Failure = fmt.Sprintf("at step %s: %v", r.Step, err)
					d.failed.Add(1)
				}
				if err != nil {
					d.log.Warn("initiative not finished", "index", r.Index, "id", r.ID, "step", r.Step, "error", err)
				}
			}
		}()
	}
	wg.Wait()
}

// drive takes one initiative to its final phase.
func (d *driver) drive(ctx context.Context, r *initiativeRun) error {
	tok := d.tokens
	p := lifecycle.Sample(r.Title, milestones, lbfPerMilestone, kommunePerMilestone)
	in, err := d.act(ctx, r, "create", "/api/v1/initiatives", tok.OperationalGroup, p, "board_review")
	if err != nil {
		return err
	}
	r.ID = in.ID
	base := "/api/v1/initiatives/" + r.ID

	switch r.Scenario {
	case scenarioReject:
		_, err := d.vote(ctx, r, "reject", base+"/decision",
			map[string]string{"outcome": "reject", "comment": "Passer ikke til helhedsplanens mål"}, "board_review", "rejected")
		return err
	case scenarioWithdraw:
		_, err := d.act(ctx, r, "withdraw", base+"/withdraw", tok.OperationalGroup,
			map[string]string{"reason": "Indsatsen dækkes af kommunen"}, "withdrawn")
		return err
	case scenarioChangesThenComplete, scenarioChangesThenWithdraw:
		if _, err := d.vote(ctx, r, "request-changes", base+"/decision",
			map[string]string{"outcome": "request_changes", "comment": "Tilføj et mål for forældrene"}, "board_review", "changes_requested"); err != nil {
			return err
		}
		if r.Scenario == scenarioChangesThenWithdraw {
			_, err := d.act(ctx, r, "withdraw", base+"/withdraw", tok.OperationalGroup,
				map[string]string{"reason": "Ændringerne kan ikke nås i perioden"}, "withdrawn")
			return err
		}
		revised := p
		revised.Description += " Forældrene inddrages fra start."
		body := struct {
			lifecycle.Proposal
			Comment string `json:"comment"`
		}{revised, "Mål for forældrene tilføjet"}
		if _, err := d.act(ctx, r, "resubmit", base+"/resubmit", tok.OperationalGroup, body, "board_review"); err != nil {
			return err
		}
	}

	in, err = d.vote(ctx, r, "approve", base+"/decision",
		map[string]string{"outcome": "approve", "comment": "Godkendt på bestyrelsesmødet"}, "board_review", "funding")
	if err != nil {
		return err
	}
	for k := 1; k <= milestones; k++ {
		disb, err := d.awaitRelease(ctx, r, in, k)
		if err != nil {
			return err
		}
		if err := d.confirm(ctx, r, k, disb); err != nil {
			return err
		}
		ms := fmt.Sprintf("%s/milestones/%d", base, k)
		if _, err := d.act(ctx, r, fmt.Sprintf("report-%d", k), ms+"/report", tok.OperationalGroup,
			map[string]any{"summary": "Aktiviteterne er gennemført som planlagt.", "spent_ore": spentPerMilestone}, "executing"); err != nil {
			return err
		}
		if r.Scenario == scenarioLeftOpen {
			return nil // waits for the board's acceptance of milestone 1 beyond the run
		}
		want := "funding"
		if k == milestones {
			want = "evaluation"
		}
		if in, err = d.act(ctx, r, fmt.Sprintf("accept-%d", k), ms+"/accept", tok.Board,
			map[string]string{"comment": "Godkendt"}, want); err != nil {
			return err
		}
	}
	results := []map[string]any{
		{"goal_id": "g1", "achieved": true, "result": "Gennemsnittet steg 0,7"},
		{"goal_id": "g2", "achieved": false, "result": "48 forældre gennemførte"},
	}
	if _, err := d.act(ctx, r, "evaluation", base+"/evaluation", tok.OperationalGroup,
		map[string]any{"summary": "Delvist opfyldt", "results": results}, "evaluation"); err != nil {
		return err
	}
	_, err = d.vote(ctx, r, "accept-evaluation", base+"/evaluation/accept",
		map[string]string{"comment": "Taget til efterretning"}, "evaluation", "completed")
	return err
}

// vote has the chair and then a second member cast the same vote, each a step with its own Idempotency-Key: the
// seeded board of three decides proposals and evaluations by majority, so the chair's vote leaves the round open
// (phase open) and the second settles it (phase want). Milestone reports are the chair's alone (act).
func (d *driver) vote(ctx context.Context, r *initiativeRun, step, path string, body any, open, want string) (lifecycle.Initiative, error) {
	if _, err := d.act(ctx, r, step+"-chair", path, d.tokens.Board, body, open); err != nil {
		return lifecycle.Initiative{}, err
	}
	return d.act(ctx, r, step, path, d.tokens.OtherBoard[0], body, want)
}

// act takes one step: a POST with the step's Idempotency-Key, retried until it is answered 2xx. The answer must
// show the phase the step leads to; if it does not, that is noted and the initiative is read until it does.
func (d *driver) act(ctx context.Context, r *initiativeRun, step, path, token string, body any, want string) (lifecycle.Initiative, error) {
	r.Step = step
	if err := d.pause(ctx, r); err != nil {
		return lifecycle.Initiative{}, err
	}
	var in lifecycle.Initiative
	if err := d.api.do(ctx, "POST", path, token, d.key(r, step), body, &in); err != nil {
		return in, err
	}
	r.Phase = in.Phase
	if in.Phase == want {
		return in, nil
	}
	r.Anomalies = append(r.Anomalies, fmt.Sprintf("%s answered phase %q, want %q", step, in.Phase, want))
	if in.ID == "" {
		return in, fmt.Errorf("%s answered without an initiative", step)
	}
	return d.await(ctx, r, in.ID, step, func(in lifecycle.Initiative) bool { return in.Phase == want })
}

// awaitRelease returns the disbursement of milestone k, which the step before (approve, or accepting milestone
// k-1) must have released. If its answer does not show it, the initiative is read until it does.
func (d *driver) awaitRelease(ctx context.Context, r *initiativeRun, in lifecycle.Initiative, k int) (string, error) {
	released := func(in lifecycle.Initiative) bool {
		return len(in.Milestones) >= k && in.Milestones[k-1].TrancheStatus == "released" && in.Milestones[k-1].DisbursementID != ""
	}
	if !released(in) {
		r.Anomalies = append(r.Anomalies, fmt.Sprintf("%s answered without tranche %d released", r.Step, k))
		var err error
		if in, err = d.await(ctx, r, r.ID, r.Step, released); err != nil {
			return "", err
		}
	}
	r.Disbursement[k-1] = in.Milestones[k-1].DisbursementID
	return r.Disbursement[k-1], nil
}

// await reads the initiative until cond holds or ctx ends.
func (d *driver) await(ctx context.Context, r *initiativeRun, id, step string, cond func(lifecycle.Initiative) bool) (lifecycle.Initiative, error) {
	var in lifecycle.Initiative
	for {
		if err := d.api.do(ctx, "GET", "/api/v1/initiatives/"+id, d.tokens.Board, "", nil, &in); err != nil {
			return in, err
		}
		r.Phase = in.Phase
		if cond(in) {
			return in, nil
		}
		if sleepCtx(ctx, d.poll) != nil {
			return in, fmt.Errorf("after %s the initiative stays in phase %s", step, in.Phase)
		}
	}
}

// confirm is finance confirming the payment of milestone k's tranche with a reference derived from the
// disbursement, so a retry is the same confirmation.
func (d *driver) confirm(ctx context.Context, r *initiativeRun, k int, disbursementID string) error {
	step := fmt.Sprintf("confirm-%d", k)
	r.Step = step
	if err := d.pause(ctx, r); err != nil {
		return err
	}
	ref := fmt.Sprintf("NETS-%s-%d-%d", d.runID, r.Index, k)
	var out struct {
		Status    string  `json:"status"`
		Reference *string `json:"reference"`
	}
	if err := d.api.do(ctx, "POST", "/api/v1/finance/disbursements/"+disbursementID+"/confirm", d.tokens.Finance,
		d.key(r, step), map[string]string{"reference": ref}, &out); err != nil {
		return err
	}
	r.Reference[k-1] = ref
	if out.Status != "paid" || out.Reference == nil || *out.Reference != ref {
		got := "<none>"
		if out.Reference != nil {
			got = *out.Reference
		}
		return fmt.Errorf("confirm answered status %q reference %q, want paid with %q", out.Status, got, ref)
	}
	return nil
}

// pause waits a random think time before a step.
func (d *driver) pause(ctx context.Context, _ *initiativeRun) error {
	var err error
	if d.think <= 0 {
		err = ctx.Err()
	} else {
		err = sleepCtx(ctx, time.Duration(rand.Int64N(int64(d.think))))
	}
	if err != nil {
		return errors.New("the deadline came before the step was sent (the steps before it had succeeded)")
	}
	return nil
}
