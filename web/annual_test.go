package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/web"
)

// The plan ran 2021-2025 and the tests run after 30.06.2026: every statement is overdue, and releases are held
// for a year the plan moved money in (the fixtures release a tranche in 2021).

func TestAnnualPagesReadOnlyForMembers(t *testing.T) {
	a := newApp(t, web.Config{DevSignIn: true})
	// Money moved in 2021, so 2021 owes a statement; it is overdue and not filed: releases are held.
	funded(t, a.st, "aar-2021", "Lektiecafé i Ringparken", time.Date(2021, 3, 1, 8, 0, 0, 0, time.UTC),
		tranche{lines: []domain.SourceAmount{lbf(domain.Kroner(100_000))}, release: true})
	b := a.browser()
	b.signInAs("og-mette")
	p := b.get("/planen/aarsregnskab")
	if p.status != http.StatusOK {
		t.Fatalf("GET list: %d\n%s", p.status, p.body)
	}
	mustContain(t, p, "Årsregnskab til Landsbyggefonden", `data-testid="annual-years"`, `<th scope="row">2024</th>`,
		"30.06.2025", `data-testid="annual-overdue-2024"`, `href="/planen/aarsregnskab/2024"`, `data-testid="release-hold"`,
		"Nye rater holdes tilbage: årsregnskabet for 2021 skulle have været indsendt til Landsbyggefonden senest 30.06.2022.")
	mustNotContain(t, p, `data-testid="form-annual-settings"`)

	p = b.get("/planen/aarsregnskab/2024")
	if p.status != http.StatusOK {
		t.Fatalf("GET 2024: %d\n%s", p.status, p.body)
	}
	mustContain(t, p, "Årsregnskab 2024", `data-testid="annual-figures"`, `<th scope="col" class="text-align-right">I alt</th>`,
		`<th scope="row">Tilsagn</th>`, "2.741.800,00 kr.", "5.137.800,00 kr.", "Tilgodehavende ved årets udgang",
		`data-testid="annual-definitions"`, `href="/planen/aarsregnskab/2024.xlsx"`, `href="/planen/aarsregnskab/2024.pdf"`, "Kladde")
	mustNotContain(t, p, `data-testid="form-declaration"`, `data-testid="form-filing"`)
	form := url.Values{"csrf_token": {b.csrf("/planen/aarsregnskab/2024")}, "dato": {"2025-03-15"}, "revisor": {"R"}, "reference": {"X"}}
	if p := b.post("/planen/aarsregnskab/2024/erklaering", form); p.status != http.StatusForbidden {
		t.Errorf("declaration by the operational group: %d, want 403", p.status)
	}

	x := b.get("/planen/aarsregnskab/2024.xlsx")
	if x.status != http.StatusOK || x.header.Get("Content-Disposition") != `attachment; filename="aarsregnskab-viborg-2021-2025-2024.xlsx"` ||
		!strings.HasPrefix(x.body, "PK") {
		t.Errorf("xlsx: %d %q", x.status, x.header.Get("Content-Disposition"))
	}
	pdf := b.get("/planen/aarsregnskab/2024.pdf")
	if pdf.status != http.StatusOK || pdf.header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(pdf.body, "%PDF") {
		t.Errorf("pdf: %d %q", pdf.status, pdf.header.Get("Content-Type"))
	}
	if p := b.get("/planen/aarsregnskab/2019"); p.status != http.StatusNotFound {
		t.Errorf("2019: %d, want 404", p.status)
	}
}

