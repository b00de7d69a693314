package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/store"
)

// names looks up the plan's names of sources, delaftaler and housing areas for the pages.
type names struct {
	Sources    map[string]string
	Delaftaler map[string]string
	Areas      map[string]string
}

func planNames(p domain.Plan) names {
	n := names{Sources: map[string]string{}, Delaftaler: map[string]string{}, Areas: map[string]string{}}
	for _, s := range p.FundingSources {
		n.Sources[s.ID] = s.Name
	}
	for _, d := range p.Delaftaler {
		n.Delaftaler[d.ID] = d.Name
	}
	for _, a := range p.HousingAreas {
		n.Areas[a.ID] = a.Name
	}
	return n
}

func (n names) areaList(ids []string) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		if name, ok := n.Areas[id]; ok {
			out[i] = name
		} else {
			out[i] = id
		}
	}
	return strings.Join(out, ", ")
}

// workView is "Mit arbejde".
type workView struct {
	Items   []workItemView
	More    bool
	Role    domain.Role
	Overdue int // items past their deadline
}

type workItemView struct {
	store.WorkItem
	Text  string
	Own   bool
	Since string
	Due   string    // the milestone's due date, when the step's deadline is not known
	Step  *stepView // the open step the item is, with its deadline
}

// workSnapshotsLimit bounds the initiatives read whole for the work the work list does not hold (extraWork).
const workSnapshotsLimit = 200

func (w *Web) workPage(rw http.ResponseWriter, r *http.Request, v *viewer) {
	items, more, err := w.st.ListWork(r.Context(), store.WorkFilter{PlanID: v.Plan.ID, Role: v.Role, UserID: v.Principal.UserID})
	if err != nil {
		w.serverError(rw, r, err)
		return
	}
	// The deadlines are the initiatives' open steps, which need the whole initiative: read the (bounded) work
	// list's snapshots, and for the board also the open cancellation votes, which the work list does not hold.
	byID := map[string]domain.Initiative{}
	var ids []string
	for _, it := range items {
		ids = append(ids, it.InitiativeID)
	}
	snaps, err := w.st.InitiativesByID(r.Context(), v.Plan.ID, ids)
	if err != nil {
		w.serverError(rw, r, err)
		return
	}
	for _, in := range snaps {
		byID[in.ID] = in
	}
	today := w.today()
	view := workView{More: more, Role: v.Role}
	for _, it := range items {
		in, ok := byID[it.InitiativeID]
		if ok && !w.mayTakeWork(v, in, it) {
			continue // a board member who voted, is recused, or whose chair decides alone has nothing to do here
		}
		iv := workItemView{WorkItem: it, Text: workText(it), Own: it.ProposerID == v.Principal.UserID,
			Since: formatTimeDate(it.Since), Due: formatDate(it.DueDate)}
		if ok {
			iv.Step = stepForWork(it, stepViews(in, v.Plan, today))
		}
		view.Items = append(view.Items, iv)
	}
	if v.Role == domain.RoleBoard || v.Role == domain.RoleAdmin {
		// What the work list does not hold: the board's votes on cancellations and changes, and the secretariat's
		// record of Landsbyggefonden's answer to a strategic change.
		open, _, err := w.st.OpenInitiatives(r.Context(), v.Plan.ID, workSnapshotsLimit)
		if err != nil {
			w.serverError(rw, r, err)
			return
		}
		listed := map[string]bool{}
		for _, it := range view.Items {
			if it.Step != nil {
				listed[it.InitiativeID+"/"+it.Step.Key] = true
			}
		}
		for _, in := range open {
			for _, it := range extraWork(v, in, today) {
				if it.Step != nil && listed[it.InitiativeID+"/"+it.Step.Key] {
					continue // already listed as the viewer's own step
				}
				view.Items = append(view.Items, it)
			}
		}
	}
	for _, it := range view.Items {
		if it.Step != nil && it.Step.Overdue {
			view.Overdue++
		}
	}
	w.render(rw, r, http.StatusOK, "work", v, "Mit arbejde", view)
}

