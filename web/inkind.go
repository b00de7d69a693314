package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/store"
)

// Naturalydelser (in-kind contributions): a section on the initiative page lists the initiative's contributions
// and, for the operational group and admin, has the form that registers one; "Økonomi › Naturalydelser" lists the
// plan's contributions with the forms finance or admin confirm or reject them with (never their own). The same
// service calls as the API's /initiatives/{id}/inkind and /inkind/{id}/confirm|reject.

const inKindPath = "/oekonomi/naturalydelser"

// routeInKind registers the in-kind pages and forms.
func (w *Web) routeInKind(pages *http.ServeMux) {
	pages.HandleFunc("POST /indsatser/{id}/naturalydelser", w.authed(w.registerInKindForm))
	pages.HandleFunc("GET "+inKindPath, w.authed(w.inKindPage))
	pages.HandleFunc("POST "+inKindPath+"/{nid}/godkend", w.authed(w.decideInKindForm(domain.InKindConfirmed)))
	pages.HandleFunc("POST "+inKindPath+"/{nid}/afvis", w.authed(w.decideInKindForm(domain.InKindRejected)))
}

// inKindRow is one contribution as the pages show it.
type inKindRow struct {
	store.InKindContribution
	Value      domain.Money
	How        string // "120 timer à 450,00 kr." or "værdi"
	StatusName string
	Registered string
	Decided    string
	// CanDecide: the viewer may confirm or reject it now (finance or admin, not its registrar, still registered).
	CanDecide bool
}

func inKindRowOf(c store.InKindContribution, p store.Principal, mayDecide bool) inKindRow {
	row := inKindRow{InKindContribution: c, Value: domain.Money(c.ValueØre), StatusName: c.Status.DanishName(),
		Registered: formatDateTime(c.RegisteredAt), How: "Værdi",
		CanDecide: mayDecide && c.Status == domain.InKindRegistered && c.RegisteredBy != p.UserID}
	if c.Hours != nil && c.RateØre != nil {
		row.How = fmt.Sprintf("%d timer à %s", *c.Hours, formatKr(domain.Money(*c.RateØre)))
	}
	if c.DecidedAt != nil {
		row.Decided = formatDateTime(*c.DecidedAt)
	}
	return row
}

// inKindPanel is the initiative page's section.
type inKindPanel struct {
	InitiativeID string
	Rows         []inKindRow
	CanRegister  bool
	Sources      []kindOption
	Milestones   []kindOption
	Values       map[string]string // the form as typed, after a refusal
	Errors       map[string]string // field id → message
	FormKey      string
}

// Err is the message for the field with id ("" for none).
func (p *inKindPanel) Err(id string) string { return p.Errors[id] }

// inKindFormKey carries a refused registration (values and field errors) to the page shown again with it.
type inKindFormKey struct{}

type inKindFormState struct {
	Values map[string]string
	Errors map[string]string
}

// Field IDs of the registration form, by the domain's field names.
var inKindFieldIDs = map[string]string{
	"source_id":    "naturalydelse-kilde",
	"milestone_no": "naturalydelse-milepael",
	"hours":        "naturalydelse-timer",
	"rate_ore":     "naturalydelse-timesats",
	"value_ore":    "naturalydelse-vaerdi",
	"description":  "naturalydelse-beskrivelse",
}

// initiativeInKindPanel builds the section for the initiative page; nil when the store keeps no in-kind (the
// section is left out rather than failing the page).
func (w *Web) initiativeInKindPanel(r *http.Request, v *viewer, in domain.Initiative) *inKindPanel {
	if w.svc == nil {
		return nil
	}
	list, err := w.svc.InitiativeInKind(r.Context(), v.Principal, in.ID)
	if err != nil {
		w.log.Warn("web: initiative in-kind", "initiative_id", in.ID, "err", err)
		return nil
	}
	mayDecide := service.MayDecideInKind(v.Principal, in.PlanID) == nil
	p := &inKindPanel{InitiativeID: in.ID, FormKey: newFormKey(), Values: map[string]string{}, Errors: map[string]string{},
		CanRegister: in.Phase.Approved() && service.MayRegisterInKind(v.Principal, in) == nil}
	for _, c := range list {
		p.Rows = append(p.Rows, inKindRowOf(c, v.Principal, mayDecide))
	}
	if st, ok := r.Context().Value(inKindFormKey{}).(inKindFormState); ok {
		p.Values, p.Errors = st.Values, st.Errors
	}
	if p.CanRegister {
		for _, s := range v.Plan.FundingSources {
			if s.Kind.ContributesInKind() {
				p.Sources = append(p.Sources, kindOption{Value: s.ID, Name: s.Name, Selected: p.Values["kilde"] == s.ID})
			}
		}
		for _, m := range in.Milestones {
			no := strconv.Itoa(m.No)
			p.Milestones = append(p.Milestones, kindOption{Value: no, Name: no + ". " + m.Title,
				Selected: p.Values["milepael"] == no})
		}
		p.CanRegister = len(p.Sources) > 0
	}
	return p
}

