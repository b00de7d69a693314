package web_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/payfile"
	"github.com/helhedsplan/helhedsplan/web"
)

// splitForm is the årsfordeling form with the seeded even split, changed by edits ("lbf_2021" → "0").
func splitForm(csrf string, versions map[string]string, edits map[string]string) url.Values {
	even := map[string]string{"lbf": "2.741.800", "viborg-kommune": "1.440.000", "boligselskaberne": "956.000"}
	f := url.Values{"csrf_token": {csrf}, "note": {"Forskudt efter aftale med LBF"}}
	for src, amount := range even {
		v := versions[src]
		if v == "" {
			v = "1"
		}
		f.Set("version_"+src, v)
		for _, y := range []string{"2021", "2022", "2023", "2024", "2025"} {
			f.Set("beloeb_"+src+"_"+y, amount)
		}
	}
	for k, v := range edits {
		f.Set("beloeb_"+k, v)
	}
	return f
}

func TestYearsPageReadOnlyForMembersAndLinkedFromPlan(t *testing.T) {
	a := newApp(t, web.Config{DevSignIn: true})
	b := a.browser()
	b.signInAs("og-mette")
	p := b.get("/planen/aarsfordeling")
	if p.status != http.StatusOK {
		t.Fatalf("GET: %d\n%s", p.status, p.body)
	}
	mustContain(t, p, "Årsfordeling og rammer", `data-testid="commitments"`, "2.741.800", "956.000", "13.709.000 kr.",
		"Systemet", "Ingen ramme")
	mustNotContain(t, p, `data-testid="form-commitments"`, `data-testid="form-frame"`)
	if p := b.post("/planen/aarsfordeling", splitForm(b.csrf("/planen/aarsfordeling"), nil, nil)); p.status != http.StatusForbidden {
		t.Errorf("POST by the operational group: %d, want 403", p.status)
	}
	plan := b.get("/planen")
	mustContain(t, plan, `href="/planen/aarsfordeling"`, `data-testid="budget-years"`, `href="/planen/budget.csv"`,
		"Budget pr. år", "2.741.800 kr.")
	csv := b.get("/planen/budget.csv")
	if csv.status != http.StatusOK || !strings.HasPrefix(csv.header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(csv.body, "År;Finansieringskilde;Kilde-id;Delaftale") {
		t.Errorf("CSV: %d %q\n%.300s", csv.status, csv.header.Get("Content-Type"), csv.body)
	}
}

func TestChangeTheSplitThroughThePage(t *testing.T) {
	a := newApp(t, web.Config{DevSignIn: true})
	b := a.browser()
	b.signInAs("adm-karen")
	p := b.get("/planen/aarsfordeling")
	mustContain(t, p, `data-testid="form-commitments"`, `name="version_lbf" value="1"`,
		`name="beloeb_lbf_2021" value="2.741.800"`)
	csrf := b.csrf("/planen/aarsfordeling")

	// Not an amount: the error at the field and in the summary, the values as typed.
	p = b.post("/planen/aarsfordeling", splitForm(csrf, nil, map[string]string{"lbf_2021": "to mio."}))
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("malformed amount: %d\n%s", p.status, p.body)
	}
	mustContain(t, p, `href="#aar-lbf-2021"`, `id="aar-lbf-2021-fejl"`, "Skriv beløbet i kroner", `value="to mio."`)

	// One krone too many for LBF: the sum's error at the source.
	p = b.post("/planen/aarsfordeling", splitForm(csrf, nil, map[string]string{"lbf_2022": "2.741.801"}))
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("wrong sum: %d\n%s", p.status, p.body)
	}
	mustContain(t, p, `href="#aar-lbf"`, `id="aar-lbf-fejl"`, "giver i alt 13.709.001,00 kr.", `value="2.741.801"`)

	// A valid change: LBF's 2021 moved to 2022. The other sources' amounts are unchanged, but saving the form
	// records that admin decided the seed's placeholder split: version 2, and from now on it binds approvals.
	p = b.post("/planen/aarsfordeling", splitForm(csrf, nil, map[string]string{"lbf_2021": "0", "lbf_2022": "5.483.600"}))
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/planen/aarsfordeling" {
		t.Fatalf("change: %d %q\n%s", p.status, p.header.Get("Location"), p.body)
	}
	p = b.get("/planen/aarsfordeling")
	mustContain(t, p, "Årsfordelingen er gemt.", `name="version_lbf" value="2"`, `name="version_viborg-kommune" value="2"`,
		`name="beloeb_lbf_2022" value="5.483.600"`, "Karen Iversen", "Forskudt efter aftale med LBF")
	c, err := a.st.Commitments(context.Background(), planID)
	if err != nil || c.Sources[0].Years[1].AmountØre != 548_360_000 || c.Sources[1].Version != 2 ||
		c.Sources[1].ChangedBy != "adm-karen" {
		t.Fatalf("stored = %+v, %v", c, err)
	}

	// A form made from version 1 is stale now: 409, the split as it is now.
	p = b.post("/planen/aarsfordeling", splitForm(csrf, nil, map[string]string{"lbf_2025": "0", "lbf_2024": "5.483.600"}))
	if p.status != http.StatusConflict {
		t.Fatalf("stale form: %d\n%s", p.status, p.body)
	}
	mustContain(t, p, "er blevet ændret (nu version 2)", `name="beloeb_lbf_2022" value="5.483.600"`)
}

