package web_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/internal/browsertest"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/workflows"
)

// withVersion1 records the initiative's first approved version, as the workflow does at approval.
func withVersion1(t *testing.T, st *store.Store, in *domain.Initiative) {
	t.Helper()
	in.Versions = []domain.ApprovedVersion{{Version: 1, Budget: in.Proposal.Budget, Milestones: in.Proposal.Milestones,
		DecidedBy: []string{"Hanne Mortensen", "Lars Bach"}, At: in.UpdatedAt}}
	record(t, st, in, "approved", hanne, in.Phase, in.UpdatedAt)
}

// withChange records an open change on an approved initiative of initiativeAt: milestone 2 becomes 300.000 kr.
// and a third milestone of 100.000 kr. is added (it moves 100.000 kr.).
func withChange(t *testing.T, st *store.Store, in *domain.Initiative, status domain.ChangeStatus, chairAlone, strategic bool) {
	t.Helper()
	lbf := func(kr int64) []domain.SourceAmount {
		return []domain.SourceAmount{{SourceID: "lbf", AmountØre: domain.Kroner(kr)}}
	}
	requested := in.UpdatedAt.Add(time.Hour)
	c := domain.Change{No: len(in.Changes) + 1, Reason: "Skoleåret er rykket", RequestedBy: mette, RequestedAt: requested,
		Budget: lbf(500_000), Milestones: []domain.MilestonePlan{
			{Title: "Opstart", DueDate: domain.NewDate(2022, 12, 31), Tranche: lbf(100_000)},
			{Title: "Første skoleår", DueDate: domain.NewDate(2023, 9, 30), Tranche: lbf(300_000)},
			{Title: "Afslutning", DueDate: domain.NewDate(2023, 12, 31), Tranche: lbf(100_000)},
		}, MovedØre: domain.Kroner(100_000), ChairAlone: chairAlone, Strategic: strategic, Status: status}
	if status == domain.ChangeAwaitingLBF {
		decided := requested.Add(time.Hour)
		c.DecidedAt = &decided
	}
	in.Changes = append(in.Changes, c)
	record(t, st, in, "change_requested", mette, in.Phase, requested)
}