// readInKindForm reads the registration form; problems are keyed by field id.
func readInKindForm(r *http.Request) (domain.InKind, map[string]string, map[string]string) {
	vals := map[string]string{}
	for _, f := range []string{"kilde", "milepael", "timer", "timesats", "vaerdi", "beskrivelse"} {
		vals[f] = strings.TrimSpace(r.PostFormValue(f))
	}
	errs := map[string]string{}
	k := domain.InKind{SourceID: vals["kilde"], Description: vals["beskrivelse"]}
	if n, err := strconv.Atoi(vals["milepael"]); err == nil {
		k.MilestoneNo = n
	}
	if vals["timer"] != "" {
		n, err := strconv.ParseInt(vals["timer"], 10, 64)
		if err != nil {
			errs["naturalydelse-timer"] = "Skriv antal timer som et helt tal, fx 120."
		} else {
			k.Hours = &n
		}
	}
	for _, f := range []struct{ name, id string }{{"timesats", "naturalydelse-timesats"}, {"vaerdi", "naturalydelse-vaerdi"}} {
		m, blank, err := parseKroner(vals[f.name])
		switch {
		case err != nil:
			errs[f.id] = "Skriv beløbet i kroner, fx 450 eller 1.250,50."
		case !blank && f.name == "timesats":
			k.RateØre = &m
		case !blank:
			k.ValueØre = &m
		}
	}
	if k.Hours == nil && k.RateØre != nil && errs["naturalydelse-timer"] == "" {
		errs["naturalydelse-timer"] = "Skriv antal timer, når du angiver en timesats."
	}
	if k.Hours != nil && k.RateØre == nil && errs["naturalydelse-timesats"] == "" {
		errs["naturalydelse-timesats"] = "Skriv timesatsen, når du angiver timer."
	}
	return k, vals, errs
}

func (w *Web) registerInKindForm(rw http.ResponseWriter, r *http.Request, v *viewer) {
	if w.svc == nil {
		w.boardFailed(rw, r, v, service.ErrUnavailable)
		return
	}
	id := r.PathValue("id")
	in, _, err := w.svc.Initiative(r.Context(), v.Principal, id)
	if isNotFound(err) || (err == nil && in.PlanID != v.Plan.ID) {
		w.notFound(rw, r)
		return
	}
	if err != nil {
		w.boardFailed(rw, r, v, err)
		return
	}
	k, vals, errs := readInKindForm(r)
	if len(errs) == 0 {
		k.RequestKey = formIdem(v.Principal, r).Key() // a double click registers once
		_, err = w.svc.RegisterInKind(r.Context(), v.Principal, id, k)
	}
	var re *domain.RuleError
	switch {
	case len(errs) == 0 && err == nil:
		w.sessions.Put(r.Context(), flashKey, "Naturalydelsen er registreret. Den tæller med, når økonomi har godkendt den.")
		http.Redirect(rw, r, "/indsatser/"+id+"#naturalydelser", http.StatusSeeOther)
		return
	case len(errs) == 0 && !(errors.As(err, &re) && re.Code != domain.CodeForbidden && re.Code != domain.CodeNotFound):
		w.boardFailed(rw, r, v, err)
		return
	case re != nil:
		for _, p := range re.Problems {
			if fid, ok := inKindFieldIDs[p.Field]; ok && errs[fid] == "" {
				errs[fid] = p.Message
			}
		}
		if len(errs) == 0 {
			errs["naturalydelse-kilde"] = re.Message
		}
	}
	var summary []fieldError
	for _, fid := range []string{"naturalydelse-kilde", "naturalydelse-milepael", "naturalydelse-timer",
		"naturalydelse-timesats", "naturalydelse-vaerdi", "naturalydelse-beskrivelse"} {
		if msg := errs[fid]; msg != "" {
			summary = append(summary, fieldError{ID: fid, Message: msg})
		}
	}
	status := http.StatusUnprocessableEntity
	if re != nil {
		status = ruleStatus(re.Code)
	}
	r = r.WithContext(context.WithValue(r.Context(), inKindFormKey{}, inKindFormState{Values: vals, Errors: errs}))
	w.showInitiative(rw, r, v, status, nil, summary)
}

