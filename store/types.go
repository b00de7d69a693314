package store

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
)

// Sentinel errors. Driver errors are translated into these once, in this package; callers match with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	// ErrBadCursor means a list cursor was not one this package handed out (or was tampered with); the API
	// answers 400.
	ErrBadCursor = errors.New("invalid cursor")
	// ErrUnavailable means PostgreSQL could not be reached or aborted the work for a reason that passes (see
	// Transient): a writer retries, the API answers 503 with Retry-After.
	ErrUnavailable = errors.New("database unavailable")
	// ErrDivergence means a write found a row already stored under its key that is not the row it would write:
	// the database and the workflow disagree. It is never retried silently; operators see it in the log, in
	// metrics and in `helhedsplan doctor`.
	ErrDivergence = errors.New("stored row differs from the one being written")
)

// Event is one entry of an initiative's append-only event log.
type Event struct {
	InitiativeID string          `db:"initiative_id" json:"initiative_id"`
	Seq          int64           `db:"seq" json:"seq"` // equals the initiative's Version after the transition
	Type         string          `db:"type" json:"type"`
	ActorID      string          `db:"actor_id" json:"actor_id"`
	ActorName    string          `db:"actor_name" json:"actor_name"`
	ActorRole    domain.Role     `db:"actor_role" json:"actor_role"`
	At           time.Time       `db:"at" json:"at"` // workflow time of the transition
	PhaseBefore  domain.Phase    `db:"phase_before" json:"phase_before"`
	PhaseAfter   domain.Phase    `db:"phase_after" json:"phase_after"`
	Payload      json.RawMessage `db:"payload" json:"payload"`
	RecordedAt   time.Time       `db:"recorded_at" json:"recorded_at"` // database time of the write
}

// Transition is what an activity writes for each state change: the event and the initiative as it is afterwards.
// Writing it twice is harmless: the event is keyed by (initiative, seq) and the read model only moves forward.
type Transition struct {
	Event    Event             `json:"event"`
	Snapshot domain.Initiative `json:"snapshot"`
}

// Step is everything one workflow step writes, committed in one transaction: its transitions (one event and one
// read-model snapshot each) and the money they move. A step is whole: approval is the reservation and the release
// of tranche 1, accepting milestone k is the acceptance and the release of tranche k+1, so no state exists in
// which the first half committed and nothing will ever do the second. Each money input carries its own transition;
// Transitions holds the steps that move no money. All transitions are of one initiative with consecutive seqs.
type Step struct {
	Transitions []Transition  `json:"transitions,omitempty"`
	Reserve     *ReserveInput `json:"reserve,omitempty"`
	Release     *ReleaseInput `json:"release,omitempty"`
	Pay         *PayInput     `json:"pay,omitempty"`
	// Cancel is the compensation of a cancelled initiative: pending disbursements withdrawn and the reservation
	// of what was never paid given back, with the transition that records the cancellation.
	Cancel *CancelInput `json:"cancel,omitempty"`
	// Unreserve gives reserved money back in the same transaction (a change that asks for less).
	Unreserve *UnreserveInput `json:"unreserve,omitempty"`
	// Closeout settles a completed initiative's money with the transition that completes it (store/closeout.go).
	Closeout *CloseoutInput `json:"closeout,omitempty"`
	// YearsOfChange, the key suffix of an approved change ("change-<n>"), has the step's new milestone plan (the
	// snapshot of its one transition) judged against each source's commitment per year (store/yearcheck.go) when
	// the step reserves nothing: a change that only moves tranches or asks for less. A step with a reservation is
	// judged by it.
	YearsOfChange string `json:"years_of_change,omitempty"`
	// Notify are the notifications the step's events send (reminders, escalations, a withdrawn payment ...).
	// Each names the event (by seq) it belongs to and is stored once per recipient, in the same transaction; the
	// e-mail for each goes out through the outbox.
	Notify []NotifyInput `json:"notify,omitempty"`
}

// CancelInput cancels an approved initiative's money in one transaction with its transition: each pending
// disbursement in Withdraw is withdrawn from finance (status withdrawn, its release booked back to reserved with
// 'withdraw' entries, and a disbursement.withdrawn message in the outbox), then Unreserve gives everything still
// reserved back to the sources ('unreserve' entries with reason "cancelled"). Running it again writes nothing.
type CancelInput struct {
	PlanID       string
	InitiativeID string
	DelaftaleID  string
	Withdraw     []WithdrawInput
	Unreserve    []domain.SourceAmount // per source: the budget minus what was paid
	Transition   Transition
}

// WithdrawInput withdraws one released, unpaid disbursement.
type WithdrawInput struct {
	DisbursementID string
	MilestoneNo    int
	Lines          []domain.SourceAmount
}

// Audience is who a notification goes to: these users and every member of the plan with one of these roles.
// Duplicates are sent once.
type Audience struct {
	UserIDs []string      `json:"user_ids,omitempty"`
	Roles   []domain.Role `json:"roles,omitempty"`
}

