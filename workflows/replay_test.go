package workflows_test

import (
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/worker"

	hpworker "github.com/helhedsplan/helhedsplan/worker"
)

// TestRecordedHistoriesReplay replays histories recorded from real runs (go test ./e2e -run
// TestCompletedHistoryReplaysWithTheCurrentCode -update-histories) with the current workflow code. A change that
// would break running workflows — reordered activities, a new command in an old path — fails here; such a change
// needs workflow.GetVersion or worker versioning.
func TestRecordedHistoriesReplay(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no recorded histories in testdata/")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			hpworker.RegisterWorkflows(r)
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
				t.Fatalf("replay %s: %v", f, err)
			}
		})
	}
}