// extraWork is the viewer's work on an open initiative that store.ListWork does not list: a vote on a proposed
// cancellation or on a change (board), and Landsbyggefonden's answer to a strategic change (admin).
func extraWork(v *viewer, in domain.Initiative, today domain.Date) []workItemView {
	allowed := service.Allowed(v.Principal, in, v.Plan)
	has := func(k service.ActionKind) bool {
		return slices.ContainsFunc(allowed, func(a service.Action) bool { return a.Kind == k })
	}
	item := func(text, since string, step *stepView) workItemView {
		return workItemView{WorkItem: store.WorkItem{InitiativeID: in.ID, Title: in.Proposal.Title, Phase: in.Phase,
			Role: v.Role, ProposerID: in.Proposer.UserID}, Text: text, Since: since, Step: step}
	}
	var out []workItemView
	for _, s := range stepViews(in, v.Plan, today) {
		if s.Kind != domain.StepBoardDecision {
			continue
		}
		s := s
		switch kind := domain.MatterKindOf(s.Matter); {
		case kind == domain.MatterCancellation && has(service.ActVoteCancel):
			out = append(out, item("Stem om annullering af indsatsen", formatDate(s.Since), &s))
		case kind == domain.MatterChange && has(service.ActVoteChange):
			text := "Stem om ændring af indsatsens budget og milepæle"
			if c := in.OpenChange(); c != nil {
				text = fmt.Sprintf("Stem om ændring %d af indsatsens budget og milepæle", c.No)
				if c.ChairAlone {
					text = fmt.Sprintf("Afgør ændring %d af indsatsens budget og milepæle (formanden alene)", c.No)
				}
			}
			out = append(out, item(text, formatDate(s.Since), &s))
		}
	}
	// Overdue steps escalated to the viewer: reports and evaluations to the board, the board's own decisions to
	// the chair. The escalation's notification says so; here it stays until the step is done.
	for _, s := range stepViews(in, v.Plan, today) {
		if !s.Overdue || !escalatedTo(v, s.EscalateTo) || slices.ContainsFunc(out, func(x workItemView) bool {
			return x.Step != nil && x.Step.Key == s.Key
		}) {
			continue
		}
		s := s
		out = append(out, item(fmt.Sprintf("Følg op: fristen for „%s“ er overskredet, og sagen er sendt videre til dig",
			s.Title), formatDate(s.Since), &s))
	}
	if c := in.OpenChange(); c != nil && has(service.ActRecordLBF) {
		since := formatTimeDate(c.RequestedAt)
		if c.DecidedAt != nil {
			since = formatTimeDate(*c.DecidedAt)
		}
		out = append(out, item(fmt.Sprintf("Registrér Landsbyggefondens svar på ændring %d", c.No), since, nil))
	}
	return out
}

// escalatedTo reports whether an overdue step that escalates to who is the viewer's to follow up.
func escalatedTo(v *viewer, who string) bool {
	switch who {
	case domain.WaitBoard:
		return v.Role == domain.RoleBoard
	case domain.WaitChair:
		return v.Role == domain.RoleBoard && v.Plan.Board != nil && v.Plan.Board.Chair == v.Principal.UserID
	}
	return false
}

// mayTakeWork reports whether the board's work item is the viewer's to do: a vote they may cast now (service.
// Allowed under the plan's board). Other roles' items are theirs as the work list says.
func (w *Web) mayTakeWork(v *viewer, in domain.Initiative, it store.WorkItem) bool {
	var kinds []service.ActionKind
	switch it.Kind {
	case store.WorkDecide:
		kinds = []service.ActionKind{service.ActDecide}
	case store.WorkAcceptReport:
		kinds = []service.ActionKind{service.ActAcceptMilestone, service.ActReturnMilestone}
	case store.WorkAcceptEvaluation:
		kinds = []service.ActionKind{service.ActAcceptEvaluation, service.ActReturnEvaluation}
	default:
		return true
	}
	for _, k := range kinds {
		if service.Allows(v.Principal, in, v.Plan, k) {
			return true
		}
	}
	return false
}