// inKindView is the page Økonomi › Naturalydelser.
type inKindView struct {
	Rows      []inKindRow
	Status    string // the filter: "" (all) or a status
	Filters   []kindOption
	Errors    []fieldError
	Flash     string
	MayDecide bool
	Failed    int64 // the contribution whose rejection was refused, with Reason as typed
	Reason    string
	ReasonErr string
}

func (w *Web) inKindPage(rw http.ResponseWriter, r *http.Request, v *viewer) {
	w.renderInKind(rw, r, v, http.StatusOK, inKindView{Status: r.URL.Query().Get("status")})
}

func (w *Web) renderInKind(rw http.ResponseWriter, r *http.Request, v *viewer, status int, view inKindView) {
	if w.svc == nil {
		w.unavailable(rw, r, v, errors.New("web: no service"))
		return
	}
	if !domain.InKindStatus(view.Status).Valid() {
		view.Status = ""
	}
	list, err := w.svc.InKind(r.Context(), v.Principal, v.Plan.ID, view.Status)
	if err != nil {
		w.financeFailed(rw, r, v, err)
		return
	}
	view.MayDecide = service.MayDecideInKind(v.Principal, v.Plan.ID) == nil
	for _, c := range list {
		view.Rows = append(view.Rows, inKindRowOf(c, v.Principal, view.MayDecide))
	}
	view.Filters = []kindOption{{Value: "", Name: "Alle", Selected: view.Status == ""}}
	for _, s := range []domain.InKindStatus{domain.InKindRegistered, domain.InKindConfirmed, domain.InKindRejected} {
		view.Filters = append(view.Filters, kindOption{Value: string(s), Name: s.DanishName(), Selected: view.Status == string(s)})
	}
	if len(view.Errors) == 0 {
		view.Flash = w.sessions.PopString(r.Context(), flashKey)
	}
	title := "Naturalydelser"
	if len(view.Errors) > 0 {
		title = "Fejl: " + title
	}
	w.render(rw, r, status, "oekonomi-naturalydelser", v, title, view)
}

// decideInKindForm confirms or rejects one contribution and redirects (303) to the list; a refusal shows the list
// again with the reason on top (and, for a rejection, next to its reason field).
func (w *Web) decideInKindForm(status domain.InKindStatus) func(http.ResponseWriter, *http.Request, *viewer) {
	return func(rw http.ResponseWriter, r *http.Request, v *viewer) {
		if w.svc == nil {
			w.unavailable(rw, r, v, errors.New("web: no service"))
			return
		}
		id, err := strconv.ParseInt(r.PathValue("nid"), 10, 64)
		if err != nil || id < 1 {
			w.notFound(rw, r)
			return
		}
		reason := r.PostFormValue("begrundelse")
		_, err = w.svc.DecideInKind(r.Context(), v.Principal, id, status, reason)
		var re *domain.RuleError
		switch {
		case err == nil:
			msg := "Naturalydelsen er godkendt og tæller nu med som bidrag og lokal medfinansiering."
			if status == domain.InKindRejected {
				msg = "Naturalydelsen er afvist."
			}
			w.sessions.Put(r.Context(), flashKey, msg)
			http.Redirect(rw, r, inKindPath, http.StatusSeeOther)
		case errors.As(err, &re) && re.Code != domain.CodeNotFound:
			msg := re.Message
			for _, p := range re.Problems {
				msg = p.Message
			}
			view := inKindView{Failed: id, Reason: reason}
			fid := "naturalydelser-liste"
			if len(re.Problems) > 0 {
				fid, view.ReasonErr = "begrundelse-"+strconv.FormatInt(id, 10), msg
			}
			view.Errors = []fieldError{{ID: fid, Message: msg}}
			w.renderInKind(rw, r, v, ruleStatus(re.Code), view)
		default:
			w.financeFailed(rw, r, v, err)
		}
	}
}
