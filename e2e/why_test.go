package e2e

// One end-to-end test for each case of issue 5's "Why" (0-14): what broke then, and what holds now. Each test
// runs on its own system (Temporal server, database, worker, API) and checks what a user notices and what the
// database holds; every env also runs the ledger verification and the doctor when it is cleaned up.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/proto"

	"github.com/helhedsplan/helhedsplan/api"
	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/internal/apiclient"
	"github.com/helhedsplan/helhedsplan/internal/lifecycle"
	"github.com/helhedsplan/helhedsplan/internal/stack"
	"github.com/helhedsplan/helhedsplan/outbox"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
	hpworker "github.com/helhedsplan/helhedsplan/worker"
	"github.com/helhedsplan/helhedsplan/workflows"
)

const planPath = "/api/v1/plans/viborg-2021-2025"

// Why 0: a 10.000 kr. initiative whose tranches wrapped around int64 was paid 5.000.000 kr., and a tranche of max
// int64 broke the budget endpoint for good. Now such proposals are refused with field problems, the budget
// answers, and the database itself refuses a negative or over-committed reservation.
func TestWhy0_OverflowingTranchesAreRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, stack.Options{})
	ctx := context.Background()
	approved := propose(t, e, lifecycle.Sample("Godkendt før angrebet", 1, 10_000_000, 0))
	mustPhase(t, "approve", "funding")(e.driver.Act(ctx, approved.ID, "/decision", "/decision", e.driver.Tokens.Board,
		map[string]string{"outcome": "approve"}))
	before := e.budget(ctx)

	wrapping := lifecycle.Sample("Ti tusind kroner", 3, 1, 0)
	wrapping.Budget = []lifecycle.Amount{{SourceID: "lbf", AmountOre: 1_000_000}}
	for i, a := range []int64{500_000_000, math.MaxInt64, 9223372036355775809} {
		wrapping.Milestones[i].Tranche = []lifecycle.Amount{{SourceID: "lbf", AmountOre: a}}
	}
	_, err := e.driver.Propose(ctx, wrapping)
	p := problemOf(err)
	if p == nil || p.Status != http.StatusUnprocessableEntity || p.Code != "validation_failed" {
		t.Fatalf("wrapping tranches: %v, want 422 validation_failed", err)
	}
	for _, want := range []struct{ field, code string }{
		{"milestones[1].tranche[0].amount_ore", "exceeds_plan_total"},
		{"milestones[2].tranche[0].amount_ore", "exceeds_plan_total"},
		{"milestones", "tranches_exceed_plan_total"},
	} {
		if !fieldProblem(err, 422, "validation_failed", want.field, want.code) {
			t.Errorf("wrapping tranches: no problem %s %s in %v", want.field, want.code, err)
		}
	}

	huge := lifecycle.Sample("Max int64", 1, math.MaxInt64, 0)
	_, err = e.driver.Propose(ctx, huge)
	if !fieldProblem(err, 422, "validation_failed", "budget[0].amount_ore", "exceeds_plan_total") ||
		!fieldProblem(err, 422, "validation_failed", "milestones[0].tranche[0].amount_ore", "exceeds_plan_total") {
		t.Errorf("a tranche of max int64: %v, want 422 naming the budget line and the tranche", err)
	}

	if n := e.count(`SELECT count(*) FROM initiatives`); n != 1 {
		t.Errorf("initiatives = %d, want only the approved one", n)
	}
	if n := e.count(`SELECT count(*) FROM disbursements`); n != 1 {
		t.Errorf("disbursements = %d, want only the approved one's first tranche", n)
	}
	after := e.budget(ctx) // fails the test unless 200
	if after.Total.ReservedOre != before.Total.ReservedOre || after.Total.ReleasedOre != 10_000_000 || after.Total.PaidOre != 0 ||
		deref(after.Total.AvailableOre) != deref(before.Total.AvailableOre) {
		t.Errorf("budget after the refused proposals: %+v (available %v), before %+v (available %v)",
			after.Total, deref(after.Total.AvailableOre), before.Total, deref(before.Total.AvailableOre))
	}

	// The database refuses what Go might let through.
	insert := func(amount any, key string) error {
		_, err := e.st.DB().ExecContext(ctx, `
			INSERT INTO ledger_entries (plan_id, source_id, initiative_id, delaftale_id, milestone_no, kind, amount_ore, idempotency_key)
			VALUES ('viborg-2021-2025', 'lbf', $1, 'uddannelse-og-livschancer', NULL, 'reserve', $2, $3)`,
			approved.ID, amount, key)
		return err
	}
	wantRefused(t, "a negative reservation", insert(-1, "why0/negative"), "ledger_entries_amount_ore_check", "")
	var free int64
	if err := e.st.DB().Get(&free, `
		SELECT f.committed_ore - COALESCE(sum(l.amount_ore) FILTER (WHERE l.kind = 'reserve'), 0)
		                       + COALESCE(sum(l.amount_ore) FILTER (WHERE l.kind = 'unreserve'), 0)
		FROM funding_sources f LEFT JOIN ledger_entries l ON l.plan_id = f.plan_id AND l.source_id = f.id
		WHERE f.plan_id = 'viborg-2021-2025' AND f.id = 'lbf'
		GROUP BY f.committed_ore`); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, "a reservation one øre over what lbf has committed", insert(free+1, "why0/over"), "ledger_reserved_within_committed", "")
	wantRefused(t, "a reservation of max int64", insert(int64(math.MaxInt64), "why0/max"), "ledger_entries_amount_ore_max", "")
	if n := e.ledger(approved.ID, "reserve"); n != 1 {
		t.Errorf("reservations of the approved initiative = %d, want 1", n)
	}
}

// Why 1: a proposal whose first write failed failed its workflow, and the client's retry got 409. Now the write
// waits for the database, the client gets 503 with Retry-After, and the same request then answers 201.
func TestWhy1_AProposalWaitsOutTheDatabaseAndIsCreatedOnRetry(t *testing.T) {
	t.Parallel()
	e := newEnvWithWorkerProxy(t, stack.Options{API: api.Config{RequestTimeout: 3 * time.Second}})
	ctx := context.Background()
	body := mustJSON(t, lifecycle.Sample("Oprettet under nedbrud", 2, 4_000_000, 1_000_000))
	const key = "why1-create"
	mette := e.s.Tokens["og-mette"]

	e.proxy.Down()
	down := time.Now()
	want503(t, "create while the worker's database is down", e.raw(t, "POST", "/api/v1/initiatives", mette, key, body))
	// A retry during the outage is another 503, never 409 (the workflow neither failed nor holds the key).
	want503(t, "create retried during the outage", e.raw(t, "POST", "/api/v1/initiatives", mette, key, body))
	if n := e.count(`SELECT count(*) FROM initiatives`); n != 0 {
		t.Fatalf("initiatives during the outage = %d, want 0", n)
	}
	time.Sleep(8*time.Second - time.Since(down))
	e.proxy.Up()

	a := e.untilOK(t, time.Minute, "POST", "/api/v1/initiatives", mette, key, body)
	if a.status != http.StatusCreated {
		t.Fatalf("create after the outage: %s, want 201", a)
	}
	in := decodeInitiative(t, a)
	if in.Phase != "board_review" || in.Version != 1 {
		t.Fatalf("created initiative: %+v", in)
	}
	desc, err := e.ts.GetDefaultClient().DescribeWorkflowExecution(ctx, workflows.InitiativeWorkflowID(in.ID), "")
	if err != nil {
		t.Fatal(err)
	}
	if st := desc.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("workflow status %s, want running", st)
	}
	// The same request again is the same initiative.
	if again := e.raw(t, "POST", "/api/v1/initiatives", mette, key, body); again.status != http.StatusCreated || decodeInitiative(t, again).ID != in.ID {
		t.Errorf("the same create once more: %s, want 201 with %s", again, in.ID)
	}
	if n := e.count(`SELECT count(*) FROM initiatives`); n != 1 {
		t.Errorf("initiatives = %d, want 1", n)
	}
	if got := e.eventTypes(t, in.ID); !slices.Equal(got, []string{"submitted"}) {
		t.Errorf("events = %v, want [submitted]", got)
	}
	mustPhase(t, "approve", "funding")(e.driver.Act(ctx, in.ID, "/decision", "/decision", e.driver.Tokens.Board,
		map[string]string{"outcome": "approve"}))
	if n := e.ledger(in.ID, "reserve"); n != 2 {
		t.Errorf("reservations = %d, want 2 (lbf and Viborg Kommune)", n)
	}
}