// The proposer asks for a change on the change form: the budget and milestone editor of the proposal form,
// prefilled with the version in force, the paid milestone read-only; errors stand at their fields with what was
// typed kept; on success the initiative shows the open change, before and after.
func TestRequestChangeThroughThePage(t *testing.T) {
	a, wf := newActionApp(t)
	in := initiativeAt(t, a.st, "aendr", inExecuting)
	withVersion1(t, a.st, in)
	b := a.browser()
	b.signInAs("og-mette")

	p := b.get("/indsatser/aendr")
	mustContain(t, p, `data-testid="form-request-change"`, `href="/indsatser/aendr/aendring"`, "Anmod om ændring")

	p = b.get("/indsatser/aendr/aendring")
	if p.status != http.StatusOK {
		t.Fatalf("GET the change form: %d\n%s", p.status, p.body)
	}
	mustContain(t, p, "Anmod om ændring: Lektiecafé aendr", `name="reason"`, "Hvorfor skal indsatsen ændres?",
		`data-locked`, "Milepæl 1 (udbetalt)", "Raten er udbetalt, så titel og rate kan ikke ændres.",
		`id="milestones-0-title" name="milestones[0].title" value="Opstart"`, `readonly`,
		`name="milestones[1].tranche.lbf" value="400.000"`, `name="budget.lbf" value="500.000"`,
		`value="Første skoleår"`, "Indsatsens budget nu: 500.000 kr.", "Højst muligt",
		"Send ændringen til bestyrelsen", "Bestyrelsen stemmer om ændringen.")
	mustNotContain(t, p, `name="title"`, `name="goals_count"`, `value="1">Fjern milepæl 1`, "Fjern milepæl 1<")
	if n := strings.Count(p.body, `data-testid="milestone-row"`); n != 2 {
		t.Errorf("%d milestone rows, want the 2 of the version in force", n)
	}

	csrf := b.csrf("/indsatser/aendr/aendring")
	form := func(extra url.Values) url.Values {
		v := url.Values{"csrf_token": {csrf}, "form_key": {"k-aendring"}, "milestones_count": {"3"},
			"reason":              {"Skoleåret er rykket"},
			"budget.lbf":          {"500.000"},
			"milestones[0].title": {"Opstart"}, "milestones[0].due_date": {"2022-12-31"}, "milestones[0].tranche.lbf": {"100.000"},
			"milestones[1].title": {"Første skoleår"}, "milestones[1].due_date": {"2023-09-30"}, "milestones[1].tranche.lbf": {"300.000"},
			"milestones[2].title": {"Afslutning"}, "milestones[2].due_date": {"31.12.2023"}, "milestones[2].tranche.lbf": {"100.000"}}
		for k, x := range extra {
			v[k] = x
		}
		return v
	}

	t.Run("problems_at_their_fields_with_what_was_typed_kept", func(t *testing.T) {
		p := b.post("/indsatser/aendr/aendring", form(url.Values{"reason": {" "}, "milestones[1].tranche.lbf": {"tre hundrede"},
			"form_key": {"k-fejl"}}))
		if p.status != http.StatusUnprocessableEntity {
			t.Fatalf("status %d, want 422\n%s", p.status, p.body)
		}
		mustContain(t, p, `<a href="#reason">`, `<a href="#milestones-1-tranche-lbf">`, `id="reason-fejl"`,
			`id="milestones-1-tranche-lbf-fejl"`, `value="tre hundrede"`, `value="Afslutning"`, "Fejl: Anmod om ændring")
		if len(wf.sent()) != 0 {
			t.Errorf("the refused change reached the workflow: %+v", wf.sent())
		}
	})
	t.Run("a_paid_milestone_cannot_be_removed", func(t *testing.T) {
		p := b.post("/indsatser/aendr/aendring", form(url.Values{"fjern_milepael": {"1"}}))
		if p.status != http.StatusOK || strings.Count(p.body, `data-testid="milestone-row"`) != 3 {
			t.Fatalf("status %d with %d rows, want the form again with all 3", p.status, strings.Count(p.body, `data-testid="milestone-row"`))
		}
		p = b.post("/indsatser/aendr/aendring", form(url.Values{"fjern_milepael": {"3"}}))
		if n := strings.Count(p.body, `data-testid="milestone-row"`); n != 2 {
			t.Errorf("%d rows after removing milestone 3, want 2", n)
		}
	})

	// A forged title for the paid milestone is not the user's to change: the milestone as it stands is sent.
	p = b.post("/indsatser/aendr/aendring", form(url.Values{"milestones[0].title": {"Forfalsket"}}))
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/indsatser/aendr" {
		t.Fatalf("submit: %d to %q\n%s", p.status, p.header.Get("Location"), p.body)
	}
	calls := wf.sent()
	if len(calls) != 1 || calls[0].Name != workflows.UpdateRequestChange {
		t.Fatalf("updates %+v, want one request_change", calls)
	}
	lbf := func(kr int64) []domain.SourceAmount {
		return []domain.SourceAmount{{SourceID: "lbf", AmountØre: domain.Kroner(kr)}}
	}
	want := workflows.RequestChangeInput{Actor: mette, Reason: "Skoleåret er rykket", Budget: lbf(500_000),
		Milestones: []domain.MilestonePlan{
			{Title: "Opstart", DueDate: domain.NewDate(2022, 12, 31), Tranche: lbf(100_000)},
			{Title: "Første skoleår", DueDate: domain.NewDate(2023, 9, 30), Tranche: lbf(300_000)},
			{Title: "Afslutning", DueDate: domain.NewDate(2023, 12, 31), Tranche: lbf(100_000)},
		}}
	if diff := cmp.Diff(want, calls[0].Arg, cmp.Comparer(func(a, b domain.Date) bool { return a == b })); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}

	p = b.get("/indsatser/aendr")
	mustContain(t, p, "Ændringen er sendt til bestyrelsen, som stemmer om den.", `data-testid="open-change"`,
		"Ændring 1 til behandling", "til behandling i bestyrelsen", "„Skoleåret er rykket“",
		"Ændringen flytter <strong>100.000 kr.</strong>", "Bestyrelsen stemmer om ændringen.",
		`data-testid="change-budget"`, `data-testid="change-milestones"`,
		"Første skoleår, frist 31.08.2023: 400.000 kr.", "Første skoleår, frist 30.09.2023: 300.000 kr.",
		"Afslutning, frist 31.12.2023: 100.000 kr.", "<td>ny</td>", "<td>ændret</td>", "<td>uændret</td>",
		`data-testid="versions"`, "Version 1: forslaget som godkendt", "gældende", "Hanne Mortensen, Lars Bach",
		"Ændring 1: til behandling i bestyrelsen", `data-testid="round-change"`, "Bestyrelsens beslutning om ændring 1")
	if slices.Contains(formsOn(p), "form-request-change") {
		t.Error("a second change is offered while the first is open")
	}
	if p := b.get("/indsatser/aendr/aendring"); p.status != http.StatusConflict || !strings.Contains(p.body, "Ændring 1 er endnu ikke afgjort") {
		t.Errorf("the change form while a change is open: %d, want 409 saying why", p.status)
	}
}

