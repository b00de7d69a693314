package e2e

import (
	"context"
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
