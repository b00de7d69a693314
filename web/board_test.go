package web_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/internal/browsertest"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/web"
)

func mustNotContain(t *testing.T, p page, unwanted ...string) {
	t.Helper()
	for _, u := range unwanted {
		if strings.Contains(p.body, u) {
			t.Errorf("page contains %q", u)
		}
	}
}

// boardFormValues is what the board form posts.
func boardFormValues(csrf string, members []string, chair string, alone []string, note, version string) url.Values {
	return url.Values{"csrf_token": {csrf}, "medlem": members, "formand": {chair}, "formand_alene": alone,
		"note": {note}, "version": {version}}
}

func TestBoardPageShowsTheBoardToEveryMember(t *testing.T) {
	a := newApp(t, web.Config{DevSignIn: true})
	b := a.browser()
	b.signInAs("og-mette")
	p := b.get("/planen/bestyrelse")
	if p.status != http.StatusOK {
		t.Fatalf("GET /planen/bestyrelse: %d\n%s", p.status, p.body)
	}
	mustContain(t, p, "Bestyrelsen og frister", "version 1", "Hanne Mortensen <strong>(formand)</strong>", "Lars Bach",
		"Sofie Lund", "mere end halvdelen af de stemmeberettigede", "formandens stemme",
		`data-testid="board-chair-alone">milepælsrapporter – uden afstemning`,
		"Systemet (oprettet ud fra planens brugere)", `data-testid="deadline-board">15 arbejdsdage`,
		`data-testid="deadline-reminders">5 og 1 arbejdsdage før fristen`, "Peter Holm – betalinger",
		`aria-current="page"><span>Planen</span>`)
	// Only the secretariat gets the forms.
	mustNotContain(t, p, `data-testid="form-board"`, `data-testid="form-deadlines"`)
	if p := b.post("/planen/bestyrelse", boardFormValues(b.csrf("/planen/bestyrelse"), []string{"bs-lars"}, "", nil, "", "1")); p.status != http.StatusForbidden {
		t.Errorf("POST by the operational group: %d, want 403", p.status)
	}
	if board, _ := a.st.GetBoard(context.Background(), planID); board.Version != 1 {
		t.Errorf("a refused change wrote version %d", board.Version)
	}
	// The plan page links here.
	mustContain(t, b.get("/planen"), `href="/planen/bestyrelse"`)
}

func TestChangeTheBoardThroughThePage(t *testing.T) {
	a := newApp(t, web.Config{DevSignIn: true})
	b := a.browser()
	b.signInAs("adm-karen")
	p := b.get("/planen/bestyrelse")
	mustContain(t, p, `data-testid="form-board"`, `name="medlem" value="bs-hanne" checked`,
		`id="bestyrelse-formand-bs-hanne" name="formand" value="bs-hanne" checked`,
		`name="formand_alene" value="milestone" checked`, `name="version" value="1"`)
	mustNotContain(t, p, `value="og-mette"`) // only board users are candidates
	csrf := b.csrf("/planen/bestyrelse")

	// A chair who is not a member: the page again, the error at the field and in the summary, the form as typed.
	p = b.post("/planen/bestyrelse", boardFormValues(csrf, []string{"bs-lars", "bs-sofie"}, "bs-hanne", nil, "Hanne går af", "1"))
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("refused change: %d, want 422\n%s", p.status, p.body)
	}
	mustContain(t, p, `href="#bestyrelse-formand"`, "Formanden skal være et af bestyrelsens medlemmer.",
		`id="bestyrelse-formand-fejl"`, `name="medlem" value="bs-lars" checked`, "Hanne går af")
	mustNotContain(t, p, `name="medlem" value="bs-hanne" checked`, `name="formand_alene" value="milestone" checked`)

	// A valid change: the next version, Post/Redirect/Get with a message.
	p = b.post("/planen/bestyrelse", boardFormValues(csrf, []string{"bs-hanne", "bs-lars"}, "bs-lars",
		[]string{"milestone", "evaluation"}, "Lars er valgt som formand", "1"))
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/planen/bestyrelse" {
		t.Fatalf("change: %d to %q\n%s", p.status, p.header.Get("Location"), p.body)
	}
	p = b.get("/planen/bestyrelse")
	mustContain(t, p, "Bestyrelsen er gemt som version 2.", "version 2", "Lars Bach <strong>(formand)</strong>",
		"milepælsrapporter, evalueringer – uden afstemning", "Karen Iversen", "Lars er valgt som formand")
	board, err := a.st.GetBoard(context.Background(), planID)
	if err != nil || board.Version != 2 || board.Chair != "bs-lars" || !slices.Equal(board.Members, []string{"bs-hanne", "bs-lars"}) {
		t.Fatalf("stored board = %+v, %v", board, err)
	}

	// The same form again (a double click) changes nothing.
	p = b.post("/planen/bestyrelse", boardFormValues(csrf, []string{"bs-hanne", "bs-lars"}, "bs-lars",
		[]string{"milestone", "evaluation"}, "Lars er valgt som formand", "1"))
	if p.status != http.StatusSeeOther {
		t.Fatalf("same form again: %d", p.status)
	}
	mustContain(t, b.get("/planen/bestyrelse"), "Der var ingen ændringer; bestyrelsen er fortsat version 2.")

	// Another change made from version 1 would overwrite version 2 unseen: refused, the board shown as it is now.
	p = b.post("/planen/bestyrelse", boardFormValues(csrf, []string{"bs-sofie"}, "", nil, "", "1"))
	if p.status != http.StatusConflict {
		t.Fatalf("change from an old version: %d, want 409\n%s", p.status, p.body)
	}
	mustContain(t, p, "er blevet ændret (nu version 2)", `name="version" value="2"`)
	// With no box ticked the board votes on everything.
	p = b.post("/planen/bestyrelse", boardFormValues(csrf, []string{"bs-hanne", "bs-lars"}, "bs-lars", nil, "", "2"))
	if p.status != http.StatusSeeOther {
		t.Fatalf("no chair-alone matters: %d\n%s", p.status, p.body)
	}
	if board, _ := a.st.GetBoard(context.Background(), planID); board.Version != 3 || board.ChairAlone == nil || len(board.ChairAlone) != 0 {
		t.Errorf("board = %+v, want version 3 with no chair-alone matters", board)
	}
	mustContain(t, b.get("/planen/bestyrelse"), "Ingen sager; bestyrelsen stemmer om alt.")
}

