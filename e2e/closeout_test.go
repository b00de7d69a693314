package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/helhedsplan/helhedsplan/internal/apiclient"
	"github.com/helhedsplan/helhedsplan/internal/lifecycle"
	"github.com/helhedsplan/helhedsplan/internal/stack"
)

// An initiative that spent less than it was paid is closed out when the board accepts its evaluation: the unspent
// money is a return for finance to collect, and once finance registers it received (once, however often the
// request is sent) it is available to new proposals; the ledger is settled to the øre (every e2e test ends with
// ledger verify, which checks completed_settled).
func TestUnspentMoneyComesBackAsAReturnFinanceReceivesOnce(t *testing.T) {
	e := newEnv(t, stack.Options{})
	ctx := context.Background()
	before := e.budget(ctx)
	in, err := e.driver.Propose(ctx, lifecycle.Sample("Tilbagebetaling", 2, 50_000_000, 10_000_000))
	if err != nil {
		t.Fatal(err)
	}
	in, err = e.driver.Act(ctx, in.ID, "/decision", "/decision", e.driver.Tokens.Board, map[string]string{"outcome": "approve"})
	if err != nil || in.Phase != "funding" {
		t.Fatalf("approve: %v %+v", err, in)
	}
	// LBF paid 1.000.000 kr. and spent all but 12.345,67 kr.; the municipality spent its 200.000 kr.
	in, err = e.driver.FinishSpending(ctx, in, 1_000_000, []lifecycle.Amount{
		{SourceID: "lbf", AmountOre: 100_000_000 - 1_234_567}, {SourceID: "viborg-kommune", AmountOre: 20_000_000}})
	if err != nil {
		t.Fatal(err)
	}
	if in.Closeout == nil || in.Closeout.ReturnOre != 1_234_567 {
		t.Fatalf("close-out %+v, want 12.345,67 kr. to pay back", in.Closeout)
	}

	var returns struct {
		Items []struct {
			ID           string `json:"id"`
			InitiativeID string `json:"initiative_id"`
			SourceID     string `json:"source_id"`
			AmountOre    int64  `json:"amount_ore"`
			Status       string `json:"status"`
		} `json:"items"`
		OpenOre int64 `json:"open_ore"`
	}
	list := apiclient.Call{Method: "GET", Path: "/api/v1/plans/viborg-2021-2025/returns?status=open",
		Route: "/api/v1/plans/{planID}/returns", Token: e.s.Tokens["fin-peter"]}
	if _, err := e.api.Do(ctx, list, &returns); err != nil {
		t.Fatal(err)
	}
	if len(returns.Items) != 1 || returns.Items[0].InitiativeID != in.ID || returns.Items[0].SourceID != "lbf" ||
		returns.Items[0].AmountOre != 1_234_567 || returns.OpenOre != 1_234_567 {
		t.Fatalf("open returns %+v", returns)
	}
	mid := e.budget(ctx)
	// The municipality's money is spent; LBF's return is not available until it is received.
	for i, s := range mid.Sources {
		paid := map[string]int64{"lbf": 100_000_000, "viborg-kommune": 20_000_000}[s.SourceID]
		if s.AvailableOre == nil || *s.AvailableOre != *before.Sources[i].AvailableOre-paid || s.ReservedOre != 0 {
			t.Errorf("%s after close-out: %+v (available %v), want available %d", s.SourceID, s.budgetLine,
				deref(s.AvailableOre), *before.Sources[i].AvailableOre-paid)
		}
	}

	// Finance registers it received; the same request again (a retry with another key, too) changes nothing.
	receive := func(key string) int {
		var out struct {
			Status string `json:"status"`
		}
		status, err := e.api.Do(ctx, apiclient.Call{Method: "POST", Path: "/api/v1/finance/returns/" + returns.Items[0].ID + "/receive",
			Route: "/api/v1/finance/returns/{id}/receive", Token: e.s.Tokens["fin-peter"], IdempotencyKey: key,
			Body: map[string]string{"reference": "BANK-IND-4711"}}, &out)
		if err != nil || out.Status != "received" {
			t.Fatalf("receive (%s): %d %v %+v", key, status, err, out)
		}
		return status
	}
	// The board may not register it, and a reference is required.
	for _, c := range []struct {
		token, ref string
		want       int
	}{{e.s.Tokens["bs-hanne"], "BANK-IND-4711", 403}, {e.s.Tokens["fin-peter"], " ", 422}} {
		status, err := e.api.Do(ctx, apiclient.Call{Method: "POST", Path: "/api/v1/finance/returns/" + returns.Items[0].ID + "/receive",
			Route: "/api/v1/finance/returns/{id}/receive", Token: c.token, Body: map[string]string{"reference": c.ref}}, nil)
		if status != c.want || err == nil {
			t.Fatalf("receive with %q: %d %v, want %d", c.ref, status, err, c.want)
		}
	}
	receive("modtaget-1")
	receive("modtaget-1")
	receive("modtaget-2")
	if n := e.count(`SELECT count(*) FROM ledger_entries WHERE kind = 'refund' AND initiative_id = $1`, in.ID); n != 1 {
		t.Fatalf("%d refund entries, want 1", n)
	}
	after := e.budget(ctx)
	for i, s := range after.Sources {
		if s.SourceID != "lbf" {
			continue
		}
		if got, want := *s.AvailableOre, *mid.Sources[i].AvailableOre+1_234_567; got != want {
			t.Fatalf("LBF available after the return %d, want %d", got, want)
		}
	}
}