// Why 2: approval and acceptance were two writes each; a failure between them left money reserved and no
// tranche released. Now each step is one transaction: a database cut in the middle of it leaves nothing, and
// after the outage the step is there whole, once.
func TestWhy2_AStepCutMidwayIsWholeAfterTheOutage(t *testing.T) {
	t.Parallel()
	e := newEnvWithWorkerProxy(t, stack.Options{API: api.Config{RequestTimeout: 3 * time.Second}})
	ctx := context.Background()
	in := propose(t, e, lifecycle.Sample("Skåret midt i", 2, 6_000_000, 2_000_000))
	board := e.driver.Tokens.Board

	approved := e.cutMidStep(t, 6*time.Second, "POST", "/api/v1/initiatives/"+in.ID+"/decision", board, "why2-approve",
		mustJSON(t, map[string]string{"outcome": "approve", "comment": "Godkendt"}), func() {
			// The transaction had written the reservation, the events, the disbursement and the ledger entries
			// when the connection died: none of it is there.
			for q, want := range map[string]int{
				`SELECT count(*) FROM ledger_entries`:                                          0,
				`SELECT count(*) FROM disbursements`:                                           0,
				`SELECT count(*) FROM initiative_events WHERE initiative_id = '` + in.ID + `'`: 1,
			} {
				if got := e.count(q); got != want {
					t.Errorf("during the outage: %s = %d, want %d", q, got, want)
				}
			}
		})
	if approved.Phase != "funding" || approved.Milestones[0].TrancheStatus != "released" {
		t.Fatalf("after the outage: %+v, want funding with tranche 1 released", approved)
	}
	if n := e.count(`SELECT count(*) FROM (SELECT source_id FROM ledger_entries WHERE kind = 'reserve' GROUP BY source_id HAVING count(*) = 1) s`); n != 2 {
		t.Errorf("sources with exactly one reservation = %d, want 2", n)
	}
	for q, want := range map[string]int{
		`SELECT count(*) FROM ledger_entries WHERE kind = 'reserve'`:             2,
		`SELECT count(*) FROM disbursements`:                                     1,
		`SELECT count(*) FROM ledger_entries WHERE kind = 'release'`:             2,
		`SELECT count(*) FROM outbox WHERE topic = 'disbursement.released'`:      1,
		`SELECT count(*) FROM initiative_events WHERE type = 'tranche_released'`: 1,
	} {
		if got := e.count(q); got != want {
			t.Errorf("after approval: %s = %d, want %d", q, got, want)
		}
	}
	if n := e.halfDone(); n != 0 {
		t.Errorf("initiatives with a reservation but no disbursement: %d", n)
	}

	if err := e.driver.Confirm(ctx, approved.Milestones[0].DisbursementID, "BANK-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.driver.Act(ctx, in.ID, "/milestones/1/report", "", e.driver.Tokens.OperationalGroup,
		map[string]any{"summary": "Første del er gennemført", "spent_ore": 5_000_000}); err != nil {
		t.Fatal(err)
	}
	events := len(e.eventTypes(t, in.ID))
	accepted := e.cutMidStep(t, 6*time.Second, "POST", "/api/v1/initiatives/"+in.ID+"/milestones/1/accept", board, "why2-accept-1",
		mustJSON(t, map[string]string{"comment": "Fint"}), func() {
			if got := len(e.eventTypes(t, in.ID)); got != events {
				t.Errorf("events during the outage = %d, want %d", got, events)
			}
			if got := e.count(`SELECT count(*) FROM disbursements`); got != 1 {
				t.Errorf("disbursements during the outage = %d, want 1", got)
			}
			if got := e.ledger(in.ID, "release"); got != 2 {
				t.Errorf("release entries during the outage = %d, want 2", got)
			}
		})
	if accepted.Phase != "funding" || accepted.Milestones[1].TrancheStatus != "released" {
		t.Fatalf("after accepting milestone 1: %+v, want funding with tranche 2 released", accepted)
	}
	for q, want := range map[string]int{
		`SELECT count(*) FROM disbursements`:                                       2,
		`SELECT count(*) FROM disbursements WHERE milestone_no = 2`:                1,
		`SELECT count(*) FROM ledger_entries WHERE kind = 'release'`:               4,
		`SELECT count(*) FROM outbox WHERE topic = 'disbursement.released'`:        2,
		`SELECT count(*) FROM initiative_events WHERE type = 'milestone_accepted'`: 1,
		`SELECT count(*) FROM initiative_events WHERE type = 'tranche_released'`:   2,
	} {
		if got := e.count(q); got != want {
			t.Errorf("after accepting milestone 1: %s = %d, want %d", q, got, want)
		}
	}
	want := []string{"submitted", "approved", "tranche_released", "payment_confirmed", "milestone_reported",
		"milestone_accepted", "tranche_released"}
	if got := e.eventTypes(t, in.ID); !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
	// The rest of the lifecycle goes on: pay tranche 2, report and accept milestone 2.
	if err := e.driver.Confirm(ctx, accepted.Milestones[1].DisbursementID, "BANK-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.driver.Act(ctx, in.ID, "/milestones/2/report", "", e.driver.Tokens.OperationalGroup,
		map[string]any{"summary": "Anden del er gennemført", "spent_ore": 10_000_000}); err != nil {
		t.Fatal(err)
	}
	mustPhase(t, "accept 2", "evaluation")(e.driver.Act(ctx, in.ID, "/milestones/2/accept", "", board, map[string]string{}))
	if n := e.halfDone(); n != 0 {
		t.Errorf("initiatives with a reservation but no disbursement: %d", n)
	}
}

