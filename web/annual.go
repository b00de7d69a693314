package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/store"
)

// "Årsregnskab" (/planen/aarsregnskab): the annual statement to Landsbyggefonden per plan year, with its status
// and due date, the settings (due date, release hold) and, per year (/planen/aarsregnskab/{year}), the figures per
// funding source with their definitions, the auditor's declaration and the filing, and the downloads
// (/planen/aarsregnskab/{year}.xlsx and .pdf). Every plan member reads; the secretariat (admin) records the
// declaration, the filing and the settings. The same service calls as the API's /annual-statements.

const annualPath = "/planen/aarsregnskab"

// sessionAnnualFlash holds the message of a change that succeeded until the page after the redirect shows it.
const sessionAnnualFlash = "annual_flash"

// routeAnnual registers the pages and forms.
func (w *Web) routeAnnual(mux *http.ServeMux) {
	mux.HandleFunc("GET "+annualPath, w.authed(w.annualListPage))
	mux.HandleFunc("POST "+annualPath+"/indstillinger", w.authed(w.annualSettingsForm))
	mux.HandleFunc("GET "+annualPath+"/{year}", w.authed(w.annualYearPage))
	mux.HandleFunc("POST "+annualPath+"/{year}/erklaering", w.authed(w.annualDeclarationForm))
	mux.HandleFunc("POST "+annualPath+"/{year}/indsendelse", w.authed(w.annualFilingForm))
}

// annualListView is /planen/aarsregnskab.
type annualListView struct {
	Rows     []annualListRow
	CanEdit  bool
	Settings annualSettingsForm
	History  []annualSettingsRow
	Hold     *store.Hold
	Errors   []fieldError
	// FieldErrors are the settings form's messages by HTML id.
	FieldErrors map[string]string
	Flash       string
}

// Err is the message at the field with HTML id.
func (v *annualListView) Err(id string) string { return v.FieldErrors[id] }

type annualListRow struct {
	Year               int
	Status, StatusName string
	Due                string
	YearOver, Overdue  bool
	Href               string
}

type annualSettingsForm struct {
	Month, Day, Note string
	Hold             bool
	Due              string // "30.06." as now in force
}

type annualSettingsRow struct {
	Version          int
	Due, Hold        string
	When, Who, Notes string
}

var annualSettingsFieldIDs = map[string]string{"due_month": "frist-maaned", "due_day": "frist-dag", "note": "indstillinger-note"}

func annualSettingsFieldID(field string) string {
	if id, ok := annualSettingsFieldIDs[field]; ok {
		return id
	}
	return "indstillinger-form"
}

func (w *Web) annualListPage(rw http.ResponseWriter, r *http.Request, v *viewer) {
	w.showAnnualList(rw, r, v, http.StatusOK, nil)
}

// showAnnualList renders the list; after a refused settings change with the form as typed and the problems.
func (w *Web) showAnnualList(rw http.ResponseWriter, r *http.Request, v *viewer, status int, view *annualListView) {
	ctx, p, planID := r.Context(), v.Principal, v.Plan.ID
	list, err := w.svc.AnnualStatements(ctx, p, planID)
	if err != nil {
		w.boardFailed(rw, r, v, err)
		return
	}
	set, err := w.svc.AnnualSettings(ctx, p, planID)
	if err != nil {
		w.boardFailed(rw, r, v, err)
		return
	}
	hold, err := w.svc.ReleaseHold(ctx, planID, time.Now())
	if err != nil {
		w.boardFailed(rw, r, v, err)
		return
	}
	if view == nil {
		view = &annualListView{FieldErrors: map[string]string{}, Settings: annualSettingsForm{
			Month: strconv.Itoa(int(set.Due.Month)), Day: strconv.Itoa(set.Due.Day), Hold: set.HoldReleases}}
	}
	view.Settings.Due = set.Due.String()
	view.Hold = hold
	view.CanEdit = service.MayManageAnnual(p, planID) == nil
	for _, y := range list {
		view.Rows = append(view.Rows, annualListRow{Year: y.Year, Status: string(y.Status), StatusName: y.Status.DanishName(),
			Due: formatDate(y.Due), YearOver: y.YearOver, Overdue: y.Overdue, Href: fmt.Sprintf("%s/%d", annualPath, y.Year)})
	}
	for _, h := range set.History {
		row := annualSettingsRow{Version: h.Version, Due: h.Due.String(), Hold: "Nej", When: formatDateTime(h.ChangedAt),
			Who: whoChanged(h.ChangedByName), Notes: h.Note}
		if h.HoldReleases {
			row.Hold = "Ja"
		}
		view.History = append(view.History, row)
	}
	if status == http.StatusOK && view.Errors == nil {
		view.Flash = w.sessions.PopString(ctx, sessionAnnualFlash)
	}
	title := "Årsregnskab til Landsbyggefonden"
	if len(view.Errors) > 0 {
		title = "Fejl: " + title
	}
	w.render(rw, r, status, "annual", v, title, view)
}

