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
	EventMilestoneReturned = "milestone_returned"  // the board sent a milestone report back
	EventEvaluationBack    = "evaluation_returned" // the board sent the evaluation back
	EventConflictDeclared  = "conflict_declared"
	EventCancelProposed    = "cancellation_proposed"
	EventCancelRefused     = "cancellation_refused" // the board voted not to cancel
	EventCancelled         = "cancelled"
	EventChangeRequested   = "change_requested"
	EventChangeApproved    = "change_approved" // by the board; a strategic change then waits for LBF
	EventChangeRejected    = "change_rejected"
	EventChangeApplied     = "change_applied" // in force: the reservation follows
	EventLBFRefused        = "change_lbf_refused"
	EventReminder          = "reminder_sent"
	EventEscalated         = "escalated"
)

// RetryForever bounds a local activity's retries in name only: a write waits out any outage of PostgreSQL —
// minutes, hours, days — because an initiative must never be lost or left half-way because the database was down.
// Only a business-rule refusal or a divergence (non-retryable errors) ends the retries.
const RetryForever = 10 * 365 * 24 * time.Hour

// ActivityOptions are used for every activity. The activities are local activities: each is one short database
// transaction, so running it inside the workflow task (no round trip through a task queue, no second workflow
// task) cuts an update's latency several-fold. Each attempt has 10 s; failed attempts are retried after 1, 2, 4 ...
// seconds, at most a minute apart, until RetryForever — the SDK runs backoffs longer than the workflow task timeout
// as durable timers, so a retry survives a worker restart. If the worker dies mid-write, the workflow task times
// out and the next worker runs the activity again; it finds the first attempt's rows and writes nothing new.
var ActivityOptions = workflow.LocalActivityOptions{
	StartToCloseTimeout:    10 * time.Second,
	ScheduleToCloseTimeout: RetryForever,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    time.Minute,
		MaximumAttempts:    0, // unlimited: ScheduleToCloseTimeout is the bound
	},
}

// initiative is one initiative's workflow: its state and the handlers that change it. Handlers run one at a time
// (mu). Each computes the next state — for a step that moves money, every transition of the step — has one local
// activity write it all in one transaction, and only then adopts it, so the workflow's state never runs ahead of
// PostgreSQL and an update returns only after its write.
type initiative struct {
	// plan holds the plan's rules as last read: validators (which cannot run activities) use it; handlers read
	// the rules afresh before a decision that depends on them.
	plan  domain.Plan
	state domain.Initiative
	mu    workflow.Mutex
	log   log.Logger
	// deadlines is set in workflows started with deadlines, reminders and escalation (versionDeadlines).
	deadlines bool
	// calendar says which days are Danish business days.
	calendar *domain.BusinessCalendar
}

// Initiative runs one initiative from proposal to completion (or rejection or withdrawal).
func Initiative(ctx workflow.Context, in StartInput) (UpdateResult, error) {
	w := &initiative{
		plan: in.Plan,
		state: domain.Initiative{
			ID:       in.InitiativeID,
			PlanID:   in.Plan.ID,
			Proposer: in.Proposer,
			Proposal: in.Proposal,
		},
		log:      log.With(workflow.GetLogger(ctx), "initiative_id", in.InitiativeID),
		calendar: calendar,
	}
	if err := w.setup(ctx); err != nil {
		return UpdateResult{}, err
	}
	return w.run(ctx)
}

