package api

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	enumspb "go.temporal.io/api/enums/v1"
	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/grpc"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/workflows"
)

// overTheWire sends err through Temporal's failure converter and back, as an update rejection travels from the
// worker through the server to the client.
func overTheWire(err error) error {
	fc := temporal.GetDefaultFailureConverter()
	return fc.FailureToError(fc.ErrorToFailure(err))
}

func ruleAppError(re domain.RuleError) error {
	return temporal.NewApplicationErrorWithOptions(re.Message, string(re.Code),
		temporal.ApplicationErrorOptions{NonRetryable: true, Details: []any{re}})
}

func TestTranslateTemporalError(t *testing.T) {
	validation := domain.RuleError{Code: domain.CodeValidation, Message: "Rapporten kan ikke modtages.",
		Problems: []domain.FieldProblem{{Field: "spent_ore", Code: "exceeds_paid", Message: "Samlet forbrug overstiger det udbetalte."}}}
	closed := &domain.RuleError{Code: domain.CodeWrongPhase, Message: "Indsatsen er afsluttet, så handlingen kan ikke udføres."}

	type want struct {
		rule        *domain.RuleError
		sentinel    error // errors.Is target, nil for none
		unavailable bool
		running     bool // the update may still complete: ErrStillRunning
	}
	tests := []struct {
		name   string
		err    error
		closed bool
		want   want
	}{
		{name: "rule_error_detail_over_the_wire_becomes_rule_error", err: overTheWire(ruleAppError(validation)),
			want: want{rule: &validation}},
		{name: "rule_error_detail_in_process_becomes_rule_error", err: ruleAppError(validation), want: want{rule: &validation}},
		{name: "each_code_survives_the_wire", err: overTheWire(ruleAppError(domain.RuleError{Code: domain.CodeAlreadyPaid, Message: "Betalt."})),
			want: want{rule: &domain.RuleError{Code: domain.CodeAlreadyPaid, Message: "Betalt."}}},
		{name: "wrapped_application_error_is_found", err: fmt.Errorf("update: %w", overTheWire(ruleAppError(validation))),
			want: want{rule: &validation}},
		{name: "domain_type_without_detail_uses_message",
			err:  overTheWire(temporal.NewApplicationError("Kun bestyrelse kan godkende.", string(domain.CodeForbidden))),
			want: want{rule: &domain.RuleError{Code: domain.CodeForbidden, Message: "Kun bestyrelse kan godkende."}}},
		{name: "frame_exceeded_without_detail_uses_message",
			err:  overTheWire(temporal.NewApplicationError("Delaftalen Beskæftigelse har en ramme på 1,00 kr.", string(domain.CodeFrameExceeded))),
			want: want{rule: &domain.RuleError{Code: domain.CodeFrameExceeded, Message: "Delaftalen Beskæftigelse har en ramme på 1,00 kr."}}},
		{name: "cofinancing_survives_the_wire", err: overTheWire(ruleAppError(domain.RuleError{Code: domain.CodeCofinancing, Message: "For lidt lokalt."})),
			want: want{rule: &domain.RuleError{Code: domain.CodeCofinancing, Message: "For lidt lokalt."}}},
		{name: "detail_of_wrong_go_type_falls_back_to_type_and_message",
			err: temporal.NewApplicationErrorWithOptions("Forkert fase.", string(domain.CodeWrongPhase),
				temporal.ApplicationErrorOptions{Details: []any{"not a RuleError"}}),
			want: want{rule: &domain.RuleError{Code: domain.CodeWrongPhase, Message: "Forkert fase."}}},
		{name: "accepted_update_cut_off_by_completion_is_wrong_phase",
			err:  overTheWire(temporal.NewNonRetryableApplicationError("Workflow Update failed because the Workflow completed before the Update completed.", updateRejectedByClosedWorkflow, nil)),
			want: want{rule: closed}},
		{name: "unknown_application_error_is_internal", err: overTheWire(temporal.NewApplicationError("boom", "PanicError")),
			want: want{}},
		{name: "already_started_is_conflict",
			err:  serviceerror.NewWorkflowExecutionAlreadyStarted("Workflow execution is already running", "req", "run"),
			want: want{sentinel: store.ErrConflict}},
		{name: "not_found_of_unknown_workflow_is_not_found", err: serviceerror.NewNotFound("workflow execution not found"),
			want: want{sentinel: store.ErrNotFound}},
		{name: "not_found_of_completed_workflow_is_wrong_phase", err: serviceerror.NewNotFound("workflow execution already completed"),
			closed: true, want: want{rule: closed}},
		{name: "update_wait_timeout_is_still_running",
			err:  client.NewWorkflowUpdateServiceTimeoutOrCanceledError(context.DeadlineExceeded),
			want: want{unavailable: true, running: true}},
		{name: "context_deadline_is_still_running", err: fmt.Errorf("start: %w", context.DeadlineExceeded),
			want: want{unavailable: true, running: true}},
		{name: "server_deadline_is_still_running", err: serviceerror.NewDeadlineExceeded("deadline"),
			want: want{unavailable: true, running: true}},
		{name: "server_unavailable_is_unavailable", err: serviceerror.NewUnavailable("frontend down"), want: want{unavailable: true}},
		{name: "rate_limited_is_unavailable",
			err:  serviceerror.NewResourceExhausted(enumspb.RESOURCE_EXHAUSTED_CAUSE_RPS_LIMIT, "slow down"),
			want: want{unavailable: true}},
		{name: "anything_else_is_internal", err: errors.New("payload codec: bad key"), want: want{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := translateTemporalError(tt.err, tt.closed)
			var re *domain.RuleError
			isRule := errors.As(got, &re)
			switch {
			case tt.want.rule != nil:
				if !isRule {
					t.Fatalf("got %v (%T), want a RuleError", got, got)
				}
				if diff := cmp.Diff(tt.want.rule, re); diff != "" {
					t.Errorf("RuleError (-want +got):\n%s", diff)
				}
			case isRule:
				t.Errorf("got RuleError %v, want none", re)
			}
			if tt.want.sentinel != nil && !errors.Is(got, tt.want.sentinel) {
				t.Errorf("got %v, want it to wrap %v", got, tt.want.sentinel)
			}
			if got := errors.Is(got, ErrUnavailable); got != tt.want.unavailable {
				t.Errorf("unavailable = %v, want %v", got, tt.want.unavailable)
			}
			if got := errors.Is(got, ErrStillRunning); got != tt.want.running {
				t.Errorf("still running = %v, want %v", got, tt.want.running)
			}
			if tt.want.unavailable {
				if cl := classify(got); cl.retryAfter == 0 || problemKinds[cl.code].status != 503 {
					t.Errorf("classified as %q with Retry-After %d, want 503 with Retry-After", cl.code, cl.retryAfter)
				}
			}
			if tt.want == (want{}) {
				if cl := classify(got); cl.code != codeInternal {
					t.Errorf("classified as %q, want internal_error", cl.code)
				}
			}
		})
	}
	if translateTemporalError(nil, false) != nil {
		t.Error("nil error translated to non-nil")
	}
}

