package web_test

import (
	"context"
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
	"github.com/helhedsplan/helhedsplan/web"
	"github.com/helhedsplan/helhedsplan/workflows"
)

// The board's vote on the initiative page, per member, under the seeded board (Hanne Mortensen chairs it, with
// Lars Bach and Sofie Lund; the chair accepts milestone reports alone): a member who may vote gets the form, one
// who declared a conflict sees why not, one who voted sees the vote, and where the chair decides alone only the
// chair has the form.
func TestVoteFormPerMember(t *testing.T) {
	a, wf := newActionApp(t)
	initiativeAt(t, a.st, "forslag", inBoardReview)
	initiativeAt(t, a.st, "rapport", inReported)
	hanneB, larsB, sofieB := a.browser(), a.browser(), a.browser()
	hanneB.signInAs("bs-hanne")
	larsB.signInAs("bs-lars")
	sofieB.signInAs("bs-sofie")

	t.Run("member_who_may_vote_gets_the_form", func(t *testing.T) {
		p := larsB.get("/indsatser/forslag")
		if !slices.Contains(formsOn(p), "form-decide") {
			t.Fatalf("Lars's forms %v, want the vote", formsOn(p))
		}
		mustContain(t, p, `data-testid="round-proposal"`, "Du kan stemme i sagen.", `href="#handling-beslutning"`,
			"3 medlemmer kan stemme. Bestyrelsen er beslutningsdygtig, når mindst 2 har stemt.",
			"Hanne Mortensen (formand)", "Sofie Lund", "har ikke stemt endnu")
	})

	t.Run("member_with_a_conflict_sees_why_she_does_not_vote", func(t *testing.T) {
		form := sofieB.formValues("/indsatser/forslag", "form-declare-conflict", url.Values{"begrundelse": {"Min søster leder caféen"}})
		p := sofieB.post("/indsatser/forslag/inhabilitet", form)
		if p.status != http.StatusSeeOther {
			t.Fatalf("declare conflict: %d\n%s", p.status, p.body)
		}
		last := wf.sent()[len(wf.sent())-1]
		want := workflows.DeclareConflictInput{Actor: domain.Actor{UserID: "bs-sofie", Name: "Sofie Lund", Role: domain.RoleBoard},
			Reason: "Min søster leder caféen"}
		if last.Name != workflows.UpdateDeclareConflict || last.Arg != any(want) {
			t.Errorf("update %+v, want %+v", last, want)
		}
		p = sofieB.get("/indsatser/forslag")
		mustContain(t, p, "Din inhabilitet er registreret.",
			"Du har erklæret dig inhabil i sagen („Min søster leder caféen“) og kan ikke stemme.",
			"inhabil: Min søster leder caféen", `data-testid="conflicts"`,
			"2 medlemmer kan stemme. Bestyrelsen er beslutningsdygtig, når mindst 2 har stemt.")
		if forms := formsOn(p); slices.Contains(forms, "form-decide") || slices.Contains(forms, "form-declare-conflict") {
			t.Errorf("Sofie, inhabil, is offered %v", forms)
		}
		// The others see it too, in the members' table.
		mustContain(t, hanneB.get("/indsatser/forslag"), "inhabil: Min søster leder caféen")
	})

	t.Run("member_who_voted_sees_the_vote_not_the_form", func(t *testing.T) {
		form := larsB.formValues("/indsatser/forslag", "form-decide", url.Values{"udfald": {"aendringer"}, "kommentar": {"Uddyb budgettet"}})
		if p := larsB.post("/indsatser/forslag/beslutning", form); p.status != http.StatusSeeOther {
			t.Fatalf("vote: %d\n%s", p.status, p.body)
		}
		p := larsB.get("/indsatser/forslag")
		mustContain(t, p, "Du har stemt: <strong>ønsk ændringer</strong>", "Uddyb budgettet")
		if slices.Contains(formsOn(p), "form-decide") {
			t.Errorf("Lars voted and still has the form: %v", formsOn(p))
		}
		// Hanne sees Lars's vote and comment, and still has her own form.
		h := hanneB.get("/indsatser/forslag")
		mustContain(t, h, `data-testid="member-bs-lars"`, "ønsk ændringer", "Uddyb budgettet", "Du kan stemme i sagen.")
		if !slices.Contains(formsOn(h), "form-decide") {
			t.Errorf("Hanne's forms %v, want the vote", formsOn(h))
		}
	})

	t.Run("chair_alone_only_the_chair_has_the_form", func(t *testing.T) {
		l := larsB.get("/indsatser/rapport")
		mustContain(t, l, `data-testid="round-milestone"`, "Formanden afgør sagen alene efter bestyrelsens forretningsorden.",
			"Formanden afgør denne sag alene efter bestyrelsens forretningsorden, så du stemmer ikke.",
			"formanden afgør sagen alene")
		if forms := formsOn(l); slices.Contains(forms, "form-accept-milestone") || slices.Contains(forms, "form-return-milestone") {
			t.Errorf("Lars is offered %v on a matter the chair decides alone", forms)
		}
		h := hanneB.get("/indsatser/rapport")
		if forms := formsOn(h); !slices.Contains(forms, "form-accept-milestone") || !slices.Contains(forms, "form-return-milestone") ||
			slices.Contains(forms, "form-meeting-milestone") {
			t.Errorf("the chair's forms %v, want accept and send back, and no meeting form", forms)
		}
		// A forced vote by Lars is refused as the API refuses it.
		p := larsB.post("/indsatser/rapport/milepaele/1/godkend", url.Values{"csrf_token": {larsB.csrf("/indsatser/rapport")}})
		if p.status != http.StatusForbidden {
			t.Fatalf("Lars accepting: %d, want 403", p.status)
		}
		mustContain(t, p, "Formanden træffer beslutning om milepælsrapporter alene efter bestyrelsens regler.")
	})
}