func (w *initiative) setup(ctx workflow.Context) error {
	w.mu = workflow.NewMutex(ctx)
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (domain.Initiative, error) { return w.state, nil }); err != nil {
		return err
	}
	// Validators run when an update arrives and are not replayed: a refusal is never written to history.
	handlers := []struct {
		name      string
		handler   any
		validator any
	}{
		{UpdateSync, w.sync, nil},
		{UpdateReconcile, w.reconcile, nil},
		{UpdateDecide, w.decide, func(in DecideInput) error {
			return reject(domain.CheckBoardVote(&w.state, w.plan, in.Actor, in.Matter, in.No, in.Outcome, in.Comment))
		}},
		{UpdateDeclareConflict, w.declareConflict, func(in DeclareConflictInput) error {
			return reject(domain.CheckDeclareConflict(&w.state, w.plan, in.Actor, in.Reason))
		}},
		{UpdateProposeCancel, w.proposeCancel, func(in ProposeCancelInput) error {
			return reject(domain.CheckProposeCancel(&w.state, in.Actor, in.Reason))
		}},
		{UpdateRequestChange, w.requestChange, func(in RequestChangeInput) error {
			_, err := domain.CheckRequestChange(&w.state, w.plan, in.Actor, in.Reason, in.Budget, in.Milestones, nil)
			return reject(err)
		}},
		{UpdateRecordLBF, w.recordLBF, func(in RecordLBFInput) error {
			return reject(domain.CheckLBFApproval(&w.state, in.Actor, in.ChangeNo, in.LetterDate, in.Reference))
		}},
		{UpdateMeetingDecision, w.meetingDecision, func(in MeetingDecisionInput) error {
			_, err := domain.CheckMeetingDecision(&w.state, w.plan, in.Actor, in.Matter, in.No, in.Present,
				meetingVotes(in.Votes), in.Comment)
			return reject(err)
		}},
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
			return reject(domain.CheckSubmitEvaluation(&w.state, in.Actor, in.Summary, in.Results, in.Spend))
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

func (w *initiative) run(ctx workflow.Context) (UpdateResult, error) {
	// The rule that admits the proposal is evaluated once and its verdict recorded, so a stricter rule in a later
	// release cannot turn this history into a failed one on replay. The API validated already; a refusal here is a
	// caller bug and must not create an initiative.
	if err := w.check(ctx, func() error {
		p := w.state.Proposal
		return domain.ValidateProposal(w.plan, &p, nil)
	}); err != nil {
		return UpdateResult{}, err
	}
	// Histories recorded before deadlines have no RevisionAt in their first snapshot; replaying them must write
	// the same snapshot.
	w.deadlines = workflow.GetVersion(ctx, versionDeadlines, workflow.DefaultVersion, 1) >= 1
	// Hold the lock through the first write, so no update acts on an initiative that is not recorded yet.
	if err := w.mu.Lock(ctx); err != nil {
		return UpdateResult{}, err
	}
	submitted, tr, err := w.next(ctx, w.state, EventSubmitted, w.state.Proposer, nil, func(next *domain.Initiative, now time.Time) {
		next.Phase = domain.PhaseBoardReview
		next.Revision = 1
		next.Milestones = domain.MilestonesFromPlan(next.Proposal.Milestones)
		next.Decisions = []domain.Decision{}
		next.CreatedAt = now
		if w.deadlines {
			next.RevisionAt = now
		}
	})
	if err == nil {
		_, err = w.commit(ctx, store.Step{Transitions: []store.Transition{tr}}, submitted)
	}
	w.mu.Unlock()
	if err != nil {
		return UpdateResult{}, err
	}
	if err := w.waitForTheEnd(ctx); err != nil {
		if temporal.IsCanceledError(err) {
			// A step already under way — a cancellation's compensation runs on a disconnected context — is
			// finished before the workflow closes.
			dctx, _ := workflow.NewDisconnectedContext(ctx)
			_ = workflow.Await(dctx, func() bool { return workflow.AllHandlersFinished(dctx) })
		}
		return w.result(), err
	}
	// Let an update that is still answering its caller finish before the workflow closes.
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return w.result(), err
	}
	w.log.Info("Initiative closed", "phase", w.state.Phase)
	return w.result(), nil
}

// result is what an update answers: where the initiative is now. The caller reads the rest from the read model,
// which holds at least this version.
func (w *initiative) result() UpdateResult {
	return UpdateResult{InitiativeID: w.state.ID, Phase: w.state.Phase, Version: w.state.Version}
}

// next computes the state after one transition from `from`, and the transition that records it, without writing
// anything. Several transitions of one step are computed in a row and written together by commit.
func (w *initiative) next(ctx workflow.Context, from domain.Initiative, eventType string, actor domain.Actor,
	payload any, change func(next *domain.Initiative, now time.Time)) (domain.Initiative, store.Transition, error) {
	now := workflow.Now(ctx).UTC()
	n, err := clone(from)
	if err != nil {
		return from, store.Transition{}, err
	}
	change(&n, now)
	n.Version = from.Version + 1
	n.UpdatedAt = now
	raw, err := json.Marshal(payload)
	if err != nil {
		return from, store.Transition{}, err
	}
	return n, store.Transition{
		Event: store.Event{
			InitiativeID: n.ID, Seq: n.Version, Type: eventType,
			ActorID: actor.UserID, ActorName: actor.Name, ActorRole: actor.Role, At: now,
			PhaseBefore: from.Phase, PhaseAfter: n.Phase, Payload: raw,
		},
		Snapshot: n,
	}, nil
}

