package service

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/payfile"
	"github.com/helhedsplan/helhedsplan/store"
)

// Bank statement reconciliation: finance uploads the bank's camt.053 (or camt.054); each booked DKK debit whose
// end-to-end reference names a pending disbursement of the plan, for exactly its total, is confirmed through the
// same workflow update as a manual confirm (BeginPayment + ConfirmPayment). Everything else is listed with the
// reason for finance to handle by hand. A file is reconciled once per plan (store.ClaimBankStatement by the file's
// SHA-256): uploading it again answers the first result; an upload that stopped half-way is finished by the next
// upload of the file, and since a confirmation's update ID is derived from the disbursement and the reference
// (ConfirmUpdateID), confirming again — or two uploads at once — is one update per payment.

// StatementStore is what reconciliation needs of the store (implemented by *store.Store). Like RecipientStore it
// is not part of Store, so test stores of other features need not implement it.
type StatementStore interface {
	DisbursementByEndToEndID(ctx context.Context, ref string) (string, error)
	GetPaymentAccount(ctx context.Context, planID string) (store.PaymentAccount, error)
	ClaimBankStatement(ctx context.Context, st store.BankStatement) (store.BankStatement, bool, error)
	CompleteBankStatement(ctx context.Context, id string, entries []store.BankStatementEntry) error
	GetBankStatement(ctx context.Context, planID, id string) (store.BankStatement, []store.BankStatementEntry, error)
	ListBankStatements(ctx context.Context, planID string, limit int) ([]store.BankStatement, error)
}

var errNoStatementStore = errors.New("service: the store keeps no bank statements")

func (s *Service) statementStore() (StatementStore, error) {
	ss, ok := s.st.(StatementStore)
	if !ok {
		return nil, errNoStatementStore
	}
	return ss, nil
}

// Reason codes of an unmatched statement entry (store.BankStatementEntry.ReasonCode).
const (
	ReasonCredit           = "credit"            // money in, not a payment
	ReasonReversal         = "reversal"          // the bank reverses an earlier entry
	ReasonNotBooked        = "not_booked"        // pending or information only
	ReasonForeignCurrency  = "foreign_currency"  // not DKK
	ReasonNoReference      = "no_reference"      // no end-to-end reference
	ReasonDuplicate        = "duplicate"         // the reference is on an earlier entry of the same file
	ReasonUnknownReference = "unknown_reference" // no payment file of the plan carried it
	ReasonWithdrawn        = "withdrawn"         // the disbursement was withdrawn (initiative cancelled)
	ReasonAmountDiffers    = "amount_differs"    // not the disbursement's total to the øre
	ReasonAlreadyPaid      = "already_paid"      // confirmed earlier with another reference
	ReasonRefused          = "refused"           // the workflow refused the confirmation; Reason says why
	// Incoming payments (credits) that name a return (domain.ReturnReference) but cannot settle it:
	ReasonReturnAmount   = "return_amount_differs" // not the return's amount to the øre
	ReasonReturnReceived = "return_received"       // the return was registered received with another reference
)

// Reconciliation is a statement and the result of each of its transactions, in file order.
type Reconciliation struct {
	Statement store.BankStatement
	Entries   []store.BankStatementEntry
	// Repeat says the file had been reconciled before: nothing was done now, the earlier result is shown.
	Repeat bool
	// Disbursements are the plan's disbursements the entries name, by ID (as they are now).
	Disbursements map[string]store.Disbursement
	// Returns are the plan's returns the entries name (incoming payments), by ID (as they are now).
	Returns map[string]store.Return
}

// withDisbursements reads the disbursements r's entries name.
func (s *Service) withDisbursements(ctx context.Context, planID string, r Reconciliation) (Reconciliation, error) {
	r.Disbursements = map[string]store.Disbursement{}
	for _, e := range r.Entries {
		if e.DisbursementID == nil {
			continue
		}
		if _, ok := r.Disbursements[*e.DisbursementID]; ok {
			continue
		}
		d, err := s.st.GetDisbursement(ctx, *e.DisbursementID)
		if err != nil {
			return Reconciliation{}, fmt.Errorf("get disbursement %s of a statement: %w", *e.DisbursementID, err)
		}
		if d.PlanID == planID {
			r.Disbursements[d.ID] = d
		}
	}
	r.Returns = map[string]store.Return{}
	for _, e := range r.Entries {
		if e.ReturnID == nil {
			continue
		}
		if _, ok := r.Returns[*e.ReturnID]; ok {
			continue
		}
		rs, err := s.returnsStore()
		if err != nil {
			return Reconciliation{}, err
		}
		ret, err := rs.GetReturn(ctx, *e.ReturnID)
		if err != nil {
			return Reconciliation{}, fmt.Errorf("get return %s of a statement: %w", *e.ReturnID, err)
		}
		if ret.PlanID == planID {
			r.Returns[ret.ID] = ret
		}
	}
	return r, nil
}