func TestChangeTheDeadlinesThroughThePage(t *testing.T) {
	a := newApp(t, web.Config{DevSignIn: true})
	b := a.browser()
	b.signInAs("adm-karen")
	p := b.get("/planen/bestyrelse")
	mustContain(t, p, `data-testid="form-deadlines"`, `name="beslutning_dage" value="15"`, `name="paamindelser" value="5, 1"`,
		`<option value="fin-peter" selected>Peter Holm</option>`)
	csrf := b.csrf("/planen/bestyrelse")
	form := func(board, pay, eval, reminders, lead string) url.Values {
		return url.Values{"csrf_token": {csrf}, "beslutning_dage": {board}, "betaling_dage": {pay},
			"evaluering_dage": {eval}, "paamindelser": {reminders}, "oekonomiansvarlig": {lead}, "note": {"Nye frister"}}
	}
	p = b.post("/planen/bestyrelse/frister", form("femten", "10", "40", "5, x", "fin-peter"))
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("unreadable numbers: %d\n%s", p.status, p.body)
	}
	mustContain(t, p, `href="#frist-beslutning"`, `href="#frist-paamindelser"`, `value="femten"`, `value="5, x"`)
	p = b.post("/planen/bestyrelse/frister", form("15", "10", "400", "5, 60", "og-mette"))
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("rules broken: %d\n%s", p.status, p.body)
	}
	mustContain(t, p, `href="#frist-evaluering"`, `href="#frist-paamindelser"`, `href="#frist-oekonomiansvarlig"`)

	p = b.post("/planen/bestyrelse/frister", form("20", "8", "40", "10 , 2", ""))
	if p.status != http.StatusSeeOther {
		t.Fatalf("valid deadlines: %d\n%s", p.status, p.body)
	}
	pl, err := a.st.GetPlan(context.Background(), planID)
	if err != nil || pl.Settings.BoardDecisionDays != 20 || pl.Settings.PaymentDays != 8 ||
		!slices.Equal(pl.Settings.ReminderOffsets, []int{10, 2}) || pl.Settings.FinanceLead != "" ||
		pl.Settings.MinLocalCofinancingPermille != 250 {
		t.Fatalf("stored settings = %+v, %v", pl.Settings, err)
	}
	p = b.get("/planen/bestyrelse")
	mustContain(t, p, "Fristerne er gemt.", `data-testid="deadline-board">20 arbejdsdage`,
		`data-testid="deadline-reminders">10 og 2 arbejdsdage før fristen`, "alle i økonomi", "Nye frister")

	// Nobody else may.
	other := a.browser()
	other.signInAs("fin-peter")
	if p := other.post("/planen/bestyrelse/frister", url.Values{"csrf_token": {other.csrf("/planen/bestyrelse")},
		"beslutning_dage": {"1"}}); p.status != http.StatusForbidden {
		t.Errorf("finance changes deadlines: %d, want 403", p.status)
	}
}

