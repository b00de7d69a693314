package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/store"
)

// Afslutning og tilbagebetalinger (close-out and returns): the initiative page shows a completed initiative's
// settlement per funding source (paid, spent, to pay back, given back) with each return's status; "Økonomi ›
// Tilbagebetalinger" lists the plan's returns, open first, and finance or admin marks one received with the bank's
// reference (the same service call as the API's POST /finance/returns/{id}/receive).

const returnsPath = "/oekonomi/tilbagebetalinger"

// routeReturns registers the returns page and its form.
func (w *Web) routeReturns(pages *http.ServeMux) {
	pages.HandleFunc("GET "+returnsPath, w.authed(w.returnsPage))
	pages.HandleFunc("POST "+returnsPath+"/{rid}/modtaget", w.authed(w.receiveReturnForm))
	pages.HandleFunc("POST /indsatser/{id}/afregning", w.authed(w.settleForm))
}

// closeoutRow is one funding source's settlement on the initiative page.
type closeoutRow struct {
	domain.CloseoutLine
	Name   string
	Return *store.Return // the receivable, when there is one
}

// closeoutPanel is the initiative page's section on the settlement.
type closeoutPanel struct {
	At    string
	Rows  []closeoutRow
	Total domain.CloseoutLine
	// Cancelled: the settlement of a cancelled initiative's paid money (afregning), stated by SettledBy.
	Cancelled bool
	SettledBy string
	// Form is the form that settles a cancelled initiative (nil when settled, or not for this user): the spend per
	// source something was paid from, as typed after a refusal (Values, Errors by field id).
	Form *settleForm
}

// settleForm is the form of a cancelled initiative's settlement.
type settleForm struct {
	Key    string
	Spend  []spendField
	Values map[string]string
	Errors map[string]string
}

// Value is the typed value of field name, or def.
func (f *settleForm) Value(name, def string) string {
	if v, ok := f.Values[name]; ok {
		return v
	}
	return def
}

// Err is the message for the field with id ("" for none).
func (f *settleForm) Err(id string) string { return f.Errors[id] }

// settleFormKey carries a refused settlement (values and field errors) to the page shown again with it.
type settleFormKey struct{}

type settleFormState struct {
	Values map[string]string
	Errors map[string]string
}

// initiativeCloseoutPanel is the settlement of a completed, closed-out initiative (nil otherwise). The returns'
// statuses come from the store; when they cannot be read the panel shows the settlement without them.
func (w *Web) initiativeCloseoutPanel(r *http.Request, v *viewer, in domain.Initiative) *closeoutPanel {
	co, settledBy := in.Closeout, ""
	if co == nil && in.Phase == domain.PhaseCancelled && w.svc != nil {
		var err error
		if co, settledBy, err = w.svc.Settlement(r.Context(), v.Principal, in.ID); err != nil {
			w.log.WarnContext(r.Context(), "settlement for the initiative page", "initiative_id", in.ID, "error", err)
			return nil
		}
		if co == nil {
			return w.settlePanel(r, v, in)
		}
	}
	if co == nil {
		return nil
	}
	in.Closeout = co
	p := &closeoutPanel{At: formatDateTime(co.At), Cancelled: in.Phase == domain.PhaseCancelled}
	if settledBy != "" {
		p.SettledBy = settledBy
		if users, err := w.st.ListUsers(r.Context(), in.PlanID); err == nil {
			for _, u := range users {
				if u.ID == settledBy {
					p.SettledBy = u.Name
				}
			}
		}
	}
	var returns []store.Return
	if in.Closeout.ReturnTotal() > 0 && w.svc != nil {
		var err error
		if returns, err = w.svc.InitiativeReturns(r.Context(), v.Principal, in.ID); err != nil {
			w.log.WarnContext(r.Context(), "returns for the initiative page", "initiative_id", in.ID, "error", err)
		}
	}
	for _, l := range in.Closeout.Lines {
		row := closeoutRow{CloseoutLine: l, Name: l.SourceID}
		for _, s := range v.Plan.FundingSources {
			if s.ID == l.SourceID {
				row.Name = s.Name
			}
		}
		for i := range returns {
			if returns[i].SourceID == l.SourceID {
				row.Return = &returns[i]
			}
		}
		// Each line is bounded by the budget, so the totals fit.
		p.Total.PaidØre += l.PaidØre
		p.Total.SpentØre += l.SpentØre
		p.Total.ReturnØre += l.ReturnØre
		p.Total.UnreservedØre += l.UnreservedØre
		p.Rows = append(p.Rows, row)
	}
	return p
}

