package domain

import "time"

// Phase is where an initiative is in its lifecycle.
type Phase string

// Phases. An initiative starts in board_review.
//
//	board_review -> changes_requested -> (resubmit) -> board_review
//	board_review -> rejected
//	board_review -> (approve) funding -> executing -> (milestone accepted) funding -> ... -> evaluation -> completed
//	board_review | changes_requested -> withdrawn
//	funding | executing | evaluation -> (the board votes to cancel) cancelled
//
// funding means a released tranche waits for finance to pay it; executing means the work is under way.
const (
	PhaseBoardReview      Phase = "board_review"
	PhaseChangesRequested Phase = "changes_requested"
	PhaseRejected         Phase = "rejected"
	PhaseWithdrawn        Phase = "withdrawn"
	PhaseFunding          Phase = "funding"
	PhaseExecuting        Phase = "executing"
	PhaseEvaluation       Phase = "evaluation"
	PhaseCompleted        Phase = "completed"
	PhaseCancelled        Phase = "cancelled" // annulleret: stopped by the board after approval, unpaid money returned
)

// Phases lists every phase in lifecycle order.
var Phases = []Phase{PhaseBoardReview, PhaseChangesRequested, PhaseRejected, PhaseWithdrawn, PhaseFunding,
	PhaseExecuting, PhaseEvaluation, PhaseCompleted, PhaseCancelled}

// Valid reports whether p is a known phase.
func (p Phase) Valid() bool {
	for _, q := range Phases {
		if p == q {
			return true
		}
	}
	return false
}

// Terminal reports whether nothing more happens in this phase.
func (p Phase) Terminal() bool {
	return p == PhaseRejected || p == PhaseWithdrawn || p == PhaseCompleted || p == PhaseCancelled
}

// Approved reports whether the board has approved the initiative and it is under way (money reserved).
func (p Phase) Approved() bool {
	return p == PhaseFunding || p == PhaseExecuting || p == PhaseEvaluation
}

// DanishName is the phase as users see it.
func (p Phase) DanishName() string {
	switch p {
	case PhaseBoardReview:
		return "til behandling i bestyrelsen"
	case PhaseChangesRequested:
		return "ændringer ønsket"
	case PhaseRejected:
		return "afvist"
	case PhaseWithdrawn:
		return "trukket tilbage"
	case PhaseFunding:
		return "afventer udbetaling"
	case PhaseExecuting:
		return "i gang"
	case PhaseEvaluation:
		return "evaluering"
	case PhaseCompleted:
		return "afsluttet"
	case PhaseCancelled:
		return "annulleret"
	}
	return string(p)
}

// Goal is something the initiative promises, with the criterion it is judged by.
type Goal struct {
	ID               string `json:"id"` // stable within the initiative: "g1", "g2", ... when not given
	Description      string `json:"description"`
	SuccessCriterion string `json:"success_criterion"`
}

// MilestonePlan is a milestone as proposed: what, when, and the tranche paid to reach it.
type MilestonePlan struct {
	Title   string         `json:"title"`
	DueDate Date           `json:"due_date"`
	Tranche []SourceAmount `json:"tranche"`
}

// Proposal is what the operational group submits and the board decides on.
type Proposal struct {
	Title          string          `json:"title"`
	Description    string          `json:"description"`
	DelaftaleID    string          `json:"delaftale_id"`
	HousingAreaIDs []string        `json:"housing_area_ids"`
	TargetGroup    string          `json:"target_group"`
	Goals          []Goal          `json:"goals"`
	Budget         []SourceAmount  `json:"budget"`
	Milestones     []MilestonePlan `json:"milestones"`
}

// Decision outcomes.
type Outcome string

// Board decision outcomes.
const (
	OutcomeApprove        Outcome = "approve"
	OutcomeReject         Outcome = "reject"
	OutcomeRequestChanges Outcome = "request_changes"
)

