package report_test

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/report"
	"github.com/helhedsplan/helhedsplan/store"
)

// statement is a declared 2024 statement with two sources; the live figures have changed since the declaration.
func statement(t *testing.T) store.AnnualStatement {
	t.Helper()
	frozen, err := domain.BuildAnnualFigures(2024, []domain.AnnualSourceInput{
		{SourceID: "lbf", Name: "Landsbyggefonden", Committed: 274_180_000, Released: 70_000_001, Paid: 30_000_001,
			CumPaid: 30_000_001},
		{SourceID: "viborg-kommune", Name: "Viborg Kommune", Local: true, Committed: 144_000_000, Released: 15_000_003,
			Paid: 10_000_003, InKind: 1_235_566, CumPaid: 20_000_003, CumSpent: 9_000_000, CumReturnsRaised: 1_000_000,
			Returned: 500_000, CumReturned: 500_000},
	})
	if err != nil {
		t.Fatal(err)
	}
	live := frozen
	live.Total.InKindØre++
	return store.AnnualStatement{
		PlanID: "viborg-2021-2025", PlanName: "Helhedsplan Viborg 2021-2025",
		AnnualSummary: store.AnnualSummary{Year: 2024, Status: domain.AnnualDeclared, Due: domain.NewDate(2025, 6, 30)},
		Figures:       live, Changed: true,
		Declaration: &store.AnnualDeclaration{DeclaredOn: domain.NewDate(2025, 3, 15), Auditor: "Revisor Åse Ørsted",
			Reference: "RE-2024-17", Figures: frozen, RecordedBy: "adm-karen", RecordedByName: "Karen Iversen",
			RecordedAt: time.Date(2025, 3, 16, 9, 0, 0, 0, time.UTC)},
	}
}

var generated = time.Date(2025, 4, 1, 8, 30, 0, 0, time.UTC)

func TestAnnualXLSXParsesBackToTheØre(t *testing.T) {
	st := statement(t)
	b, err := report.AnnualXLSX(st, generated)
	if err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("excelize cannot open the workbook: %v", err)
	}
	defer f.Close()
	sheet := report.SheetName(2024)
	if got := f.GetSheetList(); len(got) != 1 || got[0] != sheet {
		t.Fatalf("sheets = %v", got)
	}
	title, _ := f.GetCellValue(sheet, "A1")
	if title != "Årsregnskab 2024 til Landsbyggefonden" {
		t.Errorf("title %q", title)
	}
	frozen := st.Declaration.Figures
	for i, def := range domain.AnnualFigureDefs {
		cols := []domain.AnnualFigures{frozen.Sources[0].AnnualFigures, frozen.Sources[1].AnnualFigures, frozen.Total}
		for col, figs := range cols {
			cell := report.XLSXCell(i, col)
			raw, err := f.GetCellValue(sheet, cell, excelize.Options{RawCellValue: true})
			if err != nil {
				t.Fatal(err)
			}
			got, err := strconv.ParseFloat(raw, 64)
			if err != nil {
				t.Fatalf("%s (%s): %q is not a number", cell, def.Label, raw)
			}
			if want := float64(def.Value(figs)) / 100; got != want {
				t.Errorf("%s (%s, column %d) = %v, want %v", cell, def.Label, col, got, want)
			}
			if style, _ := f.GetCellStyle(sheet, cell); style == 0 {
				t.Errorf("%s has no number format", cell)
			}
		}
	}
	// The total of "Udbetalt" shows the Danish/English way per the number format.
	shown, _ := f.GetCellValue(sheet, report.XLSXCell(2, 2))
	if shown != "400,000.04" {
		t.Errorf("paid total shown as %q", shown)
	}
	rows, _ := f.GetRows(sheet)
	var text strings.Builder
	for _, r := range rows {
		text.WriteString(strings.Join(r, "|") + "\n")
	}
	for _, want := range []string{"Revisor Åse Ørsted", "RE-2024-17", "30.06.2025", "Definitioner",
		"Tilgodehavende ved årets udgang", "regnskabet er ændret siden", "Viborg Kommune", "I alt"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("workbook lacks %q:\n%s", want, text.String())
		}
	}
}

func TestAnnualPDFHasTheYearAndTheTotals(t *testing.T) {
	st := statement(t)
	b, err := report.AnnualPDF(st, generated, false)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("%PDF")) {
		t.Fatalf("not a PDF: %.20q", b)
	}
	// The core fonts write cp1252: æ, ø, å are single bytes in the content stream.
	cp1252 := func(s string) []byte {
		r := strings.NewReplacer("Å", "\xc5", "å", "\xe5", "Ø", "\xd8", "ø", "\xf8", "Æ", "\xc6", "æ", "\xe6")
		return []byte(r.Replace(s))
	}
	for _, want := range []string{"Årsregnskab 2024 til Landsbyggefonden", "400.000,04", "4.181.800,00",
		"Revisor Åse Ørsted", "RE-2024-17", "Dannet 01.04.2025 kl. 10:30"} {
		if !bytes.Contains(b, cp1252(want)) {
			t.Errorf("PDF lacks %q", want)
		}
	}
	if _, err := report.AnnualPDF(st, generated, true); err != nil {
		t.Errorf("compressed: %v", err)
	}
}

func TestAnnualFileName(t *testing.T) {
	if got := report.AnnualFileName("viborg-2021-2025", 2024, "xlsx"); got != "aarsregnskab-viborg-2021-2025-2024.xlsx" {
		t.Errorf("file name %q", got)
	}
}