// returnRow is one return as Økonomi › Tilbagebetalinger shows it.
type returnRow struct {
	store.Return
	Amount   domain.Money
	Created  string
	Received string
	FieldID  string // the reference field's id
	// PaymentRef is what the holder pays back with (domain.ReturnReference).
	PaymentRef string
}

// returnsView is the page Økonomi › Tilbagebetalinger.
type returnsView struct {
	Open, Received           []returnRow
	OpenTotal, ReceivedTotal domain.Money
	MayReceive               bool
	Errors                   []fieldError
	Flash                    string
	Failed                   string // the return whose registration was refused, with Reference as typed
	Reference                string
	ReferenceErr             string
}

func (w *Web) returnsPage(rw http.ResponseWriter, r *http.Request, v *viewer) {
	w.renderReturns(rw, r, v, http.StatusOK, returnsView{})
}

func (w *Web) renderReturns(rw http.ResponseWriter, r *http.Request, v *viewer, status int, view returnsView) {
	if w.svc == nil {
		w.unavailable(rw, r, v, errors.New("web: no service"))
		return
	}
	list, err := w.svc.Returns(r.Context(), v.Principal, v.Plan.ID, "")
	if err != nil {
		w.financeFailed(rw, r, v, err)
		return
	}
	view.MayReceive = service.MayReceiveReturns(v.Principal, v.Plan.ID) == nil
	for _, rt := range list {
		row := returnRow{Return: rt, Amount: domain.Money(rt.AmountØre), Created: formatDateTime(rt.CreatedAt),
			FieldID: "reference-" + rt.ID, PaymentRef: domain.ReturnReference(rt.ID)}
		if rt.ReceivedAt != nil {
			row.Received = formatDateTime(*rt.ReceivedAt)
		}
		// At most 10^4 rows of at most 10^15 øre: the totals fit.
		if rt.Status == store.ReturnOpen {
			view.Open = append(view.Open, row)
			view.OpenTotal += row.Amount
		} else {
			view.Received = append(view.Received, row)
			view.ReceivedTotal += row.Amount
		}
	}
	if len(view.Errors) == 0 {
		view.Flash = w.sessions.PopString(r.Context(), flashKey)
	}
	title := "Tilbagebetalinger"
	if len(view.Errors) > 0 {
		title = "Fejl: " + title
	}
	w.render(rw, r, status, "oekonomi-tilbagebetalinger", v, title, view)
}

// receiveReturnForm marks one return received and redirects (303) to the list; a refusal shows the list again
// with the reason on top and next to the reference field.
func (w *Web) receiveReturnForm(rw http.ResponseWriter, r *http.Request, v *viewer) {
	if w.svc == nil {
		w.unavailable(rw, r, v, errors.New("web: no service"))
		return
	}
	id := r.PathValue("rid")
	ref := r.PostFormValue("reference")
	out, err := w.svc.ReceiveReturn(r.Context(), v.Principal, id, ref)
	var re *domain.RuleError
	switch {
	case err == nil:
		w.sessions.Put(r.Context(), flashKey, "Tilbagebetalingen på "+formatKr(domain.Money(out.AmountØre))+" fra „"+
			out.InitiativeTitle+"“ er registreret som modtaget. Beløbet er igen til rådighed hos "+out.SourceName+".")
		http.Redirect(rw, r, returnsPath, http.StatusSeeOther)
	case errors.As(err, &re) && re.Code == domain.CodeNotFound:
		w.notFound(rw, r)
	case errors.As(err, &re):
		msg := re.Message
		for _, p := range re.Problems {
			msg = p.Message
		}
		view := returnsView{Failed: id, Reference: ref, ReferenceErr: msg,
			Errors: []fieldError{{ID: "reference-" + id, Message: msg}}}
		w.renderReturns(rw, r, v, ruleStatus(re.Code), view)
	default:
		w.financeFailed(rw, r, v, err)
	}
}