// The chair sends a milestone report back with a comment (required): the report goes back to the proposer, who
// sees the board's comment and reports again.
func TestSendTheReportBack(t *testing.T) {
	a, wf := newActionApp(t)
	initiativeAt(t, a.st, "rapport", inReported)
	b := a.browser()
	b.signInAs("bs-hanne")

	p := b.post("/indsatser/rapport/milepaele/1/send-tilbage", b.formValues("/indsatser/rapport", "form-return-milestone",
		url.Values{"kommentar": {" "}}))
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("without a comment: %d, want 422", p.status)
	}
	mustContain(t, p, `<a href="#milepael-tilbage-kommentar">`, `id="milepael-tilbage-kommentar-fejl"`,
		"Skriv, hvad der mangler i rapporten")
	n := len(wf.sent())
	if n != 0 {
		t.Fatalf("the refused form reached the workflow: %+v", wf.sent())
	}

	p = b.post("/indsatser/rapport/milepaele/1/send-tilbage", b.formValues("/indsatser/rapport", "form-return-milestone",
		url.Values{"kommentar": {"Forbruget er ikke opgjort pr. aktivitet."}}))
	if p.status != http.StatusSeeOther {
		t.Fatalf("send back: %d\n%s", p.status, p.body)
	}
	calls := wf.sent()
	want := workflows.DecideInput{Actor: hanne, Outcome: domain.OutcomeRequestChanges,
		Comment: "Forbruget er ikke opgjort pr. aktivitet.", Matter: domain.MatterMilestone, No: 1}
	if len(calls) != 1 || calls[0].Name != workflows.UpdateDecide || calls[0].Arg != any(want) {
		t.Fatalf("updates %+v, want decide %+v", calls, want)
	}
	mustContain(t, b.get("/indsatser/rapport"), "Rapporten er sendt tilbage til forslagsstilleren.",
		`data-testid="returned"`, "Rapporten om milepæl 1 (Opstart)", "Forbruget er ikke opgjort pr. aktivitet.",
		"Caféen er åben", "Rapporten om milepæl 1: sendt tilbage")
	mette := a.browser()
	mette.signInAs("og-mette")
	m := mette.get("/indsatser/rapport")
	if !slices.Contains(formsOn(m), "form-report") {
		t.Errorf("the proposer cannot report again: %v", formsOn(m))
	}
	mustContain(t, m, "Forbruget er ikke opgjort pr. aktivitet.")
}

