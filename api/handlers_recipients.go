package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/payfile"
	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/store"
)

// Recipients (modtagere) with their payment details and history, the recipient each initiative names, and the
// payment files finance exports of the pending disbursements: pain.001.001.09 for the bank, CSV and XLSX for
// spreadsheets, and the JSON list of what a payment file pays and what it cannot pay yet, with why.

const (
	pathPlanRecipients      = "/api/v1/plans/:planID/recipients"
	pathPlanRecipient       = "/api/v1/plans/:planID/recipients/:id"
	pathInitiativeRecipient = "/api/v1/initiatives/:id/recipient"
	pathPain001             = "/api/v1/finance/disbursements/pain001"
	pathPayable             = "/api/v1/finance/disbursements/payable"
	pathPendingExport       = "/api/v1/finance/disbursements/export"
)

// registerRecipients adds the routes of this file.
func (s *server) registerRecipients(add func(method, path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc),
	read, write []echo.MiddlewareFunc) {
	add(http.MethodGet, pathPlanRecipients, s.listRecipients, read...)
	add(http.MethodPost, pathPlanRecipients, s.createRecipient, write...)
	add(http.MethodGet, pathPlanRecipient, s.getRecipient, read...)
	add(http.MethodPut, pathPlanRecipient, s.putRecipient, write...)
	add(http.MethodGet, pathInitiativeRecipient, s.getInitiativeRecipient, read...)
	add(http.MethodPut, pathInitiativeRecipient, s.putInitiativeRecipient, write...)
	add(http.MethodGet, pathPain001, s.getPain001, read...)
	add(http.MethodGet, pathPayable, s.getPayable, read...)
	add(http.MethodGet, pathPendingExport, s.getPendingExport, read...)
}

// Request bodies.

type recipientBody struct {
	ID        string `json:"id"` // POST only; made from the name when empty
	Name      string `json:"name" required:"true"`
	Kind      string `json:"kind" required:"true"`
	CVR       string `json:"cvr"`
	IBAN      string `json:"iban"`
	BIC       string `json:"bic"`
	RegNo     string `json:"reg_no"`
	AccountNo string `json:"account_no"`
	Note      string `json:"note"`
	// BasedOnVersion (PUT), when set, is the version the edit was made from; a newer one on record is a conflict.
	BasedOnVersion int `json:"based_on_version"`
}

type initiativeRecipientBody struct {
	RecipientID string `json:"recipient_id" required:"true"`
}

// Response bodies.

type recipientOut struct {
	ID        string `json:"id"`
	PlanID    string `json:"plan_id"`
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	KindName  string `json:"kind_name"`
	CVR       string `json:"cvr"`
	IBAN      string `json:"iban"`
	BIC       string `json:"bic"`
	RegNo     string `json:"reg_no"`
	AccountNo string `json:"account_no"`
	// PaymentIBAN is the IBAN a payment file pays to (the IBAN, or the Danish IBAN of reg.nr. and kontonr.); null
	// when the recipient has no payment details.
	PaymentIBAN *string `json:"payment_iban"`
	planHistoryStamp
}

type recipientDetailOut struct {
	recipientOut
	History []recipientOut `json:"history"`
}

type initiativeRecipientOut struct {
	InitiativeID string        `json:"initiative_id"`
	Recipient    *recipientOut `json:"recipient"` // null when the initiative names none
	SetBy        *string       `json:"set_by"`
	SetByName    string        `json:"set_by_name"`
	SetAt        *time.Time    `json:"set_at"`
}

type payableRowOut struct {
	DisbursementID  string `json:"disbursement_id"`
	EndToEndID      string `json:"end_to_end_id,omitempty"`
	InitiativeTitle string `json:"initiative_title"`
	MilestoneNo     int    `json:"milestone_no"`
	MilestoneTitle  string `json:"milestone_title"`
	AmountØre       int64  `json:"amount_ore"`
	ExecutionDate   string `json:"execution_date"`
	RecipientName   string `json:"recipient_name"`
	IBAN            string `json:"iban,omitempty"`
	Reason          string `json:"reason,omitempty"`
}