func TestSetDelaftaleFrameThroughThePage(t *testing.T) {
	a := newApp(t, web.Config{DevSignIn: true})
	b := a.browser()
	b.signInAs("adm-karen")
	csrf := b.csrf("/planen/aarsfordeling")
	p := b.post("/planen/aarsfordeling/ramme", url.Values{"csrf_token": {csrf}, "delaftale": {"beskaeftigelse"},
		"ramme": {"-5"}})
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("negative frame: %d\n%s", p.status, p.body)
	}
	mustContain(t, p, `href="#ramme-beloeb"`, "Beløbet kan ikke være negativt.", `value="-5"`)
	p = b.post("/planen/aarsfordeling/ramme", url.Values{"csrf_token": {csrf}, "delaftale": {"beskaeftigelse"},
		"ramme": {"1.000.000"}, "note": {"Bestyrelsen 5. marts"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("frame: %d\n%s", p.status, p.body)
	}
	p = b.get("/planen/aarsfordeling")
	mustContain(t, p, "Rammen er gemt.", "1.000.000 kr.", "Bestyrelsen 5. marts", `data-testid="frame-history"`)
}

// TestBudgetXLSXFromThePlanPage: the plan page offers the budget as Excel next to the CSV; the workbook it links
// to opens and its sheet "Budget" holds the CSV's rows with the same figures to the øre, as numbers, and a totals
// row with their sums (the fixture has 1.234.567,50 kr. paid and 575.000 kr. released, not paid, in 2022).
func TestBudgetXLSXFromThePlanPage(t *testing.T) {
	a, _ := newPaymentApp(t, web.Config{DevSignIn: true})
	financeFixture(t, a.st)
	b := a.browser()
	b.signInAs("og-mette")
	mustContain(t, b.get("/planen"), `href="/planen/budget.csv"`, `href="/planen/budget.xlsx"`, "Hent som Excel (XLSX)")

	c := b.get("/planen/budget.csv")
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(c.body, "\uFEFF")))
	r.Comma = ';'
	want, err := r.ReadAll()
	if err != nil || c.status != http.StatusOK {
		t.Fatalf("CSV: %d, %v", c.status, err)
	}
	x := b.get("/planen/budget.xlsx")
	if x.status != http.StatusOK || !strings.Contains(x.header.Get("Content-Disposition"), ".xlsx") {
		t.Fatalf("XLSX: %d %v", x.status, x.header)
	}
	f, err := excelize.OpenReader(strings.NewReader(x.body))
	if err != nil {
		t.Fatalf("the workbook does not open: %v", err)
	}
	defer f.Close()
	got, err := f.GetRows(payfile.BudgetSheet, excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want)+1 {
		t.Fatalf("%d rows in the workbook, %d in the CSV (+ the totals row)", len(got), len(want))
	}
	amount := func(s string) domain.Money {
		t.Helper()
		m, err := payfile.ParseAmount(strings.Replace(s, ",", ".", 1))
		if err != nil {
			t.Fatalf("amount %q: %v", s, err)
		}
		return m
	}
	var sum [3]domain.Money
	for i, w := range want {
		g := got[i]
		if i == 0 {
			if strings.Join(g, ";") != strings.Join(w, ";") {
				t.Errorf("header %q, the CSV's %q", g, w)
			}
			continue
		}
		if strings.Join(g[:5], ";") != strings.Join(w[:5], ";") {
			t.Errorf("row %d: %q, the CSV's %q", i+1, g[:5], w[:5])
		}
		for c := range 3 {
			if gx, wx := amount(g[5+c]), amount(w[5+c]); gx != wx {
				t.Errorf("row %d column %d: %d øre, the CSV's %d", i+1, 6+c, gx, wx)
			}
			sum[c] += amount(w[5+c])
		}
	}
	if wantSum := [3]domain.Money{domain.Kroner(1_809_567) + 50, domain.Kroner(1_234_567) + 50, domain.Kroner(575_000)}; sum != wantSum {
		t.Fatalf("the CSV adds up to %v, want %v", sum, wantSum)
	}
	tot := got[len(got)-1]
	if tot[0] != payfile.BudgetTotalLabel || amount(tot[5]) != sum[0] || amount(tot[6]) != sum[1] || amount(tot[7]) != sum[2] {
		t.Errorf("totals row %q, want %v", tot, sum)
	}
}