// Valid reports whether o is a known outcome.
func (o Outcome) Valid() bool {
	return o == OutcomeApprove || o == OutcomeReject || o == OutcomeRequestChanges
}

// Ballot is one board member's vote on an open matter: a revision of the proposal (Matter empty), a milestone
// report, the evaluation or a cancellation. With the legacy quorum of one, a ballot is the decision.
type Ballot struct {
	Matter   string    `json:"matter,omitempty"` // MatterKey of the round; "" is the proposal's current revision
	Revision int       `json:"revision"`
	Actor    Actor     `json:"actor"`
	Outcome  Outcome   `json:"outcome"`
	Comment  string    `json:"comment"`
	At       time.Time `json:"at"`
}

// Decision is the board's resolved decision on a matter: a revision of the proposal (Matter empty), a milestone
// report, the evaluation or a cancellation.
type Decision struct {
	Matter   string    `json:"matter,omitempty"` // MatterKey; "" is the proposal
	Revision int       `json:"revision"`
	Outcome  Outcome   `json:"outcome"`
	Comment  string    `json:"comment"`
	Ballots  []Ballot  `json:"ballots"`
	At       time.Time `json:"at"`
	// Tally is how the votes decided it; nil for decisions under the legacy quorum count.
	Tally *DecisionTally `json:"tally,omitempty"`
}

// DecisionTally records how a decision was reached, for the initiative's page, its events and the minutes.
type DecisionTally struct {
	Basis        DecisionBasis   `json:"basis,omitempty"` // majority, chair_casting_vote, no_majority; "" for chair alone
	ChairAlone   bool            `json:"chair_alone,omitempty"`
	Early        bool            `json:"early,omitempty"`
	Counts       map[Outcome]int `json:"counts"`
	Entitled     int             `json:"entitled"`
	Voted        int             `json:"voted"`
	QuorumNeeded int             `json:"quorum_needed"`
	Recused      []string        `json:"recused,omitempty"`
	MeetingID    string          `json:"meeting_id,omitempty"` // set when the votes were taken at a meeting
	Present      []string        `json:"present,omitempty"`    // members present at the meeting
	Explanation  string          `json:"explanation"`          // Danish
	BoardVersion int             `json:"board_version,omitempty"`
}

// MatterKey names one round of the board: "" for the proposal's current revision, "milestone/<n>/<round>",
// "evaluation/<round>", "cancellation/<round>". A matter sent back and reported again is a new round.
func MatterKey(kind MatterKind, no, round int) string {
	switch kind {
	case MatterMilestone:
		return "milestone/" + itoa(no) + "/" + itoa(round)
	case MatterEvaluation, MatterCancellation, MatterChange:
		return string(kind) + "/" + itoa(round)
	}
	return ""
}