// stepForWork is the open step a work item stands for, or nil.
func stepForWork(it store.WorkItem, steps []stepView) *stepView {
	for i := range steps {
		s := steps[i]
		kind := domain.MatterKindOf(s.Matter)
		var match bool
		switch it.Kind {
		case store.WorkDecide:
			match = s.Kind == domain.StepBoardDecision && kind == domain.MatterProposal
		case store.WorkPay:
			match = s.Kind == domain.StepPayment && s.MilestoneNo == it.MilestoneNo
		case store.WorkReport:
			match = s.Kind == domain.StepReport
		case store.WorkAcceptReport:
			match = s.Kind == domain.StepBoardDecision && kind == domain.MatterMilestone
		case store.WorkEvaluate:
			match = s.Kind == domain.StepEvaluation
		case store.WorkAcceptEvaluation:
			match = s.Kind == domain.StepBoardDecision && kind == domain.MatterEvaluation
		}
		if match {
			return &s
		}
	}
	return nil
}

// initiativesView is the list of initiatives with its filters.
type initiativesView struct {
	MayPropose bool // the user may propose a new initiative (the "Nyt forslag" button)
	Phases     []domain.Phase
	Plan       domain.Plan
	Phase      string
	Delaftale  string
	Area       string
	Source     string // funding source ID ("kilde")
	Search     string // the words searched for ("q"), as typed
	Rows       []initiativeRow
	NextURL    string
	FirstURL   string
	IsNextPage bool
}

type initiativeRow struct {
	store.InitiativeSummary
	Delaftale string
	Areas     string
}

// maxSearchRunes bounds the search text of the initiative list, as the API bounds its q.
const maxSearchRunes = 200

func (w *Web) initiativesPage(rw http.ResponseWriter, r *http.Request, v *viewer) {
	q := r.URL.Query()
	f := store.InitiativeFilter{PlanID: v.Plan.ID, Phase: domain.Phase(q.Get("fase")), DelaftaleID: q.Get("delaftale"),
		HousingAreaID: q.Get("boligomraade"), SourceID: q.Get("kilde"), Search: q.Get("q"), After: q.Get("efter")}
	if f.Phase != "" && !f.Phase.Valid() {
		w.badRequest(rw, r, "Fasen findes ikke. Vælg en fase på listen.")
		return
	}
	// The same bound as the API's q; the field's maxlength keeps a browser within it.
	if utf8.RuneCountInString(f.Search) > maxSearchRunes {
		w.badRequest(rw, r, fmt.Sprintf("Søgeteksten er for lang: højst %d tegn.", maxSearchRunes))
		return
	}
	items, next, err := w.svc.Initiatives(r.Context(), v.Principal, f)
	if errors.Is(err, store.ErrBadCursor) {
		w.badRequest(rw, r, "Linket til siden er ugyldigt. Gå til første side af listen.")
		return
	}
	if err != nil {
		w.serverError(rw, r, err)
		return
	}
	n := planNames(v.Plan)
	view := initiativesView{MayPropose: service.MayPropose(v.Principal, v.Plan.ID) == nil,
		Phases: domain.Phases, Plan: v.Plan, Phase: string(f.Phase), Delaftale: f.DelaftaleID,
		Area: f.HousingAreaID, Source: f.SourceID, Search: f.Search, IsNextPage: f.After != ""}
	for _, it := range items {
		view.Rows = append(view.Rows, initiativeRow{InitiativeSummary: it, Delaftale: n.Delaftaler[it.DelaftaleID],
			Areas: n.areaList(it.HousingAreaIDs)})
	}
	filters := url.Values{}
	for k, val := range map[string]string{"fase": view.Phase, "delaftale": view.Delaftale, "boligomraade": view.Area,
		"kilde": view.Source, "q": view.Search} {
		if val != "" {
			filters.Set(k, val)
		}
	}
	view.FirstURL = "/indsatser"
	if len(filters) > 0 {
		view.FirstURL += "?" + filters.Encode()
	}
	if next != "" {
		filters.Set("efter", next)
		view.NextURL = "/indsatser?" + filters.Encode()
	}
	w.render(rw, r, http.StatusOK, "initiatives", v, "Indsatser", view)
}
