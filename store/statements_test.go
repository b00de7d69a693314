package store_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
)

func TestBankStatementIsStoredOncePerFileAndKeepsItsEntries(t *testing.T) {
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
	peter := "fin-peter"
	hash := "3f5a2d1c0b9e8f7a6d5c4b3a29180706f5e4d3c2b1a09f8e7d6c5b4a39281706"
	st := store.BankStatement{ID: "ks-3f5a2d1c0b9e8f7a", PlanID: planID, FileSHA256: hash, Kind: "camt.053",
		MessageID: "MSG-1", StatementNo: "STMT-1", Account: "DK1915510002219876", FileName: "udtog.xml", UploadedBy: &peter}

	// Eight concurrent claims of the same file: one creates the row, all see it.
	var wg sync.WaitGroup
	var mu sync.Mutex
	created := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, isNew, err := s.ClaimBankStatement(ctx, st)
			if err != nil || got.ID != st.ID {
				t.Errorf("claim: %+v, %v", got, err)
			}
			if isNew {
				mu.Lock()
				created++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if created != 1 {
		t.Fatalf("%d claims created the statement, want 1", created)
	}
	if n := count(t, s, `SELECT count(*) FROM bank_statements`); n != 1 {
		t.Fatalf("%d statements stored", n)
	}
	got, isNew, err := s.ClaimBankStatement(ctx, st)
	if err != nil || isNew || got.CompletedAt != nil {
		t.Fatalf("claim before completion: %+v, %v, %v", got, isNew, err)
	}

	d := domain.DisbursementID(id, 1)
	day := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	entries := []store.BankStatementEntry{
		{StatementID: st.ID, No: 1, EndToEndID: "e1", BankRef: "B1", AmountØre: 100, Currency: "DKK", CreditDebit: "DBIT",
			BookingDate: day, Outcome: store.EntryMatched, DisbursementID: &d, Reference: "B1"},
		{StatementID: st.ID, No: 2, EndToEndID: "e2", AmountØre: 5, Currency: "EUR", CreditDebit: "DBIT",
			BookingDate: day, Outcome: store.EntryUnmatched, ReasonCode: "currency", Reason: "Beløbet er i EUR."},
	}
	for range 2 { // completing again keeps the first result
		if err := s.CompleteBankStatement(ctx, st.ID, entries); err != nil {
			t.Fatal(err)
		}
	}
	got, es, err := s.GetBankStatement(ctx, planID, st.ID)
	if err != nil || got.CompletedAt == nil || got.Matched != 1 || got.Unmatched != 1 || len(es) != 2 ||
		es[0].DisbursementID == nil || *es[0].DisbursementID != d || es[1].Reason != "Beløbet er i EUR." ||
		!es[0].BookingDate.Equal(day) {
		t.Fatalf("statement %+v entries %+v, %v", got, es, err)
	}
	list, err := s.ListBankStatements(ctx, planID, 10)
	if err != nil || len(list) != 1 || list[0].ID != st.ID || list[0].Matched != 1 {
		t.Fatalf("list %+v, %v", list, err)
	}
	if _, _, err := s.GetBankStatement(ctx, "another-plan", st.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another plan's statement: %v", err)
	}

	// The database refuses what the code must never write: a changed result, a match without a reference.
	if _, err := s.DB().ExecContext(ctx, `UPDATE bank_statement_entries SET reason = 'x' WHERE entry_no = 2`); err == nil {
		t.Fatal("an entry's result was changed")
	}
	bad := entries[0]
	bad.No, bad.Reference = 3, ""
	if err := s.CompleteBankStatement(ctx, st.ID, []store.BankStatementEntry{bad}); err == nil {
		t.Fatal("a match without a reference was stored")
	}
}
