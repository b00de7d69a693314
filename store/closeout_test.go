package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
)

// closable builds initiative id through the store with tranches 1 and 2 paid and tranche 3 never released (as
// after a change that dropped it), its evaluation submitted.
func closable(t *testing.T, s *store.Store, id string) *domain.Initiative {
	t.Helper()
	ctx := ctxT(t)
	in := submit(t, s, id, cancelProposal("Indsats "+id))
	if err := s.Reserve(ctx, approveInput(t, in)); err != nil {
		t.Fatal(err)
	}
	for no := 1; no <= 2; no++ {
		if err := s.Release(ctx, releaseInput(t, in, no)); err != nil {
			t.Fatal(err)
		}
		if err := s.ConfirmPayment(ctx, payInput(t, in, no, "NETS-"+id+"-"+string(rune('0'+no)))); err != nil {
			t.Fatal(err)
		}
	}
	in.Milestones[2].TrancheStatus = domain.TrancheCancelled
	return in
}

// closeoutStep is the board's acceptance of in's evaluation with spend, as the workflow computes it.
func closeoutStep(t *testing.T, in *domain.Initiative, spend []domain.SourceAmount) store.Step {
	t.Helper()
	in.Evaluation = &domain.Evaluation{Summary: "Nået", SubmittedBy: mette, SubmittedAt: t0, Spend: spend}
	lines, err := domain.ComputeCloseout(in)
	if err != nil {
		t.Fatal(err)
	}
	tr := step(t, in, "evaluation_accepted", hanne, domain.PhaseCompleted)
	in.Closeout = &domain.Closeout{Lines: lines, At: tr.Event.At}
	tr.Snapshot = clone(t, *in)
	return store.Step{Closeout: &store.CloseoutInput{PlanID: planID, InitiativeID: in.ID,
		DelaftaleID: in.Proposal.DelaftaleID, Lines: lines, Transition: tr}}
}

func mustVerify(t *testing.T, s *store.Store) {
	t.Helper()
	vs, err := s.VerifyLedger(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) > 0 {
		t.Fatalf("ledger verify: %v", vs)
	}
}

// Tranches 1 and 2 paid: LBF 70.000.001, Viborg Kommune 15.000.003 øre. Spent: LBF all but 1.234,56 kr., the
// municipality everything. Tranche 3 (LBF 30.000.000, Viborg Kommune 5.000.000) was never paid.
func TestCloseoutSettlesTheMoneyAndAReturnComesBackOnce(t *testing.T) {
	s := dbtest.New(t)
	ctx := ctxT(t)
	in := closable(t, s, "afslut")
	before, err := s.Budget(ctx, planID)
	if err != nil {
		t.Fatal(err)
	}
	st := closeoutStep(t, in, []domain.SourceAmount{{SourceID: "lbf", AmountØre: 70_000_001 - 123_456},
		{SourceID: "viborg-kommune", AmountØre: 15_000_003}})
	if _, err := s.WriteStep(ctx, st); err != nil {
		t.Fatal(err)
	}
	// The same step again (its answer lost) writes nothing.
	rows := rowCounts(t, s)
	if _, err := s.WriteStep(ctx, st); err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if d := cmp.Diff(rows, rowCounts(t, s)); d != "" {
		t.Fatalf("the rerun wrote (-before +after):\n%s", d)
	}
	if n := count(t, s, `SELECT count(*) FROM closeout_lines WHERE initiative_id = 'afslut'`); n != 2 {
		t.Fatalf("%d close-out lines, want 2", n)
	}
	mustVerify(t, s)

	after, err := s.Budget(ctx, planID)
	if err != nil {
		t.Fatal(err)
	}
	// The never-paid tranche 3 is available again at once; the return is not, until it is received.
	for src, back := range map[string]domain.Money{"lbf": 30_000_000, "viborg-kommune": 5_000_000} {
		b, a := sourceLine(t, before, src), sourceLine(t, after, src)
		if *a.AvailableØre-*b.AvailableØre != back || a.ReservedØre != 0 || a.PaidØre != b.PaidØre {
			t.Errorf("%s: available %s → %s (want +%s), reserved %s, paid %s → %s", src, *b.AvailableØre,
				*a.AvailableØre, back, a.ReservedØre, b.PaidØre, a.PaidØre)
		}
	}
	list, err := s.ListReturns(ctx, planID, store.ReturnOpen)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].SourceID != "lbf" || list[0].AmountØre != 123_456 || list[0].InitiativeTitle != "Indsats afslut" {
		t.Fatalf("open returns %+v, want 1.234,56 kr. from LBF", list)
	}
	id := list[0].ID

	// A receipt dated before the return was raised is refused, and books nothing.
	if _, err := s.ReceiveReturn(ctx, id, "BANK-FOR-TIDLIG", peter, t0.Add(-24*time.Hour)); err == nil {
		t.Fatal("a receipt before the return was raised was accepted")
	}
	// Finance marks it received twice at once with the same reference: one refund.
	errs := parallel(
		func() error {
			_, err := s.ReceiveReturn(ctx, id, "BANK-IND-77", peter, t0.Add(48*time.Hour))
			return err
		},
		func() error {
			_, err := s.ReceiveReturn(ctx, id, "BANK-IND-77", peter, t0.Add(48*time.Hour))
			return err
		},
	)
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, s, `SELECT count(*) FROM ledger_entries WHERE kind = 'refund'`); n != 1 {
		t.Fatalf("%d refund entries, want 1", n)
	}
	_, err = s.ReceiveReturn(ctx, id, "ANDEN-REF", peter, t0.Add(49*time.Hour))
	var re *domain.RuleError
	if !errors.As(err, &re) || re.Code != domain.CodeConflict {
		t.Fatalf("another reference: %v, want a conflict", err)
	}
	received, err := s.Budget(ctx, planID)
	if err != nil {
		t.Fatal(err)
	}
	a, r := sourceLine(t, after, "lbf"), sourceLine(t, received, "lbf")
	if *r.AvailableØre-*a.AvailableØre != 123_456 || r.ReturnedØre != 123_456 || a.PaidØre-r.PaidØre != 123_456 {
		t.Fatalf("LBF after the refund: available %s → %s, returned %s, paid %s → %s", *a.AvailableØre,
			*r.AvailableØre, r.ReturnedØre, a.PaidØre, r.PaidØre)
	}
	mustVerify(t, s)
}

