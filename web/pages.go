package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
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
