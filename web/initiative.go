package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/workflows"
)

// initiativeView is one initiative with its history.
type initiativeView struct {
	In          domain.Initiative
	Names       names
	Delaftale   string
	Areas       string
	BudgetTotal domain.Money
	Events      []store.Event
	Payments    []domain.Milestone
	WorkflowURL string // admins only, when the Temporal UI is configured
	Actions     actionsView
}

func (w *Web) initiativePage(rw http.ResponseWriter, r *http.Request, v *viewer) {
	w.showInitiative(rw, r, v, http.StatusOK, nil, nil)
}

// showInitiative renders the initiative of the path with status: with the forms of the actions v may take now,
// failed (the refused form, as typed) among them and summary (its problems) on top. With no summary it shows the
// flash message an action left, once.
func (w *Web) showInitiative(rw http.ResponseWriter, r *http.Request, v *viewer, status int, failed *actionForm, summary []fieldError) {
	id := r.PathValue("id")
	in, err := w.st.GetInitiative(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && in.PlanID != v.Plan.ID) {
		// Another plan's initiative is not there, as far as this user can tell.
		w.notFound(rw, r)
		return
	}
	if err != nil {
		w.serverError(rw, r, err)
		return
	}
	events, err := w.st.ListEvents(r.Context(), id, 0, store.MaxEventPage)
	if err != nil {
		w.serverError(rw, r, err)
		return
	}
	n := planNames(v.Plan)
	view := initiativeView{In: in, Names: n, Delaftale: n.Delaftaler[in.Proposal.DelaftaleID],
		Areas: n.areaList(in.Proposal.HousingAreaIDs), BudgetTotal: domain.Total(in.Proposal.Budget), Events: events}
	for _, m := range in.Milestones {
		if m.TrancheStatus == domain.TranchePaid {
			view.Payments = append(view.Payments, m)
		}
	}
	if v.Role == domain.RoleAdmin && w.cfg.TemporalUIURL != "" {
		view.WorkflowURL = strings.TrimSuffix(w.cfg.TemporalUIURL, "/") + "/namespaces/" +
			url.PathEscape(w.cfg.TemporalNamespace) + "/workflows/" + url.PathEscape(workflows.InitiativeWorkflowID(in.ID))
	}
	view.Actions = actionsFor(v, in, failed)
	view.Actions.Summary = summary
	title := in.Proposal.Title
	if len(summary) > 0 {
		title = "Fejl: " + title
	} else {
		view.Actions.Done = w.sessions.PopString(r.Context(), flashKey)
	}
	w.render(rw, r, status, "initiative", v, title, view)
}
