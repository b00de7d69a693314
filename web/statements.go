package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/payfile"
	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/store"
)

// "Økonomi › Kontoudtog": finance uploads the bank's statement (camt.053 or camt.054) and sees which payments it
// confirmed and which transactions are left for hand work, with why — service.ReconcileStatement, the API's
// POST /api/v1/finance/statements too. Those who see the disbursements (finance, admin, board) see the results.

// statementsPath is the page; an upload posts to it and is answered with a redirect to the statement's result.
const statementsPath = "/oekonomi/kontoudtog"

// maxStatementFormBytes bounds the upload form's body (the file and a small envelope); checkCSRFToken applies it
// to statementsPath instead of maxFormBytes.
const maxStatementFormBytes = payfile.MaxStatementBytes + 64<<10

// sessionStatementFlash holds the message of an upload until the result page after the redirect shows it.
const sessionStatementFlash = "statement_flash"

// statementsShown is how many earlier statements the page lists.
const statementsShown = 20

// routeStatements registers the statement pages.
func (w *Web) routeStatements(pages *http.ServeMux) {
	pages.HandleFunc("GET "+statementsPath, w.authed(w.statementsPage))
	pages.HandleFunc("POST "+statementsPath, w.authed(w.uploadStatementForm))
	pages.HandleFunc("GET "+statementsPath+"/{id}", w.authed(w.statementPage))
}

// statementsView is the page: the upload form (finance), the result of one statement, and the latest statements.
type statementsView struct {
	CanUpload bool
	Errors    []fieldError
	FileError string
	Flash     string
	Result    *statementResultView
	Recent    []statementRowView
}

type statementRowView struct {
	store.BankStatement
	Uploaded string
}

type statementResultView struct {
	statementRowView
	Matched   []statementEntryView
	Unmatched []statementEntryView
}

type statementEntryView struct {
	store.BankStatementEntry
	Amount          domain.Money
	Booked          string
	InitiativeTitle string // the matched (or named) disbursement's initiative and milestone, when known
	Milestone       string
	InitiativeID    string
}

func (w *Web) statementsPage(rw http.ResponseWriter, r *http.Request, v *viewer) {
	w.renderStatements(rw, r, v, http.StatusOK, "", nil)
}

func (w *Web) statementPage(rw http.ResponseWriter, r *http.Request, v *viewer) {
	if w.svc == nil {
		w.unavailable(rw, r, v, errors.New("web: no service"))
		return
	}
	res, err := w.svc.BankStatement(r.Context(), v.Principal, v.Plan.ID, r.PathValue("id"))
	if err != nil {
		w.financeFailed(rw, r, v, err)
		return
	}
	w.renderStatements(rw, r, v, http.StatusOK, "", &res)
}

// uploadStatementForm reconciles the uploaded file and redirects (303) to its result; a file that is refused is
// shown on the page again with the reason next to the file field.
func (w *Web) uploadStatementForm(rw http.ResponseWriter, r *http.Request, v *viewer) {
	if w.svc == nil {
		w.unavailable(rw, r, v, errors.New("web: no service"))
		return
	}
	if err := service.MayReconcile(v.Principal, v.Plan.ID); err != nil {
		w.financeFailed(rw, r, v, err)
		return
	}
	f, hdr, err := r.FormFile("file")
	if err != nil {
		w.renderStatements(rw, r, v, http.StatusUnprocessableEntity, "Vælg kontoudtoget fra banken (en camt.053- eller camt.054-fil).", nil)
		return
	}
	data, err := io.ReadAll(io.LimitReader(f, payfile.MaxStatementBytes+1))
	_ = f.Close()
	if err != nil {
		w.serverError(rw, r, err)
		return
	}
	res, err := w.svc.ReconcileStatement(r.Context(), v.Principal, v.Plan.ID, hdr.Filename, data)
	var refusal *domain.RuleError
	switch {
	case err == nil:
		msg := fmt.Sprintf("Kontoudtoget er afstemt: %d %s bekræftet som betalt, %d til manuel behandling.",
			res.Statement.Matched, plural(res.Statement.Matched, "betaling", "betalinger"), res.Statement.Unmatched)
		if res.Repeat {
			msg = "Kontoudtoget er indlæst før; intet er ændret. Her er resultatet fra første gang."
		}
		w.sessions.Put(r.Context(), sessionStatementFlash, msg)
		http.Redirect(rw, r, statementsPath+"/"+res.Statement.ID, http.StatusSeeOther)
	case errors.As(err, &refusal) && refusal.Code == domain.CodeValidation:
		why := refusal.Message
		if len(refusal.Problems) > 0 {
			why = refusal.Problems[0].Message
		}
		w.renderStatements(rw, r, v, http.StatusUnprocessableEntity, why, nil)
	default:
		w.financeFailed(rw, r, v, err)
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func (w *Web) renderStatements(rw http.ResponseWriter, r *http.Request, v *viewer, status int, fileError string, res *service.Reconciliation) {
	if w.svc == nil {
		w.unavailable(rw, r, v, errors.New("web: no service"))
		return
	}
	ctx := r.Context()
	recent, err := w.svc.BankStatements(ctx, v.Principal, v.Plan.ID, statementsShown)
	if err != nil {
		w.financeFailed(rw, r, v, err)
		return
	}
	view := statementsView{CanUpload: service.MayReconcile(v.Principal, v.Plan.ID) == nil, FileError: fileError}
	if fileError != "" {
		view.Errors = []fieldError{{ID: "kontoudtog-fil", Message: fileError}}
	}
	for _, st := range recent {
		view.Recent = append(view.Recent, statementRowView{BankStatement: st, Uploaded: formatDateTime(st.UploadedAt)})
	}
	title := "Kontoudtog"
	if res != nil {
		view.Flash = w.sessions.PopString(ctx, sessionStatementFlash)
		result := &statementResultView{statementRowView: statementRowView{BankStatement: res.Statement,
			Uploaded: formatDateTime(res.Statement.UploadedAt)}}
		for _, e := range res.Entries {
			ev := statementEntryView{BankStatementEntry: e, Amount: domain.Money(e.AmountØre),
				Booked: formatTimeDate(e.BookingDate)}
			if e.DisbursementID != nil {
				if d, ok := res.Disbursements[*e.DisbursementID]; ok {
					ev.InitiativeTitle, ev.InitiativeID = d.InitiativeTitle, d.InitiativeID
					ev.Milestone = fmt.Sprintf("%d. %s", d.MilestoneNo, d.MilestoneTitle)
				}
			}
			if e.ReturnID != nil {
				if rt, ok := res.Returns[*e.ReturnID]; ok {
					ev.InitiativeTitle, ev.InitiativeID = rt.InitiativeTitle, rt.InitiativeID
					ev.Milestone = "Tilbagebetaling til " + rt.SourceName
				}
			}
			if e.Outcome == store.EntryMatched {
				result.Matched = append(result.Matched, ev)
			} else {
				result.Unmatched = append(result.Unmatched, ev)
			}
		}
		view.Result = result
		title = "Kontoudtog " + res.Statement.StatementNo
	}
	if fileError != "" {
		title = "Fejl: " + title
	}
	w.render(rw, r, status, "oekonomi-kontoudtog", v, title, view)
}
