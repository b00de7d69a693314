package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/workflows"
)

// ActionKind is something a user does to an initiative.
type ActionKind string

// The actions on an initiative, in the order Allowed lists them.
const (
	ActDecide           ActionKind = "decide"            // board: vote on the proposal
	ActVoteCancel       ActionKind = "vote_cancel"       // board: vote on cancelling the initiative
	ActVoteChange       ActionKind = "vote_change"       // board: vote on a change to the approved initiative
	ActResubmit         ActionKind = "resubmit"          // the proposer (or admin): a revised proposal
	ActWithdraw         ActionKind = "withdraw"          // the proposer: withdraw the proposal
	ActReportMilestone  ActionKind = "report_milestone"  // operational group: report on the current milestone
	ActAcceptMilestone  ActionKind = "accept_milestone"  // board: vote to accept the milestone report
	ActReturnMilestone  ActionKind = "return_milestone"  // board: vote to send the milestone report back
	ActSubmitEvaluation ActionKind = "submit_evaluation" // operational group: the evaluation
	ActAcceptEvaluation ActionKind = "accept_evaluation" // board: vote to accept the evaluation
	ActReturnEvaluation ActionKind = "return_evaluation" // board: vote to send the evaluation back
	ActConfirmPayment   ActionKind = "confirm_payment"   // finance: a released tranche was paid
	ActRequestChange    ActionKind = "request_change"    // the proposer or admin: change the approved budget and plan
	ActRecordLBF        ActionKind = "record_lbf"        // admin: Landsbyggefonden's answer to a strategic change
	ActProposeCancel    ActionKind = "propose_cancel"    // board member or admin: open the vote on cancelling
	ActDeclareConflict  ActionKind = "declare_conflict"  // board member: inhabilitet on the initiative
	ActMeetingDecision  ActionKind = "meeting_decision"  // chair or admin: the votes taken at a board meeting
)

// ActionKinds lists every action on an initiative.
var ActionKinds = []ActionKind{ActDecide, ActVoteCancel, ActVoteChange, ActResubmit, ActWithdraw, ActReportMilestone,
	ActAcceptMilestone, ActReturnMilestone, ActSubmitEvaluation, ActAcceptEvaluation, ActReturnEvaluation,
	ActConfirmPayment, ActRequestChange, ActRecordLBF, ActProposeCancel, ActDeclareConflict, ActMeetingDecision}

// actionRule is who may attempt an action (the role gate before the workflow's own rule), the Danish phrase that
// completes "Kun <rolle> kan ...", the workflow update that carries it out, and its Danish label.
type actionRule struct {
	phrase string
	roles  []domain.Role
	update string
	label  string
}

// boardOnly is the role of the board's own actions.
var boardOnly = []domain.Role{domain.RoleBoard}

var actionRules = map[ActionKind]actionRule{
	ActDecide: {"træffe beslutning om et forslag", boardOnly, workflows.UpdateDecide, "Træf beslutning"},
	ActVoteCancel: {"stemme om at annullere en indsats", boardOnly, workflows.UpdateDecide,
		"Stem om annullering"},
	ActVoteChange: {"stemme om en ændring af en indsats", boardOnly, workflows.UpdateDecide, "Stem om ændringen"},
	// The operational group and the admin may ask; the workflow's rule decides who exactly (the proposer, or an
	// admin).
	ActRequestChange: {"anmode om en ændring af en godkendt indsats",
		[]domain.Role{domain.RoleOperationalGroup, domain.RoleAdmin}, workflows.UpdateRequestChange, "Anmod om ændring"},
	ActRecordLBF: {"registrere Landsbyggefondens svar på en ændring", []domain.Role{domain.RoleAdmin},
		workflows.UpdateRecordLBF, "Registrér Landsbyggefondens svar"},
	// The admin may resubmit too; the workflow's rule decides who exactly (the proposer, or an admin).
	ActResubmit: {"indsende et revideret forslag", []domain.Role{domain.RoleOperationalGroup, domain.RoleAdmin},
		workflows.UpdateResubmit, "Revidér forslaget"},
	ActWithdraw: {"trække et forslag tilbage", []domain.Role{domain.RoleOperationalGroup},
		workflows.UpdateWithdraw, "Træk forslaget tilbage"},
	ActReportMilestone: {"rapportere på en milepæl", []domain.Role{domain.RoleOperationalGroup},
		workflows.UpdateReportMilestone, "Rapportér på milepælen"},
	// Accepting and sending back a report or the evaluation are the board's votes on the matter (UpdateDecide);
	// the old accept updates serve only histories recorded before board votes.
	ActAcceptMilestone: {"godkende en milepæl", boardOnly, workflows.UpdateDecide, "Godkend milepælen"},
	ActReturnMilestone: {"sende en milepælsrapport tilbage", boardOnly, workflows.UpdateDecide,
		"Send rapporten tilbage"},
	ActSubmitEvaluation: {"indsende en evaluering", []domain.Role{domain.RoleOperationalGroup},
		workflows.UpdateSubmitEvaluation, "Indsend evaluering"},
	ActAcceptEvaluation: {"godkende en evaluering", boardOnly, workflows.UpdateDecide, "Godkend evalueringen"},
	ActReturnEvaluation: {"sende en evaluering tilbage", boardOnly, workflows.UpdateDecide,
		"Send evalueringen tilbage"},
	ActConfirmPayment: {"bekræfte en udbetaling", []domain.Role{domain.RoleFinance},
		workflows.UpdateConfirmPayment, "Bekræft udbetaling"},
	ActProposeCancel: {"foreslå at annullere en indsats", []domain.Role{domain.RoleBoard, domain.RoleAdmin},
		workflows.UpdateProposeCancel, "Foreslå annullering"},
	ActDeclareConflict: {"erklære sig inhabil", boardOnly, workflows.UpdateDeclareConflict, "Erklær inhabilitet"},
	// The chair is a board member; the workflow's rule decides who exactly (the chair, or an admin).
	ActMeetingDecision: {"registrere afstemningen fra et bestyrelsesmøde", []domain.Role{domain.RoleBoard, domain.RoleAdmin},
		workflows.UpdateMeetingDecision, "Registrér mødets afstemning"},
}