// Notification kinds.
const (
	NotifyReminder   = "reminder"   // a deadline is near and the recipient still has to act
	NotifyEscalation = "escalation" // a deadline passed; the step is escalated to the recipient
	NotifyInfo       = "info"       // something the recipient should know (a withdrawn payment, a decision)
)

// NotifyInput is one notification a step sends, to each user of its audience.
type NotifyInput struct {
	PlanID       string   `json:"plan_id"`
	InitiativeID string   `json:"initiative_id"`
	Seq          int64    `json:"seq"`  // the event it belongs to; (initiative, seq, kind, user) is unique
	Kind         string   `json:"kind"` // NotifyReminder, NotifyEscalation or NotifyInfo
	Title        string   `json:"title"`
	Body         string   `json:"body"`
	Audience     Audience `json:"audience"`
}

// Notification is one stored notification of one user.
type Notification struct {
	ID           int64      `db:"id" json:"id"`
	PlanID       string     `db:"plan_id" json:"plan_id"`
	UserID       string     `db:"user_id" json:"user_id"`
	InitiativeID string     `db:"initiative_id" json:"initiative_id"`
	Seq          int64      `db:"seq" json:"seq"`
	Kind         string     `db:"kind" json:"kind"`
	Title        string     `db:"title" json:"title"`
	Body         string     `db:"body" json:"body"`
	CreatedAt    time.Time  `db:"created_at" json:"created_at"`
	ReadAt       *time.Time `db:"read_at" json:"read_at,omitempty"`
}

// StepResult says what WriteStep found.
type StepResult struct {
	// Stored is set when an earlier attempt of the same step had committed (its answer was lost to a crash or a
	// broken connection): the initiative as that attempt recorded it, which differs from the rerun's only in the
	// times the rerun took. The workflow adopts it, so the workflow and the read model agree to the byte.
	Stored *domain.Initiative `json:"stored,omitempty"`
}

// InitiativeSummary is one row of the initiative list.
type InitiativeSummary struct {
	ID             string       `db:"id"`
	PlanID         string       `db:"plan_id"`
	Title          string       `db:"title"`
	Phase          domain.Phase `db:"phase"`
	DelaftaleID    string       `db:"delaftale_id"`
	HousingAreaIDs []string     `db:"-"`
	ProposerID     string       `db:"proposer_id"`
	BudgetØre      domain.Money `db:"budget_ore"`
	Version        int64        `db:"version"`
	CreatedAt      time.Time    `db:"created_at"`
	UpdatedAt      time.Time    `db:"updated_at"`
}

// InitiativeFilter selects initiatives. Empty fields do not filter. Results are newest first; After is the
// opaque cursor returned with the previous page.
type InitiativeFilter struct {
	PlanID        string
	Phase         domain.Phase
	DelaftaleID   string
	HousingAreaID string
	// SourceID keeps the initiatives whose budget takes money from this funding source.
	SourceID string
	// Search keeps the initiatives whose title or description has every word of it, each word as a prefix
	// ("lekt" finds "Lektiecafé"). Only letters and digits count; text without any is no filter.
	Search string
	After  string
	Limit  int // 1..200, default 50
}

// BudgetLine is money in each state. Committed is what a source has pledged (for a delaftale, its budget frame,
// nil when the plan sets none); Available is Committed minus everything reserved, released or paid.
type BudgetLine struct {
	CommittedØre *domain.Money `json:"committed_ore"`
	ReservedØre  domain.Money  `json:"reserved_ore"` // approved, not yet released
	ReleasedØre  domain.Money  `json:"released_ore"` // released to finance, not yet paid
	PaidØre      domain.Money  `json:"paid_ore"`     // paid out and kept: payments minus returns received
	AvailableØre *domain.Money `json:"available_ore"`
	// ReturnedØre is paid money that came back after close-out (returns received); it is available again.
	ReturnedØre domain.Money `json:"returned_ore"`
}

// SourceBudget is the budget of one funding source.
type SourceBudget struct {
	SourceID string `json:"source_id"`
	Name     string `json:"name"`
	Local    bool   `json:"local"` // counts as local co-financing
	BudgetLine
	// InKindØre is the source's confirmed in-kind contributions: contributed, never paid out, not in the ledger.
	InKindØre domain.Money `json:"inkind_confirmed_ore"`
}

// DelaftaleBudget is the budget of one delaftale.
type DelaftaleBudget struct {
	DelaftaleID string `json:"delaftale_id"`
	Name        string `json:"name"`
	BudgetLine
}

