package service

import (
	"errors"
	"slices"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

// Action is one action a user may take on an initiative now.
type Action struct {
	Kind ActionKind
	// Matter is the board matter a vote or a meeting decision is about (ActDecide, ActVoteCancel, ActVoteChange,
	// ActAcceptMilestone, ActReturnMilestone, ActAcceptEvaluation, ActReturnEvaluation, ActMeetingDecision);
	// "" otherwise.
	Matter domain.MatterKind
	// Milestone is the milestone acted on (1-based) for ActReportMilestone, ActAcceptMilestone,
	// ActReturnMilestone, a meeting decision on a milestone report and ActConfirmPayment (the milestone whose
	// tranche is paid); 0 otherwise.
	Milestone int
	// DisbursementID is the disbursement to confirm, for ActConfirmPayment.
	DisbursementID string
	// Change is the change request acted on, for ActVoteChange, ActRecordLBF and a meeting decision on a change;
	// 0 otherwise.
	Change int
}

// probeReference stands in for the payment reference finance will type: CheckConfirmPayment refuses an empty one
// before it looks at the tranche.
const probeReference = "?"

// probeLetterDate stands in for the date of Landsbyggefonden's letter, which the secretariat will type.
var probeLetterDate = domain.NewDate(2000, 1, 1)

// Allowed lists the actions p may take on the initiative now, in the order of ActionKinds: those their role may
// attempt (Begin's gate) and that the workflow's own rule would accept with some input from the user. A rule that
// only objects to the input (CodeValidation: a missing comment, an empty summary) counts as allowed, since the
// user is about to supply it; any other refusal (wrong phase, not the proposer, already voted, already reported,
// tranche not released) means the action is not offered. An initiative of a plan p has no role in allows nothing.
//
// plan is the initiative's plan: its board (members, chair, rules; nil for a plan without one) decides who votes.
// A board member votes on an open round (OpenRounds) unless they declared a conflict, proposed the initiative,
// already voted in it, or the chair decides the matter alone and they are not the chair; Round.Member says which.
// Without a board on record any board member votes, once per round.
func Allowed(p store.Principal, in domain.Initiative, plan domain.Plan) []Action {
	role, ok := p.Roles[in.PlanID]
	if !ok {
		return nil
	}
	a := actor(p, role)
	var out []Action
	offer := func(act Action, check func() error) {
		rule := actionRules[act.Kind]
		if RequireRole(role, rule.phrase, rule.roles...) != nil {
			return
		}
		if err := check(); err != nil {
			var re *domain.RuleError
			if !errors.As(err, &re) || re.Code != domain.CodeValidation {
				return
			}
		}
		out = append(out, act)
	}
	offer(Action{Kind: ActResubmit}, func() error {
		return domain.CheckResubmit(&in, a, domain.Plan{}, &domain.Proposal{}, "")
	})
	offer(Action{Kind: ActWithdraw}, func() error { return domain.CheckWithdraw(&in, a, "") })
	if cur := in.CurrentMilestone(); cur != nil {
		no := cur.No
		offer(Action{Kind: ActReportMilestone, Milestone: no}, func() error { return domain.CheckReport(&in, a, no, "", 0) })
	}
	offer(Action{Kind: ActSubmitEvaluation}, func() error { return domain.CheckSubmitEvaluation(&in, a, "", nil, nil) })
	for _, m := range in.Milestones {
		if m.DisbursementID == "" || m.TrancheStatus != domain.TrancheReleased {
			continue
		}
		act := Action{Kind: ActConfirmPayment, Milestone: m.No, DisbursementID: m.DisbursementID}
		offer(act, func() error { return domain.CheckConfirmPayment(&in, a, m.DisbursementID, probeReference) })
	}
	// A change request: the rule objects to the empty reason and plan (CodeValidation) only when the user may ask.
	offer(Action{Kind: ActRequestChange}, func() error {
		_, err := domain.CheckRequestChange(&in, plan, a, "", nil, nil, nil)
		return err
	})
	if c := in.OpenChange(); c != nil && c.Status == domain.ChangeAwaitingLBF {
		no := c.No
		offer(Action{Kind: ActRecordLBF, Change: no}, func() error {
			return domain.CheckLBFApproval(&in, a, no, probeLetterDate, probeReference)
		})
	}
	for _, act := range boardActions(p.UserID, role, in, plan) {
		offer(act, func() error { return boardRule(&in, plan, a, act) })
	}
	slices.SortStableFunc(out, func(x, y Action) int {
		return slices.Index(ActionKinds, x.Kind) - slices.Index(ActionKinds, y.Kind)
	})
	return out
}

// boardActions are the board's actions open to the user: votes on the open rounds, the conflict declaration, the
// proposal to cancel and the meeting decision.
func boardActions(userID string, role domain.Role, in domain.Initiative, plan domain.Plan) []Action {
	if in.Phase.Terminal() || (role != domain.RoleBoard && role != domain.RoleAdmin) {
		return nil
	}
	b := plan.Board
	conflicted := slices.ContainsFunc(in.Conflicts, func(c domain.Conflict) bool { return c.UserID == userID })
	// onBoard: a member of the board on record, or any board member where there is none.
	onBoard := role == domain.RoleBoard && (!b.Voting() || b.IsMember(userID))
	rounds := OpenRounds(in, plan)
	var out []Action
	if role == domain.RoleBoard {
		for _, r := range rounds {
			if r.Member(userID, role).Status != MemberMayVote {
				continue
			}
			for _, k := range voteKinds[r.Matter] {
				out = append(out, Action{Kind: k, Matter: r.Matter, Milestone: r.No, Change: r.Change})
			}
		}
	}
	cancelOpen := in.Cancellation != nil && !in.Cancellation.Decided
	if in.Phase.Approved() && !cancelOpen && (role == domain.RoleAdmin || (onBoard && !conflicted)) {
		out = append(out, Action{Kind: ActProposeCancel})
	}
	if onBoard && !conflicted {
		out = append(out, Action{Kind: ActDeclareConflict})
	}
	// The votes of a meeting are recorded by the chair or an admin, for a board that votes by its rules, on a
	// matter the board votes on (not one the chair decides alone).
	if b.Voting() && (role == domain.RoleAdmin || (role == domain.RoleBoard && userID == b.Chair && !conflicted)) {
		for _, r := range rounds {
			if !r.ChairAlone {
				out = append(out, Action{Kind: ActMeetingDecision, Matter: r.Matter, Milestone: r.No, Change: r.Change})
			}
		}
	}
	return out
}

// boardRule is the workflow's own rule for a board action the user's standing in the round allows (see
// boardActions), with probe input: so an action is offered only when the workflow would take it.
func boardRule(in *domain.Initiative, plan domain.Plan, a domain.Actor, act Action) error {
	switch act.Kind {
	case ActDecide, ActVoteCancel, ActVoteChange, ActAcceptMilestone, ActAcceptEvaluation:
		return domain.CheckBoardVote(in, plan, a, act.Matter, act.Milestone, domain.OutcomeApprove, "")
	case ActReturnMilestone, ActReturnEvaluation:
		return domain.CheckBoardVote(in, plan, a, act.Matter, act.Milestone, domain.OutcomeRequestChanges, "")
	case ActDeclareConflict:
		return domain.CheckDeclareConflict(in, plan, a, "")
	case ActProposeCancel:
		return domain.CheckProposeCancel(in, a, "")
	case ActMeetingDecision:
		// The meeting's votes are what the user is about to enter; the matter must be open.
		_, err := domain.OpenMatter(in, act.Matter, act.Milestone)
		return err
	}
	return nil
}

// Allows reports whether Allowed(p, in, plan) offers an action of kind.
func Allows(p store.Principal, in domain.Initiative, plan domain.Plan, kind ActionKind) bool {
	for _, a := range Allowed(p, in, plan) {
		if a.Kind == kind {
			return true
		}
	}
	return false
}