// The secretariat proposes to cancel an approved initiative; the board votes; once cancelled, the page shows the
// reason, the disbursement withdrawn from finance and the money returned per source.
func TestCancelAnInitiative(t *testing.T) {
	a, wf := newActionApp(t)
	initiativeAt(t, a.st, "stop", inFunding) // tranche 1 (100.000 kr.) released, unpaid
	karen := a.browser()
	karen.signInAs("adm-karen")

	p := karen.post("/indsatser/stop/annullering", karen.formValues("/indsatser/stop", "form-propose-cancel", url.Values{}))
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("without a reason: %d, want 422", p.status)
	}
	mustContain(t, p, `<a href="#annullering-begrundelse">`)
	p = karen.post("/indsatser/stop/annullering", karen.formValues("/indsatser/stop", "form-propose-cancel",
		url.Values{"begrundelse": {"Lokalerne er lukket."}}))
	if p.status != http.StatusSeeOther {
		t.Fatalf("propose: %d\n%s", p.status, p.body)
	}
	last := wf.sent()[len(wf.sent())-1]
	if want := (workflows.ProposeCancelInput{Actor: domain.Actor{UserID: "adm-karen", Name: "Karen Iversen",
		Role: domain.RoleAdmin}, Reason: "Lokalerne er lukket."}); last.Name != workflows.UpdateProposeCancel || last.Arg != any(want) {
		t.Errorf("update %+v, want %+v", last, want)
	}
	k := karen.get("/indsatser/stop")
	mustContain(t, k, "Forslaget om at annullere indsatsen er sendt til bestyrelsens afstemning.", `data-testid="cancellation"`,
		"Karen Iversen foreslog", "Lokalerne er lukket.", `data-testid="round-cancellation"`)
	if forms := formsOn(k); slices.Contains(forms, "form-propose-cancel") || !slices.Contains(forms, "form-meeting-cancellation") {
		t.Errorf("with the vote open the secretariat is offered %v", forms)
	}

	for _, u := range []string{"bs-hanne", "bs-lars"} {
		b := a.browser()
		b.signInAs(u)
		p := b.post("/indsatser/stop/annullering/stemme", b.formValues("/indsatser/stop", "form-vote-cancel",
			url.Values{"udfald": {"godkend"}}))
		if p.status != http.StatusSeeOther {
			t.Fatalf("%s's vote: %d\n%s", u, p.status, p.body)
		}
	}
	if got := wf.sent()[len(wf.sent())-1].Arg.(workflows.DecideInput); got.Matter != domain.MatterCancellation || got.Outcome != domain.OutcomeApprove {
		t.Errorf("vote sent as %+v, want approve on the cancellation", got)
	}
	done := karen.get("/indsatser/stop")
	mustContain(t, done, "annulleret", "Indsatsen er annulleret", "Begrundelse: „Lokalerne er lukket.“",
		`data-testid="withdrawn"`, "Rate for milepæl 1. Opstart: 100.000 kr.", `data-testid="returned-money"`,
		"Landsbyggefonden", "500.000 kr.", "Annullering af indsatsen: indsatsen annulleres")
	if forms := formsOn(done); len(forms) != 0 {
		t.Errorf("a cancelled initiative offers %v", forms)
	}
}

