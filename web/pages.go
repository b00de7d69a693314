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
	Items []workItemView
	More  bool
	Role  domain.Role
}

type workItemView struct {
	store.WorkItem
	Text  string
	Own   bool
	Since string
	Due   string
}

func (w *Web) workPage(rw http.ResponseWriter, r *http.Request, v *viewer) {
	items, more, err := w.st.ListWork(r.Context(), store.WorkFilter{PlanID: v.Plan.ID, Role: v.Role, UserID: v.Principal.UserID})
	if err != nil {
		w.serverError(rw, r, err)
		return
	}
	view := workView{More: more, Role: v.Role}
	for _, it := range items {
		view.Items = append(view.Items, workItemView{WorkItem: it, Text: workText(it),
			Own: it.ProposerID == v.Principal.UserID, Since: formatTimeDate(it.Since), Due: formatDate(it.DueDate)})
	}
	w.render(rw, r, http.StatusOK, "work", v, "Mit arbejde", view)
}

// initiativesView is the list of initiatives with its filters.
type initiativesView struct {
	Phases     []domain.Phase
	Plan       domain.Plan
	Phase      string
	Delaftale  string
	Area       string
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

func (w *Web) initiativesPage(rw http.ResponseWriter, r *http.Request, v *viewer) {
	q := r.URL.Query()
	f := store.InitiativeFilter{PlanID: v.Plan.ID, Phase: domain.Phase(q.Get("fase")), DelaftaleID: q.Get("delaftale"),
		HousingAreaID: q.Get("boligomraade"), After: q.Get("efter")}
	if f.Phase != "" && !f.Phase.Valid() {
		w.badRequest(rw, r, "Fasen findes ikke. Vælg en fase på listen.")
		return
	}
	items, next, err := w.st.ListInitiatives(r.Context(), f)
	if errors.Is(err, store.ErrBadCursor) {
		w.badRequest(rw, r, "Linket til siden er ugyldigt. Gå til første side af listen.")
		return
	}
	if err != nil {
		w.serverError(rw, r, err)
		return
	}
	n := planNames(v.Plan)
	view := initiativesView{Phases: domain.Phases, Plan: v.Plan, Phase: string(f.Phase), Delaftale: f.DelaftaleID,
		Area: f.HousingAreaID, IsNextPage: f.After != ""}
	for _, it := range items {
		view.Rows = append(view.Rows, initiativeRow{InitiativeSummary: it, Delaftale: n.Delaftaler[it.DelaftaleID],
			Areas: n.areaList(it.HousingAreaIDs)})
	}
	filters := url.Values{}
	for k, val := range map[string]string{"fase": view.Phase, "delaftale": view.Delaftale, "boligomraade": view.Area} {
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
}

func (w *Web) initiativePage(rw http.ResponseWriter, r *http.Request, v *viewer) {
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
	w.render(rw, r, http.StatusOK, "initiative", v, in.Proposal.Title, view)
}

// planView is "Planen": the budget as tables and as a bar chart.
type planView struct {
	Plan       domain.Plan
	Budget     store.Budget
	SourceBars []bar
	DelBars    []bar
	Names      names
}

// bar is one bar of the budget chart: the committed amount split into paid, released, reserved and available,
// as widths in per mille of the widest bar.
type bar struct {
	Label    string
	Y        int
	Segments []segment
	Summary  string
}

type segment struct {
	X, Width int
	Class    string
	Label    string
}

const chartWidth = 600

func budgetBars(lines []struct {
	Label string
	Line  store.BudgetLine
}) []bar {
	var max domain.Money
	for _, l := range lines {
		if m := lineTotal(l.Line); m > max {
			max = m
		}
	}
	bars := make([]bar, 0, len(lines))
	for i, l := range lines {
		b := bar{Label: l.Label, Y: i * 56}
		x := 0
		parts := []struct {
			m     domain.Money
			class string
			label string
		}{
			{l.Line.PaidØre, "paid", "udbetalt"},
			{l.Line.ReleasedØre, "released", "frigivet"},
			{l.Line.ReservedØre, "reserved", "reserveret"},
		}
		if l.Line.AvailableØre != nil && *l.Line.AvailableØre > 0 {
			parts = append(parts, struct {
				m     domain.Money
				class string
				label string
			}{*l.Line.AvailableØre, "available", "til rådighed"})
		}
		var text []string
		for _, p := range parts {
			wd := 0
			if max > 0 {
				wd = int(int64(p.m) * chartWidth / int64(max))
			}
			if wd > 0 {
				b.Segments = append(b.Segments, segment{X: x, Width: wd, Class: p.class, Label: p.label + " " + formatKrRounded(p.m)})
			}
			x += wd
			text = append(text, p.label+" "+formatKrRounded(p.m))
		}
		b.Summary = l.Label + ": " + strings.Join(text, ", ")
		bars = append(bars, b)
	}
	return bars
}

// lineTotal is what the bar stands for: the committed amount, or what is in use when no frame is set.
func lineTotal(l store.BudgetLine) domain.Money {
	used := l.PaidØre + l.ReleasedØre + l.ReservedØre
	if l.CommittedØre != nil && *l.CommittedØre > used {
		return *l.CommittedØre
	}
	return used
}

func (w *Web) planPage(rw http.ResponseWriter, r *http.Request, v *viewer) {
	b, err := w.st.Budget(r.Context(), v.Plan.ID)
	if err != nil {
		w.serverError(rw, r, err)
		return
	}
	type labelled = struct {
		Label string
		Line  store.BudgetLine
	}
	var src, del []labelled
	for _, s := range b.Sources {
		src = append(src, labelled{s.Name, s.BudgetLine})
	}
	for _, d := range b.Delaftaler {
		del = append(del, labelled{d.Name, d.BudgetLine})
	}
	view := planView{Plan: v.Plan, Budget: b, SourceBars: budgetBars(src), DelBars: budgetBars(del), Names: planNames(v.Plan)}
	w.render(rw, r, http.StatusOK, "plan", v, "Planen", view)
}

// financePage is a placeholder until the disbursement inbox arrives with the service layer's actions.
func (w *Web) financePage(rw http.ResponseWriter, r *http.Request, v *viewer) {
	w.render(rw, r, http.StatusOK, "finance", v, "Økonomi", nil)
}
