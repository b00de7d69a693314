package api

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/helhedsplan/helhedsplan/activities"
	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/workflows"
)

// TemporalWorkflows implements Workflows with a Temporal client. It turns Temporal's errors into the API's
// vocabulary (domain.RuleError, store.ErrNotFound, store.ErrConflict, ErrUnavailable, ErrStillRunning) so the error
// handler never sees a Temporal type.
type TemporalWorkflows struct {
	c client.Client
	// namespace is the one c was dialed for; "" when the caller did not say (NewTemporalWorkflows).
	namespace string
}

// NewTemporalWorkflowsIn returns Workflows backed by c, which was dialed for namespace; Ready checks that this
// namespace exists. The caller owns c and closes it.
func NewTemporalWorkflowsIn(c client.Client, namespace string) *TemporalWorkflows {
	return &TemporalWorkflows{c: c, namespace: namespace}
}

// NewTemporalWorkflows returns Workflows backed by c without naming c's namespace (the client does not tell):
// Ready then checks the namespace indirectly, by describing the initiative task queue, which the server refuses
// with NamespaceNotFound in a namespace it does not know. Prefer NewTemporalWorkflowsIn. The caller owns c.
func NewTemporalWorkflows(c client.Client) *TemporalWorkflows { return &TemporalWorkflows{c: c} }

// updateRejectedByClosedWorkflow is the ApplicationError type the server gives an update that was accepted but
// could not finish because the workflow completed first (server: AcceptedUpdateCompletedWorkflowFailure).
const updateRejectedByClosedWorkflow = "AcceptedUpdateCompletedWorkflow"

// Start starts the initiative workflow and waits, through the sync update, until its first transition is
// recorded, so the caller can read the initiative from the read model. Start and update travel as one
// update-with-start request: one round trip, and the server hands the worker both in the first workflow task.
func (t *TemporalWorkflows) Start(ctx context.Context, in workflows.StartInput) (workflows.UpdateResult, error) {
	op := t.c.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID:        workflows.InitiativeWorkflowID(in.InitiativeID),
		TaskQueue: workflows.TaskQueue,
		// A second start for the same initiative is an error, never a silent attach to the first.
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}, workflows.InitiativeWorkflowName, in)
	h, err := t.c.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: op,
		UpdateOptions: client.UpdateWorkflowOptions{
			WorkflowID:   workflows.InitiativeWorkflowID(in.InitiativeID),
			UpdateName:   workflows.UpdateSync,
			WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
	var out workflows.UpdateResult
	if err == nil {
		err = h.Get(ctx, &out)
	}
	if err != nil {
		return workflows.UpdateResult{}, translateTemporalError(err, false)
	}
	return out, nil
}

// Update runs the named update and waits for its result. An empty updateID lets the SDK pick one.
func (t *TemporalWorkflows) Update(ctx context.Context, initiativeID, updateName, updateID string, arg any) (workflows.UpdateResult, error) {
	wfID := workflows.InitiativeWorkflowID(initiativeID)
	var args []any
	if arg != nil {
		args = []any{arg}
	}
	h, err := t.c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   wfID,
		UpdateID:     updateID,
		UpdateName:   updateName,
		Args:         args,
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var out workflows.UpdateResult
	if err == nil {
		err = h.Get(ctx, &out)
	}
	if err == nil {
		return out, nil
	}
	return workflows.UpdateResult{}, translateTemporalError(err, t.closed(ctx, wfID, err))
}

// closed reports whether a NotFound from an update means "the workflow has completed". The server answers both
// an unknown workflow and a completed one with serviceerror.NotFound and tells them apart only in the message
// text, so instead of matching that text we ask the server for the execution's status.
func (t *TemporalWorkflows) closed(ctx context.Context, wfID string, err error) bool {
	var nf *serviceerror.NotFound
	if !errors.As(err, &nf) {
		return false
	}
	resp, derr := t.c.DescribeWorkflowExecution(ctx, wfID, "")
	if derr != nil {
		return false
	}
	st := resp.GetWorkflowExecutionInfo().GetStatus()
	return st != enumspb.WORKFLOW_EXECUTION_STATUS_UNSPECIFIED && st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
}

