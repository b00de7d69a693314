package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/store"
)

// The split of the funding sources' commitments by year (admin edits it, with history), the budget by year and
// as CSV and XLSX, and the delaftaler's budget frames (service/years.go). A tranche is charged to the year
// (Copenhagen time) its disbursement was released in. A split admin has saved binds approvals and changes
// (store/yearcheck.go); the seed's even split is a placeholder until then.

const (
	pathPlanCommitments       = "/api/v1/plans/:planID/commitments"
	pathPlanCommitmentHistory = "/api/v1/plans/:planID/commitments/history"
	pathPlanBudgetYears       = "/api/v1/plans/:planID/budget/years"
	pathPlanBudgetCSV         = "/api/v1/plans/:planID/budget.csv"
	pathPlanBudgetXLSX        = "/api/v1/plans/:planID/budget.xlsx"
	pathPlanDelaftaleFrame    = "/api/v1/plans/:planID/delaftaler/:did/frame"
)

func (s *server) registerYears(add func(method, path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc),
	read, write []echo.MiddlewareFunc) {
	add(http.MethodGet, pathPlanCommitments, s.getCommitments, read...)
	add(http.MethodPut, pathPlanCommitments, s.putCommitments, write...)
	add(http.MethodGet, pathPlanCommitmentHistory, s.getCommitmentHistory, read...)
	add(http.MethodGet, pathPlanBudgetYears, s.getBudgetYears, read...)
	add(http.MethodGet, pathPlanBudgetCSV, s.getBudgetCSV, read...)
	add(http.MethodGet, pathPlanBudgetXLSX, s.getBudgetXLSX, read...)
	add(http.MethodPut, pathPlanDelaftaleFrame, s.putDelaftaleFrame, write...)
}

// Request bodies.

type commitmentYearBody struct {
	Year      int   `json:"year" required:"true"`
	AmountOre int64 `json:"amount_ore" required:"true"`
}

type commitmentSourceBody struct {
	SourceID string `json:"source_id" required:"true"`
	// BasedOnVersion, when set, is the version of this source's split the change was made from.
	BasedOnVersion int                  `json:"based_on_version"`
	Years          []commitmentYearBody `json:"years" required:"true"`
}

type commitmentsBody struct {
	Sources []commitmentSourceBody `json:"sources" required:"true"`
	Note    string                 `json:"note"`
}

type delaftaleFrameBody struct {
	FrameOre *int64 `json:"frame_ore"` // null or absent: no frame
	Note     string `json:"note"`
}

// Response bodies.

type commitmentYearOut struct {
	Year      int   `json:"year"`
	AmountOre int64 `json:"amount_ore"`
}

type sourceCommitmentOut struct {
	SourceID     string              `json:"source_id"`
	Name         string              `json:"name"`
	CommittedOre int64               `json:"committed_ore"`
	Version      int                 `json:"version"`
	Years        []commitmentYearOut `json:"years"`
}

type commitmentsOut struct {
	PlanID  string                `json:"plan_id"`
	Years   []int                 `json:"years"`
	Sources []sourceCommitmentOut `json:"sources"`
}

type commitmentVersionOut struct {
	sourceCommitmentOut
	ChangedBy     *string   `json:"changed_by"`
	ChangedByName string    `json:"changed_by_name"`
	ChangedAt     time.Time `json:"changed_at"`
	Note          string    `json:"note"`
}

type yearFiguresOut struct {
	Year         int   `json:"year"`
	CommittedOre int64 `json:"committed_ore"`
	ReleasedOre  int64 `json:"released_ore"`
	PaidOre      int64 `json:"paid_ore"`
}

type sourceYearsOut struct {
	SourceID string           `json:"source_id"`
	Name     string           `json:"name"`
	Years    []yearFiguresOut `json:"years"`
	Total    yearFiguresOut   `json:"total"`
}

type budgetYearsOut struct {
	PlanID  string           `json:"plan_id"`
	Years   []int            `json:"years"`
	Sources []sourceYearsOut `json:"sources"`
	Total   []yearFiguresOut `json:"total"`
}

type delaftaleFrameOut struct {
	PlanID      string `json:"plan_id"`
	DelaftaleID string `json:"delaftale_id"`
	FrameOre    *int64 `json:"frame_ore"`
}

func sourceCommitmentToOut(c store.SourceCommitment) sourceCommitmentOut {
	out := sourceCommitmentOut{SourceID: c.SourceID, Name: c.Name, CommittedOre: int64(c.CommittedØre), Version: c.Version,
		Years: make([]commitmentYearOut, len(c.Years))}
	for i, y := range c.Years {
		out.Years[i] = commitmentYearOut{Year: y.Year, AmountOre: int64(y.AmountØre)}
	}
	return out
}

