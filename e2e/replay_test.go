package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/helhedsplan/helhedsplan/api"
	"github.com/helhedsplan/helhedsplan/internal/apiclient"
	"github.com/helhedsplan/helhedsplan/internal/lifecycle"
	"github.com/helhedsplan/helhedsplan/internal/stack"
	"github.com/helhedsplan/helhedsplan/store"
	hpworker "github.com/helhedsplan/helhedsplan/worker"
	"github.com/helhedsplan/helhedsplan/workflows"
)

var updateHistories = flag.Bool("update-histories", false,
	"write the history of each path that has none yet to workflows/testdata for the replay tests (existing "+
		"histories are never rewritten: they are what running workflows recorded under earlier code)")

// loseFirstAnswers commits the first n steps and reports each one's first attempt as failed, as a connection
// that breaks right after COMMIT does; the retries find the steps done.
type loseFirstAnswers struct {
	mu   sync.Mutex
	n    int
	lost map[string]bool
}

func (l *loseFirstAnswers) AfterStep(_ context.Context, s store.Step) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := stepKey(s)
	if l.lost == nil {
		l.lost = map[string]bool{}
	}
	if l.lost[key] || len(l.lost) >= l.n {
		return nil
	}
	l.lost[key] = true
	return errors.New("read tcp 127.0.0.1:5432: connection reset by peer (after COMMIT)")
}

// stepKey names a step by its initiative and first seq.
func stepKey(s store.Step) string {
	var trs []store.Transition
	trs = append(trs, s.Transitions...)
	for _, t := range []*store.Transition{transitionOf(s.Reserve), transitionOf(s.Release), transitionOf(s.Pay),
		transitionOf(s.Cancel), transitionOf(s.Closeout)} {
		if t != nil {
			trs = append(trs, *t)
		}
	}
	first := trs[0].Event
	for _, t := range trs {
		if t.Event.Seq < first.Seq {
			first = t.Event
		}
	}
	return fmt.Sprintf("%s/%d", first.InitiativeID, first.Seq)
}

func transitionOf(in any) *store.Transition {
	switch v := in.(type) {
	case *store.ReserveInput:
		if v != nil {
			return &v.Transition
		}
	case *store.ReleaseInput:
		if v != nil {
			return &v.Transition
		}
	case *store.PayInput:
		if v != nil {
			return &v.Transition
		}
	case *store.CancelInput:
		if v != nil {
			return &v.Transition
		}
	case *store.CloseoutInput:
		if v != nil {
			return &v.Transition
		}
	}
	return nil
}

