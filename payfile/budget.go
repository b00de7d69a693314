package payfile

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/xuri/excelize/v2"

	"github.com/helhedsplan/helhedsplan/domain"
)

// The budget by funding source × delaftale × year of release as a workbook: the same rows as the budget CSV
// (service.BudgetCSV), with the amounts as numbers.

// BudgetCell is what was released and, of that, paid from one source for one delaftale in one year (Copenhagen
// time): store.BudgetCell's figures.
type BudgetCell struct {
	SourceID    string
	DelaftaleID string
	Year        int
	ReleasedØre domain.Money
	PaidØre     domain.Money
}

// BudgetRow is one row of the budget by source × delaftale × year.
type BudgetRow struct {
	Year          int
	SourceName    string
	SourceID      string
	DelaftaleName string
	DelaftaleID   string
	ReleasedØre   domain.Money
	PaidØre       domain.Money
}

// UnpaidØre is what was released and not yet paid.
func (r BudgetRow) UnpaidØre() domain.Money { return r.ReleasedØre - r.PaidØre }

// BudgetRows lays the cells out as the CSV does: every combination of the plan's years (and any other year with a
// release), its funding sources and its delaftaler, in that order, zeros included, so the sheet pivots without gaps.
func BudgetRows(plan domain.Plan, cells []BudgetCell) []BudgetRow {
	years := domain.PlanYears(plan.PeriodStart, plan.PeriodEnd)
	type key struct {
		src, del string
		year     int
	}
	at := map[key]BudgetCell{}
	for _, c := range cells {
		at[key{c.SourceID, c.DelaftaleID, c.Year}] = c
		if !slices.Contains(years, c.Year) {
			years = append(years, c.Year)
		}
	}
	slices.Sort(years)
	rows := make([]BudgetRow, 0, len(years)*len(plan.FundingSources)*len(plan.Delaftaler))
	for _, y := range years {
		for _, src := range plan.FundingSources {
			for _, d := range plan.Delaftaler {
				c := at[key{src.ID, d.ID, y}]
				rows = append(rows, BudgetRow{Year: y, SourceName: src.Name, SourceID: src.ID, DelaftaleName: d.Name,
					DelaftaleID: d.ID, ReleasedØre: c.ReleasedØre, PaidØre: c.PaidØre})
			}
		}
	}
	return rows
}

// BudgetHeaders are the column names of the budget workbook, the budget CSV's (service.BudgetCSVHeader).
var BudgetHeaders = []string{"År", "Finansieringskilde", "Kilde-id", "Delaftale", "Delaftale-id", "Frigivet (kr.)",
	"Heraf betalt (kr.)", "Frigivet, ikke betalt (kr.)"}

// BudgetSheet is the name of the workbook's sheet with every row; each year has a sheet of its own named by it.
const BudgetSheet = "Budget"

// BudgetTotalLabel is the first cell of each sheet's totals row.
const BudgetTotalLabel = "I alt"

// BudgetXLSX writes the rows as a workbook: the sheet "Budget" with every row, then one sheet per year ("2021",
// ...) with that year's rows. Each sheet has the header in bold and frozen, the amounts as numbers in kroner with
// the format "#,##0.00" (Excel shows them the Danish way in a Danish locale) and a totals row of plain numbers:
// the sums are added in øre, so the totals are exact and need no recalculation in the reader. Names are written
// as text cells, which a spreadsheet never runs as formulas, so they need no CSV-style apostrophe.
func BudgetXLSX(rows []BudgetRow) ([]byte, error) {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", BudgetSheet); err != nil {
		return nil, fmt.Errorf("payfile: budget xlsx: %w", err)
	}
	st, err := newBudgetStyles(f)
	if err != nil {
		return nil, fmt.Errorf("payfile: budget xlsx: %w", err)
	}
	if err := writeBudgetSheet(f, st, BudgetSheet, rows); err != nil {
		return nil, fmt.Errorf("payfile: budget xlsx: %w", err)
	}
	var years []int
	for _, r := range rows {
		if !slices.Contains(years, r.Year) {
			years = append(years, r.Year)
		}
	}
	for _, y := range years {
		name := strconv.Itoa(y)
		if _, err := f.NewSheet(name); err != nil {
			return nil, fmt.Errorf("payfile: budget xlsx: %w", err)
		}
		var of []BudgetRow
		for _, r := range rows {
			if r.Year == y {
				of = append(of, r)
			}
		}
		if err := writeBudgetSheet(f, st, name, of); err != nil {
			return nil, fmt.Errorf("payfile: budget xlsx: %w", err)
		}
	}
	f.SetActiveSheet(0)
	buf, err := f.WriteToBuffer()
	if err != nil {
		return nil, fmt.Errorf("payfile: budget xlsx: %w", err)
	}
	return buf.Bytes(), nil
}

type budgetStyles struct{ bold, money, boldMoney int }

func newBudgetStyles(f *excelize.File) (budgetStyles, error) {
	numFmt := "#,##0.00"
	var s budgetStyles
	var err error
	if s.bold, err = f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}}); err != nil {
		return s, err
	}
	if s.money, err = f.NewStyle(&excelize.Style{CustomNumFmt: &numFmt}); err != nil {
		return s, err
	}
	s.boldMoney, err = f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}, CustomNumFmt: &numFmt})
	return s, err
}

// writeBudgetSheet writes the header, the rows and the totals row to sheet.
func writeBudgetSheet(f *excelize.File, st budgetStyles, sheet string, rows []BudgetRow) error {
	header := make([]any, len(BudgetHeaders))
	for i, h := range BudgetHeaders {
		header[i] = h
	}
	if err := f.SetSheetRow(sheet, "A1", &header); err != nil {
		return err
	}
	if err := f.SetCellStyle(sheet, "A1", "H1", st.bold); err != nil {
		return err
	}
	var released, paid domain.Money
	for i, r := range rows {
		n := i + 2
		released += r.ReleasedØre
		paid += r.PaidØre
		// Kroner as a float is exact enough to show: øre/100 has two decimals and amounts stay far below 2^53 øre.
		vals := []any{r.Year, r.SourceName, r.SourceID, r.DelaftaleName, r.DelaftaleID, kroner(r.ReleasedØre),
			kroner(r.PaidØre), kroner(r.UnpaidØre())}
		if err := f.SetSheetRow(sheet, "A"+strconv.Itoa(n), &vals); err != nil {
			return err
		}
		if err := f.SetCellStyle(sheet, "F"+strconv.Itoa(n), "H"+strconv.Itoa(n), st.money); err != nil {
			return err
		}
	}
	total := strconv.Itoa(len(rows) + 2)
	totals := []any{BudgetTotalLabel, nil, nil, nil, nil, kroner(released), kroner(paid), kroner(released - paid)}
	if err := f.SetSheetRow(sheet, "A"+total, &totals); err != nil {
		return err
	}
	if err := f.SetCellStyle(sheet, "A"+total, "E"+total, st.bold); err != nil {
		return err
	}
	if err := f.SetCellStyle(sheet, "F"+total, "H"+total, st.boldMoney); err != nil {
		return err
	}
	if err := f.SetPanes(sheet, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	for col, width := range map[string]float64{"A": 8, "B": 34, "C": 18, "D": 36, "E": 30, "F": 18, "G": 18, "H": 26} {
		if err := f.SetColWidth(sheet, col, col, width); err != nil {
			return err
		}
	}
	return nil
}

// kroner is øre as kroner for a number cell.
func kroner(m domain.Money) float64 { return float64(m) / 100 }