// DanishName is the action as a button says it.
func (k ActionKind) DanishName() string { return actionRules[k].label }

// Target is an initiative (or, for ActConfirmPayment, a disbursement) that a user is about to act on, with their
// access and role checked. Get one from Begin or BeginPayment, read the rest of the user's input, then carry out
// the action with the matching method: so a user without access hears "not found" and one with the wrong role
// "forbidden" before anything about their input, as the API always answered.
type Target struct {
	Kind       ActionKind
	Initiative domain.Initiative // the initiative acted on (ID and PlanID only for ActConfirmPayment)
	Role       domain.Role       // the user's role in the initiative's plan
	// Disbursement is the disbursement to confirm (ActConfirmPayment only).
	Disbursement store.Disbursement
	principal    store.Principal
}

// actor is the target's user as the workflow records them.
func (t *Target) actor() domain.Actor { return actor(t.principal, t.Role) }

// Begin reads initiative id for action kind and checks that p may attempt it: another plan's initiative is
// CodeNotFound, a role the action is not for is CodeForbidden. Whether the action is allowed now (phase, proposer,
// milestone) is the workflow's rule, checked when the action is carried out (and shown beforehand by Allowed).
func (s *Service) Begin(ctx context.Context, p store.Principal, id string, kind ActionKind) (*Target, error) {
	rule, ok := actionRules[kind]
	if !ok || kind == ActConfirmPayment {
		return nil, fmt.Errorf("service: Begin cannot start action %q", kind)
	}
	in, role, err := s.Initiative(ctx, p, id)
	if err != nil {
		return nil, err
	}
	if err := RequireRole(role, rule.phrase, rule.roles...); err != nil {
		return nil, err
	}
	return &Target{Kind: kind, Initiative: in, Role: role, principal: p}, nil
}

// BeginPayment reads disbursement id and checks that p may confirm its payment: another plan's disbursement is
// CodeNotFound, anyone but finance CodeForbidden.
func (s *Service) BeginPayment(ctx context.Context, p store.Principal, id string) (*Target, error) {
	if id == "" || len(id) > MaxIDLen {
		return nil, disbursementNotFound(id)
	}
	d, err := s.st.GetDisbursement(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, disbursementNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("get disbursement %s: %w", id, err)
	}
	role, ok := p.Roles[d.PlanID]
	if !ok {
		return nil, disbursementNotFound(id)
	}
	t := &Target{Kind: ActConfirmPayment, Initiative: domain.Initiative{ID: d.InitiativeID, PlanID: d.PlanID},
		Role: role, Disbursement: d, principal: p}
	rule := actionRules[ActConfirmPayment]
	if err := RequireRole(role, rule.phrase, rule.roles...); err != nil {
		return t, err // the target names the initiative, for the caller's log
	}
	return t, nil
}