// Why 3: a confirm whose commit's answer was lost kept its failure under the update ID: the database said paid,
// the workflow said released, and nothing but a reset helped. Now the retried write finds the payment and the
// workflow adopts it: paid once, and the same reference answers 200 again.
func TestWhy3_AConfirmWhoseAnswerWasLostIsPaidOnce(t *testing.T) {
	t.Parallel()
	faults := &loseAnswer{match: func(s store.Step) bool { return s.Pay != nil }}
	e := newEnv(t, stack.Options{Faults: faults})
	ctx := context.Background()
	in := propose(t, e, lifecycle.Sample("Mistet svar på betaling", 2, 3_000_000, 1_000_000))
	in, err := e.driver.Act(ctx, in.ID, "/decision", "", e.driver.Tokens.Board, map[string]string{"outcome": "approve"})
	if err != nil {
		t.Fatal(err)
	}
	disb := in.Milestones[0].DisbursementID
	confirm := func(ref string) (int, error) {
		return e.api.Do(ctx, apiclient.Call{Method: "POST", Path: "/api/v1/finance/disbursements/" + disb + "/confirm",
			Token: e.driver.Tokens.Finance, Body: map[string]string{"reference": ref}}, nil)
	}
	if status, err := confirm("NETS-3"); err != nil || status != http.StatusOK {
		t.Fatalf("confirm: %d %v, want 200", status, err)
	}
	if faults.count() != 1 {
		t.Fatalf("answers lost = %d, want 1 (the fault did not hit the payment)", faults.count())
	}
	got, err := e.driver.Get(ctx, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Phase != "executing" || got.Milestones[0].TrancheStatus != "paid" || got.Milestones[0].PaymentReference != "NETS-3" {
		t.Fatalf("after the confirm: %+v, want executing with tranche 1 paid as NETS-3", got)
	}
	if status, err := confirm("NETS-3"); err != nil || status != http.StatusOK {
		t.Errorf("the same reference again: %d %v, want 200", status, err)
	}
	status, err := confirm("NETS-4")
	if p := problemOf(err); p == nil || status != http.StatusConflict || p.Code != "already_paid" {
		t.Errorf("another reference: %d %v, want 409 already_paid", status, err)
	}
	for q, want := range map[string]int{
		`SELECT count(*) FROM ledger_entries WHERE kind = 'pay'`:                            2, // one per source line
		`SELECT count(*) FROM outbox WHERE topic = 'disbursement.paid'`:                     1,
		`SELECT count(*) FROM initiative_events WHERE type = 'payment_confirmed'`:           1,
		`SELECT count(*) FROM disbursements WHERE status = 'paid' AND reference = 'NETS-3'`: 1,
	} {
		if got := e.count(q); got != want {
			t.Errorf("%s = %d, want %d", q, got, want)
		}
	}
	// And the workflow goes on from the paid state.
	if _, err := e.driver.Act(ctx, in.ID, "/milestones/1/report", "", e.driver.Tokens.OperationalGroup,
		map[string]any{"summary": "I gang", "spent_ore": 4_000_000}); err != nil {
		t.Fatalf("report after the payment: %v", err)
	}
}

// Why 4: after a committed write reported as failed, the next transition reused its seq and was silently
// dropped. Now the retried write adopts what the first attempt stored and the next report is accepted; the event
// log is whole.
func TestWhy4_ALostAcceptanceAnswerDropsNothing(t *testing.T) {
	t.Parallel()
	faults := &loseAnswer{match: func(s store.Step) bool { return stepHasEvent(s, workflows.EventMilestoneAccepted) }}
	e := newEnv(t, stack.Options{Faults: faults})
	ctx := context.Background()
	in := propose(t, e, lifecycle.Sample("Mistet svar på godkendelse", 2, 3_000_000, 1_000_000))
	in, err := e.driver.Act(ctx, in.ID, "/decision", "", e.driver.Tokens.Board, map[string]string{"outcome": "approve"})
	if err != nil {
		t.Fatal(err)
	}
	og, board := e.driver.Tokens.OperationalGroup, e.driver.Tokens.Board
	for no := 1; no <= 2; no++ {
		if err := e.driver.Confirm(ctx, in.Milestones[no-1].DisbursementID, fmt.Sprintf("BANK-%d", no)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.driver.Act(ctx, in.ID, fmt.Sprintf("/milestones/%d/report", no), "", og,
			map[string]any{"summary": fmt.Sprintf("Rapport %d", no), "spent_ore": 4_000_000}); err != nil {
			t.Fatalf("report %d (after a lost acceptance answer it must not be 422): %v", no, err)
		}
		if in, err = e.driver.Act(ctx, in.ID, fmt.Sprintf("/milestones/%d/accept", no), "", board,
			map[string]string{"comment": fmt.Sprintf("Godkendt %d", no)}); err != nil {
			t.Fatalf("accept %d: %v", no, err)
		}
	}
	if faults.count() != 2 {
		t.Fatalf("answers lost = %d, want 2 (one per acceptance)", faults.count())
	}
	if in.Phase != "evaluation" {
		t.Fatalf("after both acceptances: phase %s, want evaluation", in.Phase)
	}
	if _, err := e.driver.Act(ctx, in.ID, "/evaluation", "", og, map[string]any{"summary": "Opfyldt", "results": []map[string]any{
		{"goal_id": "g1", "achieved": true, "result": "Ja"}, {"goal_id": "g2", "achieved": true, "result": "Ja"}}}); err != nil {
		t.Fatal(err)
	}
	mustPhase(t, "accept evaluation", "completed")(e.driver.Act(ctx, in.ID, "/evaluation/accept", "", board, map[string]string{}))

	want := []string{"submitted", "approved", "tranche_released",
		"payment_confirmed", "milestone_reported", "milestone_accepted", "tranche_released",
		"payment_confirmed", "milestone_reported", "milestone_accepted",
		"evaluation_submitted", "evaluation_accepted"}
	if got := e.eventTypes(t, in.ID); !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
	var version int64
	if err := e.st.DB().Get(&version, `SELECT version FROM initiatives WHERE id = $1`, in.ID); err != nil || version != e.eventCount(in.ID) {
		t.Errorf("read model version %d (%v), want %d", version, err, e.eventCount(in.ID))
	}
	var comments []string
	if err := e.st.DB().Select(&comments, `SELECT payload->>'comment' FROM initiative_events
		WHERE initiative_id = $1 AND type = 'milestone_accepted' ORDER BY seq`, in.ID); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(comments, []string{"Godkendt 1", "Godkendt 2"}) {
		t.Errorf("acceptance comments = %q", comments)
	}
	for q, want := range map[string]int{
		`SELECT count(*) FROM disbursements WHERE status = 'paid'`:   2,
		`SELECT count(*) FROM ledger_entries WHERE kind = 'release'`: 4,
		`SELECT count(*) FROM ledger_entries WHERE kind = 'pay'`:     4,
	} {
		if got := e.count(q); got != want {
			t.Errorf("%s = %d, want %d", q, got, want)
		}
	}
}

// Why 5: no versioning; one happy-path history was the whole replay corpus. Now workflows/testdata holds a
// history of every path, and every one replays with the current code.
func TestWhy5_EveryRecordedPathReplays(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "workflows", "testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	names := replayPathNames(t)
	if len(names) < 7 {
		t.Fatalf("paths in replay_test.go: %v, want at least the 7 the issue lists", names)
	}
	for _, name := range names {
		if !slices.ContainsFunc(files, func(f string) bool {
			return strings.HasPrefix(filepath.Base(f), "initiative_"+name)
		}) {
			t.Errorf("no recorded history for path %q in workflows/testdata", name)
		}
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			hpworker.RegisterWorkflows(r)
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
				t.Fatalf("replay: %v", err)
			}
		})
	}
}

// replayPathNames reads the path names TestEveryPathReplaysWithTheCurrentCode drives (its `name:` fields).
func replayPathNames(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "replay_test.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	ast.Inspect(f, func(n ast.Node) bool {
		fn, ok := n.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "TestEveryPathReplaysWithTheCurrentCode" {
			return true
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			kv, ok := n.(*ast.KeyValueExpr)
			if !ok {
				return true
			}
			if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "name" {
				if lit, ok := kv.Value.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if s, err := strconv.Unquote(lit.Value); err == nil {
						names = append(names, s)
					}
				}
			}
			return true
		})
		return false
	})
	return names
}

