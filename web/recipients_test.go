package web_test

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/helhedsplan/helhedsplan/internal/browsertest"
	"github.com/helhedsplan/helhedsplan/web"
)

func TestRecipientPages(t *testing.T) {
	a, _ := newPaymentApp(t, web.Config{DevSignIn: true})
	admin := a.browser()
	admin.signInAs("adm-karen")

	p := admin.get("/planen/modtagere")
	if p.status != http.StatusOK {
		t.Fatalf("status %d", p.status)
	}
	list := section(t, p, "modtagerliste")
	for _, want := range []string{"Boligselskabet Viborg", "DK43 9570 0012 3456 78", "Boligselskabet Sct. Jørgen",
		"reg.nr. 7681, kontonr. 4567890", "Viborg Kommune – Børn og Unge", "Boligorganisation", "Kommunal forvaltning"} {
		if !strings.Contains(list, want) {
			t.Errorf("list lacks %q", want)
		}
	}
	if !strings.Contains(p.body, "Boligsocial helhedsplan Viborg</strong>, DK19 1551 0002 2198 76 (BIC DABADKKK)") {
		t.Errorf("the paying account is not shown:\n%s", section(t, p, "planens-konto"))
	}

	// A refused form comes back with the errors at their fields and in the summary, and what was typed.
	csrf := admin.csrf("/planen/modtagere")
	form := url.Values{"csrf_token": {csrf}, "navn": {"Viborg Kommune – Beskæftigelse"}, "slags": {"municipality"},
		"cvr": {"2918984"}, "iban": {"DK90 0760 0003 3344 46"}}
	p = admin.post("/planen/modtagere", form)
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("refused form: status %d", p.status)
	}
	for _, want := range []string{`href="#modtager-iban"`, `id="modtager-iban-fejl"`, "kontrolcifre passer ikke",
		`href="#modtager-cvr"`, `id="modtager-cvr-fejl"`, "Et CVR-nummer er 8 cifre", `value="DK90 0760 0003 3344 46"`,
		`aria-invalid="true"`, "<title>Fejl: Modtagere"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("refused form lacks %q", want)
		}
	}
	form.Set("cvr", "29189846")
	form.Set("iban", "DK90 0760 0003 3344 45")
	p = admin.post("/planen/modtagere", form)
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/planen/modtagere" {
		t.Fatalf("add: status %d, Location %s\n%s", p.status, p.header.Get("Location"), p.body)
	}
	p = admin.get("/planen/modtagere")
	if !strings.Contains(p.body, "Viborg Kommune – Beskæftigelse er tilføjet som modtager.") ||
		!strings.Contains(p.body, `href="/planen/modtagere/viborg-kommune-beskaeftigelse"`) {
		t.Fatalf("after adding:\n%s", p.body)
	}

	// Editing writes version 2; the page shows both versions.
	edit := "/planen/modtagere/viborg-kommune-beskaeftigelse"
	p = admin.get(edit)
	if p.status != http.StatusOK || !strings.Contains(p.body, `name="version" value="1"`) {
		t.Fatalf("edit page: %d\n%s", p.status, p.body)
	}
	p = admin.post(edit, url.Values{"csrf_token": {csrf}, "version": {"1"}, "navn": {"Viborg Kommune – Jobcenter"},
		"slags": {"municipality"}, "cvr": {"29189846"}, "regnr": {"0760"}, "kontonr": {"3334445"}, "note": {"Nyt navn"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("edit: status %d\n%s", p.status, p.body)
	}
	p = admin.get(edit)
	hist := section(t, p, "historik")
	if !strings.Contains(p.body, "gemt som version 2") || strings.Count(hist, "<tr><td>") != 2 ||
		!strings.Contains(hist, "Nyt navn") || !strings.Contains(hist, "DK90 0760 0003 3344 45") ||
		!strings.Contains(p.body, `data-testid="payment-iban">DK90 0760 0003 3344 45`) {
		t.Fatalf("after editing:\n%s", p.body)
	}
	// A form made from version 1 no longer saves over version 2.
	p = admin.post(edit, url.Values{"csrf_token": {csrf}, "version": {"1"}, "navn": {"Andet navn"}, "slags": {"other"}})
	if p.status != http.StatusConflict || !strings.Contains(p.body, "ændret af en anden") {
		t.Fatalf("stale edit: %d", p.status)
	}

	// The operational group reads the list but has no form and may not post one.
	og := a.browser()
	og.signInAs("og-mette")
	p = og.get("/planen/modtagere")
	if p.status != http.StatusOK || strings.Contains(p.body, `data-testid="recipient-form"`) {
		t.Fatalf("operational group: %d, form shown: %v", p.status, strings.Contains(p.body, "recipient-form"))
	}
	p = og.post("/planen/modtagere", url.Values{"csrf_token": {og.csrf("/planen/modtagere")}, "navn": {"X"}, "slags": {"other"}})
	if p.status != http.StatusForbidden {
		t.Fatalf("operational group posted: %d", p.status)
	}
}

func TestInitiativeRecipientFormAndPaymentFile(t *testing.T) {
	a, _ := newPaymentApp(t, web.Config{DevSignIn: true})
	financeFixture(t, a.st)
	mette := a.browser()
	mette.signInAs("og-mette")

	p := mette.get("/indsatser/lektiecafe")
	panel := section(t, p, "modtager")
	if !strings.Contains(panel, "Indsatsen har ingen modtager") || !strings.Contains(panel, `<option value="boligselskabet-viborg">`) {
		t.Fatalf("panel before:\n%s", panel)
	}
	values := mette.formValues("/indsatser/lektiecafe", "initiative-recipient", url.Values{"modtager": {""}})
	p = mette.post("/indsatser/lektiecafe/modtager", values)
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `id="modtager-valg-fejl"`) ||
		!strings.Contains(p.body, `href="#modtager-valg"`) {
		t.Fatalf("empty choice: %d\n%s", p.status, section(t, p, "modtager"))
	}
	values.Set("modtager", "boligselskabet-viborg")
	p = mette.post("/indsatser/lektiecafe/modtager", values)
	if p.status != http.StatusSeeOther {
		t.Fatalf("choice: %d\n%s", p.status, p.body)
	}
	p = mette.get("/indsatser/lektiecafe")
	if panel := section(t, p, "modtager"); !strings.Contains(panel, "<strong>Boligselskabet Viborg</strong>") ||
		!strings.Contains(panel, "Valgt af Mette Kjær") || !strings.Contains(p.body, "Modtageren af raterne er gemt.") {
		t.Fatalf("panel after:\n%s", panel)
	}
	// Lars, on the board and not the proposer, sees the recipient but no form.
	lars := a.browser()
	lars.signInAs("bs-lars")
	if p := lars.get("/indsatser/lektiecafe"); strings.Contains(section(t, p, "modtager"), "<form") {
		t.Fatal("a board member who did not propose the initiative may name its recipient")
	}

	finance := a.browser()
	finance.signInAs("fin-peter")
	p = finance.get("/oekonomi")
	file := section(t, p, "betalingsfil")
	for _, want := range []string{"1 udbetaling på i alt 500.000 kr.", `href="/oekonomi/betalingsfil.xml"`,
		`href="/oekonomi/afventer.xlsx"`, "Sommerlejr i Vestervang", "Indsatsen har ingen modtager."} {
		if !strings.Contains(file, want) {
			t.Errorf("payment file section lacks %q:\n%s", want, file)
		}
	}
	p = finance.get("/oekonomi/betalingsfil.xml")
	if p.status != http.StatusOK || !strings.HasPrefix(p.header.Get("Content-Type"), "application/xml") {
		t.Fatalf("pain.001: %d %s", p.status, p.body)
	}
	var doc struct {
		E2E    []string `xml:"CstmrCdtTrfInitn>PmtInf>CdtTrfTxInf>PmtId>EndToEndId"`
		Amount []string `xml:"CstmrCdtTrfInitn>PmtInf>CdtTrfTxInf>Amt>InstdAmt"`
	}
	if err := xml.Unmarshal([]byte(p.body), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.E2E) != 1 || doc.E2E[0] != "lektiecafe-t2" || doc.Amount[0] != "500000.00" {
		t.Fatalf("pain.001 pays %v %v (the paid tranche and the Sommerlejr without recipient must not be in it)", doc.E2E, doc.Amount)
	}
	p = finance.get("/oekonomi/afventer.xlsx")
	f, err := excelize.OpenReader(bytes.NewReader([]byte(p.body)))
	if err != nil {
		t.Fatalf("xlsx: %v", err)
	}
	defer f.Close()
	rows, _ := f.GetRows("Udbetalinger")
	if len(rows) != 3 || rows[0][0] != "Udbetaling" {
		t.Fatalf("xlsx rows %q", rows)
	}
	// The operational group may not download payment files.
	if p := mette.get("/oekonomi/betalingsfil.xml"); p.status != http.StatusForbidden {
		t.Fatalf("operational group downloaded a payment file: %d", p.status)
	}
}

