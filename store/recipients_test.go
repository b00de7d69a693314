package store_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
)

func TestSeedLoadsRecipientsAndThePayingAccountOnce(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	rs, err := s.ListRecipients(ctx, planID)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]store.RecipientVersion{}
	for _, r := range rs {
		got[r.ID] = r
		if r.Version != 1 || r.ChangedBy != nil {
			t.Errorf("%s: version %d by %v, want version 1 by the system", r.ID, r.Version, r.ChangedBy)
		}
		iban, ok := r.PaymentIBAN()
		if !ok || domain.CheckIBAN(iban) != nil {
			t.Errorf("%s: payment IBAN %q (%v) is not valid", r.ID, iban, ok)
		}
	}
	if len(got) != 3 {
		t.Fatalf("seeded recipients %v, want 3", rs)
	}
	if iban, _ := got["boligselskabet-sct-joergen"].PaymentIBAN(); iban != "DK1476810004567890" {
		t.Errorf("Sct. Jørgen's reg./konto as IBAN = %s", iban)
	}
	if got["viborg-kommune-boern-og-unge"].Name != "Viborg Kommune – Børn og Unge" {
		t.Errorf("municipality recipient %+v", got["viborg-kommune-boern-og-unge"])
	}
	acct, err := s.GetPaymentAccount(ctx, planID)
	if err != nil || acct.IBAN != "DK1915510002219876" || acct.BIC != "DABADKKK" {
		t.Fatalf("paying account %+v, %v", acct, err)
	}
	// An edit by admin survives the next start's seed step.
	r := got["boligselskabet-viborg"].Recipient
	r.IBAN = "DK5000400440116243"
	if _, _, err := s.UpdateRecipient(ctx, planID, r, 1, karen, "Ny bank"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.SeedRecipients(ctx, viborg(t)); err != nil || n != 0 {
		t.Fatalf("second seed added %d, %v", n, err)
	}
	if cur, _ := s.GetRecipient(ctx, planID, "boligselskabet-viborg"); cur.IBAN != "DK5000400440116243" || cur.Version != 2 {
		t.Fatalf("after the second seed: %+v", cur)
	}
}

func TestRecipientValidationAndHistory(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	in := domain.Recipient{Name: "Viborg Kommune – Beskæftigelse", Kind: domain.RecipientMunicipality,
		RegNo: "0760", AccountNo: "3334445"}
	created, err := s.CreateRecipient(ctx, planID, in, karen, "Ny forvaltning")
	if err != nil {
		t.Fatal(err)
	}
	if created.ID != "viborg-kommune-beskaeftigelse" || created.Version != 1 || created.ChangedByName != "Karen Iversen" {
		t.Fatalf("created %+v", created)
	}
	if _, err := s.CreateRecipient(ctx, planID, in, karen, ""); !isCode(err, domain.CodeConflict) {
		t.Fatalf("same ID twice: %v, want conflict", err)
	}
	bad := in
	bad.Name, bad.RegNo, bad.AccountNo, bad.IBAN = "Forkert konto", "", "", "DK1476810004567891"
	if _, err := s.CreateRecipient(ctx, planID, bad, karen, ""); !hasField(err, "iban") {
		t.Fatalf("wrong IBAN check digits: %v, want a problem at iban", err)
	}

	// An edit is the next version; the same edit again writes nothing; a stale one is refused.
	edit := created.Recipient
	edit.RegNo, edit.AccountNo, edit.IBAN, edit.CVR = "", "", "DK9007600003334445", "29189846"
	v2, changed, err := s.UpdateRecipient(ctx, planID, edit, 1, karen, "IBAN i stedet for reg./konto")
	if err != nil || !changed || v2.Version != 2 {
		t.Fatalf("edit: %+v changed=%v %v", v2, changed, err)
	}
	if _, changed, err := s.UpdateRecipient(ctx, planID, edit, 2, karen, ""); err != nil || changed {
		t.Fatalf("same edit again: changed=%v %v", changed, err)
	}
	edit.Name = "Viborg Kommune – Jobcenter"
	if _, _, err := s.UpdateRecipient(ctx, planID, edit, 1, karen, ""); !isCode(err, domain.CodeConflict) {
		t.Fatalf("edit of a stale version: %v, want conflict", err)
	}
	h, err := s.RecipientHistory(ctx, planID, created.ID)
	if err != nil || len(h) != 2 || h[0].Version != 2 || h[1].RegNo != "0760" || h[0].Note != "IBAN i stedet for reg./konto" {
		t.Fatalf("history %+v, %v", h, err)
	}
	if _, err := s.RecipientHistory(ctx, planID, "findes-ikke"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown recipient: %v", err)
	}

	// The database keeps the history and the rules too.
	if _, err := s.DB().ExecContext(ctx, `UPDATE recipient_versions SET iban = 'DK5000400440116243' WHERE recipient_id = $1`, created.ID); err == nil {
		t.Error("a recipient version could be rewritten")
	}
	if _, err := s.DB().ExecContext(ctx, `DELETE FROM recipient_versions WHERE recipient_id = $1`, created.ID); err == nil {
		t.Error("a recipient version could be deleted")
	}
	if _, err := s.DB().ExecContext(ctx, `
		INSERT INTO recipient_versions (plan_id, recipient_id, version, name, kind, iban, reg_no, account_no)
		VALUES ($1, $2, 3, 'x', 'other', 'DK9007600003334445', '0760', '1')`, planID, created.ID); err == nil {
		t.Error("a version with both an IBAN and reg./konto was stored")
	}
}

