package workflows

import (
	"encoding/json"
	"fmt"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/helhedsplan/helhedsplan/activities"
	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

// Event types written to the event log.
const (
	EventSubmitted         = "submitted"
	EventBallotCast        = "ballot_cast"
	EventApproved          = "approved"
	EventRejected          = "rejected"
	EventChangesRequested  = "changes_requested"
	EventResubmitted       = "resubmitted"
	EventWithdrawn         = "withdrawn"
	EventTrancheReleased   = "tranche_released"
	EventPaymentConfirmed  = "payment_confirmed"
	EventMilestoneReported = "milestone_reported"
	EventMilestoneAccepted = "milestone_accepted"
	EventEvaluationSent    = "evaluation_submitted"
	EventEvaluationOK      = "evaluation_accepted"
)

// ActivityOptions are used for every activity. The activities are local activities: each is one short database
// transaction, so running it inside the workflow task (no round trip through a task queue, no second workflow
// task) cuts an update's latency several-fold. If the worker dies mid-write, the workflow task times out and the
// next worker runs the activity again; its idempotency keys make that rerun write nothing new. Retries go on until
// the database is back: an approved initiative must not be lost because PostgreSQL was down.
var ActivityOptions = workflow.LocalActivityOptions{
	StartToCloseTimeout: 10 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    time.Minute,
		// Business-rule refusals are not retried: activities return them as non-retryable application errors.
	},
}

// initiative is one initiative's workflow: its state and the handlers that change it. Handlers run one at a time
// (mu): each computes the next state, has an activity write it, and only then adopts it, so the workflow's state
// never runs ahead of PostgreSQL and an update returns only after its write.
type initiative struct {
	plan  domain.Plan
	state domain.Initiative
	mu    workflow.Mutex
	log   log.Logger
}

// Initiative runs one initiative from proposal to completion (or rejection or withdrawal).
func Initiative(ctx workflow.Context, in StartInput) (domain.Initiative, error) {
	w := &initiative{
		plan: in.Plan,
		state: domain.Initiative{
			ID:       in.InitiativeID,
			PlanID:   in.Plan.ID,
			Proposer: in.Proposer,
			Proposal: in.Proposal,
		},
		log: log.With(workflow.GetLogger(ctx), "initiative_id", in.InitiativeID),
	}
	if err := domain.ValidateProposal(w.plan, &w.state.Proposal, nil); err != nil {
		// The API validated already; a bad start is a caller bug and must not create an initiative.
		return domain.Initiative{}, temporal.NewNonRetryableApplicationError(err.Error(), string(domain.CodeValidation), err)
	}
	if err := w.setup(ctx); err != nil {
		return domain.Initiative{}, err
	}
	return w.run(ctx)
}

func (w *initiative) setup(ctx workflow.Context) error {
	w.mu = workflow.NewMutex(ctx)
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (domain.Initiative, error) { return w.state, nil }); err != nil {
		return err
	}
	handlers := []struct {
		name      string
		handler   any
		validator any
	}{
		{UpdateSync, w.sync, nil},
		{UpdateDecide, w.decide, func(in DecideInput) error { return reject(domain.CheckBallot(&w.state, w.ballot(ctx, in))) }},
		{UpdateResubmit, w.resubmit, func(in ResubmitInput) error {
			return reject(domain.CheckResubmit(&w.state, in.Actor, w.plan, &in.Proposal, in.Comment))
		}},
		{UpdateWithdraw, w.withdraw, func(in WithdrawInput) error { return reject(domain.CheckWithdraw(&w.state, in.Actor, in.Reason)) }},
		{UpdateReportMilestone, w.reportMilestone, func(in ReportMilestoneInput) error {
			return reject(domain.CheckReport(&w.state, in.Actor, in.No, in.Summary, in.SpentØre))
		}},
		{UpdateAcceptMilestone, w.acceptMilestone, func(in AcceptMilestoneInput) error {
			return reject(domain.CheckAcceptMilestone(&w.state, in.Actor, in.No, in.Comment))
		}},
		{UpdateSubmitEvaluation, w.submitEvaluation, func(in SubmitEvaluationInput) error {
			return reject(domain.CheckSubmitEvaluation(&w.state, in.Actor, in.Summary, in.Results))
		}},
		{UpdateAcceptEvaluation, w.acceptEvaluation, func(in AcceptEvaluationInput) error {
			return reject(domain.CheckAcceptEvaluation(&w.state, in.Actor, in.Comment))
		}},
		{UpdateConfirmPayment, w.confirmPayment, func(in ConfirmPaymentInput) error {
			return reject(domain.CheckConfirmPayment(&w.state, in.Actor, in.DisbursementID, in.Reference))
		}},
	}
	for _, h := range handlers {
		opts := workflow.UpdateHandlerOptions{Validator: h.validator}
		if err := workflow.SetUpdateHandlerWithOptions(ctx, h.name, h.handler, opts); err != nil {
			return fmt.Errorf("register update %s: %w", h.name, err)
		}
	}
	return nil
}