// The chair or the secretariat records the votes taken at a board meeting: who was present and how each voted.
func TestMeetingDecision(t *testing.T) {
	a, wf := newActionApp(t)
	initiativeAt(t, a.st, "moede", inBoardReview)
	ctx := context.Background()
	karen := domain.Actor{UserID: "adm-karen", Name: "Karen Iversen", Role: domain.RoleAdmin}
	meeting, _, err := a.st.CreateMeeting(ctx, store.MeetingInput{PlanID: planID, ID: "0191f5a2-0000-7000-8000-000000000305",
		HeldOn: domain.NewDate(2022, 3, 5), StartsAt: "16:30", Location: "Beboerhuset", Title: "Bestyrelsesmøde", By: karen})
	if err != nil {
		t.Fatal(err)
	}
	aflyst, _, err := a.st.CreateMeeting(ctx, store.MeetingInput{PlanID: planID, ID: "0191f5a2-0000-7000-8000-000000000402",
		HeldOn: domain.NewDate(2022, 4, 2), Title: "Ekstraordinært møde", By: karen})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.st.CancelMeeting(ctx, planID, aflyst.ID, karen); err != nil {
		t.Fatal(err)
	}
	b := a.browser()
	b.signInAs("adm-karen")
	// The form offers the plan's meetings that were not cancelled.
	page := b.get("/indsatser/moede")
	mustContain(t, page, `<select class="form-select" id="moede-id-proposal" name="moede"`,
		`<option value="`+meeting.ID+`">Bestyrelsesmøde, lørdag den 5. marts 2022, kl. 16.30, Beboerhuset</option>`)
	mustNotContain(t, page, aflyst.ID, "Ekstraordinært møde")
	t.Run("a_meeting_not_on_the_list_is_refused_at_the_field", func(t *testing.T) {
		for _, id := range []string{"Bestyrelsesmøde 5. marts 2022", aflyst.ID} {
			p := b.post("/indsatser/moede/moede", b.formValues("/indsatser/moede", "form-meeting-proposal",
				url.Values{"sag": {"proposal"}, "moede": {id}, "tilstede": {"bs-hanne"}, "stemme-bs-hanne": {"godkend"}}))
			if p.status != http.StatusUnprocessableEntity {
				t.Fatalf("meeting %q: status %d, want 422", id, p.status)
			}
			mustContain(t, p, `<a href="#moede-id-proposal">`, `id="moede-id-proposal-fejl"`, `aria-invalid="true"`)
		}
		if len(wf.sent()) != 0 {
			t.Errorf("a refused meeting reached the workflow: %+v", wf.sent())
		}
	})
	form := b.formValues("/indsatser/moede", "form-meeting-proposal", url.Values{"sag": {"proposal"},
		"moede": {meeting.ID}, "tilstede": {"bs-hanne", "bs-lars", "bs-sofie"},
		"stemme-bs-hanne": {"godkend"}, "stemme-bs-lars": {"godkend"}, "stemme-bs-sofie": {"afvis"},
		"kommentar": {"Referat punkt 3"}})
	p := b.post("/indsatser/moede/moede", form)
	if p.status != http.StatusSeeOther {
		t.Fatalf("meeting: %d\n%s", p.status, p.body)
	}
	want := workflows.MeetingDecisionInput{Actor: domain.Actor{UserID: "adm-karen", Name: "Karen Iversen", Role: domain.RoleAdmin},
		MeetingID: meeting.ID, Matter: domain.MatterProposal, Present: []string{"bs-hanne", "bs-lars", "bs-sofie"},
		Votes: []workflows.MeetingVote{{MemberID: "bs-hanne", Outcome: domain.OutcomeApprove},
			{MemberID: "bs-lars", Outcome: domain.OutcomeApprove}, {MemberID: "bs-sofie", Outcome: domain.OutcomeReject}},
		Comment: "Referat punkt 3"}
	calls := wf.sent()
	if len(calls) != 1 || calls[0].Name != workflows.UpdateMeetingDecision {
		t.Fatalf("updates %+v", calls)
	}
	if diff := cmp.Diff(want, calls[0].Arg); diff != "" {
		t.Errorf("meeting input (-want +got):\n%s", diff)
	}
	mustContain(t, b.get("/indsatser/moede"), "Mødets afstemning er registreret.", "afventer udbetaling",
		"Afgjort på bestyrelsesmødet „Bestyrelsesmøde, lørdag den 5. marts 2022, kl. 16.30, Beboerhuset“.", "Godkendt med 2 af 3 afgivne stemmer",
		"Til stede på mødet: Hanne Mortensen, Lars Bach, Sofie Lund.")

	t.Run("a_vote_the_form_does_not_offer_is_refused", func(t *testing.T) {
		initiativeAt(t, a.st, "moede2", inBoardReview)
		form := b.formValues("/indsatser/moede2", "form-meeting-proposal", url.Values{"sag": {"proposal"}, "moede": {meeting.ID},
			"stemme-bs-hanne": {"ja tak"}})
		p := b.post("/indsatser/moede2/moede", form)
		if p.status != http.StatusUnprocessableEntity {
			t.Fatalf("status %d, want 422", p.status)
		}
		mustContain(t, p, `<a href="#handling-moede-proposal">Vælg godkend, afvis, ønsk ændringer eller ingen stemme`,
			`<option value="`+meeting.ID+`" selected>`)
	})
}

