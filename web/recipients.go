package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/payfile"
	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/store"
)

// "Modtagere" (/planen/modtagere): the organisations the plan pays its tranches to, with their accounts and every
// earlier version; the secretariat adds and edits them there. On an initiative's page its proposer or the
// secretariat names the recipient (the partial "initiativerecipient", POST /indsatser/{id}/modtager). On
// "Økonomi" finance downloads the payment file (pain.001) and the pending disbursements as CSV and XLSX, and sees
// which disbursements the payment file leaves out, and why. Everything goes through the service, with the API's
// rules and Danish refusals.

// routeRecipients registers the recipient pages, the initiative's recipient form and the payment file downloads.
func (w *Web) routeRecipients(pages *http.ServeMux) {
	pages.HandleFunc("GET /planen/modtagere", w.authed(w.recipientsPage))
	pages.HandleFunc("POST /planen/modtagere", w.authed(w.createRecipientForm))
	pages.HandleFunc("GET /planen/modtagere/{id}", w.authed(w.recipientPage))
	pages.HandleFunc("POST /planen/modtagere/{id}", w.authed(w.updateRecipientForm))
	pages.HandleFunc("POST /indsatser/{id}/modtager", w.authed(w.setInitiativeRecipientForm))
	pages.HandleFunc("GET /oekonomi/betalingsfil.xml", w.authed(w.pain001Download))
	pages.HandleFunc("GET /oekonomi/afventer.csv", w.authed(w.pendingCSV))
	pages.HandleFunc("GET /oekonomi/afventer.xlsx", w.authed(w.pendingXLSX))
}

// sessionRecipientFlash holds the message of a change that succeeded until the page after the redirect shows it.
const sessionRecipientFlash = "recipient_flash"

// recipientsView is /planen/modtagere and /planen/modtagere/{id}.
type recipientsView struct {
	Recipients  []recipientRow
	Account     *store.PaymentAccount // the plan's paying account, nil when none is on record
	AccountIBAN string
	Form        *recipientForm // nil unless the viewer may change recipients
	Current     *recipientRow  // the edit page: the recipient edited
	History     []recipientRow // the edit page: every version, newest first
	Errors      []fieldError
	Flash       string
}

type recipientRow struct {
	ID, Name, Kind, CVR, Account, PaymentIBAN string
	Version                                   int
	When, Who, Note                           string
}

func recipientRowOf(r store.RecipientVersion) recipientRow {
	row := recipientRow{ID: r.ID, Name: r.Name, Kind: r.Kind.Name(), CVR: r.CVR, Account: r.Account(),
		Version: r.Version, When: formatDateTime(r.ChangedAt), Who: r.ChangedByName, Note: r.Note}
	if row.Who == "" {
		row.Who = "Systemet (startdata)"
	}
	if iban, ok := r.PaymentIBAN(); ok {
		row.PaymentIBAN = domain.GroupIBAN(iban)
	}
	return row
}

// recipientForm is the add or edit form, with its values as shown or typed.
type recipientForm struct {
	Action, Submit                                     string
	Version                                            string // edit: the version it was made from
	Name, Kind, CVR, IBAN, BIC, RegNo, AccountNo, Note string
	Kinds                                              []kindOption
	Errors                                             map[string]string
}

// Err is the message at the field with HTML id.
func (f *recipientForm) Err(id string) string { return f.Errors[id] }

type kindOption struct {
	Value, Name string
	Selected    bool
}

func (f *recipientForm) fillKinds() {
	f.Kinds = nil
	for _, k := range domain.RecipientKinds {
		f.Kinds = append(f.Kinds, kindOption{Value: string(k), Name: k.Name(), Selected: string(k) == f.Kind})
	}
}

// recipientFieldID is the HTML id of the form field a problem of domain.CheckRecipient concerns.
func recipientFieldID(field string) string {
	switch field {
	case "name", "id":
		return "modtager-navn"
	case "kind":
		return "modtager-slags"
	case "cvr":
		return "modtager-cvr"
	case "iban":
		return "modtager-iban"
	case "bic":
		return "modtager-bic"
	case "reg_no":
		return "modtager-regnr"
	case "account_no":
		return "modtager-kontonr"
	}
	return "modtager-navn"
}