// MayReconcile says whether p may upload bank statements for planID: finance only (they confirm payments).
func MayReconcile(p store.Principal, planID string) error {
	role, err := PlanRole(p, planID)
	if err != nil {
		return err
	}
	return RequireRole(role, "afstemme et kontoudtog", domain.RoleFinance)
}

// StatementReference is the payment reference a statement transaction confirms its disbursement with: the bank's
// own reference (AcctSvcrRef) when it gave one, else the end-to-end reference and the booking date. Both are fixed
// by the bank's booking, so the same transaction read from another upload (or from camt.054 and camt.053 alike,
// when the bank keeps its reference) confirms with the same reference — one workflow update.
func StatementReference(tx payfile.Transaction) string {
	if r := strings.TrimSpace(tx.BankRef); r != "" && utf8.RuneCountInString(r) <= domain.MaxTitleLen {
		return r
	}
	return tx.EndToEndID + "/" + tx.BookingDate.String()
}

// statementID names a plan's statement by its file: the same file in the same plan is the same statement.
func statementID(planID, fileHash string) string {
	sum := sha256.Sum256([]byte(planID + "\x00" + fileHash))
	return "ks-" + hex.EncodeToString(sum[:10])
}

// ReconcileStatement reads the uploaded file and reconciles it with planID's disbursements (see the top of this
// file). A file that is not a readable statement, or is for another account than the plan pays from, is refused
// (CodeValidation, field "file") before anything is stored. Temporal or the database unavailable part-way is an
// error; the payments confirmed so far stay confirmed and uploading the file again finishes the job.
func (s *Service) ReconcileStatement(ctx context.Context, p store.Principal, planID, fileName string, data []byte) (Reconciliation, error) {
	if err := MayReconcile(p, planID); err != nil {
		return Reconciliation{}, err
	}
	ss, err := s.statementStore()
	if err != nil {
		return Reconciliation{}, err
	}
	parsed, err := payfile.ParseCamt(bytes.NewReader(data))
	if err != nil {
		if errors.Is(err, payfile.ErrStatement) {
			return Reconciliation{}, statementRefused(err.Error())
		}
		return Reconciliation{}, err
	}
	acct, err := ss.GetPaymentAccount(ctx, planID)
	switch {
	case err == nil:
		if parsed.Account != "" && acct.IBAN != "" && !strings.EqualFold(parsed.Account, acct.IBAN) {
			return Reconciliation{}, statementRefused(fmt.Sprintf(
				"Kontoudtoget er for konto %s, men planen betaler fra konto %s.", shortText(parsed.Account), acct.IBAN))
		}
	case !errors.Is(err, store.ErrNotFound):
		return Reconciliation{}, err
	}
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:])
	userID := p.UserID
	st, _, err := ss.ClaimBankStatement(ctx, store.BankStatement{ID: statementID(planID, hash), PlanID: planID,
		FileSHA256: hash, Kind: parsed.Kind, MessageID: cutRunes(parsed.MessageID, 200),
		StatementNo: cutRunes(parsed.StatementID, 200), Account: cutRunes(parsed.Account, 64),
		FileName: cutRunes(strings.TrimSpace(fileName), 255), UploadedBy: &userID})
	if err != nil {
		return Reconciliation{}, err
	}
	if st.CompletedAt != nil {
		st, entries, err := ss.GetBankStatement(ctx, planID, st.ID)
		if err != nil {
			return Reconciliation{}, err
		}
		return s.withDisbursements(ctx, planID, Reconciliation{Statement: st, Entries: entries, Repeat: true})
	}
	entries := make([]store.BankStatementEntry, 0, len(parsed.Transactions))
	seen := map[string]int{} // end-to-end reference -> the entry that carried it first
	for _, tx := range parsed.Transactions {
		e, err := s.reconcileOne(ctx, p, ss, planID, tx, seen)
		if err != nil {
			return Reconciliation{}, err
		}
		e.StatementID = st.ID
		entries = append(entries, e)
	}
	if err := ss.CompleteBankStatement(ctx, st.ID, entries); err != nil {
		return Reconciliation{}, err
	}
	st, stored, err := ss.GetBankStatement(ctx, planID, st.ID)
	if err != nil {
		return Reconciliation{}, err
	}
	s.log.InfoContext(ctx, "bank statement reconciled", "plan_id", planID, "statement_id", st.ID,
		"matched", st.Matched, "unmatched", st.Unmatched, "user_id", p.UserID)
	return s.withDisbursements(ctx, planID, Reconciliation{Statement: st, Entries: stored})
}