// MayPropose says whether p may propose an initiative in planID (CodeNotFound outside their plans, CodeForbidden
// for a role other than the operational group): a page offers "Nyt forslag" only then.
func MayPropose(p store.Principal, planID string) error {
	role, err := PlanRole(p, planID)
	if err != nil {
		return err
	}
	return RequireRole(role, "foreslå en indsats", domain.RoleOperationalGroup)
}

// Propose proposes an initiative in planID ("" for p's only plan) and returns it as recorded. problems are those
// the caller found reading the user's input (missing fields, values that did not parse); they are reported
// together with the rules' own (see checkProposal). When an error comes after the initiative's ID was chosen, the
// returned initiative carries that ID only, for the caller's log.
func (s *Service) Propose(ctx context.Context, p store.Principal, planID string, proposal domain.Proposal,
	problems []domain.FieldProblem, k Idem) (domain.Initiative, error) {
	planID, role, err := proposalPlan(p, planID)
	if err != nil {
		return domain.Initiative{}, err
	}
	if err := RequireRole(role, "foreslå en indsats", domain.RoleOperationalGroup); err != nil {
		return domain.Initiative{}, err
	}
	plan, err := s.st.GetPlan(ctx, planID)
	if err != nil {
		return domain.Initiative{}, fmt.Errorf("get plan %s: %w", planID, err)
	}
	if err := s.checkProposal(ctx, plan, &proposal, problems); err != nil {
		return domain.Initiative{}, err
	}
	id, err := k.InitiativeID()
	if err != nil {
		return domain.Initiative{}, err
	}
	res, err := s.wf.Start(ctx, workflows.StartInput{
		InitiativeID: id, Plan: plan.Rules(), Proposer: actor(p, role), Proposal: proposal,
	})
	if errors.Is(err, store.ErrConflict) && k.Keyed() {
		// The ID is derived from the Idem, so this is a retry whose first attempt started the workflow but did not
		// answer. Answer with the initiative that attempt created.
		res, err = s.wf.Update(ctx, id, workflows.UpdateSync, Idem{}.UpdateID(), nil)
	}
	if err != nil {
		return domain.Initiative{ID: id}, err
	}
	in, err := s.recorded(ctx, id, res)
	if err != nil {
		return domain.Initiative{ID: id}, err
	}
	return in, nil
}

// Decide casts the board member's vote on the proposal (approve, reject or request_changes; a comment is
// required unless approving).
func (s *Service) Decide(ctx context.Context, t *Target, outcome domain.Outcome, comment string, k Idem) (domain.Initiative, error) {
	if err := t.is(ActDecide); err != nil {
		return domain.Initiative{}, err
	}
	return s.update(ctx, t, workflows.DecideInput{Actor: t.actor(), Outcome: outcome, Comment: comment}, k)
}

// Resubmit sends the proposer's revised proposal back to the board. problems are as for Propose.
func (s *Service) Resubmit(ctx context.Context, t *Target, proposal domain.Proposal, problems []domain.FieldProblem,
	comment string, k Idem) (domain.Initiative, error) {
	if err := t.is(ActResubmit); err != nil {
		return domain.Initiative{}, err
	}
	plan, err := s.st.GetPlan(ctx, t.Initiative.PlanID)
	if err != nil {
		return domain.Initiative{}, fmt.Errorf("get plan %s: %w", t.Initiative.PlanID, err)
	}
	// Before approval nothing is reserved for this initiative, so the free funds need no correction for its own
	// earlier revision.
	if err := s.checkProposal(ctx, plan, &proposal, problems); err != nil {
		return domain.Initiative{}, err
	}
	return s.update(ctx, t, workflows.ResubmitInput{Actor: t.actor(), Proposal: proposal, Comment: comment}, k)
}

// Withdraw withdraws the proposal, with an optional reason.
func (s *Service) Withdraw(ctx context.Context, t *Target, reason string, k Idem) (domain.Initiative, error) {
	if err := t.is(ActWithdraw); err != nil {
		return domain.Initiative{}, err
	}
	return s.update(ctx, t, workflows.WithdrawInput{Actor: t.actor(), Reason: reason}, k)
}

// ReportMilestone reports progress on milestone no (1-based; the workflow decides whether it is the current one).
func (s *Service) ReportMilestone(ctx context.Context, t *Target, no int, summary string, spent domain.Money, k Idem) (domain.Initiative, error) {
	if err := t.is(ActReportMilestone); err != nil {
		return domain.Initiative{}, err
	}
	return s.update(ctx, t, workflows.ReportMilestoneInput{Actor: t.actor(), No: no, Summary: summary, SpentØre: spent}, k)
}

