package api

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/helhedsplan/helhedsplan/report"
)

const annualPath = "/api/v1/plans/" + planViborg + "/annual-statements"

// The plan ran 2021-2025 and the tests run after 30.06.2026: every year is over and every statement overdue.

func TestAnnualStatementsAPI(t *testing.T) {
	t.Parallel()
	a := newBoardAPI(t)

	var list struct {
		Items []annualSummaryOut `json:"items"`
	}
	a.want(a.do(http.MethodGet, annualPath, bTokMette, ""), http.StatusOK, &list)
	if len(list.Items) != 5 || list.Items[0].Year != 2021 || list.Items[0].Due != "2022-06-30" ||
		list.Items[3].Status != "draft" || list.Items[3].StatusName != "Kladde" || !list.Items[3].Overdue || !list.Items[4].YearOver {
		t.Fatalf("list = %+v", list.Items)
	}

	var st annualStatementOut
	a.want(a.do(http.MethodGet, annualPath+"/2024", bTokMette, ""), http.StatusOK, &st)
	if st.Year != 2024 || len(st.Figures.Sources) != 3 || st.Figures.Sources[0].CommittedOre != 274_180_000 ||
		st.Figures.Total.CommittedOre != 513_780_000 || st.Declaration != nil || st.Filing != nil {
		t.Fatalf("2024 = %+v", st)
	}
	a.refused(a.do(http.MethodGet, annualPath+"/2019", bTokMette, ""), http.StatusNotFound, "not_found")
	a.refused(a.do(http.MethodGet, annualPath+"/24.doc", bTokMette, ""), http.StatusBadRequest, "bad_request", "year:invalid")
	a.refused(a.do(http.MethodGet, "/api/v1/plans/ukendt/annual-statements/2024", bTokKaren, ""), http.StatusNotFound, "not_found")

	decl := `{"declared_on":"2025-03-15","auditor":"Revisor Hansen","reference":"RE-2024-17","note":"Blank"}`
	a.refused(a.do(http.MethodPut, annualPath+"/2024/declaration", bTokMette, decl), http.StatusForbidden, "forbidden")
	a.refused(a.do(http.MethodPut, annualPath+"/2024/declaration", bTokKaren, `{"declared_on":"15.03.2025","auditor":"A","reference":"R"}`),
		http.StatusUnprocessableEntity, "validation_failed", "declared_on:invalid_date")
	a.refused(a.do(http.MethodPut, annualPath+"/2024/declaration", bTokKaren, `{"declared_on":"2024-12-01","auditor":"A","reference":"R"}`),
		http.StatusUnprocessableEntity, "validation_failed", "declared_on:before_year_end")
	filing := `{"filed_on":"2025-03-20"}`
	p := a.refused(a.do(http.MethodPost, annualPath+"/2024/filing", bTokKaren, filing), http.StatusConflict, "conflict")
	if !strings.Contains(p.Detail, "revisorerklæring") {
		t.Errorf("filing before declaration: %q", p.Detail)
	}

	a.want(a.do(http.MethodPut, annualPath+"/2024/declaration", bTokKaren, decl), http.StatusOK, &st)
	if st.Status != "declared" || st.Declaration == nil || st.Declaration.Auditor != "Revisor Hansen" ||
		st.Declaration.Figures.Total.CommittedOre != 513_780_000 || st.Changed || st.Declaration.RecordedBy != "adm-karen" {
		t.Fatalf("declared = %+v", st)
	}
	// The same declaration again is harmless; another is a conflict.
	a.want(a.do(http.MethodPut, annualPath+"/2024/declaration", bTokKaren, decl), http.StatusOK, &st)
	p = a.refused(a.do(http.MethodPut, annualPath+"/2024/declaration", bTokKaren, strings.Replace(decl, "Hansen", "Jensen", 1)),
		http.StatusConflict, "conflict")
	if !strings.Contains(p.Detail, "allerede revisorerklæret") {
		t.Errorf("second declaration: %q", p.Detail)
	}

	a.want(a.do(http.MethodPost, annualPath+"/2024/filing", bTokKaren, filing, "Idempotency-Key", "fil-2024"), http.StatusOK, &st)
	if st.Status != "filed" || st.Overdue || st.Filing == nil || st.Filing.FiledOn != "2025-03-20" {
		t.Fatalf("filed = %+v", st)
	}
	a.want(a.do(http.MethodPost, annualPath+"/2024/filing", bTokKaren, filing), http.StatusOK, &st)
	a.refused(a.do(http.MethodPost, annualPath+"/2024/filing", bTokKaren, `{"filed_on":"2025-03-21"}`), http.StatusConflict, "conflict")
	a.want(a.do(http.MethodGet, annualPath, bTokMette, ""), http.StatusOK, &list)
	if list.Items[3].Status != "filed" || list.Items[3].Overdue {
		t.Errorf("2024 in the list = %+v", list.Items[3])
	}
}

