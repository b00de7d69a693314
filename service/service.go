package service

import (
	"context"
	"errors"
	"log/slog"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/workflows"
)

// ErrUnavailable marks a dependency (Temporal) that is down or refused for load; callers answer "try again soon"
// (the API: 503 with Retry-After) and the user may retry (with the same idempotency key for actions).
var ErrUnavailable = errors.New("dependency unavailable")

// ErrStillRunning marks a workflow update that was sent but had not completed when the request ran out of time,
// typically because its write waits for the database. The update goes on in the workflow: the same request with the
// same Idem attaches to it (same update ID) and gets its result. Errors wrapping it also wrap ErrUnavailable.
var ErrStillRunning = errors.New("workflow update still running")

// ErrReadModelBehind means an update completed but the read model does not yet hold its version. The workflow
// writes before it answers, so this should not happen; if it does, the service reports it rather than answer with
// an initiative older than the action the user is told succeeded.
var ErrReadModelBehind = errors.New("read model is behind the workflow")

// Store is what the service reads from the read model (implemented by *store.Store). Lookups of something that
// does not exist return an error wrapping store.ErrNotFound.
type Store interface {
	ListPlans(ctx context.Context, planIDs []string) ([]domain.Plan, error)
	GetPlan(ctx context.Context, id string) (domain.Plan, error)
	Budget(ctx context.Context, planID string) (store.Budget, error)
	// Available is what each funding source of the plan has left that is not reserved, released or paid.
	Available(ctx context.Context, planID string) (map[string]domain.Money, error)
	GetInitiative(ctx context.Context, id string) (domain.Initiative, error)
	// ListInitiatives returns one page and the cursor of the next ("" on the last page).
	ListInitiatives(ctx context.Context, f store.InitiativeFilter) ([]store.InitiativeSummary, string, error)
	ListEvents(ctx context.Context, initiativeID string, afterSeq int64, limit int) ([]store.Event, error)
	// ListDisbursements returns one page and the cursor of the next ("" on the last page).
	ListDisbursements(ctx context.Context, f store.DisbursementFilter) ([]store.Disbursement, string, error)
	GetDisbursement(ctx context.Context, id string) (store.Disbursement, error)
}

// Workflows is what the service needs of Temporal (implemented by *api.TemporalWorkflows). Refusals come back as
// *domain.RuleError; an unknown initiative as store.ErrNotFound; a second start of the same initiative as
// store.ErrConflict; Temporal down as ErrUnavailable; an update still running when ctx ends as ErrStillRunning.
// Results are small (workflows.UpdateResult): the service reads the initiative itself from the read model, which
// holds at least the result's Version once the workflow has answered.
type Workflows interface {
	// Start starts the initiative workflow and returns once its first transition is recorded.
	Start(ctx context.Context, in workflows.StartInput) (workflows.UpdateResult, error)
	// Update runs a workflow update (name from workflows.Update*) and waits for it to complete. The same
	// updateID twice runs the update once and answers both.
	Update(ctx context.Context, initiativeID, updateName, updateID string, arg any) (workflows.UpdateResult, error)
}

// Service carries out what signed-in users read and do. It is safe for concurrent use.
type Service struct {
	st  Store
	wf  Workflows
	log *slog.Logger
}

// New returns the service over the read model st and the workflows wf. A nil log discards logs.
func New(st Store, wf Workflows, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{st: st, wf: wf, log: log}
}