// reconcileOne decides one transaction, confirming its payment when it matches.
func (s *Service) reconcileOne(ctx context.Context, p store.Principal, ss StatementStore, planID string,
	tx payfile.Transaction, seen map[string]int) (store.BankStatementEntry, error) {
	e := store.BankStatementEntry{No: tx.No, EndToEndID: cutRunes(tx.EndToEndID, 200), BankRef: cutRunes(tx.BankRef, 200),
		AmountØre: int64(tx.AmountØre), Currency: tx.Currency, CreditDebit: tx.CreditDebit,
		BookingDate: tx.BookingDate.Time(), Outcome: store.EntryUnmatched}
	unmatched := func(code, format string, a ...any) (store.BankStatementEntry, error) {
		e.ReasonCode, e.Reason = code, fmt.Sprintf(format, a...)
		return e, nil
	}
	switch {
	case tx.CreditDebit != payfile.Debit:
		if tx.Reversal || tx.Status != payfile.StatusBooked || tx.Currency != "DKK" || tx.EndToEndID == "" {
			return unmatched(ReasonCredit, "Indbetaling til kontoen – ikke en udbetaling fra planen.")
		}
		return s.reconcileCredit(ctx, p, planID, tx, e)
	case tx.Reversal:
		return unmatched(ReasonReversal, "Banken tilbagefører en tidligere postering; afstem den i hånden.")
	case tx.Status != payfile.StatusBooked:
		return unmatched(ReasonNotBooked, "Posteringen er ikke bogført (status %q); den afstemmes, når banken har bogført den.",
			shortText(tx.Status))
	case tx.Currency != "DKK":
		return unmatched(ReasonForeignCurrency, "Beløbet er i %s, ikke danske kroner; planens udbetalinger er i DKK.", tx.Currency)
	case tx.EndToEndID == "":
		return unmatched(ReasonNoReference, "Posteringen har ingen end-to-end-reference; find udbetalingen i hånden.")
	}
	if first, dup := seen[tx.EndToEndID]; dup {
		return unmatched(ReasonDuplicate, "Referencen står også på postering %d i kontoudtoget – mulig dobbeltbetaling; "+
			"undersøg den med banken.", first)
	}
	seen[tx.EndToEndID] = tx.No
	unknown := func() (store.BankStatementEntry, error) {
		return unmatched(ReasonUnknownReference, "Ukendt reference %q: ingen betalingsfil fra planen har haft den.",
			shortText(tx.EndToEndID))
	}
	id, err := ss.DisbursementByEndToEndID(ctx, tx.EndToEndID)
	if errors.Is(err, store.ErrNotFound) {
		return unknown()
	}
	if err != nil {
		return e, err
	}
	t, err := s.BeginPayment(ctx, p, id)
	var refusal *domain.RuleError
	if errors.As(err, &refusal) && refusal.Code == domain.CodeNotFound {
		return unknown()
	}
	if err != nil {
		return e, err
	}
	d := t.Disbursement
	if d.PlanID != planID {
		return unknown()
	}
	e.DisbursementID = &d.ID
	ref := StatementReference(tx)
	switch {
	case d.Status == store.DisbursementWithdrawn:
		return unmatched(ReasonWithdrawn, "Udbetalingen til „%s“, milepæl %d, er trukket tilbage, fordi indsatsen er annulleret; "+
			"pengene skal kræves tilbage.", d.InitiativeTitle, d.MilestoneNo)
	case domain.Money(tx.AmountØre) != d.TotalØre:
		return unmatched(ReasonAmountDiffers, "Beløbet %s svarer ikke til udbetalingens %s („%s“, milepæl %d).",
			tx.AmountØre, d.TotalØre, d.InitiativeTitle, d.MilestoneNo)
	case d.Status == store.DisbursementPaid && (d.Reference == nil || *d.Reference != ref):
		other := ""
		if d.Reference != nil {
			other = *d.Reference
		}
		return unmatched(ReasonAlreadyPaid, "Udbetalingen til „%s“, milepæl %d, er allerede bekræftet betalt med referencen „%s“ – "+
			"mulig dobbeltbetaling.", d.InitiativeTitle, d.MilestoneNo, other)
	}
	// Pending, or paid with this very reference by an earlier run: the same update either way.
	if _, err := s.ConfirmPayment(ctx, t, ref); err != nil {
		if errors.As(err, &refusal) {
			return unmatched(ReasonRefused, "Betalingen kunne ikke bekræftes: %s", refusal.Message)
		}
		return e, err
	}
	e.Outcome, e.Reference = store.EntryMatched, ref
	return e, nil
}