// annualSettingsForm records the due date and the hold (service.SetAnnualSettings, the API's PUT settings).
func (w *Web) annualSettingsForm(rw http.ResponseWriter, r *http.Request, v *viewer) {
	ctx, p, planID := r.Context(), v.Principal, v.Plan.ID
	if err := service.MayManageAnnual(p, planID); err != nil {
		w.boardFailed(rw, r, v, err)
		return
	}
	if err := r.ParseForm(); err != nil {
		w.badRequest(rw, r, "Formularen kunne ikke læses.")
		return
	}
	f := annualSettingsForm{Month: strings.TrimSpace(r.PostFormValue("maaned")), Day: strings.TrimSpace(r.PostFormValue("dag")),
		Note: r.PostFormValue("note"), Hold: r.PostFormValue("tilbagehold") == "ja"}
	var problems []domain.FieldProblem
	month, err := strconv.Atoi(f.Month)
	if err != nil {
		problems = append(problems, domain.FieldProblem{Field: "due_month", Code: "not_a_number", Message: "Skriv måneden som et tal fra 1 til 12."})
	}
	day, err := strconv.Atoi(f.Day)
	if err != nil {
		problems = append(problems, domain.FieldProblem{Field: "due_day", Code: "not_a_number", Message: "Skriv dagen som et tal, fx 30."})
	}
	if len(problems) == 0 {
		_, err = w.svc.SetAnnualSettings(ctx, p, planID, store.AnnualSettingsInput{
			Due: domain.AnnualDue{Month: time.Month(month), Day: day}, HoldReleases: f.Hold, Note: f.Note})
	} else {
		err = &domain.RuleError{Code: domain.CodeValidation, Message: "Indstillingerne kan ikke gemmes.", Problems: problems}
	}
	var re *domain.RuleError
	switch {
	case err == nil:
		w.sessions.Put(ctx, sessionAnnualFlash, "Indstillingerne for årsregnskabet er gemt.")
		http.Redirect(rw, r, annualPath+"#indstillinger", http.StatusSeeOther)
	case errors.As(err, &re) && re.Code != domain.CodeForbidden && re.Code != domain.CodeNotFound:
		view := &annualListView{FieldErrors: map[string]string{}, Settings: f}
		view.Errors = problemsAt(re, view.FieldErrors, annualSettingsFieldID)
		w.showAnnualList(rw, r, v, ruleStatus(re.Code), view)
	default:
		w.boardFailed(rw, r, v, err)
	}
}