// Why 6: every update returned the whole initiative and stored it in history, walking towards Temporal's limits.
// Now the largest initiative the API accepts, taken through its whole life, stays far below them.
func TestWhy6_TheLargestInitiativeStaysFarBelowTemporalsLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, stack.Options{})
	ctx := context.Background()
	og, board := e.driver.Tokens.OperationalGroup, e.driver.Tokens.Board

	p := lifecycle.Proposal{
		Title:          danish(domain.MaxTitleLen),
		Description:    danish(domain.MaxTextLen),
		DelaftaleID:    "sammenhaengskraft-og-medborgerskab",
		HousingAreaIDs: []string{"houlkaervaenget", "vestervang", "ringparken", "ellekonebakken", "klostersvaenget"},
		TargetGroup:    danish(domain.MaxTextLen),
	}
	for i := range domain.MaxGoals {
		id := fmt.Sprintf("maal-%0*d", domain.MaxGoalIDLen-5, i+1)
		p.Goals = append(p.Goals, lifecycle.Goal{ID: id, Description: danish(domain.MaxGoalTextLen), SuccessCriterion: danish(domain.MaxGoalTextLen)})
	}
	tranche := []lifecycle.Amount{{SourceID: "lbf", AmountOre: 1_000_000}, {SourceID: "viborg-kommune", AmountOre: 500_000},
		{SourceID: "boligselskaberne", AmountOre: 250_000}}
	for _, a := range tranche {
		p.Budget = append(p.Budget, lifecycle.Amount{SourceID: a.SourceID, AmountOre: a.AmountOre * domain.MaxMilestones})
	}
	start := time.Date(2021, 2, 1, 0, 0, 0, 0, time.UTC)
	for i := range domain.MaxMilestones {
		p.Milestones = append(p.Milestones, lifecycle.Milestone{Title: danish(domain.MaxTitleLen),
			DueDate: start.AddDate(0, i, 0).Format(time.DateOnly), Tranche: tranche})
	}
	body := mustJSON(t, p)
	t.Logf("largest proposal: %d bytes of JSON", len(body))
	if len(body) >= 1<<20 {
		t.Fatalf("the largest proposal is %d bytes, over the API's 1 MiB body limit", len(body))
	}
	in := propose(t, e, p)

	// Every revision the rules allow: the proposal travels to the workflow again with each.
	resubmit, err := json2map(p)
	if err != nil {
		t.Fatal(err)
	}
	resubmit["comment"] = danish(domain.MaxCommentLen)
	for rev := 1; rev < domain.MaxRevisions; rev++ {
		mustPhase(t, "request changes", "changes_requested")(e.driver.Act(ctx, in.ID, "/decision", "", board,
			map[string]string{"outcome": "request_changes", "comment": danish(domain.MaxCommentLen)}))
		mustPhase(t, "resubmit", "board_review")(e.driver.Act(ctx, in.ID, "/resubmit", "", og, resubmit))
	}
	in, err = e.driver.Act(ctx, in.ID, "/decision", "", board, map[string]string{"outcome": "approve", "comment": danish(domain.MaxCommentLen)})
	if err != nil || in.Phase != "funding" {
		t.Fatalf("approve: %v %+v", err, in.Phase)
	}
	var spent int64
	for no := 1; no <= domain.MaxMilestones; no++ {
		if err := e.driver.Confirm(ctx, in.Milestones[no-1].DisbursementID, fmt.Sprintf("%03d", no)+danish(domain.MaxTitleLen-3)); err != nil {
			t.Fatalf("confirm %d: %v", no, err)
		}
		spent += 1_750_000
		if _, err := e.driver.Act(ctx, in.ID, fmt.Sprintf("/milestones/%d/report", no), "", og,
			map[string]any{"summary": danish(domain.MaxSummaryLen), "spent_ore": 1_750_000}); err != nil {
			t.Fatalf("report %d: %v", no, err)
		}
		if in, err = e.driver.Act(ctx, in.ID, fmt.Sprintf("/milestones/%d/accept", no), "", board,
			map[string]string{"comment": danish(domain.MaxCommentLen)}); err != nil {
			t.Fatalf("accept %d: %v", no, err)
		}
	}
	results := make([]map[string]any, len(p.Goals))
	for i, g := range p.Goals {
		results[i] = map[string]any{"goal_id": g.ID, "achieved": i%2 == 0, "result": danish(domain.MaxSummaryLen)}
	}
	if _, err := e.driver.Act(ctx, in.ID, "/evaluation", "", og, map[string]any{"summary": danish(domain.MaxSummaryLen), "results": results}); err != nil {
		t.Fatalf("evaluation: %v", err)
	}
	mustPhase(t, "accept evaluation", "completed")(e.driver.Act(ctx, in.ID, "/evaluation/accept", "", board,
		map[string]string{"comment": danish(domain.MaxCommentLen)}))

	h := history(t, e.ts.GetDefaultClient(), workflows.InitiativeWorkflowID(in.ID))
	total, largest, largestType := 0, 0, ""
	for _, ev := range h.Events {
		n := proto.Size(ev)
		total += n
		if n > largest {
			largest, largestType = n, ev.GetEventType().String()
		}
	}
	var snapshot int
	if err := e.st.DB().Get(&snapshot, `SELECT octet_length(snapshot::text) FROM initiatives WHERE id = $1`, in.ID); err != nil {
		t.Fatal(err)
	}
	t.Logf("largest initiative's history: %d events, %d bytes (%.2f MB); largest event %d bytes (%s); read-model snapshot %d bytes",
		len(h.Events), total, float64(total)/1e6, largest, largestType, snapshot)
	if total >= 10_000_000 {
		t.Errorf("history is %d bytes, want below 10 MB (Temporal's limit is 50 MB)", total)
	}
	if largest >= 1_000_000 {
		t.Errorf("largest event is %d bytes, want below 1 MB (Temporal's payload limit is 2 MB)", largest)
	}
	if n := e.count(`SELECT count(*) FROM disbursements WHERE status = 'paid'`); n != domain.MaxMilestones {
		t.Errorf("paid disbursements = %d, want %d", n, domain.MaxMilestones)
	}
	if b := e.budget(ctx); b.Total.PaidOre != spent {
		t.Errorf("paid = %d øre, want %d", b.Total.PaidOre, spent)
	}
}

