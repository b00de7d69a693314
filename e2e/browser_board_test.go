package e2e

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/helhedsplan/helhedsplan/internal/browsertest"
	"github.com/helhedsplan/helhedsplan/internal/lifecycle"
	"github.com/helhedsplan/helhedsplan/internal/stack"
	"github.com/helhedsplan/helhedsplan/web"
)

// The board's business in a real browser, on the embedded Temporal server, the worker and PostgreSQL, with the
// seeded board of three voting (e.boardVotes): a vote taken from "Mit arbejde" with a member recused, an overdue
// milestone report as the chair sees it, and a change request from its form to the board's decision. The steps
// the test is not about are taken through the API; every step it is about is taken through the pages, each user
// in their own tab. Each important page is saved as a screenshot and checked with axe-core.

// boardPagesSignIn returns a function that opens a tab signed in as the named user through the dev sign-in page.
func boardPagesSignIn(t *testing.T, br *browsertest.Browser) func(name string) *browsertest.Tab {
	return func(name string) *browsertest.Tab {
		t.Helper()
		tab := br.NewTab()
		tab.Visit("/log-ind")
		tab.Click("Log ind som " + name)
		if got := tab.Text("h1"); got != "Mit arbejde" {
			t.Fatalf("%s signed in and sees %q, want Mit arbejde", name, got)
		}
		return tab
	}
}

// wantText fails the test unless text contains every one of want; what names the text in the message.
func wantText(t *testing.T, what, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Fatalf("%s does not say %q:\n%s", what, w, text)
		}
	}
}

// textsWith returns the texts that contain s.
func textsWith(texts []string, s string) []string {
	var out []string
	for _, x := range texts {
		if strings.Contains(x, s) {
			out = append(out, x)
		}
	}
	return out
}

// planenAmount is one amount as Planen shows it: "4.780.000 kr." or "12.345,67 kr.".
var planenAmount = regexp.MustCompile(`([0-9][0-9.]*)(?:,([0-9]{2}))? kr\.`)

// planenSource is a funding source's row of Planen's budget table — committed, reserved, released, paid and
// available, in øre — and the row as the page shows it.
type planenSource struct {
	row                                            string
	committed, reserved, released, paid, available int64
}

// planenSourceRow reads the budget row of the funding source whose name begins with name on Planen.
func planenSourceRow(t *testing.T, tab *browsertest.Tab, name string) planenSource {
	t.Helper()
	tab.Visit("/planen")
	rows := tab.Texts("[data-testid=budget-sources] tbody tr")
	for _, row := range rows {
		if !strings.HasPrefix(row, name) {
			continue
		}
		m := planenAmount.FindAllStringSubmatch(row, -1)
		if len(m) != 5 {
			t.Fatalf("Planen's row of %s has %d amounts, want 5: %q", name, len(m), row)
		}
		var ore [5]int64
		for i, a := range m {
			kr, err := strconv.ParseInt(strings.ReplaceAll(a[1], ".", ""), 10, 64)
			if err != nil {
				t.Fatalf("Planen's row of %s: amount %q: %v", name, a[0], err)
			}
			ore[i] = kr * 100
			if a[2] != "" {
				o, _ := strconv.ParseInt(a[2], 10, 64)
				ore[i] += o
			}
		}
		return planenSource{row: row, committed: ore[0], reserved: ore[1], released: ore[2], paid: ore[3], available: ore[4]}
	}
	t.Fatalf("Planen has no budget row for %s: %q", name, rows)
	return planenSource{}
}

