package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/web"
)

// closedOut writes a completed initiative to the store: both tranches paid, its evaluation accepted with LBF's
// money spent but 12.345,67 kr., closed out as the workflow does it (store.WriteStep with a close-out).
func closedOut(t *testing.T, st *store.Store) *domain.Initiative {
	t.Helper()
	start := time.Date(2023, 2, 1, 8, 0, 0, 0, time.UTC)
	in := funded(t, st, "afsluttet", "Jobcafé i Vestervang", start,
		tranche{lines: []domain.SourceAmount{lbf(domain.Kroner(300_000)), kommune(domain.Kroner(100_000))}, release: true, paidWith: "NETS-1"},
		tranche{lines: []domain.SourceAmount{lbf(domain.Kroner(200_000))}, release: true, paidWith: "NETS-2"})
	in.Evaluation = &domain.Evaluation{Summary: "Nået", SubmittedBy: mette, SubmittedAt: start.Add(24 * time.Hour),
		Spend: []domain.SourceAmount{lbf(domain.Kroner(500_000) - 1_234_567), kommune(domain.Kroner(100_000))}}
	lines, err := domain.ComputeCloseout(in)
	if err != nil {
		t.Fatal(err)
	}
	at := start.Add(48 * time.Hour)
	in.Closeout = &domain.Closeout{Lines: lines, At: at}
	if _, err := st.WriteStep(context.Background(), store.Step{Closeout: &store.CloseoutInput{PlanID: planID,
		InitiativeID: in.ID, DelaftaleID: in.Proposal.DelaftaleID, Lines: lines,
		Transition: finTransition(in, "evaluation_accepted", hanne, domain.PhaseCompleted, at)}}); err != nil {
		t.Fatal(err)
	}
	return in
}

// The initiative page shows the settlement; finance sees the return on Økonomi › Tilbagebetalinger, a blank
// reference is refused at the field, and once registered the return is listed as received and the initiative
// says so.
func TestReturnsPages(t *testing.T) {
	a, _ := newPaymentApp(t, web.Config{DevSignIn: true})
	closedOut(t, a.st)
	mette := a.browser()
	mette.signInAs("og-mette")
	p := mette.get("/indsatser/afsluttet")
	panel := section(t, p, "afslutning")
	for _, want := range []string{"Økonomisk afslutning", "Landsbyggefonden", "500.000 kr.", "487.654,33 kr.",
		"12.345,67 kr.", `href="/oekonomi/tilbagebetalinger">Til opkrævning`} {
		if !strings.Contains(panel, want) {
			t.Errorf("close-out section lacks %q:\n%s", want, panel)
		}
	}
	// Mette reads the list but has no form.
	if p := mette.get("/oekonomi/tilbagebetalinger"); p.status != http.StatusOK || strings.Contains(p.body, "return-receive-") ||
		!strings.Contains(p.body, "Jobcafé i Vestervang") {
		t.Fatalf("Mette's list: %d\n%s", p.status, p.body)
	}

	peter := a.browser()
	peter.signInAs("fin-peter")
	p = peter.get("/oekonomi")
	if !strings.Contains(p.body, `href="/oekonomi/tilbagebetalinger"`) {
		t.Fatal("Økonomi does not link to the returns")
	}
	p = peter.get("/oekonomi/tilbagebetalinger")
	id := domain.ReturnID("afsluttet", "lbf")
	if !strings.Contains(p.body, `data-testid="return-receive-`+id+`"`) || !strings.Contains(p.body, "Til opkrævning <small>(12.345,67 kr.)") {
		t.Fatalf("finance's list:\n%s", p.body)
	}
	csrf := peter.csrf("/oekonomi/tilbagebetalinger")
	p = peter.post("/oekonomi/tilbagebetalinger/"+id+"/modtaget", url.Values{"csrf_token": {csrf}, "reference": {" "}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `id="reference-`+id+`-fejl"`) ||
		!strings.Contains(p.body, "Skriv bankens reference") {
		t.Fatalf("blank reference: %d\n%s", p.status, p.body)
	}
	p = peter.post("/oekonomi/tilbagebetalinger/"+id+"/modtaget", url.Values{"csrf_token": {csrf}, "reference": {"BANK-IND-9"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("receive: %d\n%s", p.status, p.body)
	}
	p = peter.get("/oekonomi/tilbagebetalinger")
	if !strings.Contains(p.body, "Tilbagebetalingen på 12.345,67 kr. fra „Jobcafé i Vestervang“ er registreret som modtaget") ||
		!strings.Contains(p.body, "BANK-IND-9") || !strings.Contains(p.body, "Der er ingen tilbagebetalinger at opkræve.") {
		t.Fatalf("after receiving:\n%s", p.body)
	}
	if panel := section(t, peter.get("/indsatser/afsluttet"), "afslutning"); !strings.Contains(panel, "Modtaget (ref. BANK-IND-9)") {
		t.Fatalf("the initiative does not show the return received:\n%s", panel)
	}
	if p := peter.get("/planen"); !strings.Contains(p.body, `data-testid="returned-per-source"`) ||
		!strings.Contains(p.body, "12.345,67 kr.") {
		t.Fatal("Planen does not show the money paid back")
	}
	vs, err := a.st.VerifyLedger(context.Background())
	if err != nil || len(vs) > 0 {
		t.Fatalf("ledger verify: %v %v", vs, err)
	}
}

// The evaluation form asks for the final spend per source something was paid from, prefilled with what was paid.
func TestEvaluationFormAsksForTheFinalSpend(t *testing.T) {
	a, _ := newPaymentApp(t, web.Config{DevSignIn: true})
	evaluationDue(t, a.st)
	mette := a.browser()
	mette.signInAs("og-mette")
	p := mette.get("/indsatser/evalueres")
	for _, want := range []string{"Endeligt forbrug pr. finansieringskilde", `name="forbrug-0-kilde" value="lbf"`,
		`id="evaluering-forbrug-0" name="forbrug-0"`, `value="300.000,00"`, `name="forbrug-1-kilde" value="viborg-kommune"`,
		`value="100.000,55"`, "Udbetalt 100.000,55 kr. – skriv"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("evaluation form lacks %q", want)
		}
	}
}

// A cancelled initiative's paid money is settled on its page: the operational group states the spend per source
// (a bad amount comes back at its field), the board sees no form, and afterwards the page shows the settlement and
// the return to collect.
func TestACancelledInitiativeIsSettledOnItsPage(t *testing.T) {
	a, _ := newPaymentApp(t, web.Config{DevSignIn: true})
	cancelledAfterPaying(t, a.st)
	lars := a.browser()
	lars.signInAs("bs-lars")
	if p := lars.get("/indsatser/annulleret"); strings.Contains(p.body, `data-testid="form-settlement"`) {
		t.Fatal("a board member is offered the settlement form")
	}
	mette := a.browser()
	mette.signInAs("og-mette")
	p := mette.get("/indsatser/annulleret")
	for _, want := range []string{`data-testid="form-settlement"`, "annulleret, aldrig frigivet",
		`name="forbrug-0-kilde" value="lbf"`, `value="80.000,00"`,
		`name="forbrug-1-kilde" value="viborg-kommune"`, "Udbetalt 20.000 kr. – skriv"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("settlement form lacks %q", want)
		}
	}
	values := mette.formValues("/indsatser/annulleret", "form-settlement", url.Values{"forbrug-0-kilde": {"lbf"},
		"forbrug-0": {"90.000"}, "forbrug-1-kilde": {"viborg-kommune"}, "forbrug-1": {"20.000"}})
	p = mette.post("/indsatser/annulleret/afregning", values)
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `id="afregning-forbrug-0-fejl"`) ||
		!strings.Contains(p.body, "er mere end de 80.000,00 kr., der er udbetalt") || !strings.Contains(p.body, `value="90.000"`) {
		t.Fatalf("more spent than paid: %d\n%s", p.status, section(t, p, "afslutning"))
	}
	values.Set("forbrug-0", "75.000")
	if p = mette.post("/indsatser/annulleret/afregning", values); p.status != http.StatusSeeOther {
		t.Fatalf("settle: %d\n%s", p.status, p.body)
	}
	panel := section(t, mette.get("/indsatser/annulleret"), "afslutning")
	for _, want := range []string{"af Mette Kjær", "indsatsen er annulleret", "75.000 kr.", "5.000 kr.", "Til opkrævning"} {
		if !strings.Contains(panel, want) {
			t.Errorf("settled section lacks %q:\n%s", want, panel)
		}
	}
	if strings.Contains(panel, `data-testid="form-settlement"`) {
		t.Fatal("the form is still offered after the settlement")
	}
}

