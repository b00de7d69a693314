package web

import (
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/store"
)

// "Økonomi": the disbursement inbox. Finance, the secretariat and the board see the released tranches waiting for
// payment, those paid and those withdrawn unpaid because their initiative was cancelled, with the reason finance
// was given (service.Disbursements decides who may: the API's list allows the same roles); finance
// confirms a payment with the bank's reference (service.BeginPayment + ConfirmPayment, the API's path too); and
// everyone who sees the lists may download them as CSV for Danish Excel.

// routeFinance registers the finance pages.
func (w *Web) routeFinance(pages *http.ServeMux) {
	pages.HandleFunc("GET /oekonomi", w.authed(w.financePage))
	pages.HandleFunc("POST /oekonomi/udbetalinger/{id}/bekraeft", w.authed(w.confirmPaymentForm))
	pages.HandleFunc("GET /oekonomi/udbetalinger.csv", w.authed(w.disbursementsCSV))
}

// financeListSize is how many disbursements each list of the page shows at a time.
const financeListSize = 25

// csvPageSize is how many disbursements the CSV download reads per query while it streams.
const csvPageSize = store.DefaultPageSize

// sessionFinanceFlash holds the success message of a confirmed payment until the page after the redirect shows it.
const sessionFinanceFlash = "finance_flash"

// Query (and hidden form) parameters with the cursor of each list, so the lists page independently.
const (
	paramPendingAfter   = "afventer"
	paramPaidAfter      = "betalt"
	paramWithdrawnAfter = "trukket"
)

// financeView is the finance page.
type financeView struct {
	Pending    financeList
	Paid       financeList
	Withdrawn  financeList // taken back from finance unpaid: the initiative was cancelled
	CanConfirm bool        // finance: each pending row has the confirm form
	Flash      string
	Errors     []fieldError
	// Delivery is the finance webhook's delivery state (delivery.go); nil for those who may not see it.
	Delivery *deliveryPanel
	// Payable says what the payment file pays and what it leaves out, with why (recipients.go).
	Payable *payablePanel
	// The cursors the page was shown with, posted back by the confirm forms so a refusal shows the same pages.
	PendingAfter, PaidAfter, WithdrawnAfter string
}

type financeList struct {
	Label    string // of its pager, which must differ from the other list's
	Rows     []disbursementView
	NextURL  string
	FirstURL string // set when the list is not on its first page
}

// disbursementView is one row of a list. The confirm form's field is FieldID; a refusal of this row's payment is
// shown there (Error) with what the user typed (Typed).
type disbursementView struct {
	store.Disbursement
	Lines     []lineView
	RowID     string
	FieldID   string
	FormKey   string
	Typed     string
	Error     string
	Released  string
	PaidDate  string
	PaidBy    string
	Reference string
	// WithdrawnDate and WithdrawnReason say when and why a withdrawn disbursement was taken back.
	WithdrawnDate   string
	WithdrawnReason string
}

type lineView struct {
	Source string
	Amount domain.Money
}

// paymentAttempt is a refused confirmation to show again: which disbursement, what was typed, and why not.
type paymentAttempt struct {
	DisbursementID string
	Reference      string
	Refusal        *domain.RuleError
}

func (w *Web) financePage(rw http.ResponseWriter, r *http.Request, v *viewer) {
	w.showFinance(rw, r, v, http.StatusOK, nil)
}

