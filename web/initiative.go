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
	// The board's business and the deadlines: the open steps (Overdue those past their deadline), the board's
	// open rounds, its decisions, conflicts of interest, the cancellation, reports sent back and the reminders and
	// escalations sent.
	Steps     []stepView
	Overdue   []stepView
	Rounds    []roundView
	Decisions []decisionView
	Conflicts []domain.Conflict
	Cancel    *cancelView
	Returned  []returnedView
	Alerts    []alertView
	// Changes after approval (change.go): the open change with what it changes, the approved versions and every
	// change request, newest first.
	OpenChange *changeView
	Versions   []versionView
	Changes    []domain.Change
	// Meetings are the plan's meetings that were not cancelled, latest first, for the meeting forms.
	Meetings []meetingOption
	// Recipient is who the tranches are paid to, with the form to change it (recipients.go).
	Recipient *recipientPanel
	// InKind lists the initiative's in-kind contributions, with the form to register one (inkind.go).
	InKind *inKindPanel
	// Closeout is a completed initiative's settlement with its returns (returns.go).
	Closeout *closeoutPanel
	// Hold says why the initiative's next tranche cannot be released now (an overdue annual statement); nil when
	// nothing is held or the initiative has no tranche left to release.
	Hold *store.Hold
}

func (w *Web) initiativePage(rw http.ResponseWriter, r *http.Request, v *viewer) {
	w.showInitiative(rw, r, v, http.StatusOK, nil, nil)
}

// showInitiative renders the initiative of the path with status: with the forms of the actions v may take now,
// failed (the refused form, as typed) among them and summary (its problems) on top. With no summary it shows the
// flash message an action left, once.
func (w *Web) showInitiative(rw http.ResponseWriter, r *http.Request, v *viewer, status int, failed *actionForm, summary []fieldError) {
	id := r.PathValue("id")
	// Read through the service, which applies the API's access rule; the page also shows only the plan it is
	// about, so another plan's initiative is not there either, as far as this page can tell.
	in, _, err := w.svc.Initiative(r.Context(), v.Principal, id)
	if isNotFound(err) || (err == nil && in.PlanID != v.Plan.ID) {
		w.notFound(rw, r)
		return
	}
	if err != nil {
		w.serverError(rw, r, err)
		return
	}
	events, err := w.svc.Events(r.Context(), v.Principal, in, 0, store.MaxEventPage)
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
	if err := w.boardView(r.Context(), v, in, &view); err != nil {
		w.serverError(rw, r, err)
		return
	}
	view.Actions = actionsFor(v, in, failed, view.Rounds)
	view.Actions.MeetingOptions = view.Meetings
	view.Actions.Summary = summary
	title := in.Proposal.Title
	if len(summary) > 0 {
		title = "Fejl: " + title
	} else {
		view.Actions.Done = w.sessions.PopString(r.Context(), flashKey)
	}
	view.Recipient = w.initiativeRecipientPanel(r, v, in)
	view.InKind = w.initiativeInKindPanel(r, v, in)
	view.Closeout = w.initiativeCloseoutPanel(r, v, in)
	if awaitsRelease(in) {
		view.Hold = w.releaseHold(r, in.PlanID)
	}
	w.render(rw, r, status, "initiative", v, title, view)
}

// isNotFound reports whether err says that what was asked for is not there (or not there for this user).
func isNotFound(err error) bool {
	var rule *domain.RuleError
	return errors.Is(err, store.ErrNotFound) || (errors.As(err, &rule) && rule.Code == domain.CodeNotFound)
}
