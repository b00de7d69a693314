package service

import (
	"errors"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

// Action is one action a user may take on an initiative now.
type Action struct {
	Kind ActionKind
	// Milestone is the milestone acted on (1-based) for ActReportMilestone, ActAcceptMilestone and
	// ActConfirmPayment (the milestone whose tranche is paid); 0 otherwise.
	Milestone int
	// DisbursementID is the disbursement to confirm, for ActConfirmPayment.
	DisbursementID string
}

// probeReference stands in for the payment reference finance will type: CheckConfirmPayment refuses an empty one
// before it looks at the tranche.
const probeReference = "?"

// Allowed lists the actions p may take on the initiative now, in the order of ActionKinds: those their role may
// attempt (Begin's gate) and that the workflow's own rule (domain.Check*, which its update validators run) would
// accept with some input from the user. A rule that only objects to the input (CodeValidation: a missing comment,
// an empty summary) counts as allowed, since the user is about to supply it; any other refusal (wrong phase, not
// the proposer, already voted, already reported, tranche not released) means the action is not offered. An
// initiative of a plan p has no role in allows nothing.
func Allowed(p store.Principal, in domain.Initiative) []Action {
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
	offer(Action{Kind: ActDecide}, func() error {
		return domain.CheckBallot(&in, domain.Ballot{Revision: in.Revision, Actor: a, Outcome: domain.OutcomeApprove})
	})
	offer(Action{Kind: ActResubmit}, func() error {
		return domain.CheckResubmit(&in, a, domain.Plan{}, &domain.Proposal{}, "")
	})
	offer(Action{Kind: ActWithdraw}, func() error { return domain.CheckWithdraw(&in, a, "") })
	if cur := in.CurrentMilestone(); cur != nil {
		no := cur.No
		offer(Action{Kind: ActReportMilestone, Milestone: no}, func() error { return domain.CheckReport(&in, a, no, "", 0) })
		offer(Action{Kind: ActAcceptMilestone, Milestone: no}, func() error { return domain.CheckAcceptMilestone(&in, a, no, "") })
	}
	offer(Action{Kind: ActSubmitEvaluation}, func() error { return domain.CheckSubmitEvaluation(&in, a, "", nil) })
	offer(Action{Kind: ActAcceptEvaluation}, func() error { return domain.CheckAcceptEvaluation(&in, a, "") })
	for _, m := range in.Milestones {
		if m.DisbursementID == "" || m.TrancheStatus != domain.TrancheReleased {
			continue
		}
		act := Action{Kind: ActConfirmPayment, Milestone: m.No, DisbursementID: m.DisbursementID}
		offer(act, func() error { return domain.CheckConfirmPayment(&in, a, m.DisbursementID, probeReference) })
	}
	return out
}

// Allows reports whether Allowed(p, in) offers an action of kind.
func Allows(p store.Principal, in domain.Initiative, kind ActionKind) bool {
	for _, a := range Allowed(p, in) {
		if a.Kind == kind {
			return true
		}
	}
	return false
}