// The holder pays the return back with its payment reference; the bank statement that shows the incoming payment
// registers it received (as of the booking date), once, however often statements with it are read; a payment of
// another amount is left for hand work.
func TestAReturnPaidBackIsSettledByTheBankStatement(t *testing.T) {
	e := newEnv(t, stack.Options{})
	ctx := context.Background()
	in, err := e.driver.Propose(ctx, lifecycle.Sample("Tilbagebetales over banken", 1, 40_000_000, 10_000_000))
	if err != nil {
		t.Fatal(err)
	}
	if in, err = e.driver.Act(ctx, in.ID, "/decision", "/decision", e.driver.Tokens.Board, map[string]string{"outcome": "approve"}); err != nil {
		t.Fatal(err)
	}
	if _, err = e.driver.FinishSpending(ctx, in, 1000, []lifecycle.Amount{
		{SourceID: "lbf", AmountOre: 40_000_000 - 765_432}, {SourceID: "viborg-kommune", AmountOre: 10_000_000}}); err != nil {
		t.Fatal(err)
	}
	var returns struct {
		Items []struct {
			ID               string `json:"id"`
			AmountOre        int64  `json:"amount_ore"`
			Status           string `json:"status"`
			Reference        string `json:"reference"`
			PaymentReference string `json:"payment_reference"`
		} `json:"items"`
	}
	list := func() {
		t.Helper()
		if _, err := e.api.Do(ctx, apiclient.Call{Method: "GET", Path: "/api/v1/plans/viborg-2021-2025/returns",
			Route: "/api/v1/plans/{planID}/returns", Token: e.s.Tokens["fin-peter"]}, &returns); err != nil {
			t.Fatal(err)
		}
	}
	list()
	if len(returns.Items) != 1 || returns.Items[0].AmountOre != 765_432 || len(returns.Items[0].PaymentReference) != 18 {
		t.Fatalf("returns %+v", returns)
	}
	ref := returns.Items[0].PaymentReference
	acct, err := e.st.GetPaymentAccount(ctx, "viborg-2021-2025")
	if err != nil {
		t.Fatal(err)
	}
	statement := func(no string, entries ...string) []byte {
		return []byte(`<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>
<GrpHdr><MsgId>MSG-` + no + `</MsgId><CreDtTm>2026-12-02T18:00:00</CreDtTm></GrpHdr>
<Stmt><Id>STMT-` + no + `</Id><Acct><Id><IBAN>` + acct.IBAN + `</IBAN></Id></Acct>` + strings.Join(entries, "\n") +
			`</Stmt></BkToCstmrStmt></Document>`)
	}
	credit := func(amount, e2e, bankRef string) string {
		return `<Ntry><Amt Ccy="DKK">` + amount + `</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
<BookgDt><Dt>2026-12-01</Dt></BookgDt><AcctSvcrRef>` + bankRef + `</AcctSvcrRef>
<NtryDtls><TxDtls><Refs><EndToEndId>` + e2e + `</EndToEndId></Refs></TxDtls></NtryDtls></Ntry>`
	}
	type entry struct {
		Outcome    string  `json:"outcome"`
		ReturnID   *string `json:"return_id"`
		ReasonCode *string `json:"reason_code"`
	}
	var result struct {
		Matched   int     `json:"matched"`
		Unmatched int     `json:"unmatched"`
		Repeat    bool    `json:"repeat"`
		Entries   []entry `json:"entries"`
	}
	upload := func(doc []byte) {
		t.Helper()
		status, _, body := e.rawRequest(t, "POST", "/api/v1/finance/statements?plan_id=viborg-2021-2025",
			e.s.Tokens["fin-peter"], "application/xml", doc)
		if status != http.StatusOK {
			t.Fatalf("upload: %d %s", status, body)
		}
		result.Entries = nil
		if err := json.Unmarshal(body, &result); err != nil {
			t.Fatal(err)
		}
	}
	// A payment of another amount is left for hand work and settles nothing.
	upload(statement("1", credit("7654.31", ref, "IND-1")))
	if result.Matched != 0 || result.Unmatched != 1 || *result.Entries[0].ReasonCode != "return_amount_differs" {
		t.Fatalf("wrong amount: %+v", result)
	}
	// The right payment, with another unknown credit beside it.
	doc := statement("2", credit("7654.32", ref, "IND-2"), credit("100.00", "NOTPROVIDED", "IND-3"))
	upload(doc)
	if result.Matched != 1 || result.Unmatched != 1 || result.Entries[0].ReturnID == nil || *result.Entries[0].ReturnID != returns.Items[0].ID {
		t.Fatalf("statement: %+v", result)
	}
	list()
	if returns.Items[0].Status != "received" || returns.Items[0].Reference != "IND-2" {
		t.Fatalf("return after the statement: %+v", returns.Items[0])
	}
	upload(doc)
	if !result.Repeat {
		t.Fatalf("the same file again: %+v, want repeat", result)
	}
	// Another file with the same payment (the bank's next statement repeats it): matched, nothing booked again.
	upload(statement("3", credit("7654.32", ref, "IND-2")))
	if result.Matched != 1 {
		t.Fatalf("the payment on a later statement: %+v", result)
	}
	if n := e.count(`SELECT count(*) FROM ledger_entries WHERE kind = 'refund' AND initiative_id = $1`, in.ID); n != 1 {
		t.Fatalf("%d refund entries, want 1", n)
	}
	if n := e.count(`SELECT count(*) FROM initiative_returns WHERE received_at::date = '2026-12-01'`); n != 1 {
		t.Fatalf("the return is not received as of the booking date")
	}
}