// Why 7: an update ID was user/key, blind to route and body: after the 24 h TTL a reused key returned an earlier,
// different update's result with 200. Now a key is bound to its request: reused within the TTL it is 422, and
// after it a different request runs on its own while the identical one is still answered once.
func TestWhy7_AReusedIdempotencyKeyNeverAnswersAnotherRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, stack.Options{})
	ctx := context.Background()
	in := propose(t, e, lifecycle.Sample("Genbrugt nøgle", 2, 3_000_000, 0))
	in, err := e.driver.Act(ctx, in.ID, "/decision", "", e.driver.Tokens.Board, map[string]string{"outcome": "approve"})
	if err != nil {
		t.Fatal(err)
	}
	hanne := e.s.Tokens["bs-hanne"]
	const key = "why7-board"
	base := "/api/v1/initiatives/" + in.ID
	accept1 := mustJSON(t, map[string]string{"comment": "Første godkendelse"})
	other := mustJSON(t, map[string]string{"comment": "En anden kommentar"})
	payAndReport := func(no int) {
		t.Helper()
		in, err := e.driver.Get(ctx, in.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.driver.Confirm(ctx, in.Milestones[no-1].DisbursementID, fmt.Sprintf("BANK-%d", no)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.driver.Act(ctx, in.ID, fmt.Sprintf("/milestones/%d/report", no), "", e.driver.Tokens.OperationalGroup,
			map[string]any{"summary": "Gennemført", "spent_ore": 1_000}); err != nil {
			t.Fatal(err)
		}
	}
	expire := func() {
		t.Helper()
		if _, err := e.st.DB().ExecContext(ctx, `UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = $1`, key); err != nil {
			t.Fatal(err)
		}
		n, err := e.st.PurgeIdempotency(ctx, time.Now().Add(-store.IdempotencyTTL))
		if err != nil || n != 1 {
			t.Fatalf("purge: %d %v, want the one expired record", n, err)
		}
	}

	payAndReport(1)
	first := e.raw(t, "POST", base+"/milestones/1/accept", hanne, key, accept1)
	if first.status != http.StatusOK {
		t.Fatalf("accept 1: %s", first)
	}
	firstIn := decodeInitiative(t, first)
	if firstIn.Phase != "funding" {
		t.Fatalf("accept 1: phase %s, want funding", firstIn.Phase)
	}
	events := len(e.eventTypes(t, in.ID))
	for _, tc := range []struct {
		name, path string
		body       []byte
	}{
		{"another body", base + "/milestones/1/accept", other},
		{"another route", base + "/milestones/2/accept", accept1},
	} {
		if a := e.raw(t, "POST", tc.path, hanne, key, tc.body); a.status != http.StatusUnprocessableEntity || a.problem.Code != "idempotency_key_reused" {
			t.Errorf("the key with %s within the TTL: %s, want 422 idempotency_key_reused", tc.name, a)
		}
	}
	if got := len(e.eventTypes(t, in.ID)); got != events {
		t.Fatalf("events after the refused reuses = %d, want %d", got, events)
	}

	payAndReport(2)
	expire()
	// After the TTL: another request with the key runs as itself, not answered with accept 1's result.
	second := e.raw(t, "POST", base+"/milestones/2/accept", hanne, key, other)
	if second.status != http.StatusOK {
		t.Fatalf("accept 2 with the expired key: %s, want 200", second)
	}
	secondIn := decodeInitiative(t, second)
	if secondIn.Phase != "evaluation" || secondIn.Version <= firstIn.Version {
		t.Fatalf("accept 2 with the expired key answered phase %s version %d (accept 1 was version %d), want evaluation",
			secondIn.Phase, secondIn.Version, firstIn.Version)
	}
	var comment string
	if err := e.st.DB().Get(&comment, `SELECT payload->>'comment' FROM initiative_events
		WHERE initiative_id = $1 AND type = 'milestone_accepted' AND (payload->>'milestone_no')::int = 2`, in.ID); err != nil || comment != "En anden kommentar" {
		t.Errorf("milestone 2's acceptance comment = %q (%v)", comment, err)
	}
	// A request refused by its own rule, with the key expired again: accepting milestone 1 a second time.
	expire()
	if a := e.raw(t, "POST", base+"/milestones/1/accept", hanne, key, other); a.status != http.StatusConflict {
		t.Errorf("accept 1 again (other comment) with the expired key: %s, want 409 from the workflow's rule", a)
	}
	// The identical first request after the TTL: Temporal still holds that update under its ID, so it is
	// answered without running again.
	expire()
	events = len(e.eventTypes(t, in.ID))
	if a := e.raw(t, "POST", base+"/milestones/1/accept", hanne, key, accept1); a.status != http.StatusOK {
		t.Errorf("the identical first request after the TTL: %s, want 200", a)
	}
	if got := len(e.eventTypes(t, in.ID)); got != events {
		t.Errorf("events after repeating accept 1 = %d, want %d (it must not run twice)", got, events)
	}
	for q, want := range map[string]int{
		`SELECT count(*) FROM initiative_events WHERE type = 'milestone_accepted'`: 2,
		`SELECT count(*) FROM disbursements`:                                       2,
	} {
		if got := e.count(q); got != want {
			t.Errorf("%s = %d, want %d", q, got, want)
		}
	}
}

// Why 8: the database did not hold the money rules. Now a direct write that breaks one fails in PostgreSQL.
func TestWhy8_TheDatabaseRefusesWhatBreaksAMoneyRule(t *testing.T) {
	t.Parallel()
	e := newEnv(t, stack.Options{})
	ctx := context.Background()
	in := propose(t, e, lifecycle.Sample("Regnskabsregler", 2, 10_000_000, 5_000_000))
	mustPhase(t, "approve", "funding")(e.driver.Act(ctx, in.ID, "/decision", "", e.driver.Tokens.Board, map[string]string{"outcome": "approve"}))
	db := e.st.DB()
	entries := e.count(`SELECT count(*) FROM ledger_entries`)
	entry := func(kind string, milestone, amount int64, key string) error {
		_, err := db.ExecContext(ctx, `
			INSERT INTO ledger_entries (plan_id, source_id, initiative_id, delaftale_id, milestone_no, kind, amount_ore, idempotency_key)
			VALUES ('viborg-2021-2025', 'lbf', $1, 'uddannelse-og-livschancer', $2, $3, $4, $5)`,
			in.ID, milestone, kind, amount, key)
		return err
	}
	// Reserved 20.000.000 and released 10.000.000 øre from lbf, nothing paid.
	wantRefused(t, "pay more than released", entry("pay", 1, 10_000_001, "why8/pay"), "ledger_paid_within_released", "")
	wantRefused(t, "release more than reserved", entry("release", 2, 10_000_001, "why8/release"), "ledger_released_within_reserved", "")

	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO disbursements (id, plan_id, initiative_id, delaftale_id, milestone_no, milestone_title, total_ore, status, released_at)
		VALUES ('why8-disb', 'viborg-2021-2025', $1, 'uddannelse-og-livschancer', 2, 'Milepæl 2', 15000000, 'pending', now())`, in.ID); err != nil {
		_ = tx.Rollback()
		t.Fatalf("insert disbursement: %v", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO disbursement_lines (disbursement_id, plan_id, source_id, amount_ore)
		VALUES ('why8-disb', 'viborg-2021-2025', 'lbf', 10000000)`); err != nil {
		_ = tx.Rollback()
		t.Fatalf("insert line: %v", err)
	}
	wantRefused(t, "a disbursement whose total differs from its lines, at COMMIT", tx.Commit(), "disbursement_total_matches_lines", "")

	tx, err = db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, q := range []string{
		`INSERT INTO plans (id, name, municipality, period_start, period_end, vision)
		 VALUES ('why8-anden-plan', 'En anden plan', 'Et andet sted', '2021-01-01', '2025-12-31', '')`,
		`INSERT INTO funding_sources (plan_id, id, position, name, kind, local, committed_ore)
		 VALUES ('why8-anden-plan', 'lbf', 0, 'Landsbyggefonden', 'cash', false, 1000000000)`,
		`INSERT INTO delaftaler (plan_id, id, position, name) VALUES ('why8-anden-plan', 'd', 0, 'Delaftale')`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			t.Fatalf("second plan: %v", err)
		}
	}
	_, err = tx.ExecContext(ctx, `
		INSERT INTO ledger_entries (plan_id, source_id, initiative_id, delaftale_id, milestone_no, kind, amount_ore, idempotency_key)
		VALUES ('why8-anden-plan', 'lbf', $1, 'd', NULL, 'reserve', 100, 'why8/other-plan')`, in.ID)
	wantRefused(t, "a ledger entry of another plan for this plan's initiative", err, "ledger_entries_initiative_plan_fkey", "")

	if got := e.count(`SELECT count(*) FROM ledger_entries`); got != entries {
		t.Errorf("ledger entries = %d, want %d (nothing written)", got, entries)
	}
	if got := e.count(`SELECT count(*) FROM disbursements`); got != 1 {
		t.Errorf("disbursements = %d, want 1", got)
	}
}

