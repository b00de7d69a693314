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
)

// Phases lists every phase in lifecycle order.
var Phases = []Phase{PhaseBoardReview, PhaseChangesRequested, PhaseRejected, PhaseWithdrawn, PhaseFunding,
	PhaseExecuting, PhaseEvaluation, PhaseCompleted}

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
	return p == PhaseRejected || p == PhaseWithdrawn || p == PhaseCompleted
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

// Ballot is one board member's vote on one revision of a proposal. With a quorum of one, a ballot is the decision.
type Ballot struct {
	Revision int       `json:"revision"`
	Actor    Actor     `json:"actor"`
	Outcome  Outcome   `json:"outcome"`
	Comment  string    `json:"comment"`
	At       time.Time `json:"at"`
}

// Decision is the board's resolved decision on one revision of the proposal.
type Decision struct {
	Revision int       `json:"revision"`
	Outcome  Outcome   `json:"outcome"`
	Comment  string    `json:"comment"`
	Ballots  []Ballot  `json:"ballots"`
	At       time.Time `json:"at"`
}

// TrancheStatus is where a milestone's tranche is in the payment flow.
type TrancheStatus string

// Tranche statuses.
const (
	TrancheScheduled TrancheStatus = "scheduled" // not yet released
	TrancheReleased  TrancheStatus = "released"  // finance has been asked to pay
	TranchePaid      TrancheStatus = "paid"      // finance confirmed payment
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
	AcceptedBy       *Actor         `json:"accepted_by,omitempty"`
	AcceptedAt       *time.Time     `json:"accepted_at,omitempty"`
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
	CreatedAt       time.Time   `json:"created_at"`
	UpdatedAt       time.Time   `json:"updated_at"`
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
