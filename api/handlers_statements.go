package api

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/helhedsplan/helhedsplan/payfile"
	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/store"
)

// Bank statement reconciliation (service/statements.go): finance uploads the bank's camt.053 or camt.054, as a
// multipart form (field "file") or as the raw XML body; the answer is the statement with each transaction's result.

const (
	pathStatements = "/api/v1/finance/statements"
	pathStatement  = "/api/v1/finance/statements/:id"
)

// maxStatementBody bounds the body of an upload: the file plus a multipart envelope. limitBody applies it to
// pathStatements instead of Config.MaxBodyBytes when it is larger.
const maxStatementBody = payfile.MaxStatementBytes + 64<<10

// statementListSize is how many statements GET /finance/statements lists, newest first.
const statementListSize = 50

func (s *server) registerStatements(add func(method, path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc),
	read, write []echo.MiddlewareFunc) {
	add(http.MethodGet, pathStatements, s.listStatements, read...)
	add(http.MethodPost, pathStatements, s.uploadStatement, write...)
	add(http.MethodGet, pathStatement, s.getStatement, read...)
}

type statementOut struct {
	ID          string              `json:"id"`
	PlanID      string              `json:"plan_id"`
	Kind        string              `json:"kind"`
	MessageID   string              `json:"message_id"`
	StatementNo string              `json:"statement_no"`
	Account     string              `json:"account"`
	FileName    string              `json:"file_name"`
	FileSHA256  string              `json:"file_sha256"`
	UploadedBy  *string             `json:"uploaded_by"`
	UploadedAt  time.Time           `json:"uploaded_at"`
	Completed   bool                `json:"completed"`
	Matched     int                 `json:"matched"`
	Unmatched   int                 `json:"unmatched"`
	Repeat      *bool               `json:"repeat,omitempty"` // uploads only: the file had been reconciled before
	Entries     []statementEntryOut `json:"entries,omitempty"`
}

type statementEntryOut struct {
	No             int     `json:"no"`
	EndToEndID     string  `json:"end_to_end_id"`
	BankRef        string  `json:"bank_ref"`
	AmountOre      int64   `json:"amount_ore"`
	Currency       string  `json:"currency"`
	CreditDebit    string  `json:"credit_debit"`
	BookingDate    string  `json:"booking_date"`
	Outcome        string  `json:"outcome"`
	DisbursementID *string `json:"disbursement_id"`
	ReturnID       *string `json:"return_id"`
	Reference      *string `json:"reference"`
	ReasonCode     *string `json:"reason_code"`
	Reason         *string `json:"reason"`
}

func statementToOut(st store.BankStatement, entries []store.BankStatementEntry) statementOut {
	out := statementOut{ID: st.ID, PlanID: st.PlanID, Kind: st.Kind, MessageID: st.MessageID,
		StatementNo: st.StatementNo, Account: st.Account, FileName: st.FileName, FileSHA256: st.FileSHA256,
		UploadedBy: st.UploadedBy, UploadedAt: st.UploadedAt, Completed: st.CompletedAt != nil,
		Matched: st.Matched, Unmatched: st.Unmatched}
	if entries != nil {
		out.Entries = make([]statementEntryOut, len(entries))
	}
	for i, e := range entries {
		o := statementEntryOut{No: e.No, EndToEndID: e.EndToEndID, BankRef: e.BankRef, AmountOre: e.AmountØre,
			Currency: e.Currency, CreditDebit: e.CreditDebit, BookingDate: e.BookingDate.Format(time.DateOnly),
			Outcome: e.Outcome, DisbursementID: e.DisbursementID, ReturnID: e.ReturnID}
		if e.Reference != "" {
			o.Reference = &e.Reference
		}
		if e.Reason != "" {
			o.ReasonCode, o.Reason = &e.ReasonCode, &e.Reason
		}
		out.Entries[i] = o
	}
	return out
}

func (s *server) uploadStatement(c echo.Context) error {
	p := principalOf(c)
	planID, _, err := queryPlan(c)
	if err != nil {
		return err
	}
	if err := service.MayReconcile(p, planID); err != nil {
		return err
	}
	name, data, err := readStatementUpload(c.Request())
	if err != nil {
		return err
	}
	r, err := s.svc.ReconcileStatement(c.Request().Context(), p, planID, name, data)
	if err != nil {
		return err
	}
	out := statementToOut(r.Statement, r.Entries)
	out.Repeat = &r.Repeat
	c.Response().Header().Set(echo.HeaderLocation, pathStatements+"/"+r.Statement.ID)
	return c.JSON(http.StatusOK, out)
}

// readStatementUpload reads the file from a multipart form (field "file") or a raw XML body, at most
// payfile.MaxStatementBytes (one byte more is kept, so the parser refuses it as too large).
func readStatementUpload(req *http.Request) (string, []byte, error) {
	ct, params, _ := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	switch ct {
	case "application/xml", "text/xml", "application/octet-stream":
		data, err := io.ReadAll(io.LimitReader(req.Body, payfile.MaxStatementBytes+1))
		return "", data, err
	case "multipart/form-data":
		if params["boundary"] == "" {
			return "", nil, badRequest("file", "required", "Formularen mangler sin afgrænsning (boundary).")
		}
		mr, err := req.MultipartReader()
		if err != nil {
			return "", nil, badRequest("file", "required", "Formularen kan ikke læses.")
		}
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return "", nil, badRequest("file", "required", "Vælg kontoudtoget (en camt.053- eller camt.054-fil).")
			}
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return "", nil, err
			}
			if err != nil {
				return "", nil, badRequest("file", "invalid", "Formularen kan ikke læses.")
			}
			if part.FormName() != "file" {
				_ = part.Close()
				continue
			}
			data, err := io.ReadAll(io.LimitReader(part, payfile.MaxStatementBytes+1))
			_ = part.Close()
			return part.FileName(), data, err
		}
	default:
		return "", nil, newAPIError(codeUnsupportedMedia, fmt.Sprintf(
			"Send kontoudtoget som multipart/form-data (feltet file) eller som application/xml, ikke %q.", ct))
	}
}

func (s *server) getStatement(c echo.Context) error {
	planID, _, err := queryPlan(c)
	if err != nil {
		return err
	}
	r, err := s.svc.BankStatement(c.Request().Context(), principalOf(c), planID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, statementToOut(r.Statement, r.Entries))
}

func (s *server) listStatements(c echo.Context) error {
	planID, _, err := queryPlan(c)
	if err != nil {
		return err
	}
	items, err := s.svc.BankStatements(c.Request().Context(), principalOf(c), planID, statementListSize)
	if err != nil {
		return err
	}
	out := make([]statementOut, len(items))
	for i, st := range items {
		out[i] = statementToOut(st, nil)
	}
	return c.JSON(http.StatusOK, map[string]any{"items": out})
}