// AcceptMilestone is the board member's vote to accept milestone no's report (where the chair decides alone, the
// chair's decision); once the board has accepted it, the next tranche is released.
func (s *Service) AcceptMilestone(ctx context.Context, t *Target, no int, comment string, k Idem) (domain.Initiative, error) {
	if err := t.is(ActAcceptMilestone); err != nil {
		return domain.Initiative{}, err
	}
	return s.vote(ctx, t, Vote{Matter: domain.MatterMilestone, No: no, Outcome: domain.OutcomeApprove, Comment: comment}, k)
}

// ReturnMilestone is the board member's vote to send milestone no's report back to the proposer, with the
// comment saying what is missing (required).
func (s *Service) ReturnMilestone(ctx context.Context, t *Target, no int, comment string, k Idem) (domain.Initiative, error) {
	if err := t.is(ActReturnMilestone); err != nil {
		return domain.Initiative{}, err
	}
	if err := requireText("comment", comment, "Rapporten kan ikke sendes tilbage.",
		"Skriv, hvad der mangler i rapporten, så forslagsstilleren ved, hvad der skal rettes."); err != nil {
		return domain.Initiative{}, err
	}
	return s.vote(ctx, t, Vote{Matter: domain.MatterMilestone, No: no, Outcome: domain.OutcomeRequestChanges, Comment: comment}, k)
}

// SubmitEvaluation submits the evaluation against each goal, with the final spend per funding source (nil:
// everything paid counts as spent; see domain.Closeout).
func (s *Service) SubmitEvaluation(ctx context.Context, t *Target, summary string, results []domain.GoalResult,
	spend []domain.SourceAmount, k Idem) (domain.Initiative, error) {
	if err := t.is(ActSubmitEvaluation); err != nil {
		return domain.Initiative{}, err
	}
	return s.update(ctx, t, workflows.SubmitEvaluationInput{Actor: t.actor(), Summary: summary, Results: results,
		Spend: spend}, k)
}

// AcceptEvaluation is the board member's vote to accept the evaluation; once the board has accepted it, the
// initiative is completed.
func (s *Service) AcceptEvaluation(ctx context.Context, t *Target, comment string, k Idem) (domain.Initiative, error) {
	if err := t.is(ActAcceptEvaluation); err != nil {
		return domain.Initiative{}, err
	}
	return s.vote(ctx, t, Vote{Matter: domain.MatterEvaluation, Outcome: domain.OutcomeApprove, Comment: comment}, k)
}

// ReturnEvaluation is the board member's vote to send the evaluation back to the proposer, with the comment
// saying what is missing (required).
func (s *Service) ReturnEvaluation(ctx context.Context, t *Target, comment string, k Idem) (domain.Initiative, error) {
	if err := t.is(ActReturnEvaluation); err != nil {
		return domain.Initiative{}, err
	}
	if err := requireText("comment", comment, "Evalueringen kan ikke sendes tilbage.",
		"Skriv, hvad der mangler i evalueringen, så forslagsstilleren ved, hvad der skal rettes."); err != nil {
		return domain.Initiative{}, err
	}
	return s.vote(ctx, t, Vote{Matter: domain.MatterEvaluation, Outcome: domain.OutcomeRequestChanges, Comment: comment}, k)
}

// Vote is a board member's vote on an open matter.
type Vote struct {
	Matter  domain.MatterKind // "" or proposal, milestone, evaluation, change, cancellation
	No      int               // the milestone, for matter milestone
	Outcome domain.Outcome
	Comment string
}

// CastVote casts the board member's vote on the matter v names: the one way in for every vote (the API's
// decision endpoint). The target is ActDecide's (any matter: every vote has the same role gate) or the matter's
// own action. What the vote means is the workflow's rule: on a milestone report or the evaluation approve accepts
// it and request_changes sends it back; on a change approve accepts the change; on a cancellation approve cancels
// the initiative.
func (s *Service) CastVote(ctx context.Context, t *Target, v Vote, k Idem) (domain.Initiative, error) {
	if t == nil {
		return domain.Initiative{}, fmt.Errorf("service: no target for a vote")
	}
	want, ok := voteKinds[normalMatter(v.Matter)]
	if ok && t.Kind != ActDecide && !slices.Contains(want, t.Kind) {
		return domain.Initiative{}, fmt.Errorf("service: target of action %s used for a vote on %q", t.Kind, v.Matter)
	}
	if !ok && t.Kind != ActDecide {
		return domain.Initiative{}, fmt.Errorf("service: target of action %s used for a vote on %q", t.Kind, v.Matter)
	}
	return s.vote(ctx, t, v, k)
}

