package web_test

import (
	"testing"

	"github.com/helhedsplan/helhedsplan/internal/browsertest"
	"github.com/helhedsplan/helhedsplan/web"
)

// TestMoneyPagesInABrowser opens the pages of the money issue that the other browser tests do not — the split of
// commitments by year, bank statements, in-kind contributions — as the people who use them, with axe-core checking
// each and a screenshot of each under artifacts/screenshots/TestMoneyPagesInABrowser/.
func TestMoneyPagesInABrowser(t *testing.T) {
	a, _ := newPaymentApp(t, web.Config{DevSignIn: true})
	financeFixture(t, a.st)
	closedOut(t, a.st)
	evaluationDue(t, a.st)
	cancelledAfterPaying(t, a.st)
	b := browsertest.Start(t, browsertest.WithBaseURL(a.srv.URL))
	signIn := func(name string) *browsertest.Tab {
		tab := b.NewTab()
		tab.Visit("/log-ind")
		tab.Click("Log ind som " + name)
		return tab
	}
	for _, p := range []struct{ who, path, h1, shot string }{
		{"Karen Iversen", "/planen/aarsfordeling", "Årsfordeling og rammer", "aarsfordeling"},
		{"Karen Iversen", "/oekonomi/naturalydelser", "Naturalydelser", "naturalydelser"},
		{"Peter Holm", "/oekonomi/kontoudtog", "Kontoudtog", "kontoudtog"},
		{"Peter Holm", "/oekonomi", "Økonomi", "oekonomi"},
		{"Peter Holm", "/oekonomi/tilbagebetalinger", "Tilbagebetalinger", "tilbagebetalinger"},
		{"Peter Holm", "/indsatser/afsluttet", "Jobcafé i Vestervang", "afsluttet-indsats"},
		{"Karen Iversen", "/planen/aarsregnskab", "Årsregnskab til Landsbyggefonden", "aarsregnskab"},
		{"Karen Iversen", "/planen/aarsregnskab/2023", "Årsregnskab 2023", "aarsregnskab-2023"},
		{"Karen Iversen", "/planen", "Boligsocial helhedsplan 2021-2025, Viborg Kommune", "planen-rater-holdes-tilbage"},
		{"Mette Kjær", "/indsatser/evalueres", "Lektiecafé i Ringparken", "evaluering-med-forbrug"},
		{"Mette Kjær", "/indsatser/annulleret", "Cykelværksted i Ringparken", "annulleret-afregning"},
	} {
		tab := signIn(p.who)
		tab.Visit(p.path)
		if got := tab.Text("h1"); got != p.h1 {
			t.Fatalf("%s as %s: h1 %q, want %q", p.path, p.who, got, p.h1)
		}
		tab.Page(p.shot)
	}
}
