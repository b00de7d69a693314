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
	ActDecide           ActionKind = "decide"
	ActResubmit         ActionKind = "resubmit"
	ActWithdraw         ActionKind = "withdraw"
	ActReportMilestone  ActionKind = "report_milestone"
	ActAcceptMilestone  ActionKind = "accept_milestone"
	ActSubmitEvaluation ActionKind = "submit_evaluation"
	ActAcceptEvaluation ActionKind = "accept_evaluation"
	ActConfirmPayment   ActionKind = "confirm_payment"
)

// ActionKinds lists every action on an initiative.
var ActionKinds = []ActionKind{ActDecide, ActResubmit, ActWithdraw, ActReportMilestone, ActAcceptMilestone,
	ActSubmitEvaluation, ActAcceptEvaluation, ActConfirmPayment}

// actionRule is who may attempt an action (the role gate before the workflow's own rule), the Danish phrase that
// completes "Kun <rolle> kan ...", the workflow update that carries it out, and its Danish label.
type actionRule struct {
	phrase string
	roles  []domain.Role
	update string
	label  string
}

var actionRules = map[ActionKind]actionRule{
	ActDecide: {"træffe beslutning om et forslag", []domain.Role{domain.RoleBoard},
		workflows.UpdateDecide, "Træf beslutning"},
	// The admin may resubmit too; the workflow's rule decides who exactly (the proposer, or an admin).
	ActResubmit: {"indsende et revideret forslag", []domain.Role{domain.RoleOperationalGroup, domain.RoleAdmin},
		workflows.UpdateResubmit, "Revidér forslaget"},
	ActWithdraw: {"trække et forslag tilbage", []domain.Role{domain.RoleOperationalGroup},
		workflows.UpdateWithdraw, "Træk forslaget tilbage"},
	ActReportMilestone: {"rapportere på en milepæl", []domain.Role{domain.RoleOperationalGroup},
		workflows.UpdateReportMilestone, "Rapportér på milepælen"},
	ActAcceptMilestone: {"godkende en milepæl", []domain.Role{domain.RoleBoard},
		workflows.UpdateAcceptMilestone, "Godkend milepælen"},
	ActSubmitEvaluation: {"indsende en evaluering", []domain.Role{domain.RoleOperationalGroup},
		workflows.UpdateSubmitEvaluation, "Indsend evaluering"},
	ActAcceptEvaluation: {"godkende en evaluering", []domain.Role{domain.RoleBoard},
		workflows.UpdateAcceptEvaluation, "Godkend evalueringen"},
	ActConfirmPayment: {"bekræfte en udbetaling", []domain.Role{domain.RoleFinance},
		workflows.UpdateConfirmPayment, "Bekræft udbetaling"},
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

// Decide casts the board member's ballot (approve, reject or request_changes; a comment is required unless
// approving).
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

// AcceptMilestone accepts milestone no's report, which releases the next tranche.
func (s *Service) AcceptMilestone(ctx context.Context, t *Target, no int, comment string, k Idem) (domain.Initiative, error) {
	if err := t.is(ActAcceptMilestone); err != nil {
		return domain.Initiative{}, err
	}
	return s.update(ctx, t, workflows.AcceptMilestoneInput{Actor: t.actor(), No: no, Comment: comment}, k)
}

// SubmitEvaluation submits the evaluation against each goal.
func (s *Service) SubmitEvaluation(ctx context.Context, t *Target, summary string, results []domain.GoalResult, k Idem) (domain.Initiative, error) {
	if err := t.is(ActSubmitEvaluation); err != nil {
		return domain.Initiative{}, err
	}
	return s.update(ctx, t, workflows.SubmitEvaluationInput{Actor: t.actor(), Summary: summary, Results: results}, k)
}

// AcceptEvaluation accepts the evaluation, which completes the initiative.
func (s *Service) AcceptEvaluation(ctx context.Context, t *Target, comment string, k Idem) (domain.Initiative, error) {
	if err := t.is(ActAcceptEvaluation); err != nil {
		return domain.Initiative{}, err
	}
	return s.update(ctx, t, workflows.AcceptEvaluationInput{Actor: t.actor(), Comment: comment}, k)
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
	return &domain.RuleError{Code: domain.CodeValidation, Message: msg, Problems: problems}
}