// VoteCancel casts the board member's vote on the open proposal to cancel the initiative: approve cancels it.
func (s *Service) VoteCancel(ctx context.Context, t *Target, outcome domain.Outcome, comment string, k Idem) (domain.Initiative, error) {
	if err := t.is(ActVoteCancel); err != nil {
		return domain.Initiative{}, err
	}
	return s.vote(ctx, t, Vote{Matter: domain.MatterCancellation, Outcome: outcome, Comment: comment}, k)
}

// VoteChange casts the board member's vote on the open change request (where the change moves less than the
// plan's reallocation threshold, the chair's decision): approve puts it in force (or, for a strategic change,
// sends it on to Landsbyggefonden); reject turns it down. request_changes is refused: a change is approved or not.
func (s *Service) VoteChange(ctx context.Context, t *Target, outcome domain.Outcome, comment string, k Idem) (domain.Initiative, error) {
	if err := t.is(ActVoteChange); err != nil {
		return domain.Initiative{}, err
	}
	return s.vote(ctx, t, Vote{Matter: domain.MatterChange, Outcome: outcome, Comment: comment}, k)
}

// voteKinds are the actions that vote on each matter.
var voteKinds = map[domain.MatterKind][]ActionKind{
	domain.MatterProposal:     {ActDecide},
	domain.MatterMilestone:    {ActAcceptMilestone, ActReturnMilestone},
	domain.MatterEvaluation:   {ActAcceptEvaluation, ActReturnEvaluation},
	domain.MatterChange:       {ActVoteChange},
	domain.MatterCancellation: {ActVoteCancel},
}

// normalMatter is the matter kind, with "" as the proposal.
func normalMatter(k domain.MatterKind) domain.MatterKind {
	if k == "" {
		return domain.MatterProposal
	}
	return k
}

// vote sends the vote after checking that it names a matter the board votes on.
func (s *Service) vote(ctx context.Context, t *Target, v Vote, k Idem) (domain.Initiative, error) {
	if err := checkMatter(v.Matter, v.No, "Stemmen kan ikke registreres."); err != nil {
		return domain.Initiative{}, err
	}
	return s.update(ctx, t, workflows.DecideInput{Actor: t.actor(), Outcome: v.Outcome, Comment: v.Comment,
		Matter: v.Matter, No: v.No}, k)
}

// checkMatter refuses (CodeValidation) a matter the board does not vote on through these actions, a milestone
// vote without a milestone and a milestone number on another matter. The workflow decides whether the matter is
// open.
func checkMatter(matter domain.MatterKind, no int, message string) error {
	var ps []domain.FieldProblem
	switch _, ok := voteKinds[normalMatter(matter)]; {
	case !ok:
		ps = append(ps, domain.FieldProblem{Field: "matter", Code: "unknown", Message: fmt.Sprintf(
			"Ukendt sag %q; brug proposal, milestone, evaluation, change eller cancellation.", shortText(string(matter)))})
	case matter == domain.MatterMilestone && no < 1:
		ps = append(ps, domain.FieldProblem{Field: "milestone_no", Code: "required",
			Message: "Angiv milepælens nummer (fra 1 og op)."})
	case matter != domain.MatterMilestone && no != 0:
		ps = append(ps, domain.FieldProblem{Field: "milestone_no", Code: "not_allowed",
			Message: "Milepælens nummer angives kun for en milepælsrapport."})
	}
	if len(ps) > 0 {
		return &domain.RuleError{Code: domain.CodeValidation, Message: message, Problems: ps}
	}
	return nil
}

// DeclareConflict declares the board member's conflict of interest (inhabilitet) on the initiative, with the
// reason (required): from then on they do not vote on its matters.
func (s *Service) DeclareConflict(ctx context.Context, t *Target, reason string, k Idem) (domain.Initiative, error) {
	if err := t.is(ActDeclareConflict); err != nil {
		return domain.Initiative{}, err
	}
	if err := requireText("reason", reason, "Inhabiliteten kan ikke registreres.",
		"Skriv, hvorfor du er inhabil, fx din tilknytning til indsatsen."); err != nil {
		return domain.Initiative{}, err
	}
	return s.update(ctx, t, workflows.DeclareConflictInput{Actor: t.actor(), Reason: reason}, k)
}

// ProposeCancel opens the board's vote on cancelling the approved initiative, with the reason (required).
func (s *Service) ProposeCancel(ctx context.Context, t *Target, reason string, k Idem) (domain.Initiative, error) {
	if err := t.is(ActProposeCancel); err != nil {
		return domain.Initiative{}, err
	}
	if err := requireText("reason", reason, "Annulleringen kan ikke foreslås.",
		"Skriv, hvorfor indsatsen bør annulleres."); err != nil {
		return domain.Initiative{}, err
	}
	return s.update(ctx, t, workflows.ProposeCancelInput{Actor: t.actor(), Reason: reason}, k)
}

