package e2e

import (
	"strings"
	"testing"

	"github.com/helhedsplan/helhedsplan/internal/browsertest"
	"github.com/helhedsplan/helhedsplan/internal/stack"
	"github.com/helhedsplan/helhedsplan/web"
)

// lbfRow is the budget table's row of Landsbyggefonden on Planen (committed, reserved, released, paid,
// available).
func lbfRow(t *testing.T, tab *browsertest.Tab) string {
	t.Helper()
	tab.Visit("/planen")
	for _, row := range tab.Texts("table tr") {
		if strings.HasPrefix(row, "Landsbyggefonden") && strings.Count(row, "kr.") == 5 {
			return row
		}
	}
	t.Fatalf("Planen has no budget row for Landsbyggefonden: %q", tab.Texts("table tr"))
	return ""
}

// TestAnInitiativeFromProposalToCompletedThroughThePages is issue 6's walk-through in a real browser, on the
// embedded Temporal server, the worker and PostgreSQL: the operational group proposes an initiative through the
// form (one refused submission, corrected), the board approves, finance confirms the tranche, the member reports
// the milestone, the board accepts it, the evaluation is submitted and accepted — all through the pages, each
// user in their own browser tab — and Planen's figures follow. Every page is saved as a screenshot and checked
// with axe-core; the test ends, as every e2e test does, with ledger verify and doctor.
func TestAnInitiativeFromProposalToCompletedThroughThePages(t *testing.T) {
	e := newEnv(t, stack.Options{Web: web.Config{DevSignIn: true}})
	br := browsertest.Start(t, browsertest.WithBaseURL(e.s.URL))
	signIn := func(name string) *browsertest.Tab {
		tab := br.NewTab()
		tab.Visit("/log-ind")
		tab.Click("Log ind som " + name)
		if got := tab.Text("h1"); got != "Mit arbejde" {
			t.Fatalf("%s signed in and sees %q, want Mit arbejde", name, got)
		}
		return tab
	}
	phase := func(tab *browsertest.Tab) string { return tab.Text("[data-testid=phase]") }

	member := signIn("Mette Kjær")
	before := lbfRow(t, member)
	if !strings.Contains(before, "13.709.000 kr.") || strings.Contains(before, "200.000 kr.") {
		t.Fatalf("Planen before: %q", before)
	}

	// The operational group proposes; the tranche does not add up to the budget the first time.
	member.ClickLink("Indsatser")
	member.ClickLink("Nyt forslag")
	member.Page("nyt-forslag")
	member.Fill("Titel", "Lektiecafé i Houlkærvænget")
	member.Fill("Beskrivelse", "Lektiehjælp to gange om ugen og forældremøder hver måned.")
	member.Fill("Delaftale", "Uddannelse og livschancer")
	member.Check("Houlkærvænget")
	member.Fill("Målgruppe", "Børn i 4.-9. klasse og deres forældre")
	member.Fill("Mål 1", "Bedre karakterer")
	member.Fill("Succeskriterium for mål 1", "Gennemsnit i dansk og matematik 0,5 højere")
	member.Fill("Budget fra Landsbyggefonden (kr.)", "200.000")
	member.Fill("Titel på milepæl 1", "Første skoleår")
	member.Fill("Frist for milepæl 1", "2023-06-30")
	member.Fill("Landsbyggefonden, milepæl 1 (kr.)", "150.000")
	member.Click("Indsend forslag")
	if summary := member.Text(".alert-error"); !strings.Contains(summary, "Landsbyggefonden") {
		t.Fatalf("a proposal whose tranche misses the budget: error summary %q", summary)
	}
	member.Page("nyt-forslag-afvist")
	member.Fill("Landsbyggefonden, milepæl 1 (kr.)", "200.000")
	member.Click("Indsend forslag")
	if got := member.Text("h1"); got != "Lektiecafé i Houlkærvænget" {
		t.Fatalf("after the corrected proposal the page says %q", got)
	}
	if got := phase(member); got != "til behandling i bestyrelsen" {
		t.Fatalf("phase after proposing: %q", got)
	}
	initiativeURL := member.Location()
	member.Page("forslag-indsendt")

	// The board finds it in its work and approves it.
	board := signIn("Hanne Mortensen")
	if !strings.Contains(board.Text("main"), "Lektiecafé i Houlkærvænget") {
		t.Fatalf("the board's work does not list the proposal: %s", board.Text("main"))
	}
	board.Page("mit-arbejde-bestyrelse")
	board.ClickLink("Lektiecafé i Houlkærvænget")
	board.Check("Godkend forslaget")
	board.Click("Registrér beslutning")
	if got := phase(board); got != "afventer udbetaling" {
		t.Fatalf("phase after approval: %q", got)
	}
	board.Page("godkendt")

	// Finance pays the tranche and confirms it with the bank's reference.
	finance := signIn("Peter Holm")
	finance.ClickLink("Økonomi")
	finance.Page("oekonomi-afventer")
	finance.Fill("reference", "NETS-2023-0001")
	finance.Click("Bekræft betaling")
	if got := finance.Text(".alert-success"); !strings.Contains(got, "NETS-2023-0001") {
		t.Fatalf("after confirming: %q", got)
	}
	finance.Page("oekonomi-betalt")

	// The member reports on the milestone; the board accepts it.
	member.Visit(initiativeURL)
	if got := phase(member); got != "i gang" {
		t.Fatalf("phase after payment: %q", got)
	}
	member.Fill("Hvad er der nået?", "Caféen har været åben hver tirsdag og torsdag hele skoleåret.")
	member.Fill("Forbrug i perioden", "180.000")
	member.Click("Send statusrapport")
	member.Page("rapport-sendt")
	board.Visit(initiativeURL)
	board.Click("Godkend milepæl 1")
	if got := phase(board); got != "evaluering" {
		t.Fatalf("phase after the last milestone: %q", got)
	}
	board.Page("milepael-godkendt")

	// The evaluation, and the board's acceptance of it, end the initiative.
	member.Visit(initiativeURL)
	member.Fill("Samlet evaluering", "Flere børn fik hjælp, og forældrene kom til møderne.")
	member.Check("Ja, målet er nået")
	member.Fill("Resultat for „Bedre karakterer“", "Gennemsnittet steg 0,7.")
	member.Click("Send evaluering")
	member.Page("evaluering-sendt")
	board.Visit(initiativeURL)
	board.Click("Godkend evalueringen")
	if got := phase(board); got != "afsluttet" {
		t.Fatalf("phase after the evaluation was accepted: %q", got)
	}
	board.Page("afsluttet")

	// Planen follows: Landsbyggefonden has paid 200.000 kr. and has that much less available.
	after := lbfRow(t, member)
	if !strings.Contains(after, "200.000 kr.") || !strings.Contains(after, "13.509.000 kr.") {
		t.Fatalf("Planen after: %q, want 200.000 kr. paid and 13.509.000 kr. available", after)
	}
	member.Page("planen-efter")
}
