package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/payfile"
	"github.com/helhedsplan/helhedsplan/store"
)

// Recipients (modtagere) and payment files: what the API's /plans/{planID}/recipients,
// /initiatives/{id}/recipient and /finance/disbursements/pain001|payable|export and the pages /planen/modtagere
// and /oekonomi read and do. Every plan member reads the recipients (the proposer picks one); only the secretariat
// (admin) changes them. The proposer of an initiative or admin names its recipient. The payment files are for
// those who see the disbursements (finance, admin, board).

// RecipientStore is what the recipient functions need of the store (implemented by *store.Store). Like
// BoardStore it is not part of Store, so the test stores of the initiative actions need not implement it.
type RecipientStore interface {
	ListRecipients(ctx context.Context, planID string) ([]store.RecipientVersion, error)
	GetRecipient(ctx context.Context, planID, id string) (store.RecipientVersion, error)
	RecipientHistory(ctx context.Context, planID, id string) ([]store.RecipientVersion, error)
	CreateRecipient(ctx context.Context, planID string, r domain.Recipient, actor domain.Actor, note string) (store.RecipientVersion, error)
	UpdateRecipient(ctx context.Context, planID string, r domain.Recipient, basedOn int, actor domain.Actor, note string) (store.RecipientVersion, bool, error)
	GetInitiativeRecipient(ctx context.Context, initiativeID string) (store.InitiativeRecipient, error)
	SetInitiativeRecipient(ctx context.Context, initiativeID, recipientID string, actor domain.Actor) (store.InitiativeRecipient, error)
	GetPaymentAccount(ctx context.Context, planID string) (store.PaymentAccount, error)
	PendingPayments(ctx context.Context, planID string) ([]store.PendingPayment, error)
	EnsurePaymentReferences(ctx context.Context, ids []string) (map[string]string, error)
}

var errNoRecipientStore = errors.New("service: the store keeps no recipients")

func (s *Service) recipientStore() (RecipientStore, error) {
	rs, ok := s.st.(RecipientStore)
	if !ok {
		return nil, errNoRecipientStore
	}
	return rs, nil
}

func recipientNotFound(id string) error {
	return domain.Refuse(domain.CodeNotFound, "Modtageren %q findes ikke i planen.", shortText(id))
}

// Recipients returns the plan's recipients (current versions), by name; any member of the plan may read them.
func (s *Service) Recipients(ctx context.Context, p store.Principal, planID string) ([]store.RecipientVersion, domain.Role, error) {
	role, err := PlanRole(p, planID)
	if err != nil {
		return nil, "", err
	}
	rs, err := s.recipientStore()
	if err != nil {
		return nil, "", err
	}
	out, err := rs.ListRecipients(ctx, planID)
	if err != nil {
		return nil, "", planErr(err, planID, "recipients")
	}
	return out, role, nil
}

// RecipientHistory returns every version of one recipient, newest first.
func (s *Service) RecipientHistory(ctx context.Context, p store.Principal, planID, id string) ([]store.RecipientVersion, error) {
	if _, err := PlanRole(p, planID); err != nil {
		return nil, err
	}
	rs, err := s.recipientStore()
	if err != nil {
		return nil, err
	}
	h, err := rs.RecipientHistory(ctx, planID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, recipientNotFound(id)
	}
	return h, err
}

// MayChangeRecipients says whether p may add and edit planID's recipients: the secretariat (admin) only.
func MayChangeRecipients(p store.Principal, planID string) error {
	role, err := PlanRole(p, planID)
	if err != nil {
		return err
	}
	return RequireRole(role, "ændre planens modtagere", domain.RoleAdmin)
}

