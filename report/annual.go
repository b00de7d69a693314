// Package report writes documents for people outside the product: the annual statement to Landsbyggefonden as a
// spreadsheet (XLSX) and as a printable PDF. It reads the store's statement and formats it; it decides nothing.
package report

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"
	"github.com/xuri/excelize/v2"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

// Both exports show the figures the statement stands on: once declared, the figures frozen at the auditor's
// declaration (what the auditor signed), with a remark when the live figures have changed since; before that, the
// live figures of the draft. Figures are rows, the sources and the total are columns, in the page's order.

// AnnualFigures returns the figures an export shows and a line saying which they are.
func AnnualFigures(st store.AnnualStatement) (domain.AnnualStatementFigures, string) {
	if st.Declaration == nil {
		return st.Figures, "Foreløbige tal (kladde), beregnet ud fra regnskabet, som det står nu."
	}
	if st.Changed {
		return st.Declaration.Figures, "Tallene som ved revisorerklæringen. Bemærk: regnskabet er ændret siden; " +
			"de aktuelle tal afviger."
	}
	return st.Declaration.Figures, "Tallene som ved revisorerklæringen."
}

// AnnualFileName is the download's file name: aarsregnskab-<plan>-<year>.<ext>.
func AnnualFileName(planID string, year int, ext string) string {
	return fmt.Sprintf("aarsregnskab-%s-%d.%s", planID, year, ext)
}

// AnnualTitle is the document's title.
func AnnualTitle(year int) string {
	return fmt.Sprintf("Årsregnskab %d til Landsbyggefonden", year)
}

// annualFacts are the lines above the table: label and value.
func annualFacts(st store.AnnualStatement, generatedAt time.Time) [][2]string {
	decl := "Ikke revisorerklæret endnu"
	if d := st.Declaration; d != nil {
		decl = fmt.Sprintf("%s, %s, reference %s", domain.DanishDate(d.DeclaredOn), d.Auditor, d.Reference)
	}
	filed := "Ikke indsendt endnu"
	if f := st.Filing; f != nil {
		filed = domain.DanishDate(f.FiledOn)
	}
	return [][2]string{
		{"Plan", fmt.Sprintf("%s (%s)", st.PlanName, st.PlanID)},
		{"År", fmt.Sprint(st.Year)},
		{"Status", st.Status.DanishName()},
		{"Frist for indsendelse", domain.DanishDate(st.Due)},
		{"Revisorerklæring", decl},
		{"Indsendt til Landsbyggefonden", filed},
		{"Dannet", generatedAt.In(domain.Copenhagen).Format("02.01.2006 15:04")},
	}
}

// SheetName is the statement's sheet in the workbook.
func SheetName(year int) string { return fmt.Sprintf("Årsregnskab %d", year) }

// XLSX layout: the table's header row and its first figure row (1-based), and its first amount column.
const (
	xlsxHeaderRow = 11
	xlsxFirstRow  = 12
)

