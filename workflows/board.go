package workflows

import (
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/helhedsplan/helhedsplan/activities"
	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

// Version markers (workflow.GetVersion). Histories recorded before a change replay its old code path; see the
// versioning policy in the README.
const (
	// versionBoardVotes: decide counts votes by the board's rules (domain.CountRound) for every matter, instead
	// of the first outcome to reach board_quorum ballots on the proposal.
	versionBoardVotes = "board-votes"
	// versionDeadlines: the workflow keeps deadlines with durable timers and sends reminders and escalations.
	versionDeadlines = "deadlines"
)

// System is the actor of transitions no person made: reminders and escalations.
var System = domain.Actor{UserID: "system", Name: "Helhedsplan", Role: "system"}

func meetingVotes(in []MeetingVote) []domain.Vote {
	out := make([]domain.Vote, len(in))
	for i, v := range in {
		out[i] = domain.Vote{MemberID: v.MemberID, Outcome: v.Outcome}
	}
	return out
}

// counted is the recorded outcome of a vote: refused, or counted with the round's result.
type counted struct {
	Refusal *domain.RuleError  `json:"refusal,omitempty"`
	Key     string             `json:"key,omitempty"`
	Round   domain.RoundResult `json:"round"`
}

func matterOf(k domain.MatterKind) domain.MatterKind {
	if k == "" {
		return domain.MatterProposal
	}
	return k
}

func (w *initiative) decide(ctx workflow.Context, in DecideInput) (UpdateResult, error) {
	if workflow.GetVersion(ctx, versionBoardVotes, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return w.decideLegacy(ctx, in)
	}
	return w.locked(ctx, func() (UpdateResult, error) {
		plan, err := w.planRules(ctx)
		if err != nil {
			return w.result(), err
		}
		kind := matterOf(in.Matter)
		now := workflow.Now(ctx).UTC()
		var c counted
		if err := workflow.SideEffect(ctx, func(workflow.Context) any {
			if v := verdictOf(domain.CheckBoardVote(&w.state, plan, in.Actor, kind, in.No, in.Outcome, in.Comment)); v.Refusal != nil {
				return counted{Refusal: v.Refusal}
			}
			key, _ := domain.OpenMatter(&w.state, kind, in.No)
			b := domain.Ballot{Matter: key, Revision: w.state.Revision, Actor: in.Actor, Outcome: in.Outcome,
				Comment: in.Comment, At: now}
			r, err := domain.CountRound(&w.state, plan, kind, append(w.state.RoundBallots(key), b))
			if v := verdictOf(err); v.Refusal != nil {
				return counted{Refusal: v.Refusal}
			}
			return counted{Key: key, Round: r}
		}).Get(&c); err != nil {
			return w.result(), err
		}
		if c.Refusal != nil {
			return w.result(), activities.RuleApplicationError(c.Refusal)
		}
		b := domain.Ballot{Matter: c.Key, Revision: w.state.Revision, Actor: in.Actor, Outcome: in.Outcome,
			Comment: in.Comment, At: now}
		round := append(w.state.RoundBallots(c.Key), b)
		if !c.Round.Decided {
			payload := votePayload(b, c.Round.Tally)
			cast, tr, err := w.next(ctx, w.state, EventBallotCast, in.Actor, payload, func(next *domain.Initiative, _ time.Time) {
				next.Ballots = append(next.Ballots, b)
			})
			if err != nil {
				return w.result(), err
			}
			return w.commit(ctx, store.Step{Transitions: []store.Transition{tr}}, cast)
		}
		return w.apply(ctx, plan, decision{kind: kind, no: in.No, key: c.Key, outcome: c.Round.Outcome,
			tally: c.Round.Tally, comment: in.Comment, ballots: round, actor: in.Actor})
	})
}

// votePayload is a ballot as its event records it, with the round's standing after it. No time: see
// ballotPayload.
func votePayload(b domain.Ballot, t *domain.DecisionTally) map[string]any {
	p := map[string]any{"revision": b.Revision, "outcome": b.Outcome, "comment": b.Comment}
	if b.Matter != "" {
		p["matter"] = b.Matter
	}
	if t != nil {
		p["tally"] = t
	}
	return p
}

// decision is a decided round, ready to be applied.
type decision struct {
	kind    domain.MatterKind
	no      int
	key     string
	outcome domain.Outcome
	tally   *domain.DecisionTally
	comment string
	ballots []domain.Ballot
	actor   domain.Actor // who cast the deciding vote, or recorded the meeting's decision
}

func (d decision) record(revision int, now time.Time) domain.Decision {
	return domain.Decision{Matter: d.key, Revision: revision, Outcome: d.outcome, Comment: d.comment,
		Ballots: d.ballots, At: now, Tally: d.tally}
}

func (d decision) payload(revision int) map[string]any {
	p := map[string]any{"revision": revision, "outcome": d.outcome, "comment": d.comment, "tally": d.tally}
	if d.key != "" {
		p["matter"] = d.key
	}
	if d.kind == domain.MatterMilestone {
		p["milestone_no"] = d.no
	}
	return p
}

// apply carries out a decided round as one step: the decision, and whatever it sets going (the reservation
// and the first release, the next tranche, the completion, the cancellation and its compensation).
func (w *initiative) apply(ctx workflow.Context, plan domain.Plan, d decision) (UpdateResult, error) {
	rev := w.state.Revision
	decided := func(change func(next *domain.Initiative, now time.Time)) func(*domain.Initiative, time.Time) {
		return func(next *domain.Initiative, now time.Time) {
			next.Ballots = dropRound(next.Ballots, d.key)
			next.Decisions = append(next.Decisions, d.record(rev, now))
			change(next, now)
		}
	}
	one := func(event string, change func(next *domain.Initiative, now time.Time)) (UpdateResult, error) {
		next, tr, err := w.next(ctx, w.state, event, d.actor, d.payload(rev), decided(change))
		if err != nil {
			return w.result(), err
		}
		return w.commit(ctx, store.Step{Transitions: []store.Transition{tr}}, next)
	}
	switch d.kind {
	case domain.MatterProposal:
		switch d.outcome {
		case domain.OutcomeReject:
			return one(EventRejected, func(next *domain.Initiative, _ time.Time) { next.Phase = domain.PhaseRejected })
		case domain.OutcomeRequestChanges:
			return one(EventChangesRequested, func(next *domain.Initiative, _ time.Time) {
				next.Phase = domain.PhaseChangesRequested
			})
		}
		approved, tr, err := w.next(ctx, w.state, EventApproved, d.actor, d.payload(rev),
			decided(func(next *domain.Initiative, now time.Time) {
				next.Phase = domain.PhaseFunding
				next.Versions = []domain.ApprovedVersion{{Version: 1, Budget: next.Proposal.Budget,
					Milestones: next.Proposal.Milestones, DecidedBy: domain.DecidedBy(d.ballots), At: now}}
			}))
		if err != nil {
			return w.result(), err
		}
		released, rel, err := w.release(ctx, approved, 1, d.actor)
		if err != nil {
			return w.result(), err
		}
		res := &store.ReserveInput{PlanID: w.state.PlanID, InitiativeID: w.state.ID,
			DelaftaleID: w.state.Proposal.DelaftaleID, Lines: w.state.Proposal.Budget, Transition: tr}
		return w.commit(ctx, store.Step{Reserve: res, Release: &rel}, released)

	case domain.MatterMilestone:
		if d.outcome != domain.OutcomeApprove {
			return one(EventMilestoneReturned, func(next *domain.Initiative, now time.Time) {
				m, _ := next.Milestone(d.no)
				m.Returned = append(m.Returned, domain.ReturnedReport{Summary: m.Report.Summary,
					SpentØre: m.Report.SpentØre, Comment: d.comment, By: d.actor, At: now})
				m.Report = nil
			})
		}
		last := d.no == len(w.state.Milestones)
		accepted, tr, err := w.next(ctx, w.state, EventMilestoneAccepted, d.actor, d.payload(rev),
			decided(func(next *domain.Initiative, now time.Time) {
				m, _ := next.Milestone(d.no)
				actor := d.actor
				m.AcceptedBy, m.AcceptedAt = &actor, &now
				if last {
					next.Phase = domain.PhaseEvaluation
				}
			}))
		if err != nil {
			return w.result(), err
		}
		if last {
			return w.commit(ctx, store.Step{Transitions: []store.Transition{tr}}, accepted)
		}
		released, rel, err := w.release(ctx, accepted, d.no+1, d.actor)
		if err != nil {
			return w.result(), err
		}
		return w.commit(ctx, store.Step{Transitions: []store.Transition{tr}, Release: &rel}, released)

	case domain.MatterEvaluation:
		if d.outcome != domain.OutcomeApprove {
			return one(EventEvaluationBack, func(next *domain.Initiative, now time.Time) {
				e := next.Evaluation
				next.EvaluationsReturned = append(next.EvaluationsReturned, domain.ReturnedReport{Summary: e.Summary,
					Comment: d.comment, By: d.actor, At: now})
				next.Evaluation = nil
			})
		}
		accept := func(next *domain.Initiative, now time.Time) {
			actor := d.actor
			next.Evaluation.AcceptedBy, next.Evaluation.AcceptedAt = &actor, &now
			next.Evaluation.Comment = d.comment
			next.Phase = domain.PhaseCompleted
		}
		if closesOut(ctx) {
			return w.complete(ctx, d.actor, d.payload(rev), decided(accept))
		}
		return one(EventEvaluationOK, accept)

	case domain.MatterChange:
		return w.decideChange(ctx, d, decided)

	case domain.MatterCancellation:
		if d.outcome != domain.OutcomeApprove {
			return one(EventCancelRefused, func(next *domain.Initiative, now time.Time) {
				next.Cancellation.Decided, next.Cancellation.Outcome = true, d.outcome
				next.Cancellation.DecidedAt = &now
			})
		}
		return w.cancel(ctx, plan, d, decided)
	}
	return w.result(), activities.RuleApplicationError(domain.Refuse(domain.CodeValidation, "Ukendt sag %q.", d.kind))
}

func dropRound(ballots []domain.Ballot, key string) []domain.Ballot {
	var out []domain.Ballot
	for _, b := range ballots {
		if b.Matter != key {
			out = append(out, b)
		}
	}
	return out
}

// cancel is the board's decision to cancel and its compensation, in one step: pending disbursements are
// withdrawn from finance, unreleased tranches cancelled, and the reservation of everything never paid goes back
// to the sources. The step runs on a disconnected context: once the board has decided, the compensation
// completes even if the workflow is cancelled meanwhile, and a worker dying half-way only makes the next one
// write the same step (which commits once).
func (w *initiative) cancel(ctx workflow.Context, plan domain.Plan, d decision,
	decided func(func(*domain.Initiative, time.Time)) func(*domain.Initiative, time.Time)) (UpdateResult, error) {
	var withdraw []store.WithdrawInput
	var withdrawn []string
	paid := map[string]domain.Money{}
	for _, m := range w.state.Milestones {
		switch m.TrancheStatus {
		case domain.TrancheReleased:
			withdraw = append(withdraw, store.WithdrawInput{DisbursementID: m.DisbursementID, MilestoneNo: m.No,
				Lines: m.Tranche})
			withdrawn = append(withdrawn, m.DisbursementID)
		case domain.TranchePaid:
			for _, l := range m.Tranche {
				paid[l.SourceID] += l.AmountØre // bounded: tranches sum to the budget, checked at submission
			}
		}
	}
	var back []domain.SourceAmount
	for _, l := range w.state.Proposal.Budget {
		if rest := l.AmountØre - paid[l.SourceID]; rest > 0 {
			back = append(back, domain.SourceAmount{SourceID: l.SourceID, AmountØre: rest})
		}
	}
	payload := d.payload(w.state.Revision)
	payload["withdrawn"] = withdrawn
	payload["returned"] = back
	payload["reason"] = w.state.Cancellation.Reason
	next, tr, err := w.next(ctx, w.state, EventCancelled, d.actor, payload,
		decided(func(next *domain.Initiative, now time.Time) {
			next.Phase = domain.PhaseCancelled
			c := next.Cancellation
			c.Decided, c.Outcome, c.DecidedAt = true, domain.OutcomeApprove, &now
			c.Returned, c.Withdrawn = back, withdrawn
			for i := range next.Milestones {
				switch next.Milestones[i].TrancheStatus {
				case domain.TrancheReleased:
					next.Milestones[i].TrancheStatus = domain.TrancheWithdrawn
				case domain.TrancheScheduled:
					next.Milestones[i].TrancheStatus = domain.TrancheCancelled
				}
			}
		}))
	if err != nil {
		return w.result(), err
	}
	seq := tr.Event.Seq
	notify := []store.NotifyInput{{PlanID: w.state.PlanID, InitiativeID: w.state.ID, Seq: seq, Kind: store.NotifyInfo,
		Title: clip("Indsatsen er annulleret: "+w.state.Proposal.Title, store.MaxNotificationTitle),
		Body: clip("Bestyrelsen har annulleret indsatsen. Begrundelse: "+w.state.Cancellation.Reason+
			"\nDet ikke udbetalte beløb er givet tilbage til finansieringskilderne.", store.MaxNotificationBody),
		Audience: store.Audience{UserIDs: []string{w.state.Proposer.UserID}}}}
	if len(withdrawn) > 0 {
		notify = append(notify, store.NotifyInput{PlanID: w.state.PlanID, InitiativeID: w.state.ID, Seq: seq,
			Kind: store.NotifyEscalation, Title: clip("Udbetaling trukket tilbage: "+w.state.Proposal.Title, store.MaxNotificationTitle),
			Body: clip("Indsatsen er annulleret af bestyrelsen. Disse udbetalinger må ikke gennemføres og er fjernet fra "+
				"listen over udbetalinger: "+strings.Join(withdrawn, ", ")+".", store.MaxNotificationBody),
			Audience: store.Audience{Roles: []domain.Role{domain.RoleFinance}}})
	}
	in := &store.CancelInput{PlanID: w.state.PlanID, InitiativeID: w.state.ID, DelaftaleID: w.state.Proposal.DelaftaleID,
		Withdraw: withdraw, Unreserve: back, Transition: tr}
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	return w.commit(dctx, store.Step{Cancel: in, Notify: notify}, next)
}

func (w *initiative) declareConflict(ctx workflow.Context, in DeclareConflictInput) (UpdateResult, error) {
	return w.locked(ctx, func() (UpdateResult, error) {
		plan, err := w.planRules(ctx)
		if err != nil {
			return w.result(), err
		}
		if err := w.check(ctx, func() error { return domain.CheckDeclareConflict(&w.state, plan, in.Actor, in.Reason) }); err != nil {
			return w.result(), err
		}
		// A member who declares a conflict after voting in an open round takes the vote back: a vote from a
		// member who may not vote must not count.
		var withdrawnVotes []string
		for _, b := range w.state.Ballots {
			if b.Actor.UserID == in.Actor.UserID {
				withdrawnVotes = append(withdrawnVotes, b.Matter)
			}
		}
		payload := map[string]any{"reason": in.Reason, "withdrawn_votes": withdrawnVotes}
		return w.plain(ctx, EventConflictDeclared, in.Actor, payload, func(next *domain.Initiative, now time.Time) {
			next.Conflicts = append(next.Conflicts, domain.Conflict{UserID: in.Actor.UserID, Name: in.Actor.Name,
				Reason: in.Reason, At: now})
			var keep []domain.Ballot
			for _, b := range next.Ballots {
				if b.Actor.UserID != in.Actor.UserID {
					keep = append(keep, b)
				}
			}
			next.Ballots = keep
		})
	})
}

func (w *initiative) proposeCancel(ctx workflow.Context, in ProposeCancelInput) (UpdateResult, error) {
	return w.locked(ctx, func() (UpdateResult, error) {
		if err := w.check(ctx, func() error { return domain.CheckProposeCancel(&w.state, in.Actor, in.Reason) }); err != nil {
			return w.result(), err
		}
		round := 1
		if c := w.state.Cancellation; c != nil {
			round = c.Round + 1
		}
		payload := map[string]any{"reason": in.Reason, "round": round}
		return w.plain(ctx, EventCancelProposed, in.Actor, payload, func(next *domain.Initiative, now time.Time) {
			next.Cancellation = &domain.Cancellation{Round: round, Reason: in.Reason, ProposedBy: in.Actor, ProposedAt: now}
		})
	})
}

func (w *initiative) meetingDecision(ctx workflow.Context, in MeetingDecisionInput) (UpdateResult, error) {
	return w.locked(ctx, func() (UpdateResult, error) {
		plan, err := w.planRules(ctx)
		if err != nil {
			return w.result(), err
		}
		kind := matterOf(in.Matter)
		var c counted
		if err := workflow.SideEffect(ctx, func(workflow.Context) any {
			r, err := domain.CheckMeetingDecision(&w.state, plan, in.Actor, kind, in.No, in.Present,
				meetingVotes(in.Votes), in.Comment)
			if v := verdictOf(err); v.Refusal != nil {
				return counted{Refusal: v.Refusal}
			}
			key, _ := domain.OpenMatter(&w.state, kind, in.No)
			return counted{Key: key, Round: r}
		}).Get(&c); err != nil {
			return w.result(), err
		}
		if c.Refusal != nil {
			return w.result(), activities.RuleApplicationError(c.Refusal)
		}
		now := workflow.Now(ctx).UTC()
		names := map[string]string{}
		for _, b := range w.state.Ballots {
			names[b.Actor.UserID] = b.Actor.Name
		}
		ballots := make([]domain.Ballot, len(in.Votes))
		for i, v := range in.Votes {
			// The member voted in person; the ballot records them, and who recorded it is the event's actor.
			ballots[i] = domain.Ballot{Matter: c.Key, Revision: w.state.Revision, Outcome: v.Outcome, At: now,
				Actor: domain.Actor{UserID: v.MemberID, Name: names[v.MemberID], Role: domain.RoleBoard}}
		}
		c.Round.Tally.MeetingID = in.MeetingID
		return w.apply(ctx, plan, decision{kind: kind, no: in.No, key: c.Key, outcome: c.Round.Outcome,
			tally: c.Round.Tally, comment: in.Comment, ballots: ballots, actor: in.Actor})
	})
}