func TestCloseoutWaitsForAReleasedUnpaidTranche(t *testing.T) {
	s := dbtest.New(t)
	ctx := ctxT(t)
	in := cancellable(t, s, "venter") // tranche 2 released and not paid
	in.Evaluation = &domain.Evaluation{Summary: "Nået"}
	// The workflow would refuse (domain.ComputeCloseout); the store refuses too, from the ledger.
	in.Milestones[1].TrancheStatus = domain.TranchePaid
	lines, err := domain.ComputeCloseout(in)
	if err != nil {
		t.Fatal(err)
	}
	in.Milestones[1].TrancheStatus = domain.TrancheReleased
	tr := step(t, in, "evaluation_accepted", hanne, domain.PhaseCompleted)
	rows := rowCounts(t, s)
	_, err = s.WriteStep(ctx, store.Step{Closeout: &store.CloseoutInput{PlanID: planID, InitiativeID: in.ID,
		DelaftaleID: in.Proposal.DelaftaleID, Lines: lines, Transition: tr}})
	var re *domain.RuleError
	if !errors.As(err, &re) || re.Code != domain.CodeConflict {
		t.Fatalf("got %v, want a conflict while tranche 2 is unpaid", err)
	}
	if d := cmp.Diff(rows, rowCounts(t, s)); d != "" {
		t.Fatalf("a refused close-out wrote (-before +after):\n%s", d)
	}
}

func TestLedgerVerifyFindsARefundWithoutAReceivedReturn(t *testing.T) {
	s := dbtest.New(t)
	ctx := ctxT(t)
	in := closable(t, s, "snyd")
	if _, err := s.WriteStep(ctx, closeoutStep(t, in, []domain.SourceAmount{{SourceID: "lbf", AmountØre: 70_000_001 - 500},
		{SourceID: "viborg-kommune", AmountØre: 15_000_003}})); err != nil {
		t.Fatal(err)
	}
	mustVerify(t, s)
	// A refund booked by hand, without the return being marked received: the database lets it through (it is
	// within what was paid), ledger verify does not.
	if _, err := s.DB().ExecContext(ctx, `
		INSERT INTO ledger_entries (plan_id, source_id, initiative_id, delaftale_id, kind, amount_ore, idempotency_key)
		VALUES ($1, 'lbf', 'snyd', 'uddannelse-og-livschancer', 'refund', 500, 'refund/snyd/lbf')`, planID); err != nil {
		t.Fatal(err)
	}
	vs, err := s.VerifyLedger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 || vs[0].Rule != store.RuleCompletedSettled || vs[0].Subject != "indsats snyd, kilde lbf" {
		t.Fatalf("violations %v, want one completed_settled for snyd/lbf", vs)
	}
}

