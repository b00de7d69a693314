// Package activities holds the side effects of the initiative workflow: every write to PostgreSQL (read model,
// event log, ledger, disbursements, outbox) and the reads whose result a workflow decision depends on. Each write
// is one database transaction that is safe to run again: its idempotency keys are the initiative's event sequence
// numbers and derived ledger and disbursement keys, and a rerun checks that what it finds under those keys is what
// it would write.
//
// Errors are sorted into three kinds, because the workflow treats them differently:
//   - a business rule saying no (*domain.RuleError) is final: a non-retryable ApplicationError whose type is the
//     rule's code, so the caller gets the same Danish refusal the validator would have given;
//   - a divergence (the database holds something else under the step's keys) or data the database's own rules
//     refuse is final too, but is an operator's problem: a non-retryable ApplicationError of type TypeDivergence,
//     logged at error level and counted;
//   - everything else — PostgreSQL down, a broken connection, a serialization failure, a timeout — is retried by
//     Temporal with capped backoff for as long as it takes.
package activities

import (
	"context"
	"errors"
	"log/slog"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
	"go.temporal.io/sdk/temporal"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

// TypeDivergence is the ApplicationError type of a write that found something else stored under its keys, or
// that the database's integrity rules refused. Retrying gives the same answer; `helhedsplan doctor` explains it.
const TypeDivergence = "divergence"

// Store is what the activities read and write (implemented by *store.Store).
type Store interface {
	WriteStep(ctx context.Context, s store.Step) (store.StepResult, error)
	GetPlan(ctx context.Context, id string) (domain.Plan, error)
	GetInitiative(ctx context.Context, id string) (domain.Initiative, error)
	Available(ctx context.Context, planID string) (map[string]domain.Money, error)
}

// Faults lets a test inject failures at points a real crash could hit. Production leaves it nil.
type Faults interface {
	// AfterStep runs after a step has committed and before the activity reports completion: the moment at which
	// a killed worker or a lost answer leaves Temporal believing the step never happened. A non-nil error is
	// reported instead of success, as a broken connection would.
	AfterStep(ctx context.Context, s store.Step) error
}

// Counter counts events for operators (a prometheus.Counter fits).
type Counter interface{ Inc() }

// Activities are the initiative workflow's side effects. Workflows call them through a nil *Activities.
type Activities struct {
	Store  Store
	Faults Faults
	// Log receives divergences at error level; nil discards.
	Log *slog.Logger
	// Divergences counts writes that found something else stored; nil counts nothing.
	Divergences Counter
}

// WriteStep writes one workflow step — its transitions and the money they move — in one transaction.
func (a *Activities) WriteStep(ctx context.Context, s store.Step) (store.StepResult, error) {
	res, err := a.Store.WriteStep(ctx, s)
	if err != nil {
		return store.StepResult{}, a.classify(err, s)
	}
	if a.Faults != nil {
		if err := a.Faults.AfterStep(ctx, s); err != nil {
			return store.StepResult{}, err
		}
	}
	return res, nil
}

// PlanRules reads the plan's current rules (period, settings, funding sources, delaftaler, housing areas), so a
// decision uses the rules as they are when it is taken, not as they were when the initiative was proposed.
func (a *Activities) PlanRules(ctx context.Context, planID string) (domain.Plan, error) {
	p, err := a.Store.GetPlan(ctx, planID)
	if err != nil {
		return domain.Plan{}, a.classify(err, store.Step{})
	}
	return p.Rules(), nil
}

// Available reads what each of the plan's funding sources has left that is not reserved, so a change that asks
// for more than that is refused before the board votes on it.
func (a *Activities) Available(ctx context.Context, planID string) (map[string]domain.Money, error) {
	m, err := a.Store.Available(ctx, planID)
	if err != nil {
		return nil, a.classify(err, store.Step{})
	}
	return m, nil
}

// LoadInitiative reads an initiative as the read model holds it (used to reconcile a workflow with a step that
// committed while the workflow lost its answer).
func (a *Activities) LoadInitiative(ctx context.Context, id string) (domain.Initiative, error) {
	in, err := a.Store.GetInitiative(ctx, id)
	if err != nil {
		return domain.Initiative{}, a.classify(err, store.Step{})
	}
	return in, nil
}

// classify sorts an error into the kinds in the package comment.
func (a *Activities) classify(err error, s store.Step) error {
	var rule *domain.RuleError
	switch {
	case errors.As(err, &rule):
		return RuleApplicationError(rule)
	case store.Transient(err):
		return err
	case errors.Is(err, store.ErrNotFound):
		return RuleApplicationError(domain.Refuse(domain.CodeNotFound, "Findes ikke."))
	case errors.Is(err, store.ErrDivergence), integrityViolation(err):
		if a.Log != nil {
			a.Log.Error("Write diverges from what is stored; not retried", "error", err, "step", stepName(s))
		}
		if a.Divergences != nil {
			a.Divergences.Inc()
		}
		return temporal.NewNonRetryableApplicationError(err.Error(), TypeDivergence, err)
	}
	return err
}

// integrityViolation reports an error of PostgreSQL's class 23 (a constraint the data breaks) other than a unique
// violation, which a concurrent duplicate write can cause and a retry resolves.
func integrityViolation(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && pqErr.Code.Class() == pqerror.ClassIntegrityConstraintViolation &&
		pqErr.Code != pqerror.UniqueViolation
}

func stepName(s store.Step) string {
	for _, t := range s.Transitions {
		return t.Event.InitiativeID + "/" + t.Event.Type
	}
	switch {
	case s.Reserve != nil:
		return s.Reserve.InitiativeID + "/reserve"
	case s.Release != nil:
		return s.Release.DisbursementID + "/release"
	case s.Pay != nil:
		return s.Pay.DisbursementID + "/pay"
	case s.Cancel != nil:
		return s.Cancel.InitiativeID + "/cancel"
	case s.Closeout != nil:
		return s.Closeout.InitiativeID + "/closeout"
	}
	return ""
}

// RuleApplicationError wraps a RuleError for Temporal: the error type is the rule's code and the one detail is
// the RuleError itself. The API unwraps it with ApplicationError.Details.
func RuleApplicationError(rule *domain.RuleError) error {
	return temporal.NewApplicationErrorWithOptions(rule.Message, string(rule.Code), temporal.ApplicationErrorOptions{
		NonRetryable: true,
		Details:      []any{*rule},
	})
}

// AsRuleError recovers the RuleError from an error produced by RuleApplicationError, wherever it was wrapped
// (an activity error inside the workflow, an update error at the client). An application error without the detail
// but whose type is a known domain.Code still counts, with its message.
func AsRuleError(err error) (*domain.RuleError, bool) {
	var direct *domain.RuleError
	if errors.As(err, &direct) {
		return direct, true
	}
	var app *temporal.ApplicationError
	if !errors.As(err, &app) {
		return nil, false
	}
	var rule domain.RuleError
	if app.HasDetails() && decodeDetail(app, &rule) && rule.Code != "" {
		return &rule, true
	}
	if code := domain.Code(app.Type()); code.Known() {
		return &domain.RuleError{Code: code, Message: app.Message()}, true
	}
	return nil, false
}

// decodeDetail reads the first detail. Details that crossed the wire decode from JSON; details still held as Go
// values (in-process test environments) are assigned by reflection, which panics on a type mismatch — a wrong
// detail must not take a request or a workflow task down, so that is recovered as "no detail".
func decodeDetail(app *temporal.ApplicationError, into *domain.RuleError) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return app.Details(into) == nil
}
