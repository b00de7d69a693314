package web_test

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/web"
	"github.com/helhedsplan/helhedsplan/workflows"
)

// uploadStatement posts the statement file with the page's CSRF token, as the form does.
func (b *browser) uploadStatement(file []byte) page {
	b.a.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("csrf_token", b.csrf("/oekonomi/kontoudtog"))
	fw, _ := mw.CreateFormFile("file", "kontoudtog.xml")
	_, _ = fw.Write(file)
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, b.a.srv.URL+"/oekonomi/kontoudtog", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(req)
}

func camtEntry(amount, ccy, e2e, ref string) string {
	return fmt.Sprintf(`<Ntry><Amt Ccy="%s">%s</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>2026-12-01</Dt></BookgDt>
<AcctSvcrRef>%s</AcctSvcrRef><NtryDtls><TxDtls><Refs><EndToEndId>%s</EndToEndId></Refs></TxDtls></NtryDtls></Ntry>`, ccy, amount, ref, e2e)
}

func TestStatementPageUploadsAndShowsTheResult(t *testing.T) {
	t.Parallel()
	a, wf := newPaymentApp(t, web.Config{DevSignIn: true})
	ctx := context.Background()
	start := time.Date(2022, 3, 1, 9, 0, 0, 0, time.UTC)
	lbf := func(kr int64) []domain.SourceAmount {
		return []domain.SourceAmount{{SourceID: "lbf", AmountØre: domain.Kroner(kr)}}
	}
	const idA, idB = "0192f4c8-7a1e-7c3d-9b2a-4e5f6a7b8c01", "0192f4c8-7a1e-7c3d-9b2a-4e5f6a7b8c02"
	funded(t, a.st, idA, "Lektiecafé", start, tranche{lines: lbf(150_000), release: true})
	funded(t, a.st, idB, "Sommerlejr", start, tranche{lines: lbf(75_000), release: true, paidWith: "NETS-1"})
	refs, err := a.st.EnsurePaymentReferences(ctx, []string{idA + "-t1", idB + "-t1"})
	if err != nil {
		t.Fatal(err)
	}
	file := []byte(`<?xml version="1.0" encoding="UTF-8"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
<BkToCstmrStmt><GrpHdr><MsgId>M1</MsgId></GrpHdr><Stmt><Id>2026-12-01</Id><Acct><Id><IBAN>DK1915510002219876</IBAN></Id></Acct>` +
		camtEntry("150000.00", "DKK", refs[idA+"-t1"], "BANK-1") +
		camtEntry("75000.00", "DKK", refs[idB+"-t1"], "BANK-2") + // paid by hand with another reference
		camtEntry("99.95", "DKK", "UKENDT", "BANK-3") +
		`</Stmt></BkToCstmrStmt></Document>`)

	// The board sees the page but not the form.
	board := a.browser()
	board.signInAs("bs-hanne")
	p := board.get("/oekonomi/kontoudtog")
	if p.status != http.StatusOK || strings.Contains(p.body, `data-testid="statement-upload"`) {
		t.Fatalf("board: %d\n%s", p.status, p.body)
	}
	mustContain(t, p, "Der er ikke indlæst nogen kontoudtog endnu.")
	if p := board.uploadStatement(file); p.status != http.StatusForbidden {
		t.Fatalf("board upload: %d", p.status)
	}

	b := a.browser()
	b.signInAs("fin-peter")
	mustContain(t, b.get("/oekonomi"), `href="/oekonomi/kontoudtog"`)
	form := b.get("/oekonomi/kontoudtog")
	mustContain(t, form, `data-testid="statement-upload"`, `enctype="multipart/form-data"`, `name="file"`)

	// A file that is not a statement is refused next to the field.
	p = b.uploadStatement([]byte(`<!DOCTYPE x [<!ENTITY e "e">]><Document/>`))
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad file: %d\n%s", p.status, p.body)
	}
	mustContain(t, p, "Der er et problem", `href="#kontoudtog-fil"`, "DOCTYPE", `aria-invalid="true"`)

	p = b.uploadStatement(file)
	loc := p.header.Get("Location")
	if p.status != http.StatusSeeOther || !regexp.MustCompile(`^/oekonomi/kontoudtog/ks-[0-9a-f]+$`).MatchString(loc) {
		t.Fatalf("upload: %d %s\n%s", p.status, loc, p.body)
	}
	res := b.get(loc)
	if res.status != http.StatusOK {
		t.Fatalf("result: %d", res.status)
	}
	matched := stmtSection(t, res.body, "statement-matched")
	unmatched := stmtSection(t, res.body, "statement-unmatched")
	if !strings.Contains(matched, "Lektiecafé") || !strings.Contains(matched, "150.000 kr.") || !strings.Contains(matched, "BANK-1") ||
		strings.Contains(matched, "Sommerlejr") {
		t.Errorf("matched:\n%s", matched)
	}
	for _, want := range []string{"allerede bekræftet betalt med referencen „NETS-1“", "Ukendt reference", "UKENDT", "99,95 kr."} {
		if !strings.Contains(unmatched, want) {
			t.Errorf("unmatched lacks %q:\n%s", want, unmatched)
		}
	}
	mustContain(t, res, "1 betaling bekræftet som betalt, 2 til manuel behandling")
	if d := disbursement(t, a.st, idA+"-t1"); d.Status != store.DisbursementPaid || *d.Reference != "BANK-1" {
		t.Fatalf("A after the statement: %+v", d)
	}
	calls := wf.recorded()
	if len(calls) != 1 || calls[0].Name != workflows.UpdateConfirmPayment || calls[0].Input.Actor.UserID != "fin-peter" {
		t.Fatalf("updates %+v", calls)
	}

	// The same file again: the earlier result, nothing sent.
	p = b.uploadStatement(file)
	if p.status != http.StatusSeeOther || p.header.Get("Location") != loc {
		t.Fatalf("second upload: %d %s", p.status, p.header.Get("Location"))
	}
	mustContain(t, b.get(loc), "indlæst før; intet er ændret")
	if n := len(wf.recorded()); n != 1 {
		t.Fatalf("%d updates after the second upload", n)
	}
	list := b.get("/oekonomi/kontoudtog")
	mustContain(t, list, `href="`+loc+`"`, "kontoudtog.xml")
}

func stmtSection(t *testing.T, body, testID string) string {
	t.Helper()
	i := strings.Index(body, `data-testid="`+testID+`"`)
	if i < 0 {
		t.Fatalf("no %s in:\n%s", testID, body)
	}
	j := strings.Index(body[i:], "</table>")
	return body[i : i+j]
}

func disbursement(t *testing.T, st *store.Store, id string) store.Disbursement {
	t.Helper()
	d, err := st.GetDisbursement(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