// Deadlines are the open steps' deadlines in Danish business days; one past its deadline is marked "Overskredet
// siden <dato>" on the initiative, on "Mit arbejde" and on Planen, judged by the pages' clock (Config.Now).
func TestOverdueSteps(t *testing.T) {
	// A proposal submitted on 1 March 2022: the board's deadline is 15 business days later, 22 March.
	before := time.Date(2022, 3, 10, 12, 0, 0, 0, time.UTC)
	after := time.Date(2022, 3, 25, 12, 0, 0, 0, time.UTC)
	t.Run("before_the_deadline", func(t *testing.T) {
		a, _ := newActionAppWith(t, web.Config{Now: func() time.Time { return before }})
		initiativeAt(t, a.st, "frist", inBoardReview)
		b := a.browser()
		b.signInAs("bs-hanne")
		for _, path := range []string{"/indsatser/frist", "/", "/planen"} {
			p := b.get(path)
			mustContain(t, p, "22.03.2022")
			if strings.Contains(p.body, "Overskredet") {
				t.Errorf("%s shows a step as overdue before its deadline", path)
			}
		}
	})
	t.Run("after_the_deadline", func(t *testing.T) {
		a, _ := newActionAppWith(t, web.Config{Now: func() time.Time { return after }})
		in := initiativeAt(t, a.st, "frist", inBoardReview)
		in.Alerts = []domain.Alert{
			{Key: "proposal/r1/remind-5", Kind: domain.AlarmReminder, Step: "proposal/r1", Deadline: domain.NewDate(2022, 3, 22),
				At: time.Date(2022, 3, 15, 7, 0, 0, 0, time.UTC)},
			{Key: "proposal/r1/escalate", Kind: domain.AlarmEscalation, Step: "proposal/r1", Deadline: domain.NewDate(2022, 3, 22),
				At: time.Date(2022, 3, 23, 7, 0, 0, 0, time.UTC)}}
		record(t, a.st, in, "escalated", domain.Actor{}, domain.PhaseBoardReview, in.UpdatedAt)
		b := a.browser()
		b.signInAs("bs-hanne")
		p := b.get("/indsatser/frist")
		mustContain(t, p, `data-testid="overdue"`, "Fristen er overskredet: Bestyrelsens beslutning om forslaget",
			"Fristen var 22.03.2022; den er overskredet siden 23.03.2022.", `data-testid="steps"`,
			"Overskredet siden 23.03.2022", `data-testid="alerts"`, "Påmindelse 15.03.2022 kl. 08.00",
			"Eskalering 23.03.2022 kl. 08.00", "Bestyrelsens beslutning om forslaget (frist 22.03.2022)")
		w := b.get("/")
		mustContain(t, w, `data-testid="work-overdue"`, "Én opgave har overskredet fristen", "Beslut forslaget",
			"22.03.2022 <strong class=\"badge badge-error\" data-testid=\"overdue-badge\">Overskredet siden 23.03.2022</strong>")
		pl := b.get("/planen")
		mustContain(t, pl, `data-testid="plan-overdue"`, "Én frist er overskredet", `data-testid="plan-steps"`,
			`href="/indsatser/frist"`, "Overskredet siden 23.03.2022")
	})
	t.Run("a_member_who_voted_has_no_work_left", func(t *testing.T) {
		a, _ := newActionAppWith(t, web.Config{Now: func() time.Time { return after }})
		initiativeAt(t, a.st, "stemt", inBoardReview)
		b := a.browser()
		b.signInAs("bs-sofie")
		if !strings.Contains(b.get("/").body, "Beslut forslaget") {
			t.Fatal("the proposal is not on Sofie's work list")
		}
		b.post("/indsatser/stemt/beslutning", b.formValues("/indsatser/stemt", "form-decide", url.Values{"udfald": {"godkend"}}))
		if w := b.get("/"); strings.Contains(w.body, "Beslut forslaget") {
			t.Errorf("after her vote Sofie still has the proposal on her work list")
		}
	})
}