// A cancelled initiative's paid money is settled through the API: the operational group states the spend after
// the board cancelled it, the unspent part is a return, and ledger verify (at the end of every e2e test) finds the
// initiative settled.
func TestACancelledInitiativesPaidMoneyIsSettledThroughTheAPI(t *testing.T) {
	e := newEnv(t, stack.Options{})
	ctx := context.Background()
	in, err := e.driver.Propose(ctx, lifecycle.Sample("Annulleres og afregnes", 2, 30_000_000, 10_000_000))
	if err != nil {
		t.Fatal(err)
	}
	if in, err = e.driver.Act(ctx, in.ID, "/decision", "/decision", e.driver.Tokens.Board, map[string]string{"outcome": "approve"}); err != nil {
		t.Fatal(err)
	}
	if err := e.driver.Confirm(ctx, in.Milestones[0].DisbursementID, "BANK-AFR-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.driver.Act(ctx, in.ID, "/cancel", "/cancel", e.s.Tokens["adm-karen"], map[string]string{"reason": "Lokalerne er solgt"}); err != nil {
		t.Fatal(err)
	}
	if in, err = e.driver.Act(ctx, in.ID, "/decision", "/decision", e.driver.Tokens.Board,
		map[string]string{"outcome": "approve", "matter": "cancellation"}); err != nil || in.Phase != "cancelled" {
		t.Fatalf("cancel: %v %+v", err, in)
	}
	settle := func(token string, lbf int64) (int, error) {
		var out struct {
			Settled  bool `json:"settled"`
			Closeout struct {
				ReturnOre int64 `json:"return_ore"`
			} `json:"closeout"`
		}
		status, err := e.api.Do(ctx, apiclient.Call{Method: "POST", Path: "/api/v1/initiatives/" + in.ID + "/settlement",
			Route: "/api/v1/initiatives/{id}/settlement", Token: token, Body: map[string]any{"spend": []lifecycle.Amount{
				{SourceID: "lbf", AmountOre: lbf}, {SourceID: "viborg-kommune", AmountOre: 10_000_000}}}}, &out)
		if err == nil && (!out.Settled || out.Closeout.ReturnOre != 30_000_000-lbf) {
			t.Fatalf("settlement %+v", out)
		}
		return status, err
	}
	if status, err := settle(e.s.Tokens["fin-peter"], 29_000_000); status != http.StatusForbidden || err == nil {
		t.Fatalf("finance settling: %d %v, want 403", status, err)
	}
	if status, err := settle(e.driver.Tokens.OperationalGroup, 30_000_001); status != http.StatusUnprocessableEntity || err == nil {
		t.Fatalf("more spent than paid: %d %v, want 422", status, err)
	}
	if _, err := settle(e.driver.Tokens.OperationalGroup, 29_000_000); err != nil {
		t.Fatal(err)
	}
	if _, err := settle(e.driver.Tokens.OperationalGroup, 29_000_000); err != nil {
		t.Fatalf("the same settlement again: %v", err)
	}
	if status, err := settle(e.driver.Tokens.OperationalGroup, 28_000_000); status != http.StatusConflict || err == nil {
		t.Fatalf("another settlement: %d %v, want 409", status, err)
	}
	var got struct {
		Settled   bool    `json:"settled"`
		SettledBy *string `json:"settled_by"`
		Closeout  struct {
			Lines []struct {
				SourceID  string `json:"source_id"`
				PaidOre   int64  `json:"paid_ore"`
				SpentOre  int64  `json:"spent_ore"`
				ReturnOre int64  `json:"return_ore"`
			} `json:"lines"`
		} `json:"closeout"`
	}
	if _, err := e.api.Do(ctx, apiclient.Call{Method: "GET", Path: "/api/v1/initiatives/" + in.ID + "/settlement",
		Route: "/api/v1/initiatives/{id}/settlement", Token: e.s.Tokens["fin-peter"]}, &got); err != nil {
		t.Fatal(err)
	}
	if !got.Settled || got.SettledBy == nil || *got.SettledBy != "og-mette" || len(got.Closeout.Lines) != 2 ||
		got.Closeout.Lines[0].SourceID != "lbf" || got.Closeout.Lines[0].PaidOre != 30_000_000 ||
		got.Closeout.Lines[0].ReturnOre != 1_000_000 {
		t.Fatalf("GET settlement: %+v", got)
	}
	if n := e.count(`SELECT count(*) FROM initiative_returns WHERE initiative_id = $1 AND amount_ore = 1000000 AND status = 'open'`, in.ID); n != 1 {
		t.Fatalf("%d open returns of 10.000 kr., want 1", n)
	}
}