// MeetingVotes is the votes taken on one matter at a board meeting: who was present and how each voted. Members who
// did not vote were absent.
type MeetingVotes struct {
	ID      string            // the meeting: the ID of one of the plan's meetings (store.Meeting.ID)
	Matter  domain.MatterKind // "" or proposal, milestone, evaluation, change, cancellation
	No      int               // the milestone, for matter milestone
	Present []string          // user IDs
	Votes   []workflows.MeetingVote
	Comment string
}

// MeetingDecision records the votes the board took at a meeting on one matter; the chair or an admin records them.
// The meeting must be one of the plan's meetings that was not cancelled (CodeValidation on meeting_id otherwise);
// the store must read meetings (GetMeeting, as *store.Store does).
func (s *Service) MeetingDecision(ctx context.Context, t *Target, m MeetingVotes, k Idem) (domain.Initiative, error) {
	if err := t.is(ActMeetingDecision); err != nil {
		return domain.Initiative{}, err
	}
	if err := checkMatter(m.Matter, m.No, "Mødets afstemning kan ikke registreres."); err != nil {
		return domain.Initiative{}, err
	}
	if err := requireText("meeting_id", m.ID, "Mødets afstemning kan ikke registreres.",
		"Vælg mødet på listen over bestyrelsens møder."); err != nil {
		return domain.Initiative{}, err
	}
	if err := s.checkMeeting(ctx, t.Initiative.PlanID, m.ID); err != nil {
		return domain.Initiative{}, err
	}
	return s.update(ctx, t, workflows.MeetingDecisionInput{Actor: t.actor(), MeetingID: m.ID, Matter: m.Matter,
		No: m.No, Present: m.Present, Votes: m.Votes, Comment: m.Comment}, k)
}

// meetingReader reads one meeting of a plan (implemented by *store.Store; see BoardStore).
type meetingReader interface {
	GetMeeting(ctx context.Context, planID, id string) (store.Meeting, error)
}

// checkMeeting refuses (CodeValidation, on meeting_id) a meeting that is not one of the plan's meetings, or that
// was cancelled: the votes of a meeting are recorded against the plan's own list of meetings, so the decision
// names a meeting that was scheduled and held.
func (s *Service) checkMeeting(ctx context.Context, planID, id string) error {
	mr, ok := s.st.(meetingReader)
	if !ok {
		return errNoBoardStore
	}
	refuse := func(msg string) error {
		return &domain.RuleError{Code: domain.CodeValidation, Message: "Mødets afstemning kan ikke registreres.",
			Problems: []domain.FieldProblem{{Field: "meeting_id", Code: "unknown_meeting", Message: msg}}}
	}
	if len(id) > MaxIDLen {
		return refuse("Mødet findes ikke i planens liste over bestyrelsesmøder. Vælg et af planens møder.")
	}
	m, err := mr.GetMeeting(ctx, planID, id)
	if errors.Is(err, store.ErrNotFound) {
		return refuse(fmt.Sprintf("Mødet „%s“ findes ikke i planens liste over bestyrelsesmøder. Vælg et af planens møder.",
			shortText(id)))
	}
	if err != nil {
		return fmt.Errorf("meeting %s/%s: %w", planID, id, err)
	}
	if m.Cancelled() {
		return &domain.RuleError{Code: domain.CodeValidation, Message: "Mødets afstemning kan ikke registreres.",
			Problems: []domain.FieldProblem{{Field: "meeting_id", Code: "meeting_cancelled", Message: fmt.Sprintf(
				"Mødet „%s“ den %s er aflyst. Vælg det møde, hvor bestyrelsen stemte.", m.Title, m.HeldOn)}}}
	}
	return nil
}

// RequestChange asks to change the approved initiative: the budget and milestone plan it should have, and why.
// problems are those the caller found reading the user's input (amounts or dates that did not parse); they are
// reported together with the rules' own. The rules are the workflow's (domain.CheckRequestChange), checked here
// against the plan and the money free in the ledger so the user hears about every problem at once; the workflow
// checks again, and the reservation re-checks the funds under a lock when the change takes effect.
func (s *Service) RequestChange(ctx context.Context, t *Target, reason string, budget []domain.SourceAmount,
	milestones []domain.MilestonePlan, problems []domain.FieldProblem, k Idem) (domain.Initiative, error) {
	if err := t.is(ActRequestChange); err != nil {
		return domain.Initiative{}, err
	}
	plan, err := s.st.GetPlan(ctx, t.Initiative.PlanID)
	if err != nil {
		return domain.Initiative{}, fmt.Errorf("get plan %s: %w", t.Initiative.PlanID, err)
	}
	available, err := s.st.Available(ctx, plan.ID)
	if err != nil {
		return domain.Initiative{}, fmt.Errorf("available funds of plan %s: %w", plan.ID, err)
	}
	_, err = domain.CheckRequestChange(&t.Initiative, plan, t.actor(), reason, budget, milestones, available)
	if err := withInputProblems(err, problems, "Ændringen kan ikke anmodes om."); err != nil {
		return domain.Initiative{}, err
	}
	return s.update(ctx, t, workflows.RequestChangeInput{Actor: t.actor(), Reason: reason, Budget: budget,
		Milestones: milestones}, k)
}