// CreateRecipient adds a recipient to the plan (admin).
func (s *Service) CreateRecipient(ctx context.Context, p store.Principal, planID string, r domain.Recipient, note string) (store.RecipientVersion, error) {
	if err := MayChangeRecipients(p, planID); err != nil {
		return store.RecipientVersion{}, err
	}
	rs, err := s.recipientStore()
	if err != nil {
		return store.RecipientVersion{}, err
	}
	out, err := rs.CreateRecipient(ctx, planID, r, actor(p, p.Roles[planID]), strings.TrimSpace(note))
	if err != nil {
		return store.RecipientVersion{}, planErr(err, planID, "create recipient")
	}
	s.log.InfoContext(ctx, "recipient added", "plan_id", planID, "recipient_id", out.ID, "user_id", p.UserID)
	return out, nil
}

// UpdateRecipient records the next version of a recipient (admin); basedOn > 0 refuses a stale edit. An edit
// that changes nothing writes nothing (changed false).
func (s *Service) UpdateRecipient(ctx context.Context, p store.Principal, planID string, r domain.Recipient, basedOn int, note string) (store.RecipientVersion, bool, error) {
	if err := MayChangeRecipients(p, planID); err != nil {
		return store.RecipientVersion{}, false, err
	}
	rs, err := s.recipientStore()
	if err != nil {
		return store.RecipientVersion{}, false, err
	}
	out, changed, err := rs.UpdateRecipient(ctx, planID, r, basedOn, actor(p, p.Roles[planID]), strings.TrimSpace(note))
	if errors.Is(err, store.ErrNotFound) {
		return store.RecipientVersion{}, false, recipientNotFound(r.ID)
	}
	if err != nil {
		return store.RecipientVersion{}, false, err
	}
	if changed {
		s.log.InfoContext(ctx, "recipient changed", "plan_id", planID, "recipient_id", out.ID, "version", out.Version,
			"user_id", p.UserID)
	}
	return out, changed, nil
}

// InitiativeRecipient is the recipient an initiative names, with its current version; Recipient is nil when it
// names none.
type InitiativeRecipient struct {
	Set       *store.InitiativeRecipient
	Recipient *store.RecipientVersion
}

// InitiativeRecipient returns the recipient the initiative names; any member of its plan may read it.
func (s *Service) InitiativeRecipient(ctx context.Context, p store.Principal, initiativeID string) (InitiativeRecipient, error) {
	in, _, err := s.Initiative(ctx, p, initiativeID)
	if err != nil {
		return InitiativeRecipient{}, err
	}
	rs, err := s.recipientStore()
	if err != nil {
		return InitiativeRecipient{}, err
	}
	set, err := rs.GetInitiativeRecipient(ctx, in.ID)
	if errors.Is(err, store.ErrNotFound) {
		return InitiativeRecipient{}, nil
	}
	if err != nil {
		return InitiativeRecipient{}, err
	}
	r, err := rs.GetRecipient(ctx, in.PlanID, set.RecipientID)
	if err != nil {
		return InitiativeRecipient{}, err
	}
	return InitiativeRecipient{Set: &set, Recipient: &r}, nil
}

// MayNameRecipient says whether p may name the initiative's recipient: its proposer or admin.
func MayNameRecipient(p store.Principal, in domain.Initiative) error {
	role, err := PlanRole(p, in.PlanID)
	if err != nil {
		return err
	}
	if role == domain.RoleAdmin || in.Proposer.UserID == p.UserID {
		return nil
	}
	return domain.Refuse(domain.CodeForbidden, "Kun forslagsstilleren eller sekretariatet kan vælge indsatsens modtager.")
}