func TestAnnualDeclareFileAndSettingsThroughThePages(t *testing.T) {
	a := newApp(t, web.Config{DevSignIn: true})
	funded(t, a.st, "aar-2021", "Lektiecafé i Ringparken", time.Date(2021, 3, 1, 8, 0, 0, 0, time.UTC),
		tranche{lines: []domain.SourceAmount{lbf(domain.Kroner(100_000))}, release: true})
	b := a.browser()
	b.signInAs("adm-karen")
	const yearPath = "/planen/aarsregnskab/2024"
	p := b.get(yearPath)
	mustContain(t, p, `data-testid="form-declaration"`, `<label class="form-label" for="erklaering-revisor">Revisor</label>`)
	mustNotContain(t, p, `data-testid="form-filing"`)
	csrf := b.csrf(yearPath)

	// A date that does not parse, and a missing auditor: the errors at the fields, the values as typed.
	p = b.post(yearPath+"/erklaering", url.Values{"csrf_token": {csrf}, "dato": {"15.03.2025"}, "revisor": {"Revisor Hansen"}, "reference": {"RE-17"}})
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad date: %d\n%s", p.status, p.body)
	}
	mustContain(t, p, `href="#erklaering-dato"`, `id="erklaering-dato-fejl"`, `value="Revisor Hansen"`)
	p = b.post(yearPath+"/erklaering", url.Values{"csrf_token": {csrf}, "dato": {"2025-03-15"}, "reference": {"RE-17"}})
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("no auditor: %d\n%s", p.status, p.body)
	}
	mustContain(t, p, `href="#erklaering-revisor"`, "Angiv revisorens navn.")

	decl := url.Values{"csrf_token": {csrf}, "dato": {"2025-03-15"}, "revisor": {"Revisor Hansen"}, "reference": {"RE-17"}}
	p = b.post(yearPath+"/erklaering", decl)
	if p.status != http.StatusSeeOther || p.header.Get("Location") != yearPath {
		t.Fatalf("declare: %d %q\n%s", p.status, p.header.Get("Location"), p.body)
	}
	p = b.get(yearPath)
	mustContain(t, p, `data-testid="flash"`, "Revisorerklæret", "15.03.2025, Revisor Hansen, reference RE-17",
		`data-testid="form-filing"`, `data-testid="annual-history"`)
	mustNotContain(t, p, `data-testid="form-declaration"`, `data-testid="annual-changed"`)
	// Another declaration of the same year is a conflict, said on the page.
	decl.Set("revisor", "Revisor Jensen")
	p = b.post(yearPath+"/erklaering", decl)
	if p.status != http.StatusConflict {
		t.Fatalf("second declaration: %d\n%s", p.status, p.body)
	}
	mustContain(t, p, "allerede revisorerklæret")

	p = b.post(yearPath+"/indsendelse", url.Values{"csrf_token": {csrf}, "dato": {"2025-03-14"}})
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("filing before the declaration: %d\n%s", p.status, p.body)
	}
	mustContain(t, p, `href="#indsendelse-dato"`, "før revisorerklæringen (15.03.2025)")
	p = b.post(yearPath+"/indsendelse", url.Values{"csrf_token": {csrf}, "dato": {"2025-03-20"}, "note": {"Sendt via LBF's portal"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("file: %d\n%s", p.status, p.body)
	}
	p = b.get(yearPath)
	mustContain(t, p, "Indsendt til Landsbyggefonden", "20.03.2025", "Markeret som indsendt til Landsbyggefonden den 20.03.2025")
	mustNotContain(t, p, `data-testid="form-filing"`, `data-testid="annual-overdue"`)
	list := b.get("/planen/aarsregnskab")
	mustNotContain(t, list, `data-testid="annual-overdue-2024"`)
	mustContain(t, list, `data-testid="annual-overdue-2023"`, `data-testid="form-annual-settings"`)

	// Settings: 29 February does not exist every year; turning the hold off removes the banner.
	p = b.post("/planen/aarsregnskab/indstillinger", url.Values{"csrf_token": {csrf}, "maaned": {"2"}, "dag": {"29"}, "tilbagehold": {"ja"}})
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("29 February: %d\n%s", p.status, p.body)
	}
	mustContain(t, p, `href="#frist-dag"`, `id="frist-dag-fejl"`, `value="29"`)
	p = b.post("/planen/aarsregnskab/indstillinger", url.Values{"csrf_token": {csrf}, "maaned": {"5"}, "dag": {"31"}, "note": {"Aftalt med LBF"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("settings: %d\n%s", p.status, p.body)
	}
	list = b.get("/planen/aarsregnskab")
	mustContain(t, list, "31.05.2022", `data-testid="annual-settings-history"`, "Aftalt med LBF", "Nye rater frigives")
	mustNotContain(t, list, `data-testid="release-hold"`)
}