// commit has one local activity write the whole step in one transaction and then adopts final (or, when an
// earlier attempt of the step had committed and lost its answer, the state that attempt recorded). On error the
// state is unchanged: a business-rule refusal or a divergence; infrastructure faults never end up here, they are
// retried until they pass.
func (w *initiative) commit(ctx workflow.Context, st store.Step, final domain.Initiative) (UpdateResult, error) {
	ctx = workflow.WithLocalActivityOptions(ctx, ActivityOptions) // update handlers get the root context
	var a *activities.Activities
	var res store.StepResult
	if err := workflow.ExecuteLocalActivity(ctx, a.WriteStep, st).Get(ctx, &res); err != nil {
		w.log.Warn("Step not recorded", "version", final.Version, "error", err)
		return w.result(), reject(err)
	}
	if res.Stored != nil {
		w.log.Info("Step had been recorded by an earlier attempt; adopting what it stored", "version", res.Stored.Version)
		final = *res.Stored
	}
	w.state = final
	w.log.Info("Step recorded", "phase", final.Phase, "version", final.Version)
	return w.result(), nil
}

// planRules reads the plan's rules as they are now, for a decision that depends on them, and keeps them for the
// validators. The read is recorded in history like any activity result, so replay sees the same rules.
func (w *initiative) planRules(ctx workflow.Context) (domain.Plan, error) {
	ctx = workflow.WithLocalActivityOptions(ctx, ActivityOptions)
	var a *activities.Activities
	var p domain.Plan
	if err := workflow.ExecuteLocalActivity(ctx, a.PlanRules, w.state.PlanID).Get(ctx, &p); err != nil {
		return w.plan, reject(err)
	}
	w.plan = p
	return p, nil
}

// verdict is the recorded outcome of a rule.
type verdict struct {
	Refusal *domain.RuleError `json:"refusal,omitempty"`
}

// ruleChange stands for the rules of a later release: when set (only tests set it), it may change each verdict the
// current rules give. A replay must never see it, because recorded verdicts are read from history, not recomputed.
var ruleChange func(verdict) verdict

func verdictOf(err error) verdict {
	var v verdict
	if rule, ok := activities.AsRuleError(err); ok {
		v.Refusal = rule
	} else if err != nil {
		v.Refusal = &domain.RuleError{Code: domain.CodeValidation, Message: err.Error()}
	}
	if ruleChange != nil {
		v = ruleChange(v)
	}
	return v
}

// check evaluates a rule against the state as it is now and records the verdict in history (a side effect): the
// handler re-checks under the lock because its validator ran before earlier updates finished, and replay uses the
// recorded verdict, so a rule changed in a later release never changes a decision already taken.
func (w *initiative) check(ctx workflow.Context, rule func() error) error {
	var v verdict
	if err := workflow.SideEffect(ctx, func(workflow.Context) any { return verdictOf(rule()) }).Get(&v); err != nil {
		return err
	}
	if v.Refusal != nil {
		return activities.RuleApplicationError(v.Refusal)
	}
	return nil
}

// locked runs fn holding the handler mutex, so updates act one at a time.
func (w *initiative) locked(ctx workflow.Context, fn func() (UpdateResult, error)) (UpdateResult, error) {
	if err := w.mu.Lock(ctx); err != nil {
		return w.result(), err
	}
	defer w.mu.Unlock()
	return fn()
}

func (w *initiative) sync(ctx workflow.Context) (UpdateResult, error) {
	if err := workflow.Await(ctx, func() bool { return w.state.Version > 0 }); err != nil {
		return w.result(), err
	}
	return w.locked(ctx, func() (UpdateResult, error) { return w.result(), nil })
}

// reconcile adopts the read model's state when it is ahead of the workflow: a step committed, but the workflow
// task that ran it was lost and its update never arrived again (the client gave up). Steps are whole, so a later
// snapshot in the read model is a state the workflow itself computed and would have adopted. `helhedsplan doctor
// --repair` sends it.
func (w *initiative) reconcile(ctx workflow.Context) (UpdateResult, error) {
	return w.locked(ctx, func() (UpdateResult, error) {
		actx := workflow.WithLocalActivityOptions(ctx, ActivityOptions)
		var a *activities.Activities
		var stored domain.Initiative
		if err := workflow.ExecuteLocalActivity(actx, a.LoadInitiative, w.state.ID).Get(ctx, &stored); err != nil {
			return w.result(), reject(err)
		}
		if stored.ID == w.state.ID && stored.Version > w.state.Version {
			w.log.Warn("Adopting steps the read model holds and the workflow had lost",
				"from_version", w.state.Version, "to_version", stored.Version)
			w.state = stored
		}
		return w.result(), nil
	})
}