// reconcileCredit settles a return with a booked DKK credit whose end-to-end reference is the return's payment
// reference and whose amount is the return's: registered received (the same store call as finance's manual
// registration, so a statement read twice, or a return registered by hand with the same reference, settles it
// once), as of the booking date. Any other credit is listed for hand work.
func (s *Service) reconcileCredit(ctx context.Context, p store.Principal, planID string, tx payfile.Transaction,
	e store.BankStatementEntry) (store.BankStatementEntry, error) {
	unmatched := func(code, format string, a ...any) (store.BankStatementEntry, error) {
		e.ReasonCode, e.Reason = code, fmt.Sprintf(format, a...)
		return e, nil
	}
	rs, err := s.returnsStore()
	if err != nil {
		return e, err
	}
	r, err := rs.ReturnByReference(ctx, planID, tx.EndToEndID)
	if errors.Is(err, store.ErrNotFound) {
		return unmatched(ReasonCredit, "Indbetaling til kontoen med referencen %q – ikke en kendt tilbagebetaling.",
			shortText(tx.EndToEndID))
	}
	if err != nil {
		return e, err
	}
	e.ReturnID = &r.ID
	ref := StatementReference(tx)
	switch {
	case domain.Money(tx.AmountØre) != domain.Money(r.AmountØre):
		return unmatched(ReasonReturnAmount, "Indbetalingen på %s svarer ikke til tilbagebetalingen på %s fra „%s“ (%s).",
			tx.AmountØre, domain.Money(r.AmountØre), r.InitiativeTitle, r.SourceName)
	case r.Status == store.ReturnReceived && (r.Reference == nil || *r.Reference != ref):
		other := ""
		if r.Reference != nil {
			other = *r.Reference
		}
		return unmatched(ReasonReturnReceived, "Tilbagebetalingen fra „%s“ (%s) er allerede registreret modtaget med "+
			"referencen „%s“ – mulig dobbelt indbetaling.", r.InitiativeTitle, r.SourceName, other)
	}
	bd := tx.BookingDate.Time()
	booked := time.Date(bd.Year(), bd.Month(), bd.Day(), 12, 0, 0, 0, domain.Copenhagen)
	if _, err := s.receiveReturn(ctx, p, rs, r, ref, booked); err != nil {
		var refusal *domain.RuleError
		if errors.As(err, &refusal) {
			return unmatched(ReasonRefused, "Tilbagebetalingen kunne ikke registreres: %s", refusal.Message)
		}
		return e, err
	}
	e.Outcome, e.Reference = store.EntryMatched, ref
	return e, nil
}

// statementRefused is the refusal of an uploaded file, on the field "file".
func statementRefused(why string) error {
	return &domain.RuleError{Code: domain.CodeValidation, Message: "Kontoudtoget kan ikke afstemmes.",
		Problems: []domain.FieldProblem{{Field: "file", Code: "invalid", Message: why}}}
}

// BankStatement returns a statement of planID with its entries, for those who see the disbursements.
func (s *Service) BankStatement(ctx context.Context, p store.Principal, planID, id string) (Reconciliation, error) {
	if err := CheckDisbursementAccess(p, planID); err != nil {
		return Reconciliation{}, err
	}
	ss, err := s.statementStore()
	if err != nil {
		return Reconciliation{}, err
	}
	st, entries, err := ss.GetBankStatement(ctx, planID, id)
	if errors.Is(err, store.ErrNotFound) {
		return Reconciliation{}, domain.Refuse(domain.CodeNotFound, "Kontoudtoget %q findes ikke i planen.", shortText(id))
	}
	if err != nil {
		return Reconciliation{}, err
	}
	return s.withDisbursements(ctx, planID, Reconciliation{Statement: st, Entries: entries})
}

// BankStatements lists planID's latest statements (at most limit), newest first.
func (s *Service) BankStatements(ctx context.Context, p store.Principal, planID string, limit int) ([]store.BankStatement, error) {
	if err := CheckDisbursementAccess(p, planID); err != nil {
		return nil, err
	}
	ss, err := s.statementStore()
	if err != nil {
		return nil, err
	}
	return ss.ListBankStatements(ctx, planID, limit)
}

// cutRunes cuts s to at most n characters.
func cutRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