// annualYearView is /planen/aarsregnskab/{year}.
type annualYearView struct {
	Year                int
	Status, StatusName  string
	Due                 string
	YearOver, Overdue   bool
	Sources             []string
	Rows                []annualFigureRow
	Changed             bool // the live figures differ from those frozen at the declaration
	Declaration         *store.AnnualDeclaration
	Filing              *store.AnnualFiling
	History             []annualEventRow
	CanDeclare, CanFile bool
	NotOverYet          bool // admin, but the year is not over: no declaration yet
	Decl                annualDeclForm
	File                annualFileForm
	XLSXHref, PDFHref   string
	Errors              []fieldError
	FieldErrors         map[string]string
	Flash               string
	DeclaredOn, FiledOn string
	DeclaredAt, FiledAt string
	DeclaredBy, FiledBy string
}

// Err is the message at the field with HTML id.
func (v *annualYearView) Err(id string) string { return v.FieldErrors[id] }

// annualFigureRow is one figure: its label, definition and a value per source and the total.
type annualFigureRow struct {
	Label, Definition string
	Cells             []annualCell
	Total             annualCell
}

// annualCell is a figure's value; Frozen is the declared value when it differs from the live one.
type annualCell struct {
	Value, Frozen string
}

type annualEventRow struct {
	What, When, Who string
}

type annualDeclForm struct {
	On, Auditor, Reference, Note string
}

type annualFileForm struct {
	On, Note string
}

var annualFieldIDs = map[string]string{
	"declared_on": "erklaering-dato", "auditor": "erklaering-revisor", "reference": "erklaering-reference",
	"filed_on": "indsendelse-dato",
}

func annualDeclFieldID(field string) string {
	if id, ok := annualFieldIDs[field]; ok {
		return id
	}
	if field == "note" {
		return "erklaering-note"
	}
	return "erklaering-form"
}

func annualFileFieldID(field string) string {
	if id, ok := annualFieldIDs[field]; ok {
		return id
	}
	if field == "note" {
		return "indsendelse-note"
	}
	return "indsendelse-form"
}

// annualYearOf reads the path's year ("2024"), or a download's ("2024.xlsx", "2024.pdf").
func annualYearOf(r *http.Request) (year int, format string, ok bool) {
	raw := r.PathValue("year")
	for _, ext := range []string{".xlsx", ".pdf"} {
		if y, cut := strings.CutSuffix(raw, ext); cut {
			raw, format = y, ext[1:]
		}
	}
	year, err := strconv.Atoi(raw)
	return year, format, err == nil && len(raw) == 4
}

func (w *Web) annualYearPage(rw http.ResponseWriter, r *http.Request, v *viewer) {
	year, format, ok := annualYearOf(r)
	if !ok {
		w.notFound(rw, r)
		return
	}
	if format != "" {
		f, err := w.svc.AnnualStatementFile(r.Context(), v.Principal, v.Plan.ID, year, format)
		if err != nil {
			w.boardFailed(rw, r, v, err)
			return
		}
		h := rw.Header()
		h.Set("Content-Type", f.ContentType)
		h.Set("Content-Disposition", `attachment; filename="`+f.FileName+`"`)
		rw.WriteHeader(http.StatusOK)
		_, _ = rw.Write(f.Body)
		return
	}
	w.showAnnualYear(rw, r, v, year, http.StatusOK, nil)
}