// showFinance renders the page with both lists; after a refused confirmation (attempt set) with the refusal in the
// error summary and at the row's reference field, the typed reference kept.
func (w *Web) showFinance(rw http.ResponseWriter, r *http.Request, v *viewer, status int, attempt *paymentAttempt) {
	if w.svc == nil {
		w.unavailable(rw, r, v, errors.New("web: no service"))
		return
	}
	ctx := r.Context()
	var l financeLists
	var err error
	for _, list := range []struct {
		status string
		param  string
		page   *financePage
	}{
		{store.DisbursementPending, paramPendingAfter, &l.pending},
		{store.DisbursementPaid, paramPaidAfter, &l.paid},
		{store.DisbursementWithdrawn, paramWithdrawnAfter, &l.withdrawn},
	} {
		list.page.after = r.FormValue(list.param)
		list.page.rows, list.page.next, err = w.svc.Disbursements(ctx, v.Principal, store.DisbursementFilter{
			PlanID: v.Plan.ID, Status: list.status, After: list.page.after, Limit: financeListSize})
		if err != nil {
			break
		}
	}
	if err == nil {
		w.renderFinance(rw, r, v, status, attempt, l)
		return
	}
	if attempt != nil {
		// The user may not even see the lists: answer with the refusal of what they tried, not of the list.
		var listRefusal *domain.RuleError
		if errors.As(err, &listRefusal) && listRefusal.Code == domain.CodeForbidden {
			err = attempt.Refusal
		}
	}
	w.financeFailed(rw, r, v, err)
}

// financePage is one page of one list: its rows, the cursor it was shown from and the next page's.
type financePage struct {
	rows        []store.Disbursement
	after, next string
}

type financeLists struct {
	pending, paid, withdrawn financePage
}

// cursors are the lists' cursors as the page was shown, by query parameter.
func (l financeLists) cursors() map[string]string {
	return map[string]string{paramPendingAfter: l.pending.after, paramPaidAfter: l.paid.after,
		paramWithdrawnAfter: l.withdrawn.after}
}

func (w *Web) renderFinance(rw http.ResponseWriter, r *http.Request, v *viewer, status int, attempt *paymentAttempt, l financeLists) {
	users, err := w.st.ListUsers(r.Context(), v.Plan.ID)
	if err != nil {
		w.financeFailed(rw, r, v, err)
		return
	}
	userNames := make(map[string]string, len(users))
	for _, u := range users {
		userNames[u.ID] = u.Name
	}
	n := planNames(v.Plan)
	view := financeView{CanConfirm: v.Role == domain.RoleFinance, PendingAfter: l.pending.after, PaidAfter: l.paid.after,
		WithdrawnAfter: l.withdrawn.after}
	if status == http.StatusOK && attempt == nil {
		view.Flash = w.sessions.PopString(r.Context(), sessionFinanceFlash)
	}
	rows := func(ds []store.Disbursement) []disbursementView {
		out := make([]disbursementView, len(ds))
		for i, d := range ds {
			out[i] = disbursementRow(d, n, userNames)
			out[i].FormKey = newFormKey()
		}
		return out
	}
	view.Pending.Rows, view.Paid.Rows, view.Withdrawn.Rows = rows(l.pending.rows), rows(l.paid.rows), rows(l.withdrawn.rows)
	view.Pending.Label, view.Paid.Label = "Sider med udbetalinger der afventer betaling", "Sider med betalte udbetalinger"
	view.Withdrawn.Label = "Sider med udbetalinger der er trukket tilbage"
	cur := l.cursors()
	view.Pending.NextURL, view.Pending.FirstURL = listURLs(paramPendingAfter, l.pending.next, cur, "afventer-betaling")
	view.Paid.NextURL, view.Paid.FirstURL = listURLs(paramPaidAfter, l.paid.next, cur, "betalt")
	view.Withdrawn.NextURL, view.Withdrawn.FirstURL = listURLs(paramWithdrawnAfter, l.withdrawn.next, cur, "trukket-tilbage")

	view.Payable = w.financePayablePanel(r, v)
	view.Delivery = w.financeDeliveryPanel(r, v)
	title := "Økonomi"
	if attempt != nil {
		title = "Fejl: " + title
		view.Errors = attemptErrors(attempt, &view)
	}
	w.render(rw, r, status, "finance", v, title, view)
}