func TestPendingPaymentsCarryTheRecipientAndAStableReference(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	id := "0192f4c8-7a1e-7c3d-9b2a-4e5f6a7b8c9d"
	in := submit(t, s, id, cancelProposal("Lektiecafé"))
	if err := s.Reserve(ctx, approveInput(t, in)); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, releaseInput(t, in, 1)); err != nil {
		t.Fatal(err)
	}
	pending, err := s.PendingPayments(ctx, planID)
	if err != nil || len(pending) != 1 || pending[0].Recipient != nil {
		t.Fatalf("pending before a recipient is named: %+v, %v", pending, err)
	}
	if _, err := s.SetInitiativeRecipient(ctx, id, "findes-ikke", mette); !hasField(err, "recipient_id") {
		t.Fatalf("unknown recipient: %v", err)
	}
	set, err := s.SetInitiativeRecipient(ctx, id, "boligselskabet-sct-joergen", mette)
	if err != nil || set.RecipientID != "boligselskabet-sct-joergen" || set.SetBy != "og-mette" {
		t.Fatalf("set: %+v, %v", set, err)
	}
	if _, err := s.SetInitiativeRecipient(ctx, id, "boligselskabet-sct-joergen", mette); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM initiative_recipient_history WHERE initiative_id = $1`, id); n != 1 {
		t.Fatalf("naming the same recipient twice left %d history rows, want 1", n)
	}
	pending, err = s.PendingPayments(ctx, planID)
	if err != nil || len(pending) != 1 || pending[0].Recipient == nil || pending[0].Recipient.ID != "boligselskabet-sct-joergen" {
		t.Fatalf("pending: %+v, %v", pending, err)
	}
	d := pending[0]
	if d.ID != domain.DisbursementID(id, 1) || d.TotalØre != domain.Total(in.Milestones[0].Tranche) {
		t.Fatalf("pending disbursement %+v", d.Disbursement)
	}

	// The end-to-end reference fits ISO 20022's 35 characters, is recorded once and finds the disbursement.
	ref := store.EndToEndID(d.ID)
	if len(d.ID) <= 35 || len(ref) > 35 || ref != strings.ReplaceAll(id, "-", "")+"t1" {
		t.Fatalf("EndToEndID(%s) = %s (%d chars)", d.ID, ref, len(ref))
	}
	for range 2 {
		refs, err := s.EnsurePaymentReferences(ctx, []string{d.ID})
		if err != nil || refs[d.ID] != ref {
			t.Fatalf("references %v, %v", refs, err)
		}
	}
	if got, err := s.DisbursementByEndToEndID(ctx, ref); err != nil || got != d.ID {
		t.Fatalf("by reference: %s, %v", got, err)
	}

	// Paid, it is no longer pending.
	if err := s.ConfirmPayment(ctx, payInput(t, in, 1, "NETS-1")); err != nil {
		t.Fatal(err)
	}
	if pending, err := s.PendingPayments(ctx, planID); err != nil || len(pending) != 0 {
		t.Fatalf("pending after payment: %+v, %v", pending, err)
	}
}

func TestEndToEndIDFitsAndIsStable(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"short-id-t1", "0192f4c8-7a1e-7c3d-9b2a-4e5f6a7b8c9d-t12",
		"0192f4c8-7a1e-7c3d-9b2a-4e5f6a7b8c9d-t123", strings.Repeat("x", 80) + "-t1", "æøå-t1"} {
		ref := store.EndToEndID(id)
		if len(ref) == 0 || len(ref) > 35 || ref != store.EndToEndID(id) {
			t.Errorf("EndToEndID(%q) = %q (%d chars)", id, ref, len(ref))
		}
	}
	if a, b := store.EndToEndID(strings.Repeat("x", 80)+"-t1"), store.EndToEndID(strings.Repeat("x", 80)+"-t2"); a == b {
		t.Errorf("two IDs share reference %s", a)
	}
}

func isCode(err error, code domain.Code) bool {
	var re *domain.RuleError
	return errors.As(err, &re) && re.Code == code
}

func hasField(err error, field string) bool {
	var re *domain.RuleError
	if !errors.As(err, &re) {
		return false
	}
	for _, p := range re.Problems {
		if p.Field == field {
			return true
		}
	}
	return false
}