func formFromPost(r *http.Request, action, submit string) *recipientForm {
	f := &recipientForm{Action: action, Submit: submit, Version: r.PostFormValue("version"),
		Name: r.PostFormValue("navn"), Kind: r.PostFormValue("slags"), CVR: r.PostFormValue("cvr"),
		IBAN: r.PostFormValue("iban"), BIC: r.PostFormValue("bic"), RegNo: r.PostFormValue("regnr"),
		AccountNo: r.PostFormValue("kontonr"), Note: r.PostFormValue("note"), Errors: map[string]string{}}
	f.fillKinds()
	return f
}

func (f *recipientForm) recipient(id string) domain.Recipient {
	return domain.Recipient{ID: id, Name: f.Name, Kind: domain.RecipientKind(f.Kind), CVR: f.CVR, IBAN: f.IBAN,
		BIC: f.BIC, RegNo: f.RegNo, AccountNo: f.AccountNo}
}

func (w *Web) recipientsPage(rw http.ResponseWriter, r *http.Request, v *viewer) {
	w.showRecipients(rw, r, v, http.StatusOK, nil, nil)
}

// showRecipients renders the list with the add form (form: as typed after a refusal, summary its problems).
func (w *Web) showRecipients(rw http.ResponseWriter, r *http.Request, v *viewer, status int, form *recipientForm, summary []fieldError) {
	if w.svc == nil {
		w.boardFailed(rw, r, v, service.ErrUnavailable)
		return
	}
	rs, _, err := w.svc.Recipients(r.Context(), v.Principal, v.Plan.ID)
	if err != nil {
		w.boardFailed(rw, r, v, err)
		return
	}
	view := recipientsView{Errors: summary}
	for _, rv := range rs {
		view.Recipients = append(view.Recipients, recipientRowOf(rv))
	}
	if acct, err := w.svc.PaymentAccount(r.Context(), v.Principal, v.Plan.ID); err == nil {
		view.Account, view.AccountIBAN = &acct, domain.GroupIBAN(acct.IBAN)
	} else if !errors.Is(err, store.ErrNotFound) {
		w.boardFailed(rw, r, v, err)
		return
	}
	if service.MayChangeRecipients(v.Principal, v.Plan.ID) == nil {
		if form == nil {
			form = &recipientForm{Kind: string(domain.RecipientHousingAssociation), Errors: map[string]string{}}
		}
		form.Action, form.Submit = "/planen/modtagere", "Tilføj modtager"
		form.fillKinds()
		view.Form = form
	}
	if status == http.StatusOK && len(summary) == 0 {
		view.Flash = w.sessions.PopString(r.Context(), sessionRecipientFlash)
	}
	title := "Modtagere"
	if len(summary) > 0 {
		title = "Fejl: " + title
	}
	w.render(rw, r, status, "plan-modtagere", v, title, view)
}

func (w *Web) createRecipientForm(rw http.ResponseWriter, r *http.Request, v *viewer) {
	if w.svc == nil {
		w.boardFailed(rw, r, v, service.ErrUnavailable)
		return
	}
	if err := service.MayChangeRecipients(v.Principal, v.Plan.ID); err != nil {
		w.boardFailed(rw, r, v, err)
		return
	}
	f := formFromPost(r, "/planen/modtagere", "Tilføj modtager")
	rv, err := w.svc.CreateRecipient(r.Context(), v.Principal, v.Plan.ID, f.recipient(""), f.Note)
	var re *domain.RuleError
	switch {
	case err == nil:
		w.sessions.Put(r.Context(), sessionRecipientFlash, fmt.Sprintf("%s er tilføjet som modtager.", rv.Name))
		http.Redirect(rw, r, "/planen/modtagere", http.StatusSeeOther)
	case errors.As(err, &re) && re.Code != domain.CodeForbidden && re.Code != domain.CodeNotFound:
		w.showRecipients(rw, r, v, ruleStatus(re.Code), f, problemsAt(re, f.Errors, recipientFieldID))
	default:
		w.boardFailed(rw, r, v, err)
	}
}

func (w *Web) recipientPage(rw http.ResponseWriter, r *http.Request, v *viewer) {
	w.showRecipient(rw, r, v, http.StatusOK, nil, nil)
}