// Ready checks that the Temporal frontend answers and that the namespace exists (and is not being deleted): a
// frontend that answers for no namespace of ours fails every request. A missing namespace wraps
// ErrNamespaceNotFound.
func (t *TemporalWorkflows) Ready(ctx context.Context) error {
	if _, err := t.c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return fmt.Errorf("temporal health check: %w", err)
	}
	var nsNotFound *serviceerror.NamespaceNotFound
	if t.namespace == "" {
		_, err := t.c.DescribeTaskQueue(ctx, workflows.TaskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
		if errors.As(err, &nsNotFound) {
			return fmt.Errorf("%w: the client's namespace: %w", ErrNamespaceNotFound, err)
		}
		if err != nil {
			return fmt.Errorf("temporal: describe task queue %s: %w", workflows.TaskQueue, err)
		}
		return nil
	}
	resp, err := t.c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: t.namespace})
	if errors.As(err, &nsNotFound) {
		return fmt.Errorf("%w: %s: %w", ErrNamespaceNotFound, t.namespace, err)
	}
	if err != nil {
		return fmt.Errorf("temporal: describe namespace %s: %w", t.namespace, err)
	}
	if st := resp.GetNamespaceInfo().GetState(); st != enumspb.NAMESPACE_STATE_REGISTERED {
		return fmt.Errorf("%w: %s is %s", ErrNamespaceNotFound, t.namespace, st)
	}
	return nil
}

// errInitiativeClosed answers an action on an initiative whose workflow has ended (rejected, withdrawn or
// completed): nothing more can happen to it.
func errInitiativeClosed() *domain.RuleError {
	return domain.Refuse(domain.CodeWrongPhase, "Indsatsen er afsluttet, så handlingen kan ikke udføres.")
}

// translateTemporalError maps an error from the Temporal client to the API's vocabulary. workflowClosed says that
// the workflow exists but has completed (see TemporalWorkflows.closed). Errors it does not know are wrapped
// unchanged and become a 500.
func translateTemporalError(err error, workflowClosed bool) error {
	if err == nil {
		return nil
	}
	var (
		appErr   *temporal.ApplicationError
		started  *serviceerror.WorkflowExecutionAlreadyStarted
		notFound *serviceerror.NotFound
		timeout  *client.WorkflowUpdateServiceTimeoutOrCanceledError
		deadline *serviceerror.DeadlineExceeded
		unavail  *serviceerror.Unavailable
		exhaust  *serviceerror.ResourceExhausted
		notReady *serviceerror.WorkflowNotReady
	)
	switch {
	case errors.As(err, &appErr):
		if re, ok := activities.AsRuleError(appErr); ok {
			return re
		}
		if appErr.Type() == updateRejectedByClosedWorkflow {
			return errInitiativeClosed()
		}
		return fmt.Errorf("workflow failed (type %q): %w", appErr.Type(), err)
	case errors.As(err, &started):
		return fmt.Errorf("%w: initiative workflow already started: %w", store.ErrConflict, err)
	case errors.As(err, &notFound):
		if workflowClosed {
			return errInitiativeClosed()
		}
		return fmt.Errorf("%w: initiative workflow: %w", store.ErrNotFound, err)
	case errors.As(err, &timeout), errors.As(err, &deadline), errors.As(err, &notReady),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		// The request ran out of time while the update waited (for its write, usually): it goes on in the
		// workflow, and a retry with the same update ID attaches to it.
		return fmt.Errorf("%w: %w: temporal: %w", ErrStillRunning, ErrUnavailable, err)
	case errors.As(err, &unavail), errors.As(err, &exhaust):
		return fmt.Errorf("%w: temporal: %w", ErrUnavailable, err)
	}
	return fmt.Errorf("temporal: %w", err)
}
