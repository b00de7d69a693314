package e2e

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/helhedsplan/helhedsplan/internal/lifecycle"
	"github.com/helhedsplan/helhedsplan/internal/stack"
	hpworker "github.com/helhedsplan/helhedsplan/worker"
	"github.com/helhedsplan/helhedsplan/workflows"
)

var updateHistories = flag.Bool("update-histories", false, "write the completed history to workflows/testdata for the replay test")

// TestCompletedHistoryReplaysWithTheCurrentCode takes an initiative through a full lifecycle on the real server
// and replays its history with the workflow code as it is now: a non-deterministic change fails here. With
// -update-histories it also records the history for workflows' replay test, which guards later changes.
func TestCompletedHistoryReplaysWithTheCurrentCode(t *testing.T) {
	e := newEnv(t, stack.Options{})
	ctx := context.Background()
	in, err := e.driver.Propose(ctx, lifecycle.Sample("Genafspilning", 2, 5_000_000, 2_000_000))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.driver.Complete(ctx, in, 1000); err != nil {
		t.Fatal(err)
	}
	hist := history(t, e.ts.GetDefaultClient(), workflows.InitiativeWorkflowID(in.ID))
	if n := len(hist.Events); n < 40 {
		t.Fatalf("history has %d events; a full lifecycle has more", n)
	}

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
		path := filepath.Join("..", "workflows", "testdata", "initiative_completed.json")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d events)", path, len(hist.Events))
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
