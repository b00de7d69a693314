package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/store"
)

// The annual statement to Landsbyggefonden (årsregnskab) per plan year (service/annual.go): the list of years, a
// year's figures with its declaration and filing, the exports (XLSX, PDF), and the due date and release hold
// settings. Every plan member reads; admin records the declaration (PUT: the same declaration again changes
// nothing), the filing (POST, once) and the settings (PUT).
//
// GET /annual-statements/{year} answers JSON for "2024", the workbook for "2024.xlsx" and the PDF for "2024.pdf":
// one route, because the router cannot tell "{year}" from "{year}.xlsx" in one path segment.

const (
	pathPlanAnnual            = "/api/v1/plans/:planID/annual-statements"
	pathPlanAnnualSettings    = "/api/v1/plans/:planID/annual-statements/settings"
	pathPlanAnnualYear        = "/api/v1/plans/:planID/annual-statements/:year"
	pathPlanAnnualDeclaration = "/api/v1/plans/:planID/annual-statements/:year/declaration"
	pathPlanAnnualFiling      = "/api/v1/plans/:planID/annual-statements/:year/filing"
)

func (s *server) registerAnnual(add func(method, path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc),
	read, write []echo.MiddlewareFunc) {
	add(http.MethodGet, pathPlanAnnual, s.listAnnualStatements, read...)
	add(http.MethodGet, pathPlanAnnualSettings, s.getAnnualSettings, read...)
	add(http.MethodPut, pathPlanAnnualSettings, s.putAnnualSettings, write...)
	add(http.MethodGet, pathPlanAnnualYear, s.getAnnualStatement, read...)
	add(http.MethodPut, pathPlanAnnualDeclaration, s.putAnnualDeclaration, write...)
	add(http.MethodPost, pathPlanAnnualFiling, s.postAnnualFiling, write...)
}

// Request bodies.

type annualDeclarationBody struct {
	DeclaredOn string `json:"declared_on" required:"true"` // 2006-01-02
	Auditor    string `json:"auditor" required:"true"`
	Reference  string `json:"reference" required:"true"`
	Note       string `json:"note"`
}

type annualFilingBody struct {
	FiledOn string `json:"filed_on" required:"true"` // 2006-01-02
	Note    string `json:"note"`
}

type annualSettingsBody struct {
	DueMonth     int    `json:"due_month" required:"true"`
	DueDay       int    `json:"due_day" required:"true"`
	HoldReleases bool   `json:"hold_releases" required:"true"`
	Note         string `json:"note"`
}

// Response bodies.

type annualSummaryOut struct {
	Year       int    `json:"year"`
	Status     string `json:"status"`
	StatusName string `json:"status_name"`
	Due        string `json:"due"`
	YearOver   bool   `json:"year_over"`
	Overdue    bool   `json:"overdue"`
}

type annualFiguresOut struct {
	CommittedOre      int64 `json:"committed_ore"`
	ReleasedOre       int64 `json:"released_ore"`
	PaidOre           int64 `json:"paid_ore"`
	InKindOre         int64 `json:"inkind_ore"`
	SpentOre          int64 `json:"spent_ore"`
	ReturnsRaisedOre  int64 `json:"returns_raised_ore"`
	ReturnedOre       int64 `json:"returned_ore"`
	UnspentOre        int64 `json:"unspent_ore"`
	ReceivableOre     int64 `json:"receivable_ore"`
	NetContributedOre int64 `json:"net_contributed_ore"`
}

type annualSourceOut struct {
	SourceID string `json:"source_id"`
	Name     string `json:"name"`
	Local    bool   `json:"local"`
	annualFiguresOut
}

type annualStatementFiguresOut struct {
	Sources []annualSourceOut `json:"sources"`
	Total   annualFiguresOut  `json:"total"`
}

type annualDeclarationOut struct {
	DeclaredOn     string                    `json:"declared_on"`
	Auditor        string                    `json:"auditor"`
	Reference      string                    `json:"reference"`
	Note           string                    `json:"note"`
	Figures        annualStatementFiguresOut `json:"figures"`
	RecordedBy     string                    `json:"recorded_by"`
	RecordedByName string                    `json:"recorded_by_name"`
	RecordedAt     time.Time                 `json:"recorded_at"`
}

type annualFilingOut struct {
	FiledOn        string    `json:"filed_on"`
	Note           string    `json:"note"`
	RecordedBy     string    `json:"recorded_by"`
	RecordedByName string    `json:"recorded_by_name"`
	RecordedAt     time.Time `json:"recorded_at"`
}

