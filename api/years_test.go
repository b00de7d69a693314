package api

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/payfile"
	"github.com/helhedsplan/helhedsplan/store"
)

const (
	commitmentsPath = "/api/v1/plans/" + planViborg + "/commitments"
	budgetYearsPath = "/api/v1/plans/" + planViborg + "/budget/years"
)

func TestCommitmentsAPI(t *testing.T) {
	t.Parallel()
	a := newBoardAPI(t)

	var c commitmentsOut
	a.want(a.do(http.MethodGet, commitmentsPath, bTokMette, ""), http.StatusOK, &c)
	if fmt.Sprint(c.Years) != "[2021 2022 2023 2024 2025]" || len(c.Sources) != 3 || c.Sources[0].Version != 1 {
		t.Fatalf("commitments = %+v", c)
	}
	lbf := c.Sources[0]
	if lbf.SourceID != "lbf" || lbf.Years[4].AmountOre != 274_180_000 {
		t.Fatalf("lbf = %+v", lbf)
	}

	body := func(based int, first int64) string {
		return fmt.Sprintf(`{"sources":[{"source_id":"lbf","based_on_version":%d,"years":[{"year":2021,"amount_ore":%d},{"year":2025,"amount_ore":%d}]}],"note":"Forskudt"}`,
			based, first, lbf.CommittedOre-first)
	}
	// Only admin changes it.
	a.refused(a.do(http.MethodPut, commitmentsPath, bTokHanne, body(1, 5)), http.StatusForbidden, "forbidden")
	// One øre too many: 422 at the source's field.
	bad := `{"sources":[{"source_id":"lbf","years":[{"year":2021,"amount_ore":1370900001}]},{"source_id":"boligselskaberne","years":[{"year":2030,"amount_ore":1}]}]}`
	a.refused(a.do(http.MethodPut, commitmentsPath, bTokKaren, bad), http.StatusUnprocessableEntity, "validation_failed",
		"commitments[lbf]:sum_mismatch", "commitments[boligselskaberne][2030]:outside_period", "commitments[boligselskaberne]:sum_mismatch")
	a.refused(a.do(http.MethodPut, commitmentsPath, bTokKaren, `{"note":"x"}`), http.StatusUnprocessableEntity,
		"validation_failed", "sources:required")

	var saved commitmentsOut
	a.want(a.do(http.MethodPut, commitmentsPath, bTokKaren, body(1, 5)), http.StatusOK, &saved)
	if got := saved.Sources[0]; got.Version != 2 || got.Years[0].AmountOre != 5 || got.Years[1].AmountOre != 0 {
		t.Errorf("saved lbf = %+v", got)
	}
	// The same again: nothing written, still version 2.
	a.want(a.do(http.MethodPut, commitmentsPath, bTokKaren, body(1, 5)), http.StatusOK, &saved)
	if saved.Sources[0].Version != 2 {
		t.Errorf("repeat wrote version %d", saved.Sources[0].Version)
	}
	// A form made from version 1 that says something else is stale.
	p := a.refused(a.do(http.MethodPut, commitmentsPath, bTokKaren, body(1, 6)), http.StatusConflict, "conflict")
	if !strings.Contains(p.Detail, "version 2") {
		t.Errorf("conflict detail %q", p.Detail)
	}

	var hist struct {
		Items []commitmentVersionOut `json:"items"`
	}
	a.want(a.do(http.MethodGet, commitmentsPath+"/history", bTokMette, ""), http.StatusOK, &hist)
	if len(hist.Items) != 4 || hist.Items[0].Version != 2 || hist.Items[0].ChangedBy == nil ||
		*hist.Items[0].ChangedBy != "adm-karen" || hist.Items[0].Note != "Forskudt" || hist.Items[1].ChangedBy != nil {
		t.Errorf("history = %+v", hist.Items)
	}
	a.refused(a.do(http.MethodGet, "/api/v1/plans/ukendt/commitments", bTokKaren, ""), http.StatusNotFound, "not_found")
}

func TestBudgetYearsAndCSVAPI(t *testing.T) {
	t.Parallel()
	a := newBoardAPI(t)
	var b budgetYearsOut
	a.want(a.do(http.MethodGet, budgetYearsPath, bTokMette, ""), http.StatusOK, &b)
	if len(b.Sources) != 3 || len(b.Total) != 5 || b.Sources[0].Total.CommittedOre != 1_370_900_000 ||
		b.Sources[0].Years[0].ReleasedOre != 0 {
		t.Errorf("budget years = %+v", b)
	}
	rec := a.do(http.MethodGet, "/api/v1/plans/"+planViborg+"/budget.csv", bTokMette, "")
	a.want(rec, http.StatusOK, nil)
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("content type %q", ct)
	}
	lines := strings.Split(strings.TrimPrefix(rec.Body.String(), "\uFEFF"), "\r\n")
	if lines[0] != "År;Finansieringskilde;Kilde-id;Delaftale;Delaftale-id;Frigivet (kr.);Heraf betalt (kr.);Frigivet, ikke betalt (kr.)" {
		t.Errorf("header %q", lines[0])
	}
	if len(lines) != 1+5*3*3+1 || !strings.HasPrefix(lines[1], "2021;") || !strings.HasSuffix(lines[1], ";0,00;0,00;0,00") {
		t.Errorf("%d lines, first row %q", len(lines), lines[1])
	}
}