// AnnualXLSX writes the statement as a workbook with one sheet: the title, the facts, the table (figures as rows;
// sources and the total as columns; amounts as numbers in kroner with the format "#,##0.00") and the definitions.
func AnnualXLSX(st store.AnnualStatement, generatedAt time.Time) ([]byte, error) {
	figures, basis := AnnualFigures(st)
	f := excelize.NewFile()
	defer f.Close()
	sheet := SheetName(st.Year)
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		return nil, fmt.Errorf("report: xlsx: %w", err)
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return nil, fmt.Errorf("report: xlsx: %w", err)
	}
	title, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 14}})
	if err != nil {
		return nil, fmt.Errorf("report: xlsx: %w", err)
	}
	numFmt := "#,##0.00"
	money, err := f.NewStyle(&excelize.Style{CustomNumFmt: &numFmt})
	if err != nil {
		return nil, fmt.Errorf("report: xlsx: %w", err)
	}
	moneyBold, err := f.NewStyle(&excelize.Style{CustomNumFmt: &numFmt, Font: &excelize.Font{Bold: true}})
	if err != nil {
		return nil, fmt.Errorf("report: xlsx: %w", err)
	}
	var werr error
	set := func(col, row int, v any, style int) {
		if werr != nil {
			return
		}
		cell, _ := excelize.CoordinatesToCellName(col, row)
		if s, ok := v.(string); ok {
			v = safeText(s)
		}
		if werr = f.SetCellValue(sheet, cell, v); werr == nil && style != 0 {
			werr = f.SetCellStyle(sheet, cell, cell, style)
		}
	}
	set(1, 1, AnnualTitle(st.Year), title)
	for i, fact := range annualFacts(st, generatedAt) {
		set(1, 2+i, fact[0], bold)
		set(2, 2+i, fact[1], 0)
	}
	set(1, 9, basis, 0)
	set(1, xlsxHeaderRow, "Beløb i kr.", bold)
	for j, s := range figures.Sources {
		set(2+j, xlsxHeaderRow, s.Name, bold)
	}
	totalCol := 2 + len(figures.Sources)
	set(totalCol, xlsxHeaderRow, "I alt", bold)
	for i, def := range domain.AnnualFigureDefs {
		row := xlsxFirstRow + i
		set(1, row, def.Label, 0)
		for j, s := range figures.Sources {
			set(2+j, row, kroner(def.Value(s.AnnualFigures)), money)
		}
		set(totalCol, row, kroner(def.Value(figures.Total)), moneyBold)
	}
	defRow := xlsxFirstRow + len(domain.AnnualFigureDefs) + 1
	set(1, defRow, "Definitioner", bold)
	for i, def := range domain.AnnualFigureDefs {
		set(1, defRow+1+i, def.Label, 0)
		set(2, defRow+1+i, def.Definition, 0)
	}
	if werr != nil {
		return nil, fmt.Errorf("report: xlsx: %w", werr)
	}
	_ = f.SetColWidth(sheet, "A", "A", 34)
	last, _ := excelize.ColumnNumberToName(totalCol)
	_ = f.SetColWidth(sheet, "B", last, 22)
	buf, err := f.WriteToBuffer()
	if err != nil {
		return nil, fmt.Errorf("report: xlsx: %w", err)
	}
	return buf.Bytes(), nil
}

// XLSXCell is the cell of the workbook that holds figure i (its index in domain.AnnualFigureDefs) of column col (0
// for the first source, len(sources) for the total); tests and readers of the workbook use it.
func XLSXCell(i, col int) string {
	cell, _ := excelize.CoordinatesToCellName(2+col, xlsxFirstRow+i)
	return cell
}

// kroner is the amount as a number of kroner. A float is exact enough to show: øre/100 has two decimals and the
// amounts stay far below 2^53 øre.
func kroner(m domain.Money) float64 { return float64(m) / 100 }

