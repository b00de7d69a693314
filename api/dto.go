package api

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/store"
)

// The types in this file are the JSON the API speaks, kept apart from domain and store structs so a field added
// there never appears in (or is accepted from) the API by accident. Money is always *_ore (int64 øre) plus a
// Danish text ("1.234,50 kr.") for display.

// ---- requests ----
//
// A field tagged required:"true" must be present and not null (decodeJSON refuses the request otherwise); the
// OpenAPI test checks these tags against the spec's required lists.

type amountBody struct {
	SourceID  string `json:"source_id" required:"true"`
	AmountOre int64  `json:"amount_ore" required:"true"`
}

type goalBody struct {
	ID               string `json:"id"`
	Description      string `json:"description" required:"true"`
	SuccessCriterion string `json:"success_criterion" required:"true"`
}

type milestoneBody struct {
	Title   string       `json:"title" required:"true"`
	DueDate string       `json:"due_date" required:"true"` // parsed here so a bad date is a field problem, not a 400
	Tranche []amountBody `json:"tranche" required:"true"`
}

type proposalBody struct {
	Title          string          `json:"title" required:"true"`
	Description    string          `json:"description" required:"true"`
	DelaftaleID    string          `json:"delaftale_id" required:"true"`
	HousingAreaIDs []string        `json:"housing_area_ids" required:"true"`
	TargetGroup    string          `json:"target_group" required:"true"`
	Goals          []goalBody      `json:"goals" required:"true"`
	Budget         []amountBody    `json:"budget" required:"true"`
	Milestones     []milestoneBody `json:"milestones" required:"true"`
}

type createInitiativeBody struct {
	PlanID string `json:"plan_id"`
	proposalBody
}

type resubmitBody struct {
	proposalBody
	Comment string `json:"comment"`
}

type decisionBody struct {
	Outcome string `json:"outcome" required:"true"`
	Comment string `json:"comment"`
	// Matter is what the vote is on: "" or proposal (the default), milestone, evaluation, change, cancellation.
	Matter      string `json:"matter"`
	MilestoneNo int    `json:"milestone_no"` // for matter milestone
}

type reasonBody struct {
	Reason string `json:"reason"`
}

type meetingVoteBody struct {
	MemberID string `json:"member_id" required:"true"`
	Outcome  string `json:"outcome" required:"true"`
}

type meetingDecisionBody struct {
	MeetingID   string            `json:"meeting_id" required:"true"`
	Matter      string            `json:"matter"`
	MilestoneNo int               `json:"milestone_no"`
	Present     []string          `json:"present" required:"true"`
	Votes       []meetingVoteBody `json:"votes" required:"true"`
	Comment     string            `json:"comment"`
}

// changeBody asks to change an approved initiative: the complete budget and milestone plan it should have.
type changeBody struct {
	Reason     string          `json:"reason" required:"true"`
	Budget     []amountBody    `json:"budget" required:"true"`
	Milestones []milestoneBody `json:"milestones" required:"true"`
}

// toDomain converts the body; the problems are dates it could not parse, reported like the domain's own.
func (b changeBody) toDomain() ([]domain.SourceAmount, []domain.MilestonePlan, []domain.FieldProblem) {
	p, problems := proposalBody{Budget: b.Budget, Milestones: b.Milestones}.toDomain()
	return p.Budget, p.Milestones, problems
}

// lbfBody is Landsbyggefonden's answer to a strategic change, from its letter.
type lbfBody struct {
	Approved   bool   `json:"approved" required:"true"`
	LetterDate string `json:"letter_date" required:"true"` // parsed here so a bad date is a field problem
	Reference  string `json:"reference" required:"true"`
}

type withdrawBody struct {
	Reason string `json:"reason"`
}

type reportBody struct {
	Summary  string `json:"summary" required:"true"`
	SpentOre int64  `json:"spent_ore" required:"true"`
}

type commentBody struct {
	Comment string `json:"comment"`
}

type goalResultBody struct {
	GoalID   string `json:"goal_id" required:"true"`
	Achieved bool   `json:"achieved" required:"true"`
	Result   string `json:"result" required:"true"`
}

type evaluationBody struct {
	Summary string           `json:"summary" required:"true"`
	Results []goalResultBody `json:"results" required:"true"`
	// Spend is the final spend per funding source; absent, everything paid counts as spent.
	Spend []amountBody `json:"spend"`
}

type confirmBody struct {
	Reference string `json:"reference" required:"true"`
}

func amountsToDomain(in []amountBody) []domain.SourceAmount {
	out := make([]domain.SourceAmount, len(in))
	for i, a := range in {
		out[i] = domain.SourceAmount{SourceID: a.SourceID, AmountØre: domain.Money(a.AmountOre)}
	}
	return out
}

// toDomain converts the body; the problems are dates it could not parse, reported like the domain's own.
func (b proposalBody) toDomain() (domain.Proposal, []domain.FieldProblem) {
	var problems []domain.FieldProblem
	p := domain.Proposal{
		Title:          b.Title,
		Description:    b.Description,
		DelaftaleID:    b.DelaftaleID,
		HousingAreaIDs: append([]string{}, b.HousingAreaIDs...),
		TargetGroup:    b.TargetGroup,
		Goals:          make([]domain.Goal, len(b.Goals)),
		Budget:         amountsToDomain(b.Budget),
		Milestones:     make([]domain.MilestonePlan, len(b.Milestones)),
	}
	for i, g := range b.Goals {
		p.Goals[i] = domain.Goal{ID: g.ID, Description: g.Description, SuccessCriterion: g.SuccessCriterion}
	}
	for i, m := range b.Milestones {
		p.Milestones[i] = domain.MilestonePlan{Title: m.Title, Tranche: amountsToDomain(m.Tranche)}
		if m.DueDate == "" {
			continue // ValidateProposal reports it as required
		}
		d, err := domain.ParseDate(m.DueDate)
		if err != nil {
			problems = append(problems, domain.FieldProblem{
				Field: fmt.Sprintf("milestones[%d].due_date", i), Code: "invalid_date",
				Message: fmt.Sprintf("%q er ikke en dato; brug ÅÅÅÅ-MM-DD.", m.DueDate),
			})
			continue
		}
		p.Milestones[i].DueDate = d
	}
	return p, problems
}