// TestBoardFormsInABrowser takes the board's new page states through chromium with axe-core: the meeting form,
// a conflict declared, the chair deciding alone, the cancellation vote and a cancelled initiative, and the
// deadlines overdue. Screenshots: artifacts/screenshots/TestBoardFormsInABrowser/.
func TestBoardFormsInABrowser(t *testing.T) {
	a, _ := newActionAppWith(t, web.Config{Now: func() time.Time { return time.Date(2022, 3, 25, 12, 0, 0, 0, time.UTC) }})
	initiativeAt(t, a.st, "forslag", inBoardReview)
	initiativeAt(t, a.st, "rapporteret", inReported)
	stop := initiativeAt(t, a.st, "stop", inFunding)
	stop.Cancellation = &domain.Cancellation{Round: 1, Reason: "Lokalerne er lukket.", ProposedAt: stop.UpdatedAt,
		ProposedBy: domain.Actor{UserID: "adm-karen", Name: "Karen Iversen", Role: domain.RoleAdmin}}
	record(t, a.st, stop, "cancellation_proposed", stop.Cancellation.ProposedBy, domain.PhaseFunding, stop.UpdatedAt)
	gone := initiativeAt(t, a.st, "annulleret", inFunding)
	decided := gone.UpdatedAt.Add(time.Hour)
	gone.Cancellation = &domain.Cancellation{Round: 1, Reason: "Målgruppen er flyttet.", ProposedAt: gone.UpdatedAt,
		ProposedBy: hanne, Decided: true, Outcome: domain.OutcomeApprove, DecidedAt: &decided,
		Withdrawn: []string{domain.DisbursementID("annulleret", 1)},
		Returned:  []domain.SourceAmount{{SourceID: "lbf", AmountØre: domain.Kroner(500_000)}}}
	record(t, a.st, gone, "cancelled", hanne, domain.PhaseCancelled, decided)

	br := browsertest.Start(t, browsertest.WithBaseURL(a.srv.URL))
	signIn := func(name string) *browsertest.Tab {
		tab := br.NewTab()
		tab.Visit("/log-ind")
		tab.Click("Log ind som " + name)
		return tab
	}
	karen := signIn("Karen Iversen")
	karen.Visit("/indsatser/forslag")
	karen.Page("moedeform")
	karen.Click("Registrér mødets afstemning")
	if !strings.Contains(karen.Text(".alert-error"), "Vælg mødet på listen") {
		t.Errorf("error summary: %q", karen.Text(".alert-error"))
	}
	karen.Page("moedeform-fejl")
	karen.Visit("/indsatser/annulleret")
	karen.Page("annulleret")

	sofie := signIn("Sofie Lund")
	sofie.Visit("/indsatser/forslag")
	sofie.Fill("Hvorfor er du inhabil?", "Min søster leder caféen.")
	sofie.Click("Erklær inhabilitet")
	if got := sofie.Text(".alert-success"); !strings.Contains(got, "Din inhabilitet er registreret.") {
		t.Errorf("after declaring a conflict: %q", got)
	}
	sofie.Page("inhabil")

	lars := signIn("Lars Bach")
	lars.Visit("/indsatser/rapporteret")
	lars.Page("formanden-afgoer")
	lars.Visit("/indsatser/stop")
	lars.Page("annullering-stemme")
	lars.Visit("/")
	lars.Page("mit-arbejde-overskredet")
	lars.Visit("/planen")
	lars.Page("planen-frister")
}