func TestDelaftaleFrameAPI(t *testing.T) {
	t.Parallel()
	a := newBoardAPI(t)
	path := "/api/v1/plans/" + planViborg + "/delaftaler/beskaeftigelse/frame"
	a.refused(a.do(http.MethodPut, path, bTokHanne, `{"frame_ore":100}`), http.StatusForbidden, "forbidden")
	a.refused(a.do(http.MethodPut, path, bTokKaren, `{"frame_ore":-1}`), http.StatusUnprocessableEntity,
		"validation_failed", "frame_ore:out_of_range")
	a.refused(a.do(http.MethodPut, "/api/v1/plans/"+planViborg+"/delaftaler/ukendt/frame", bTokKaren, `{"frame_ore":1}`),
		http.StatusNotFound, "not_found")
	var out delaftaleFrameOut
	a.want(a.do(http.MethodPut, path, bTokKaren, `{"frame_ore":100000000,"note":"Bestyrelsen 5.3."}`), http.StatusOK, &out)
	if out.FrameOre == nil || *out.FrameOre != 100_000_000 {
		t.Errorf("frame = %+v", out)
	}
	rec := a.do(http.MethodGet, "/api/v1/plans/"+planViborg+"/budget", bTokMette, "")
	var budget map[string]any
	a.want(rec, http.StatusOK, &budget)
	raw, _ := json.Marshal(budget["delaftaler"])
	if !strings.Contains(string(raw), "100000000") {
		t.Errorf("budget delaftaler do not show the frame: %s", raw)
	}
	a.want(a.do(http.MethodPut, path, bTokKaren, `{"frame_ore":null}`), http.StatusOK, &out)
	if out.FrameOre != nil {
		t.Errorf("frame after null = %v", *out.FrameOre)
	}
	h, err := a.st.FrameHistory(t.Context(), planViborg)
	if err != nil || len(h) != 2 {
		t.Errorf("frame history = %+v, %v", h, err)
	}
}

