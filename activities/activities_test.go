package activities

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/lib/pq"
	"go.temporal.io/sdk/temporal"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

type stubStore struct{ err error }

func (s stubStore) WriteStep(context.Context, store.Step) (store.StepResult, error) {
	return store.StepResult{}, s.err
}
func (s stubStore) GetPlan(context.Context, string) (domain.Plan, error) { return domain.Plan{}, s.err }
func (s stubStore) Available(context.Context, string) (map[string]domain.Money, error) {
	return nil, s.err
}
func (s stubStore) GetInitiative(context.Context, string) (domain.Initiative, error) {
	return domain.Initiative{}, s.err
}

type countFaults struct {
	n   int
	err error
}

func (c *countFaults) AfterStep(context.Context, store.Step) error { c.n++; return c.err }

type counter struct{ n int }

func (c *counter) Inc() { c.n++ }

func TestErrorsAreClassifiedForRetries(t *testing.T) {
	funds := domain.Refuse(domain.CodeInsufficientFunds, "Der er ikke penge nok")
	tests := []struct {
		name           string
		storeErr       error
		wantRetry      bool
		wantType       string
		wantDivergence bool
	}{
		{name: "success_is_nil"},
		{name: "rule_refusal_is_final_and_keeps_its_code", storeErr: fmt.Errorf("reserve: %w", funds),
			wantType: string(domain.CodeInsufficientFunds)},
		{name: "missing_row_is_final_not_found", storeErr: fmt.Errorf("disbursement x: %w", store.ErrNotFound),
			wantType: string(domain.CodeNotFound)},
		{name: "lost_connection_is_retried", storeErr: errors.New("read tcp: connection reset by peer"), wantRetry: true},
		{name: "database_unavailable_is_retried", storeErr: fmt.Errorf("begin: %w", store.ErrUnavailable), wantRetry: true},
		{name: "serialization_failure_is_retried", storeErr: &pq.Error{Code: "40001"}, wantRetry: true},
		{name: "duplicate_key_race_is_retried", storeErr: &pq.Error{Code: "23505"}, wantRetry: true},
		{name: "divergence_is_final_and_counted", storeErr: fmt.Errorf("v3: %w", store.ErrDivergence),
			wantType: TypeDivergence, wantDivergence: true},
		{name: "check_violation_is_final_and_counted", storeErr: &pq.Error{Code: "23514"},
			wantType: TypeDivergence, wantDivergence: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &counter{}
			a := &Activities{Store: stubStore{err: tc.storeErr}, Divergences: c}
			_, err := a.WriteStep(context.Background(), store.Step{})
			if tc.storeErr == nil {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			var app *temporal.ApplicationError
			isApp := errors.As(err, &app)
			if tc.wantRetry {
				if err == nil || (isApp && app.NonRetryable()) {
					t.Fatalf("a transient error was made final (or lost): %v", err)
				}
				return
			}
			if !isApp || !app.NonRetryable() || app.Type() != tc.wantType {
				t.Fatalf("err = %v, want a non-retryable %s", err, tc.wantType)
			}
			if got := c.n == 1; got != tc.wantDivergence {
				t.Errorf("divergences counted %d, want counted: %v", c.n, tc.wantDivergence)
			}
			if tc.wantDivergence {
				return
			}
			rule, ok := AsRuleError(err)
			if !ok || string(rule.Code) != tc.wantType || rule.Message == "" {
				t.Fatalf("AsRuleError = %+v, %v", rule, ok)
			}
		})
	}
}

func TestFaultHookRunsOnlyAfterACommittedStepAndCanLoseItsAnswer(t *testing.T) {
	f := &countFaults{}
	ok := &Activities{Store: stubStore{}, Faults: f}
	if _, err := ok.WriteStep(context.Background(), store.Step{}); err != nil || f.n != 1 {
		t.Fatalf("err %v, hook ran %d times; want once after a successful step", err, f.n)
	}
	failed := &Activities{Store: stubStore{err: errors.New("db down")}, Faults: f}
	if _, err := failed.WriteStep(context.Background(), store.Step{}); err == nil || f.n != 1 {
		t.Fatalf("err %v, hook ran %d times; want no hook after a failed step", err, f.n)
	}
	f.err = errors.New("connection reset after commit")
	if _, err := ok.WriteStep(context.Background(), store.Step{}); !errors.Is(err, f.err) {
		t.Fatalf("err %v, want the injected lost answer", err)
	}
}