// SetInitiativeRecipient names the recipient the initiative's tranches are paid to (the proposer or admin).
func (s *Service) SetInitiativeRecipient(ctx context.Context, p store.Principal, initiativeID, recipientID string) (InitiativeRecipient, error) {
	in, role, err := s.Initiative(ctx, p, initiativeID)
	if err != nil {
		return InitiativeRecipient{}, err
	}
	if err := MayNameRecipient(p, in); err != nil {
		return InitiativeRecipient{}, err
	}
	recipientID = strings.TrimSpace(recipientID)
	if recipientID == "" {
		return InitiativeRecipient{}, &domain.RuleError{Code: domain.CodeValidation, Message: "Vælg en modtager.",
			Problems: []domain.FieldProblem{{Field: "recipient_id", Code: "required", Message: "Vælg hvem raterne udbetales til."}}}
	}
	rs, err := s.recipientStore()
	if err != nil {
		return InitiativeRecipient{}, err
	}
	if _, err := rs.SetInitiativeRecipient(ctx, in.ID, recipientID, actor(p, role)); err != nil {
		return InitiativeRecipient{}, err
	}
	s.log.InfoContext(ctx, "initiative recipient set", "initiative_id", in.ID, "recipient_id", recipientID,
		"user_id", p.UserID)
	return s.InitiativeRecipient(ctx, p, in.ID)
}

// PaymentRun is the plan's pending disbursements as a payment file sees them: those it pays, and those it
// cannot pay yet with why.
type PaymentRun struct {
	PlanName string
	Debtor   *store.PaymentAccount // nil when the plan has no paying account on record
	// Payments are the exportable disbursements, oldest first; Rows lists every pending disbursement (for CSV and
	// XLSX), exportable or not.
	Payments []payfile.Payment
	Rows     []payfile.Row
	// NotExportable are the pending disbursements that cannot be paid by file, with why (Row.NotExportable).
	NotExportable []payfile.Row
}

// Reasons a pending disbursement is not in the payment file, as finance reads them.
const (
	ReasonNoRecipient      = "Indsatsen har ingen modtager. Forslagsstilleren eller sekretariatet vælger den på indsatsens side."
	ReasonNoPaymentDetails = "Modtageren har ingen kontooplysninger. Sekretariatet tilføjer dem under Planen › Modtagere."
)

// PaymentRun collects the plan's pending disbursements for a payment file as of now. Each is paid on its payment
// deadline (its release date plus the plan's payment days, in Danish business days), or on the next business day
// from today when the deadline has passed: one PmtInf per such date.
func (s *Service) PaymentRun(ctx context.Context, p store.Principal, planID string, now time.Time) (PaymentRun, error) {
	if err := CheckDisbursementAccess(p, planID); err != nil {
		return PaymentRun{}, err
	}
	rs, err := s.recipientStore()
	if err != nil {
		return PaymentRun{}, err
	}
	plan, err := s.st.GetPlan(ctx, planID)
	if err != nil {
		return PaymentRun{}, planErr(err, planID, "plan")
	}
	run := PaymentRun{PlanName: plan.Name}
	acct, err := rs.GetPaymentAccount(ctx, planID)
	switch {
	case err == nil:
		run.Debtor = &acct
	case !errors.Is(err, store.ErrNotFound):
		return PaymentRun{}, err
	}
	pending, err := rs.PendingPayments(ctx, planID)
	if err != nil {
		return PaymentRun{}, planErr(err, planID, "pending payments")
	}
	earliest := calendar.AddBusinessDays(domain.LocalDate(now), 0)
	days := plan.Settings.Deadlines().PaymentDays
	for _, d := range pending {
		exec := calendar.AddBusinessDays(domain.LocalDate(d.ReleasedAt), days)
		if exec.Before(earliest) {
			exec = earliest
		}
		row := payfile.Row{DisbursementID: d.ID, InitiativeTitle: d.InitiativeTitle, MilestoneNo: d.MilestoneNo,
			MilestoneTitle: d.MilestoneTitle, AmountØre: d.TotalØre, Released: domain.LocalDate(d.ReleasedAt),
			ExecutionDate: exec}
		var iban string
		switch {
		case d.Recipient == nil:
			row.NotExportable = ReasonNoRecipient
		default:
			row.RecipientName = d.Recipient.Name
			var ok bool
			if iban, ok = d.Recipient.PaymentIBAN(); !ok {
				row.NotExportable = ReasonNoPaymentDetails
			}
		}
		if row.NotExportable != "" {
			run.NotExportable = append(run.NotExportable, row)
			run.Rows = append(run.Rows, row)
			continue
		}
		row.Account = iban
		row.EndToEndID = store.EndToEndID(d.ID)
		run.Rows = append(run.Rows, row)
		run.Payments = append(run.Payments, payfile.Payment{DisbursementID: d.ID, EndToEndID: row.EndToEndID,
			AmountØre: d.TotalØre, ExecutionDate: exec, CreditorName: d.Recipient.Name, CreditorIBAN: iban,
			CreditorBIC: d.Recipient.BIC,
			Remittance:  fmt.Sprintf("%s, milepæl %d: %s", d.InitiativeTitle, d.MilestoneNo, d.MilestoneTitle)})
	}
	return run, nil
}

