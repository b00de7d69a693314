package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/payfile"
	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/workflows"
)

const bTokPeter = "board-tok-peter" // finance

// statementAPI is the board API (real store) with a finance token and a workflow fake that answers confirms.
func statementAPI(t *testing.T) (*boardAPI, *fakeWorkflows) {
	t.Helper()
	a := newBoardAPI(t)
	sum := sha256.Sum256([]byte(bTokPeter))
	if err := a.st.UpsertToken(context.Background(), "fin-peter", sum[:], "test"); err != nil {
		t.Fatal(err)
	}
	wf := &fakeWorkflows{updateFn: func(context.Context, updateCall) (workflows.UpdateResult, error) {
		return workflows.UpdateResult{}, nil
	}}
	a.e = New(Config{AuthCacheTTL: -1}, a.st, wf, nil, nil, nil)
	return a, wf
}

// upload posts the statement as a multipart form.
func (a *boardAPI) upload(token, name string, file []byte) *httptest.ResponseRecorder {
	a.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		a.t.Fatal(err)
	}
	_, _ = fw.Write(file)
	_ = mw.Close()
	req := httptest.NewRequest(http.MethodPost, pathStatements, &body)
	req.Header.Set(echo.HeaderContentType, mw.FormDataContentType())
	req.Header.Set(echo.HeaderAuthorization, "Bearer "+token)
	rec := httptest.NewRecorder()
	a.e.ServeHTTP(rec, req)
	return rec
}

// paymentFile names Sct. Jørgen as the recipient of each initiative and downloads the pain.001 that pays them.
func (a *boardAPI) paymentFile(ids ...string) []byte {
	a.t.Helper()
	for _, id := range ids {
		a.want(a.do(http.MethodPut, "/api/v1/initiatives/"+id+"/recipient", bTokMette,
			`{"recipient_id": "boligselskabet-sct-joergen"}`), http.StatusOK, nil)
	}
	rec := a.do(http.MethodGet, "/api/v1/finance/disbursements/pain001", bTokPeter, "")
	a.want(rec, http.StatusOK, nil)
	return rec.Body.Bytes()
}

func stmtEntry(amount, ccy, ind, e2e, ref string) string {
	return fmt.Sprintf(`<Ntry><Amt Ccy="%s">%s</Amt><CdtDbtInd>%s</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>2026-12-01</Dt></BookgDt>
<AcctSvcrRef>%s</AcctSvcrRef><NtryDtls><TxDtls><Refs><EndToEndId>%s</EndToEndId></Refs></TxDtls></NtryDtls></Ntry>`,
		ccy, amount, ind, ref, e2e)
}