// TestBoardVotesFromMitArbejdeThroughThePages: Sofie Lund declares a conflict of interest on the initiative's page;
// Lars Bach finds the proposal in "Mit arbejde" and approves it, which leaves the round open (one of the two
// entitled members has voted, Sofie is recused with her reason); Sofie's page says she cannot vote and why; Hanne
// Mortensen, the chair, approves from her "Mit arbejde", which decides it: the initiative is approved, and the page
// shows the decision with the tally's explanation, each member's vote, and the ballots and the decision in the
// timeline.
func TestBoardVotesFromMitArbejdeThroughThePages(t *testing.T) {
	e := newEnv(t, stack.Options{Web: web.Config{DevSignIn: true}})
	e.boardVotes()
	ctx := context.Background()
	const title = "Lektiecafé i Ringparken"
	const reason = "Min søster er leder af lektiecaféen i Ringparken"
	in, err := e.driver.Propose(ctx, lifecycle.Sample(title, 2, 15_000_000, 5_000_000))
	if err != nil {
		t.Fatal(err)
	}
	initiativeURL := "/indsatser/" + in.ID
	br := browsertest.Start(t, browsertest.WithBaseURL(e.s.URL))
	signIn := boardPagesSignIn(t, br)
	phase := func(tab *browsertest.Tab) string { return tab.Text("[data-testid=phase]") }

	// Sofie has the proposal to decide, until she declares her conflict of interest on its page.
	sofie := signIn("Sofie Lund")
	wantText(t, "Sofie's work before her conflict", sofie.Text("[data-testid=work]"), title, "Beslut forslaget")
	sofie.ClickLink(title)
	sofie.Fill("Hvorfor er du inhabil?", reason)
	sofie.Click("Erklær inhabilitet")
	wantText(t, "the page after Sofie declared her conflict", sofie.Text("[data-testid=done]"),
		"Din inhabilitet er registreret.")
	wantText(t, "the conflicts on the page", sofie.Text("[data-testid=conflicts]"),
		"Sofie Lund erklærede sig inhabil", "„"+reason+"“", "Medlemmet stemmer ikke i indsatsens sager.")
	sofie.Page("sofie-inhabil")
	sofie.Visit("/")
	if strings.Contains(sofie.Text("main"), title) {
		t.Fatalf("Sofie's work still lists the proposal after her conflict: %s", sofie.Text("main"))
	}

	// Lars finds the proposal in his work, follows it and approves: one of the two entitled members has voted.
	lars := signIn("Lars Bach")
	work := lars.Text("[data-testid=work]")
	wantText(t, "Lars's work", work, title, "Beslut forslaget", "til behandling i bestyrelsen")
	lars.Page("mit-arbejde-lars")
	lars.ClickLink(title)
	if got := lars.Location(); !strings.HasSuffix(got, initiativeURL) {
		t.Fatalf("the link in Lars's work leads to %s, want %s", got, initiativeURL)
	}
	wantText(t, "Lars's standing before his vote", lars.Text(".board-round [data-testid=your-standing]"),
		"Du kan stemme i sagen.")
	lars.Check("Godkend forslaget")
	lars.Fill("Kommentar", "Godkendt, caféen mangler i Ringparken.")
	lars.Click("Registrér beslutning")
	// The flash says the vote is recorded and the matter not decided yet.
	wantText(t, "the page after Lars's vote", lars.Text("[data-testid=done]"), "Din stemme er registreret. Sagen afgøres, når nok medlemmer af bestyrelsen har stemt.")
	if got := phase(lars); got != "til behandling i bestyrelsen" {
		t.Fatalf("phase after one vote of two: %q", got)
	}
	wantText(t, "the round's rule", lars.Text(".board-round [data-testid=round-rule]"),
		"2 medlemmer kan stemme.", "beslutningsdygtig, når mindst 2 har stemt")
	wantText(t, "the round's explanation", lars.Text(".board-round [data-testid=round-explanation]"),
		"Afstemningen er åben: 1 af 2 stemmeberettigede har stemt (1 for godkendelse, 0 for afvisning, 0 for ændringer)")
	wantText(t, "Sofie's row in the round", lars.Text("[data-testid=member-bs-sofie]"), "Sofie Lund", "inhabil: "+reason)
	wantText(t, "Lars's row in the round", lars.Text("[data-testid=member-bs-lars]"), "Lars Bach", "har stemt", "godkend",
		"Godkendt, caféen mangler i Ringparken.")
	wantText(t, "Hanne's row in the round", lars.Text("[data-testid=member-bs-hanne]"), "Hanne Mortensen (formand)",
		"har ikke stemt endnu")
	wantText(t, "Lars's standing after his vote", lars.Text(".board-round [data-testid=your-standing]"),
		"Du har stemt: godkend")
	if buttons := strings.Join(lars.Texts("button"), " | "); strings.Contains(buttons, "Registrér beslutning") {
		t.Fatalf("Lars may vote again: %s", buttons)
	}
	lars.Page("lars-har-stemt")
	lars.Visit("/")
	if strings.Contains(lars.Text("main"), title) {
		t.Fatalf("Lars's work still lists the proposal he voted on: %s", lars.Text("main"))
	}

	// Sofie's page says she cannot vote, and why; it offers her no vote.
	sofie.Visit(initiativeURL)
	wantText(t, "Sofie's standing", sofie.Text(".board-round [data-testid=your-standing]"),
		"Du har erklæret dig inhabil i sagen („"+reason+"“) og kan ikke stemme.")
	if buttons := strings.Join(sofie.Texts("button"), " | "); strings.Contains(buttons, "Registrér beslutning") {
		t.Fatalf("Sofie is offered a vote after her conflict: %s", buttons)
	}
	sofie.Page("sofie-kan-ikke-stemme")

	// Hanne approves from her work: two of two entitled, the proposal is approved and tranche 1 released.
	hanne := signIn("Hanne Mortensen")
	wantText(t, "Hanne's work", hanne.Text("[data-testid=work]"), title, "Beslut forslaget")
	hanne.Page("mit-arbejde-hanne")
	hanne.ClickLink(title)
	wantText(t, "Hanne's standing before her vote", hanne.Text(".board-round [data-testid=your-standing]"),
		"Du kan stemme i sagen.")
	hanne.Check("Godkend forslaget")
	hanne.Click("Registrér beslutning")
	wantText(t, "the page after Hanne's vote", hanne.Text("[data-testid=done]"), "Bestyrelsens beslutning er registreret.")
	if got := phase(hanne); got != "afventer udbetaling" {
		t.Fatalf("phase after the second vote: %q, want afventer udbetaling", got)
	}
	if rounds := hanne.Texts(".board-round"); len(rounds) != 0 {
		t.Fatalf("the decided round is still open on the page: %q", rounds)
	}
	decision := hanne.Text("[data-testid=decisions] > li")
	wantText(t, "the decision", decision, "Forslaget (revision 1): godkendt",
		"Godkendt med 2 af 2 afgivne stemmer (2 for godkendelse, 0 for afvisning, 0 for ændringer).",
		"Stemte ikke (inhabil eller forslagsstiller): Sofie Lund.",
		"Lars Bach: godkend", "– „Godkendt, caféen mangler i Ringparken.“", "Hanne Mortensen: godkend")
	wantText(t, "the tally", hanne.Text("[data-testid=tally]"), "Godkendt med 2 af 2 afgivne stemmer")
	wantText(t, "the milestones", hanne.Text("[data-testid=milestones]"), "frigivet, afventer udbetaling")
	timeline := hanne.Texts("[data-testid=timeline] li")
	for _, want := range []string{"Forslag indsendt – Mette Kjær", "Inhabilitet erklæret – Sofie Lund",
		"Stemme afgivet – Lars Bach", "Forslag godkendt – Hanne Mortensen", "Rate frigivet"} {
		if len(textsWith(timeline, want)) == 0 {
			t.Fatalf("the timeline has no %q: %q", want, timeline)
		}
	}
	if got := textsWith(timeline, "Forslag godkendt"); len(got) != 1 ||
		!strings.Contains(got[0], "til behandling i bestyrelsen → afventer udbetaling") {
		t.Fatalf("the timeline's decision: %q", got)
	}
	hanne.Page("godkendt-af-bestyrelsen")
	hanne.Visit("/")
	if strings.Contains(hanne.Text("main"), title) {
		t.Fatalf("Hanne's work still lists the decided proposal: %s", hanne.Text("main"))
	}

	// The API agrees.
	got, err := e.driver.Get(ctx, in.ID)
	if err != nil || got.Phase != "funding" || got.Milestones[0].TrancheStatus != "released" {
		t.Fatalf("the initiative after the vote: %v %+v", err, got)
	}
}