// Why 9: with PostgreSQL stopped, clients got 500 for the whole outage and some initiatives were stuck after it.
// Now every request is 503 with Retry-After while the database is away, a request caught in flight is retried
// with its key once it is back, and everything works afterwards.
func TestWhy9_TheWholeServiceAnswers503WithoutPostgreSQLAndRecovers(t *testing.T) {
	t.Parallel()
	e := newEnvWithProxy(t, stack.Options{API: api.Config{RequestTimeout: 3 * time.Second}}, true)
	ctx := context.Background()
	in := propose(t, e, lifecycle.Sample("Hele tjenesten nede", 2, 2_000_000, 500_000))
	pending := propose(t, e, lifecycle.Sample("Afventer", 1, 1_000_000, 0))
	pending, err := e.driver.Act(ctx, pending.ID, "/decision", "", e.driver.Tokens.Board, map[string]string{"outcome": "approve"})
	if err != nil {
		t.Fatal(err)
	}
	tok := e.s.Tokens
	decision := "/api/v1/initiatives/" + in.ID + "/decision"
	approve := mustJSON(t, map[string]string{"outcome": "approve"})
	const approveKey = "why9-approve"

	// PostgreSQL goes away in the middle of the approval: the API had claimed the request's Idempotency-Key and the
	// worker's step had its transaction open.
	cut := e.cutDuring(t, "POST", decision, tok["bs-hanne"], approveKey, approve, func() {
		if n := e.count(`SELECT count(*) FROM ledger_entries WHERE initiative_id = $1`, in.ID); n != 0 {
			t.Errorf("ledger entries of the cut approval = %d, want 0", n)
		}
	})

	create := mustJSON(t, lifecycle.Sample("Under nedbruddet", 1, 1_000_000, 0))
	confirm := mustJSON(t, map[string]string{"reference": "NETS-9"})
	calls := []struct {
		method, path, token, key string
		body                     []byte
	}{
		{"GET", "/api/v1/initiatives/" + in.ID, tok["bs-hanne"], "", nil},
		{"GET", "/api/v1/initiatives", tok["og-mette"], "", nil},
		{"GET", "/api/v1/initiatives/" + in.ID + "/events", tok["bs-lars"], "", nil},
		{"GET", planPath + "/budget", tok["bs-hanne"], "", nil},
		{"GET", "/api/v1/finance/disbursements?status=pending", tok["fin-peter"], "", nil},
		{"GET", "/api/v1/me", tok["bs-sofie"], "", nil}, // a token never seen before: its lookup needs the database
		{"POST", "/api/v1/initiatives", tok["og-mette"], "why9-create", create},
		{"POST", "/api/v1/finance/disbursements/" + pending.Milestones[0].DisbursementID + "/confirm", tok["fin-peter"], "why9-confirm", confirm},
	}
	for _, c := range calls {
		want503(t, c.method+" "+c.path+" without PostgreSQL", e.raw(t, c.method, c.path, c.token, c.key, c.body))
	}
	want503(t, "the approval retried without PostgreSQL", e.raw(t, "POST", decision, tok["bs-hanne"], approveKey, approve))
	if a := e.raw(t, "GET", "/readyz", "", "", nil); a.status != http.StatusServiceUnavailable || a.problem.Checks["postgresql"] != "fejl" {
		t.Errorf("/readyz without PostgreSQL: %s, want 503 naming postgresql", a)
	}
	time.Sleep(10*time.Second - time.Since(cut))
	e.proxy.Up()
	up := time.Now()

	// The client retries the approval that was in flight, with its key, as the 503 told it to.
	var approved rawAnswer
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(250 * time.Millisecond) {
		approved = e.raw(t, "POST", decision, tok["bs-hanne"], approveKey, approve)
		if approved.status == http.StatusOK {
			t.Logf("the approval in flight when PostgreSQL went succeeded %.1f s after it came back", time.Since(up).Seconds())
			break
		}
		if approved.status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			var held int
			_ = e.st.DB().Get(&held, `SELECT count(*) FROM idempotency_keys WHERE key = $1 AND status IS NULL`, approveKey)
			t.Errorf("the approval in flight when PostgreSQL went, retried with its key %.1f s after the database came back: %s; "+
				"want 503 until it succeeds, never 409 (the key is still held as in progress: %d record)", time.Since(up).Seconds(), approved, held)
			break
		}
	}
	if approved.status == http.StatusOK {
		if got := decodeInitiative(t, approved); got.Phase != "funding" {
			t.Fatalf("after the outage: phase %s, want funding", got.Phase)
		}
	} else {
		// The workflow finishes the approval by itself; go on from there so the rest is checked too.
		waitFor(t, time.Minute, "the approval to complete in the workflow", func() bool {
			got, err := e.driver.Get(ctx, in.ID)
			return err == nil && got.Phase == "funding"
		})
	}
	for _, c := range calls {
		a := e.untilOK(t, time.Minute, c.method, c.path, c.token, c.key, c.body)
		t.Logf("%s %s after the outage: %d", c.method, c.path, a.status)
	}
	got, err := e.driver.Get(ctx, in.ID)
	if err != nil || got.Phase != "funding" {
		t.Fatalf("after the outage: %v %+v, want funding", err, got)
	}
	if _, err := e.driver.Finish(ctx, got, 1000); err != nil {
		t.Fatalf("the lifecycle after the outage: %v", err)
	}
	for q, want := range map[string]int{
		`SELECT count(*) FROM initiatives`:                           3,
		`SELECT count(*) FROM initiatives WHERE phase = 'completed'`: 1,
		`SELECT count(*) FROM disbursements WHERE status = 'paid'`:   3,
		`SELECT count(*) FROM disbursements`:                         3,
		`SELECT count(*) FROM ledger_entries WHERE kind = 'reserve'`: 3,
	} {
		if got := e.count(q); got != want {
			t.Errorf("%s = %d, want %d", q, got, want)
		}
	}
}

// Why 10: the Idempotency-Key's bookkeeping ran under a timeout that started before the handler, so a slow request
// left its key locked and the retry got 409 for minutes. Now a slow request releases its key: the retry is 503
// again while the write waits, and answers 200 soon after the database is back.
func TestWhy10_ASlowRequestNeverStrandsItsKey(t *testing.T) {
	t.Parallel()
	e := newEnvWithWorkerProxy(t, stack.Options{API: api.Config{RequestTimeout: 3 * time.Second}})
	in := propose(t, e, lifecycle.Sample("Langsom forespørgsel", 1, 2_000_000, 0))
	path := "/api/v1/initiatives/" + in.ID + "/decision"
	body := mustJSON(t, map[string]string{"outcome": "approve"})
	hanne := e.s.Tokens["bs-hanne"]
	const key = "why10-k"

	e.proxy.Down()
	down := time.Now()
	for i := 1; i <= 2; i++ {
		a := e.raw(t, "POST", path, hanne, key, body)
		want503(t, fmt.Sprintf("attempt %d while the worker's database is down", i), a)
		if n := e.count(`SELECT count(*) FROM idempotency_keys WHERE key = $1`, key); n != 0 {
			t.Errorf("after attempt %d the key is still held (%d records)", i, n)
		}
	}
	time.Sleep(8*time.Second - time.Since(down))
	e.proxy.Up()
	up := time.Now()
	a := e.untilOK(t, time.Minute, "POST", path, hanne, key, body)
	took := time.Since(up)
	t.Logf("answered %d %.1f s after the database came back", a.status, took.Seconds())
	if took > 20*time.Second {
		t.Errorf("the retry succeeded %s after the database came back, want within 20 s", took)
	}
	if got := decodeInitiative(t, a); got.Phase != "funding" {
		t.Errorf("after the outage: phase %s, want funding", got.Phase)
	}
	if n := e.count(`SELECT count(*) FROM idempotency_keys WHERE key = $1 AND status = 200`, key); n != 1 {
		t.Errorf("completed records of the key = %d, want 1", n)
	}
	if again := e.raw(t, "POST", path, hanne, key, body); again.status != http.StatusOK || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("the same request again: %s (replayed %q), want the stored 200", again, again.header.Get("Idempotent-Replayed"))
	}
	if n := e.ledger(in.ID, "reserve"); n != 1 {
		t.Errorf("reservations = %d, want 1", n)
	}
}