// ---- responses ----

type amountOut struct {
	SourceID  string `json:"source_id"`
	AmountOre int64  `json:"amount_ore"`
	Amount    string `json:"amount"`
}

func amountsOut(in []domain.SourceAmount) []amountOut {
	out := make([]amountOut, len(in))
	for i, a := range in {
		out[i] = amountOut{SourceID: a.SourceID, AmountOre: int64(a.AmountØre), Amount: a.AmountØre.String()}
	}
	return out
}

type actorOut struct {
	UserID   string `json:"user_id"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	RoleName string `json:"role_name"`
}

func actorToOut(a domain.Actor) actorOut {
	return actorOut{UserID: a.UserID, Name: a.Name, Role: string(a.Role), RoleName: a.Role.DanishName()}
}

func actorPtrOut(a *domain.Actor) *actorOut {
	if a == nil {
		return nil
	}
	o := actorToOut(*a)
	return &o
}

type meOut struct {
	UserID string       `json:"user_id"`
	Name   string       `json:"name"`
	Email  string       `json:"email"`
	Plans  []memberPlan `json:"plans"`
}

type memberPlan struct {
	PlanID   string `json:"plan_id"`
	PlanName string `json:"plan_name"`
	Role     string `json:"role"`
	RoleName string `json:"role_name"`
}

type planSummaryOut struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Municipality string `json:"municipality"`
	PeriodStart  string `json:"period_start"`
	PeriodEnd    string `json:"period_end"`
	Role         string `json:"role"`
	RoleName     string `json:"role_name"`
}

type listOut[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

func page[T any](items []T, next string) listOut[T] {
	out := listOut[T]{Items: items}
	if out.Items == nil {
		out.Items = []T{}
	}
	if next != "" {
		out.NextCursor = &next
	}
	return out
}

type planOut struct {
	ID                       string             `json:"id"`
	Name                     string             `json:"name"`
	Municipality             string             `json:"municipality"`
	PeriodStart              string             `json:"period_start"`
	PeriodEnd                string             `json:"period_end"`
	Vision                   string             `json:"vision"`
	Settings                 planSettingsOut    `json:"settings"`
	FundingSources           []fundingSourceOut `json:"funding_sources"`
	Delaftaler               []delaftaleOut     `json:"delaftaler"`
	HousingAssociations      []housingAssocOut  `json:"housing_associations"`
	HousingAreas             []housingAreaOut   `json:"housing_areas"`
	TotalCommittedOre        int64              `json:"total_committed_ore"`
	TotalCommitted           string             `json:"total_committed"`
	LocalCofinancingPermille int64              `json:"local_cofinancing_permille"`
	LocalCofinancing         string             `json:"local_cofinancing"`
	YourRole                 string             `json:"your_role"`
	YourRoleName             string             `json:"your_role_name"`
}

type planSettingsOut struct {
	MinLocalCofinancingPermille int64  `json:"min_local_cofinancing_permille"`
	MinLocalCofinancing         string `json:"min_local_cofinancing"`
	BoardQuorum                 int    `json:"board_quorum"`
	ReallocationThresholdOre    int64  `json:"reallocation_threshold_ore"`
	ReallocationThreshold       string `json:"reallocation_threshold"`
}

type fundingSourceOut struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Kind         string `json:"kind"`
	Local        bool   `json:"local"`
	CommittedOre int64  `json:"committed_ore"`
	Committed    string `json:"committed"`
	Note         string `json:"note,omitempty"`
}

type delaftaleOut struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

type housingAssocOut struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Residents int    `json:"residents"`
}

type housingAreaOut struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	AssociationID string `json:"association_id"`
}

// permilleText writes a per-mille share as a Danish percentage with one decimal: 466 -> "46,6 %".
func permilleText(p int64) string {
	sign := ""
	if p < 0 {
		sign, p = "-", -p
	}
	return fmt.Sprintf("%s%d,%d %%", sign, p/10, p%10)
}

func planToOut(p domain.Plan, role domain.Role) planOut {
	out := planOut{
		ID: p.ID, Name: p.Name, Municipality: p.Municipality,
		PeriodStart: p.PeriodStart.String(), PeriodEnd: p.PeriodEnd.String(), Vision: p.Vision,
		Settings: planSettingsOut{
			MinLocalCofinancingPermille: p.Settings.MinLocalCofinancingPermille,
			MinLocalCofinancing:         permilleText(p.Settings.MinLocalCofinancingPermille),
			BoardQuorum:                 p.Settings.BoardQuorum,
			ReallocationThresholdOre:    int64(p.Settings.ReallocationThresholdØre),
			ReallocationThreshold:       p.Settings.ReallocationThresholdØre.String(),
		},
		FundingSources:           make([]fundingSourceOut, len(p.FundingSources)),
		Delaftaler:               make([]delaftaleOut, len(p.Delaftaler)),
		HousingAssociations:      make([]housingAssocOut, len(p.HousingAssociations)),
		HousingAreas:             make([]housingAreaOut, len(p.HousingAreas)),
		TotalCommittedOre:        int64(p.TotalCommitted()),
		TotalCommitted:           p.TotalCommitted().String(),
		LocalCofinancingPermille: p.LocalCofinancingPermille(),
		LocalCofinancing:         permilleText(p.LocalCofinancingPermille()),
		YourRole:                 string(role),
		YourRoleName:             role.DanishName(),
	}
	for i, s := range p.FundingSources {
		out.FundingSources[i] = fundingSourceOut{ID: s.ID, Name: s.Name, Kind: string(s.Kind), Local: s.Local,
			CommittedOre: int64(s.CommittedØre), Committed: s.CommittedØre.String(), Note: s.Note}
	}
	for i, d := range p.Delaftaler {
		out.Delaftaler[i] = delaftaleOut{ID: d.ID, Name: d.Name, Description: d.Description}
	}
	for i, a := range p.HousingAssociations {
		out.HousingAssociations[i] = housingAssocOut{ID: a.ID, Name: a.Name, Residents: a.Residents}
	}
	for i, a := range p.HousingAreas {
		out.HousingAreas[i] = housingAreaOut{ID: a.ID, Name: a.Name, AssociationID: a.AssociationID}
	}
	return out
}

type budgetLineOut struct {
	CommittedOre *int64  `json:"committed_ore"` // null: no frame set (delaftaler without a budget frame)
	Committed    *string `json:"committed"`
	ReservedOre  int64   `json:"reserved_ore"`
	Reserved     string  `json:"reserved"`
	ReleasedOre  int64   `json:"released_ore"`
	Released     string  `json:"released"`
	PaidOre      int64   `json:"paid_ore"`
	Paid         string  `json:"paid"`
	AvailableOre *int64  `json:"available_ore"`
	Available    *string `json:"available"`
	// ReturnedOre is paid money that came back after close-out; paid_ore is net of it.
	ReturnedOre int64  `json:"returned_ore"`
	Returned    string `json:"returned"`
}

func optMoney(m *domain.Money) (*int64, *string) {
	if m == nil {
		return nil, nil
	}
	n, s := int64(*m), m.String()
	return &n, &s
}

func budgetLineToOut(l store.BudgetLine) budgetLineOut {
	out := budgetLineOut{
		ReservedOre: int64(l.ReservedØre), Reserved: l.ReservedØre.String(),
		ReleasedOre: int64(l.ReleasedØre), Released: l.ReleasedØre.String(),
		PaidOre: int64(l.PaidØre), Paid: l.PaidØre.String(),
		ReturnedOre: int64(l.ReturnedØre), Returned: l.ReturnedØre.String(),
	}
	out.CommittedOre, out.Committed = optMoney(l.CommittedØre)
	out.AvailableOre, out.Available = optMoney(l.AvailableØre)
	return out
}

type sourceBudgetOut struct {
	SourceID string `json:"source_id"`
	Name     string `json:"name"`
	Local    bool   `json:"local"`
	budgetLineOut
	InKindConfirmedOre int64  `json:"inkind_confirmed_ore"`
	InKindConfirmed    string `json:"inkind_confirmed"`
}

type delaftaleBudgetOut struct {
	DelaftaleID string `json:"delaftale_id"`
	Name        string `json:"name"`
	budgetLineOut
}

type budgetOut struct {
	PlanID      string               `json:"plan_id"`
	Total       budgetLineOut        `json:"total"`
	Sources     []sourceBudgetOut    `json:"sources"`
	Delaftaler  []delaftaleBudgetOut `json:"delaftaler"`
	Cofinancing cofinancingOut       `json:"cofinancing"`
}

// cofinancingOut is the local co-financing of the approved budget (reserved and not given back) against the
// plan's minimum, and after each proposal waiting for the board.
type cofinancingOut struct {
	ApprovedOre      int64                   `json:"approved_ore"`
	LocalOre         int64                   `json:"local_ore"`
	SharePermille    int64                   `json:"share_permille"`
	Share            string                  `json:"share"`
	MinimumPermille  int64                   `json:"minimum_permille"`
	Minimum          string                  `json:"minimum"`
	BelowMinimum     bool                    `json:"below_minimum"`
	PendingProposals []pendingCofinancingOut `json:"pending_proposals"`
}

type pendingCofinancingOut struct {
	InitiativeID       string `json:"initiative_id"`
	Title              string `json:"title"`
	BudgetOre          int64  `json:"budget_ore"`
	LocalOre           int64  `json:"local_ore"`
	ShareAfterPermille int64  `json:"share_after_permille"`
	ShareAfter         string `json:"share_after"`
	Refused            bool   `json:"refused"`
}

func cofinancingToOut(c store.Cofinancing) cofinancingOut {
	out := cofinancingOut{ApprovedOre: int64(c.Approved.Total), LocalOre: int64(c.Approved.Local),
		SharePermille: c.Approved.Permille(), Share: c.Approved.Text(), MinimumPermille: c.MinPermille,
		Minimum: domain.PermilleText(c.MinPermille), BelowMinimum: c.BelowMinimum,
		PendingProposals: make([]pendingCofinancingOut, len(c.Pending))}
	for i, p := range c.Pending {
		out.PendingProposals[i] = pendingCofinancingOut{InitiativeID: p.InitiativeID, Title: p.Title,
			BudgetOre: int64(p.Asked.Total), LocalOre: int64(p.Asked.Local), ShareAfterPermille: p.After.Permille(),
			ShareAfter: p.After.Text(), Refused: p.Refused}
	}
	return out
}

func budgetToOut(b store.Budget) budgetOut {
	out := budgetOut{
		PlanID:      b.PlanID,
		Cofinancing: cofinancingToOut(b.Cofinancing()),
		Total:       budgetLineToOut(b.Total),
		Sources:     make([]sourceBudgetOut, len(b.Sources)),
		Delaftaler:  make([]delaftaleBudgetOut, len(b.Delaftaler)),
	}
	for i, s := range b.Sources {
		out.Sources[i] = sourceBudgetOut{SourceID: s.SourceID, Name: s.Name, Local: s.Local, budgetLineOut: budgetLineToOut(s.BudgetLine),
			InKindConfirmedOre: int64(s.InKindØre), InKindConfirmed: s.InKindØre.String()}
	}
	for i, d := range b.Delaftaler {
		out.Delaftaler[i] = delaftaleBudgetOut{DelaftaleID: d.DelaftaleID, Name: d.Name, budgetLineOut: budgetLineToOut(d.BudgetLine)}
	}
	return out
}

type initiativeSummaryOut struct {
	ID             string    `json:"id"`
	PlanID         string    `json:"plan_id"`
	Title          string    `json:"title"`
	Phase          string    `json:"phase"`
	PhaseName      string    `json:"phase_name"`
	DelaftaleID    string    `json:"delaftale_id"`
	HousingAreaIDs []string  `json:"housing_area_ids"`
	ProposerID     string    `json:"proposer_id"`
	BudgetOre      int64     `json:"budget_ore"`
	Budget         string    `json:"budget"`
	Version        int64     `json:"version"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

func summaryToOut(s store.InitiativeSummary) initiativeSummaryOut {
	areas := s.HousingAreaIDs
	if areas == nil {
		areas = []string{}
	}
	return initiativeSummaryOut{
		ID: s.ID, PlanID: s.PlanID, Title: s.Title, Phase: string(s.Phase), PhaseName: s.Phase.DanishName(),
		DelaftaleID: s.DelaftaleID, HousingAreaIDs: areas, ProposerID: s.ProposerID,
		BudgetOre: int64(s.BudgetØre), Budget: s.BudgetØre.String(), Version: s.Version,
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt,
	}
}

type goalOut struct {
	ID               string `json:"id"`
	Description      string `json:"description"`
	SuccessCriterion string `json:"success_criterion"`
}

type milestonePlanOut struct {
	Title   string      `json:"title"`
	DueDate string      `json:"due_date"`
	Tranche []amountOut `json:"tranche"`
}

type proposalOut struct {
	Title          string             `json:"title"`
	Description    string             `json:"description"`
	DelaftaleID    string             `json:"delaftale_id"`
	HousingAreaIDs []string           `json:"housing_area_ids"`
	TargetGroup    string             `json:"target_group"`
	Goals          []goalOut          `json:"goals"`
	Budget         []amountOut        `json:"budget"`
	BudgetTotalOre int64              `json:"budget_total_ore"`
	BudgetTotal    string             `json:"budget_total"`
	Milestones     []milestonePlanOut `json:"milestones"`
}

type ballotOut struct {
	Matter   string    `json:"matter"` // the round (domain.MatterKey); "" is the proposal's current revision
	Revision int       `json:"revision"`
	Actor    actorOut  `json:"actor"`
	Outcome  string    `json:"outcome"`
	Comment  string    `json:"comment"`
	At       time.Time `json:"at"`
}

type decisionOut struct {
	Matter      string      `json:"matter"`     // proposal, milestone, evaluation, change, cancellation
	MatterKey   string      `json:"matter_key"` // the round (domain.MatterKey); "" for the proposal
	MilestoneNo int         `json:"milestone_no,omitempty"`
	Revision    int         `json:"revision"`
	Outcome     string      `json:"outcome"`
	Comment     string      `json:"comment"`
	Ballots     []ballotOut `json:"ballots"`
	At          time.Time   `json:"at"`
	Tally       *tallyOut   `json:"tally,omitempty"` // how the votes decided it; absent under the legacy quorum count
}

type reportOut struct {
	Summary  string    `json:"summary"`
	SpentOre int64     `json:"spent_ore"`
	Spent    string    `json:"spent"`
	Actor    actorOut  `json:"actor"`
	At       time.Time `json:"at"`
}

type milestoneOut struct {
	No               int         `json:"no"`
	Title            string      `json:"title"`
	DueDate          string      `json:"due_date"`
	Tranche          []amountOut `json:"tranche"`
	TrancheTotalOre  int64       `json:"tranche_total_ore"`
	TrancheTotal     string      `json:"tranche_total"`
	TrancheStatus    string      `json:"tranche_status"`
	DisbursementID   string      `json:"disbursement_id,omitempty"`
	ReleasedAt       *time.Time  `json:"released_at,omitempty"`
	PaidAt           *time.Time  `json:"paid_at,omitempty"`
	PaymentReference string      `json:"payment_reference,omitempty"`
	Report           *reportOut  `json:"report,omitempty"`
	// Returned are earlier reports the board sent back, oldest first, with the board's comment.
	Returned   []returnedOut `json:"returned"`
	AcceptedBy *actorOut     `json:"accepted_by,omitempty"`
	AcceptedAt *time.Time    `json:"accepted_at,omitempty"`
}

type goalResultOut struct {
	GoalID   string `json:"goal_id"`
	Achieved bool   `json:"achieved"`
	Result   string `json:"result"`
}

type evaluationOut struct {
	Summary     string          `json:"summary"`
	Results     []goalResultOut `json:"results"`
	SubmittedBy actorOut        `json:"submitted_by"`
	SubmittedAt time.Time       `json:"submitted_at"`
	AcceptedBy  *actorOut       `json:"accepted_by,omitempty"`
	AcceptedAt  *time.Time      `json:"accepted_at,omitempty"`
	Comment     string          `json:"comment,omitempty"`
	// Spend is the final spend per funding source as stated (absent: everything paid counted as spent).
	Spend []amountOut `json:"spend,omitempty"`
}

// closeoutLineOut is one funding source's settlement at close-out.
type closeoutLineOut struct {
	SourceID      string `json:"source_id"`
	PaidOre       int64  `json:"paid_ore"`
	SpentOre      int64  `json:"spent_ore"`
	ReturnOre     int64  `json:"return_ore"`
	UnreservedOre int64  `json:"unreserved_ore"`
}

// closeoutOut is the settlement of a completed initiative's money.
type closeoutOut struct {
	Lines     []closeoutLineOut `json:"lines"`
	At        time.Time         `json:"at"`
	ReturnOre int64             `json:"return_ore"`
	Return    string            `json:"return"`
}

func closeoutToOut(c *domain.Closeout) *closeoutOut {
	if c == nil {
		return nil
	}
	out := &closeoutOut{Lines: make([]closeoutLineOut, len(c.Lines)), At: c.At}
	for i, l := range c.Lines {
		out.Lines[i] = closeoutLineOut{SourceID: l.SourceID, PaidOre: int64(l.PaidØre), SpentOre: int64(l.SpentØre),
			ReturnOre: int64(l.ReturnØre), UnreservedOre: int64(l.UnreservedØre)}
	}
	t := c.ReturnTotal()
	out.ReturnOre, out.Return = int64(t), t.String()
	return out
}

// lbfOut is Landsbyggefonden's answer to a strategic change, as the secretariat recorded it.
type lbfOut struct {
	Approved   bool      `json:"approved"`
	LetterDate string    `json:"letter_date"`
	Reference  string    `json:"reference"`
	RecordedBy actorOut  `json:"recorded_by"`
	RecordedAt time.Time `json:"recorded_at"`
}

// changeOut is a change request: the budget and milestone plan it asks for, what it moves, and where it is.
type changeOut struct {
	No             int                `json:"no"`
	Reason         string             `json:"reason"`
	RequestedBy    actorOut           `json:"requested_by"`
	RequestedAt    time.Time          `json:"requested_at"`
	Budget         []amountOut        `json:"budget"`
	BudgetTotalOre int64              `json:"budget_total_ore"`
	BudgetTotal    string             `json:"budget_total"`
	Milestones     []milestonePlanOut `json:"milestones"`
	MovedOre       int64              `json:"moved_ore"`
	Moved          string             `json:"moved"`
	Reserve        []amountOut        `json:"reserve"`   // reserved in addition, per source, when it takes effect
	Unreserve      []amountOut        `json:"unreserve"` // given back, per source, when it takes effect
	ChairAlone     bool               `json:"chair_alone"`
	Strategic      bool               `json:"strategic"`
	Status         string             `json:"status"`
	StatusName     string             `json:"status_name"`
	DecidedAt      *time.Time         `json:"decided_at,omitempty"`
	AppliedAt      *time.Time         `json:"applied_at,omitempty"`
	LBF            *lbfOut            `json:"lbf,omitempty"`
}

// versionOut is one approved version of the initiative's budget and milestone plan.
type versionOut struct {
	Version        int                `json:"version"`
	ChangeNo       int                `json:"change_no,omitempty"` // absent for version 1, the approved proposal
	Budget         []amountOut        `json:"budget"`
	BudgetTotalOre int64              `json:"budget_total_ore"`
	BudgetTotal    string             `json:"budget_total"`
	Milestones     []milestonePlanOut `json:"milestones"`
	DecidedBy      []string           `json:"decided_by"`
	At             time.Time          `json:"at"`
}

func milestonePlansOut(in []domain.MilestonePlan) []milestonePlanOut {
	out := make([]milestonePlanOut, len(in))
	for i, m := range in {
		out[i] = milestonePlanOut{Title: m.Title, DueDate: m.DueDate.String(), Tranche: amountsOut(m.Tranche)}
	}
	return out
}

func changesOut(in []domain.Change) []changeOut {
	out := make([]changeOut, len(in))
	for i, c := range in {
		co := changeOut{No: c.No, Reason: c.Reason, RequestedBy: actorToOut(c.RequestedBy), RequestedAt: c.RequestedAt,
			Budget: amountsOut(c.Budget), BudgetTotalOre: int64(domain.Total(c.Budget)),
			BudgetTotal: domain.Total(c.Budget).String(), Milestones: milestonePlansOut(c.Milestones),
			MovedOre: int64(c.MovedØre), Moved: c.MovedØre.String(), Reserve: amountsOut(c.Reserve),
			Unreserve: amountsOut(c.Unreserve), ChairAlone: c.ChairAlone, Strategic: c.Strategic,
			Status: string(c.Status), StatusName: c.Status.DanishName(), DecidedAt: c.DecidedAt, AppliedAt: c.AppliedAt}
		if l := c.LBF; l != nil {
			co.LBF = &lbfOut{Approved: l.Approved, LetterDate: l.LetterDate.String(), Reference: l.Reference,
				RecordedBy: actorToOut(l.RecordedBy), RecordedAt: l.RecordedAt}
		}
		out[i] = co
	}
	return out
}

func versionsOut(in []domain.ApprovedVersion) []versionOut {
	out := make([]versionOut, len(in))
	for i, v := range in {
		by := v.DecidedBy
		if by == nil {
			by = []string{}
		}
		out[i] = versionOut{Version: v.Version, ChangeNo: v.ChangeNo, Budget: amountsOut(v.Budget),
			BudgetTotalOre: int64(domain.Total(v.Budget)), BudgetTotal: domain.Total(v.Budget).String(),
			Milestones: milestonePlansOut(v.Milestones), DecidedBy: by, At: v.At}
	}
	return out
}

type initiativeOut struct {
	ID         string         `json:"id"`
	PlanID     string         `json:"plan_id"`
	Phase      string         `json:"phase"`
	PhaseName  string         `json:"phase_name"`
	Version    int64          `json:"version"`
	Revision   int            `json:"revision"`
	Proposer   actorOut       `json:"proposer"`
	Proposal   proposalOut    `json:"proposal"`
	Ballots    []ballotOut    `json:"ballots"`
	Decisions  []decisionOut  `json:"decisions"`
	Milestones []milestoneOut `json:"milestones"`
	Evaluation *evaluationOut `json:"evaluation,omitempty"`
	// Closeout is the settlement of a completed initiative's money (absent before completion, and on initiatives
	// completed before close-out existed).
	Closeout        *closeoutOut `json:"closeout,omitempty"`
	WithdrawnReason string       `json:"withdrawn_reason,omitempty"`
	// The board's business: the open rounds with every member's standing, conflicts of interest, the (latest)
	// cancellation, evaluations sent back, reminders and escalations sent, and the open steps with deadlines.
	OpenRounds          []roundOut       `json:"open_rounds"`
	Conflicts           []conflictOut    `json:"conflicts"`
	Cancellation        *cancellationOut `json:"cancellation,omitempty"`
	EvaluationsReturned []returnedOut    `json:"evaluations_returned"`
	Alerts              []alertOut       `json:"alerts"`
	OpenSteps           []openStepOut    `json:"open_steps"`
	// Changes are the change requests after approval, oldest first; Versions every approved version of the
	// budget and milestone plan (version 1 is the proposal as approved).
	Changes       []changeOut  `json:"changes"`
	Versions      []versionOut `json:"versions"`
	PaidTotalOre  int64        `json:"paid_total_ore"`
	PaidTotal     string       `json:"paid_total"`
	SpentTotalOre int64        `json:"spent_total_ore"`
	SpentTotal    string       `json:"spent_total"`
	CreatedAt     time.Time    `json:"created_at"`
	UpdatedAt     time.Time    `json:"updated_at"`
}

func ballotsOut(in []domain.Ballot) []ballotOut {
	out := make([]ballotOut, len(in))
	for i, b := range in {
		out[i] = ballotOut{Matter: b.Matter, Revision: b.Revision, Actor: actorToOut(b.Actor), Outcome: string(b.Outcome),
			Comment: b.Comment, At: b.At}
	}
	return out
}

// initiativeToOut is the initiative as the API shows it. plan is its plan (the board's rules and the deadline
// settings decide the open rounds and steps) and today the Copenhagen date the steps are overdue against.
func initiativeToOut(in domain.Initiative, plan domain.Plan, today domain.Date) initiativeOut {
	p := in.Proposal
	areas := append([]string{}, p.HousingAreaIDs...)
	out := initiativeOut{
		ID: in.ID, PlanID: in.PlanID, Phase: string(in.Phase), PhaseName: in.Phase.DanishName(),
		Version: in.Version, Revision: in.Revision, Proposer: actorToOut(in.Proposer),
		Proposal: proposalOut{
			Title: p.Title, Description: p.Description, DelaftaleID: p.DelaftaleID, HousingAreaIDs: areas,
			TargetGroup: p.TargetGroup, Goals: make([]goalOut, len(p.Goals)), Budget: amountsOut(p.Budget),
			BudgetTotalOre: int64(domain.Total(p.Budget)), BudgetTotal: domain.Total(p.Budget).String(),
			Milestones: make([]milestonePlanOut, len(p.Milestones)),
		},
		Ballots:         ballotsOut(in.Ballots),
		Decisions:       make([]decisionOut, len(in.Decisions)),
		Milestones:      make([]milestoneOut, len(in.Milestones)),
		Changes:         changesOut(in.Changes),
		Versions:        versionsOut(in.Versions),
		WithdrawnReason: in.WithdrawnReason,
		PaidTotalOre:    int64(in.PaidTotal()),
		PaidTotal:       in.PaidTotal().String(),
		SpentTotalOre:   int64(in.SpentTotal()),
		SpentTotal:      in.SpentTotal().String(),
		CreatedAt:       in.CreatedAt,
		UpdatedAt:       in.UpdatedAt,
	}
	for i, g := range p.Goals {
		out.Proposal.Goals[i] = goalOut{ID: g.ID, Description: g.Description, SuccessCriterion: g.SuccessCriterion}
	}
	for i, m := range p.Milestones {
		out.Proposal.Milestones[i] = milestonePlanOut{Title: m.Title, DueDate: m.DueDate.String(), Tranche: amountsOut(m.Tranche)}
	}
	for i, d := range in.Decisions {
		kind, no := matterOf(d.Matter)
		out.Decisions[i] = decisionOut{Matter: string(kind), MatterKey: d.Matter, MilestoneNo: no,
			Revision: d.Revision, Outcome: string(d.Outcome), Comment: d.Comment, Ballots: ballotsOut(d.Ballots),
			At: d.At, Tally: tallyToOut(d.Tally)}
	}
	for i, m := range in.Milestones {
		mo := milestoneOut{
			No: m.No, Title: m.Title, DueDate: m.DueDate.String(), Tranche: amountsOut(m.Tranche),
			TrancheTotalOre: int64(domain.Total(m.Tranche)), TrancheTotal: domain.Total(m.Tranche).String(),
			TrancheStatus: string(m.TrancheStatus), DisbursementID: m.DisbursementID,
			ReleasedAt: m.ReleasedAt, PaidAt: m.PaidAt, PaymentReference: m.PaymentReference,
			AcceptedBy: actorPtrOut(m.AcceptedBy), AcceptedAt: m.AcceptedAt, Returned: returnedToOut(m.Returned),
		}
		if r := m.Report; r != nil {
			mo.Report = &reportOut{Summary: r.Summary, SpentOre: int64(r.SpentØre), Spent: r.SpentØre.String(),
				Actor: actorToOut(r.Actor), At: r.At}
		}
		out.Milestones[i] = mo
	}
	if ev := in.Evaluation; ev != nil {
		eo := &evaluationOut{Summary: ev.Summary, Results: make([]goalResultOut, len(ev.Results)),
			SubmittedBy: actorToOut(ev.SubmittedBy), SubmittedAt: ev.SubmittedAt,
			AcceptedBy: actorPtrOut(ev.AcceptedBy), AcceptedAt: ev.AcceptedAt, Comment: ev.Comment}
		if len(ev.Spend) > 0 {
			eo.Spend = amountsOut(ev.Spend)
		}
		for i, r := range ev.Results {
			eo.Results[i] = goalResultOut{GoalID: r.GoalID, Achieved: r.Achieved, Result: r.Result}
		}
		out.Evaluation = eo
	}
	out.Closeout = closeoutToOut(in.Closeout)
	boardToOut(&out, in, plan, today)
	return out
}

type eventOut struct {
	InitiativeID string          `json:"initiative_id"`
	Seq          int64           `json:"seq"`
	Type         string          `json:"type"`
	Actor        actorOut        `json:"actor"`
	At           time.Time       `json:"at"`
	PhaseBefore  string          `json:"phase_before"`
	PhaseAfter   string          `json:"phase_after"`
	Payload      json.RawMessage `json:"payload"`
	RecordedAt   time.Time       `json:"recorded_at"`
}

func eventToOut(e store.Event) eventOut {
	payload := e.Payload
	if len(payload) == 0 || !json.Valid(payload) {
		payload = json.RawMessage("null")
	}
	return eventOut{
		InitiativeID: e.InitiativeID, Seq: e.Seq, Type: e.Type,
		Actor: actorToOut(domain.Actor{UserID: e.ActorID, Name: e.ActorName, Role: e.ActorRole}),
		At:    e.At, PhaseBefore: string(e.PhaseBefore), PhaseAfter: string(e.PhaseAfter),
		Payload: payload, RecordedAt: e.RecordedAt,
	}
}

type eventsOut struct {
	Items     []eventOut `json:"items"`
	NextAfter *int64     `json:"next_after"` // pass as ?after= for the next page; null when this page was not full
}

type disbursementOut struct {
	ID              string      `json:"id"`
	PlanID          string      `json:"plan_id"`
	InitiativeID    string      `json:"initiative_id"`
	InitiativeTitle string      `json:"initiative_title"`
	MilestoneNo     int         `json:"milestone_no"`
	MilestoneTitle  string      `json:"milestone_title"`
	Lines           []amountOut `json:"lines"`
	TotalOre        int64       `json:"total_ore"`
	Total           string      `json:"total"`
	Status          string      `json:"status"`
	Reference       *string     `json:"reference"`
	ReleasedAt      time.Time   `json:"released_at"`
	PaidAt          *time.Time  `json:"paid_at"`
	PaidBy          *string     `json:"paid_by"`
	// WithdrawnAt and WithdrawnReason are set when the disbursement was taken back from finance unpaid (status
	// withdrawn: the initiative was cancelled).
	WithdrawnAt     *time.Time `json:"withdrawn_at"`
	WithdrawnReason *string    `json:"withdrawn_reason"`
}

func disbursementToOut(d store.Disbursement) disbursementOut {
	return disbursementOut{
		ID: d.ID, PlanID: d.PlanID, InitiativeID: d.InitiativeID, InitiativeTitle: d.InitiativeTitle,
		MilestoneNo: d.MilestoneNo, MilestoneTitle: d.MilestoneTitle, Lines: amountsOut(d.Lines),
		TotalOre: int64(d.TotalØre), Total: d.TotalØre.String(), Status: d.Status, Reference: d.Reference,
		ReleasedAt: d.ReleasedAt, PaidAt: d.PaidAt, PaidBy: d.PaidBy,
		WithdrawnAt: d.WithdrawnAt, WithdrawnReason: d.WithdrawnReason,
	}
}

// ---- the board's business on an initiative ----

// countsOut is how many votes each outcome has.
type countsOut struct {
	Approve        int `json:"approve"`
	Reject         int `json:"reject"`
	RequestChanges int `json:"request_changes"`
}

func countsToOut(c map[domain.Outcome]int) countsOut {
	return countsOut{Approve: c[domain.OutcomeApprove], Reject: c[domain.OutcomeReject],
		RequestChanges: c[domain.OutcomeRequestChanges]}
}

// tallyOut is how the board's votes decided a matter (domain.DecisionTally).
type tallyOut struct {
	Basis        string    `json:"basis,omitempty"` // majority, chair_casting_vote, no_majority; absent when the chair decided alone
	ChairAlone   bool      `json:"chair_alone"`
	Early        bool      `json:"early"` // decided before every entitled member voted: the rest could not change it
	Counts       countsOut `json:"counts"`
	Entitled     int       `json:"entitled"`
	Voted        int       `json:"voted"`
	QuorumNeeded int       `json:"quorum_needed"`
	Recused      []string  `json:"recused"`              // members not entitled: a conflict of interest, or the proposer
	MeetingID    string    `json:"meeting_id,omitempty"` // the meeting the votes were taken at
	Present      []string  `json:"present,omitempty"`    // the members present at that meeting
	Explanation  string    `json:"explanation"`          // Danish
	BoardVersion int       `json:"board_version,omitempty"`
}

func tallyToOut(t *domain.DecisionTally) *tallyOut {
	if t == nil {
		return nil
	}
	recused := t.Recused
	if recused == nil {
		recused = []string{}
	}
	return &tallyOut{Basis: string(t.Basis), ChairAlone: t.ChairAlone, Early: t.Early, Counts: countsToOut(t.Counts),
		Entitled: t.Entitled, Voted: t.Voted, QuorumNeeded: t.QuorumNeeded, Recused: recused, MeetingID: t.MeetingID,
		Present: t.Present, Explanation: t.Explanation, BoardVersion: t.BoardVersion}
}

// matterOf splits a round's key (domain.MatterKey) into its matter kind and milestone number.
func matterOf(key string) (domain.MatterKind, int) {
	kind := domain.MatterKindOf(key)
	if kind != domain.MatterMilestone {
		return kind, 0
	}
	parts := strings.Split(key, "/")
	if len(parts) < 2 {
		return kind, 0
	}
	no, _ := strconv.Atoi(parts[1])
	return kind, no
}

// roundOut is an open round of the board: who may vote, who voted what, who is recused and why.
type roundOut struct {
	Matter      string `json:"matter"`     // proposal, milestone, evaluation, change, cancellation
	MatterKey   string `json:"matter_key"` // domain.MatterKey; "" for the proposal
	MilestoneNo int    `json:"milestone_no,omitempty"`
	ChangeNo    int    `json:"change_no,omitempty"` // the change request, for matter change
	Title       string `json:"title"`
	// Voting is true when the plan's board votes by its rules; false for a plan without a board on record, where
	// the first outcome to reach quorum_needed ballots decides.
	Voting       bool             `json:"voting"`
	ChairAlone   bool             `json:"chair_alone"` // the chair decides this matter alone
	Chair        string           `json:"chair,omitempty"`
	QuorumNeeded int              `json:"quorum_needed"`
	Entitled     int              `json:"entitled"`
	Counts       countsOut        `json:"counts"`
	Explanation  string           `json:"explanation"` // Danish: where the round stands
	Since        string           `json:"since"`
	Deadline     string           `json:"deadline"`
	Overdue      bool             `json:"overdue"`
	Members      []roundMemberOut `json:"members"`
	Ballots      []ballotOut      `json:"ballots"`
}

// roundMemberOut is one board member's standing in a round.
type roundMemberOut struct {
	UserID string `json:"user_id"`
	Name   string `json:"name,omitempty"` // as the initiative records it (absent until they vote or declare a conflict)
	Chair  bool   `json:"chair"`
	// Status is may_vote, voted, recused or chair_decides.
	Status  string     `json:"status"`
	Vote    *ballotOut `json:"vote,omitempty"`
	Recused string     `json:"recused,omitempty"` // conflict or proposer
	Reason  string     `json:"reason,omitempty"`  // Danish: why the member does not vote
}

type conflictOut struct {
	UserID string    `json:"user_id"`
	Name   string    `json:"name"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

type cancellationOut struct {
	Round      int        `json:"round"`
	Reason     string     `json:"reason"`
	ProposedBy actorOut   `json:"proposed_by"`
	ProposedAt time.Time  `json:"proposed_at"`
	Decided    bool       `json:"decided"`
	Outcome    string     `json:"outcome,omitempty"` // approve: cancelled; otherwise the initiative goes on
	DecidedAt  *time.Time `json:"decided_at,omitempty"`
	// Returned is the money that went back to each source (the budget minus what was paid).
	Returned         []amountOut `json:"returned"`
	ReturnedTotalOre int64       `json:"returned_total_ore"`
	ReturnedTotal    string      `json:"returned_total"`
	// WithdrawnDisbursements are the released, unpaid disbursements taken back from finance.
	WithdrawnDisbursements []string `json:"withdrawn_disbursements"`
}

// returnedOut is a report or evaluation the board sent back, with its comment.
type returnedOut struct {
	Summary  string    `json:"summary"`
	SpentOre int64     `json:"spent_ore"`
	Spent    string    `json:"spent"`
	Comment  string    `json:"comment"`
	By       actorOut  `json:"by"`
	At       time.Time `json:"at"`
}

func returnedToOut(in []domain.ReturnedReport) []returnedOut {
	out := make([]returnedOut, len(in))
	for i, r := range in {
		out[i] = returnedOut{Summary: r.Summary, SpentOre: int64(r.SpentØre), Spent: r.SpentØre.String(),
			Comment: r.Comment, By: actorToOut(r.By), At: r.At}
	}
	return out
}

// alertOut is a reminder or escalation sent for a step.
type alertOut struct {
	Key      string    `json:"key"`
	Kind     string    `json:"kind"` // reminder, escalation
	Step     string    `json:"step"` // the step's key (open_steps[].key while it is open)
	Deadline string    `json:"deadline"`
	At       time.Time `json:"at"`
}

// openStepOut is a step that waits for someone, with its deadline.
type openStepOut struct {
	Key            string `json:"key"`
	Kind           string `json:"kind"` // board_decision, payment, report, evaluation
	Matter         string `json:"matter,omitempty"`
	Title          string `json:"title"` // Danish
	Since          string `json:"since"`
	Deadline       string `json:"deadline"` // the last day to act (Danish business days)
	Overdue        bool   `json:"overdue"`  // the deadline has passed (today in Copenhagen)
	WaitingFor     string `json:"waiting_for"`
	EscalateTo     string `json:"escalate_to"`
	MilestoneNo    int    `json:"milestone_no,omitempty"`
	DisbursementID string `json:"disbursement_id,omitempty"`
}

// boardToOut fills in the board's business: open rounds, conflicts, the cancellation, evaluations sent back,
// alerts and the open steps.
func boardToOut(out *initiativeOut, in domain.Initiative, plan domain.Plan, today domain.Date) {
	out.OpenRounds = []roundOut{}
	for _, r := range service.OpenRounds(in, plan) {
		ro := roundOut{Matter: string(r.Matter), MatterKey: r.Key, MilestoneNo: r.No, ChangeNo: r.Change, Title: r.Step.Title,
			Voting: r.Voting, ChairAlone: r.ChairAlone, Chair: r.Chair, QuorumNeeded: r.QuorumNeeded,
			Entitled: r.Entitled, Explanation: r.Explanation, Since: r.Step.Since.String(),
			Deadline: r.Step.Deadline.String(), Overdue: r.Step.Overdue(today), Members: []roundMemberOut{},
			Ballots: ballotsOut(r.Ballots)}
		counts := r.Tally.Counts // the votes the board's rules count
		if counts == nil {
			counts = map[domain.Outcome]int{}
			for _, b := range r.Ballots {
				counts[b.Outcome]++
			}
		}
		ro.Counts = countsToOut(counts)
		for _, m := range r.Members {
			mo := roundMemberOut{UserID: m.UserID, Name: m.Name, Chair: m.Chair, Status: string(m.Status),
				Recused: m.Recused, Reason: m.Reason}
			if m.Ballot != nil {
				b := ballotsOut([]domain.Ballot{*m.Ballot})[0]
				mo.Vote = &b
			}
			ro.Members = append(ro.Members, mo)
		}
		out.OpenRounds = append(out.OpenRounds, ro)
	}
	out.Conflicts = make([]conflictOut, len(in.Conflicts))
	for i, c := range in.Conflicts {
		out.Conflicts[i] = conflictOut{UserID: c.UserID, Name: c.Name, Reason: c.Reason, At: c.At}
	}
	if c := in.Cancellation; c != nil {
		withdrawn := c.Withdrawn
		if withdrawn == nil {
			withdrawn = []string{}
		}
		out.Cancellation = &cancellationOut{Round: c.Round, Reason: c.Reason, ProposedBy: actorToOut(c.ProposedBy),
			ProposedAt: c.ProposedAt, Decided: c.Decided, Outcome: string(c.Outcome), DecidedAt: c.DecidedAt,
			Returned: amountsOut(c.Returned), ReturnedTotalOre: int64(domain.Total(c.Returned)),
			ReturnedTotal: domain.Total(c.Returned).String(), WithdrawnDisbursements: withdrawn}
	}
	out.EvaluationsReturned = returnedToOut(in.EvaluationsReturned)
	out.Alerts = make([]alertOut, len(in.Alerts))
	for i, a := range in.Alerts {
		out.Alerts[i] = alertOut{Key: a.Key, Kind: a.Kind, Step: a.Step, Deadline: a.Deadline.String(), At: a.At}
	}
	out.OpenSteps = []openStepOut{}
	for _, s := range service.OpenSteps(in, plan) {
		out.OpenSteps = append(out.OpenSteps, openStepOut{Key: s.Key, Kind: string(s.Kind), Matter: s.Matter,
			Title: s.Title, Since: s.Since.String(), Deadline: s.Deadline.String(), Overdue: s.Overdue(today),
			WaitingFor: s.WaitingFor, EscalateTo: s.EscalateTo, MilestoneNo: s.MilestoneNo,
			DisbursementID: s.DisbursementID})
	}
}
