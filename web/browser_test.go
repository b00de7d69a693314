package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/helhedsplan/helhedsplan/internal/browsertest"
	"github.com/helhedsplan/helhedsplan/web"
)

// TestPagesInABrowser signs in the way a newcomer does — the dev page's list of users, one click — and visits
// every page as the operational group, the board and finance in headless chromium. Each page is saved as a
// screenshot (artifacts/screenshots/TestPagesInABrowser/) and checked with axe-core: no serious or critical
// accessibility violation.
func TestPagesInABrowser(t *testing.T) {
	a := newApp(t, web.Config{DevSignIn: true, TemporalUIURL: "http://localhost:8233"})
	lektiecafe(t, a.st, "lektiecafe", planID)
	b := browsertest.Start(t, browsertest.WithBaseURL(a.srv.URL))

	mette := b.NewTab()
	if status := mette.Visit("/"); status != http.StatusOK {
		t.Fatalf("signed out, / answers %d after redirects, want the sign-in page", status)
	}
	if !strings.HasSuffix(mette.Location(), "/log-ind") {
		t.Fatalf("signed out, / lands on %s, want /log-ind", mette.Location())
	}
	mette.Page("log-ind")
	mette.Click("Log ind som Mette Kjær")
	if got := mette.Text("h1"); got != "Mit arbejde" {
		t.Fatalf("after signing in the start page says %q, want Mit arbejde", got)
	}
	if !strings.Contains(mette.Text("main"), "Skriv statusrapport for milepæl 1") {
		t.Errorf("Mette's work list does not ask for the report on milestone 1: %s", mette.Text("main"))
	}
	mette.Page("mit-arbejde-operationel-gruppe")

	mette.ClickLink("Indsatser")
	if !strings.Contains(mette.Text("main"), "1.234.567 kr.") {
		t.Errorf("the list does not show the budget as 1.234.567 kr.: %s", mette.Text("main"))
	}
	mette.Page("indsatser")
	mette.ClickLink("Lektiecafé i Houlkærvænget")
	if got := mette.Text("h1"); !strings.Contains(got, "Lektiecafé") {
		t.Fatalf("detail page heading %q", got)
	}
	mette.Page("indsats")
	mette.ClickLink("Planen")
	mette.Page("planen")

	board := b.NewTab()
	board.Visit("/log-ind")
	board.Click("Log ind som Hanne Mortensen")
	board.Page("mit-arbejde-bestyrelse")

	finance := b.NewTab()
	finance.Visit("/log-ind")
	finance.Click("Log ind som Peter Holm")
	finance.ClickLink("Økonomi")
	finance.Page("oekonomi")
	finance.Click("Log ud")
	if !strings.HasSuffix(finance.Location(), "/log-ind") {
		t.Errorf("after signing out: %s, want the sign-in page", finance.Location())
	}
}
