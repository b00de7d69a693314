// Package worker registers the initiative workflow and its activities on a Temporal worker. Both the worker role
// and dev mode use it, so what runs in dev is what runs in production.
package worker

import (
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/helhedsplan/helhedsplan/activities"
	"github.com/helhedsplan/helhedsplan/workflows"
)

// Options tune the worker. Zero values take the SDK's defaults.
type Options struct {
	MaxConcurrentActivities int
	MaxConcurrentWorkflows  int
}

// New returns a worker on workflows.TaskQueue with the initiative workflow and acts registered. The caller
// starts and stops it.
func New(c client.Client, acts *activities.Activities, o Options) worker.Worker {
	w := worker.New(c, workflows.TaskQueue, worker.Options{
		MaxConcurrentActivityExecutionSize:     o.MaxConcurrentActivities,
		MaxConcurrentWorkflowTaskExecutionSize: o.MaxConcurrentWorkflows,
	})
	Register(w, acts)
	return w
}

// Register adds the workflow and activities to a worker (or a test environment's registry).
func Register(r worker.Registry, acts *activities.Activities) {
	RegisterWorkflows(r)
	r.RegisterActivity(acts)
}

// RegisterWorkflows adds the workflows alone, e.g. to a replayer checking recorded histories.
func RegisterWorkflows(r worker.WorkflowRegistry) {
	r.RegisterWorkflowWithOptions(workflows.Initiative, workflow.RegisterOptions{Name: workflows.InitiativeWorkflowName})
}