// agendaProposal records a proposal submitted on 1 March 2022 and waiting for the board's decision.
func agendaProposal(t *testing.T, st *store.Store, id, title string) {
	t.Helper()
	in := domain.Initiative{ID: id, PlanID: planID, Phase: domain.PhaseBoardReview, Version: 1, Revision: 1,
		Proposer: domain.Actor{UserID: "og-mette", Name: "Mette Kjær", Role: domain.RoleOperationalGroup},
		Proposal: domain.Proposal{Title: title, DelaftaleID: "uddannelse-og-livschancer",
			HousingAreaIDs: []string{"ringparken"}, Budget: []domain.SourceAmount{{SourceID: "lbf", AmountØre: domain.Kroner(1000)}}},
		Decisions: []domain.Decision{}, CreatedAt: time.Date(2022, 3, 1, 9, 0, 0, 0, time.UTC)}
	in.UpdatedAt = in.CreatedAt
	if err := st.RecordTransition(context.Background(), store.Transition{Snapshot: in, Event: store.Event{InitiativeID: in.ID,
		Seq: 1, Type: "submitted", ActorID: "og-mette", ActorName: "Mette Kjær", ActorRole: domain.RoleOperationalGroup,
		At: in.CreatedAt, PhaseAfter: domain.PhaseBoardReview}}); err != nil {
		t.Fatal(err)
	}
}

func TestMeetingsThroughThePages(t *testing.T) {
	a := newApp(t, web.Config{DevSignIn: true})
	ctx := context.Background()
	// A proposal in board review since 1 March 2022, on the agenda of a meeting on 15 March.
	agendaProposal(t, a.st, "ini-dagsorden", "Lektiecafé i Ringparken")

	lars := a.browser()
	lars.signInAs("bs-lars") // on the board, not its chair
	p := lars.get("/moeder")
	if p.status != http.StatusOK {
		t.Fatalf("GET /moeder: %d", p.status)
	}
	mustContain(t, p, "Bestyrelsesmøder", "Der er ingen kommende møder.", `aria-current="page"><span>Møder</span>`)
	mustNotContain(t, p, `data-testid="form-meeting"`)
	if p := lars.post("/moeder", url.Values{"csrf_token": {lars.csrf("/moeder")}, "dato": {"2022-03-15"}}); p.status != http.StatusForbidden {
		t.Errorf("a member who is not the chair schedules: %d, want 403", p.status)
	}

	hanne := a.browser()
	hanne.signInAs("bs-hanne") // the chair
	p = hanne.get("/moeder")
	mustContain(t, p, `data-testid="form-meeting"`)
	csrf := hanne.csrf("/moeder")
	p = hanne.post("/moeder", url.Values{"csrf_token": {csrf}, "form_key": {"k1"}, "dato": {"15.03.2022"}, "tidspunkt": {"halv fem"}})
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad date: %d\n%s", p.status, p.body)
	}
	mustContain(t, p, `href="#nyt-moede-dato"`, `href="#nyt-moede-tidspunkt"`, `value="15.03.2022"`, `value="halv fem"`)

	form := url.Values{"csrf_token": {csrf}, "form_key": {"k2"}, "dato": {"2022-03-15"}, "tidspunkt": {"16:30"},
		"sted": {"Beboerhuset, Ringparken"}, "titel": {""}}
	p = hanne.post("/moeder", form)
	loc := p.header.Get("Location")
	if p.status != http.StatusSeeOther || !strings.HasPrefix(loc, "/moeder/") {
		t.Fatalf("schedule: %d to %q\n%s", p.status, loc, p.body)
	}
	// The same form twice (a double click) is one meeting.
	if again := hanne.post("/moeder", form); again.header.Get("Location") != loc {
		t.Errorf("the same form again went to %q, want %q", again.header.Get("Location"), loc)
	}
	if ms, err := a.st.ListMeetings(ctx, planID); err != nil || len(ms) != 1 {
		t.Fatalf("meetings = %d, %v; want 1", len(ms), err)
	}

	p = hanne.get(loc)
	if p.status != http.StatusOK {
		t.Fatalf("GET %s: %d", loc, p.status)
	}
	mustContain(t, p, "Mødet tirsdag den 15. marts 2022 er oprettet.", "<h1>Bestyrelsesmøde</h1>",
		"tirsdag den 15. marts 2022, kl. 16.30", "Beboerhuset, Ringparken", "Hanne Mortensen (formand), Lars Bach, Sofie Lund",
		`data-testid="agenda"`, `href="/indsatser/ini-dagsorden">Lektiecafé i Ringparken</a>`,
		"Bestyrelsens beslutning om forslaget", "01.03.2022", "22.03.2022",
		`media="print"`, "print.css", "data-print hidden", `data-testid="form-cancel-meeting"`)

	// Every member sees the list and the agenda; only the chair and the secretariat cancel.
	mustContain(t, lars.get("/moeder"), "Tidligere møder", `href="`+loc+`"`)
	lp := lars.get(loc)
	mustContain(t, lp, "Lektiecafé i Ringparken")
	mustNotContain(t, lp, `data-testid="form-cancel-meeting"`)
	if p := lars.post(loc+"/aflys", url.Values{"csrf_token": {lars.csrf(loc)}}); p.status != http.StatusForbidden {
		t.Errorf("a member who is not the chair cancels: %d, want 403", p.status)
	}
	if p := hanne.post(loc+"/aflys", url.Values{"csrf_token": {csrf}, "form_key": {"k3"}}); p.status != http.StatusSeeOther {
		t.Fatalf("cancel: %d\n%s", p.status, p.body)
	}
	p = hanne.get(loc)
	mustContain(t, p, "Mødet er aflyst", "af Hanne Mortensen", "Et aflyst møde har ingen dagsorden.")
	mustNotContain(t, p, `data-testid="form-cancel-meeting"`)
	mustContain(t, hanne.get("/moeder"), "<strong>Aflyst</strong>")

	if p := hanne.get("/moeder/findes-ikke"); p.status != http.StatusNotFound {
		t.Errorf("unknown meeting: %d, want 404", p.status)
	}
}

