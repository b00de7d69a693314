// Package activities holds the side effects of the initiative workflow: every write to PostgreSQL (read model,
// event log, ledger, disbursements, outbox). Each activity is one database transaction that is safe to run twice:
// its idempotency key is the initiative's event sequence number (for transitions) and derived ledger and
// disbursement keys (for money), so a retry after a crash finds the first run's rows and writes nothing new.
package activities

import (
	"context"
	"errors"

	"go.temporal.io/sdk/temporal"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

// Store is what the activities write to (implemented by *store.Store).
type Store interface {
	RecordTransition(ctx context.Context, t store.Transition) error
	Reserve(ctx context.Context, in store.ReserveInput) error
	Release(ctx context.Context, in store.ReleaseInput) error
	ConfirmPayment(ctx context.Context, in store.PayInput) error
}

// Faults lets a test inject failures at points a real crash could hit. Production leaves it nil.
type Faults interface {
	// AfterRelease runs after a tranche release has committed and before the activity reports completion:
	// the moment at which a killed worker leaves Temporal believing the release never happened.
	AfterRelease(ctx context.Context, in store.ReleaseInput)
}

// Activities are the initiative workflow's side effects. Workflows call them through a nil *Activities.
type Activities struct {
	Store  Store
	Faults Faults
}

// RecordTransition writes an initiative's new state and its event.
func (a *Activities) RecordTransition(ctx context.Context, t store.Transition) error {
	return classify(a.Store.RecordTransition(ctx, t))
}

// Reserve reserves an approved initiative's budget against the plan's funding sources and records the approval.
func (a *Activities) Reserve(ctx context.Context, in store.ReserveInput) error {
	return classify(a.Store.Reserve(ctx, in))
}

// ReleaseTranche creates the pending disbursement for a tranche, queues the finance notification and records
// the release.
func (a *Activities) ReleaseTranche(ctx context.Context, in store.ReleaseInput) error {
	if err := a.Store.Release(ctx, in); err != nil {
		return classify(err)
	}
	if a.Faults != nil {
		a.Faults.AfterRelease(ctx, in)
	}
	return nil
}

// ConfirmPayment marks a disbursement paid and records it.
func (a *Activities) ConfirmPayment(ctx context.Context, in store.PayInput) error {
	return classify(a.Store.ConfirmPayment(ctx, in))
}

// classify turns business-rule refusals into non-retryable application errors that carry the RuleError, so the
// workflow can hand the user the same code and Danish message. Anything else (a lost connection, a timeout) is
// returned as is and retried by Temporal.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var rule *domain.RuleError
	if errors.As(err, &rule) {
		return RuleApplicationError(rule)
	}
	if errors.Is(err, store.ErrNotFound) {
		return RuleApplicationError(domain.Refuse(domain.CodeNotFound, "Findes ikke: %v", err))
	}
	return err
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
