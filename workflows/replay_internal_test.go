package workflows

import (
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/helhedsplan/helhedsplan/domain"
)

// corpus is every recorded history in testdata/. They are recorded from real runs on the embedded Temporal
// server, one for each path an initiative can take (go test ./e2e -run TestEveryPathReplays -update-histories).
func corpus(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no recorded histories in testdata/")
	}
	return files
}

func replay(t *testing.T, file string) error {
	t.Helper()
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(Initiative, workflow.RegisterOptions{Name: InitiativeWorkflowName})
	return r.ReplayWorkflowHistoryFromJSONFile(nil, file)
}

// TestRecordedHistoriesReplay replays every recorded history with the current workflow code. A change that would
// break running workflows — reordered activities, a new command in an old path — fails here; such a change needs
// a workflow.GetVersion patch (see the README's versioning policy).
func TestRecordedHistoriesReplay(t *testing.T) {
	for _, f := range corpus(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if err := replay(t, f); err != nil {
				t.Fatalf("replay %s: %v", f, err)
			}
		})
	}
}

// TestRecordedHistoriesReplayAfterARuleChange replays the corpus as a later release would whose rules refuse
// everything the recorded runs were allowed to do. The histories must replay unchanged: each verdict was
// recorded when it was given, and replay reads it instead of asking the rules again.
func TestRecordedHistoriesReplayAfterARuleChange(t *testing.T) {
	ruleChange = func(verdict) verdict {
		return verdict{Refusal: domain.Refuse(domain.CodeValidation, "Strengere regel i en senere version.")}
	}
	t.Cleanup(func() { ruleChange = nil })
	for _, f := range corpus(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if err := replay(t, f); err != nil {
				t.Fatalf("replay %s under stricter rules: %v", f, err)
			}
		})
	}
}