// showAnnualYear renders a year's statement; after a refused form with the values as typed and the problems.
func (w *Web) showAnnualYear(rw http.ResponseWriter, r *http.Request, v *viewer, year, status int, view *annualYearView) {
	ctx, p, planID := r.Context(), v.Principal, v.Plan.ID
	st, err := w.svc.AnnualStatement(ctx, p, planID, year)
	if err != nil {
		w.boardFailed(rw, r, v, err)
		return
	}
	if view == nil {
		view = &annualYearView{FieldErrors: map[string]string{}}
	}
	admin := service.MayManageAnnual(p, planID) == nil
	view.Year, view.Status, view.StatusName = st.Year, string(st.Status), st.Status.DanishName()
	view.Due, view.YearOver, view.Overdue, view.Changed = formatDate(st.Due), st.YearOver, st.Overdue, st.Changed
	view.Declaration, view.Filing = st.Declaration, st.Filing
	view.CanDeclare = admin && st.YearOver && st.Declaration == nil
	view.NotOverYet = admin && !st.YearOver
	view.CanFile = admin && st.Declaration != nil && st.Filing == nil
	view.XLSXHref = fmt.Sprintf("%s/%d.xlsx", annualPath, year)
	view.PDFHref = fmt.Sprintf("%s/%d.pdf", annualPath, year)
	for _, s := range st.Figures.Sources {
		view.Sources = append(view.Sources, s.Name)
	}
	var frozen *domain.AnnualStatementFigures
	if st.Declaration != nil && st.Changed {
		frozen = &st.Declaration.Figures
	}
	for _, def := range domain.AnnualFigureDefs {
		row := annualFigureRow{Label: def.Label, Definition: def.Definition}
		for i, s := range st.Figures.Sources {
			c := annualCell{Value: statementKr(def.Value(s.AnnualFigures))}
			if frozen != nil && i < len(frozen.Sources) && frozen.Sources[i].SourceID == s.SourceID {
				if fv := def.Value(frozen.Sources[i].AnnualFigures); fv != def.Value(s.AnnualFigures) {
					c.Frozen = statementKr(fv)
				}
			}
			row.Cells = append(row.Cells, c)
		}
		row.Total = annualCell{Value: statementKr(def.Value(st.Figures.Total))}
		if frozen != nil {
			if fv := def.Value(frozen.Total); fv != def.Value(st.Figures.Total) {
				row.Total.Frozen = statementKr(fv)
			}
		}
		view.Rows = append(view.Rows, row)
	}
	if d := st.Declaration; d != nil {
		view.DeclaredOn, view.DeclaredAt, view.DeclaredBy = formatDate(d.DeclaredOn), formatDateTime(d.RecordedAt), whoChanged(d.RecordedByName)
		view.History = append(view.History, annualEventRow{
			What: fmt.Sprintf("Revisorerklæring registreret (%s, %s, reference %s)", formatDate(d.DeclaredOn), d.Auditor, d.Reference),
			When: view.DeclaredAt, Who: view.DeclaredBy})
	}
	if f := st.Filing; f != nil {
		view.FiledOn, view.FiledAt, view.FiledBy = formatDate(f.FiledOn), formatDateTime(f.RecordedAt), whoChanged(f.RecordedByName)
		view.History = append(view.History, annualEventRow{
			What: fmt.Sprintf("Markeret som indsendt til Landsbyggefonden den %s", formatDate(f.FiledOn)),
			When: view.FiledAt, Who: view.FiledBy})
	}
	if status == http.StatusOK && view.Errors == nil {
		view.Flash = w.sessions.PopString(ctx, sessionAnnualFlash)
	}
	title := fmt.Sprintf("Årsregnskab %d", year)
	if len(view.Errors) > 0 {
		title = "Fejl: " + title
	}
	w.render(rw, r, status, "annual-year", v, title, view)
}

// statementKr shows a statement's amount with its øre always ("2.741.800,00 kr."), as the exports and an
// auditor's statement do, so the columns line up.
func statementKr(m domain.Money) string { return m.String() }

// formDate parses a date field ("2025-03-15", as <input type="date"> sends it); blank is the zero date, which the
// service refuses as missing.
func formDate(field, v string, problems *[]domain.FieldProblem) domain.Date {
	v = strings.TrimSpace(v)
	if v == "" {
		return domain.Date{}
	}
	d, err := domain.ParseDate(v)
	if err != nil {
		*problems = append(*problems, domain.FieldProblem{Field: field, Code: "invalid_date",
			Message: "Skriv datoen som ÅÅÅÅ-MM-DD, fx 2025-03-15."})
	}
	return d
}