// showRecipient renders one recipient's edit page with its history.
func (w *Web) showRecipient(rw http.ResponseWriter, r *http.Request, v *viewer, status int, form *recipientForm, summary []fieldError) {
	if w.svc == nil {
		w.boardFailed(rw, r, v, service.ErrUnavailable)
		return
	}
	id := r.PathValue("id")
	h, err := w.svc.RecipientHistory(r.Context(), v.Principal, v.Plan.ID, id)
	if err != nil {
		w.boardFailed(rw, r, v, err)
		return
	}
	cur := recipientRowOf(h[0])
	view := recipientsView{Current: &cur, Errors: summary}
	for _, rv := range h {
		view.History = append(view.History, recipientRowOf(rv))
	}
	if service.MayChangeRecipients(v.Principal, v.Plan.ID) == nil {
		if form == nil {
			c := h[0]
			form = &recipientForm{Version: strconv.Itoa(c.Version), Name: c.Name, Kind: string(c.Kind), CVR: c.CVR,
				IBAN: domain.GroupIBAN(c.IBAN), BIC: c.BIC, RegNo: c.RegNo, AccountNo: c.AccountNo,
				Errors: map[string]string{}}
		}
		form.Action, form.Submit = "/planen/modtagere/"+id, "Gem ændringer"
		form.fillKinds()
		view.Form = form
	}
	if status == http.StatusOK && len(summary) == 0 {
		view.Flash = w.sessions.PopString(r.Context(), sessionRecipientFlash)
	}
	title := "Modtager: " + cur.Name
	if len(summary) > 0 {
		title = "Fejl: " + title
	}
	w.render(rw, r, status, "plan-modtager", v, title, view)
}

func (w *Web) updateRecipientForm(rw http.ResponseWriter, r *http.Request, v *viewer) {
	if w.svc == nil {
		w.boardFailed(rw, r, v, service.ErrUnavailable)
		return
	}
	if err := service.MayChangeRecipients(v.Principal, v.Plan.ID); err != nil {
		w.boardFailed(rw, r, v, err)
		return
	}
	id := r.PathValue("id")
	f := formFromPost(r, "/planen/modtagere/"+id, "Gem ændringer")
	basedOn, _ := strconv.Atoi(f.Version)
	rv, changed, err := w.svc.UpdateRecipient(r.Context(), v.Principal, v.Plan.ID, f.recipient(id), basedOn, f.Note)
	var re *domain.RuleError
	switch {
	case err == nil:
		msg := fmt.Sprintf("Ændringerne af %s er gemt som version %d.", rv.Name, rv.Version)
		if !changed {
			msg = fmt.Sprintf("Der var ingen ændringer af %s at gemme.", rv.Name)
		}
		w.sessions.Put(r.Context(), sessionRecipientFlash, msg)
		http.Redirect(rw, r, "/planen/modtagere/"+id, http.StatusSeeOther)
	case errors.As(err, &re) && re.Code != domain.CodeForbidden && re.Code != domain.CodeNotFound:
		w.showRecipient(rw, r, v, ruleStatus(re.Code), f, problemsAt(re, f.Errors, recipientFieldID))
	default:
		w.boardFailed(rw, r, v, err)
	}
}

// recipientPanel is the initiative page's section on who its tranches are paid to.
type recipientPanel struct {
	InitiativeID string
	Current      *recipientRow
	SetBy        string
	SetAt        string
	CanEdit      bool
	Options      []kindOption // Value: recipient ID, Name: its name
	Error        string
	FormKey      string // like every form on the initiative page; naming a recipient twice is harmless anyway
}

// recipientErrorKey carries a refused choice of recipient to the initiative page shown again with it.
type recipientErrorKey struct{}

// initiativeRecipientPanel builds the panel for the initiative page (initiative.go); nil when the store keeps no
// recipients (the panel is left out rather than failing the page).
func (w *Web) initiativeRecipientPanel(r *http.Request, v *viewer, in domain.Initiative) *recipientPanel {
	if w.svc == nil {
		return nil
	}
	ir, err := w.svc.InitiativeRecipient(r.Context(), v.Principal, in.ID)
	if err != nil {
		w.log.Warn("web: initiative recipient", "initiative_id", in.ID, "err", err)
		return nil
	}
	p := &recipientPanel{InitiativeID: in.ID, CanEdit: service.MayNameRecipient(v.Principal, in) == nil,
		FormKey: newFormKey()}
	if ir.Recipient != nil {
		row := recipientRowOf(*ir.Recipient)
		p.Current = &row
	}
	if ir.Set != nil {
		p.SetBy, p.SetAt = ir.Set.SetByName, formatDateTime(ir.Set.SetAt)
	}
	if msg, ok := r.Context().Value(recipientErrorKey{}).(string); ok {
		p.Error = msg
	}
	if p.CanEdit {
		rs, _, err := w.svc.Recipients(r.Context(), v.Principal, in.PlanID)
		if err != nil {
			w.log.Warn("web: recipients", "plan_id", in.PlanID, "err", err)
			p.CanEdit = false
		}
		for _, rv := range rs {
			p.Options = append(p.Options, kindOption{Value: rv.ID, Name: rv.Name,
				Selected: p.Current != nil && p.Current.ID == rv.ID})
		}
	}
	return p
}