func (w *initiative) ballot(ctx workflow.Context, in DecideInput) domain.Ballot {
	return domain.Ballot{Revision: w.state.Revision, Actor: in.Actor, Outcome: in.Outcome, Comment: in.Comment,
		At: workflow.Now(ctx).UTC()}
}

// ballotPayload is a ballot as its event records it. It holds no time: an event's payload is what a rerun of the
// step compares with what is stored, and a rerun in a later workflow task takes a later time (the event's own
// time column has it).
func ballotPayload(b domain.Ballot) map[string]any {
	return map[string]any{"revision": b.Revision, "outcome": b.Outcome, "comment": b.Comment}
}

// tally is the recorded outcome of a ballot: refused, or counted with the decision it brings (if any).
type tally struct {
	Refusal *domain.RuleError `json:"refusal,omitempty"`
	Outcome domain.Outcome    `json:"outcome,omitempty"`
	Decided bool              `json:"decided,omitempty"`
}

// decideLegacy is the decide handler of histories recorded before board votes (versionBoardVotes): the first
// outcome to reach the plan's board_quorum ballots decides the proposal.
func (w *initiative) decideLegacy(ctx workflow.Context, in DecideInput) (UpdateResult, error) {
	return w.locked(ctx, func() (UpdateResult, error) {
		plan, err := w.planRules(ctx)
		if err != nil {
			return w.result(), err
		}
		b := w.ballot(ctx, in)
		ballots := append(append([]domain.Ballot{}, w.state.Ballots...), b)
		var t tally
		if err := workflow.SideEffect(ctx, func(workflow.Context) any {
			if v := verdictOf(domain.CheckBallot(&w.state, b)); v.Refusal != nil {
				return tally{Refusal: v.Refusal}
			}
			outcome, decided := domain.Resolve(ballots, plan.Settings.BoardQuorum)
			return tally{Outcome: outcome, Decided: decided}
		}).Get(&t); err != nil {
			return w.result(), err
		}
		if t.Refusal != nil {
			return w.result(), activities.RuleApplicationError(t.Refusal)
		}
		if !t.Decided {
			cast, tr, err := w.next(ctx, w.state, EventBallotCast, in.Actor, ballotPayload(b), func(next *domain.Initiative, _ time.Time) {
				next.Ballots = ballots
			})
			if err != nil {
				return w.result(), err
			}
			return w.commit(ctx, store.Step{Transitions: []store.Transition{tr}}, cast)
		}
		decide := func(phase domain.Phase) func(*domain.Initiative, time.Time) {
			return func(next *domain.Initiative, now time.Time) {
				next.Phase = phase
				next.Ballots = nil
				next.Decisions = append(next.Decisions, domain.Decision{
					Revision: w.state.Revision, Outcome: t.Outcome, Comment: b.Comment, Ballots: ballots, At: now})
			}
		}
		var (
			event = EventApproved
			phase = domain.PhaseFunding
		)
		switch t.Outcome {
		case domain.OutcomeReject:
			event, phase = EventRejected, domain.PhaseRejected
		case domain.OutcomeRequestChanges:
			event, phase = EventChangesRequested, domain.PhaseChangesRequested
		}
		decided, tr, err := w.next(ctx, w.state, event, in.Actor, ballotPayload(b), decide(phase))
		if err != nil {
			return w.result(), err
		}
		if t.Outcome != domain.OutcomeApprove {
			return w.commit(ctx, store.Step{Transitions: []store.Transition{tr}}, decided)
		}
		// Approval is one step: the reservation of the whole budget and the release of tranche 1 commit together.
		released, rel, err := w.release(ctx, decided, 1, in.Actor)
		if err != nil {
			return w.result(), err
		}
		res := &store.ReserveInput{PlanID: w.state.PlanID, InitiativeID: w.state.ID,
			DelaftaleID: w.state.Proposal.DelaftaleID, Lines: w.state.Proposal.Budget, Transition: tr}
		return w.commit(ctx, store.Step{Reserve: res, Release: &rel}, released)
	})
}