// TestBudgetXLSXMatchesTheCSV: with tranches released in 2022 (one of them paid) the workbook from budget.xlsx has
// every row of budget.csv, in its order, with each amount a number equal to the CSV's to the øre and shown with
// the number format "#,##0.00"; a bold frozen header; a totals row adding up the CSV's columns; and a sheet per
// year holding exactly that year's rows.
func TestBudgetXLSXMatchesTheCSV(t *testing.T) {
	t.Parallel()
	a := newBoardAPI(t)
	ctx := t.Context()
	releasedInitiative(t, a.st, "lektiecafe", "Lektiecafé i Houlkærvænget", domain.Kroner(150_000)+1)
	paid := releasedInitiative(t, a.st, "sommerlejr", "Sommerlejr i Vestervang", domain.Kroner(75_000)+55)
	releasedInitiative(t, a.st, "mentor", "Mentorordning", 99)
	peter := domain.Actor{UserID: "fin-peter", Name: "Peter Holm", Role: domain.RoleFinance}
	at := paid.UpdatedAt.Add(time.Hour)
	paid.Version++
	paid.Phase, paid.UpdatedAt = domain.PhaseExecuting, at
	paid.Milestones[0].TrancheStatus, paid.Milestones[0].PaymentReference, paid.Milestones[0].PaidAt =
		domain.TranchePaid, "NETS-1", &at
	if err := a.st.ConfirmPayment(ctx, store.PayInput{DisbursementID: "sommerlejr-t1", Reference: "NETS-1", Actor: peter,
		Transition: store.Transition{Snapshot: paid, Event: store.Event{InitiativeID: paid.ID, Seq: paid.Version,
			Type: "payment_confirmed", ActorID: peter.UserID, ActorName: peter.Name, ActorRole: peter.Role, At: at,
			PhaseBefore: domain.PhaseFunding, PhaseAfter: domain.PhaseExecuting, Payload: json.RawMessage(`{}`)}}}); err != nil {
		t.Fatal(err)
	}

	rec := a.do(http.MethodGet, "/api/v1/plans/"+planViborg+"/budget.csv", bTokMette, "")
	a.want(rec, http.StatusOK, nil)
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(rec.Body.String(), "\uFEFF")))
	r.Comma = ';'
	csvRows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	ore := func(where, s string) domain.Money {
		t.Helper()
		m, err := payfile.ParseAmount(strings.Replace(s, ",", ".", 1))
		if err != nil {
			t.Fatalf("%s: amount %q: %v", where, s, err)
		}
		return m
	}
	var sums [3]domain.Money
	nonZero := 0
	for _, row := range csvRows[1:] {
		for i := range sums {
			m := ore("csv", row[5+i])
			sums[i] += m
			if m != 0 {
				nonZero++
			}
		}
	}
	if want := [3]domain.Money{domain.Kroner(225_000) + 155, domain.Kroner(75_000) + 55, domain.Kroner(150_000) + 100}; sums != want || nonZero < 3 {
		t.Fatalf("the CSV's sums %v (%d amounts not zero), want %v: the fixture did not release and pay as meant", sums, nonZero, want)
	}

	rec = a.do(http.MethodGet, "/api/v1/plans/"+planViborg+"/budget.xlsx", bTokMette, "")
	a.want(rec, http.StatusOK, nil)
	if ct := rec.Header().Get("Content-Type"); ct != XLSXContentType {
		t.Errorf("content type %q", ct)
	}
	if cd := rec.Header().Get("Content-Disposition"); !strings.Contains(cd, `filename="budget-`+planViborg+"-") ||
		!strings.HasSuffix(cd, `.xlsx"`) {
		t.Errorf("content disposition %q", cd)
	}
	f, err := excelize.OpenReader(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Fatalf("the workbook does not open: %v", err)
	}
	defer f.Close()
	if got := f.GetSheetList(); fmt.Sprint(got) != "[Budget 2021 2022 2023 2024 2025]" {
		t.Fatalf("sheets %v", got)
	}

	// checkSheet compares a sheet with the CSV rows it must hold, cell by cell, and its totals row with their sums.
	checkSheet := func(sheet string, want [][]string) {
		t.Helper()
		got, err := f.GetRows(sheet, excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want)+2 {
			t.Fatalf("sheet %s has %d rows, want header + %d + totals", sheet, len(got), len(want))
		}
		if diff := cmp.Diff(csvRows[0], got[0]); diff != "" {
			t.Errorf("sheet %s header (-csv +xlsx):\n%s", sheet, diff)
		}
		var sum [3]domain.Money
		for i, w := range want {
			n := i + 2
			g := got[i+1]
			if diff := cmp.Diff(w[:5], g[:5]); diff != "" {
				t.Errorf("sheet %s row %d (-csv +xlsx):\n%s", sheet, n, diff)
			}
			if typ, _ := f.GetCellType(sheet, "A"+strconv.Itoa(n)); typ != excelize.CellTypeNumber && typ != excelize.CellTypeUnset {
				t.Errorf("sheet %s A%d: the year is %v, not a number", sheet, n, typ)
			}
			for c := range 3 {
				cell := string(rune('F'+c)) + strconv.Itoa(n)
				x, y := ore(sheet+"!"+cell, g[5+c]), ore("csv", w[5+c])
				if x != y {
					t.Errorf("sheet %s %s: %d øre, the CSV says %d", sheet, cell, x, y)
				}
				sum[c] += x
				checkNumber(t, f, sheet, cell)
			}
		}
		tot := got[len(got)-1]
		if tot[0] != payfile.BudgetTotalLabel {
			t.Errorf("sheet %s: last row %q, want the totals", sheet, tot)
		}
		for c := range 3 {
			cell := string(rune('F'+c)) + strconv.Itoa(len(got))
			if x := ore(sheet+"!"+cell, tot[5+c]); x != sum[c] {
				t.Errorf("sheet %s totals %s: %d øre, the rows add up to %d", sheet, cell, x, sum[c])
			}
			checkNumber(t, f, sheet, cell)
		}
		panes, err := f.GetPanes(sheet)
		if err != nil || !panes.Freeze || panes.YSplit != 1 {
			t.Errorf("sheet %s: panes %+v, %v: the header row is not frozen", sheet, panes, err)
		}
		if id, _ := f.GetCellStyle(sheet, "A1"); id == 0 {
			t.Errorf("sheet %s: the header has no style", sheet)
		} else if st, _ := f.GetStyle(id); st == nil || st.Font == nil || !st.Font.Bold {
			t.Errorf("sheet %s: the header is not bold", sheet)
		}
	}
	checkSheet(payfile.BudgetSheet, csvRows[1:])
	for _, y := range []string{"2021", "2022", "2023", "2024", "2025"} {
		var of [][]string
		for _, row := range csvRows[1:] {
			if row[0] == y {
				of = append(of, row)
			}
		}
		checkSheet(y, of)
	}
	a.refused(a.do(http.MethodGet, "/api/v1/plans/ukendt/budget.xlsx", bTokMette, ""), http.StatusNotFound, "not_found")
}

// checkNumber fails unless the cell is a number shown with two decimals and a thousands separator.
func checkNumber(t *testing.T, f *excelize.File, sheet, cell string) {
	t.Helper()
	if typ, _ := f.GetCellType(sheet, cell); typ != excelize.CellTypeNumber && typ != excelize.CellTypeUnset {
		t.Errorf("%s!%s is %v, not a number", sheet, cell, typ)
	}
	id, err := f.GetCellStyle(sheet, cell)
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.GetStyle(id)
	if err != nil || st == nil || st.CustomNumFmt == nil || *st.CustomNumFmt != "#,##0.00" {
		t.Errorf("%s!%s: style %+v, %v: want the number format #,##0.00", sheet, cell, st, err)
	}
}