type annualStatementOut struct {
	PlanID string `json:"plan_id"`
	annualSummaryOut
	Figures     annualStatementFiguresOut `json:"figures"`
	Declaration *annualDeclarationOut     `json:"declaration"`
	Filing      *annualFilingOut          `json:"filing"`
	// Changed: the live figures differ from those frozen at the declaration.
	Changed bool `json:"changed"`
}

type annualSettingsChangeOut struct {
	Version       int       `json:"version"`
	DueMonth      int       `json:"due_month"`
	DueDay        int       `json:"due_day"`
	HoldReleases  bool      `json:"hold_releases"`
	ChangedBy     *string   `json:"changed_by"`
	ChangedByName string    `json:"changed_by_name"`
	ChangedAt     time.Time `json:"changed_at"`
	Note          string    `json:"note"`
}

type annualSettingsOut struct {
	PlanID       string                    `json:"plan_id"`
	DueMonth     int                       `json:"due_month"`
	DueDay       int                       `json:"due_day"`
	HoldReleases bool                      `json:"hold_releases"`
	Version      int                       `json:"version"`
	History      []annualSettingsChangeOut `json:"history"`
}

func annualSummaryToOut(s store.AnnualSummary) annualSummaryOut {
	return annualSummaryOut{Year: s.Year, Status: string(s.Status), StatusName: s.Status.DanishName(),
		Due: s.Due.String(), YearOver: s.YearOver, Overdue: s.Overdue}
}

func annualFiguresToOut(f domain.AnnualFigures) annualFiguresOut {
	return annualFiguresOut{CommittedOre: int64(f.CommittedØre), ReleasedOre: int64(f.ReleasedØre),
		PaidOre: int64(f.PaidØre), InKindOre: int64(f.InKindØre), SpentOre: int64(f.SpentØre),
		ReturnsRaisedOre: int64(f.ReturnsRaisedØre), ReturnedOre: int64(f.ReturnedØre),
		UnspentOre: int64(f.UnspentØre), ReceivableOre: int64(f.ReceivableØre),
		NetContributedOre: int64(f.NetContributedØre)}
}

func annualStatementFiguresToOut(f domain.AnnualStatementFigures) annualStatementFiguresOut {
	out := annualStatementFiguresOut{Sources: make([]annualSourceOut, len(f.Sources)), Total: annualFiguresToOut(f.Total)}
	for i, s := range f.Sources {
		out.Sources[i] = annualSourceOut{SourceID: s.SourceID, Name: s.Name, Local: s.Local,
			annualFiguresOut: annualFiguresToOut(s.AnnualFigures)}
	}
	return out
}

func annualStatementToOut(st store.AnnualStatement) annualStatementOut {
	out := annualStatementOut{PlanID: st.PlanID, annualSummaryOut: annualSummaryToOut(st.AnnualSummary),
		Figures: annualStatementFiguresToOut(st.Figures), Changed: st.Changed}
	if d := st.Declaration; d != nil {
		out.Declaration = &annualDeclarationOut{DeclaredOn: d.DeclaredOn.String(), Auditor: d.Auditor,
			Reference: d.Reference, Note: d.Note, Figures: annualStatementFiguresToOut(d.Figures),
			RecordedBy: d.RecordedBy, RecordedByName: d.RecordedByName, RecordedAt: d.RecordedAt}
	}
	if f := st.Filing; f != nil {
		out.Filing = &annualFilingOut{FiledOn: f.FiledOn.String(), Note: f.Note, RecordedBy: f.RecordedBy,
			RecordedByName: f.RecordedByName, RecordedAt: f.RecordedAt}
	}
	return out
}

func annualSettingsToOut(set store.AnnualSettings) annualSettingsOut {
	out := annualSettingsOut{PlanID: set.PlanID, DueMonth: int(set.Due.Month), DueDay: set.Due.Day,
		HoldReleases: set.HoldReleases, Version: set.Version, History: make([]annualSettingsChangeOut, len(set.History))}
	for i, h := range set.History {
		out.History[i] = annualSettingsChangeOut{Version: h.Version, DueMonth: int(h.Due.Month), DueDay: h.Due.Day,
			HoldReleases: h.HoldReleases, ChangedByName: h.ChangedByName, ChangedAt: h.ChangedAt, Note: h.Note}
		if h.ChangedBy != "" {
			by := h.ChangedBy
			out.History[i].ChangedBy = &by
		}
	}
	return out
}