type payableOut struct {
	PlanID        string          `json:"plan_id"`
	DebtorName    string          `json:"debtor_name"`
	DebtorIBAN    string          `json:"debtor_iban"`
	Exportable    []payableRowOut `json:"exportable"`
	NotExportable []payableRowOut `json:"not_exportable"`
}

func recipientToOut(r store.RecipientVersion) recipientOut {
	out := recipientOut{ID: r.ID, PlanID: r.PlanID, Name: r.Name, Kind: string(r.Kind), KindName: r.Kind.Name(),
		CVR: r.CVR, IBAN: r.IBAN, BIC: r.BIC, RegNo: r.RegNo, AccountNo: r.AccountNo}
	if iban, ok := r.PaymentIBAN(); ok {
		out.PaymentIBAN = &iban
	}
	by := ""
	if r.ChangedBy != nil {
		by = *r.ChangedBy
	}
	out.planHistoryStamp = planStampOf(r.Version, by, r.ChangedByName, r.ChangedAt, r.Note)
	return out
}

func (b recipientBody) recipient(id string) domain.Recipient {
	return domain.Recipient{ID: id, Name: b.Name, Kind: domain.RecipientKind(b.Kind), CVR: b.CVR, IBAN: b.IBAN,
		BIC: b.BIC, RegNo: b.RegNo, AccountNo: b.AccountNo}
}

func (s *server) listRecipients(c echo.Context) error {
	planID := c.Param("planID")
	rs, _, err := s.svc.Recipients(c.Request().Context(), principalOf(c), planID)
	if err != nil {
		return err
	}
	out := make([]recipientOut, len(rs))
	for i, r := range rs {
		out[i] = recipientToOut(r)
	}
	return c.JSON(http.StatusOK, map[string]any{"items": out})
}

func (s *server) createRecipient(c echo.Context) error {
	ctx, p, planID := c.Request().Context(), principalOf(c), c.Param("planID")
	if err := service.MayChangeRecipients(p, planID); err != nil {
		return err
	}
	var b recipientBody
	if err := decodeJSON(c, &b, false); err != nil {
		return err
	}
	if b.BasedOnVersion != 0 {
		return badRequest("based_on_version", "not_allowed", "based_on_version bruges kun, når en modtager ændres (PUT).")
	}
	r, err := s.svc.CreateRecipient(ctx, p, planID, b.recipient(b.ID), b.Note)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/plans/"+planID+"/recipients/"+r.ID)
	return c.JSON(http.StatusCreated, recipientToOut(r))
}

func (s *server) getRecipient(c echo.Context) error {
	h, err := s.svc.RecipientHistory(c.Request().Context(), principalOf(c), c.Param("planID"), c.Param("id"))
	if err != nil {
		return err
	}
	out := recipientDetailOut{recipientOut: recipientToOut(h[0]), History: make([]recipientOut, len(h))}
	for i, v := range h {
		out.History[i] = recipientToOut(v)
	}
	return c.JSON(http.StatusOK, out)
}

func (s *server) putRecipient(c echo.Context) error {
	ctx, p, planID := c.Request().Context(), principalOf(c), c.Param("planID")
	if err := service.MayChangeRecipients(p, planID); err != nil {
		return err
	}
	var b recipientBody
	if err := decodeJSON(c, &b, false); err != nil {
		return err
	}
	if b.ID != "" && b.ID != c.Param("id") {
		return badRequest("id", "mismatch", "id i indholdet skal være det samme som i stien (eller udelades).")
	}
	if _, _, err := s.svc.UpdateRecipient(ctx, p, planID, b.recipient(c.Param("id")), b.BasedOnVersion, b.Note); err != nil {
		return err
	}
	return s.getRecipient(c)
}

func (s *server) getInitiativeRecipient(c echo.Context) error {
	c.Set(ctxInitiativeID, c.Param("id"))
	ir, err := s.svc.InitiativeRecipient(c.Request().Context(), principalOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, initiativeRecipientToOut(c.Param("id"), ir))
}

