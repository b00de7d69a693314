// Package workflows holds the deterministic Temporal code of helhedsplan: one Initiative workflow per initiative.
// This file is the contract the API and the worker share: the task queue, the workflow, update and query names,
// the workflow ID helper and one input struct per message. No string literal for these names appears twice in
// the module.
package workflows

import (
	"github.com/helhedsplan/helhedsplan/domain"
)

// TaskQueue is the task queue the initiative worker polls.
const TaskQueue = "helhedsplan-initiatives"

// InitiativeWorkflowName is the registered name of the initiative workflow.
const InitiativeWorkflowName = "Initiative"

// Update names. Each has a validator: an action that is not allowed now is rejected before it is written to
// history, so it never fails or wedges the workflow.
const (
	UpdateSync      = "sync"      // returns once every accepted transition is recorded
	UpdateReconcile = "reconcile" // operators (doctor --repair): adopt steps the read model holds
	// UpdateDecide is a board member's vote (or the chair's decision, where the board's rules let the chair decide
	// alone) on an open matter: the proposal, a milestone report, the evaluation, a cancellation. DecideInput.Matter
	// says which; empty is the proposal.
	UpdateDecide           = "decide"
	UpdateDeclareConflict  = "declare_conflict"  // board member: inhabilitet on this initiative
	UpdateProposeCancel    = "propose_cancel"    // board member or admin: opens a vote on cancelling
	UpdateMeetingDecision  = "meeting_decision"  // chair or admin: the votes taken at a board meeting
	UpdateRequestChange    = "request_change"    // proposer or admin: a change to an approved initiative
	UpdateRecordLBF        = "record_lbf"        // admin: Landsbyggefonden's answer to a strategic change
	UpdateResubmit         = "resubmit"          // operational group: a revised proposal
	UpdateWithdraw         = "withdraw"          // the proposer, before approval
	UpdateReportMilestone  = "report_milestone"  // operational group: progress on the current milestone
	UpdateAcceptMilestone  = "accept_milestone"  // board (histories before board votes; now decide, matter milestone)
	UpdateSubmitEvaluation = "submit_evaluation" // operational group, after the last milestone
	UpdateAcceptEvaluation = "accept_evaluation" // board (histories before board votes; now decide, matter evaluation)
	UpdateConfirmPayment   = "confirm_payment"   // finance: a released tranche was paid
)

// QueryState returns the current domain.Initiative.
const QueryState = "state"

// InitiativeWorkflowID is the workflow ID of an initiative. One initiative, one workflow: starting a second with
// the same ID is refused by the server.
func InitiativeWorkflowID(initiativeID string) string { return "initiative/" + initiativeID }

// StartInput starts an initiative workflow. The proposal has been validated against the plan and the ledger by the
// caller; the workflow validates it again (without the ledger) so a bad start cannot create a bad initiative. Plan
// is the plan's rules at submission; the workflow reads them afresh before each decision that depends on them.
type StartInput struct {
	InitiativeID string          `json:"initiative_id"`
	Plan         domain.Plan     `json:"plan"` // the plan's rules as of submission
	Proposer     domain.Actor    `json:"proposer"`
	Proposal     domain.Proposal `json:"proposal"`
}

// DecideInput is a board member's ballot on an open matter. For a milestone report or the evaluation, approve
// accepts it and request_changes sends it back with the comment; reject is refused there.
type DecideInput struct {
	Actor   domain.Actor      `json:"actor"`
	Outcome domain.Outcome    `json:"outcome"`
	Comment string            `json:"comment"`
	Matter  domain.MatterKind `json:"matter,omitempty"`       // "" or proposal, milestone, evaluation, cancellation
	No      int               `json:"milestone_no,omitempty"` // the milestone, for matter milestone
}

// DeclareConflictInput is a board member declaring a conflict of interest (inhabilitet) on the initiative: from
// then on they cannot vote on any of its matters and do not count towards a quorum.
type DeclareConflictInput struct {
	Actor  domain.Actor `json:"actor"`
	Reason string       `json:"reason"`
}