// evaluationDue writes "evalueres": tranche 1 (300.000 kr. LBF, 100.000,55 kr. Viborg Kommune) paid, milestone 1
// reported and accepted, the evaluation due.
func evaluationDue(t *testing.T, st *store.Store) {
	t.Helper()
	in := funded(t, st, "evalueres", "Lektiecafé i Ringparken", time.Date(2023, 2, 1, 8, 0, 0, 0, time.UTC),
		tranche{lines: []domain.SourceAmount{lbf(domain.Kroner(300_000)), kommune(domain.Kroner(100_000) + 55)}, release: true, paidWith: "NETS-1"})
	now := time.Date(2023, 6, 1, 8, 0, 0, 0, time.UTC)
	in.Milestones[0].Report = &domain.Report{Summary: "Udført", SpentØre: domain.Kroner(390_000), Actor: mette, At: now}
	in.Milestones[0].AcceptedBy, in.Milestones[0].AcceptedAt = &hanne, &now
	if err := st.RecordTransition(context.Background(), finTransition(in, "milestone_accepted", hanne, domain.PhaseEvaluation, now)); err != nil {
		t.Fatal(err)
	}
}

// cancelledAfterPaying writes "annulleret": tranche 1 (80.000 kr. LBF, 20.000 kr. Viborg Kommune) paid, then the
// initiative cancelled with tranche 2 never released; its paid money is not settled.
func cancelledAfterPaying(t *testing.T, st *store.Store) {
	t.Helper()
	start := time.Date(2023, 2, 1, 8, 0, 0, 0, time.UTC)
	in := funded(t, st, "annulleret", "Cykelværksted i Ringparken", start,
		tranche{lines: []domain.SourceAmount{lbf(domain.Kroner(80_000)), kommune(domain.Kroner(20_000))}, release: true, paidWith: "NETS-1"},
		tranche{lines: []domain.SourceAmount{lbf(domain.Kroner(50_000))}})
	in.Milestones[1].TrancheStatus = domain.TrancheCancelled
	if err := st.RecordTransition(context.Background(), finTransition(in, "cancelled", hanne, domain.PhaseCancelled,
		start.Add(30*24*time.Hour))); err != nil {
		t.Fatal(err)
	}
}