// fakeTemporal implements the few client.Client methods TemporalWorkflows uses; any other call panics.
type fakeTemporal struct {
	client.Client
	startOpts    client.StartWorkflowOptions
	startName    any
	startArgs    []any
	startErr     error
	updates      []client.UpdateWorkflowOptions
	updateErr    error
	getErr       error
	result       workflows.UpdateResult
	describe     enumspb.WorkflowExecutionStatus
	describeErr  error
	describedIDs []string
	healthErr    error
	namespaces   map[string]enumspb.NamespaceState // what DescribeNamespace knows
	nsAsked      []string
	taskQueueErr error // what DescribeTaskQueue answers
	taskQueues   []string
}

func (f *fakeTemporal) CheckHealth(context.Context, *client.CheckHealthRequest) (*client.CheckHealthResponse, error) {
	if f.healthErr != nil {
		return nil, f.healthErr
	}
	return &client.CheckHealthResponse{}, nil
}

func (f *fakeTemporal) DescribeTaskQueue(_ context.Context, tq string, _ enumspb.TaskQueueType) (*workflowservice.DescribeTaskQueueResponse, error) {
	f.taskQueues = append(f.taskQueues, tq)
	if f.taskQueueErr != nil {
		return nil, f.taskQueueErr
	}
	return &workflowservice.DescribeTaskQueueResponse{}, nil
}

func (f *fakeTemporal) WorkflowService() workflowservice.WorkflowServiceClient {
	return fakeService{f: f}
}

// fakeService answers DescribeNamespace from fakeTemporal.namespaces; any other call panics.
type fakeService struct {
	workflowservice.WorkflowServiceClient
	f *fakeTemporal
}

func (s fakeService) DescribeNamespace(_ context.Context, in *workflowservice.DescribeNamespaceRequest, _ ...grpc.CallOption) (*workflowservice.DescribeNamespaceResponse, error) {
	s.f.nsAsked = append(s.f.nsAsked, in.GetNamespace())
	st, ok := s.f.namespaces[in.GetNamespace()]
	if !ok {
		return nil, serviceerror.NewNamespaceNotFound(in.GetNamespace())
	}
	return &workflowservice.DescribeNamespaceResponse{NamespaceInfo: &namespacepb.NamespaceInfo{Name: in.GetNamespace(), State: st}}, nil
}

