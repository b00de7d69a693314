package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/internal/apiclient"
	"github.com/helhedsplan/helhedsplan/internal/lifecycle"
	"github.com/helhedsplan/helhedsplan/internal/stack"
	"github.com/helhedsplan/helhedsplan/payfile"
)

// raw sends one request with a bearer token and returns the answer's status, headers and body.
func (e *env) rawRequest(t *testing.T, method, path, token, contentType string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// A round of Viborg payments goes out as one pain.001 file and comes back as one camt.053 statement that confirms
// them all, with nothing typed by hand; the same statement uploaded again changes nothing.
func TestPaymentsGoOutAsOnePain001AndComeBackAsOneCamt053(t *testing.T) {
	e := newEnv(t, stack.Options{})
	ctx := context.Background()
	recipients := []string{"boligselskabet-viborg", "boligselskabet-sct-joergen", "viborg-kommune-boern-og-unge"}
	const n = 12
	var ids []string
	for i := range n {
		in, err := e.driver.Propose(ctx, lifecycle.Sample(fmt.Sprintf("Årets indsats %d", i+1), 2, 3_000_000+int64(i)*300, 1_000_000+int64(i)*100))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.api.Do(ctx, apiclient.Call{Method: "PUT", Path: "/api/v1/initiatives/" + in.ID + "/recipient",
			Token: e.driver.Tokens.OperationalGroup, Body: map[string]string{"recipient_id": recipients[i%len(recipients)]}}, nil); err != nil {
			t.Fatalf("recipient of %s: %v", in.ID, err)
		}
		if in, err = e.driver.Act(ctx, in.ID, "/decision", "/decision", e.driver.Tokens.Board, map[string]string{"outcome": "approve"}); err != nil || in.Phase != "funding" {
			t.Fatalf("approve %d: %v %+v", i, err, in)
		}
		ids = append(ids, in.ID)
	}

	finance := e.s.Tokens["fin-peter"]
	status, hdr, pain := e.rawRequest(t, "GET", "/api/v1/finance/disbursements/pain001?plan_id=viborg-2021-2025", finance, "", nil)
	if status != http.StatusOK || hdr.Get("X-Payments") != fmt.Sprint(n) || hdr.Get("X-Not-Exportable") != "0" {
		t.Fatalf("pain.001: %d, X-Payments %q, X-Not-Exportable %q:\n%s", status, hdr.Get("X-Payments"), hdr.Get("X-Not-Exportable"), pain)
	}
	// The bank books the file as it came: one debit per transfer, with its end-to-end reference and amount.
	camt, err := payfile.BuildCamt053ForTest(pain, domain.NewDate(2025, 1, 15), "VIBORG-BANK")
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		Matched   int   `json:"matched"`
		Unmatched int   `json:"unmatched"`
		Repeat    *bool `json:"repeat"`
	}
	upload := func() result {
		t.Helper()
		status, _, body := e.rawRequest(t, "POST", "/api/v1/finance/statements?plan_id=viborg-2021-2025", finance, "application/xml", camt)
		if status != http.StatusOK {
			t.Fatalf("upload: %d %s", status, body)
		}
		var r result
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := upload(); r.Matched != n || r.Unmatched != 0 {
		t.Fatalf("statement: %+v, want all %d payments matched", r, n)
	}
	for _, id := range ids {
		in, err := e.driver.Get(ctx, id)
		if err != nil || in.Phase != "executing" || in.Milestones[0].TrancheStatus != "paid" || in.Milestones[0].PaymentReference == "" {
			t.Fatalf("%s after the statement: %v %+v, want tranche 1 paid", id, err, in)
		}
	}
	payments := e.count(`SELECT count(*) FROM initiative_events WHERE type = 'payment_confirmed'`)
	if payments != n {
		t.Fatalf("%d payment confirmations, want %d", payments, n)
	}
	if r := upload(); r.Repeat == nil || !*r.Repeat || r.Matched != n {
		t.Fatalf("the same statement again: %+v, want the earlier result, marked repeat", r)
	}
	if again := e.count(`SELECT count(*) FROM initiative_events WHERE type = 'payment_confirmed'`); again != payments {
		t.Fatalf("after the repeat: %d confirmations, want still %d", again, payments)
	}
	if n := e.count(`SELECT count(*) FROM disbursements WHERE status = 'pending' AND milestone_no = 1`); n != 0 {
		t.Fatalf("%d first tranches still pending", n)
	}
}