// releaseHold is why the plan's new releases are held now (nil when they are not, or when it cannot be read: the
// banner is advice, and the release itself is refused with the same message anyway).
func (w *Web) releaseHold(r *http.Request, planID string) *store.Hold {
	if w.svc == nil {
		return nil
	}
	h, err := w.svc.ReleaseHold(r.Context(), planID, w.cfg.Now())
	if err != nil {
		w.log.WarnContext(r.Context(), "release hold for the banner", "plan_id", planID, "error", err)
		return nil
	}
	return h
}

// awaitsRelease reports whether the initiative still has a tranche to be released by a decision: before approval,
// or approved with a scheduled tranche.
func awaitsRelease(in domain.Initiative) bool {
	switch in.Phase {
	case domain.PhaseBoardReview:
		return true
	case domain.PhaseFunding, domain.PhaseExecuting:
		for _, m := range in.Milestones {
			if m.TrancheStatus == domain.TrancheScheduled {
				return true
			}
		}
	}
	return false
}

// settlePanel is the form that settles a cancelled initiative whose paid money is not settled yet, for the
// operational group and admin (nil when nothing was paid, or for others).
func (w *Web) settlePanel(r *http.Request, v *viewer, in domain.Initiative) *closeoutPanel {
	fields := spendFields(in, v.Plan)
	if len(fields) == 0 || service.MaySettle(v.Principal, in) != nil {
		return nil
	}
	f := &settleForm{Key: newFormKey(), Spend: fields, Values: map[string]string{}, Errors: map[string]string{}}
	if st, ok := r.Context().Value(settleFormKey{}).(settleFormState); ok {
		f.Values, f.Errors = st.Values, st.Errors
	}
	return &closeoutPanel{Cancelled: true, Form: f}
}

// settleForm settles a cancelled initiative from the page's form and redirects (303) to the initiative; a refused
// form comes back with its errors at the fields.
func (w *Web) settleForm(rw http.ResponseWriter, r *http.Request, v *viewer) {
	if w.svc == nil {
		w.unavailable(rw, r, v, errors.New("web: no service"))
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
	spend, vals, bad := readSpend(r)
	errs := map[string]string{}
	for i, msg := range bad {
		errs[fmt.Sprintf("afregning-forbrug-%d", i)] = msg
	}
	if len(errs) == 0 {
		_, err = w.svc.SettleCancelled(r.Context(), v.Principal, id, spend)
	}
	var re *domain.RuleError
	switch {
	case len(errs) == 0 && err == nil:
		w.sessions.Put(r.Context(), flashKey, "Afregningen er registreret. Det udbetalte, der ikke er brugt, skal betales tilbage.")
		http.Redirect(rw, r, "/indsatser/"+id+"#afslutning", http.StatusSeeOther)
		return
	case len(errs) == 0 && !(errors.As(err, &re) && re.Code != domain.CodeForbidden && re.Code != domain.CodeNotFound):
		w.boardFailed(rw, r, v, err)
		return
	case re != nil:
		for _, p := range re.Problems {
			fid := "afregning-forbrug-0"
			if i, _, ok := strings.Cut(strings.TrimPrefix(p.Field, "spend["), "]"); ok && strings.HasPrefix(p.Field, "spend[") {
				fid = "afregning-forbrug-" + i
			}
			if errs[fid] == "" {
				errs[fid] = p.Message
			}
		}
		if len(errs) == 0 {
			errs["afregning-forbrug-0"] = re.Message
		}
	}
	var summary []fieldError
	for i := 0; i < domain.MaxResults; i++ {
		fid := fmt.Sprintf("afregning-forbrug-%d", i)
		if msg := errs[fid]; msg != "" {
			summary = append(summary, fieldError{ID: fid, Message: msg})
		}
	}
	status := http.StatusUnprocessableEntity
	if re != nil {
		status = ruleStatus(re.Code)
	}
	r = r.WithContext(context.WithValue(r.Context(), settleFormKey{}, settleFormState{Values: vals, Errors: errs}))
	w.showInitiative(rw, r, v, status, nil, summary)
}
