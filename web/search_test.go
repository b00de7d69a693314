package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/web"
)

// jobcafe is an initiative in board review paid by the housing associations alone.
func jobcafe(t *testing.T, a *app, id string) *domain.Initiative {
	t.Helper()
	p := domain.Proposal{
		Title: "Jobcafé i Vestervang", Description: "Hjælp til ansøgninger og CV.",
		DelaftaleID: "beskaeftigelse", HousingAreaIDs: []string{"vestervang"}, TargetGroup: "Ledige beboere",
		Goals:  []domain.Goal{{ID: "g1", Description: "Flere i job", SuccessCriterion: "20 i job"}},
		Budget: []domain.SourceAmount{{SourceID: "boligselskaberne", AmountØre: domain.Kroner(50_000)}},
		Milestones: []domain.MilestonePlan{{Title: "Opstart", DueDate: domain.NewDate(2023, 1, 31),
			Tranche: []domain.SourceAmount{{SourceID: "boligselskaberne", AmountØre: domain.Kroner(50_000)}}}},
	}
	t0 := time.Date(2022, 4, 1, 9, 0, 0, 0, time.UTC)
	in := &domain.Initiative{ID: id, PlanID: planID, Revision: 1, Proposer: mette, Proposal: p,
		Decisions: []domain.Decision{}, Milestones: domain.MilestonesFromPlan(p.Milestones), CreatedAt: t0}
	record(t, a.st, in, "submitted", mette, domain.PhaseBoardReview, t0)
	return in
}

func TestInitiativesSourceAndSearch(t *testing.T) {
	a := newApp(t, web.Config{DevSignIn: true})
	lektiecafe(t, a.st, "lektiecafe", planID) // Landsbyggefonden and Viborg Kommune pay
	job := jobcafe(t, a, "jobcafe")           // the housing associations pay
	mette := a.browser()
	mette.signInAs("og-mette")

	const (
		lektieLink = `href="/indsatser/lektiecafe"`
		jobLink    = `href="/indsatser/jobcafe"`
	)
	// shows asserts which of the two initiatives a list shows.
	shows := func(t *testing.T, path string, lektie, jobs bool) page {
		t.Helper()
		p := mette.get(path)
		if p.status != http.StatusOK {
			t.Fatalf("%s: status %d", path, p.status)
		}
		if got := strings.Contains(p.body, lektieLink); got != lektie {
			t.Errorf("%s: lists the lektiecafé = %v, want %v", path, got, lektie)
		}
		if got := strings.Contains(p.body, jobLink); got != jobs {
			t.Errorf("%s: lists the jobcafé = %v, want %v", path, got, jobs)
		}
		return p
	}

	t.Run("form_has_source_and_search", func(t *testing.T) {
		p := shows(t, "/indsatser", true, true)
		mustContain(t, p, `<label class="form-label" for="kilde">Finansieringskilde</label>`,
			`<option value="">Alle finansieringskilder</option>`, `<option value="lbf">Landsbyggefonden</option>`,
			`<option value="boligselskaberne">Boligselskaberne`,
			`<label class="form-label" for="q">Søg i titel og beskrivelse</label>`,
			`type="search" id="q" name="q" value="" maxlength="200"`)
	})
	t.Run("by_source", func(t *testing.T) {
		shows(t, "/indsatser?kilde=boligselskaberne", false, true)
		shows(t, "/indsatser?kilde=viborg-kommune", true, false)
		shows(t, "/indsatser?kilde=lbf", true, false)
		p := shows(t, "/indsatser?kilde=findes-ikke", false, false)
		mustContain(t, p, "Ingen indsatser passer til filtrene.")
	})
	t.Run("by_danish_word", func(t *testing.T) {
		shows(t, "/indsatser?q="+url.QueryEscape("lektiecafé"), true, false)
		shows(t, "/indsatser?q=lekt", true, false)                              // a prefix
		shows(t, "/indsatser?q="+url.QueryEscape("LEKTIEHJÆLP"), true, false)   // the description, any case
		shows(t, "/indsatser?q="+url.QueryEscape("houlkærv"), true, false)      // æ in a prefix
		shows(t, "/indsatser?q="+url.QueryEscape("jobcafé ansøg"), false, true) // every word
		shows(t, "/indsatser?q="+url.QueryEscape("jobcafé houlkærvænget"), false, false)
		shows(t, "/indsatser?q="+url.QueryEscape("'); DROP TABLE initiatives; --"), false, false)
		shows(t, "/indsatser?q="+url.QueryEscape("!?"), true, true) // no words: no filter
	})
	t.Run("combined_with_phase", func(t *testing.T) {
		shows(t, "/indsatser?fase=executing&q=lektie", true, false)
		shows(t, "/indsatser?fase=board_review&q=lektie", false, false)
		shows(t, "/indsatser?q=cafe", false, false) // words match from their start only
		shows(t, "/indsatser?fase=board_review&kilde=boligselskaberne&q=job", false, true)
		shows(t, "/indsatser?fase=executing&kilde=boligselskaberne&q=job", false, false)
	})
	t.Run("form_keeps_what_was_chosen", func(t *testing.T) {
		p := shows(t, "/indsatser?kilde=boligselskaberne&q="+url.QueryEscape(`jobcafé "<b>`), false, false)
		mustContain(t, p, `<option value="boligselskaberne" selected>`, `value="jobcafé &#34;&lt;b&gt;"`)
		if strings.Contains(p.body, `<option value="lbf" selected>`) {
			t.Error("another source is selected too")
		}
	})
	t.Run("too_long_search_400", func(t *testing.T) {
		if p := mette.get("/indsatser?q=" + url.QueryEscape(strings.Repeat("ø", 201))); p.status != http.StatusBadRequest ||
			!strings.Contains(p.body, "Søgeteksten er for lang: højst 200 tegn.") {
			t.Errorf("201 characters: %d, want 400 with a Danish message", p.status)
		}
	})
	t.Run("next_page_keeps_source_and_search", func(t *testing.T) {
		// 50 more jobcafés: with the first, one page and one more.
		if err := a.st.InsertSyntheticInitiatives(context.Background(), planID, 50, *job); err != nil {
			t.Fatal(err)
		}
		p := shows(t, "/indsatser?kilde=boligselskaberne&q=jobcaf", false, false)
		m := regexp.MustCompile(`href="(/indsatser\?[^"]+)" rel="next">Næste side`).FindStringSubmatch(p.body)
		if m == nil {
			t.Fatalf("no Næste side link with 51 jobcafés:\n%s", p.body)
		}
		next, _ := url.Parse(strings.ReplaceAll(m[1], "&amp;", "&"))
		if q := next.Query(); q.Get("kilde") != "boligselskaberne" || q.Get("q") != "jobcaf" || q.Get("efter") == "" {
			t.Fatalf("Næste side = %s, want kilde, q and efter", next)
		}
		second := shows(t, next.String(), false, true) // the oldest jobcafé, the real one, is last
		mustContain(t, second, `<option value="boligselskaberne" selected>`, `value="jobcaf"`,
			`href="/indsatser?kilde=boligselskaberne&amp;q=jobcaf">Første side</a>`)
		if strings.Contains(second.body, `rel="next"`) {
			t.Error("the second page of 51 has a next page")
		}
	})
}