func statementXML(iban string, entries ...string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
<BkToCstmrStmt><GrpHdr><MsgId>M1</MsgId></GrpHdr><Stmt><Id>S1</Id><Acct><Id><IBAN>` + iban + `</IBAN></Id></Acct>` +
		strings.Join(entries, "") + `</Stmt></BkToCstmrStmt></Document>`)
}

const planIBAN = "DK1915510002219876"

func TestStatementUploadConfirmsMatchingPaymentsOnce(t *testing.T) {
	t.Parallel()
	a, wf := statementAPI(t)
	const idA, idB = "0192f4c8-7a1e-7c3d-9b2a-4e5f6a7b8c9d", "0192f4c8-7a1e-7c3d-9b2a-4e5f6a7b8c9e"
	releasedInitiative(t, a.st, idA, "Lektiecafé i Houlkærvænget", 15_000_050)
	releasedInitiative(t, a.st, idB, "Sommerlejr", 7_500_000)
	a.paymentFile(idA, idB)
	e2eA, e2eB := "0192f4c87a1e7c3d9b2a4e5f6a7b8c9dt1", "0192f4c87a1e7c3d9b2a4e5f6a7b8c9et1"
	file := statementXML(planIBAN,
		stmtEntry("150000.5", "DKK", "DBIT", e2eA, "BANK-1"),
		stmtEntry("75000.01", "DKK", "DBIT", e2eB, "BANK-2"),  // one øre too much
		stmtEntry("150000.50", "DKK", "DBIT", e2eA, "BANK-3"), // the same payment again
		stmtEntry("10.00", "DKK", "DBIT", "UKENDT-REF", "BANK-4"),
		stmtEntry("75000", "EUR", "DBIT", e2eB, "BANK-5"),
		stmtEntry("500", "DKK", "CRDT", "NOTPROVIDED", "BANK-6"))

	// Only finance reconciles; the board sees the result.
	a.refused(a.upload(bTokHanne, "udtog.xml", file), http.StatusForbidden, "forbidden")

	var out statementOut
	rec := a.upload(bTokPeter, "udtog.xml", file)
	a.want(rec, http.StatusOK, &out)
	if out.Repeat == nil || *out.Repeat || !out.Completed || out.Matched != 1 || out.Unmatched != 5 || len(out.Entries) != 6 ||
		out.FileName != "udtog.xml" || rec.Header().Get("Location") != pathStatements+"/"+out.ID {
		t.Fatalf("upload: %+v", out)
	}
	codes := []string{}
	for _, e := range out.Entries[1:] {
		codes = append(codes, *e.ReasonCode)
		if e.Reason == nil || *e.Reason == "" {
			t.Errorf("entry %d has no reason", e.No)
		}
	}
	want := []string{service.ReasonAmountDiffers, service.ReasonDuplicate, service.ReasonUnknownReference,
		service.ReasonForeignCurrency, service.ReasonCredit}
	if fmt.Sprint(codes) != fmt.Sprint(want) || out.Entries[0].Outcome != "matched" ||
		*out.Entries[0].DisbursementID != idA+"-t1" || *out.Entries[0].Reference != "BANK-1" {
		t.Fatalf("entries %+v, reasons %v", out.Entries, codes)
	}
	if !strings.Contains(*out.Entries[1].Reason, "75.000,01 kr.") || !strings.Contains(*out.Entries[1].Reason, "75.000,00 kr.") {
		t.Errorf("amount reason %q", *out.Entries[1].Reason)
	}
	// Exactly the manual confirm's update: finance's actor, the bank's reference, the derived update ID.
	if len(wf.updates) != 1 {
		t.Fatalf("updates %+v", wf.updates)
	}
	u := wf.updates[0]
	in, ok := u.Arg.(workflows.ConfirmPaymentInput)
	if u.InitiativeID != idA || u.Name != workflows.UpdateConfirmPayment || u.UpdateID != service.ConfirmUpdateID(idA+"-t1", "BANK-1") ||
		!ok || in.DisbursementID != idA+"-t1" || in.Reference != "BANK-1" || in.Actor.UserID != "fin-peter" ||
		in.Actor.Role != domain.RoleFinance {
		t.Fatalf("update %+v", u)
	}

	// The same file again: the first result, nothing sent.
	var again statementOut
	a.want(a.upload(bTokPeter, "igen.xml", file), http.StatusOK, &again)
	if again.Repeat == nil || !*again.Repeat || again.ID != out.ID || again.Matched != 1 || len(again.Entries) != 6 ||
		again.FileName != "udtog.xml" || len(wf.updateIDs()) != 1 {
		t.Fatalf("second upload %+v, updates %v", again, wf.updateIDs())
	}
	var got statementOut
	a.want(a.do(http.MethodGet, pathStatements+"/"+out.ID, bTokHanne, ""), http.StatusOK, &got)
	if got.ID != out.ID || len(got.Entries) != 6 {
		t.Fatalf("get %+v", got)
	}
	var list struct{ Items []statementOut }
	a.want(a.do(http.MethodGet, pathStatements, bTokHanne, ""), http.StatusOK, &list)
	if len(list.Items) != 1 || list.Items[0].ID != out.ID || list.Items[0].Entries != nil {
		t.Fatalf("list %+v", list)
	}
	a.refused(a.do(http.MethodGet, pathStatements+"/ks-findes-ikke", bTokHanne, ""), http.StatusNotFound, "not_found")
}

func TestStatementUploadRefusesBadFiles(t *testing.T) {
	t.Parallel()
	a, wf := statementAPI(t)
	for name, file := range map[string][]byte{
		"malformed":      []byte("<Document><BkToCstmrStmt>"),
		"doctype":        append([]byte(`<!DOCTYPE Document [<!ENTITY x SYSTEM "file:///etc/passwd">]>`), statementXML(planIBAN)...),
		"other_account":  statementXML("DK5000400440116243", stmtEntry("1", "DKK", "DBIT", "x", "R")),
		"three_decimals": statementXML(planIBAN, stmtEntry("1.001", "DKK", "DBIT", "x", "R")),
	} {
		p := a.refused(a.upload(bTokPeter, name+".xml", file), http.StatusUnprocessableEntity, "validation_failed", "file:invalid")
		if strings.Contains(p.Detail+fmt.Sprint(p.Errors), "passwd") {
			t.Errorf("%s: the answer repeats the file: %+v", name, p)
		}
	}
	a.refused(a.upload(bTokPeter, "tom.xml", nil), http.StatusUnprocessableEntity, "validation_failed", "file:invalid")
	// Raw XML is read too; JSON is not a statement.
	rec := a.do(http.MethodPost, pathStatements, bTokPeter, `{"file": "x"}`)
	a.refused(rec, http.StatusUnsupportedMediaType, "unsupported_media_type")
	big := a.upload(bTokPeter, "stor.xml", bytes.Repeat([]byte(" "), maxStatementBody+1))
	if big.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("a file larger than the limit: %d %s", big.Code, big.Body)
	}
	if n := len(wf.updateIDs()); n != 0 {
		t.Fatalf("%d updates sent for refused files", n)
	}
}

// A year of payments goes out as one pain.001 and comes back as one camt.053 (the simulated bank); two concurrent
// uploads of it confirm each payment once (one update ID per payment) and store one statement.
func TestStatementFromPaymentFileConfirmsAllOnceUnderConcurrentUploads(t *testing.T) {
	t.Parallel()
	a, wf := statementAPI(t)
	ids := []string{"0192f4c8-7a1e-7c3d-9b2a-4e5f6a7b8c01", "0192f4c8-7a1e-7c3d-9b2a-4e5f6a7b8c02", "0192f4c8-7a1e-7c3d-9b2a-4e5f6a7b8c03"}
	for i, id := range ids {
		releasedInitiative(t, a.st, id, fmt.Sprintf("Indsats %d", i+1), domain.Money(1_000_000*(i+1)+i))
	}
	camt, err := payfile.BuildCamt053ForTest(a.paymentFile(ids...), domain.NewDate(2026, 12, 2), "DB")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([]statementOut, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := a.upload(bTokPeter, "kontoudtog.xml", camt)
			if rec.Code != http.StatusOK {
				t.Errorf("upload %d: %d %s", i, rec.Code, rec.Body)
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &results[i])
		}()
	}
	wg.Wait()
	distinct := map[string]map[string]bool{}
	for _, u := range wf.updates {
		d := u.Arg.(workflows.ConfirmPaymentInput).DisbursementID
		if distinct[d] == nil {
			distinct[d] = map[string]bool{}
		}
		distinct[d][u.UpdateID] = true
	}
	if len(distinct) != len(ids) {
		t.Fatalf("confirmed %v, want all %d", distinct, len(ids))
	}
	for d, us := range distinct {
		if len(us) != 1 {
			t.Errorf("%s confirmed with %d different updates: %v", d, len(us), us)
		}
	}
	for _, r := range results {
		if r.ID != results[0].ID || r.Matched != len(ids) || r.Unmatched != 0 {
			t.Errorf("result %+v", r)
		}
	}
	var n int
	if err := a.st.DB().Get(&n, `SELECT count(*) FROM bank_statements`); err != nil || n != 1 {
		t.Fatalf("%d statements stored, %v", n, err)
	}
}

// An upload that stops half-way (Temporal away) stores no result; the next upload of the file finishes it with the
// same update, so the payment is confirmed once.
func TestStatementUploadStoppedHalfWayIsFinishedByTheNext(t *testing.T) {
	t.Parallel()
	a, wf := statementAPI(t)
	const id = "0192f4c8-7a1e-7c3d-9b2a-4e5f6a7b8c9d"
	releasedInitiative(t, a.st, id, "Lektiecafé", 15_000_050)
	a.paymentFile(id)
	file := statementXML(planIBAN, stmtEntry("150000.50", "DKK", "DBIT", "0192f4c87a1e7c3d9b2a4e5f6a7b8c9dt1", "BANK-1"))
	wf.mu.Lock()
	answer := wf.updateFn
	wf.updateFn = func(context.Context, updateCall) (workflows.UpdateResult, error) {
		return workflows.UpdateResult{}, fmt.Errorf("temporal away: %w", service.ErrUnavailable)
	}
	wf.mu.Unlock()
	if rec := a.upload(bTokPeter, "udtog.xml", file); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("with Temporal away: %d %s", rec.Code, rec.Body)
	}
	var list struct{ Items []statementOut }
	a.want(a.do(http.MethodGet, pathStatements, bTokPeter, ""), http.StatusOK, &list)
	if len(list.Items) != 1 || list.Items[0].Completed {
		t.Fatalf("after the failed upload: %+v", list.Items)
	}
	wf.mu.Lock()
	wf.updateFn = answer
	wf.mu.Unlock()
	var out statementOut
	a.want(a.upload(bTokPeter, "udtog.xml", file), http.StatusOK, &out)
	if !out.Completed || *out.Repeat || out.Matched != 1 {
		t.Fatalf("second upload: %+v", out)
	}
	ids := wf.updateIDs()
	want := service.ConfirmUpdateID(id+"-t1", "BANK-1")
	if len(ids) != 2 || ids[0] != want || ids[1] != want {
		t.Fatalf("update IDs %v, want twice %s", ids, want)
	}
}
