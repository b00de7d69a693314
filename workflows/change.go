package workflows

import (
	"strconv"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/helhedsplan/helhedsplan/activities"
	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

// requested is the recorded outcome of a change request: refused, or the change as checked.
type requested struct {
	Refusal *domain.RuleError `json:"refusal,omitempty"`
	Change  domain.Change     `json:"change"`
}

// requestChange opens a change request for the board. It reads the plan's rules and what each source has left
// now, so a change that asks a source for more than it has is refused before anyone votes on it.
func (w *initiative) requestChange(ctx workflow.Context, in RequestChangeInput) (UpdateResult, error) {
	return w.locked(ctx, func() (UpdateResult, error) {
		plan, err := w.planRules(ctx)
		if err != nil {
			return w.result(), err
		}
		actx := workflow.WithLocalActivityOptions(ctx, ActivityOptions)
		var a *activities.Activities
		var available map[string]domain.Money
		if err := workflow.ExecuteLocalActivity(actx, a.Available, w.state.PlanID).Get(ctx, &available); err != nil {
			return w.result(), reject(err)
		}
		var r requested
		if err := workflow.SideEffect(ctx, func(workflow.Context) any {
			c, err := domain.CheckRequestChange(&w.state, plan, in.Actor, in.Reason, in.Budget, in.Milestones, available)
			if v := verdictOf(err); v.Refusal != nil {
				return requested{Refusal: v.Refusal}
			}
			return requested{Change: c}
		}).Get(&r); err != nil {
			return w.result(), err
		}
		if r.Refusal != nil {
			return w.result(), activities.RuleApplicationError(r.Refusal)
		}
		c := r.Change
		payload := map[string]any{"change_no": c.No, "reason": c.Reason, "budget": c.Budget, "milestones": c.Milestones,
			"moved_ore": c.MovedØre, "chair_alone": c.ChairAlone, "strategic": c.Strategic}
		return w.plain(ctx, EventChangeRequested, in.Actor, payload, func(next *domain.Initiative, now time.Time) {
			c.RequestedAt = now
			next.Changes = append(next.Changes, c)
		})
	})
}

// decideChange carries out the board's decision on the open change: rejected, approved and waiting for
// Landsbyggefonden (a strategic change), or applied at once.
func (w *initiative) decideChange(ctx workflow.Context, d decision,
	decided func(func(*domain.Initiative, time.Time)) func(*domain.Initiative, time.Time)) (UpdateResult, error) {
	c := *w.state.OpenChange()
	payload := d.payload(w.state.Revision)
	payload["change_no"] = c.No
	if d.outcome != domain.OutcomeApprove {
		next, tr, err := w.next(ctx, w.state, EventChangeRejected, d.actor, payload,
			decided(func(next *domain.Initiative, now time.Time) {
				nc := next.OpenChange()
				nc.Status, nc.DecidedAt = domain.ChangeRejected, &now
			}))
		if err != nil {
			return w.result(), err
		}
		return w.commit(ctx, store.Step{Transitions: []store.Transition{tr}}, next)
	}
	if c.Strategic {
		next, tr, err := w.next(ctx, w.state, EventChangeApproved, d.actor, payload,
			decided(func(next *domain.Initiative, now time.Time) {
				nc := next.OpenChange()
				nc.Status, nc.DecidedAt = domain.ChangeAwaitingLBF, &now
			}))
		if err != nil {
			return w.result(), err
		}
		n := store.NotifyInput{PlanID: w.state.PlanID, InitiativeID: w.state.ID, Seq: tr.Event.Seq, Kind: store.NotifyInfo,
			Title: clip("Ændring afventer Landsbyggefonden: "+w.state.Proposal.Title, store.MaxNotificationTitle),
			Body: "Bestyrelsen har godkendt en strategisk ændring. Den træder i kraft, når Landsbyggefondens " +
				"godkendelse er registreret.",
			Audience: store.Audience{Roles: []domain.Role{domain.RoleAdmin}}}
		return w.commit(ctx, store.Step{Transitions: []store.Transition{tr}, Notify: []store.NotifyInput{n}}, next)
	}
	return w.applyChange(ctx, w.state, c, d.actor, EventChangeApplied, payload, decided, domain.DecidedBy(d.ballots))
}

// applyChange puts change c in force from state `from`, in one step: the initiative's budget and milestones, a
// new approved version, and the reservation following exactly once — more reserved from the sources it asks
// more of (refused if they no longer have it), the rest given back.
func (w *initiative) applyChange(ctx workflow.Context, from domain.Initiative, c domain.Change, actor domain.Actor,
	event string, payload map[string]any,
	decided func(func(*domain.Initiative, time.Time)) func(*domain.Initiative, time.Time), by []string) (UpdateResult, error) {
	change := func(next *domain.Initiative, now time.Time) {
		next.Milestones = domain.ApplyChange(next, &c)
		next.Proposal.Budget, next.Proposal.Milestones = c.Budget, c.Milestones
		nc := next.OpenChange()
		nc.Status, nc.AppliedAt = domain.ChangeApplied, &now
		if nc.DecidedAt == nil {
			nc.DecidedAt = &now
		}
		next.Versions = append(next.Versions, domain.ApprovedVersion{Version: len(next.Versions) + 1, ChangeNo: c.No,
			Budget: c.Budget, Milestones: c.Milestones, DecidedBy: by, At: now})
	}
	if decided != nil {
		change = decided(change)
	}
	next, tr, err := w.next(ctx, from, event, actor, payload, change)
	if err != nil {
		return w.result(), err
	}
	reason := "change-" + strconv.Itoa(c.No)
	st := store.Step{}
	if len(c.Reserve) > 0 {
		st.Reserve = &store.ReserveInput{PlanID: from.PlanID, InitiativeID: from.ID, DelaftaleID: from.Proposal.DelaftaleID,
			Lines: c.Reserve, Transition: tr, KeySuffix: reason}
	} else {
		st.Transitions = []store.Transition{tr}
		// Reserving nothing, the step is still judged against each source's commitment per year.
		st.YearsOfChange = reason
	}
	if len(c.Unreserve) > 0 {
		st.Unreserve = &store.UnreserveInput{PlanID: from.PlanID, InitiativeID: from.ID,
			DelaftaleID: from.Proposal.DelaftaleID, Reason: reason, Lines: c.Unreserve}
	}
	return w.commit(ctx, st, next)
}

func (w *initiative) recordLBF(ctx workflow.Context, in RecordLBFInput) (UpdateResult, error) {
	return w.locked(ctx, func() (UpdateResult, error) {
		if err := w.check(ctx, func() error {
			return domain.CheckLBFApproval(&w.state, in.Actor, in.ChangeNo, in.LetterDate, in.Reference)
		}); err != nil {
			return w.result(), err
		}
		now := workflow.Now(ctx).UTC()
		lbf := &domain.LBFApproval{Approved: in.Approved, LetterDate: in.LetterDate, Reference: in.Reference,
			RecordedBy: in.Actor, RecordedAt: now}
		payload := map[string]any{"change_no": in.ChangeNo, "approved": in.Approved, "letter_date": in.LetterDate,
			"reference": in.Reference}
		if !in.Approved {
			return w.plain(ctx, EventLBFRefused, in.Actor, payload, func(next *domain.Initiative, _ time.Time) {
				nc := next.OpenChange()
				nc.LBF, nc.Status = lbf, domain.ChangeLBFRefused
			})
		}
		c := *w.state.OpenChange()
		var by []string
		for _, d := range w.state.Decisions {
			if d.Matter == domain.MatterKey(domain.MatterChange, 0, c.No) {
				by = domain.DecidedBy(d.Ballots)
			}
		}
		by = append(by, "Landsbyggefonden ("+in.Reference+")")
		return w.applyChange(ctx, w.state, c, in.Actor, EventChangeApplied, payload,
			func(change func(*domain.Initiative, time.Time)) func(*domain.Initiative, time.Time) {
				return func(next *domain.Initiative, now time.Time) {
					next.OpenChange().LBF = lbf
					change(next, now)
				}
			}, by)
	})
}