// Who may open the change form: the proposer and the secretariat, of an approved initiative.
func TestChangeFormAccess(t *testing.T) {
	a, _ := newActionApp(t)
	initiativeAt(t, a.st, "godkendt", inExecuting)
	initiativeAt(t, a.st, "forslag", inBoardReview)
	for _, tt := range []struct {
		user, id string
		status   int
	}{
		{"og-mette", "godkendt", http.StatusOK},
		{"adm-karen", "godkendt", http.StatusOK},
		{"og-ahmed", "godkendt", http.StatusForbidden}, // the operational group, not the proposer
		{"bs-hanne", "godkendt", http.StatusForbidden},
		{"fin-peter", "godkendt", http.StatusForbidden},
		{"og-mette", "forslag", http.StatusConflict}, // not approved yet
		{"og-mette", "findes-ikke", http.StatusNotFound},
	} {
		t.Run(tt.user+"/"+tt.id, func(t *testing.T) {
			b := a.browser()
			b.signInAs(tt.user)
			if p := b.get("/indsatser/" + tt.id + "/aendring"); p.status != tt.status {
				t.Errorf("status %d, want %d", p.status, tt.status)
			}
		})
	}
}

// A milestone whose report is in keeps its due date too; the one still scheduled may move.
func TestChangeFormLocksAReportedMilestonesDate(t *testing.T) {
	a, _ := newActionApp(t)
	initiativeAt(t, a.st, "rapporteret", inReported)
	b := a.browser()
	b.signInAs("og-mette")
	p := b.get("/indsatser/rapporteret/aendring")
	if p.status != http.StatusOK {
		t.Fatalf("status %d", p.status)
	}
	mustContain(t, p, `id="milestones-0-due_date" name="milestones[0].due_date" value="2022-12-31" readonly>`,
		"og milepælen er rapporteret, så fristen står fast")
	due0 := p.body[strings.Index(p.body, `id="milestones-0-due_date"`):]
	due0 = due0[:strings.Index(due0, ">")]
	due1 := p.body[strings.Index(p.body, `id="milestones-1-due_date"`):]
	due1 = due1[:strings.Index(due1, ">")]
	if !strings.Contains(due0, "readonly") || strings.Contains(due1, "readonly") {
		t.Errorf("due dates: milestone 1 %q, milestone 2 %q; want only the reported one read-only", due0, due1)
	}
}

// The board votes on a change on the initiative page; once decided it is in force, a new version, and the
// change list shows it applied. "Mit arbejde" lists the vote while it is the member's to cast.
func TestVoteOnAChange(t *testing.T) {
	a, wf := newActionApp(t)
	in := initiativeAt(t, a.st, "stem", inExecuting)
	withVersion1(t, a.st, in)
	withChange(t, a.st, in, domain.ChangeVoting, false, false)
	hanneB, larsB := a.browser(), a.browser()
	hanneB.signInAs("bs-hanne")
	larsB.signInAs("bs-lars")

	p := hanneB.get("/indsatser/stem")
	if !slices.Contains(formsOn(p), "form-vote-change") {
		t.Fatalf("Hanne's forms %v, want the vote on the change", formsOn(p))
	}
	mustContain(t, p, "Stem om ændringen", `href="#handling-aendring-stemme"`, "Godkend ændringen", "Afvis ændringen")
	mustNotContain(t, p, `name="udfald" value="aendringer"`)
	mustContain(t, larsB.get("/"), "Stem om ændring 1 af indsatsens budget og milepæle", `href="/indsatser/stem"`)

	p = hanneB.post("/indsatser/stem/aendring/stemme", hanneB.formValues("/indsatser/stem", "form-vote-change", nil))
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("a vote without its outcome: %d, want 422", p.status)
	}
	mustContain(t, p, `<a href="#aendring-udfald">Vælg, om ændringen skal godkendes eller afvises.</a>`)

	for _, b := range []*browser{hanneB, larsB} {
		p := b.post("/indsatser/stem/aendring/stemme", b.formValues("/indsatser/stem", "form-vote-change",
			url.Values{"udfald": {"godkend"}, "kommentar": {"Fint"}}))
		if p.status != http.StatusSeeOther {
			t.Fatalf("vote: %d\n%s", p.status, p.body)
		}
	}
	last := wf.sent()[len(wf.sent())-1]
	if got := last.Arg.(workflows.DecideInput); last.Name != workflows.UpdateDecide || got.Matter != domain.MatterChange ||
		got.Outcome != domain.OutcomeApprove {
		t.Errorf("vote sent as %s %+v, want decide, approve on the change", last.Name, got)
	}
	p = larsB.get("/indsatser/stem")
	mustContain(t, p, "Ændring 1 er godkendt og gælder nu.", "Version 2: ændring 1", "Ændring 1: gennemført",
		"Ændring 1: godkendt", "Lars Bach: for ændringen", "Afslutning")
	mustNotContain(t, p, `data-testid="open-change"`)
	mustNotContain(t, larsB.get("/"), "Stem om ændring")
}

