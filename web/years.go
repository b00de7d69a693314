package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/store"
)

// "Årsfordeling" (/planen/aarsfordeling): each funding source's commitment split by the plan's years, with its
// history, and the delaftaler's budget frames. Every plan member reads it; the secretariat (admin) changes the
// split (service.SetCommitments, the API's PUT /commitments) and the frames (service.SetDelaftaleFrame). The
// budget by source × delaftale × year downloads as CSV from /planen/budget.csv and as XLSX from /planen/budget.xlsx.

// routeYears registers the pages.
func (w *Web) routeYears(pages *http.ServeMux) {
	pages.HandleFunc("GET /planen/aarsfordeling", w.authed(w.yearsPage))
	pages.HandleFunc("POST /planen/aarsfordeling", w.authed(w.setCommitmentsForm))
	pages.HandleFunc("POST /planen/aarsfordeling/ramme", w.authed(w.setFrameForm))
	pages.HandleFunc("GET /planen/budget.csv", w.authed(w.budgetCSV))
	pages.HandleFunc("GET /planen/budget.xlsx", w.authed(w.budgetXLSX))
}

// sessionYearsFlash holds the message of a change that succeeded until the page after the redirect shows it.
const sessionYearsFlash = "years_flash"

// yearsView is /planen/aarsfordeling.
type yearsView struct {
	Years    []int
	Sources  []yearsSource
	History  []yearsVersion
	Frames   []frameRow
	FrameLog []frameLogRow
	CanEdit  bool
	Note     string
	Errors   []fieldError
	// FieldErrors are the messages by HTML id, for the commitments form and the frame form.
	FieldErrors map[string]string
	Frame       frameForm
	Flash       string
}

// Err is the message at the field with HTML id.
func (v *yearsView) Err(id string) string { return v.FieldErrors[id] }

type yearsSource struct {
	ID, Name  string
	Committed domain.Money
	Version   int
	// Placeholder: the current split is the seed's even one, which binds no approval until admin saves a split.
	Placeholder bool
	FieldID     string // the HTML id of the source's fieldset (its sum's error)
	Cells       []yearsCell
}

type yearsCell struct {
	Year     int
	ID, Name string // HTML id and form name
	Value    string // as shown or typed
}

type yearsVersion struct {
	Source, When, Who, Note, Split string
	Version                        int
}

type frameRow struct {
	ID, Name, Frame string
}

type frameLogRow struct {
	Delaftale, Frame, When, Who, Note string
}

type frameForm struct {
	Delaftale, Amount, Note string
}

func yearFieldID(src string, year int) string   { return fmt.Sprintf("aar-%s-%d", src, year) }
func yearFieldName(src string, year int) string { return fmt.Sprintf("beloeb_%s_%d", src, year) }

// commitmentFieldID maps a problem field of store.SetCommitments to its HTML id.
func commitmentFieldID(field string) string {
	rest, ok := strings.CutPrefix(field, "commitments[")
	if !ok {
		if field == "note" {
			return "aar-note"
		}
		return "aar-form"
	}
	src, after, _ := strings.Cut(rest, "]")
	if y, ok := strings.CutPrefix(after, "["); ok {
		if n, err := strconv.Atoi(strings.TrimSuffix(y, "]")); err == nil {
			return yearFieldID(src, n)
		}
	}
	return "aar-" + src
}

func frameFieldID(field string) string {
	switch field {
	case "note":
		return "ramme-note"
	case "delaftale":
		return "ramme-delaftale"
	}
	return "ramme-beloeb"
}

func (w *Web) yearsPage(rw http.ResponseWriter, r *http.Request, v *viewer) {
	w.showYears(rw, r, v, http.StatusOK, nil, nil, nil)
}