// safeText keeps text typed by users from being run as a formula in a spreadsheet.
func safeText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// AnnualPDF writes the statement as an A4 PDF: title, facts, the table with totals, the declaration and filing,
// the definitions and when it was generated. compress false writes the content streams uncompressed (for tests
// that read the text back).
func AnnualPDF(st store.AnnualStatement, generatedAt time.Time, compress bool) ([]byte, error) {
	figures, basis := AnnualFigures(st)
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCompression(compress)
	pdf.SetMargins(15, 15, 15)
	pdf.SetAutoPageBreak(true, 15)
	pdf.SetCreationDate(generatedAt)
	pdf.SetModificationDate(generatedAt)
	tr := pdf.UnicodeTranslatorFromDescriptor("") // the core fonts are cp1252: æ, ø, å
	pdf.SetTitle(AnnualTitle(st.Year), true)
	pdf.SetAuthor(st.PlanName, true)
	pdf.SetFooterFunc(func() {
		pdf.SetY(-12)
		pdf.SetFont("Helvetica", "", 8)
		pdf.CellFormat(0, 5, tr(fmt.Sprintf("%s · %s · side %d", AnnualTitle(st.Year), st.PlanName, pdf.PageNo())),
			"", 0, "C", false, 0, "")
	})
	pdf.AddPage()

	pdf.SetFont("Helvetica", "B", 16)
	pdf.CellFormat(0, 9, tr(AnnualTitle(st.Year)), "", 1, "L", false, 0, "")
	pdf.Ln(2)
	pdf.SetFont("Helvetica", "", 10)
	for _, fact := range annualFacts(st, generatedAt) {
		pdf.SetFont("Helvetica", "B", 10)
		pdf.CellFormat(55, 5.5, tr(fact[0]), "", 0, "L", false, 0, "")
		pdf.SetFont("Helvetica", "", 10)
		pdf.MultiCell(0, 5.5, tr(fact[1]), "", "L", false)
	}
	pdf.Ln(2)
	pdf.SetFont("Helvetica", "I", 9)
	pdf.MultiCell(0, 5, tr(basis), "", "L", false)
	pdf.Ln(3)

	// The table: the figure's label, then a column per source and the total.
	const labelW, width = 52.0, 180.0
	cols := len(figures.Sources) + 1
	colW := (width - labelW) / float64(cols)
	pdf.SetFont("Helvetica", "B", 8)
	pdf.SetFillColor(230, 230, 230)
	pdf.CellFormat(labelW, 7, tr("Beløb i kr."), "1", 0, "L", true, 0, "")
	for _, s := range figures.Sources {
		pdf.CellFormat(colW, 7, tr(fit(pdf, tr, s.Name, colW-2)), "1", 0, "R", true, 0, "")
	}
	pdf.CellFormat(colW, 7, tr("I alt"), "1", 1, "R", true, 0, "")
	for _, def := range domain.AnnualFigureDefs {
		pdf.SetFont("Helvetica", "", 8)
		pdf.CellFormat(labelW, 6, tr(fit(pdf, tr, def.Label, labelW-2)), "1", 0, "L", false, 0, "")
		for _, s := range figures.Sources {
			pdf.CellFormat(colW, 6, pdfAmount(def.Value(s.AnnualFigures)), "1", 0, "R", false, 0, "")
		}
		pdf.SetFont("Helvetica", "B", 8)
		pdf.CellFormat(colW, 6, pdfAmount(def.Value(figures.Total)), "1", 1, "R", false, 0, "")
	}
	pdf.Ln(5)

	pdf.SetFont("Helvetica", "B", 11)
	pdf.CellFormat(0, 6, tr("Revisorerklæring"), "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 10)
	if d := st.Declaration; d != nil {
		lines := []string{
			"Revisor: " + d.Auditor,
			"Dato for erklæringen: " + domain.DanishDate(d.DeclaredOn),
			"Reference: " + d.Reference,
		}
		if d.Note != "" {
			lines = append(lines, "Bemærkning: "+d.Note)
		}
		lines = append(lines, "Registreret af "+nameOr(d.RecordedByName, d.RecordedBy)+" den "+
			d.RecordedAt.In(domain.Copenhagen).Format("02.01.2006 15:04"))
		for _, l := range lines {
			pdf.MultiCell(0, 5, tr(l), "", "L", false)
		}
	} else {
		pdf.MultiCell(0, 5, tr("Årsregnskabet er endnu ikke revisorerklæret."), "", "L", false)
	}
	if fl := st.Filing; fl != nil {
		pdf.MultiCell(0, 5, tr("Indsendt til Landsbyggefonden den "+domain.DanishDate(fl.FiledOn)+"."), "", "L", false)
	}
	pdf.Ln(4)

	pdf.SetFont("Helvetica", "B", 11)
	pdf.CellFormat(0, 6, tr("Definitioner"), "", 1, "L", false, 0, "")
	for _, def := range domain.AnnualFigureDefs {
		pdf.SetFont("Helvetica", "B", 8)
		pdf.CellFormat(52, 4.5, tr(fit(pdf, tr, def.Label, 50)), "", 0, "L", false, 0, "")
		pdf.SetFont("Helvetica", "", 8)
		pdf.MultiCell(0, 4.5, tr(def.Definition), "", "L", false)
	}
	pdf.Ln(3)
	pdf.SetFont("Helvetica", "I", 8)
	pdf.CellFormat(0, 5, tr("Dannet "+generatedAt.In(domain.Copenhagen).Format("02.01.2006 kl. 15:04")+" (dansk tid)."),
		"", 1, "L", false, 0, "")

	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("report: pdf: %w", err)
	}
	return buf.Bytes(), nil
}

// pdfAmount is the amount the Danish way without the unit: "1.234.567,89".
func pdfAmount(m domain.Money) string { return strings.TrimSuffix(m.String(), " kr.") }

// fit shortens s with an ellipsis until it is at most w wide in the current font.
func fit(pdf *fpdf.Fpdf, tr func(string) string, s string, w float64) string {
	if pdf.GetStringWidth(tr(s)) <= w {
		return s
	}
	r := []rune(s)
	for len(r) > 1 && pdf.GetStringWidth(tr(string(r)+"…")) > w {
		r = r[:len(r)-1]
	}
	return strings.TrimSpace(string(r)) + "…"
}

func nameOr(name, id string) string {
	if name != "" {
		return name
	}
	return id
}