// TestBoardAndMeetingsInABrowser: the secretariat changes the board and the chair schedules a meeting by clicking
// through the pages in headless chromium; every page passes axe-core and is saved as a screenshot
// (artifacts/screenshots/TestBoardAndMeetingsInABrowser/), the meeting also after a refused form.
func TestBoardAndMeetingsInABrowser(t *testing.T) {
	a := newApp(t, web.Config{DevSignIn: true})
	agendaProposal(t, a.st, "ini-browser", "Lektiecafé i Ringparken")
	b := browsertest.Start(t, browsertest.WithBaseURL(a.srv.URL))

	karen := b.NewTab()
	karen.Visit("/log-ind")
	karen.Click("Log ind som Karen Iversen")
	karen.ClickLink("Planen")
	karen.ClickLink("Bestyrelsen og frister")
	karen.Page("bestyrelse")
	karen.Check("Ingen formand")
	karen.Click("Gem bestyrelsen")
	if got := karen.Text(`[data-testid="flash"]`); !strings.Contains(got, "version 2") {
		t.Errorf("after saving the board: %q, want version 2", got)
	}
	if got := karen.Text(`[data-testid="board-chair"]`); !strings.Contains(got, "ingen formand") {
		t.Errorf("chair after saving without one: %q", got)
	}
	karen.Fill("Påmindelser (arbejdsdage før fristen)", "7, 2, x")
	karen.Click("Gem fristerne")
	karen.Page("bestyrelse-frister-fejl")
	karen.Fill("Påmindelser (arbejdsdage før fristen)", "7, 2")
	karen.Click("Gem fristerne")
	if got := karen.Text(`[data-testid="deadline-reminders"]`); got != "7 og 2 arbejdsdage før fristen" {
		t.Errorf("reminders after saving: %q", got)
	}

	// The secretariat schedules meetings too (the board has no chair now).
	karen.ClickLink("Møder")
	karen.Page("moeder")
	karen.Click("Opret mødet")
	karen.Page("moeder-fejl")
	if got := karen.Text("#fejl"); !strings.Contains(got, "Angiv mødets dato.") {
		t.Errorf("error summary %q, want the missing date", got)
	}
	karen.Fill("Dato", "2022-06-01")
	karen.Fill("Tidspunkt (valgfrit)", "16:30")
	karen.Fill("Sted (valgfrit)", "Beboerhuset")
	karen.Click("Opret mødet")
	if got := karen.Text("h1"); got != "Bestyrelsesmøde" {
		t.Fatalf("after scheduling: h1 %q", got)
	}
	if got := karen.Text(`[data-testid="agenda"]`); !strings.Contains(got, "Lektiecafé i Ringparken") {
		t.Errorf("the agenda does not list the initiative waiting for the board: %q", got)
	}
	karen.Page("moede")
}
