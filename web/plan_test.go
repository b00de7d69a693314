package web_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/web"
)

func TestPlanPage(t *testing.T) {
	a := newApp(t, web.Config{DevSignIn: true})
	// Two executing initiatives (approved, a tranche paid) and one still with the board.
	lektiecafe(t, a.st, "lektiecafe", planID)
	lektiecafe(t, a.st, "lektiecafe-2", planID)
	in := &domain.Initiative{ID: "forslag", PlanID: planID, Revision: 1, Proposer: mette, Decisions: []domain.Decision{},
		Proposal: domain.Proposal{Title: "Jobcafé", DelaftaleID: "beskaeftigelse"}, CreatedAt: time.Date(2022, 5, 1, 9, 0, 0, 0, time.UTC)}
	record(t, a.st, in, "submitted", mette, domain.PhaseBoardReview, in.CreatedAt)

	board := a.browser()
	board.signInAs("bs-hanne")
	p := board.get("/planen")
	if p.status != http.StatusOK {
		t.Fatalf("status %d", p.status)
	}

	t.Run("cofinancing_share_for_viborg_above_25_percent", func(t *testing.T) {
		// 11.980.000 of 25.689.000 kr. is local: 46,6 %, rounded down.
		mustContain(t, p, `data-testid="cofinancing">46,6 % lokal medfinansiering (krav: mindst 25 %)</p>`,
			"alert-success", "Kravet er opfyldt", "11.980.000 kr.", "25.689.000 kr.",
			`<title id="chart-cofinancing-title">Lokal medfinansiering mod kravet</title>`,
			`data-testid="cofinancing-table"`)
		if strings.Contains(p.body, "alert-error") {
			t.Error("a plan above the minimum is shown as failing it")
		}
		// The bar is 46,6 % of 600 wide and the minimum's mark at 25 %.
		mustContain(t, p, `width="279" height="28"`, `x1="150"`)
	})
	t.Run("initiatives_by_phase_link_to_the_list", func(t *testing.T) {
		mustContain(t, p, "Indsatser efter fase", "3 indsatser i alt",
			`<a href="/indsatser?fase=executing">i gang</a>`, `data-testid="phase-executing">2<`,
			`<a href="/indsatser?fase=board_review">til behandling i bestyrelsen</a>`, `data-testid="phase-board_review">1<`,
			`data-testid="phase-completed">0<`, "i gang: 2.")
	})
	t.Run("every_chart_has_a_text_alternative", func(t *testing.T) {
		svgs := regexp.MustCompile(`<svg[^>]*>\s*<title id="[^"]+">[^<]+</title>\s*<desc id="[^"]+">[^<]+</desc>`).FindAllString(p.body, -1)
		opening := regexp.MustCompile(`<svg role="img" aria-labelledby="[^"]+"`).FindAllString(p.body, -1)
		if n := strings.Count(p.body, "<svg"); n != 4 || len(svgs) != n || len(opening) != n {
			t.Errorf("%d charts, %d with title and description, %d with role=img and a label; want 4 of each", n, len(svgs), len(opening))
		}
		// The budget tables stay.
		mustContain(t, p, `data-testid="budget-sources"`, `data-testid="budget-delaftaler"`, `data-testid="phases"`, "Houlkærvænget")
	})
}

// TestPlanPageShowsTheApprovedShareAndWhatEachPendingProposalWouldMakeOfIt: 100.000 of 400.000 kr. approved is
// local (exactly 25 %); a Landsbyggefonden-only proposal would lower it below the rule and is marked as refused,
// one with Viborg Kommune's money would raise it.
func TestPlanPageShowsTheApprovedShareAndWhatEachPendingProposalWouldMakeOfIt(t *testing.T) {
	a := newApp(t, web.Config{DevSignIn: true})
	lines := func(lbfKr, kommuneKr int64) []domain.SourceAmount {
		var out []domain.SourceAmount
		if lbfKr > 0 {
			out = append(out, domain.SourceAmount{SourceID: "lbf", AmountØre: domain.Kroner(lbfKr)})
		}
		if kommuneKr > 0 {
			out = append(out, domain.SourceAmount{SourceID: "viborg-kommune", AmountØre: domain.Kroner(kommuneKr)})
		}
		return out
	}
	funded(t, a.st, "lektiecafe", "Lektiecafé", time.Date(2022, 3, 1, 8, 0, 0, 0, time.UTC),
		tranche{lines: lines(300_000, 100_000), release: true, paidWith: "NETS-1"})
	pending := func(id, title string, budget []domain.SourceAmount) {
		in := &domain.Initiative{ID: id, PlanID: planID, Revision: 1, Proposer: mette, Decisions: []domain.Decision{},
			Proposal:  domain.Proposal{Title: title, DelaftaleID: "beskaeftigelse", Budget: budget},
			CreatedAt: time.Date(2022, 5, 1, 9, 0, 0, 0, time.UTC)}
		record(t, a.st, in, "submitted", mette, domain.PhaseBoardReview, in.CreatedAt)
	}
	pending("jobcafe", "Jobcafé", lines(100_000, 0))
	pending("naboskab", "Naboskab", lines(0, 50_000))

	board := a.browser()
	board.signInAs("bs-hanne")
	p := board.get("/planen")
	if p.status != http.StatusOK {
		t.Fatalf("status %d", p.status)
	}
	mustContain(t, p, "Af det godkendte budget på 400.000 kr. er 100.000 kr. lokal medfinansiering: <strong>25,0 %</strong> (krav: mindst 25,0 %).",
		`data-testid="cofinancing-pending"`)
	row := func(id string) string {
		m := regexp.MustCompile(`(?s)<tr data-testid="cofinancing-pending-` + id + `">.*?</tr>`).FindString(p.body)
		if m == "" {
			t.Fatalf("no row for %s:\n%s", id, p.body)
		}
		return m
	}
	// Jobcafé: 100.000 of 500.000 kr. afterwards, 20,0 %: below 25 % and lower than now.
	if r := row("jobcafe"); !strings.Contains(r, "20,0 %") || !strings.Contains(r, "Afvises nu") {
		t.Errorf("Jobcafé's row does not say 20,0 %% and refused: %s", r)
	}
	// Naboskab: 150.000 of 450.000 kr., 33,3 %.
	if r := row("naboskab"); !strings.Contains(r, "33,3 %") || strings.Contains(r, "Afvises") || !strings.Contains(r, "Opfyldt") {
		t.Errorf("Naboskab's row does not say 33,3 %% and fulfilled: %s", r)
	}
}
