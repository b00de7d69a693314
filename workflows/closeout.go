package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

// versionCloseout: accepting the final evaluation settles the initiative's money in the same step (domain.Closeout):
// what was reserved and never paid goes back to the sources, and what was paid and not spent becomes a return for
// finance to collect. Histories recorded before it complete without a close-out.
const versionCloseout = "closeout"

// closesOut says whether this run settles the money when the evaluation is accepted.
func closesOut(ctx workflow.Context) bool {
	return workflow.GetVersion(ctx, versionCloseout, workflow.DefaultVersion, 1) >= 1
}

// complete accepts the evaluation (change applies the acceptance itself) and closes the initiative out, as one
// step. Like a cancellation it runs on a disconnected context: once the board has decided, the settlement commits
// even if the workflow is cancelled meanwhile.
func (w *initiative) complete(ctx workflow.Context, actor domain.Actor, payload map[string]any,
	change func(next *domain.Initiative, now time.Time)) (UpdateResult, error) {
	lines, err := domain.ComputeCloseout(&w.state)
	if err != nil {
		return w.result(), reject(err)
	}
	payload["closeout"] = lines
	next, tr, err := w.next(ctx, w.state, EventEvaluationOK, actor, payload, func(next *domain.Initiative, now time.Time) {
		change(next, now)
		next.Closeout = &domain.Closeout{Lines: lines, At: now}
	})
	if err != nil {
		return w.result(), err
	}
	in := &store.CloseoutInput{PlanID: w.state.PlanID, InitiativeID: w.state.ID,
		DelaftaleID: w.state.Proposal.DelaftaleID, Lines: lines, Transition: tr}
	var owed []string
	for _, l := range lines {
		if l.ReturnØre > 0 {
			owed = append(owed, fmt.Sprintf("%s fra %s (betalingsreference %s)", l.ReturnØre, l.SourceID,
				domain.ReturnReference(domain.ReturnID(w.state.ID, l.SourceID))))
		}
	}
	var notify []store.NotifyInput
	if len(owed) > 0 {
		notify = append(notify, store.NotifyInput{PlanID: w.state.PlanID, InitiativeID: w.state.ID, Seq: tr.Event.Seq,
			Kind: store.NotifyInfo, Title: clip("Tilbagebetaling at opkræve: "+w.state.Proposal.Title, store.MaxNotificationTitle),
			Body: clip("Indsatsen er afsluttet, og det udbetalte er ikke brugt helt. Opkræv tilbagebetalingen hos "+
				"indsatsens modtager og registrér den under Økonomi › Tilbagebetalinger, når den er modtaget: "+
				strings.Join(owed, "; ")+".", store.MaxNotificationBody),
			Audience: store.Audience{Roles: []domain.Role{domain.RoleFinance}}})
	}
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	return w.commit(dctx, store.Step{Closeout: in, Notify: notify}, next)
}