func commitmentsToOut(c store.Commitments) commitmentsOut {
	out := commitmentsOut{PlanID: c.PlanID, Years: c.Years, Sources: make([]sourceCommitmentOut, len(c.Sources))}
	if out.Years == nil {
		out.Years = []int{}
	}
	for i, src := range c.Sources {
		out.Sources[i] = sourceCommitmentToOut(src)
	}
	return out
}

func yearFiguresToOut(f store.YearFigures) yearFiguresOut {
	return yearFiguresOut{Year: f.Year, CommittedOre: int64(f.CommittedØre), ReleasedOre: int64(f.ReleasedØre),
		PaidOre: int64(f.PaidØre)}
}

func (s *server) getCommitments(c echo.Context) error {
	out, err := s.svc.Commitments(c.Request().Context(), principalOf(c), c.Param("planID"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, commitmentsToOut(out))
}

func (s *server) putCommitments(c echo.Context) error {
	ctx, p, planID := c.Request().Context(), principalOf(c), c.Param("planID")
	if err := service.MayChangeCommitments(p, planID); err != nil {
		return err
	}
	var b commitmentsBody
	if err := decodeJSON(c, &b, false); err != nil {
		return err
	}
	splits := make([]store.CommitmentSplit, len(b.Sources))
	for i, src := range b.Sources {
		splits[i] = store.CommitmentSplit{SourceID: src.SourceID, BasedOnVersion: src.BasedOnVersion}
		for _, y := range src.Years {
			splits[i].Years = append(splits[i].Years, store.CommitmentYear{Year: y.Year, AmountØre: domain.Money(y.AmountOre)})
		}
	}
	out, err := s.svc.SetCommitments(ctx, p, planID, splits, b.Note)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, commitmentsToOut(out))
}

func (s *server) getCommitmentHistory(c echo.Context) error {
	hist, err := s.svc.CommitmentHistory(c.Request().Context(), principalOf(c), c.Param("planID"))
	if err != nil {
		return err
	}
	out := make([]commitmentVersionOut, len(hist))
	for i, h := range hist {
		out[i] = commitmentVersionOut{sourceCommitmentOut: sourceCommitmentToOut(h), ChangedByName: h.ChangedByName,
			ChangedAt: h.ChangedAt, Note: h.Note}
		if h.ChangedBy != "" {
			by := h.ChangedBy
			out[i].ChangedBy = &by
		}
	}
	return c.JSON(http.StatusOK, page(out, ""))
}

func (s *server) getBudgetYears(c echo.Context) error {
	b, err := s.svc.BudgetByYear(c.Request().Context(), principalOf(c), c.Param("planID"))
	if err != nil {
		return err
	}
	out := budgetYearsOut{PlanID: b.PlanID, Years: b.Years, Sources: make([]sourceYearsOut, len(b.Sources)),
		Total: make([]yearFiguresOut, len(b.Total))}
	if out.Years == nil {
		out.Years = []int{}
	}
	for i, src := range b.Sources {
		sy := sourceYearsOut{SourceID: src.SourceID, Name: src.Name, Years: make([]yearFiguresOut, len(src.Years)),
			Total: yearFiguresToOut(src.Total)}
		for j, f := range src.Years {
			sy.Years[j] = yearFiguresToOut(f)
		}
		out.Sources[i] = sy
	}
	for i, f := range b.Total {
		out.Total[i] = yearFiguresToOut(f)
	}
	return c.JSON(http.StatusOK, out)
}

func (s *server) getBudgetCSV(c echo.Context) error {
	planID := c.Param("planID")
	b, err := s.svc.BudgetCSV(c.Request().Context(), principalOf(c), planID)
	if err != nil {
		return err
	}
	name := "budget-" + planID + "-" + time.Now().In(domain.Copenhagen).Format("2006-01-02") + ".csv"
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", b)
}

// getBudgetXLSX is budget.csv as a workbook (payfile.BudgetXLSX): the same rows, the amounts as numbers.
func (s *server) getBudgetXLSX(c echo.Context) error {
	planID := c.Param("planID")
	b, err := s.svc.BudgetXLSX(c.Request().Context(), principalOf(c), planID)
	if err != nil {
		return err
	}
	name := "budget-" + planID + "-" + time.Now().In(domain.Copenhagen).Format("2006-01-02") + ".xlsx"
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	return c.Blob(http.StatusOK, XLSXContentType, b)
}

func (s *server) putDelaftaleFrame(c echo.Context) error {
	ctx, p, planID, did := c.Request().Context(), principalOf(c), c.Param("planID"), c.Param("did")
	if err := service.MayChangeCommitments(p, planID); err != nil {
		return err
	}
	var b delaftaleFrameBody
	if err := decodeJSON(c, &b, false); err != nil {
		return err
	}
	var frame *domain.Money
	if b.FrameOre != nil {
		m := domain.Money(*b.FrameOre)
		frame = &m
	}
	if err := s.svc.SetDelaftaleFrame(ctx, p, planID, did, frame, b.Note); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, delaftaleFrameOut{PlanID: planID, DelaftaleID: did, FrameOre: b.FrameOre})
}
