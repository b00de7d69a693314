package payfile

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/helhedsplan/helhedsplan/domain"
)

// Row is one pending disbursement as the CSV and XLSX exports list it: what is to be paid, to whom and when, or
// why it cannot go into a payment file yet.
type Row struct {
	DisbursementID  string
	EndToEndID      string // "" when the disbursement is not in the payment file
	InitiativeTitle string
	MilestoneNo     int
	MilestoneTitle  string
	AmountØre       domain.Money
	Released        domain.Date
	ExecutionDate   domain.Date
	RecipientName   string
	Account         string // the IBAN paid to
	NotExportable   string // why it is not in the payment file; "" when it is
}

// Headers are the Danish column names of both exports.
var Headers = []string{"Udbetaling", "End-to-end-reference", "Indsats", "Milepæl nr.", "Milepæl", "Beløb (kr.)",
	"Frigivet", "Betales", "Modtager", "Konto (IBAN)", "Ikke i betalingsfil fordi"}

// CSV writes the rows for Danish Excel: UTF-8 with a byte-order mark, semicolons, amounts with a decimal comma and
// no thousands separator, dates as 31.12.2025; text a user typed never starts a formula.
func CSV(rows []Row) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("\uFEFF")
	w := csv.NewWriter(&buf)
	w.Comma = ';'
	w.UseCRLF = true
	_ = w.Write(Headers)
	for _, r := range rows {
		_ = w.Write([]string{r.DisbursementID, r.EndToEndID, safeText(r.InitiativeTitle), strconv.Itoa(r.MilestoneNo),
			safeText(r.MilestoneTitle), strings.Replace(Amount(r.AmountØre), ".", ",", 1), danishDate(r.Released),
			danishDate(r.ExecutionDate), safeText(r.RecipientName), r.Account, r.NotExportable})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, fmt.Errorf("payfile: csv: %w", err)
	}
	return buf.Bytes(), nil
}

// SheetName is the XLSX workbook's one sheet.
const SheetName = "Udbetalinger"

// XLSX writes the rows as a workbook with one sheet: Danish headers in bold, amounts as numbers in kroner with the
// format "#,##0.00" (Excel shows them the Danish way, 1.234,50, in a Danish locale), dates as dates.
func XLSX(rows []Row) ([]byte, error) {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", SheetName); err != nil {
		return nil, fmt.Errorf("payfile: xlsx: %w", err)
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return nil, fmt.Errorf("payfile: xlsx: %w", err)
	}
	numFmt := "#,##0.00"
	money, err := f.NewStyle(&excelize.Style{CustomNumFmt: &numFmt})
	if err != nil {
		return nil, fmt.Errorf("payfile: xlsx: %w", err)
	}
	dateFmt := "dd-mm-yyyy"
	date, err := f.NewStyle(&excelize.Style{CustomNumFmt: &dateFmt})
	if err != nil {
		return nil, fmt.Errorf("payfile: xlsx: %w", err)
	}
	header := make([]any, len(Headers))
	for i, h := range Headers {
		header[i] = h
	}
	if err := f.SetSheetRow(SheetName, "A1", &header); err != nil {
		return nil, fmt.Errorf("payfile: xlsx: %w", err)
	}
	last, _ := excelize.ColumnNumberToName(len(Headers))
	if err := f.SetCellStyle(SheetName, "A1", last+"1", bold); err != nil {
		return nil, fmt.Errorf("payfile: xlsx: %w", err)
	}
	for i, r := range rows {
		n := i + 2
		// Kroner as a float is exact enough to show: øre/100 has two decimals and amounts stay far below 2^53 øre.
		vals := []any{r.DisbursementID, r.EndToEndID, r.InitiativeTitle, r.MilestoneNo, r.MilestoneTitle,
			float64(r.AmountØre) / 100, excelDate(r.Released), excelDate(r.ExecutionDate), r.RecipientName, r.Account,
			r.NotExportable}
		cell, _ := excelize.CoordinatesToCellName(1, n)
		if err := f.SetSheetRow(SheetName, cell, &vals); err != nil {
			return nil, fmt.Errorf("payfile: xlsx: %w", err)
		}
		amount, _ := excelize.CoordinatesToCellName(6, n)
		if err := f.SetCellStyle(SheetName, amount, amount, money); err != nil {
			return nil, fmt.Errorf("payfile: xlsx: %w", err)
		}
		from, _ := excelize.CoordinatesToCellName(7, n)
		to, _ := excelize.CoordinatesToCellName(8, n)
		if err := f.SetCellStyle(SheetName, from, to, date); err != nil {
			return nil, fmt.Errorf("payfile: xlsx: %w", err)
		}
	}
	for col, width := range map[string]float64{"A": 40, "B": 36, "C": 36, "E": 28, "F": 16, "G": 12, "H": 12,
		"I": 32, "J": 24, "K": 50} {
		_ = f.SetColWidth(SheetName, col, col, width)
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		return nil, fmt.Errorf("payfile: xlsx: %w", err)
	}
	return buf.Bytes(), nil
}

// excelDate is a date cell's value: the time (excelize writes it as an Excel date), or empty.
func excelDate(d domain.Date) any {
	if d.IsZero() {
		return ""
	}
	return d.Time()
}

func danishDate(d domain.Date) string {
	if d.IsZero() {
		return ""
	}
	return d.Time().Format("02.01.2006")
}

// safeText keeps text typed by users from being run as a formula in a spreadsheet (CSV injection).
func safeText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
