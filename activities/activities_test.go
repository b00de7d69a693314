package activities

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

type stubStore struct{ err error }

func (s stubStore) RecordTransition(context.Context, store.Transition) error { return s.err }
func (s stubStore) Reserve(context.Context, store.ReserveInput) error        { return s.err }
func (s stubStore) Release(context.Context, store.ReleaseInput) error        { return s.err }
func (s stubStore) ConfirmPayment(context.Context, store.PayInput) error     { return s.err }

type countFaults struct{ n int }

func (c *countFaults) AfterRelease(context.Context, store.ReleaseInput) { c.n++ }

func TestErrorsAreClassifiedForRetries(t *testing.T) {
	funds := domain.Refuse(domain.CodeInsufficientFunds, "Der er ikke penge nok")
	tests := []struct {
		name        string
		storeErr    error
		wantRetry   bool
		wantCode    domain.Code
		wantNoError bool
	}{
		{name: "success_is_nil", wantNoError: true},
		{name: "rule_refusal_is_final_and_keeps_its_code", storeErr: fmt.Errorf("reserve: %w", funds), wantCode: domain.CodeInsufficientFunds},
		{name: "missing_row_is_final_not_found", storeErr: fmt.Errorf("disbursement x: %w", store.ErrNotFound), wantCode: domain.CodeNotFound},
		{name: "lost_connection_is_retried", storeErr: errors.New("read tcp: connection reset by peer"), wantRetry: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := &Activities{Store: stubStore{err: tc.storeErr}}
			err := a.Reserve(context.Background(), store.ReserveInput{})
			if tc.wantNoError {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			var app *temporal.ApplicationError
			isApp := errors.As(err, &app)
			if tc.wantRetry {
				if isApp && app.NonRetryable() {
					t.Fatalf("a transient error was made final: %v", err)
				}
				return
			}
			if !isApp || !app.NonRetryable() || app.Type() != string(tc.wantCode) {
				t.Fatalf("err = %v, want a non-retryable %s", err, tc.wantCode)
			}
			rule, ok := AsRuleError(err)
			if !ok || rule.Code != tc.wantCode || rule.Message == "" {
				t.Fatalf("AsRuleError = %+v, %v", rule, ok)
			}
		})
	}
}

func TestFaultHookRunsOnlyAfterACommittedRelease(t *testing.T) {
	f := &countFaults{}
	ok := &Activities{Store: stubStore{}, Faults: f}
	if err := ok.ReleaseTranche(context.Background(), store.ReleaseInput{}); err != nil || f.n != 1 {
		t.Fatalf("err %v, hook ran %d times; want once after a successful release", err, f.n)
	}
	failed := &Activities{Store: stubStore{err: errors.New("db down")}, Faults: f}
	if err := failed.ReleaseTranche(context.Background(), store.ReleaseInput{}); err == nil || f.n != 1 {
		t.Fatalf("err %v, hook ran %d times; want no hook after a failed release", err, f.n)
	}
}