func (w *initiative) run(ctx workflow.Context) (domain.Initiative, error) {
	_, err := w.transition(ctx, EventSubmitted, w.state.Proposer, nil, func(next *domain.Initiative, now time.Time) {
		next.Phase = domain.PhaseBoardReview
		next.Revision = 1
		next.Milestones = domain.MilestonesFromPlan(next.Proposal.Milestones)
		next.Decisions = []domain.Decision{}
		next.CreatedAt = now
	}, w.record)
	if err != nil {
		return domain.Initiative{}, err
	}
	if err := workflow.Await(ctx, func() bool { return w.state.Phase.Terminal() }); err != nil {
		return w.state, err
	}
	// Let an update that is still answering its caller finish before the workflow closes.
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return w.state, err
	}
	w.log.Info("Initiative closed", "phase", w.state.Phase)
	return w.state, nil
}

// writer persists one transition; it is one of the activities.
type writer func(ctx workflow.Context, tr store.Transition) error

func (w *initiative) record(ctx workflow.Context, tr store.Transition) error {
	var a *activities.Activities
	return workflow.ExecuteLocalActivity(ctx, a.RecordTransition, tr).Get(ctx, nil)
}

// transition computes the next state with change, has write persist it with its event, and adopts it. The caller
// holds w.mu (or is run, before any handler can act). On error the state is unchanged.
func (w *initiative) transition(ctx workflow.Context, eventType string, actor domain.Actor, payload any,
	change func(next *domain.Initiative, now time.Time), write writer) (domain.Initiative, error) {
	ctx = workflow.WithLocalActivityOptions(ctx, ActivityOptions) // update handlers get the root context
	now := workflow.Now(ctx).UTC()
	next, err := clone(w.state)
	if err != nil {
		return w.state, err
	}
	change(&next, now)
	next.Version = w.state.Version + 1
	next.UpdatedAt = now
	raw, err := json.Marshal(payload)
	if err != nil {
		return w.state, err
	}
	tr := store.Transition{
		Event: store.Event{
			InitiativeID: next.ID, Seq: next.Version, Type: eventType,
			ActorID: actor.UserID, ActorName: actor.Name, ActorRole: actor.Role, At: now,
			PhaseBefore: w.state.Phase, PhaseAfter: next.Phase, Payload: raw,
		},
		Snapshot: next,
	}
	if err := write(ctx, tr); err != nil {
		w.log.Warn("Transition not recorded", "event", eventType, "error", err)
		if rule, ok := activities.AsRuleError(err); ok {
			return w.state, activities.RuleApplicationError(rule)
		}
		return w.state, err
	}
	w.state = next
	w.log.Info("Transition recorded", "event", eventType, "phase", next.Phase, "version", next.Version)
	return next, nil
}

// locked runs fn holding the handler mutex, after re-checking the rule against the state as it is now: a
// validator ran before earlier updates finished, so what it saw may have changed.
func (w *initiative) locked(ctx workflow.Context, check func() error, fn func() (domain.Initiative, error)) (domain.Initiative, error) {
	if err := w.mu.Lock(ctx); err != nil {
		return w.state, err
	}
	defer w.mu.Unlock()
	if err := reject(check()); err != nil {
		return w.state, err
	}
	return fn()
}

func (w *initiative) sync(ctx workflow.Context) (domain.Initiative, error) {
	if err := workflow.Await(ctx, func() bool { return w.state.Version > 0 }); err != nil {
		return w.state, err
	}
	if err := w.mu.Lock(ctx); err != nil {
		return w.state, err
	}
	w.mu.Unlock()
	return w.state, nil
}

func (w *initiative) ballot(ctx workflow.Context, in DecideInput) domain.Ballot {
	return domain.Ballot{Revision: w.state.Revision, Actor: in.Actor, Outcome: in.Outcome, Comment: in.Comment,
		At: workflow.Now(ctx).UTC()}
}