// attemptErrors puts a refused confirmation's messages at its row's reference field (or, when the row is no
// longer in the pending list — paid or withdrawn meanwhile — at its row in that list) and returns them for the
// summary.
func attemptErrors(a *paymentAttempt, view *financeView) []fieldError {
	msg := a.Refusal.Message
	for _, p := range a.Refusal.Problems {
		if p.Field == "reference" {
			msg = p.Message
			break
		}
	}
	target := "udbetalinger"
	label := ""
	for i := range view.Pending.Rows {
		row := &view.Pending.Rows[i]
		if row.ID == a.DisbursementID {
			row.Typed, row.Error = a.Reference, msg
			target = row.FieldID
			if !view.CanConfirm {
				target = row.RowID
			}
			label = rowLabel(row.Disbursement)
		}
	}
	for _, rows := range [][]disbursementView{view.Paid.Rows, view.Withdrawn.Rows} {
		for i := range rows {
			if row := &rows[i]; row.ID == a.DisbursementID {
				target, label = row.RowID, rowLabel(row.Disbursement)
			}
		}
	}
	if label != "" {
		msg = label + ": " + msg
	}
	return []fieldError{{ID: target, Message: msg}}
}

func rowLabel(d store.Disbursement) string {
	return "Reference for " + d.InitiativeTitle + ", milepæl " + strconv.Itoa(d.MilestoneNo)
}

// listURLs are the links of the list whose cursor is param: its next page (keeping the other lists' pages, whose
// cursors are in cursors) and, when not on the first page, its first page.
func listURLs(param, next string, cursors map[string]string, anchor string) (nextURL, firstURL string) {
	link := func(cursor string) string {
		q := url.Values{}
		for p, c := range cursors {
			if p != param && c != "" {
				q.Set(p, c)
			}
		}
		if cursor != "" {
			q.Set(param, cursor)
		}
		u := "/oekonomi"
		if len(q) > 0 {
			u += "?" + q.Encode()
		}
		return u + "#" + anchor
	}
	if next != "" {
		nextURL = link(next)
	}
	if cursors[param] != "" {
		firstURL = link("")
	}
	return nextURL, firstURL
}

func disbursementRow(d store.Disbursement, n names, users map[string]string) disbursementView {
	row := disbursementView{Disbursement: d, RowID: "udbetaling-" + d.ID, FieldID: "reference-" + d.ID,
		Released: formatTimeDate(d.ReleasedAt)}
	for _, l := range d.Lines {
		row.Lines = append(row.Lines, lineView{Source: sourceName(n, l.SourceID), Amount: l.AmountØre})
	}
	if d.PaidAt != nil {
		row.PaidDate = formatTimeDate(*d.PaidAt)
	}
	if d.PaidBy != nil {
		row.PaidBy = *d.PaidBy
		if name, ok := users[*d.PaidBy]; ok {
			row.PaidBy = name
		}
	}
	if d.Reference != nil {
		row.Reference = *d.Reference
	}
	if d.WithdrawnAt != nil {
		row.WithdrawnDate = formatTimeDate(*d.WithdrawnAt)
	}
	if d.WithdrawnReason != nil {
		row.WithdrawnReason = *d.WithdrawnReason
	}
	return row
}

func sourceName(n names, id string) string {
	if name, ok := n.Sources[id]; ok {
		return name
	}
	return id
}

// confirmPaymentForm confirms a payment with the reference from the bank statement: the same service calls as
// POST /api/v1/finance/disbursements/{id}/confirm. Success goes back to the page (303) with a message naming the
// disbursement; a refusal shows the page again with it; an unavailable Temporal a 503 page.
func (w *Web) confirmPaymentForm(rw http.ResponseWriter, r *http.Request, v *viewer) {
	if w.svc == nil {
		w.unavailable(rw, r, v, errors.New("web: no service"))
		return
	}
	id := r.PathValue("id")
	reference := r.PostFormValue("reference")
	t, err := w.svc.BeginPayment(r.Context(), v.Principal, id)
	var d store.Disbursement
	if err == nil {
		d, err = w.svc.ConfirmPayment(r.Context(), t, reference)
	}
	var refusal *domain.RuleError
	switch {
	case err == nil:
		w.sessions.Put(r.Context(), sessionFinanceFlash, fmt.Sprintf(
			"Udbetalingen til „%s“, milepæl %d: %s (%s), er bekræftet som betalt med referencen „%s“.",
			d.InitiativeTitle, d.MilestoneNo, d.MilestoneTitle, formatKr(d.TotalØre), strings.TrimSpace(reference)))
		http.Redirect(rw, r, "/oekonomi", http.StatusSeeOther)
	case errors.As(err, &refusal) && refusal.Code == domain.CodeNotFound:
		w.notFound(rw, r)
	case errors.As(err, &refusal):
		w.showFinance(rw, r, v, ruleStatus(refusal.Code),
			&paymentAttempt{DisbursementID: id, Reference: reference, Refusal: refusal})
	default:
		w.financeFailed(rw, r, v, err)
	}
}