// release computes the release of milestone no's tranche to finance, from the state `from`. The disbursement ID
// is derived from the initiative and the milestone, so however often this runs there is one disbursement.
func (w *initiative) release(ctx workflow.Context, from domain.Initiative, no int, actor domain.Actor) (domain.Initiative, store.ReleaseInput, error) {
	m, ok := from.Milestone(no)
	if !ok {
		return from, store.ReleaseInput{}, fmt.Errorf("release: initiative %s has no milestone %d", from.ID, no)
	}
	id := domain.DisbursementID(from.ID, no)
	payload := map[string]any{"milestone_no": no, "disbursement_id": id, "tranche": m.Tranche}
	next, tr, err := w.next(ctx, from, EventTrancheReleased, actor, payload, func(next *domain.Initiative, now time.Time) {
		next.Phase = domain.PhaseFunding
		nm, _ := next.Milestone(no)
		nm.TrancheStatus = domain.TrancheReleased
		nm.DisbursementID = id
		nm.ReleasedAt = &now
	})
	if err != nil {
		return from, store.ReleaseInput{}, err
	}
	return next, store.ReleaseInput{
		PlanID: from.PlanID, InitiativeID: from.ID, DelaftaleID: from.Proposal.DelaftaleID,
		DisbursementID: id, MilestoneNo: no, MilestoneTitle: m.Title, Lines: m.Tranche, Transition: tr,
	}, nil
}

func (w *initiative) confirmPayment(ctx workflow.Context, in ConfirmPaymentInput) (UpdateResult, error) {
	return w.locked(ctx, func() (UpdateResult, error) {
		if err := w.check(ctx, func() error {
			return domain.CheckConfirmPayment(&w.state, in.Actor, in.DisbursementID, in.Reference)
		}); err != nil {
			return w.result(), err
		}
		var m *domain.Milestone
		for i := range w.state.Milestones {
			if w.state.Milestones[i].DisbursementID == in.DisbursementID {
				m = &w.state.Milestones[i]
			}
		}
		if m.TrancheStatus == domain.TranchePaid {
			return w.result(), nil // the same confirmation again: answer it as the first was answered
		}
		no := m.No
		payload := map[string]any{"milestone_no": no, "disbursement_id": in.DisbursementID, "reference": in.Reference}
		paid, tr, err := w.next(ctx, w.state, EventPaymentConfirmed, in.Actor, payload, func(next *domain.Initiative, now time.Time) {
			nm, _ := next.Milestone(no)
			nm.TrancheStatus = domain.TranchePaid
			nm.PaidAt = &now
			nm.PaymentReference = in.Reference
			if next.Phase == domain.PhaseFunding {
				next.Phase = domain.PhaseExecuting
			}
		})
		if err != nil {
			return w.result(), err
		}
		pay := &store.PayInput{DisbursementID: in.DisbursementID, Reference: in.Reference, Actor: in.Actor, Transition: tr}
		return w.commit(ctx, store.Step{Pay: pay}, paid)
	})
}

func (w *initiative) resubmit(ctx workflow.Context, in ResubmitInput) (UpdateResult, error) {
	return w.locked(ctx, func() (UpdateResult, error) {
		plan, err := w.planRules(ctx)
		if err != nil {
			return w.result(), err
		}
		if err := w.check(ctx, func() error {
			p := in.Proposal
			return domain.CheckResubmit(&w.state, in.Actor, plan, &p, in.Comment)
		}); err != nil {
			return w.result(), err
		}
		payload := map[string]any{"comment": in.Comment, "proposal": in.Proposal}
		return w.plain(ctx, EventResubmitted, in.Actor, payload, func(next *domain.Initiative, now time.Time) {
			next.Phase = domain.PhaseBoardReview
			next.Revision++
			next.Proposal = in.Proposal
			next.Milestones = domain.MilestonesFromPlan(in.Proposal.Milestones)
			next.Ballots = nil
			if w.deadlines {
				next.RevisionAt = now
			}
		})
	})
}

// plain computes and commits a step of one transition that moves no money.
func (w *initiative) plain(ctx workflow.Context, eventType string, actor domain.Actor, payload any,
	change func(next *domain.Initiative, now time.Time)) (UpdateResult, error) {
	next, tr, err := w.next(ctx, w.state, eventType, actor, payload, change)
	if err != nil {
		return w.result(), err
	}
	return w.commit(ctx, store.Step{Transitions: []store.Transition{tr}}, next)
}