func (w *initiative) decide(ctx workflow.Context, in DecideInput) (domain.Initiative, error) {
	return w.locked(ctx, func() error { return domain.CheckBallot(&w.state, w.ballot(ctx, in)) }, func() (domain.Initiative, error) {
		b := w.ballot(ctx, in)
		ballots := append(append([]domain.Ballot{}, w.state.Ballots...), b)
		outcome, decided := domain.Resolve(ballots, w.plan.Settings.BoardQuorum)
		if !decided {
			return w.transition(ctx, EventBallotCast, in.Actor, b, func(next *domain.Initiative, _ time.Time) {
				next.Ballots = ballots
			}, w.record)
		}
		decide := func(phase domain.Phase) func(*domain.Initiative, time.Time) {
			return func(next *domain.Initiative, now time.Time) {
				next.Phase = phase
				next.Ballots = nil
				next.Decisions = append(next.Decisions, domain.Decision{
					Revision: w.state.Revision, Outcome: outcome, Comment: b.Comment, Ballots: ballots, At: now})
			}
		}
		switch outcome {
		case domain.OutcomeReject:
			return w.transition(ctx, EventRejected, in.Actor, b, decide(domain.PhaseRejected), w.record)
		case domain.OutcomeRequestChanges:
			return w.transition(ctx, EventChangesRequested, in.Actor, b, decide(domain.PhaseChangesRequested), w.record)
		}
		if _, err := w.transition(ctx, EventApproved, in.Actor, b, decide(domain.PhaseFunding), w.reserve); err != nil {
			return w.state, err
		}
		return w.release(ctx, 1, in.Actor)
	})
}

func (w *initiative) reserve(ctx workflow.Context, tr store.Transition) error {
	var a *activities.Activities
	in := store.ReserveInput{
		PlanID: w.plan.ID, InitiativeID: w.state.ID, DelaftaleID: w.state.Proposal.DelaftaleID,
		Lines: w.state.Proposal.Budget, Transition: tr,
	}
	return workflow.ExecuteLocalActivity(ctx, a.Reserve, in).Get(ctx, nil)
}

// release releases milestone no's tranche to finance. The disbursement ID is derived from the initiative and the
// milestone, so however often this runs there is one disbursement.
func (w *initiative) release(ctx workflow.Context, no int, actor domain.Actor) (domain.Initiative, error) {
	m, _ := w.state.Milestone(no)
	id := domain.DisbursementID(w.state.ID, no)
	payload := map[string]any{"milestone_no": no, "disbursement_id": id, "tranche": m.Tranche}
	var a *activities.Activities
	return w.transition(ctx, EventTrancheReleased, actor, payload, func(next *domain.Initiative, now time.Time) {
		next.Phase = domain.PhaseFunding
		nm, _ := next.Milestone(no)
		nm.TrancheStatus = domain.TrancheReleased
		nm.DisbursementID = id
		nm.ReleasedAt = &now
	}, func(ctx workflow.Context, tr store.Transition) error {
		in := store.ReleaseInput{
			PlanID: w.plan.ID, InitiativeID: w.state.ID, DelaftaleID: w.state.Proposal.DelaftaleID,
			DisbursementID: id, MilestoneNo: no, MilestoneTitle: m.Title, Lines: m.Tranche, Transition: tr,
		}
		return workflow.ExecuteLocalActivity(ctx, a.ReleaseTranche, in).Get(ctx, nil)
	})
}

func (w *initiative) confirmPayment(ctx workflow.Context, in ConfirmPaymentInput) (domain.Initiative, error) {
	check := func() error { return domain.CheckConfirmPayment(&w.state, in.Actor, in.DisbursementID, in.Reference) }
	return w.locked(ctx, check, func() (domain.Initiative, error) {
		var m *domain.Milestone
		for i := range w.state.Milestones {
			if w.state.Milestones[i].DisbursementID == in.DisbursementID {
				m = &w.state.Milestones[i]
			}
		}
		if m.TrancheStatus == domain.TranchePaid {
			return w.state, nil // the same confirmation again: answer it with the first result
		}
		no := m.No
		var a *activities.Activities
		payload := map[string]any{"milestone_no": no, "disbursement_id": in.DisbursementID, "reference": in.Reference}
		return w.transition(ctx, EventPaymentConfirmed, in.Actor, payload, func(next *domain.Initiative, now time.Time) {
			nm, _ := next.Milestone(no)
			nm.TrancheStatus = domain.TranchePaid
			nm.PaidAt = &now
			nm.PaymentReference = in.Reference
			if next.Phase == domain.PhaseFunding {
				next.Phase = domain.PhaseExecuting
			}
		}, func(ctx workflow.Context, tr store.Transition) error {
			pay := store.PayInput{DisbursementID: in.DisbursementID, Reference: in.Reference, Actor: in.Actor, Transition: tr}
			return workflow.ExecuteLocalActivity(ctx, a.ConfirmPayment, pay).Get(ctx, nil)
		})
	})
}