// financeFailed answers an error of the finance pages: a refusal as a Danish page with the API's status (403 for
// a role that does not handle payments), a bad list link 400, an unavailable dependency or an update still
// running 503, anything else 500.
func (w *Web) financeFailed(rw http.ResponseWriter, r *http.Request, v *viewer, err error) {
	var refusal *domain.RuleError
	switch {
	case errors.As(err, &refusal) && refusal.Code == domain.CodeNotFound:
		w.notFound(rw, r)
	case errors.As(err, &refusal):
		heading := "Handlingen blev afvist"
		if refusal.Code == domain.CodeForbidden {
			heading = "Du har ikke adgang"
		}
		w.render(rw, r, ruleStatus(refusal.Code), "error", v, heading, errorView{Heading: heading, Text: refusal.Message})
	case errors.Is(err, store.ErrBadCursor):
		w.badRequest(rw, r, "Linket til siden er ugyldigt. Gå til første side af listen.")
	case passing(err):
		w.unavailable(rw, r, v, err)
	default:
		w.serverError(rw, r, err)
	}
}

// unavailable is the Danish 503 page: Temporal or the database is down, or the payment's update is still running
// (it goes on; the same reference again attaches to it, as ConfirmUpdateID names the update after the payment).
func (w *Web) unavailable(rw http.ResponseWriter, r *http.Request, v *viewer, err error) {
	text := "Systemet kan ikke nå alle sine dele lige nu. Prøv igen om lidt."
	if errors.Is(err, service.ErrStillRunning) {
		text = "Betalingen er ved at blive registreret, men det tager længere tid end normalt. Vent lidt, og åbn " +
			"Økonomi igen. Står udbetalingen stadig under „Afventer betaling“, så bekræft den igen med samme " +
			"reference: den bliver kun registreret én gang."
	} else if r.Method == http.MethodPost {
		text = "Betalingen kunne ikke registreres lige nu, fordi systemet ikke kan nå alle sine dele. Prøv igen om " +
			"lidt med samme reference: den bliver kun registreret én gang."
	}
	w.serviceUnavailable(rw, r, v, err, errorView{Heading: "Prøv igen om lidt", Text: text})
}

// Danish names of the disbursement statuses, in the CSV.
var disbursementStatusNames = map[string]string{
	store.DisbursementPending:   "afventer betaling",
	store.DisbursementPaid:      "betalt",
	store.DisbursementWithdrawn: "trukket tilbage",
}