// Budget is a plan's money per funding source and per delaftale, from the ledger.
type Budget struct {
	PlanID     string            `json:"plan_id"`
	Total      BudgetLine        `json:"total"`
	Sources    []SourceBudget    `json:"sources"`
	Delaftaler []DelaftaleBudget `json:"delaftaler"`
	// MinLocalCofinancingPermille is the plan's co-financing minimum (its setting) when the budget was read.
	MinLocalCofinancingPermille int64 `json:"min_local_cofinancing_permille"`
	// Pending are the proposals waiting for the board (phase board_review), oldest first, with their budgets:
	// what an approval would reserve (see Budget.Cofinancing).
	Pending []PendingProposal `json:"pending"`
}

// PendingProposal is a proposal waiting for the board's decision.
type PendingProposal struct {
	InitiativeID string                `json:"initiative_id"`
	Title        string                `json:"title"`
	Budget       []domain.SourceAmount `json:"budget"`
}

// Disbursement statuses.
const (
	DisbursementPending   = "pending" // released, waiting for finance
	DisbursementPaid      = "paid"
	DisbursementWithdrawn = "withdrawn" // taken back from finance unpaid: the initiative was cancelled
)

// Disbursement is one tranche payment finance has to make.
type Disbursement struct {
	ID              string                `db:"id"`
	PlanID          string                `db:"plan_id"`
	InitiativeID    string                `db:"initiative_id"`
	InitiativeTitle string                `db:"initiative_title"`
	DelaftaleID     string                `db:"delaftale_id"` // the initiative's delaftale, as booked in the ledger
	MilestoneNo     int                   `db:"milestone_no"`
	MilestoneTitle  string                `db:"milestone_title"`
	Lines           []domain.SourceAmount `db:"-"`
	TotalØre        domain.Money          `db:"total_ore"`
	Status          string                `db:"status"`
	Reference       *string               `db:"reference"`
	ReleasedAt      time.Time             `db:"released_at"`
	PaidAt          *time.Time            `db:"paid_at"`
	PaidBy          *string               `db:"paid_by"`
	WithdrawnAt     *time.Time            `db:"withdrawn_at"`     // set when Status is DisbursementWithdrawn
	WithdrawnReason *string               `db:"withdrawn_reason"` // why, in Danish, as finance was told
}

// DisbursementFilter selects disbursements, oldest first (the order finance works in).
type DisbursementFilter struct {
	PlanID string
	Status string // "" for all
	After  string // opaque cursor
	Limit  int    // 1..200, default 50
}

// ReserveInput reserves an approved initiative's budget and records the approval, in one transaction.
type ReserveInput struct {
	PlanID       string
	InitiativeID string
	DelaftaleID  string
	Lines        []domain.SourceAmount // the budget per source
	Transition   Transition
	// KeySuffix names a later reservation of the same initiative (an approved change asking for more): its
	// entries are keyed reserve/<initiative>/<suffix>/<source>. Empty for the approval's own reservation.
	KeySuffix string
}

// ReleaseInput releases one tranche: it creates the pending disbursement, moves the money from reserved to
// released, queues the finance notification in the outbox and records the transition, in one transaction.
type ReleaseInput struct {
	PlanID         string
	InitiativeID   string
	DelaftaleID    string
	DisbursementID string
	MilestoneNo    int
	MilestoneTitle string
	Lines          []domain.SourceAmount
	Transition     Transition
}

// PayInput records that finance paid a disbursement, in one transaction with the ledger and the transition.
type PayInput struct {
	DisbursementID string
	Reference      string
	Actor          domain.Actor
	Transition     Transition
}

// OutboxMessage is a message waiting to leave the system (today: finance webhooks).
type OutboxMessage struct {
	ID          int64           `db:"id"`
	Topic       string          `db:"topic"` // e.g. "disbursement.released"
	Key         string          `db:"key"`   // unique; sent as Idempotency-Key so the receiver can drop repeats
	Payload     json.RawMessage `db:"payload"`
	Attempts    int             `db:"attempts"`
	LastError   *string         `db:"last_error"`
	CreatedAt   time.Time       `db:"created_at"`
	DeliveredAt *time.Time      `db:"delivered_at"`
	// NextAttemptAt is when the message may be claimed again: after a claim, the end of the claimer's lease.
	NextAttemptAt time.Time `db:"next_attempt_at"`
}

// Principal is an authenticated user and their role in each plan they belong to.
type Principal struct {
	UserID string
	Name   string
	Email  string
	Roles  map[string]domain.Role // plan ID -> role
}

// IdempotencyRecord is the stored outcome of a POST made with an Idempotency-Key.
type IdempotencyRecord struct {
	UserID      string     `db:"user_id"`
	Key         string     `db:"key"`
	Method      string     `db:"method"`
	Path        string     `db:"path"`
	RequestHash []byte     `db:"request_hash"`
	Status      *int       `db:"status"` // nil while the first request is still running
	ContentType *string    `db:"content_type"`
	Body        []byte     `db:"body"`
	CreatedAt   time.Time  `db:"created_at"`
	CompletedAt *time.Time `db:"completed_at"`
}