// annualFormYear reads the year of a form's path; false has answered 404.
func (w *Web) annualFormYear(rw http.ResponseWriter, r *http.Request, v *viewer) (int, bool) {
	year, format, ok := annualYearOf(r)
	if !ok || format != "" {
		w.notFound(rw, r)
		return 0, false
	}
	if err := service.MayManageAnnual(v.Principal, v.Plan.ID); err != nil {
		w.boardFailed(rw, r, v, err)
		return 0, false
	}
	if err := r.ParseForm(); err != nil {
		w.badRequest(rw, r, "Formularen kunne ikke læses.")
		return 0, false
	}
	return year, true
}

// annualDeclarationForm records the auditor's declaration (service.DeclareAnnualStatement, the API's PUT).
func (w *Web) annualDeclarationForm(rw http.ResponseWriter, r *http.Request, v *viewer) {
	year, ok := w.annualFormYear(rw, r, v)
	if !ok {
		return
	}
	f := annualDeclForm{On: r.PostFormValue("dato"), Auditor: r.PostFormValue("revisor"),
		Reference: r.PostFormValue("reference"), Note: r.PostFormValue("note")}
	var problems []domain.FieldProblem
	on := formDate("declared_on", f.On, &problems)
	var err error
	if len(problems) == 0 {
		_, err = w.svc.DeclareAnnualStatement(r.Context(), v.Principal, v.Plan.ID, year, store.AnnualDeclarationInput{
			DeclaredOn: on, Auditor: f.Auditor, Reference: f.Reference, Note: f.Note})
	} else {
		err = &domain.RuleError{Code: domain.CodeValidation, Message: "Revisorerklæringen kan ikke gemmes.", Problems: problems}
	}
	w.annualFormDone(rw, r, v, year, err, "Revisorerklæringen er registreret, og tallene er fastfrosset.",
		func(view *annualYearView, re *domain.RuleError) {
			view.Decl = f
			view.Errors = problemsAt(re, view.FieldErrors, annualDeclFieldID)
		})
}

// annualFilingForm records the filing (service.FileAnnualStatement, the API's POST).
func (w *Web) annualFilingForm(rw http.ResponseWriter, r *http.Request, v *viewer) {
	year, ok := w.annualFormYear(rw, r, v)
	if !ok {
		return
	}
	f := annualFileForm{On: r.PostFormValue("dato"), Note: r.PostFormValue("note")}
	var problems []domain.FieldProblem
	on := formDate("filed_on", f.On, &problems)
	var err error
	if len(problems) == 0 {
		_, err = w.svc.FileAnnualStatement(r.Context(), v.Principal, v.Plan.ID, year, store.AnnualFilingInput{FiledOn: on, Note: f.Note})
	} else {
		err = &domain.RuleError{Code: domain.CodeValidation, Message: "Indsendelsen kan ikke gemmes.", Problems: problems}
	}
	w.annualFormDone(rw, r, v, year, err, "Årsregnskabet er markeret som indsendt til Landsbyggefonden.",
		func(view *annualYearView, re *domain.RuleError) {
			view.File = f
			view.Errors = problemsAt(re, view.FieldErrors, annualFileFieldID)
		})
}

// annualFormDone answers a year page's form: on success a flash and a redirect to the page; a refusal shows the
// page again with the form as typed (fill) and the problems, with the API's status.
func (w *Web) annualFormDone(rw http.ResponseWriter, r *http.Request, v *viewer, year int, err error, flash string,
	fill func(*annualYearView, *domain.RuleError)) {
	var re *domain.RuleError
	switch {
	case err == nil:
		w.sessions.Put(r.Context(), sessionAnnualFlash, flash)
		http.Redirect(rw, r, fmt.Sprintf("%s/%d", annualPath, year), http.StatusSeeOther)
	case errors.As(err, &re) && re.Code != domain.CodeForbidden && re.Code != domain.CodeNotFound:
		view := &annualYearView{FieldErrors: map[string]string{}}
		fill(view, re)
		w.showAnnualYear(rw, r, v, year, ruleStatus(re.Code), view)
	default:
		w.boardFailed(rw, r, v, err)
	}
}