// A change below the plan's reallocation threshold is the chair's alone: the other members see why they do not
// vote, and only the chair has it on "Mit arbejde".
func TestChangeTheChairDecidesAlone(t *testing.T) {
	a, _ := newActionApp(t)
	in := initiativeAt(t, a.st, "lille", inExecuting)
	withChange(t, a.st, in, domain.ChangeVoting, true, false)
	hanneB, larsB := a.browser(), a.browser()
	hanneB.signInAs("bs-hanne")
	larsB.signInAs("bs-lars")
	p := larsB.get("/indsatser/lille")
	if slices.Contains(formsOn(p), "form-vote-change") {
		t.Error("Lars may vote on a change the chair decides alone")
	}
	mustContain(t, p, "formanden, Hanne Mortensen, afgør ændringen alene", "formanden afgør sagen alene")
	mustNotContain(t, larsB.get("/"), "ændring 1")
	mustContain(t, hanneB.get("/"), "Afgør ændring 1 af indsatsens budget og milepæle (formanden alene)")
	p = hanneB.post("/indsatser/lille/aendring/stemme", hanneB.formValues("/indsatser/lille", "form-vote-change",
		url.Values{"udfald": {"afvis"}, "kommentar": {"Vent til næste skoleår"}}))
	if p.status != http.StatusSeeOther {
		t.Fatalf("the chair's decision: %d\n%s", p.status, p.body)
	}
	mustContain(t, hanneB.get("/indsatser/lille"), "Ændring 1 er afvist.", "Ændring 1: afvist", "Hanne Mortensen: imod ændringen")
}