// showYears renders the page; after a refused change with the values as typed (typed: by form name; frame: the
// frame form) and the problems.
func (w *Web) showYears(rw http.ResponseWriter, r *http.Request, v *viewer, status int, typed map[string]string,
	frame *frameForm, view *yearsView) {
	ctx, p, planID := r.Context(), v.Principal, v.Plan.ID
	c, err := w.svc.Commitments(ctx, p, planID)
	if err != nil {
		w.boardFailed(rw, r, v, err)
		return
	}
	hist, err := w.svc.CommitmentHistory(ctx, p, planID)
	if err != nil {
		w.boardFailed(rw, r, v, err)
		return
	}
	frameLog, err := w.svc.FrameHistory(ctx, p, planID)
	if err != nil {
		w.boardFailed(rw, r, v, err)
		return
	}
	budget, err := w.svc.Budget(ctx, p, planID)
	if err != nil {
		w.boardFailed(rw, r, v, err)
		return
	}
	if view == nil {
		view = &yearsView{FieldErrors: map[string]string{}}
	}
	view.Years = c.Years
	view.CanEdit = service.MayChangeCommitments(p, planID) == nil
	for _, src := range c.Sources {
		ys := yearsSource{ID: src.SourceID, Name: src.Name, Committed: src.CommittedØre, Version: src.Version,
			Placeholder: src.Version > 0 && src.ChangedBy == "",
			FieldID:     "aar-" + src.SourceID}
		for _, y := range c.Years {
			cell := yearsCell{Year: y, ID: yearFieldID(src.SourceID, y), Name: yearFieldName(src.SourceID, y)}
			for _, cy := range src.Years {
				if cy.Year == y {
					cell.Value = proposalKrInput(cy.AmountØre)
				}
			}
			if t, ok := typed[cell.Name]; ok {
				cell.Value = t
			}
			ys.Cells = append(ys.Cells, cell)
		}
		view.Sources = append(view.Sources, ys)
	}
	for _, h := range hist {
		parts := make([]string, len(h.Years))
		for i, y := range h.Years {
			parts[i] = fmt.Sprintf("%d: %s", y.Year, formatKr(y.AmountØre))
		}
		view.History = append(view.History, yearsVersion{Source: h.Name, Version: h.Version,
			When: formatDateTime(h.ChangedAt), Who: whoChanged(h.ChangedByName), Note: h.Note, Split: strings.Join(parts, "; ")})
	}
	names := planNames(v.Plan)
	for _, d := range budget.Delaftaler {
		fr := frameRow{ID: d.DelaftaleID, Name: d.Name, Frame: "Ingen ramme"}
		if d.CommittedØre != nil {
			fr.Frame = formatKr(*d.CommittedØre)
		}
		view.Frames = append(view.Frames, fr)
	}
	for _, f := range frameLog {
		row := frameLogRow{Delaftale: names.Delaftaler[f.DelaftaleID], Frame: "fjernet", When: formatDateTime(f.ChangedAt),
			Who: whoChanged(f.ChangedByName), Note: f.Note}
		if f.FrameØre != nil {
			row.Frame = formatKr(*f.FrameØre)
		}
		view.FrameLog = append(view.FrameLog, row)
	}
	if frame != nil {
		view.Frame = *frame
	}
	if status == http.StatusOK && view.Errors == nil {
		view.Flash = w.sessions.PopString(ctx, sessionYearsFlash)
	}
	title := "Årsfordeling og rammer"
	if len(view.Errors) > 0 {
		title = "Fejl: " + title
	}
	w.render(rw, r, status, "plan-aarsfordeling", v, title, view)
}

// amountProblem is the Danish message for an amount that did not parse.
func amountProblem(err error) string {
	switch {
	case errors.Is(err, errAmountNegative):
		return "Beløbet kan ikke være negativt."
	case errors.Is(err, errAmountTooLarge):
		return "Beløbet er for stort."
	}
	return "Skriv beløbet i kroner, fx 2.741.800 eller 2741800,50."
}

// setCommitmentsForm records the split as the form says: one field per source and year, in kroner; a blank field
// is 0. Every source goes to service.SetCommitments with the version the form was made from; those unchanged write
// nothing, so a double click changes nothing twice, and a form made from an older version is refused (409).
func (w *Web) setCommitmentsForm(rw http.ResponseWriter, r *http.Request, v *viewer) {
	ctx, p, planID := r.Context(), v.Principal, v.Plan.ID
	if err := service.MayChangeCommitments(p, planID); err != nil {
		w.boardFailed(rw, r, v, err)
		return
	}
	if err := r.ParseForm(); err != nil {
		w.badRequest(rw, r, "Formularen kunne ikke læses.")
		return
	}
	c, err := w.svc.Commitments(ctx, p, planID)
	if err != nil {
		w.boardFailed(rw, r, v, err)
		return
	}
	note := r.PostFormValue("note")
	typed := map[string]string{}
	var problems []domain.FieldProblem
	var splits []store.CommitmentSplit
	for _, src := range c.Sources {
		version, _ := strconv.Atoi(r.PostFormValue("version_" + src.SourceID))
		sp := store.CommitmentSplit{SourceID: src.SourceID, BasedOnVersion: version}
		for _, y := range c.Years {
			name := yearFieldName(src.SourceID, y)
			typed[name] = r.PostFormValue(name)
			m, _, err := parseKroner(typed[name])
			if err != nil {
				problems = append(problems, domain.FieldProblem{Field: store.CommitmentField(src.SourceID, y),
					Code: "not_an_amount", Message: fmt.Sprintf("%s %d: %s", src.Name, y, amountProblem(err))})
				continue
			}
			sp.Years = append(sp.Years, store.CommitmentYear{Year: y, AmountØre: m})
		}
		splits = append(splits, sp)
	}
	if len(problems) == 0 {
		_, err = w.svc.SetCommitments(ctx, p, planID, splits, note)
	} else {
		err = &domain.RuleError{Code: domain.CodeValidation, Message: "Årsfordelingen kan ikke gemmes.", Problems: problems}
	}
	var re *domain.RuleError
	switch {
	case err == nil:
		w.sessions.Put(ctx, sessionYearsFlash, "Årsfordelingen er gemt.")
		http.Redirect(rw, r, "/planen/aarsfordeling", http.StatusSeeOther)
	case errors.As(err, &re) && re.Code != domain.CodeForbidden && re.Code != domain.CodeNotFound:
		view := &yearsView{FieldErrors: map[string]string{}, Note: note}
		view.Errors = problemsAt(re, view.FieldErrors, commitmentFieldID)
		if re.Code == domain.CodeConflict {
			typed = nil // made from an older version: show the split as it is now
		}
		w.showYears(rw, r, v, ruleStatus(re.Code), typed, nil, view)
	default:
		w.boardFailed(rw, r, v, err)
	}
}