// A cancelled initiative's paid money is settled by the final spend stated after the cancellation: what was not
// spent becomes a return; the same settlement again writes nothing, another is refused, and the ledger stays
// settled through the return's receipt.
func TestACancelledInitiativesPaidMoneyIsSettled(t *testing.T) {
	s := dbtest.New(t)
	ctx := ctxT(t)
	in := cancellable(t, s, "afregnes") // tranche 1 paid (LBF 40.000.000, Viborg Kommune 5.000.000 øre), 2 released
	if _, err := s.WriteStep(ctx, store.Step{Cancel: ptr(cancelInput(t, in))}); err != nil {
		t.Fatal(err)
	}
	// Before the cancellation nothing is settled this way.
	other := closable(t, s, "ikke-annulleret")
	if err := s.SettleCancelled(ctx, planID, other.ID, other.Proposal.DelaftaleID,
		[]domain.CloseoutLine{{SourceID: "lbf", PaidØre: 70_000_001, SpentØre: 70_000_001}}, mette, t0); !isCode(err, domain.CodeWrongPhase) {
		t.Fatalf("settling an initiative that is not cancelled: %v", err)
	}
	lines, err := domain.ComputeSettlement(in, []domain.SourceAmount{{SourceID: "lbf", AmountØre: 39_000_000},
		{SourceID: "viborg-kommune", AmountØre: 5_000_000}})
	if err != nil {
		t.Fatal(err)
	}
	want := []domain.CloseoutLine{{SourceID: "lbf", PaidØre: 40_000_000, SpentØre: 39_000_000, ReturnØre: 1_000_000},
		{SourceID: "viborg-kommune", PaidØre: 5_000_000, SpentØre: 5_000_000}}
	if d := cmp.Diff(want, lines); d != "" {
		t.Fatalf("settlement (-want +got):\n%s", d)
	}
	at := t0.Add(30 * 24 * time.Hour)
	if err := s.SettleCancelled(ctx, planID, in.ID, in.Proposal.DelaftaleID, lines, mette, at); err != nil {
		t.Fatal(err)
	}
	if err := s.SettleCancelled(ctx, planID, in.ID, in.Proposal.DelaftaleID, lines, mette, at); err != nil {
		t.Fatalf("the same settlement again: %v", err)
	}
	changed := append([]domain.CloseoutLine{}, lines...)
	changed[0].SpentØre, changed[0].ReturnØre = 40_000_000, 0
	if err := s.SettleCancelled(ctx, planID, in.ID, in.Proposal.DelaftaleID, changed, mette, at); !isCode(err, domain.CodeConflict) {
		t.Fatalf("another settlement: %v, want a conflict", err)
	}
	co, by, err := s.CloseoutLines(ctx, in.ID)
	if err != nil || co == nil || by != mette.UserID {
		t.Fatalf("stored settlement %+v by %q: %v", co, by, err)
	}
	if d := cmp.Diff(want, co.Lines); d != "" {
		t.Fatalf("stored lines (-want +got):\n%s", d)
	}
	mustVerify(t, s)
	list, err := s.ListReturns(ctx, planID, store.ReturnOpen)
	if err != nil || len(list) != 1 || list[0].AmountØre != 1_000_000 {
		t.Fatalf("returns %+v, %v", list, err)
	}
	if _, err := s.ReceiveReturn(ctx, list[0].ID, "BANK-TB-1", peter, at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	mustVerify(t, s)
}

func ptr[T any](v T) *T { return &v }

// The database finds a return by the payment reference domain.ReturnReference gives it, and by nothing else.
func TestReturnReferenceIsTheSameInSQL(t *testing.T) {
	s := dbtest.New(t)
	ctx := ctxT(t)
	in := closable(t, s, "reference-æø")
	if _, err := s.WriteStep(ctx, closeoutStep(t, in, []domain.SourceAmount{{SourceID: "lbf", AmountØre: 70_000_000},
		{SourceID: "viborg-kommune", AmountØre: 15_000_003}})); err != nil {
		t.Fatal(err)
	}
	id := domain.ReturnID(in.ID, "lbf")
	ref := domain.ReturnReference(id)
	for _, asked := range []string{ref, strings.ToLower(ref), " " + ref + " "} {
		r, err := s.ReturnByReference(ctx, planID, asked)
		if err != nil || r.ID != id {
			t.Fatalf("by %q: %+v, %v", asked, r, err)
		}
	}
	if _, err := s.ReturnByReference(ctx, planID, "TB0000000000000000"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an unknown reference: %v", err)
	}
	if _, err := s.ReturnByReference(ctx, "aarhus", ref); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another plan: %v", err)
	}
}