// NewWithStartWorkflowOperation records the start; the operation itself is only handed back to
// UpdateWithStartWorkflow below, so nil serves.
func (f *fakeTemporal) NewWithStartWorkflowOperation(o client.StartWorkflowOptions, wf any, args ...any) client.WithStartWorkflowOperation {
	f.startOpts, f.startName, f.startArgs = o, wf, args
	return nil
}

func (f *fakeTemporal) UpdateWithStartWorkflow(_ context.Context, o client.UpdateWithStartWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	if f.startErr != nil {
		return nil, f.startErr
	}
	f.updates = append(f.updates, o.UpdateOptions)
	return fakeHandle{f}, nil
}

func (f *fakeTemporal) UpdateWorkflow(_ context.Context, o client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	f.updates = append(f.updates, o)
	if f.updateErr != nil {
		return nil, f.updateErr
	}
	return fakeHandle{f}, nil
}

func (f *fakeTemporal) DescribeWorkflowExecution(_ context.Context, id, _ string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	f.describedIDs = append(f.describedIDs, id)
	if f.describeErr != nil {
		return nil, f.describeErr
	}
	return &workflowservice.DescribeWorkflowExecutionResponse{
		WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{Status: f.describe}}, nil
}

type fakeHandle struct{ f *fakeTemporal }

func (h fakeHandle) WorkflowID() string { return "" }
func (h fakeHandle) RunID() string      { return "" }
func (h fakeHandle) UpdateID() string   { return "" }
func (h fakeHandle) Get(_ context.Context, v any) error {
	if h.f.getErr != nil {
		return h.f.getErr
	}
	*v.(*workflows.UpdateResult) = h.f.result
	return nil
}