// disbursementsCSV downloads the plan's disbursements (status pending, paid, withdrawn or, without status, all) as CSV for
// Danish Excel: UTF-8 with a byte-order mark (so Excel reads æøå), semicolons between fields, amounts as
// "1234567,50" (decimal comma, no thousands separator), dates as 31.12.2025, one column per funding source. It
// streams every page of the list, reading csvPageSize rows per query, so the whole list never sits in memory.
func (w *Web) disbursementsCSV(rw http.ResponseWriter, r *http.Request, v *viewer) {
	if w.svc == nil {
		w.unavailable(rw, r, v, errors.New("web: no service"))
		return
	}
	status := r.URL.Query().Get("status")
	if _, ok := disbursementStatusNames[status]; !ok && status != "" {
		w.badRequest(rw, r, fmt.Sprintf("Ukendt status „%s“. Brug %s, %s, %s eller ingen status for alle udbetalinger.",
			status, store.DisbursementPending, store.DisbursementPaid, store.DisbursementWithdrawn))
		return
	}
	ctx := r.Context()
	f := store.DisbursementFilter{PlanID: v.Plan.ID, Status: status, Limit: csvPageSize}
	// The first page before anything is written, so a refusal or an error is still a page with its status.
	items, next, err := w.svc.Disbursements(ctx, v.Principal, f)
	if err != nil {
		w.financeFailed(rw, r, v, err)
		return
	}
	users, err := w.st.ListUsers(ctx, v.Plan.ID)
	if err != nil {
		w.financeFailed(rw, r, v, err)
		return
	}
	userNames := make(map[string]string, len(users))
	for _, u := range users {
		userNames[u.ID] = u.Name
	}

	name := "udbetalinger"
	if status != "" {
		name += "-" + status
	}
	name += "-" + time.Now().In(copenhagen).Format("2006-01-02") + ".csv"
	h := rw.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	rw.WriteHeader(http.StatusOK)
	_, _ = rw.Write([]byte("\uFEFF"))

	cw := csv.NewWriter(rw)
	cw.Comma = ';'
	cw.UseCRLF = true // what Excel writes, and reads without surprises
	header := []string{"Udbetaling", "Indsats", "Indsats-id", "Delaftale", "Milepæl nr.", "Milepæl"}
	for _, s := range v.Plan.FundingSources {
		header = append(header, s.Name+" (kr.)")
	}
	header = append(header, "I alt (kr.)", "Status", "Frigivet", "Reference", "Betalt", "Betalt af", "Trukket tilbage",
		"Begrundelse for tilbagetrækning")
	_ = cw.Write(header)
	n := planNames(v.Plan)
	for {
		for _, d := range items {
			_ = cw.Write(csvRecord(d, v.Plan.FundingSources, n, userNames))
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return // the client went away
		}
		if next == "" {
			return
		}
		f.After = next
		if items, next, err = w.svc.Disbursements(ctx, v.Principal, f); err != nil {
			// The status is sent: break the connection rather than end a file that looks whole but is not.
			w.log.Error("web: CSV download broken off", "path", r.URL.Path, "err", err)
			panic(http.ErrAbortHandler)
		}
	}
}

func csvRecord(d store.Disbursement, sources []domain.FundingSource, n names, users map[string]string) []string {
	rec := []string{d.ID, csvText(d.InitiativeTitle), d.InitiativeID, csvText(n.Delaftaler[d.DelaftaleID]),
		strconv.Itoa(d.MilestoneNo), csvText(d.MilestoneTitle)}
	for _, s := range sources {
		var m domain.Money
		for _, l := range d.Lines {
			if l.SourceID == s.ID {
				m += l.AmountØre
			}
		}
		rec = append(rec, csvAmount(m))
	}
	var reference, paid, paidBy string
	if d.Reference != nil {
		reference = csvText(*d.Reference)
	}
	if d.PaidAt != nil {
		paid = formatTimeDate(*d.PaidAt)
	}
	if d.PaidBy != nil {
		paidBy = *d.PaidBy
		if name, ok := users[paidBy]; ok {
			paidBy = name
		}
		paidBy = csvText(paidBy)
	}
	status := disbursementStatusNames[d.Status]
	if status == "" {
		status = d.Status
	}
	var withdrawn, why string
	if d.WithdrawnAt != nil {
		withdrawn = formatTimeDate(*d.WithdrawnAt)
	}
	if d.WithdrawnReason != nil {
		why = csvText(*d.WithdrawnReason)
	}
	return append(rec, csvAmount(d.TotalØre), status, formatTimeDate(d.ReleasedAt), reference, paid, paidBy, withdrawn, why)
}

// csvAmount is an amount as Danish Excel reads a number: kroner with a decimal comma and two decimals, no
// thousands separator ("1234567,50").
func csvAmount(m domain.Money) string {
	v := int64(m)
	sign := ""
	if v < 0 {
		sign, v = "-", -v // amounts are at most 10^15 øre, far from MinInt64
	}
	return fmt.Sprintf("%s%d,%02d", sign, v/100, v%100)
}

// csvText keeps text typed by users from being run as a formula when the file is opened in a spreadsheet
// (OWASP "CSV injection"): a cell that starts with = + - @ or a tab/carriage return gets a leading apostrophe.
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
