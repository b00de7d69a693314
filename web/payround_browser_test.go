package web_test

import (
	"context"
	"encoding/xml"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/internal/browsertest"
	"github.com/helhedsplan/helhedsplan/payfile"
	"github.com/helhedsplan/helhedsplan/web"
	"github.com/helhedsplan/helhedsplan/workflows"
)

// TestPaymentRoundInABrowser is finance's whole payment round as Peter does it in headless chromium, with nothing
// typed by hand: three approved initiatives have their first tranche waiting for payment (recipients by IBAN and by
// reg.nr./kontonr.); Peter opens Økonomi, downloads the payment file with "Hent betalingsfil", and the file the
// browser saved is a pain.001 with one payment per waiting tranche. The bank's statement is made from that very
// file (payfile.BuildCamt053V08ForTest: a camt.053.001.08 booking every payment); Peter uploads it on Kontoudtog
// through the page's file field and sees, in Danish, all three confirmed as paid; Økonomi and each initiative's
// page then show the tranches as paid (udbetalt) with the bank's references. Uploading the same statement again
// confirms nothing more. Screenshots of each step in artifacts/screenshots/TestPaymentRoundInABrowser/.
func TestPaymentRoundInABrowser(t *testing.T) {
	a, wf := newPaymentApp(t, web.Config{DevSignIn: true})
	ctx := context.Background()
	start := time.Date(2022, 3, 1, 8, 0, 0, 0, time.UTC)
	round := []struct {
		id, title, recipient, creditor string
		lines                          []domain.SourceAmount
		amount                         string // as the pain.001 writes it
		shown                          string // as the pages show it
	}{
		{"lektiecafe", "Lektiecafé i Houlkærvænget", "boligselskabet-viborg", "Boligselskabet Viborg",
			[]domain.SourceAmount{lbf(domain.Kroner(120_000) + 50), kommune(domain.Kroner(30_000))}, "150000.50", "150.000,50 kr."},
		{"sommerlejr", "Sommerlejr i Ellekonebakken", "boligselskabet-sct-joergen", "Boligselskabet Sct. Jørgen",
			[]domain.SourceAmount{lbf(domain.Kroner(75_000) + 25)}, "75000.25", "75.000,25 kr."},
		{"mentorordning", "Mentorordning for unge i Ringparken", "viborg-kommune-boern-og-unge", "Viborg Kommune – Børn og Unge",
			[]domain.SourceAmount{kommune(domain.Kroner(42_317) + 99)}, "42317.99", "42.317,99 kr."},
	}
	for i, r := range round {
		// The second milestone (Viborg Kommune's money, keeping the local share above 25 %) is not released: it must
		// not be paid in this round.
		funded(t, a.st, r.id, r.title, start.Add(time.Duration(i)*24*time.Hour),
			tranche{lines: r.lines, release: true}, tranche{lines: []domain.SourceAmount{kommune(domain.Kroner(100_000))}})
		if _, err := a.st.SetInitiativeRecipient(ctx, r.id, r.recipient, mette); err != nil {
			t.Fatalf("recipient of %s: %v", r.id, err)
		}
	}

	b := browsertest.Start(t, browsertest.WithBaseURL(a.srv.URL))
	peterTab := b.NewTab()
	peterTab.Visit("/log-ind")
	peterTab.Click("Log ind som Peter Holm")
	peterTab.ClickLink("Økonomi")
	if got := peterTab.Text("[data-testid=payment-file-summary]"); !strings.Contains(got, "3 udbetalinger på i alt 267.318,74 kr.") {
		t.Fatalf("payment file summary %q, want the three tranches (267.318,74 kr.)", got)
	}
	pending := peterTab.Text("[data-testid=pending]")
	for _, r := range round {
		if !strings.Contains(pending, r.title) || !strings.Contains(pending, r.shown) {
			t.Errorf("Afventer betaling lacks %s (%s): %s", r.title, r.shown, pending)
		}
	}
	peterTab.Page("oekonomi-afventer-betaling")

	// The payment file, as the browser saves it.
	file := download(t, peterTab, func() { peterTab.ClickLink("Hent betalingsfil (pain.001)") })
	peterTab.Screenshot("betalingsfil-hentet")
	var doc struct {
		XMLName xml.Name
		NbOfTxs string   `xml:"CstmrCdtTrfInitn>GrpHdr>NbOfTxs"`
		CtrlSum string   `xml:"CstmrCdtTrfInitn>GrpHdr>CtrlSum"`
		Tx      []painTx `xml:"CstmrCdtTrfInitn>PmtInf>CdtTrfTxInf"`
	}
	if err := xml.Unmarshal(file, &doc); err != nil {
		t.Fatalf("the downloaded file is not XML: %v\n%.300s", err, file)
	}
	if doc.XMLName.Space != payfile.Namespace || doc.XMLName.Local != "Document" || doc.NbOfTxs != "3" ||
		doc.CtrlSum != "267318.74" || len(doc.Tx) != 3 {
		t.Fatalf("the downloaded file: %v, %s payments for %s, %d transfers; want a pain.001.001.09 of 3 for 267318.74",
			doc.XMLName, doc.NbOfTxs, doc.CtrlSum, len(doc.Tx))
	}
	var wantPaid []string
	for _, r := range round {
		i := slices.IndexFunc(doc.Tx, func(x painTx) bool {
			return x.Creditor == r.creditor
		})
		if i < 0 {
			t.Fatalf("no payment to %s in the file: %+v", r.creditor, doc.Tx)
		}
		tx := doc.Tx[i]
		did, err := a.st.DisbursementByEndToEndID(ctx, tx.E2E)
		if err != nil || did != domain.DisbursementID(r.id, 1) || tx.Amount != r.amount || tx.IBAN == "" {
			t.Errorf("payment to %s: %+v (disbursement %q, %v); want %s's first tranche, %s", r.creditor, tx, did, err, r.id, r.amount)
		}
		wantPaid = append(wantPaid, did)
	}
	// The reg.nr./kontonr. 7681 4567890 is paid as its Danish IBAN.
	if !slices.ContainsFunc(doc.Tx, func(x painTx) bool {
		return x.IBAN == "DK1476810004567890"
	}) {
		t.Errorf("the reg.nr./kontonr. recipient is not paid to DK1476810004567890: %+v", doc.Tx)
	}

	// The bank books every payment of that file; Peter uploads its statement.
	stmt, err := payfile.BuildCamt053V08ForTest(file, domain.NewDate(2022, 3, 10), "BANK")
	if err != nil {
		t.Fatal(err)
	}
	stmtPath := filepath.Join(t.TempDir(), "kontoudtog-2022-03-10.xml")
	if err := os.WriteFile(stmtPath, stmt, 0o600); err != nil {
		t.Fatal(err)
	}
	peterTab.ClickLink("indlæs kontoudtoget (camt.053)")
	peterTab.Page("kontoudtog")
	upload := func() {
		t.Helper()
		uctx, cancel := context.WithTimeout(peterTab.Context(), 15*time.Second)
		defer cancel()
		if err := chromedp.Do(uctx, chromedp.SetUploadFiles(chromedp.CSS("#kontoudtog-fil"), []string{stmtPath})); err != nil {
			t.Fatalf("choosing the statement file: %v", err)
		}
		peterTab.Click("Indlæs og afstem")
	}
	upload()
	if got := peterTab.Text("[data-testid=flash]"); got != "Kontoudtoget er afstemt: 3 betalinger bekræftet som betalt, 0 til manuel behandling." {
		t.Fatalf("after the upload: %q", got)
	}
	matched := peterTab.Texts("[data-testid=statement-matched] tbody tr")
	if len(matched) != 3 {
		t.Fatalf("matched rows %q, want 3", matched)
	}
	for _, r := range round {
		if !slices.ContainsFunc(matched, func(row string) bool {
			return strings.Contains(row, r.title) && strings.Contains(row, r.shown) && strings.Contains(row, "BANK-")
		}) {
			t.Errorf("no matched row for %s with %s and the bank's reference: %q", r.title, r.shown, matched)
		}
	}
	if got := peterTab.Text("[data-testid=statement-result]"); !strings.Contains(got, "Alt i kontoudtoget er afstemt.") {
		t.Errorf("the result leaves something to manual handling: %s", got)
	}
	resultURL := peterTab.Location()
	peterTab.Page("kontoudtog-afstemt")

	// Økonomi: nothing waits, all three are paid with the bank's references.
	peterTab.ClickLink("← Økonomi")
	if got := peterTab.Text("[data-testid=payment-file-summary]"); !strings.Contains(got, "Ingen udbetalinger") {
		t.Errorf("after the statement the payment file section says %q", got)
	}
	if rows := peterTab.Texts("[data-testid=pending] tbody tr"); len(rows) != 0 {
		t.Errorf("still waiting for payment: %q", rows)
	}
	paid := peterTab.Texts("[data-testid=paid] tbody tr")
	for _, r := range round {
		if !slices.ContainsFunc(paid, func(row string) bool {
			return strings.Contains(row, r.title) && strings.Contains(row, "1. Opstart") && strings.Contains(row, r.shown) &&
				strings.Contains(row, "BANK-") && strings.Contains(row, "Peter Holm")
		}) {
			t.Errorf("Betalt lacks %s's first tranche (%s, BANK-…, Peter Holm): %q", r.title, r.shown, paid)
		}
	}
	peterTab.Page("oekonomi-betalt")

	// Each initiative's page: milestone 1 udbetalt with the bank's reference, milestone 2 still planned.
	for _, r := range round {
		peterTab.Visit("/indsatser/" + r.id)
		main := peterTab.Text("main")
		rows := peterTab.Texts("table tbody tr")
		if !strings.Contains(main, "udbetalt") || !slices.ContainsFunc(rows, func(row string) bool {
			return strings.Contains(row, "Opstart") && strings.Contains(row, "udbetalt")
		}) || !slices.ContainsFunc(rows, func(row string) bool {
			return strings.HasPrefix(row, "1. Opstart") && strings.Contains(row, r.shown) && strings.Contains(row, "BANK-")
		}) {
			t.Errorf("%s's page does not show milestone 1 as udbetalt with the bank's reference: %q", r.id, rows)
		}
		if slices.ContainsFunc(rows, func(row string) bool {
			return strings.Contains(row, "Milepæl 2") && strings.Contains(row, "udbetalt")
		}) {
			t.Errorf("%s: milestone 2 shown as paid: %q", r.id, rows)
		}
		peterTab.Screenshot("indsats-" + r.id)
	}
	if n := len(wf.recorded()); n != 3 {
		t.Fatalf("%d payment confirmations sent to the workflows, want 3", n)
	}
	for _, c := range wf.recorded() {
		if c.Name != workflows.UpdateConfirmPayment || c.Input.Actor.UserID != "fin-peter" || !slices.Contains(wantPaid, c.Input.DisbursementID) {
			t.Errorf("update %+v", c)
		}
	}

	// The same statement again: the first result, nothing more confirmed.
	peterTab.Visit("/oekonomi/kontoudtog")
	upload()
	if got := peterTab.Text("[data-testid=flash]"); got != "Kontoudtoget er indlæst før; intet er ændret. Her er resultatet fra første gang." {
		t.Errorf("after the second upload: %q", got)
	}
	if got := peterTab.Location(); got != resultURL {
		t.Errorf("the second upload shows %s, not the first result %s", got, resultURL)
	}
	peterTab.Page("kontoudtog-igen")
	if n := len(wf.recorded()); n != 3 {
		t.Errorf("%d payment confirmations after the second upload, want still 3", n)
	}
	peterTab.ClickLink("← Økonomi")
	if rows := peterTab.Texts("[data-testid=paid] tbody tr"); len(rows) != 3 {
		t.Errorf("after the second upload Betalt has %d rows, want 3: %q", len(rows), rows)
	}
}