// annualYear parses the path's year: "2024", or with an export's extension "2024.xlsx" / "2024.pdf" (format
// "xlsx" or "pdf"; "" for JSON).
func annualYear(c echo.Context, exports bool) (year int, format string, err error) {
	raw := c.Param("year")
	if exports {
		for _, ext := range []string{".xlsx", ".pdf"} {
			if y, ok := strings.CutSuffix(raw, ext); ok {
				raw, format = y, ext[1:]
			}
		}
	}
	year, perr := strconv.Atoi(raw)
	if perr != nil || len(raw) != 4 {
		msg := "Året skal være et årstal med fire cifre, fx 2024."
		if exports {
			msg = "Året skal være et årstal med fire cifre, fx 2024, eventuelt efterfulgt af .xlsx eller .pdf."
		}
		return 0, "", badRequest("year", "invalid", msg)
	}
	return year, format, nil
}

// parseBodyDate parses a body's date field into d, or adds the problem.
func parseBodyDate(field, v string, problems *[]domain.FieldProblem) domain.Date {
	if v == "" {
		return domain.Date{} // the required check has reported it
	}
	d, err := domain.ParseDate(v)
	if err != nil {
		*problems = append(*problems, domain.FieldProblem{Field: field, Code: "invalid_date",
			Message: fmt.Sprintf("%q er ikke en dato; brug ÅÅÅÅ-MM-DD.", v)})
	}
	return d
}

func (s *server) listAnnualStatements(c echo.Context) error {
	list, err := s.svc.AnnualStatements(c.Request().Context(), principalOf(c), c.Param("planID"))
	if err != nil {
		return err
	}
	out := make([]annualSummaryOut, len(list))
	for i, y := range list {
		out[i] = annualSummaryToOut(y)
	}
	return c.JSON(http.StatusOK, page(out, ""))
}

func (s *server) getAnnualStatement(c echo.Context) error {
	ctx, p, planID := c.Request().Context(), principalOf(c), c.Param("planID")
	year, format, err := annualYear(c, true)
	if err != nil {
		return err
	}
	if format != "" {
		f, err := s.svc.AnnualStatementFile(ctx, p, planID, year, format)
		if err != nil {
			return err
		}
		c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+f.FileName+`"`)
		return c.Blob(http.StatusOK, f.ContentType, f.Body)
	}
	st, err := s.svc.AnnualStatement(ctx, p, planID, year)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, annualStatementToOut(st))
}

func (s *server) putAnnualDeclaration(c echo.Context) error {
	ctx, p, planID := c.Request().Context(), principalOf(c), c.Param("planID")
	if err := service.MayManageAnnual(p, planID); err != nil {
		return err
	}
	year, _, err := annualYear(c, false)
	if err != nil {
		return err
	}
	var b annualDeclarationBody
	problems, err := decodeInput(c, &b, false)
	if err != nil {
		return err
	}
	on := parseBodyDate("declared_on", b.DeclaredOn, &problems)
	if len(problems) > 0 {
		return &domain.RuleError{Code: domain.CodeValidation, Message: msgInputInvalid, Problems: problems}
	}
	st, err := s.svc.DeclareAnnualStatement(ctx, p, planID, year, store.AnnualDeclarationInput{DeclaredOn: on,
		Auditor: b.Auditor, Reference: b.Reference, Note: b.Note})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, annualStatementToOut(st))
}

func (s *server) postAnnualFiling(c echo.Context) error {
	ctx, p, planID := c.Request().Context(), principalOf(c), c.Param("planID")
	if err := service.MayManageAnnual(p, planID); err != nil {
		return err
	}
	year, _, err := annualYear(c, false)
	if err != nil {
		return err
	}
	var b annualFilingBody
	problems, err := decodeInput(c, &b, false)
	if err != nil {
		return err
	}
	on := parseBodyDate("filed_on", b.FiledOn, &problems)
	if len(problems) > 0 {
		return &domain.RuleError{Code: domain.CodeValidation, Message: msgInputInvalid, Problems: problems}
	}
	st, err := s.svc.FileAnnualStatement(ctx, p, planID, year, store.AnnualFilingInput{FiledOn: on, Note: b.Note})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, annualStatementToOut(st))
}

func (s *server) getAnnualSettings(c echo.Context) error {
	set, err := s.svc.AnnualSettings(c.Request().Context(), principalOf(c), c.Param("planID"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, annualSettingsToOut(set))
}

func (s *server) putAnnualSettings(c echo.Context) error {
	ctx, p, planID := c.Request().Context(), principalOf(c), c.Param("planID")
	if err := service.MayManageAnnual(p, planID); err != nil {
		return err
	}
	var b annualSettingsBody
	if err := decodeJSON(c, &b, false); err != nil {
		return err
	}
	set, err := s.svc.SetAnnualSettings(ctx, p, planID, store.AnnualSettingsInput{
		Due: domain.AnnualDue{Month: time.Month(b.DueMonth), Day: b.DueDay}, HoldReleases: b.HoldReleases, Note: b.Note})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, annualSettingsToOut(set))
}