// TestRecipientsInABrowser: the secretariat adds a recipient with a mistyped IBAN in headless chromium, sees the
// error at the field, corrects it; finance sees the payment file section. Every page is checked with axe-core.
func TestRecipientsInABrowser(t *testing.T) {
	a, _ := newPaymentApp(t, web.Config{DevSignIn: true})
	financeFixture(t, a.st)
	b := browsertest.Start(t, browsertest.WithBaseURL(a.srv.URL))

	karen := b.NewTab()
	karen.Visit("/log-ind")
	karen.Click("Log ind som Karen Iversen")
	karen.Visit("/planen/modtagere")
	karen.Page("modtagere")
	karen.Fill("Navn", "Viborg Kommune – Beskæftigelse")
	karen.Fill("IBAN", "DK90 0760 0003 3344 46")
	karen.Click("Tilføj modtager")
	if got := karen.Text("#modtager-iban-fejl"); !strings.Contains(got, "kontrolcifre") {
		t.Fatalf("IBAN error %q", got)
	}
	karen.Page("modtagere-fejl")
	karen.Fill("IBAN", "DK90 0760 0003 3344 45")
	karen.Click("Tilføj modtager")
	if got := karen.Text("[data-testid=flash]"); !strings.Contains(got, "er tilføjet") {
		t.Fatalf("flash %q", got)
	}
	karen.ClickLink("Viborg Kommune – Beskæftigelse")
	karen.Page("modtager")

	peter := b.NewTab()
	peter.Visit("/log-ind")
	peter.Click("Log ind som Peter Holm")
	peter.ClickLink("Økonomi")
	if got := peter.Text("[data-testid=payment-file]"); !strings.Contains(got, "Ikke med i betalingsfilen") {
		t.Errorf("payment file section %q", got)
	}
	peter.Page("oekonomi-betalingsfil")
}