// Pain001 writes the plan's pending disbursements that can be paid by file as a pain.001.001.09 document, and
// records each payment's end-to-end reference (store.EnsurePaymentReferences) so a bank statement finds it again.
// The run says which were left out and why. Refused when the plan has no paying account or nothing can be paid.
func (s *Service) Pain001(ctx context.Context, p store.Principal, planID string, now time.Time) ([]byte, PaymentRun, error) {
	run, err := s.PaymentRun(ctx, p, planID, now)
	if err != nil {
		return nil, PaymentRun{}, err
	}
	if run.Debtor == nil {
		return nil, run, domain.Refuse(domain.CodeConflict,
			"Planen har ingen konto at betale fra. Sekretariatet skal registrere planens konto, før der kan laves en betalingsfil.")
	}
	if len(run.Payments) == 0 {
		return nil, run, domain.Refuse(domain.CodeConflict,
			"Ingen udbetalinger kan komme i en betalingsfil: %d afventer betaling, men ingen har en modtager med kontooplysninger.",
			len(run.NotExportable))
	}
	rs, err := s.recipientStore()
	if err != nil {
		return nil, PaymentRun{}, err
	}
	ids := make([]string, len(run.Payments))
	for i, pm := range run.Payments {
		ids[i] = pm.DisbursementID
	}
	refs, err := rs.EnsurePaymentReferences(ctx, ids)
	if err != nil {
		return nil, PaymentRun{}, err
	}
	for i := range run.Payments {
		if ref, ok := refs[run.Payments[i].DisbursementID]; ok {
			run.Payments[i].EndToEndID = ref
		}
	}
	for i := range run.Rows {
		if ref, ok := refs[run.Rows[i].DisbursementID]; ok {
			run.Rows[i].EndToEndID = ref
		}
	}
	local := now.In(domain.Copenhagen)
	msg := payfile.Message{ID: "HP-" + local.Format("20060102-150405"), CreatedAt: local, Initiator: run.PlanName,
		Debtor:   payfile.Debtor{Name: run.Debtor.Name, IBAN: run.Debtor.IBAN, BIC: run.Debtor.BIC},
		Payments: run.Payments}
	b, err := payfile.Pain001(msg)
	if err != nil {
		return nil, PaymentRun{}, err
	}
	s.log.InfoContext(ctx, "payment file written", "plan_id", planID, "payments", len(run.Payments),
		"not_exportable", len(run.NotExportable), "user_id", p.UserID)
	return b, run, nil
}

// PaymentAccount returns the plan's paying account (the debtor of its payment files); any member of the plan may
// read it. ErrNotFound-wrapped when none is on record.
func (s *Service) PaymentAccount(ctx context.Context, p store.Principal, planID string) (store.PaymentAccount, error) {
	if _, err := PlanRole(p, planID); err != nil {
		return store.PaymentAccount{}, err
	}
	rs, err := s.recipientStore()
	if err != nil {
		return store.PaymentAccount{}, err
	}
	return rs.GetPaymentAccount(ctx, planID)
}