func (s *server) putInitiativeRecipient(c echo.Context) error {
	c.Set(ctxInitiativeID, c.Param("id"))
	var b initiativeRecipientBody
	if err := decodeJSON(c, &b, false); err != nil {
		return err
	}
	ir, err := s.svc.SetInitiativeRecipient(c.Request().Context(), principalOf(c), c.Param("id"), b.RecipientID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, initiativeRecipientToOut(c.Param("id"), ir))
}

func initiativeRecipientToOut(id string, ir service.InitiativeRecipient) initiativeRecipientOut {
	out := initiativeRecipientOut{InitiativeID: id}
	if ir.Recipient != nil {
		r := recipientToOut(*ir.Recipient)
		out.Recipient = &r
	}
	if ir.Set != nil {
		by, at := ir.Set.SetBy, ir.Set.SetAt
		out.SetBy, out.SetByName, out.SetAt = &by, ir.Set.SetByName, &at
	}
	return out
}

// Header names of the pain.001 answer: how many pending disbursements the file leaves out (listed with why at
// GET /finance/disbursements/payable).
const (
	headerPayments      = "X-Payments"
	headerNotExportable = "X-Not-Exportable"
)

func (s *server) getPain001(c echo.Context) error {
	planID, _, err := queryPlan(c)
	if err != nil {
		return err
	}
	now := time.Now()
	b, run, err := s.svc.Pain001(c.Request().Context(), principalOf(c), planID, now)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(headerPayments, strconv.Itoa(len(run.Payments)))
	h.Set(headerNotExportable, strconv.Itoa(len(run.NotExportable)))
	h.Set(echo.HeaderContentDisposition, `attachment; filename="betalingsfil-`+planID+"-"+
		now.In(domain.Copenhagen).Format("2006-01-02-150405")+`.xml"`)
	return c.Blob(http.StatusOK, "application/xml; charset=utf-8", b)
}

func (s *server) getPayable(c echo.Context) error {
	planID, _, err := queryPlan(c)
	if err != nil {
		return err
	}
	run, err := s.svc.PaymentRun(c.Request().Context(), principalOf(c), planID, time.Now())
	if err != nil {
		return err
	}
	out := payableOut{PlanID: planID, Exportable: []payableRowOut{}, NotExportable: []payableRowOut{}}
	if run.Debtor != nil {
		out.DebtorName, out.DebtorIBAN = run.Debtor.Name, run.Debtor.IBAN
	}
	for _, r := range run.Rows {
		row := payableRowOut{DisbursementID: r.DisbursementID, EndToEndID: r.EndToEndID,
			InitiativeTitle: r.InitiativeTitle, MilestoneNo: r.MilestoneNo, MilestoneTitle: r.MilestoneTitle,
			AmountØre: int64(r.AmountØre), ExecutionDate: r.ExecutionDate.String(), RecipientName: r.RecipientName,
			IBAN: r.Account, Reason: r.NotExportable}
		if r.NotExportable != "" {
			out.NotExportable = append(out.NotExportable, row)
		} else {
			out.Exportable = append(out.Exportable, row)
		}
	}
	return c.JSON(http.StatusOK, out)
}

func (s *server) getPendingExport(c echo.Context) error {
	planID, _, err := queryPlan(c)
	if err != nil {
		return err
	}
	format := strings.ToLower(c.QueryParam("format"))
	if format != "csv" && format != "xlsx" {
		return badRequest("format", "unknown", "Angiv format=csv eller format=xlsx.")
	}
	now := time.Now()
	run, err := s.svc.PaymentRun(c.Request().Context(), principalOf(c), planID, now)
	if err != nil {
		return err
	}
	name := "udbetalinger-afventer-" + planID + "-" + now.In(domain.Copenhagen).Format("2006-01-02")
	if format == "csv" {
		b, err := payfile.CSV(run.Rows)
		if err != nil {
			return err
		}
		c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`.csv"`)
		return c.Blob(http.StatusOK, "text/csv; charset=utf-8", b)
	}
	b, err := payfile.XLSX(run.Rows)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`.xlsx"`)
	return c.Blob(http.StatusOK, XLSXContentType, b)
}

// XLSXContentType is the media type of an Excel workbook.
const XLSXContentType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