// TestEveryPathReplaysWithTheCurrentCode takes an initiative down each path its workflow has, on the real server,
// and replays each history with the workflow code as it is now: a non-deterministic change fails here. With
// -update-histories it records the histories as the corpus the workflows package replays on every test run (also
// under stricter rules), which guards every later change.
func TestEveryPathReplaysWithTheCurrentCode(t *testing.T) {
	board := func(e *env, id, outcome, comment string) (lifecycle.Initiative, error) {
		return e.driver.Act(context.Background(), id, "/decision", "/decision", e.driver.Tokens.Board,
			map[string]string{"outcome": outcome, "comment": comment})
	}
	paths := []struct {
		name        string
		workerProxy bool // the worker reaches PostgreSQL through a proxy the test can cut (env.proxy)
		opts        stack.Options
		drive       func(t *testing.T, e *env) string // returns the initiative ID
	}{
		{name: "completed", drive: func(t *testing.T, e *env) string {
			in := propose(t, e, lifecycle.Sample("Genafspilning", 2, 5_000_000, 2_000_000))
			complete(t, e, in)
			return in.ID
		}},
		{name: "rejected", drive: func(t *testing.T, e *env) string {
			in := propose(t, e, lifecycle.Sample("Afvises", 1, 5_000_000, 0))
			mustPhase(t, "reject", "rejected")(board(e, in.ID, "reject", "Ligger uden for delaftalen"))
			return in.ID
		}},
		{name: "withdrawn", drive: func(t *testing.T, e *env) string {
			in := propose(t, e, lifecycle.Sample("Trækkes tilbage", 1, 5_000_000, 0))
			mustPhase(t, "withdraw", "withdrawn")(e.driver.Act(context.Background(), in.ID, "/withdraw", "/withdraw",
				e.driver.Tokens.OperationalGroup, map[string]string{"reason": "Dækket af kommunen"}))
			return in.ID
		}},
		{name: "changes_requested_resubmitted", drive: func(t *testing.T, e *env) string {
			p := lifecycle.Sample("Ændres", 2, 5_000_000, 1_000_000)
			in := propose(t, e, p)
			mustPhase(t, "request changes", "changes_requested")(board(e, in.ID, "request_changes", "Uddyb målgruppen"))
			p.Title, p.PlanID = "Ændret", ""
			body := map[string]any{"comment": "Målgruppen er uddybet"}
			raw, _ := json2map(p)
			for k, v := range raw {
				body[k] = v
			}
			mustPhase(t, "resubmit", "board_review")(e.driver.Act(context.Background(), in.ID, "/resubmit", "/resubmit",
				e.driver.Tokens.OperationalGroup, body))
			complete(t, e, in)
			return in.ID
		}},
		{name: "insufficient_funds_then_rejected", drive: func(t *testing.T, e *env) string {
			// Two proposals each within what is free, together over it: the second approval is refused.
			var lbf int64
			for _, s := range e.budget(context.Background()).Sources {
				if s.SourceID == "lbf" && s.AvailableOre != nil {
					lbf = *s.AvailableOre
				}
			}
			first := propose(t, e, lifecycle.Sample("Får pengene", 1, lbf/2+100, 0))
			second := propose(t, e, lifecycle.Sample("For sent", 1, lbf/2+100, 0))
			mustPhase(t, "approve first", "funding")(board(e, first.ID, "approve", ""))
			_, err := board(e, second.ID, "approve", "")
			var p *apiclient.Problem
			if !errors.As(err, &p) || p.Code != "insufficient_funds" {
				t.Fatalf("second approval: %v, want insufficient_funds", err)
			}
			mustPhase(t, "reject second", "rejected")(board(e, second.ID, "reject", "Ingen midler tilbage"))
			return second.ID
		}},
		{name: "failed_writes_recovered", opts: stack.Options{Faults: &loseFirstAnswers{n: 6}}, drive: func(t *testing.T, e *env) string {
			in := propose(t, e, lifecycle.Sample("Mistede svar", 2, 5_000_000, 2_000_000))
			complete(t, e, in)
			return in.ID
		}},
		{name: "database_down_during_approval", workerProxy: true, opts: stack.Options{API: api.Config{RequestTimeout: 3 * time.Second}},
			drive: func(t *testing.T, e *env) string {
				in := propose(t, e, lifecycle.Sample("Databasen nede", 2, 5_000_000, 2_000_000))
				// Long enough for the retries' backoff to pass the workflow task timeout, so they become timers.
				approved := e.outageDuring(t, 20*time.Second, apiclient.Call{Method: "POST",
					Path: "/api/v1/initiatives/" + in.ID + "/decision", Token: e.driver.Tokens.Board,
					Body: map[string]string{"outcome": "approve"}, IdempotencyKey: "approve-" + in.ID})
				if _, err := e.driver.Finish(context.Background(), approved, 1000); err != nil {
					t.Fatalf("after the outage: %v", err)
				}
				return in.ID
			}},
		// Paths since board votes, deadlines, changes and cancellation (issue 7): the board of three votes.
		{name: "v2_votes_conflict_sent_back_completed", drive: func(t *testing.T, e *env) string {
			e.boardVotes()
			ctx := context.Background()
			in := propose(t, e, lifecycle.Sample("Stemmer", 1, 5_000_000, 2_000_000))
			mustPhase(t, "conflict", "board_review")(e.driver.Act(ctx, in.ID, "/conflict", "/conflict", e.s.Tokens["bs-sofie"],
				map[string]string{"reason": "Formand for afdelingsbestyrelsen"}))
			mustPhase(t, "lars rejects", "board_review")(e.driver.Act(ctx, in.ID, "/decision", "/decision", e.s.Tokens["bs-lars"],
				map[string]string{"outcome": "reject", "comment": "For dyrt"}))
			in, err := e.driver.Act(ctx, in.ID, "/decision", "/decision", e.driver.Tokens.Board, map[string]string{"outcome": "approve"})
			mustPhase(t, "chair's casting vote", "funding")(in, err)
			if err := e.driver.Confirm(ctx, in.Milestones[0].DisbursementID, "BANK-V2-1"); err != nil {
				t.Fatal(err)
			}
			report := map[string]any{"summary": "Første del", "spent_ore": 1000}
			mustPhase(t, "report", "executing")(e.driver.Act(ctx, in.ID, "/milestones/1/report", "/milestones/{n}/report", e.driver.Tokens.OperationalGroup, report))
			mustPhase(t, "send back", "executing")(e.driver.Act(ctx, in.ID, "/milestones/1/return", "/milestones/{n}/return", e.driver.Tokens.Board,
				map[string]string{"comment": "Mangler deltagertal"}))
			mustPhase(t, "report again", "executing")(e.driver.Act(ctx, in.ID, "/milestones/1/report", "/milestones/{n}/report", e.driver.Tokens.OperationalGroup, report))
			mustPhase(t, "accept", "evaluation")(e.driver.Act(ctx, in.ID, "/milestones/1/accept", "/milestones/{n}/accept", e.driver.Tokens.Board, map[string]string{}))
			evaluation := map[string]any{"summary": "Delvist opfyldt", "results": []map[string]any{
				{"goal_id": "g1", "achieved": true, "result": "Ja"}, {"goal_id": "g2", "achieved": false, "result": "Nej"}}}
			mustPhase(t, "evaluate", "evaluation")(e.driver.Act(ctx, in.ID, "/evaluation", "/evaluation", e.driver.Tokens.OperationalGroup, evaluation))
			// Sofie is inhabil: Hanne and Lars are the board for this initiative, and both must agree.
			mustPhase(t, "hanne: back", "evaluation")(e.driver.Act(ctx, in.ID, "/evaluation/return", "/evaluation/return", e.driver.Tokens.Board,
				map[string]string{"comment": "Uddyb mål 2"}))
			mustPhase(t, "lars: back", "evaluation")(e.driver.Act(ctx, in.ID, "/evaluation/return", "/evaluation/return", e.s.Tokens["bs-lars"],
				map[string]string{"comment": "Enig"}))
			mustPhase(t, "evaluate again", "evaluation")(e.driver.Act(ctx, in.ID, "/evaluation", "/evaluation", e.driver.Tokens.OperationalGroup, evaluation))
			mustPhase(t, "hanne", "evaluation")(e.driver.Act(ctx, in.ID, "/evaluation/accept", "/evaluation/accept", e.driver.Tokens.Board, map[string]string{}))
			mustPhase(t, "lars", "completed")(e.driver.Act(ctx, in.ID, "/evaluation/accept", "/evaluation/accept", e.s.Tokens["bs-lars"], map[string]string{}))
			return in.ID
		}},
		{name: "v2_change_applied", drive: func(t *testing.T, e *env) string {
			e.boardVotes()
			ctx := context.Background()
			p := lifecycle.Sample("Ændres efter godkendelse", 2, 5_000_000, 2_000_000)
			in := propose(t, e, p)
			in, err := e.driver.Act(ctx, in.ID, "/decision", "/decision", e.driver.Tokens.Board, map[string]string{"outcome": "approve"})
			if err == nil {
				in, err = e.driver.Act(ctx, in.ID, "/decision", "/decision", e.s.Tokens["bs-lars"], map[string]string{"outcome": "approve"})
			}
			mustPhase(t, "approve", "funding")(in, err)
			// Milestone 1's tranche is released and stays; 2.000.000 øre of LBF money moves from milestone 2 to a new
			// milestone 3.
			ms := p.Milestones
			ms[1].Tranche = []lifecycle.Amount{{SourceID: "lbf", AmountOre: 3_000_000}, {SourceID: "viborg-kommune", AmountOre: 2_000_000}}
			ms = append(ms, lifecycle.Milestone{Title: "Afslutning", DueDate: "2025-06-30",
				Tranche: []lifecycle.Amount{{SourceID: "lbf", AmountOre: 2_000_000}}})
			mustPhase(t, "request change", "funding")(e.driver.Act(ctx, in.ID, "/changes", "/changes", e.driver.Tokens.OperationalGroup,
				map[string]any{"reason": "En afslutningsfase", "budget": p.Budget, "milestones": ms}))
			change := map[string]string{"outcome": "approve", "matter": "change"}
			mustPhase(t, "lars", "funding")(e.driver.Act(ctx, in.ID, "/decision", "/decision", e.s.Tokens["bs-lars"], change))
			mustPhase(t, "hanne", "funding")(e.driver.Act(ctx, in.ID, "/decision", "/decision", e.driver.Tokens.Board, change))
			return in.ID
		}},
		{name: "v2_cancelled", drive: func(t *testing.T, e *env) string {
			e.boardVotes()
			ctx := context.Background()
			in := propose(t, e, lifecycle.Sample("Annulleres", 2, 5_000_000, 2_000_000))
			in, err := e.driver.Act(ctx, in.ID, "/decision", "/decision", e.driver.Tokens.Board, map[string]string{"outcome": "approve"})
			if err == nil {
				in, err = e.driver.Act(ctx, in.ID, "/decision", "/decision", e.s.Tokens["bs-lars"], map[string]string{"outcome": "approve"})
			}
			mustPhase(t, "approve", "funding")(in, err)
			mustPhase(t, "propose cancel", "funding")(e.driver.Act(ctx, in.ID, "/cancel", "/cancel", e.s.Tokens["adm-karen"],
				map[string]string{"reason": "Projektet er opgivet"}))
			for _, m := range []string{"bs-lars", "bs-sofie"} {
				in, err = e.driver.Act(ctx, in.ID, "/decision", "/decision", e.s.Tokens[m], map[string]string{"outcome": "approve", "matter": "cancellation"})
			}
			mustPhase(t, "cancelled", "cancelled")(in, err)
			return in.ID
		}},
		// Since close-out (issue 8): the evaluation states the final spend, and its acceptance settles the money.
		{name: "v3_closed_out_with_return", drive: func(t *testing.T, e *env) string {
			ctx := context.Background()
			in := propose(t, e, lifecycle.Sample("Afsluttes med tilbagebetaling", 2, 5_000_000, 2_000_000))
			in, err := e.driver.Act(ctx, in.ID, "/decision", "/decision", e.driver.Tokens.Board, map[string]string{"outcome": "approve"})
			mustPhase(t, "approve", "funding")(in, err)
			in, err = e.driver.FinishSpending(ctx, in, 1000, []lifecycle.Amount{{SourceID: "lbf", AmountOre: 9_000_000},
				{SourceID: "viborg-kommune", AmountOre: 4_000_000}})
			mustPhase(t, "completed", "completed")(in, err)
			if in.Closeout == nil || in.Closeout.ReturnOre != 1_000_000 {
				t.Fatalf("close-out %+v, want 10.000 kr. back", in.Closeout)
			}
			return in.ID
		}},
	}
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			var e *env
			if p.workerProxy {
				e = newEnvWithWorkerProxy(t, p.opts)
			} else {
				e = newEnv(t, p.opts)
			}
			id := p.drive(t, e)
			c := e.ts.GetDefaultClient()
			hist := history(t, c, workflows.InitiativeWorkflowID(id))
			r := worker.NewWorkflowReplayer()
			hpworker.RegisterWorkflows(r)
			if err := r.ReplayWorkflowHistory(nil, hist); err != nil {
				t.Fatalf("replay: %v", err)
			}
			if *updateHistories {
				b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(hist)
				if err != nil {
					t.Fatal(err)
				}
				path := filepath.Join("..", "workflows", "testdata", "initiative_"+p.name+".json")
				if _, err := os.Stat(path); err == nil {
					t.Logf("kept %s: a recorded history is never rewritten (README: versioning)", path)
					return
				}
				if err := os.WriteFile(path, b, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("wrote %s (%d events, %d bytes)", path, len(hist.Events), len(b))
			}
		})
	}
}

// json2map turns a struct into the map its JSON has, so fields can be added to a request body.
func json2map(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

func propose(t *testing.T, e *env, p lifecycle.Proposal) lifecycle.Initiative {
	t.Helper()
	in, err := e.driver.Propose(context.Background(), p)
	if err != nil {
		t.Fatalf("propose %q: %v", p.Title, err)
	}
	return in
}

func complete(t *testing.T, e *env, in lifecycle.Initiative) {
	t.Helper()
	if _, err := e.driver.Complete(context.Background(), in, 1000); err != nil {
		t.Fatalf("complete %s: %v", in.ID, err)
	}
}

func mustPhase(t *testing.T, what, want string) func(lifecycle.Initiative, error) {
	t.Helper()
	return func(in lifecycle.Initiative, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if in.Phase != want {
			t.Fatalf("%s: phase %s, want %s", what, in.Phase, want)
		}
	}
}

func history(t *testing.T, c client.Client, workflowID string) *historypb.History {
	t.Helper()
	it := c.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, ev)
	}
	return h
}