// RecordLBF records Landsbyggefondens answer to strategic change no, from its letter: approved puts the change in
// force; not approved ends it. problems are as for RequestChange (a letter date that did not parse). The
// reference is trimmed: a stray space would otherwise be part of the journal number.
func (s *Service) RecordLBF(ctx context.Context, t *Target, no int, approved bool, letter domain.Date, reference string,
	problems []domain.FieldProblem, k Idem) (domain.Initiative, error) {
	if err := t.is(ActRecordLBF); err != nil {
		return domain.Initiative{}, err
	}
	reference = strings.TrimSpace(reference)
	err := domain.CheckLBFApproval(&t.Initiative, t.actor(), no, letter, reference)
	if err := withInputProblems(err, problems, "Landsbyggefondens svar kan ikke registreres."); err != nil {
		return domain.Initiative{}, err
	}
	return s.update(ctx, t, workflows.RecordLBFInput{Actor: t.actor(), ChangeNo: no, Approved: approved,
		LetterDate: letter, Reference: reference}, k)
}

// withInputProblems joins a rule's verdict on the input with the problems found reading it (see mergeProblems):
// nil when both are clean; a refusal that is not about the fields (forbidden, wrong phase, conflict) as it is;
// otherwise one refusal with every field's problem. msg is the message when the rule found nothing itself.
func withInputProblems(verdict error, input []domain.FieldProblem, msg string) error {
	if verdict == nil && len(input) == 0 {
		return nil
	}
	var re *domain.RuleError
	if verdict != nil {
		if !errors.As(verdict, &re) {
			return verdict
		}
		if re.Code != domain.CodeValidation && re.Code != domain.CodeInsufficientFunds {
			return verdict
		}
		if len(input) == 0 {
			return verdict
		}
		return &domain.RuleError{Code: domain.CodeValidation, Message: re.Message,
			Problems: mergeProblems(re.Problems, input)}
	}
	return &domain.RuleError{Code: domain.CodeValidation, Message: msg, Problems: input}
}

// requireText refuses (CodeValidation, on field) a text that is empty or only spaces.
func requireText(field, value, message, problem string) error {
	if strings.TrimSpace(value) != "" {
		return nil
	}
	return &domain.RuleError{Code: domain.CodeValidation, Message: message,
		Problems: []domain.FieldProblem{{Field: field, Code: "required", Message: problem}}}
}

// shortText cuts a value the user sent before a message quotes it back.
func shortText(s string) string {
	const max = 40
	for i := range s {
		if i > max {
			return s[:i] + "…"
		}
	}
	return s
}

// ConfirmPayment confirms that finance paid the target's disbursement with reference (trimmed: a stray space
// would otherwise count as another reference) and returns the disbursement as recorded afterwards. Its update ID
// is ConfirmUpdateID, whoever asks: confirming the same payment with the same reference twice is one action.
func (s *Service) ConfirmPayment(ctx context.Context, t *Target, reference string) (store.Disbursement, error) {
	if err := t.is(ActConfirmPayment); err != nil {
		return store.Disbursement{}, err
	}
	id := t.Disbursement.ID
	ref := strings.TrimSpace(reference)
	if _, err := s.wf.Update(ctx, t.Initiative.ID, workflows.UpdateConfirmPayment, ConfirmUpdateID(id, ref),
		workflows.ConfirmPaymentInput{Actor: t.actor(), DisbursementID: id, Reference: ref}); err != nil {
		return store.Disbursement{}, err
	}
	d, err := s.st.GetDisbursement(ctx, id)
	if err != nil {
		return store.Disbursement{}, fmt.Errorf("get disbursement %s after payment: %w", id, err)
	}
	return d, nil
}

