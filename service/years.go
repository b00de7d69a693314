package service

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/payfile"
	"github.com/helhedsplan/helhedsplan/store"
)

// The split of the funding sources' commitments by year, the budget by year and the delaftaler's budget frames:
// what the API's /plans/{planID}/commitments, /budget/years, /budget.csv and /delaftaler/{id}/frame and the page
// /planen/aarsfordeling read and do. Every plan member reads them; only the secretariat (admin) changes them.

// YearsStore is what these functions need of the store (implemented by *store.Store); like BoardStore it is not
// part of Store, and a Service over a store without it answers with an error.
type YearsStore interface {
	Commitments(ctx context.Context, planID string) (store.Commitments, error)
	CommitmentHistory(ctx context.Context, planID string) ([]store.SourceCommitment, error)
	SetCommitments(ctx context.Context, planID string, splits []store.CommitmentSplit, actor domain.Actor, note string) (store.Commitments, error)
	BudgetByYear(ctx context.Context, planID string) (store.BudgetYears, error)
	BudgetCells(ctx context.Context, planID string) ([]store.BudgetCell, error)
	SetDelaftaleFrame(ctx context.Context, planID, delaftaleID string, frame *domain.Money, actor domain.Actor, note string) error
	FrameHistory(ctx context.Context, planID string) ([]store.FrameChange, error)
}

var errNoYearsStore = errors.New("service: the store keeps no commitments by year")

func (s *Service) yearsStore() (YearsStore, error) {
	ys, ok := s.st.(YearsStore)
	if !ok {
		return nil, errNoYearsStore
	}
	return ys, nil
}

// MayChangeCommitments says whether p may change planID's split by year and delaftale frames: admin only.
func MayChangeCommitments(p store.Principal, planID string) error {
	role, err := PlanRole(p, planID)
	if err != nil {
		return err
	}
	return RequireRole(role, "ændre årsfordelingen og delaftalernes rammer", domain.RoleAdmin)
}

// readYears checks that p is a member of planID and returns the store.
func (s *Service) readYears(p store.Principal, planID string) (YearsStore, error) {
	if _, err := PlanRole(p, planID); err != nil {
		return nil, err
	}
	return s.yearsStore()
}

// Commitments returns the current split by year of each source; any member of the plan may read it.
func (s *Service) Commitments(ctx context.Context, p store.Principal, planID string) (store.Commitments, error) {
	ys, err := s.readYears(p, planID)
	if err != nil {
		return store.Commitments{}, err
	}
	c, err := ys.Commitments(ctx, planID)
	if err != nil {
		return store.Commitments{}, planErr(err, planID, "commitments")
	}
	return c, nil
}

// CommitmentHistory returns every version of every source's split; any member of the plan may read it.
func (s *Service) CommitmentHistory(ctx context.Context, p store.Principal, planID string) ([]store.SourceCommitment, error) {
	ys, err := s.readYears(p, planID)
	if err != nil {
		return nil, err
	}
	h, err := ys.CommitmentHistory(ctx, planID)
	if err != nil {
		return nil, planErr(err, planID, "commitment history")
	}
	return h, nil
}

// SetCommitments records the splits as the next versions (store.SetCommitments: the rules, the stale check, and no
// version for a split equal to the current one).
func (s *Service) SetCommitments(ctx context.Context, p store.Principal, planID string, splits []store.CommitmentSplit, note string) (store.Commitments, error) {
	if err := MayChangeCommitments(p, planID); err != nil {
		return store.Commitments{}, err
	}
	ys, err := s.yearsStore()
	if err != nil {
		return store.Commitments{}, err
	}
	c, err := ys.SetCommitments(ctx, planID, splits, actor(p, p.Roles[planID]), strings.TrimSpace(note))
	if err != nil {
		return store.Commitments{}, planErr(err, planID, "set commitments")
	}
	s.log.InfoContext(ctx, "commitments by year changed", "plan_id", planID, "user_id", p.UserID)
	return c, nil
}

// BudgetByYear returns committed, released and paid per source and year; any member of the plan may read it.
func (s *Service) BudgetByYear(ctx context.Context, p store.Principal, planID string) (store.BudgetYears, error) {
	ys, err := s.readYears(p, planID)
	if err != nil {
		return store.BudgetYears{}, err
	}
	b, err := ys.BudgetByYear(ctx, planID)
	if err != nil {
		return store.BudgetYears{}, planErr(err, planID, "budget by year")
	}
	return b, nil
}

// BudgetCells returns released and paid per source, delaftale and year; any member of the plan may read them.
func (s *Service) BudgetCells(ctx context.Context, p store.Principal, planID string) ([]store.BudgetCell, error) {
	ys, err := s.readYears(p, planID)
	if err != nil {
		return nil, err
	}
	c, err := ys.BudgetCells(ctx, planID)
	if err != nil {
		return nil, planErr(err, planID, "budget cells")
	}
	return c, nil
}