func (w *initiative) withdraw(ctx workflow.Context, in WithdrawInput) (UpdateResult, error) {
	return w.locked(ctx, func() (UpdateResult, error) {
		if err := w.check(ctx, func() error { return domain.CheckWithdraw(&w.state, in.Actor, in.Reason) }); err != nil {
			return w.result(), err
		}
		return w.plain(ctx, EventWithdrawn, in.Actor, map[string]string{"reason": in.Reason},
			func(next *domain.Initiative, _ time.Time) {
				next.Phase = domain.PhaseWithdrawn
				next.WithdrawnReason = in.Reason
			})
	})
}

func (w *initiative) reportMilestone(ctx workflow.Context, in ReportMilestoneInput) (UpdateResult, error) {
	return w.locked(ctx, func() (UpdateResult, error) {
		if err := w.check(ctx, func() error {
			return domain.CheckReport(&w.state, in.Actor, in.No, in.Summary, in.SpentØre)
		}); err != nil {
			return w.result(), err
		}
		payload := map[string]any{"milestone_no": in.No, "summary": in.Summary, "spent_ore": in.SpentØre}
		return w.plain(ctx, EventMilestoneReported, in.Actor, payload, func(next *domain.Initiative, now time.Time) {
			m, _ := next.Milestone(in.No)
			m.Report = &domain.Report{Summary: in.Summary, SpentØre: in.SpentØre, Actor: in.Actor, At: now}
		})
	})
}

func (w *initiative) acceptMilestone(ctx workflow.Context, in AcceptMilestoneInput) (UpdateResult, error) {
	return w.locked(ctx, func() (UpdateResult, error) {
		if err := w.check(ctx, func() error {
			return domain.CheckAcceptMilestone(&w.state, in.Actor, in.No, in.Comment)
		}); err != nil {
			return w.result(), err
		}
		last := in.No == len(w.state.Milestones)
		payload := map[string]any{"milestone_no": in.No, "comment": in.Comment}
		accepted, tr, err := w.next(ctx, w.state, EventMilestoneAccepted, in.Actor, payload, func(next *domain.Initiative, now time.Time) {
			m, _ := next.Milestone(in.No)
			actor := in.Actor
			m.AcceptedBy, m.AcceptedAt = &actor, &now
			if last {
				next.Phase = domain.PhaseEvaluation
			}
		})
		if err != nil {
			return w.result(), err
		}
		if last {
			return w.commit(ctx, store.Step{Transitions: []store.Transition{tr}}, accepted)
		}
		// Accepting milestone k is one step with the release of tranche k+1.
		released, rel, err := w.release(ctx, accepted, in.No+1, in.Actor)
		if err != nil {
			return w.result(), err
		}
		return w.commit(ctx, store.Step{Transitions: []store.Transition{tr}, Release: &rel}, released)
	})
}

func (w *initiative) submitEvaluation(ctx workflow.Context, in SubmitEvaluationInput) (UpdateResult, error) {
	return w.locked(ctx, func() (UpdateResult, error) {
		if err := w.check(ctx, func() error {
			return domain.CheckSubmitEvaluation(&w.state, in.Actor, in.Summary, in.Results, in.Spend)
		}); err != nil {
			return w.result(), err
		}
		payload := map[string]any{"summary": in.Summary, "results": in.Results}
		if len(in.Spend) > 0 {
			payload["spend"] = in.Spend
		}
		return w.plain(ctx, EventEvaluationSent, in.Actor, payload, func(next *domain.Initiative, now time.Time) {
			next.Evaluation = &domain.Evaluation{Summary: in.Summary, Results: in.Results, SubmittedBy: in.Actor,
				SubmittedAt: now, Spend: in.Spend}
		})
	})
}

func (w *initiative) acceptEvaluation(ctx workflow.Context, in AcceptEvaluationInput) (UpdateResult, error) {
	return w.locked(ctx, func() (UpdateResult, error) {
		if err := w.check(ctx, func() error {
			return domain.CheckAcceptEvaluation(&w.state, in.Actor, in.Comment)
		}); err != nil {
			return w.result(), err
		}
		accept := func(next *domain.Initiative, now time.Time) {
			actor := in.Actor
			next.Evaluation.AcceptedBy, next.Evaluation.AcceptedAt = &actor, &now
			next.Evaluation.Comment = in.Comment
			next.Phase = domain.PhaseCompleted
		}
		if closesOut(ctx) {
			return w.complete(ctx, in.Actor, map[string]any{"comment": in.Comment}, accept)
		}
		return w.plain(ctx, EventEvaluationOK, in.Actor, map[string]string{"comment": in.Comment}, accept)
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