// The secretariat records Landsbyggefonden's answer to a strategic change from its letter; "Mit arbejde" lists it
// until then.
func TestRecordLBFThroughThePage(t *testing.T) {
	a, wf := newActionApp(t)
	in := initiativeAt(t, a.st, "lbf", inExecuting)
	withVersion1(t, a.st, in)
	withChange(t, a.st, in, domain.ChangeAwaitingLBF, false, true)
	karenB, hanneB := a.browser(), a.browser()
	karenB.signInAs("adm-karen")
	hanneB.signInAs("bs-hanne")

	mustContain(t, karenB.get("/"), "Registrér Landsbyggefondens svar på ændring 1", `href="/indsatser/lbf"`)
	p := karenB.get("/indsatser/lbf")
	mustContain(t, p, `data-testid="form-record-lbf"`, `action="/indsatser/lbf/aendringer/1/lbf"`, "afventer Landsbyggefonden",
		"Ændringen er strategisk", "Den træder i kraft, når sekretariatet har registreret Landsbyggefondens godkendelse.")
	if slices.Contains(formsOn(hanneB.get("/indsatser/lbf")), "form-record-lbf") {
		t.Error("the board is offered Landsbyggefonden's answer")
	}

	p = karenB.post("/indsatser/lbf/aendringer/1/lbf", karenB.formValues("/indsatser/lbf", "form-record-lbf",
		url.Values{"brevdato": {"2. maj"}, "reference": {""}}))
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("an incomplete answer: %d, want 422", p.status)
	}
	mustContain(t, p, `<a href="#lbf-svar">`, `<a href="#lbf-brevdato">`, `<a href="#lbf-reference">Journalnummer: Feltet skal udfyldes.</a>`,
		`value="2. maj"`)
	if len(wf.sent()) != 0 {
		t.Fatalf("the incomplete answer reached the workflow: %+v", wf.sent())
	}

	p = karenB.post("/indsatser/lbf/aendringer/1/lbf", karenB.formValues("/indsatser/lbf", "form-record-lbf",
		url.Values{"svar": {"ja"}, "brevdato": {"02.05.2023"}, "reference": {" LBF-2023-117 "}}))
	if p.status != http.StatusSeeOther {
		t.Fatalf("record: %d\n%s", p.status, p.body)
	}
	want := workflows.RecordLBFInput{Actor: domain.Actor{UserID: "adm-karen", Name: "Karen Iversen", Role: domain.RoleAdmin},
		ChangeNo: 1, Approved: true, LetterDate: domain.NewDate(2023, 5, 2), Reference: "LBF-2023-117"}
	if got := wf.sent(); len(got) != 1 || got[0].Name != workflows.UpdateRecordLBF || got[0].Arg != any(want) {
		t.Errorf("updates %+v, want %+v", got, want)
	}
	p = karenB.get("/indsatser/lbf")
	mustContain(t, p, "Landsbyggefondens godkendelse er registreret. Ændring 1 gælder nu.", "Ændring 1: gennemført",
		"Landsbyggefonden godkendte ændringen i brev af 02.05.2023 (journalnr. LBF-2023-117), registreret af Karen Iversen.",
		"Version 2: ændring 1", "Landsbyggefonden (LBF-2023-117)")
	mustNotContain(t, karenB.get("/"), "Registrér Landsbyggefondens svar")
}

// The change form, the open change with its vote and Landsbyggefonden's form in headless chromium: each page
// passes axe-core and is kept as a screenshot.
func TestChangesInABrowser(t *testing.T) {
	a, _ := newActionApp(t)
	in := initiativeAt(t, a.st, "igang", inExecuting)
	withVersion1(t, a.st, in)
	strategic := initiativeAt(t, a.st, "strategisk", inExecuting)
	withVersion1(t, a.st, strategic)
	withChange(t, a.st, strategic, domain.ChangeAwaitingLBF, false, true)
	br := browsertest.Start(t, browsertest.WithBaseURL(a.srv.URL))
	signIn := func(name string) *browsertest.Tab {
		tab := br.NewTab()
		tab.Visit("/log-ind")
		tab.Click("Log ind som " + name)
		return tab
	}
	og := signIn("Mette Kjær")
	og.Visit("/indsatser/igang")
	og.ClickLink("Anmod om ændring")
	og.Page("aendring")
	og.Fill("Landsbyggefonden, milepæl 2 (kr.)", "300.000")
	if got := og.Text("tr[data-source=lbf] [data-sum=status]"); got != "Raterne giver ikke budgettet" {
		t.Errorf("live status %q after moving 100.000 kr. out of milestone 2", got)
	}
	og.Click("Send ændringen til bestyrelsen")
	if !strings.Contains(og.Text(".alert-error"), "Hvorfor skal indsatsen ændres?") {
		t.Errorf("error summary: %q", og.Text(".alert-error"))
	}
	og.Page("aendring-fejl")
	og.Fill("Hvorfor skal indsatsen ændres?", "Skoleåret er rykket.")
	og.Click("Tilføj milepæl")
	og.Fill("Titel på milepæl 3", "Afslutning")
	og.Fill("Frist for milepæl 3", "2023-12-31")
	og.Fill("Landsbyggefonden, milepæl 3 (kr.)", "100.000")
	og.Click("Send ændringen til bestyrelsen")
	if got := og.Text(".alert-success"); !strings.Contains(got, "Ændringen er sendt til bestyrelsen") {
		t.Errorf("after the request: %q (%s)", got, og.Text("main"))
	}
	og.Page("aendring-sendt")

	hanne := signIn("Hanne Mortensen")
	hanne.Visit("/indsatser/igang")
	hanne.Page("aendring-stemme")
	karen := signIn("Karen Iversen")
	karen.Visit("/indsatser/strategisk")
	karen.Page("aendring-lbf")
	karen.Visit("/")
	karen.Page("mit-arbejde-lbf")
}
