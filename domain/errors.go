package domain

import (
	"fmt"
	"strings"
)

// Code is a stable, machine-readable reason why an action was refused. The API turns codes into problem+json
// types and HTTP statuses; clients may match on them.
type Code string

// Codes for refused actions.
const (
	CodeValidation        Code = "validation_failed"  // the input breaks a rule; Problems says which fields
	CodeWrongPhase        Code = "wrong_phase"        // the initiative is not in a phase that allows the action
	CodeForbidden         Code = "forbidden"          // the actor's role or identity may not do this
	CodeUnknownMilestone  Code = "unknown_milestone"  // no such milestone, or not the one whose turn it is
	CodeInsufficientFunds Code = "insufficient_funds" // a funding source has less uncommitted money than asked
	CodeAlreadyPaid       Code = "already_paid"       // the tranche was paid with another reference
	CodeNotFound          Code = "not_found"
	CodeConflict          Code = "conflict"
	// CodeFrameExceeded: the reservation would take a delaftale's reserved money above its budget frame.
	CodeFrameExceeded Code = "frame_exceeded"
	// CodeCofinancing: the reservation would lower the plan's approved budget's local co-financing share below the
	// plan's minimum (see CofinancingRefused).
	CodeCofinancing Code = "cofinancing_below_minimum"
	// CodeYearCommitmentExceeded: the reservation would plan more of a funding source's money for a year than the
	// source's commitment for that year.
	CodeYearCommitmentExceeded Code = "year_commitment_exceeded"
	// CodeStatementOverdue: new tranche releases are held because the plan's annual statement for an earlier year
	// is overdue.
	CodeStatementOverdue Code = "annual_statement_overdue"
)

// Known reports whether c is one of the codes above.
func (c Code) Known() bool {
	switch c {
	case CodeValidation, CodeWrongPhase, CodeForbidden, CodeUnknownMilestone, CodeInsufficientFunds,
		CodeAlreadyPaid, CodeNotFound, CodeConflict, CodeFrameExceeded, CodeCofinancing,
		CodeYearCommitmentExceeded, CodeStatementOverdue:
		return true
	}
	return false
}

// FieldProblem is one broken rule about one field of the input.
type FieldProblem struct {
	Field   string `json:"field"`   // JSON path, e.g. "milestones[1].due_date"
	Code    string `json:"code"`    // stable, e.g. "outside_plan_period"
	Message string `json:"message"` // Danish, for the user
}

// RuleError is a business rule saying no. It is never a reason to retry.
type RuleError struct {
	Code     Code           `json:"code"`
	Message  string         `json:"message"` // Danish
	Problems []FieldProblem `json:"problems,omitempty"`
}

func (e *RuleError) Error() string {
	if len(e.Problems) == 0 {
		return fmt.Sprintf("%s: %s", e.Code, e.Message)
	}
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Field + ": " + p.Message
	}
	return fmt.Sprintf("%s: %s (%s)", e.Code, e.Message, strings.Join(parts, "; "))
}

// Refuse returns a RuleError with a formatted Danish message.
func Refuse(code Code, format string, args ...any) *RuleError {
	return &RuleError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// problems collects field problems; its err is nil when there are none.
type problems []FieldProblem

func (p *problems) add(field, code, format string, args ...any) {
	*p = append(*p, FieldProblem{Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
}

func (p problems) err(message string) error {
	if len(p) == 0 {
		return nil
	}
	return &RuleError{Code: CodeValidation, Message: message, Problems: p}
}