// Why 11: NUL characters gave 500s and failed workflows, duplicate keys were taken last-one-wins, null was taken
// as zero and invalid UTF-8 was replaced silently. Now each is refused before anything is written.
func TestWhy11_StrictInputIsRefusedBeforeAnythingIsWritten(t *testing.T) {
	t.Parallel()
	e := newEnv(t, stack.Options{})
	ctx := context.Background()
	tok := e.s.Tokens
	review := propose(t, e, lifecycle.Sample("Til behandling", 1, 1_000_000, 0))
	funded := propose(t, e, lifecycle.Sample("Finansieret", 1, 1_000_000, 0))
	funded, err := e.driver.Act(ctx, funded.ID, "/decision", "", e.driver.Tokens.Board, map[string]string{"outcome": "approve"})
	if err != nil {
		t.Fatal(err)
	}
	decision := "/api/v1/initiatives/" + review.ID + "/decision"
	confirm := "/api/v1/finance/disbursements/" + funded.Milestones[0].DisbursementID + "/confirm"
	events := func() int { return e.count(`SELECT count(*) FROM initiative_events`) }
	before := events()

	a := e.raw(t, "POST", decision, tok["bs-hanne"], "", mustJSON(t, map[string]string{"outcome": "reject", "comment": "nej\x00"}))
	if a.status != http.StatusUnprocessableEntity || !a.problem.has("comment", "invalid_characters") {
		t.Errorf("NUL in a decision comment: %s, want 422 comment invalid_characters", a)
	}
	a = e.raw(t, "POST", confirm, tok["fin-peter"], "", mustJSON(t, map[string]string{"reference": "NETS\x0011"}))
	if a.status != http.StatusUnprocessableEntity || !a.problem.has("reference", "invalid_characters") {
		t.Errorf("NUL in a payment reference: %s, want 422 reference invalid_characters", a)
	}
	bad := lifecycle.Sample("Titel med \x00 nul-tegn", 1, 1_000_000, 0)
	a = e.raw(t, "POST", "/api/v1/initiatives", tok["og-mette"], "why11-nul", mustJSON(t, bad))
	if a.status != http.StatusUnprocessableEntity || !a.problem.has("title", "invalid_characters") {
		t.Errorf("NUL in a create's title: %s, want 422 title invalid_characters", a)
	}
	a = e.raw(t, "POST", decision, tok["bs-hanne"], "", []byte(`{"outcome":"reject","comment":"nej","outcome":"approve"}`))
	if a.status != http.StatusBadRequest || !a.problem.has("outcome", "duplicate_key") {
		t.Errorf("duplicate keys: %s, want 400 outcome duplicate_key", a)
	}
	a = e.raw(t, "POST", decision, tok["bs-hanne"], "", []byte("{\"outcome\":\"reject\",\"comment\":\"n\xffj\xfe\"}"))
	if a.status != http.StatusBadRequest {
		t.Errorf("invalid UTF-8 in a decision: %s, want 400", a)
	}
	a = e.raw(t, "POST", "/api/v1/initiatives", tok["og-mette"], "", []byte("{\"title\":\"\xc3\x28\"}"))
	if a.status != http.StatusBadRequest {
		t.Errorf("invalid UTF-8 in a create: %s, want 400", a)
	}
	for _, c := range []struct{ name, path, token string }{
		{"create", "/api/v1/initiatives", tok["og-mette"]},
		{"decision", decision, tok["bs-hanne"]},
		{"confirm", confirm, tok["fin-peter"]},
		{"resubmit", "/api/v1/initiatives/" + review.ID + "/resubmit", tok["og-mette"]},
	} {
		if a := e.raw(t, "POST", c.path, c.token, "", []byte("null")); a.status < 400 || a.status > 499 {
			t.Errorf("a null body to %s: %s, want 4xx", c.name, a)
		}
	}
	if got := events(); got != before {
		t.Errorf("events = %d, want %d: a refused request wrote something", got, before)
	}
	if n := e.count(`SELECT count(*) FROM initiatives`); n != 2 {
		t.Errorf("initiatives = %d, want 2 (no workflow for the refused create)", n)
	}
	if got, err := e.driver.Get(ctx, review.ID); err != nil || got.Phase != "board_review" || got.Version != 1 {
		t.Errorf("after the duplicate-key decision: %v %+v, want board_review at version 1", err, got)
	}
	if n := e.count(`SELECT count(*) FROM ledger_entries WHERE kind = 'pay'`); n != 0 {
		t.Errorf("pay entries = %d, want 0", n)
	}

	if err := e.driver.Confirm(ctx, funded.Milestones[0].DisbursementID, "NETS-11"); err != nil {
		t.Fatal(err)
	}
	before = events()
	report := "/api/v1/initiatives/" + funded.ID + "/milestones/1/report"
	a = e.raw(t, "POST", report, tok["og-mette"], "", []byte(`{"summary":"Gennemført","spent_ore":null}`))
	if a.status != http.StatusUnprocessableEntity || !a.problem.has("spent_ore", "required") {
		t.Errorf(`"spent_ore": null: %s, want 422 spent_ore required`, a)
	}
	if a := e.raw(t, "POST", report, tok["og-mette"], "", []byte("null")); a.status != http.StatusUnprocessableEntity {
		t.Errorf("a null report: %s, want 422", a)
	}
	if got := events(); got != before {
		t.Errorf("events = %d, want %d after the refused reports", got, before)
	}
	if got, err := e.driver.Get(ctx, funded.ID); err != nil || got.Phase != "executing" || got.Milestones[0].TrancheStatus != "paid" {
		t.Errorf("the funded initiative: %v %+v", err, got)
	}

	// Text reaches PostgreSQL from the URL too: a NUL or invalid UTF-8 in a path or query parameter is a 4xx
	// like in a body, never a 500.
	t.Run("path_and_query_parameters", func(t *testing.T) {
		before := events()
		for _, c := range []struct{ method, path, token, key string }{
			{"GET", "/api/v1/initiatives?delaftale=%00", tok["bs-hanne"], ""},
			{"GET", "/api/v1/initiatives?housing_area=%00", tok["bs-hanne"], ""},
			{"GET", "/api/v1/initiatives?delaftale=%C3%28", tok["bs-hanne"], ""},
			{"GET", "/api/v1/initiatives?housing_area=%FF", tok["bs-hanne"], ""},
			{"GET", "/api/v1/initiatives/%00", tok["bs-hanne"], ""},
			{"GET", "/api/v1/initiatives/" + review.ID + "%00", tok["bs-hanne"], ""},
			{"GET", "/api/v1/initiatives/%FF/events", tok["bs-hanne"], ""},
			{"POST", "/api/v1/initiatives/%00/decision", tok["bs-hanne"], ""},
			{"POST", "/api/v1/initiatives/%FF/decision", tok["bs-hanne"], "why11-path"},
			{"POST", "/api/v1/finance/disbursements/%00/confirm", tok["fin-peter"], ""},
			{"POST", "/api/v1/finance/disbursements/%FF/confirm", tok["fin-peter"], "why11-path"},
		} {
			var body []byte
			if c.method == "POST" {
				body = []byte(`{"outcome":"approve","reference":"NETS-1"}`)
			}
			if a := e.raw(t, c.method, c.path, c.token, c.key, body); a.status < 400 || a.status > 499 {
				t.Errorf("%s %s: %s, want 4xx", c.method, c.path, a)
			}
		}
		if got := events(); got != before {
			t.Errorf("events = %d, want %d", got, before)
		}
	})
}

// Why 12: any operational-group member could resubmit another member's proposal. Now only the proposer can.
func TestWhy12_OnlyTheProposerResubmits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, stack.Options{})
	ctx := context.Background()
	p := lifecycle.Sample("Mettes forslag", 1, 1_000_000, 0)
	in := propose(t, e, p)
	mustPhase(t, "request changes", "changes_requested")(e.driver.Act(ctx, in.ID, "/decision", "", e.driver.Tokens.Board,
		map[string]string{"outcome": "request_changes", "comment": "Uddyb målene"}))
	p.Title = "Mettes forslag, revideret"
	body, err := json2map(p)
	if err != nil {
		t.Fatal(err)
	}
	body["comment"] = "Målene er uddybet"

	_, err = e.driver.Act(ctx, in.ID, "/resubmit", "", e.s.Tokens["og-ahmed"], body)
	if p := problemOf(err); p == nil || p.Status != http.StatusForbidden || p.Code != "forbidden" {
		t.Fatalf("Ahmed resubmits Mette's proposal: %v, want 403 forbidden", err)
	}
	if got, err := e.driver.Get(ctx, in.ID); err != nil || got.Phase != "changes_requested" || got.Version != 2 {
		t.Fatalf("after Ahmed's attempt: %v %+v, want changes_requested at version 2", err, got)
	}
	mustPhase(t, "Mette resubmits", "board_review")(e.driver.Act(ctx, in.ID, "/resubmit", "", e.s.Tokens["og-mette"], body))
	// The secretariat (admin) may resubmit on the proposer's behalf.
	mustPhase(t, "request changes again", "changes_requested")(e.driver.Act(ctx, in.ID, "/decision", "", e.driver.Tokens.Board,
		map[string]string{"outcome": "request_changes", "comment": "Budgettet skal deles op"}))
	body["comment"] = "Sekretariatet indsender for Mette"
	mustPhase(t, "the admin resubmits", "board_review")(e.driver.Act(ctx, in.ID, "/resubmit", "", e.s.Tokens["adm-karen"], body))
	want := []string{"submitted", "changes_requested", "resubmitted", "changes_requested", "resubmitted"}
	if got := e.eventTypes(t, in.ID); !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
	var actor string
	if err := e.st.DB().Get(&actor, `SELECT actor_id FROM initiative_events WHERE initiative_id = $1 AND seq = 3`, in.ID); err != nil || actor != "og-mette" {
		t.Errorf("resubmitted by %q (%v), want og-mette", actor, err)
	}
}