func (w *initiative) resubmit(ctx workflow.Context, in ResubmitInput) (domain.Initiative, error) {
	check := func() error { return domain.CheckResubmit(&w.state, in.Actor, w.plan, &in.Proposal, in.Comment) }
	return w.locked(ctx, check, func() (domain.Initiative, error) {
		payload := map[string]any{"comment": in.Comment, "proposal": in.Proposal}
		return w.transition(ctx, EventResubmitted, in.Actor, payload, func(next *domain.Initiative, _ time.Time) {
			next.Phase = domain.PhaseBoardReview
			next.Revision++
			next.Proposal = in.Proposal
			next.Milestones = domain.MilestonesFromPlan(in.Proposal.Milestones)
			next.Ballots = nil
		}, w.record)
	})
}

func (w *initiative) withdraw(ctx workflow.Context, in WithdrawInput) (domain.Initiative, error) {
	check := func() error { return domain.CheckWithdraw(&w.state, in.Actor, in.Reason) }
	return w.locked(ctx, check, func() (domain.Initiative, error) {
		return w.transition(ctx, EventWithdrawn, in.Actor, map[string]string{"reason": in.Reason},
			func(next *domain.Initiative, _ time.Time) {
				next.Phase = domain.PhaseWithdrawn
				next.WithdrawnReason = in.Reason
			}, w.record)
	})
}

func (w *initiative) reportMilestone(ctx workflow.Context, in ReportMilestoneInput) (domain.Initiative, error) {
	check := func() error { return domain.CheckReport(&w.state, in.Actor, in.No, in.Summary, in.SpentØre) }
	return w.locked(ctx, check, func() (domain.Initiative, error) {
		payload := map[string]any{"milestone_no": in.No, "summary": in.Summary, "spent_ore": in.SpentØre}
		return w.transition(ctx, EventMilestoneReported, in.Actor, payload, func(next *domain.Initiative, now time.Time) {
			m, _ := next.Milestone(in.No)
			m.Report = &domain.Report{Summary: in.Summary, SpentØre: in.SpentØre, Actor: in.Actor, At: now}
		}, w.record)
	})
}

func (w *initiative) acceptMilestone(ctx workflow.Context, in AcceptMilestoneInput) (domain.Initiative, error) {
	check := func() error { return domain.CheckAcceptMilestone(&w.state, in.Actor, in.No, in.Comment) }
	return w.locked(ctx, check, func() (domain.Initiative, error) {
		last := in.No == len(w.state.Milestones)
		payload := map[string]any{"milestone_no": in.No, "comment": in.Comment}
		_, err := w.transition(ctx, EventMilestoneAccepted, in.Actor, payload, func(next *domain.Initiative, now time.Time) {
			m, _ := next.Milestone(in.No)
			actor := in.Actor
			m.AcceptedBy, m.AcceptedAt = &actor, &now
			if last {
				next.Phase = domain.PhaseEvaluation
			}
		}, w.record)
		if err != nil || last {
			return w.state, err
		}
		return w.release(ctx, in.No+1, in.Actor)
	})
}

func (w *initiative) submitEvaluation(ctx workflow.Context, in SubmitEvaluationInput) (domain.Initiative, error) {
	check := func() error { return domain.CheckSubmitEvaluation(&w.state, in.Actor, in.Summary, in.Results) }
	return w.locked(ctx, check, func() (domain.Initiative, error) {
		payload := map[string]any{"summary": in.Summary, "results": in.Results}
		return w.transition(ctx, EventEvaluationSent, in.Actor, payload, func(next *domain.Initiative, now time.Time) {
			next.Evaluation = &domain.Evaluation{Summary: in.Summary, Results: in.Results, SubmittedBy: in.Actor, SubmittedAt: now}
		}, w.record)
	})
}

func (w *initiative) acceptEvaluation(ctx workflow.Context, in AcceptEvaluationInput) (domain.Initiative, error) {
	check := func() error { return domain.CheckAcceptEvaluation(&w.state, in.Actor, in.Comment) }
	return w.locked(ctx, check, func() (domain.Initiative, error) {
		return w.transition(ctx, EventEvaluationOK, in.Actor, map[string]string{"comment": in.Comment},
			func(next *domain.Initiative, now time.Time) {
				actor := in.Actor
				next.Evaluation.AcceptedBy, next.Evaluation.AcceptedAt = &actor, &now
				next.Evaluation.Comment = in.Comment
				next.Phase = domain.PhaseCompleted
			}, w.record)
	})
}

// reject turns a business-rule refusal into the error a validator or handler returns to the update's caller.
func reject(err error) error {
	if err == nil {
		return nil
	}
	if rule, ok := activities.AsRuleError(err); ok {
		return activities.RuleApplicationError(rule)
	}
	return err
}

// clone deep-copies the state through JSON, which is deterministic for these types.
func clone(in domain.Initiative) (domain.Initiative, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return in, err
	}
	var out domain.Initiative
	return out, json.Unmarshal(b, &out)
}