func TestAnnualStatementExportsAPI(t *testing.T) {
	t.Parallel()
	a := newBoardAPI(t)
	rec := a.do(http.MethodGet, annualPath+"/2024.xlsx", bTokMette, "")
	a.want(rec, http.StatusOK, nil)
	if cd := rec.Header().Get("Content-Disposition"); cd != `attachment; filename="aarsregnskab-viborg-2021-2025-2024.xlsx"` {
		t.Errorf("content disposition %q", cd)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet") {
		t.Errorf("content type %q", ct)
	}
	f, err := excelize.OpenReader(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Fatalf("the workbook does not open: %v", err)
	}
	defer f.Close()
	// Tilsagn, total column (3 sources): 513.780.000 øre = 5.137.800,00 kr.
	got, err := f.GetCellValue(report.SheetName(2024), report.XLSXCell(0, 3), excelize.Options{RawCellValue: true})
	if err != nil || got != "5137800" {
		t.Errorf("committed total cell = %q, %v", got, err)
	}

	rec = a.do(http.MethodGet, annualPath+"/2024.pdf", bTokMette, "")
	a.want(rec, http.StatusOK, nil)
	if cd := rec.Header().Get("Content-Disposition"); cd != `attachment; filename="aarsregnskab-viborg-2021-2025-2024.pdf"` {
		t.Errorf("content disposition %q", cd)
	}
	if !bytes.HasPrefix(rec.Body.Bytes(), []byte("%PDF")) || rec.Header().Get("Content-Type") != "application/pdf" {
		t.Errorf("not a PDF: %q %.10q", rec.Header().Get("Content-Type"), rec.Body.Bytes())
	}
	a.refused(a.do(http.MethodGet, annualPath+"/2019.pdf", bTokMette, ""), http.StatusNotFound, "not_found")
}

func TestAnnualSettingsAPI(t *testing.T) {
	t.Parallel()
	a := newBoardAPI(t)
	path := annualPath + "/settings"
	var set annualSettingsOut
	a.want(a.do(http.MethodGet, path, bTokMette, ""), http.StatusOK, &set)
	if set.DueMonth != 6 || set.DueDay != 30 || !set.HoldReleases || set.Version != 0 || len(set.History) != 0 {
		t.Fatalf("defaults = %+v", set)
	}
	body := `{"due_month":5,"due_day":31,"hold_releases":false,"note":"Aftalt med LBF"}`
	a.refused(a.do(http.MethodPut, path, bTokHanne, body), http.StatusForbidden, "forbidden")
	a.refused(a.do(http.MethodPut, path, bTokKaren, `{"due_month":2,"due_day":29,"hold_releases":true}`),
		http.StatusUnprocessableEntity, "validation_failed", "due_day:out_of_range")
	a.refused(a.do(http.MethodPut, path, bTokKaren, `{"due_month":5,"due_day":31}`),
		http.StatusUnprocessableEntity, "validation_failed", "hold_releases:required")
	a.want(a.do(http.MethodPut, path, bTokKaren, body), http.StatusOK, &set)
	if set.Version != 1 || set.DueMonth != 5 || set.DueDay != 31 || set.HoldReleases || set.History[0].ChangedBy == nil ||
		*set.History[0].ChangedBy != "adm-karen" || set.History[0].Note != "Aftalt med LBF" {
		t.Errorf("saved = %+v", set)
	}
	var list struct {
		Items []annualSummaryOut `json:"items"`
	}
	a.want(a.do(http.MethodGet, annualPath, bTokMette, ""), http.StatusOK, &list)
	if list.Items[0].Due != "2022-05-31" {
		t.Errorf("due after the change = %q", list.Items[0].Due)
	}
}