// Why 13: /readyz said ok with an unknown Temporal namespace or an unmigrated database. Now it names the failing
// check.
func TestWhy13_ReadinessNamesTheNamespaceAndTheMigrations(t *testing.T) {
	t.Parallel()
	e := newEnv(t, stack.Options{})
	ctx := context.Background()
	c := e.ts.GetDefaultClient()
	probe := func(name string, st api.Store, wf api.Workflows) rawAnswer {
		srv := httptest.NewServer(api.New(api.Config{}, st, wf, nil, nil, nil))
		defer srv.Close()
		a := rawCall(t, srv.URL, "GET", "/readyz", "", "", nil)
		t.Logf("%s: %s", name, a)
		return a
	}

	a := probe("unknown namespace", e.st, api.NewTemporalWorkflowsIn(c, "no-such-namespace"))
	if a.status != http.StatusServiceUnavailable || a.problem.Checks["temporal_namespace"] != "fejl" || a.problem.Checks["migrations"] != "ok" {
		t.Errorf("readyz with an unknown namespace: %s, want 503 naming temporal_namespace", a)
	}

	empty, err := store.Open(ctx, dbtest.NewEmpty(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = empty.Close() })
	a = probe("unmigrated database", empty, api.NewTemporalWorkflowsIn(c, e.ts.GetDefaultNamespace()))
	if a.status != http.StatusServiceUnavailable || a.problem.Checks["migrations"] != "fejl" || a.problem.Checks["temporal_namespace"] != "ok" {
		t.Errorf("readyz on an unmigrated database: %s, want 503 naming migrations", a)
	}

	// A client dialed for a namespace the server does not know, without naming it to the API (as the test stack
	// does): readiness finds out through the task queue.
	other, err := client.Dial(client.Options{HostPort: e.ts.GetFrontendHostPort(), Namespace: "no-such-namespace"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	a = probe("client of an unknown namespace", e.st, api.NewTemporalWorkflows(other))
	if a.status != http.StatusServiceUnavailable || a.problem.Checks["temporal_namespace"] != "fejl" {
		t.Errorf("readyz with a client of an unknown namespace: %s, want 503 naming temporal_namespace", a)
	}

	a = probe("everything in place", e.st, api.NewTemporalWorkflowsIn(c, e.ts.GetDefaultNamespace()))
	if a.status != http.StatusOK {
		t.Errorf("readyz of a migrated database and a known namespace: %s, want 200", a)
	}
	if a := e.raw(t, "GET", "/readyz", "", "", nil); a.status != http.StatusOK {
		t.Errorf("the env's own /readyz: %s, want 200", a)
	}
}

// Why 14: the webhook's signature did not cover the topic or the Idempotency-Key, and one slow receiver held up
// every other message. Now both headers are signed and a slow receiver delays only its own message.
func TestWhy14_WebhooksSignEveryHeaderAndASlowReceiverDelaysOnlyItself(t *testing.T) {
	t.Parallel()
	const secret = "whsec-why14"
	const slow = 15 * time.Second
	type delivery struct {
		header  http.Header
		body    []byte
		arrived time.Time
	}
	var (
		mu         sync.Mutex
		deliveries []delivery
		slowKey    string
	)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := outbox.Verify([]byte(secret), r.Header, body, time.Now(), 0); err != nil {
			t.Errorf("a delivery does not verify: %v (%s)", err, body)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mu.Lock()
		deliveries = append(deliveries, delivery{header: r.Header.Clone(), body: body, arrived: time.Now()})
		first := slowKey == ""
		if first {
			slowKey = r.Header.Get(outbox.HeaderIdempotencyKey)
		}
		mu.Unlock()
		if first {
			time.Sleep(slow)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	e := newEnv(t, stack.Options{WebhookURL: receiver.URL, WebhookSecret: secret})
	ctx := context.Background()
	var ids []string
	for i := range 3 {
		ids = append(ids, propose(t, e, lifecycle.Sample(fmt.Sprintf("Webhook %d", i+1), 1, 1_000_000, 0)).ID)
	}
	approvedAt := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(ids))
	for i, id := range ids {
		wg.Go(func() {
			_, errs[i] = e.driver.Act(ctx, id, "/decision", "", e.driver.Tokens.Board, map[string]string{"outcome": "approve"})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	approved := time.Since(approvedAt)

	arrivedCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(deliveries)
	}
	waitFor(t, 10*time.Second, "all three release messages to arrive", func() bool { return arrivedCount() == 3 })
	mu.Lock()
	var lastFast time.Duration
	for _, d := range deliveries {
		if d.header.Get(outbox.HeaderIdempotencyKey) != slowKey {
			lastFast = max(lastFast, d.arrived.Sub(approvedAt))
		}
	}
	mu.Unlock()
	t.Logf("approvals took %s; the two other releases arrived within %s of them while the first receiver call sleeps %s",
		approved.Round(time.Millisecond), lastFast.Round(time.Millisecond), slow)
	if lastFast > approved+5*time.Second {
		t.Errorf("the other releases arrived %s after the approvals began, want within a few seconds, not after the slow one", lastFast)
	}
	waitFor(t, 5*time.Second, "the two other releases to be recorded as delivered", func() bool {
		return e.count(`SELECT count(*) FROM outbox WHERE delivered_at IS NOT NULL`) == 2
	})
	if n := e.count(`SELECT count(*) FROM outbox WHERE key = $1 AND delivered_at IS NULL`, slowKey); n != 1 {
		t.Errorf("the slow receiver's message is recorded as delivered before it answered")
	}

	// Pay all three: the paid messages come as well, and the slow message is delivered once when it answers.
	for _, id := range ids {
		in, err := e.driver.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.driver.Confirm(ctx, in.Milestones[0].DisbursementID, "NETS-"+id[:8]); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, slow+15*time.Second, "every message to be delivered", func() bool {
		return e.count(`SELECT count(*) FROM outbox WHERE delivered_at IS NULL`) == 0
	})
	mu.Lock()
	defer mu.Unlock()
	keys := map[string]int{}
	for _, d := range deliveries {
		keys[d.header.Get(outbox.HeaderIdempotencyKey)]++
	}
	if len(deliveries) != 6 || len(keys) != 6 {
		t.Errorf("deliveries = %d with %d keys, want 6 distinct (3 released, 3 paid): %v", len(deliveries), len(keys), keys)
	}

	// The signature covers the topic and the Idempotency-Key: the same body with either header changed fails.
	for _, d := range deliveries {
		if err := outbox.Verify([]byte(secret), d.header, d.body, time.Now(), 0); err != nil {
			t.Errorf("delivery %s no longer verifies: %v", d.header.Get(outbox.HeaderIdempotencyKey), err)
		}
		topic := d.header.Clone()
		if topic.Get(outbox.HeaderTopic) == store.TopicDisbursementPaid {
			topic.Set(outbox.HeaderTopic, store.TopicDisbursementReleased)
		} else {
			topic.Set(outbox.HeaderTopic, store.TopicDisbursementPaid)
		}
		if err := outbox.Verify([]byte(secret), topic, d.body, time.Now(), 0); !errors.Is(err, outbox.ErrSignatureMismatch) {
			t.Errorf("changed topic: Verify = %v, want ErrSignatureMismatch", err)
		}
		key := d.header.Clone()
		key.Set(outbox.HeaderIdempotencyKey, key.Get(outbox.HeaderIdempotencyKey)+"-x")
		if err := outbox.Verify([]byte(secret), key, d.body, time.Now(), 0); !errors.Is(err, outbox.ErrSignatureMismatch) {
			t.Errorf("changed Idempotency-Key: Verify = %v, want ErrSignatureMismatch", err)
		}
		var msg map[string]any
		if err := json.Unmarshal(d.body, &msg); err != nil || !slices.Contains(ids, fmt.Sprint(msg["initiative_id"])) {
			t.Errorf("delivery body %s (%v)", d.body, err)
		}
	}
}