// TestOverdueStepsShowForTheChairThroughThePages: an approved initiative whose first tranche is paid has its
// milestone report overdue at once (the due dates lie in the plan period, 2021-2025), and the workflow escalates
// it to the board. Hanne Mortensen, the chair, finds the escalation on her Notifikationer page, follows it to the
// initiative, whose page shows the report as overdue ("Overskredet siden …"), Planen lists it among the overdue
// deadlines, and her "Mit arbejde" lists it to follow up; Mette, who has to write the report, has it marked overdue
// in hers.
func TestOverdueStepsShowForTheChairThroughThePages(t *testing.T) {
	e := newEnv(t, stack.Options{Web: web.Config{DevSignIn: true}})
	e.boardVotes()
	ctx := context.Background()
	const title = "Lektiecafé i Vestervang"
	// Milestone 1 is due 30.06.2022, a Thursday: the report is overdue since Friday 01.07.2022.
	const step = "Rapport om milepæl 1 (Milepæl 1)"
	const since = "Overskredet siden 01.07.2022"
	in, err := e.driver.Propose(ctx, lifecycle.Sample(title, 2, 20_000_000, 5_000_000))
	if err != nil {
		t.Fatal(err)
	}
	approve := map[string]string{"outcome": "approve"}
	if _, err := e.driver.Act(ctx, in.ID, "/decision", "/decision", e.s.Tokens["bs-hanne"], approve); err != nil {
		t.Fatal(err)
	}
	if in, err = e.driver.Act(ctx, in.ID, "/decision", "/decision", e.s.Tokens["bs-lars"], approve); err != nil || in.Phase != "funding" {
		t.Fatalf("approve: %v %+v", err, in)
	}
	if err := e.driver.Confirm(ctx, in.Milestones[0].DisbursementID, "NETS-2022-0701"); err != nil {
		t.Fatal(err)
	}
	initiativeURL := "/indsatser/" + in.ID
	br := browsertest.Start(t, browsertest.WithBaseURL(e.s.URL))
	signIn := boardPagesSignIn(t, br)

	// The escalation is written by the workflow right after the payment: Hanne's Notifikationer shows it.
	hanne := signIn("Hanne Mortensen")
	var notes []string
	for deadline := time.Now().Add(30 * time.Second); ; {
		hanne.Visit("/notifikationer")
		notes = textsWith(hanne.Texts("[data-testid=notification]"), "Frist overskredet: "+step)
		if len(notes) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(notes) != 1 {
		t.Fatalf("Hanne's notifications: %q, want one escalation of the report", hanne.Texts("[data-testid=notification]"))
	}
	wantText(t, "the escalation", notes[0], "Ulæst", "Eskalering")
	wantText(t, "the header", hanne.Text("[data-testid=unread-count]"), "ulæste")
	hanne.Page("notifikationer-eskalering")

	// It leads to the initiative, where the report stands out as overdue, with the escalation sent.
	hanne.ClickLink("Gå til indsatsen") // the only notification, checked above
	if got := hanne.Location(); !strings.HasSuffix(got, initiativeURL) {
		t.Fatalf("the notification leads to %s, want %s", got, initiativeURL)
	}
	if got := hanne.Text("[data-testid=phase]"); got != "i gang" {
		t.Fatalf("phase after the payment: %q, want i gang", got)
	}
	wantText(t, "the overdue warning", hanne.Text("[data-testid=overdue]"), "Fristen er overskredet: "+step,
		"Fristen var 30.06.2022; den er overskredet siden 01.07.2022.", "Sagen venter på forslagsstilleren.")
	steps := textsWith(hanne.Texts("[data-testid=steps] tbody tr"), step)
	if len(steps) != 1 || !strings.Contains(steps[0], "forslagsstilleren") || !strings.Contains(steps[0], "30.06.2022 "+since) {
		t.Fatalf("the deadlines on the page: %q", hanne.Texts("[data-testid=steps] tbody tr"))
	}
	wantText(t, "the alerts on the page", hanne.Text("[data-testid=alerts]"), "Eskalering", step, "(frist 30.06.2022)")
	if len(textsWith(hanne.Texts("[data-testid=timeline] li"), "Frist overskredet – eskaleret")) != 1 {
		t.Fatalf("the timeline has no escalation: %q", hanne.Texts("[data-testid=timeline] li"))
	}
	hanne.Page("indsats-overskredet")

	// Planen lists it among the overdue deadlines, first.
	hanne.ClickLink("Planen")
	wantText(t, "Planen's deadlines", hanne.Text("[data-testid=plan-overdue]"), "Én frist er overskredet")
	rows := hanne.Texts("[data-testid=plan-steps] tbody tr")
	if len(rows) == 0 || !strings.Contains(rows[0], title) || !strings.Contains(rows[0], step) ||
		!strings.Contains(rows[0], "forslagsstilleren") || !strings.Contains(rows[0], since) {
		t.Fatalf("Planen's deadlines: %q, want the overdue report first", rows)
	}
	hanne.Page("planen-overskredet")

	// The report was escalated to the board: Hanne's own work lists it, overdue, to follow up.
	hanne.ClickLink("Mit arbejde")
	wantText(t, "Hanne's work", hanne.Text("[data-testid=work-overdue]"), "Én opgave har overskredet fristen")
	followUp := textsWith(hanne.Texts("[data-testid=work] tbody tr"), title)
	if len(followUp) != 1 || !strings.Contains(followUp[0], "Følg op: fristen for „"+step+"“ er overskredet") ||
		!strings.Contains(followUp[0], since) {
		t.Fatalf("Hanne's work: %q, want the escalated report to follow up", hanne.Texts("[data-testid=work] tbody tr"))
	}
	hanne.Page("mit-arbejde-hanne")

	// Mette, who has to write the report, has it marked overdue in her work.
	mette := signIn("Mette Kjær")
	wantText(t, "Mette's work", mette.Text("[data-testid=work-overdue]"), "Én opgave har overskredet fristen")
	items := textsWith(mette.Texts("[data-testid=work] tbody tr"), title)
	if len(items) != 1 || !strings.Contains(items[0], "Skriv statusrapport for milepæl 1: Milepæl 1") ||
		!strings.Contains(items[0], "30.06.2022 "+since) {
		t.Fatalf("Mette's work: %q", mette.Texts("[data-testid=work] tbody tr"))
	}
	mette.Page("mit-arbejde-mette")
}

// TestChangeRequestFromFormToDecisionThroughThePages: an approved initiative with two milestones, tranche 1
// released. Mette, its proposer, asks for a change through "Anmod om ændring": 40.000 kr. of Landsbyggefonden's
// money moves from milestone 2 to a new milestone 3, which also gets 12.345,67 kr. from Boligselskaberne. Lars
// Bach and Hanne Mortensen approve it on the initiative page; the page shows version 2 and who decided, and
// Planen's Boligselskaberne row has exactly that much more reserved and less available, while Landsbyggefonden's
// does not move.
func TestChangeRequestFromFormToDecisionThroughThePages(t *testing.T) {
	e := newEnv(t, stack.Options{Web: web.Config{DevSignIn: true}})
	e.boardVotes()
	ctx := context.Background()
	const title = "Lektiecafé i Klostersvænget"
	const bs = "Boligselskaberne (Boligselskabet Viborg og Boligselskabet Sct. Jørgen)"
	const added = 1_234_567 // øre from Boligselskaberne: 12.345,67 kr.
	in, err := e.driver.Propose(ctx, lifecycle.Sample(title, 2, 10_000_000, 2_500_000))
	if err != nil {
		t.Fatal(err)
	}
	approve := map[string]string{"outcome": "approve"}
	if _, err := e.driver.Act(ctx, in.ID, "/decision", "/decision", e.s.Tokens["bs-hanne"], approve); err != nil {
		t.Fatal(err)
	}
	if in, err = e.driver.Act(ctx, in.ID, "/decision", "/decision", e.s.Tokens["bs-lars"], approve); err != nil ||
		in.Phase != "funding" || in.Milestones[0].TrancheStatus != "released" {
		t.Fatalf("approve: %v %+v", err, in)
	}
	initiativeURL := "/indsatser/" + in.ID
	br := browsertest.Start(t, browsertest.WithBaseURL(e.s.URL))
	signIn := boardPagesSignIn(t, br)

	mette := signIn("Mette Kjær")
	bsBefore := planenSourceRow(t, mette, "Boligselskaberne")
	lbfBefore := planenSourceRow(t, mette, "Landsbyggefonden")
	if bsBefore.available != bsBefore.committed-bsBefore.reserved || bsBefore.committed != 478_000_000 {
		t.Fatalf("Planen's Boligselskaberne before the change: %q", bsBefore.row)
	}

	// Mette asks for the change through the form: a new milestone 3, money moved from milestone 2 and added from
	// Boligselskaberne.
	mette.Visit(initiativeURL)
	mette.ClickLink("Anmod om ændring")
	wantText(t, "the change form", mette.Text("h1"), "Anmod om ændring: "+title)
	wantText(t, "milestone 1 on the change form", mette.Text("[data-testid=milestone-row][data-locked]"),
		"Milepæl 1 (frigivet)", "titel og rate kan ikke ændres")
	mette.Page("aendring-formular")
	mette.Click("Tilføj milepæl")
	mette.Fill("Hvorfor skal indsatsen ændres?", "Sommerskolen i 2024 kræver sin egen rate; boligselskaberne betaler materialerne.")
	mette.Fill("Landsbyggefonden, milepæl 2 (kr.)", "60.000")
	mette.Fill("Titel på milepæl 3", "Sommerskole")
	mette.Fill("Frist for milepæl 3", "2024-08-15")
	mette.Fill("Landsbyggefonden, milepæl 3 (kr.)", "40.000")
	mette.Fill("Budget fra Boligselskaberne", "12.345,67")
	mette.Fill(bs+", milepæl 3 (kr.)", "12.345,67")
	mette.Click("Opdatér summer")
	sums := mette.Texts("[data-testid=proposal-sums] tbody tr")
	for _, s := range []string{"Landsbyggefonden 200.000 kr. 200.000 kr.", bs + " 12.345,67 kr. 12.345,67 kr."} {
		if got := textsWith(sums, s); len(got) != 1 || !strings.HasSuffix(got[0], "Stemmer") {
			t.Fatalf("the change form's sums: %q, want %q to add up", sums, s)
		}
	}
	mette.Page("aendring-udfyldt")
	mette.Click("Send ændringen til bestyrelsen")
	if got := mette.Location(); !strings.HasSuffix(got, initiativeURL) {
		t.Fatalf("after sending the change: %s (%s)", got, mette.Text("main"))
	}
	wantText(t, "the page after the change was sent", mette.Text("[data-testid=done]"),
		"Ændringen er sendt til bestyrelsen, som stemmer om den.")
	wantText(t, "the open change", mette.Text("[data-testid=open-change]"), "Ændring 1 til behandling",
		"til behandling i bestyrelsen", "Anmodet af: Mette Kjær", "Sommerskolen i 2024 kræver sin egen rate",
		"Bestyrelsen stemmer om ændringen.",
		"Når ændringen træder i kraft, reserveres 12.345,67 kr. mere fra "+bs+".")
	wantText(t, "the change's budget", mette.Text("[data-testid=change-budget]"), bs+" 0 kr. 12.345,67 kr.",
		"I alt 250.000 kr. 262.345,67 kr.")
	changed := mette.Texts("[data-testid=change-milestones] tbody tr")
	if len(changed) != 3 || !strings.HasSuffix(changed[0], "uændret") || !strings.HasSuffix(changed[1], "ændret") ||
		!strings.Contains(changed[2], "Sommerskole, frist 15.08.2024: 52.345,67 kr.") || !strings.HasSuffix(changed[2], "ny") {
		t.Fatalf("the change's milestones: %q", changed)
	}
	mette.Page("aendring-sendt")

	// Lars finds the vote in his work and approves the change: the round stays open.
	lars := signIn("Lars Bach")
	wantText(t, "Lars's work", lars.Text("[data-testid=work]"), title, "Stem om ændring 1 af indsatsens budget og milepæle")
	lars.ClickLink(title)
	lars.Check("Godkend ændringen")
	lars.Click("Afgiv stemme")
	wantText(t, "the page after Lars's vote", lars.Text("[data-testid=done]"), "Din stemme er registreret.")
	wantText(t, "the change's status", lars.Text("[data-testid=change-status]"), "til behandling i bestyrelsen")
	wantText(t, "Lars's row in the change's round", lars.Text("[data-testid=member-bs-lars]"), "har stemt", "for ændringen")
	lars.Page("aendring-lars-stemt")

	// Hanne approves it too: it is decided and in force.
	hanne := signIn("Hanne Mortensen")
	hanne.Visit(initiativeURL)
	hanne.Check("Godkend ændringen")
	hanne.Click("Afgiv stemme")
	wantText(t, "the page after Hanne's vote", hanne.Text("[data-testid=done]"), "Ændring 1 er godkendt og gælder nu.")
	if open := hanne.Texts("[data-testid=open-change]"); len(open) != 0 {
		t.Fatalf("the change is still open: %q", open)
	}
	versions := hanne.Texts("[data-testid=version-list] tbody tr")
	if len(versions) != 2 {
		t.Fatalf("versions: %q, want 2", versions)
	}
	wantText(t, "version 2", versions[0], "Version 2: ændring 1", "gældende", "Lars Bach, Hanne Mortensen",
		"262.345,67 kr.", bs+" 12.345,67 kr.", "Sommerskole, frist 15.08.2024: 52.345,67 kr.")
	wantText(t, "version 1", versions[1], "Version 1: forslaget som godkendt", "250.000 kr.")
	if strings.Contains(versions[1], "gældende") {
		t.Fatalf("version 1 is still in force: %q", versions[1])
	}
	wantText(t, "the change requests", hanne.Text("[data-testid=change-list]"), "Ændring 1: gennemført",
		"anmodet af Mette Kjær", "Trådt i kraft")
	wantText(t, "the decisions", hanne.Text("[data-testid=decisions]"), "Ændring 1: godkendt", "Lars Bach: for ændringen",
		"Hanne Mortensen: for ændringen")
	wantText(t, "the milestones", hanne.Text("[data-testid=milestones]"), "Sommerskole", "15.08.2024")
	timeline := hanne.Texts("[data-testid=timeline] li")
	for _, want := range []string{"Ændring anmodet – Mette Kjær", "Ændring trådt i kraft"} {
		if len(textsWith(timeline, want)) == 0 {
			t.Fatalf("the timeline has no %q: %q", want, timeline)
		}
	}
	hanne.Page("aendring-godkendt")

	// Planen follows, to the øre: Boligselskaberne has the added money reserved and that much less available;
	// Landsbyggefonden's money only moved between milestones.
	bsAfter := planenSourceRow(t, mette, "Boligselskaberne")
	if bsAfter.reserved-bsBefore.reserved != added || bsBefore.available-bsAfter.available != added ||
		bsAfter.committed != bsBefore.committed || bsAfter.paid != bsBefore.paid {
		t.Fatalf("Planen's Boligselskaberne: before %q, after %q; want %d øre more reserved and less available",
			bsBefore.row, bsAfter.row, added)
	}
	if lbfAfter := planenSourceRow(t, mette, "Landsbyggefonden"); lbfAfter != lbfBefore {
		t.Fatalf("Planen's Landsbyggefonden moved: before %q, after %q", lbfBefore.row, lbfAfter.row)
	}
	wantText(t, "Planen after the change", bsAfter.row, "12.345,67 kr.", "4.767.654,33 kr.")
	mette.Page("planen-efter-aendring")
}