// is refuses a target made for another action: a programming error, never the user's.
func (t *Target) is(kind ActionKind) error {
	if t == nil {
		return fmt.Errorf("service: no target for action %s", kind)
	}
	if t.Kind != kind {
		return fmt.Errorf("service: target of action %s used for %s", t.Kind, kind)
	}
	return nil
}

// update runs the target's workflow update and returns the initiative as recorded afterwards.
func (s *Service) update(ctx context.Context, t *Target, arg any, k Idem) (domain.Initiative, error) {
	id := t.Initiative.ID
	res, err := s.wf.Update(ctx, id, actionRules[t.Kind].update, k.UpdateID(), arg)
	if err != nil {
		return domain.Initiative{}, err
	}
	return s.recorded(ctx, id, res)
}

// recorded reads the initiative an update (or the start) has just written, from the read model. The workflow
// writes before it answers, so the read model holds at least res.Version; if it does not, the answer is
// ErrReadModelBehind (retry with the same Idem), never an initiative older than the action the user is told
// succeeded.
func (s *Service) recorded(ctx context.Context, id string, res workflows.UpdateResult) (domain.Initiative, error) {
	if res.InitiativeID != "" && res.InitiativeID != id {
		return domain.Initiative{}, fmt.Errorf("workflow of initiative %s answered for initiative %s", id, res.InitiativeID)
	}
	in, err := s.st.GetInitiative(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		s.log.WarnContext(ctx, "read model behind the workflow", "initiative_id", id, "workflow_version", res.Version)
		return domain.Initiative{}, fmt.Errorf("%w: initiative %s at version %d is not in the read model (%v)",
			ErrReadModelBehind, id, res.Version, err)
	}
	if err != nil {
		return domain.Initiative{}, fmt.Errorf("get initiative %s after update: %w", id, err)
	}
	if in.Version < res.Version {
		s.log.WarnContext(ctx, "read model behind the workflow", "initiative_id", id,
			"read_model_version", in.Version, "workflow_version", res.Version)
		return domain.Initiative{}, fmt.Errorf("%w: initiative %s: read model at version %d, workflow at %d",
			ErrReadModelBehind, id, in.Version, res.Version)
	}
	return in, nil
}

// MsgProposalInvalid is the message of a proposal refused for its fields when no rule gave a more specific one.
const MsgProposalInvalid = "Forslaget kan ikke indsendes, fordi nogle felter ikke overholder reglerne."

// checkProposal validates a proposal against the plan and the money still free in the ledger, so the proposer
// hears about every problem at once instead of one per round trip. The workflow validates again (without the
// ledger) and the reservation at approval enforces the funds under a lock; this check is for the user.
// input holds the problems the caller found reading the input (fields missing, null, with forbidden characters,
// or not parsing, such as a date). They are reported with the rules' own, one problem per field: where the rule
// names the field with the same code, its message (which says more) is kept; otherwise the input problem is, as
// the rule only saw the zero value standing in for it.
func (s *Service) checkProposal(ctx context.Context, plan domain.Plan, p *domain.Proposal, input []domain.FieldProblem) error {
	available, err := s.st.Available(ctx, plan.ID)
	if err != nil {
		return fmt.Errorf("available funds of plan %s: %w", plan.ID, err)
	}
	verr := domain.ValidateProposal(plan, p, available)
	if verr == nil && len(input) == 0 {
		return nil
	}
	msg := MsgProposalInvalid
	var rules []domain.FieldProblem
	if verr != nil {
		var re *domain.RuleError
		if !errors.As(verr, &re) {
			return verr
		}
		msg, rules = re.Message, re.Problems
	}
	return &domain.RuleError{Code: domain.CodeValidation, Message: msg, Problems: mergeProblems(rules, input)}
}

// mergeProblems reports the rules' problems with those found reading the input, one problem per field: where the
// rule names the field with the same code, its message (which says more) is kept; otherwise the input problem is,
// as the rule only saw the zero value standing in for it.
func mergeProblems(rules, input []domain.FieldProblem) []domain.FieldProblem {
	fromInput := map[string]bool{}
	for _, fp := range input {
		fromInput[fp.Field] = true
	}
	ruled := map[string]bool{} // input fields whose problem the rule reports in its own words
	for _, fp := range rules {
		if slices.ContainsFunc(input, func(in domain.FieldProblem) bool { return in.Field == fp.Field && in.Code == fp.Code }) {
			ruled[fp.Field] = true
		}
	}
	var problems []domain.FieldProblem
	for _, fp := range input {
		if !ruled[fp.Field] {
			problems = append(problems, fp)
		}
	}
	for _, fp := range rules {
		if !fromInput[fp.Field] || ruled[fp.Field] {
			problems = append(problems, fp)
		}
	}
	return problems
}