// Conflict is a board member's declared conflict of interest (inhabilitet) on the initiative.
type Conflict struct {
	UserID string    `json:"user_id"`
	Name   string    `json:"name"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// Cancellation is a proposal to cancel the initiative and, once the board decided, its outcome.
type Cancellation struct {
	Round      int        `json:"round"`
	Reason     string     `json:"reason"`
	ProposedBy Actor      `json:"proposed_by"`
	ProposedAt time.Time  `json:"proposed_at"`
	Decided    bool       `json:"decided,omitempty"`
	Outcome    Outcome    `json:"outcome,omitempty"`
	DecidedAt  *time.Time `json:"decided_at,omitempty"`
	// Returned is what went back to the sources (the budget minus what was paid), per source.
	Returned []SourceAmount `json:"returned,omitempty"`
	// Withdrawn lists the disbursements taken back from finance.
	Withdrawn []string `json:"withdrawn,omitempty"`
}

// Alert is a reminder or escalation the workflow has sent for a step, so it is sent once.
type Alert struct {
	Key      string    `json:"key"`  // the step and the alarm, e.g. "proposal/r1/remind-5", "payment/x-t2/escalate"
	Kind     string    `json:"kind"` // "reminder" or "escalation"
	Step     string    `json:"step"` // the step's key (OpenStep.Key)
	Deadline Date      `json:"deadline"`
	At       time.Time `json:"at"`
}

// TrancheStatus is where a milestone's tranche is in the payment flow.
type TrancheStatus string

// Tranche statuses.
const (
	TrancheScheduled TrancheStatus = "scheduled" // not yet released
	TrancheReleased  TrancheStatus = "released"  // finance has been asked to pay
	TranchePaid      TrancheStatus = "paid"      // finance confirmed payment
	TrancheWithdrawn TrancheStatus = "withdrawn" // released, then taken back from finance when cancelled
	TrancheCancelled TrancheStatus = "cancelled" // never released: the initiative was cancelled
)

// Report is the operational group's progress report on a milestone.
type Report struct {
	Summary  string    `json:"summary"`
	SpentØre Money     `json:"spent_ore"`
	Actor    Actor     `json:"actor"`
	At       time.Time `json:"at"`
}

// Milestone is a milestone with its tranche and progress.
type Milestone struct {
	No               int            `json:"no"` // 1-based
	Title            string         `json:"title"`
	DueDate          Date           `json:"due_date"`
	Tranche          []SourceAmount `json:"tranche"`
	TrancheStatus    TrancheStatus  `json:"tranche_status"`
	DisbursementID   string         `json:"disbursement_id,omitempty"`
	ReleasedAt       *time.Time     `json:"released_at,omitempty"`
	PaidAt           *time.Time     `json:"paid_at,omitempty"`
	PaymentReference string         `json:"payment_reference,omitempty"`
	Report           *Report        `json:"report,omitempty"`
	// Returned are earlier reports the board sent back, oldest first, each with the board's comment.
	Returned   []ReturnedReport `json:"returned,omitempty"`
	AcceptedBy *Actor           `json:"accepted_by,omitempty"`
	AcceptedAt *time.Time       `json:"accepted_at,omitempty"`
}

// ReturnedReport is a report (or evaluation) the board sent back, with why.
type ReturnedReport struct {
	Summary  string    `json:"summary"`
	SpentØre Money     `json:"spent_ore,omitempty"`
	Comment  string    `json:"comment"`
	By       Actor     `json:"by"`
	At       time.Time `json:"at"`
}

// GoalResult is the evaluation of one goal.
type GoalResult struct {
	GoalID   string `json:"goal_id"`
	Achieved bool   `json:"achieved"`
	Result   string `json:"result"` // what was achieved, measured against the success criterion
}

// Evaluation is the operational group's evaluation and the board's acceptance of it.
type Evaluation struct {
	Summary     string       `json:"summary"`
	Results     []GoalResult `json:"results"`
	SubmittedBy Actor        `json:"submitted_by"`
	SubmittedAt time.Time    `json:"submitted_at"`
	AcceptedBy  *Actor       `json:"accepted_by,omitempty"`
	AcceptedAt  *time.Time   `json:"accepted_at,omitempty"`
	Comment     string       `json:"comment,omitempty"`
	// Spend is the final spend per funding source (see closeout.go); absent, everything paid counts as spent.
	Spend []SourceAmount `json:"spend,omitempty"`
}

// Initiative is the whole state of one initiative: what the workflow holds and what the read model stores.
type Initiative struct {
	ID              string      `json:"id"`
	PlanID          string      `json:"plan_id"`
	Phase           Phase       `json:"phase"`
	Version         int64       `json:"version"`  // one more for each recorded transition
	Revision        int         `json:"revision"` // proposal revision, 1 for the first submission
	Proposer        Actor       `json:"proposer"`
	Proposal        Proposal    `json:"proposal"`
	Ballots         []Ballot    `json:"ballots,omitempty"` // of the current revision, until decided
	Decisions       []Decision  `json:"decisions"`
	Milestones      []Milestone `json:"milestones"`
	Evaluation      *Evaluation `json:"evaluation,omitempty"`
	WithdrawnReason string      `json:"withdrawn_reason,omitempty"`
	// Conflicts are the board members who declared a conflict of interest on the initiative.
	Conflicts []Conflict `json:"conflicts,omitempty"`
	// Cancellation is the open or decided proposal to cancel the initiative (the latest one).
	Cancellation *Cancellation `json:"cancellation,omitempty"`
	// EvaluationsReturned are evaluations the board sent back, oldest first.
	EvaluationsReturned []ReturnedReport `json:"evaluations_returned,omitempty"`
	// Changes are the change requests, oldest first; Versions the approved versions of budget and milestones.
	Changes  []Change          `json:"changes,omitempty"`
	Versions []ApprovedVersion `json:"versions,omitempty"`
	// Closeout is the settlement of a completed initiative's money (closeout.go); absent on initiatives completed
	// before close-out existed.
	Closeout *Closeout `json:"closeout,omitempty"`
	// Alerts are the reminders and escalations sent, oldest first.
	Alerts []Alert `json:"alerts,omitempty"`
	// RevisionAt is when the current revision was submitted: the board's deadline counts from it. Zero in
	// initiatives recorded before deadlines existed (CreatedAt or UpdatedAt stand in).
	RevisionAt time.Time `json:"revision_at,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// DisbursementID is the ID of the disbursement that pays milestone no's tranche. It is derived, so releasing the
// same tranche twice names the same disbursement and the database keeps one.
func DisbursementID(initiativeID string, no int) string {
	return initiativeID + "-t" + itoa(no)
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// Milestone returns milestone no (1-based).
func (in *Initiative) Milestone(no int) (*Milestone, bool) {
	if no < 1 || no > len(in.Milestones) {
		return nil, false
	}
	return &in.Milestones[no-1], true
}

// CurrentMilestone is the first milestone not yet accepted, or nil when all are.
func (in *Initiative) CurrentMilestone() *Milestone {
	for i := range in.Milestones {
		if in.Milestones[i].AcceptedAt == nil {
			return &in.Milestones[i]
		}
	}
	return nil
}

// PaidTotal is the sum of all paid tranches. It saturates instead of wrapping (see Total); rules use paidSum.
func (in *Initiative) PaidTotal() Money {
	var t saturating
	for _, m := range in.Milestones {
		if m.TrancheStatus == TranchePaid {
			for _, l := range m.Tranche {
				t.add(l.AmountØre)
			}
		}
	}
	return t.sum
}

// SpentTotal is the sum of amounts reported spent. It saturates instead of wrapping (see Total); rules use spentSum.
func (in *Initiative) SpentTotal() Money {
	var t saturating
	for _, m := range in.Milestones {
		if m.Report != nil {
			t.add(m.Report.SpentØre)
		}
	}
	return t.sum
}

// paidSum is PaidTotal with Sum's guarantee: every amount and the total lie in [0, MaxMoney], or an error.
func (in *Initiative) paidSum() (Money, error) {
	var t bounded
	for _, m := range in.Milestones {
		if m.TrancheStatus == TranchePaid {
			for _, l := range m.Tranche {
				t.add(l.AmountØre)
			}
		}
	}
	return t.result()
}

// spentSum is SpentTotal with Sum's guarantee: every amount and the total lie in [0, MaxMoney], or an error.
func (in *Initiative) spentSum() (Money, error) {
	var t bounded
	for _, m := range in.Milestones {
		if m.Report != nil {
			t.add(m.Report.SpentØre)
		}
	}
	return t.result()
}

// MilestonesFromPlan turns proposed milestones into scheduled ones.
func MilestonesFromPlan(plans []MilestonePlan) []Milestone {
	out := make([]Milestone, len(plans))
	for i, p := range plans {
		out[i] = Milestone{No: i + 1, Title: p.Title, DueDate: p.DueDate, Tranche: p.Tranche, TrancheStatus: TrancheScheduled}
	}
	return out
}