// setFrameForm sets or (blank amount) removes a delaftale's budget frame.
func (w *Web) setFrameForm(rw http.ResponseWriter, r *http.Request, v *viewer) {
	ctx, p, planID := r.Context(), v.Principal, v.Plan.ID
	if err := service.MayChangeCommitments(p, planID); err != nil {
		w.boardFailed(rw, r, v, err)
		return
	}
	if err := r.ParseForm(); err != nil {
		w.badRequest(rw, r, "Formularen kunne ikke læses.")
		return
	}
	f := frameForm{Delaftale: r.PostFormValue("delaftale"), Amount: r.PostFormValue("ramme"), Note: r.PostFormValue("note")}
	m, blank, err := parseKroner(f.Amount)
	var frame *domain.Money
	if !blank && err == nil {
		frame = &m
	}
	if err != nil {
		err = &domain.RuleError{Code: domain.CodeValidation, Message: "Rammen kan ikke gemmes.",
			Problems: []domain.FieldProblem{{Field: "frame_ore", Code: "not_an_amount", Message: amountProblem(err)}}}
	} else {
		err = w.svc.SetDelaftaleFrame(ctx, p, planID, f.Delaftale, frame, f.Note)
	}
	var re *domain.RuleError
	switch {
	case err == nil:
		w.sessions.Put(ctx, sessionYearsFlash, "Rammen er gemt.")
		http.Redirect(rw, r, "/planen/aarsfordeling#rammer", http.StatusSeeOther)
	case errors.As(err, &re) && re.Code != domain.CodeForbidden:
		if re.Code == domain.CodeNotFound {
			re = &domain.RuleError{Code: domain.CodeValidation, Message: re.Message,
				Problems: []domain.FieldProblem{{Field: "delaftale", Code: "unknown", Message: "Vælg en af planens delaftaler."}}}
		}
		view := &yearsView{FieldErrors: map[string]string{}}
		view.Errors = problemsAt(re, view.FieldErrors, frameFieldID)
		w.showYears(rw, r, v, ruleStatus(re.Code), nil, &f, view)
	default:
		w.boardFailed(rw, r, v, err)
	}
}

// budgetCSV downloads the budget by source × delaftale × year (service.BudgetCSV, the API's budget.csv).
func (w *Web) budgetCSV(rw http.ResponseWriter, r *http.Request, v *viewer) {
	b, err := w.svc.BudgetCSV(r.Context(), v.Principal, v.Plan.ID)
	if err != nil {
		w.boardFailed(rw, r, v, err)
		return
	}
	h := rw.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="budget-`+v.Plan.ID+`-pr-aar.csv"`)
	rw.WriteHeader(http.StatusOK)
	_, _ = rw.Write(b)
}

// budgetXLSX downloads the budget CSV's rows as a workbook (payfile.BudgetXLSX, the API's budget.xlsx).
func (w *Web) budgetXLSX(rw http.ResponseWriter, r *http.Request, v *viewer) {
	b, err := w.svc.BudgetXLSX(r.Context(), v.Principal, v.Plan.ID)
	if err != nil {
		w.boardFailed(rw, r, v, err)
		return
	}
	h := rw.Header()
	h.Set("Content-Type", xlsxContentType)
	h.Set("Content-Disposition", `attachment; filename="budget-`+v.Plan.ID+`-pr-aar.xlsx"`)
	rw.WriteHeader(http.StatusOK)
	_, _ = rw.Write(b)
}
