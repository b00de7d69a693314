package e2e

import (
	"context"
	"net"
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/helhedsplan/helhedsplan/devstack"
	"github.com/helhedsplan/helhedsplan/internal/apiclient"
	"github.com/helhedsplan/helhedsplan/internal/lifecycle"
	"github.com/helhedsplan/helhedsplan/internal/stack"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
)

// TestDevStackRestartKeepsInitiativesAndOpenWorkflowsContinue is what stopping `helhedsplan dev` mid-lifecycle
// does: the embedded Temporal server (persisted to its SQLite file), the worker and the API all stop; on the next
// start the approved initiative is still there and its workflow goes on to completion.
func TestDevStackRestartKeepsInitiativesAndOpenWorkflowsContinue(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	st := dbtest.New(t)
	port := freePort(t)

	start := func() (*devstack.Temporal, client.Client, *stack.Stack, *lifecycle.Driver) {
		t.Helper()
		cfg := devstack.DefaultTemporalConfig(dataDir)
		cfg.FrontendPort, cfg.UIPort = port, 0
		temporal, err := devstack.StartTemporal(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		c, err := client.DialContext(ctx, client.Options{HostPort: temporal.FrontendAddr(), Namespace: temporal.Namespace()})
		if err != nil {
			t.Fatal(err)
		}
		s, err := stack.Start(ctx, c, st, stack.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return temporal, c, s, &lifecycle.Driver{API: &apiclient.Client{BaseURL: s.URL}, Tokens: lifecycle.Tokens{
			OperationalGroup: s.Tokens["og-mette"], Board: s.Tokens["bs-hanne"], OtherBoard: []string{s.Tokens["bs-lars"], s.Tokens["bs-sofie"]}, Finance: s.Tokens["fin-peter"]}}
	}
	stop := func(temporal *devstack.Temporal, c client.Client, s *stack.Stack) {
		t.Helper()
		s.Close()
		c.Close()
		if err := temporal.Stop(); err != nil {
			t.Fatalf("stop temporal: %v", err)
		}
	}

	temporal, c, s, d := start()
	in, err := d.Propose(ctx, lifecycle.Sample("Overlever genstart", 2, 3_000_000, 1_000_000))
	if err != nil {
		t.Fatal(err)
	}
	// The seeded board of three decides by majority: the chair's vote and a second settle it.
	for _, tok := range []string{d.Tokens.Board, d.Tokens.OtherBoard[0]} {
		if in, err = d.Act(ctx, in.ID, "/decision", "", tok, map[string]string{"outcome": "approve"}); err != nil {
			t.Fatal(err)
		}
	}
	if in.Phase != "funding" {
		t.Fatalf("after two approvals: phase %s, want funding", in.Phase)
	}
	if err := d.Confirm(ctx, in.Milestones[0].DisbursementID, "BANK-FØR"); err != nil {
		t.Fatal(err)
	}
	stop(temporal, c, s)

	temporal, c, s, d = start()
	defer stop(temporal, c, s)
	got, err := d.Get(ctx, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Phase != "executing" || got.Milestones[0].PaymentReference != "BANK-FØR" {
		t.Fatalf("after restart: %+v, want executing with tranche 1 paid", got)
	}
	if _, err := d.Act(ctx, in.ID, "/milestones/1/report", "", d.Tokens.OperationalGroup, map[string]any{"summary": "Efter genstart", "spent_ore": 100}); err != nil {
		t.Fatal(err)
	}
	after, err := d.Act(ctx, in.ID, "/milestones/1/accept", "", d.Tokens.Board, map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if after.Phase != "funding" || after.Milestones[1].TrancheStatus != "released" {
		t.Fatalf("after accepting milestone 1: %+v", after)
	}
	// Eight steps (submitted, a ballot, approved, released, paid, reported, accepted, released) and, as the report
	// was due in 2022, its escalation: a gapless log.
	var log struct {
		All   int `db:"all_events"`
		Steps int `db:"steps"`
		Max   int `db:"max_seq"`
	}
	if err := st.DB().Get(&log, `SELECT count(*) AS all_events, max(seq) AS max_seq,
		       count(*) FILTER (WHERE type NOT IN ('reminder_sent', 'escalated')) AS steps
		FROM initiative_events WHERE initiative_id = $1`, in.ID); err != nil || log.Steps != 8 || log.Max != log.All {
		t.Fatalf("events %+v (%v), want 8 steps and no gaps", log, err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