func TestTemporalWorkflowsStart(t *testing.T) {
	fc := &fakeTemporal{result: workflows.UpdateResult{InitiativeID: "i1", Phase: domain.PhaseBoardReview, Version: 1}}
	wf := NewTemporalWorkflows(fc)
	in := workflows.StartInput{InitiativeID: "i1", Proposer: domain.Actor{UserID: "og-mette"}}
	got, err := wf.Start(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if got != (workflows.UpdateResult{InitiativeID: "i1", Phase: domain.PhaseBoardReview, Version: 1}) {
		t.Errorf("Start returned %+v, want the sync update's result", got)
	}
	o := fc.startOpts
	if o.ID != "initiative/i1" || o.TaskQueue != workflows.TaskQueue ||
		o.WorkflowIDConflictPolicy != enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL ||
		o.WorkflowIDReusePolicy != enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE {
		t.Errorf("start options = %+v", o)
	}
	if fc.startName != workflows.InitiativeWorkflowName || len(fc.startArgs) != 1 || !cmp.Equal(fc.startArgs[0], in, cmp.AllowUnexported(domain.Date{})) {
		t.Errorf("started %v with %v", fc.startName, fc.startArgs)
	}
	if len(fc.updates) != 1 || fc.updates[0].UpdateName != workflows.UpdateSync || fc.updates[0].WorkflowID != "initiative/i1" ||
		fc.updates[0].WaitForStage != client.WorkflowUpdateStageCompleted || len(fc.updates[0].Args) != 0 {
		t.Errorf("sync update = %+v", fc.updates)
	}

	fc = &fakeTemporal{startErr: serviceerror.NewWorkflowExecutionAlreadyStarted("running", "r", "run")}
	if _, err := NewTemporalWorkflows(fc).Start(context.Background(), in); !errors.Is(err, store.ErrConflict) || len(fc.updates) != 0 {
		t.Errorf("duplicate start: err %v, updates %d; want ErrConflict and no update", err, len(fc.updates))
	}
}

func TestTemporalWorkflowsUpdate(t *testing.T) {
	arg := workflows.DecideInput{Outcome: domain.OutcomeApprove}
	t.Run("options_and_result", func(t *testing.T) {
		fc := &fakeTemporal{result: workflows.UpdateResult{InitiativeID: "i1", Phase: domain.PhaseFunding, Version: 3}}
		got, err := NewTemporalWorkflows(fc).Update(context.Background(), "i1", workflows.UpdateDecide, "u/k", arg)
		if err != nil || got.Phase != domain.PhaseFunding {
			t.Fatalf("Update = %+v, %v", got, err)
		}
		want := client.UpdateWorkflowOptions{WorkflowID: "initiative/i1", UpdateID: "u/k", UpdateName: workflows.UpdateDecide,
			Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted}
		if diff := cmp.Diff(want, fc.updates[0], cmpopts.IgnoreUnexported(client.UpdateWorkflowOptions{})); diff != "" {
			t.Errorf("update options (-want +got):\n%s", diff)
		}
	})
	t.Run("rejection_from_validator_is_rule_error", func(t *testing.T) {
		fc := &fakeTemporal{getErr: overTheWire(ruleAppError(domain.RuleError{Code: domain.CodeWrongPhase, Message: "Forkert fase."}))}
		_, err := NewTemporalWorkflows(fc).Update(context.Background(), "i1", workflows.UpdateDecide, "", arg)
		var re *domain.RuleError
		if !errors.As(err, &re) || re.Code != domain.CodeWrongPhase || len(fc.describedIDs) != 0 {
			t.Errorf("err = %v, described %v", err, fc.describedIDs)
		}
	})
	t.Run("update_on_completed_workflow_is_wrong_phase", func(t *testing.T) {
		fc := &fakeTemporal{updateErr: serviceerror.NewNotFound("workflow execution already completed"),
			describe: enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED}
		_, err := NewTemporalWorkflows(fc).Update(context.Background(), "i1", workflows.UpdateDecide, "", arg)
		var re *domain.RuleError
		if !errors.As(err, &re) || re.Code != domain.CodeWrongPhase || re.Message != "Indsatsen er afsluttet, så handlingen kan ikke udføres." {
			t.Errorf("err = %v, want wrong_phase 'Indsatsen er afsluttet'", err)
		}
		if len(fc.describedIDs) != 1 || fc.describedIDs[0] != "initiative/i1" {
			t.Errorf("described %v", fc.describedIDs)
		}
	})
	t.Run("update_on_unknown_workflow_is_not_found", func(t *testing.T) {
		fc := &fakeTemporal{updateErr: serviceerror.NewNotFound("workflow execution not found"),
			describeErr: serviceerror.NewNotFound("workflow execution not found")}
		_, err := NewTemporalWorkflows(fc).Update(context.Background(), "i1", workflows.UpdateDecide, "", arg)
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})
}

func TestTemporalWorkflowsReady(t *testing.T) {
	registered := map[string]enumspb.NamespaceState{"helhedsplan": enumspb.NAMESPACE_STATE_REGISTERED,
		"old": enumspb.NAMESPACE_STATE_DELETED}
	tests := []struct {
		name          string
		fc            *fakeTemporal
		namespace     string // "" uses NewTemporalWorkflows
		wantErr       bool
		wantNamespace bool // the error wraps ErrNamespaceNotFound
	}{
		{name: "namespace_exists_ready", fc: &fakeTemporal{namespaces: registered}, namespace: "helhedsplan"},
		{name: "unknown_namespace_not_ready", fc: &fakeTemporal{namespaces: registered}, namespace: "helhedsplan-prod",
			wantErr: true, wantNamespace: true},
		{name: "deleted_namespace_not_ready", fc: &fakeTemporal{namespaces: registered}, namespace: "old",
			wantErr: true, wantNamespace: true},
		{name: "frontend_down_not_ready", fc: &fakeTemporal{namespaces: registered, healthErr: errors.New("connection refused")},
			namespace: "helhedsplan", wantErr: true},
		{name: "unnamed_namespace_known_to_server_ready", fc: &fakeTemporal{}},
		{name: "unnamed_namespace_unknown_to_server_not_ready",
			fc:      &fakeTemporal{taskQueueErr: serviceerror.NewNamespaceNotFound("temporaltest-1")},
			wantErr: true, wantNamespace: true},
		{name: "unnamed_namespace_frontend_failing_not_ready",
			fc: &fakeTemporal{taskQueueErr: serviceerror.NewUnavailable("down")}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wf := NewTemporalWorkflowsIn(tt.fc, tt.namespace)
			if tt.namespace == "" {
				wf = NewTemporalWorkflows(tt.fc)
			}
			err := wf.Ready(context.Background())
			if (err != nil) != tt.wantErr || errors.Is(err, ErrNamespaceNotFound) != tt.wantNamespace {
				t.Fatalf("Ready = %v; want error %v, namespace not found %v", err, tt.wantErr, tt.wantNamespace)
			}
			if tt.namespace != "" && tt.fc.healthErr == nil && (len(tt.fc.nsAsked) != 1 || tt.fc.nsAsked[0] != tt.namespace) {
				t.Errorf("described namespaces %q, want [%s]", tt.fc.nsAsked, tt.namespace)
			}
			if tt.namespace == "" && (len(tt.fc.taskQueues) != 1 || tt.fc.taskQueues[0] != workflows.TaskQueue) {
				t.Errorf("described task queues %q, want the initiative task queue", tt.fc.taskQueues)
			}
		})
	}
}