// painTx is a credit transfer of the downloaded pain.001.
type painTx struct {
	E2E      string `xml:"PmtId>EndToEndId"`
	Amount   string `xml:"Amt>InstdAmt"`
	Creditor string `xml:"Cdtr>Nm"`
	IBAN     string `xml:"CdtrAcct>Id>IBAN"`
}

// download lets the tab's browser context save downloads in a fresh folder, runs click and returns the one file
// the browser saved, once it is complete (no .crdownload left).
func download(t *testing.T, tab *browsertest.Tab, click func()) []byte {
	t.Helper()
	dir := t.TempDir()
	c := chromedp.FromContext(tab.Context())
	sctx, cancel := context.WithTimeout(tab.Context(), 15*time.Second)
	defer cancel()
	err := chromedp.Do(sctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := cdp.Call(ctx, c.Browser, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
			Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, BrowserContextID: c.BrowserContextID, DownloadPath: dir})
		return err
	}))
	if err != nil {
		t.Fatalf("allowing downloads: %v", err)
	}
	click()
	deadline := time.Now().Add(15 * time.Second)
	for {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var done, partial []string
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".crdownload") {
				partial = append(partial, e.Name())
			} else {
				done = append(done, e.Name())
			}
		}
		if len(done) == 1 && len(partial) == 0 {
			b, err := os.ReadFile(filepath.Join(dir, done[0]))
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > 0 {
				t.Logf("downloaded %s (%d bytes)", done[0], len(b))
				return b
			}
		}
		if len(done) > 1 {
			t.Fatalf("more than one file downloaded: %v", done)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no download finished within 15 s (in the folder: %v)", append(done, partial...))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