// SetDelaftaleFrame sets (frame nil: removes) a delaftale's budget frame, with history; admin only.
func (s *Service) SetDelaftaleFrame(ctx context.Context, p store.Principal, planID, delaftaleID string, frame *domain.Money, note string) error {
	if err := MayChangeCommitments(p, planID); err != nil {
		return err
	}
	ys, err := s.yearsStore()
	if err != nil {
		return err
	}
	if err := ys.SetDelaftaleFrame(ctx, planID, delaftaleID, frame, actor(p, p.Roles[planID]), strings.TrimSpace(note)); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return domain.Refuse(domain.CodeNotFound, "Delaftalen %q findes ikke i planen.", shortText(delaftaleID))
		}
		return planErr(err, planID, "set delaftale frame")
	}
	s.log.InfoContext(ctx, "delaftale frame changed", "plan_id", planID, "delaftale_id", delaftaleID, "user_id", p.UserID)
	return nil
}

// FrameHistory returns the changes of the plan's delaftale frames; any member of the plan may read it.
func (s *Service) FrameHistory(ctx context.Context, p store.Principal, planID string) ([]store.FrameChange, error) {
	ys, err := s.readYears(p, planID)
	if err != nil {
		return nil, err
	}
	h, err := ys.FrameHistory(ctx, planID)
	if err != nil {
		return nil, planErr(err, planID, "frame history")
	}
	return h, nil
}

// BudgetCSVHeader is the header row of BudgetCSV.
var BudgetCSVHeader = []string{"År", "Finansieringskilde", "Kilde-id", "Delaftale", "Delaftale-id", "Frigivet (kr.)",
	"Heraf betalt (kr.)", "Frigivet, ikke betalt (kr.)"}

// BudgetCSV is the plan's budget by source × delaftale × year of release as CSV for Danish Excel, like the finance
// page's download: UTF-8 with a byte-order mark, semicolons, CRLF, amounts in kroner with a decimal comma and no
// thousands separator; names that could start a formula get a leading apostrophe. Every combination of the plan's
// sources, delaftaler and years is a row (zeros included), so the sheet pivots without gaps; a year outside the
// plan with a release in it is added. Any member of the plan may download it.
func (s *Service) BudgetCSV(ctx context.Context, p store.Principal, planID string) ([]byte, error) {
	rows, err := s.BudgetRows(ctx, p, planID)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.WriteString("\uFEFF")
	w := csv.NewWriter(&buf)
	w.Comma = ';'
	w.UseCRLF = true
	_ = w.Write(BudgetCSVHeader)
	for _, r := range rows {
		_ = w.Write([]string{strconv.Itoa(r.Year), csvText(r.SourceName), r.SourceID, csvText(r.DelaftaleName),
			r.DelaftaleID, csvAmount(r.ReleasedØre), csvAmount(r.PaidØre), csvAmount(r.UnpaidØre())})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, fmt.Errorf("budget csv of %s: %w", planID, err)
	}
	return buf.Bytes(), nil
}

// BudgetRows is the budget by year × source × delaftale as the CSV and the workbook lay it out
// (payfile.BudgetRows): every combination, zeros included. Any member of the plan may read it.
func (s *Service) BudgetRows(ctx context.Context, p store.Principal, planID string) ([]payfile.BudgetRow, error) {
	cells, err := s.BudgetCells(ctx, p, planID)
	if err != nil {
		return nil, err
	}
	plan, err := s.st.GetPlan(ctx, planID)
	if err != nil {
		return nil, planErr(err, planID, "plan")
	}
	in := make([]payfile.BudgetCell, len(cells))
	for i, c := range cells {
		in[i] = payfile.BudgetCell{SourceID: c.SourceID, DelaftaleID: c.DelaftaleID, Year: c.Year,
			ReleasedØre: c.ReleasedØre, PaidØre: c.PaidØre}
	}
	return payfile.BudgetRows(plan, in), nil
}

// BudgetXLSX is the budget CSV's rows as a workbook (payfile.BudgetXLSX): the amounts as numbers in kroner.
func (s *Service) BudgetXLSX(ctx context.Context, p store.Principal, planID string) ([]byte, error) {
	rows, err := s.BudgetRows(ctx, p, planID)
	if err != nil {
		return nil, err
	}
	return payfile.BudgetXLSX(rows)
}

// csvAmount is kroner with a decimal comma and two decimals, no thousands separator ("1234567,50").
func csvAmount(m domain.Money) string {
	v := int64(m)
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d,%02d", sign, v/100, v%100)
}

// csvText keeps a name from being run as a formula in a spreadsheet (OWASP "CSV injection").
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