// setInitiativeRecipientForm names the initiative's recipient: service.SetInitiativeRecipient, the API's PUT.
func (w *Web) setInitiativeRecipientForm(rw http.ResponseWriter, r *http.Request, v *viewer) {
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
	if err == nil {
		_, err = w.svc.SetInitiativeRecipient(r.Context(), v.Principal, id, r.PostFormValue("modtager"))
	}
	var re *domain.RuleError
	switch {
	case err == nil:
		w.sessions.Put(r.Context(), flashKey, "Modtageren af raterne er gemt.")
		http.Redirect(rw, r, "/indsatser/"+id+"#modtager", http.StatusSeeOther)
	case errors.As(err, &re) && re.Code != domain.CodeForbidden && re.Code != domain.CodeNotFound:
		msg := re.Message
		for _, p := range re.Problems {
			msg = p.Message
		}
		r = r.WithContext(context.WithValue(r.Context(), recipientErrorKey{}, msg))
		w.showInitiative(rw, r, v, ruleStatus(re.Code), nil, []fieldError{{ID: "modtager-valg", Message: msg}})
	default:
		w.boardFailed(rw, r, v, err)
	}
}

// payablePanel is the finance page's section on the payment file: how many pending disbursements it pays, and
// those it leaves out with why.
type payablePanel struct {
	Exportable    int
	Total         domain.Money
	NotExportable []payfile.Row
	NoAccount     bool
}

// financePayablePanel builds the panel for the finance page (finance.go); nil when it cannot be built.
func (w *Web) financePayablePanel(r *http.Request, v *viewer) *payablePanel {
	if w.svc == nil {
		return nil
	}
	run, err := w.svc.PaymentRun(r.Context(), v.Principal, v.Plan.ID, time.Now())
	if err != nil {
		return nil
	}
	p := &payablePanel{Exportable: len(run.Payments), NotExportable: run.NotExportable, NoAccount: run.Debtor == nil}
	for _, pm := range run.Payments {
		p.Total += pm.AmountØre
	}
	return p
}

func (w *Web) pain001Download(rw http.ResponseWriter, r *http.Request, v *viewer) {
	if w.svc == nil {
		w.unavailable(rw, r, v, errors.New("web: no service"))
		return
	}
	now := time.Now()
	b, _, err := w.svc.Pain001(r.Context(), v.Principal, v.Plan.ID, now)
	if err != nil {
		w.financeFailed(rw, r, v, err)
		return
	}
	name := "betalingsfil-" + now.In(copenhagen).Format("2006-01-02-150405") + ".xml"
	rw.Header().Set("Content-Type", "application/xml; charset=utf-8")
	rw.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	_, _ = rw.Write(b)
}

func (w *Web) pendingCSV(rw http.ResponseWriter, r *http.Request, v *viewer) {
	w.pendingExport(rw, r, v, "csv")
}

func (w *Web) pendingXLSX(rw http.ResponseWriter, r *http.Request, v *viewer) {
	w.pendingExport(rw, r, v, "xlsx")
}

// xlsxContentType is the media type of an Excel workbook.
const xlsxContentType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

func (w *Web) pendingExport(rw http.ResponseWriter, r *http.Request, v *viewer, format string) {
	if w.svc == nil {
		w.unavailable(rw, r, v, errors.New("web: no service"))
		return
	}
	now := time.Now()
	run, err := w.svc.PaymentRun(r.Context(), v.Principal, v.Plan.ID, now)
	if err != nil {
		w.financeFailed(rw, r, v, err)
		return
	}
	var b []byte
	ctype := "text/csv; charset=utf-8"
	if format == "xlsx" {
		b, err = payfile.XLSX(run.Rows)
		ctype = xlsxContentType
	} else {
		b, err = payfile.CSV(run.Rows)
	}
	if err != nil {
		w.serverError(rw, r, err)
		return
	}
	name := "udbetalinger-afventer-" + now.In(copenhagen).Format("2006-01-02") + "." + format
	rw.Header().Set("Content-Type", ctype)
	rw.Header().Set("Content-Disposition", `attachment; filename="`+strings.ReplaceAll(name, `"`, "")+`"`)
	_, _ = rw.Write(b)
}