// ProposeCancelInput opens the board's vote on cancelling an approved initiative.
type ProposeCancelInput struct {
	Actor  domain.Actor `json:"actor"`
	Reason string       `json:"reason"`
}

// RequestChangeInput asks to change an approved initiative: the budget and milestone plan it should have.
type RequestChangeInput struct {
	Actor      domain.Actor           `json:"actor"`
	Reason     string                 `json:"reason"`
	Budget     []domain.SourceAmount  `json:"budget"`
	Milestones []domain.MilestonePlan `json:"milestones"`
}

// RecordLBFInput is Landsbyggefonden's answer to strategic change No, from its letter.
type RecordLBFInput struct {
	Actor      domain.Actor `json:"actor"`
	ChangeNo   int          `json:"change_no"`
	Approved   bool         `json:"approved"`
	LetterDate domain.Date  `json:"letter_date"`
	Reference  string       `json:"reference"`
}

// MeetingVote is one member's vote as recorded at a meeting.
type MeetingVote struct {
	MemberID string         `json:"member_id"`
	Outcome  domain.Outcome `json:"outcome"`
}

// MeetingDecisionInput records, for the board, the votes taken at a meeting on one matter: who was present and
// how each voted. The round is counted closed (domain.TallyClosed): members not voting were absent.
type MeetingDecisionInput struct {
	Actor     domain.Actor      `json:"actor"`
	MeetingID string            `json:"meeting_id"`
	Matter    domain.MatterKind `json:"matter,omitempty"`
	No        int               `json:"milestone_no,omitempty"`
	Present   []string          `json:"present"`
	Votes     []MeetingVote     `json:"votes"`
	Comment   string            `json:"comment"`
}

// ResubmitInput is a revised proposal.
type ResubmitInput struct {
	Actor    domain.Actor    `json:"actor"`
	Proposal domain.Proposal `json:"proposal"`
	Comment  string          `json:"comment"` // what changed
}

// WithdrawInput withdraws the proposal.
type WithdrawInput struct {
	Actor  domain.Actor `json:"actor"`
	Reason string       `json:"reason"`
}

// ReportMilestoneInput reports progress on milestone No.
type ReportMilestoneInput struct {
	Actor    domain.Actor `json:"actor"`
	No       int          `json:"no"`
	Summary  string       `json:"summary"`
	SpentØre domain.Money `json:"spent_ore"`
}

// AcceptMilestoneInput accepts milestone No's report.
type AcceptMilestoneInput struct {
	Actor   domain.Actor `json:"actor"`
	No      int          `json:"no"`
	Comment string       `json:"comment"`
}

// SubmitEvaluationInput is the evaluation against each goal.
type SubmitEvaluationInput struct {
	Actor   domain.Actor        `json:"actor"`
	Summary string              `json:"summary"`
	Results []domain.GoalResult `json:"results"`
	// Spend is the final spend per funding source; absent, everything paid counts as spent (domain.Closeout).
	Spend []domain.SourceAmount `json:"spend,omitempty"`
}

// AcceptEvaluationInput accepts the evaluation and completes the initiative.
type AcceptEvaluationInput struct {
	Actor   domain.Actor `json:"actor"`
	Comment string       `json:"comment"`
}

// ConfirmPaymentInput says finance paid a disbursement.
type ConfirmPaymentInput struct {
	Actor          domain.Actor `json:"actor"`
	DisbursementID string       `json:"disbursement_id"`
	Reference      string       `json:"reference"`
}

// UpdateResult is what every update (and the start) returns: enough for the caller to read the initiative from the
// read model, which holds at least Version when the update returns. Updates do not return the whole initiative:
// every update result is stored in the workflow's history, and a big one would walk it towards Temporal's size
// limits.
type UpdateResult struct {
	InitiativeID string       `json:"initiative_id"`
	Phase        domain.Phase `json:"phase"`
	Version      int64        `json:"version"`
}
