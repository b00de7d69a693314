package service

import (
	"context"
	"errors"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/report"
	"github.com/helhedsplan/helhedsplan/store"
)

// The annual statement to Landsbyggefonden (årsregnskab): what the API's /plans/{planID}/annual-statements and the
// pages /planen/aarsregnskab read and do. Every plan member reads the statements and downloads them; only the
// secretariat (admin) records the auditor's declaration, the filing and the settings. The rules (which years,
// when a declaration or filing is allowed, the release hold) are the store's (store/annual.go); the figures and
// their definitions are domain/annual.go's.

// AnnualStore is what these functions need of the store (implemented by *store.Store); like YearsStore it is not
// part of Store, and a Service over a store without it answers with an error.
type AnnualStore interface {
	AnnualStatements(ctx context.Context, planID string, now time.Time) ([]store.AnnualSummary, error)
	AnnualStatement(ctx context.Context, planID string, year int, now time.Time) (store.AnnualStatement, error)
	DeclareAnnualStatement(ctx context.Context, planID string, year int, in store.AnnualDeclarationInput, actor domain.Actor, now time.Time) (store.AnnualStatement, error)
	FileAnnualStatement(ctx context.Context, planID string, year int, in store.AnnualFilingInput, actor domain.Actor, now time.Time) (store.AnnualStatement, error)
	AnnualSettings(ctx context.Context, planID string) (store.AnnualSettings, error)
	SetAnnualSettings(ctx context.Context, planID string, in store.AnnualSettingsInput, actor domain.Actor) (store.AnnualSettings, error)
	ReleaseHold(ctx context.Context, planID string, now time.Time) (*store.Hold, error)
}

var errNoAnnualStore = errors.New("service: the store keeps no annual statements")

func (s *Service) annualStore() (AnnualStore, error) {
	as, ok := s.st.(AnnualStore)
	if !ok {
		return nil, errNoAnnualStore
	}
	return as, nil
}

// annualNow is the service's clock for the statements (a variable so tests in this package can move it).
var annualNow = time.Now

// MayManageAnnual says whether p may record declarations, filings and settings of planID's annual statements:
// admin only.
func MayManageAnnual(p store.Principal, planID string) error {
	role, err := PlanRole(p, planID)
	if err != nil {
		return err
	}
	return RequireRole(role, "registrere årsregnskabets revisorerklæring, indsendelse og indstillinger", domain.RoleAdmin)
}

// readAnnual checks that p is a member of planID and returns the store.
func (s *Service) readAnnual(p store.Principal, planID string) (AnnualStore, error) {
	if _, err := PlanRole(p, planID); err != nil {
		return nil, err
	}
	return s.annualStore()
}

// writeAnnual checks that p is admin of planID and returns the store and p as actor.
func (s *Service) writeAnnual(p store.Principal, planID string) (AnnualStore, domain.Actor, error) {
	if err := MayManageAnnual(p, planID); err != nil {
		return nil, domain.Actor{}, err
	}
	as, err := s.annualStore()
	return as, actor(p, p.Roles[planID]), err
}

// AnnualStatements lists the plan's years with the status and due date of each statement; any plan member.
func (s *Service) AnnualStatements(ctx context.Context, p store.Principal, planID string) ([]store.AnnualSummary, error) {
	as, err := s.readAnnual(p, planID)
	if err != nil {
		return nil, err
	}
	out, err := as.AnnualStatements(ctx, planID, annualNow())
	if err != nil {
		return nil, planErr(err, planID, "annual statements")
	}
	return out, nil
}

// AnnualStatement returns the plan's statement for year (live figures, declaration, filing); any plan member.
func (s *Service) AnnualStatement(ctx context.Context, p store.Principal, planID string, year int) (store.AnnualStatement, error) {
	as, err := s.readAnnual(p, planID)
	if err != nil {
		return store.AnnualStatement{}, err
	}
	out, err := as.AnnualStatement(ctx, planID, year, annualNow())
	if err != nil {
		return store.AnnualStatement{}, planErr(err, planID, "annual statement")
	}
	return out, nil
}

// DeclareAnnualStatement records the auditor's declaration (store.DeclareAnnualStatement); admin only.
func (s *Service) DeclareAnnualStatement(ctx context.Context, p store.Principal, planID string, year int, in store.AnnualDeclarationInput) (store.AnnualStatement, error) {
	as, a, err := s.writeAnnual(p, planID)
	if err != nil {
		return store.AnnualStatement{}, err
	}
	out, err := as.DeclareAnnualStatement(ctx, planID, year, in, a, annualNow())
	if err != nil {
		return store.AnnualStatement{}, planErr(err, planID, "declare annual statement")
	}
	s.log.InfoContext(ctx, "annual statement declared", "plan_id", planID, "year", year, "user_id", p.UserID)
	return out, nil
}

// FileAnnualStatement records that the statement was sent to Landsbyggefonden (store.FileAnnualStatement); admin
// only.
func (s *Service) FileAnnualStatement(ctx context.Context, p store.Principal, planID string, year int, in store.AnnualFilingInput) (store.AnnualStatement, error) {
	as, a, err := s.writeAnnual(p, planID)
	if err != nil {
		return store.AnnualStatement{}, err
	}
	out, err := as.FileAnnualStatement(ctx, planID, year, in, a, annualNow())
	if err != nil {
		return store.AnnualStatement{}, planErr(err, planID, "file annual statement")
	}
	s.log.InfoContext(ctx, "annual statement filed", "plan_id", planID, "year", year, "user_id", p.UserID)
	return out, nil
}

// AnnualSettings returns the due date and hold setting with their history; any plan member.
func (s *Service) AnnualSettings(ctx context.Context, p store.Principal, planID string) (store.AnnualSettings, error) {
	as, err := s.readAnnual(p, planID)
	if err != nil {
		return store.AnnualSettings{}, err
	}
	out, err := as.AnnualSettings(ctx, planID)
	if err != nil {
		return store.AnnualSettings{}, planErr(err, planID, "annual settings")
	}
	return out, nil
}

// SetAnnualSettings changes the due date and hold setting, with history; admin only.
func (s *Service) SetAnnualSettings(ctx context.Context, p store.Principal, planID string, in store.AnnualSettingsInput) (store.AnnualSettings, error) {
	as, a, err := s.writeAnnual(p, planID)
	if err != nil {
		return store.AnnualSettings{}, err
	}
	out, err := as.SetAnnualSettings(ctx, planID, in, a)
	if err != nil {
		return store.AnnualSettings{}, planErr(err, planID, "set annual settings")
	}
	s.log.InfoContext(ctx, "annual statement settings changed", "plan_id", planID, "user_id", p.UserID)
	return out, nil
}

// ReleaseHold returns why new releases of the plan are held at instant now, or nil: for the pages' banner. It
// reveals only a year and a due date, so it checks no role; callers show it to members of the plan.
func (s *Service) ReleaseHold(ctx context.Context, planID string, now time.Time) (*store.Hold, error) {
	as, err := s.annualStore()
	if err != nil {
		return nil, err
	}
	h, err := as.ReleaseHold(ctx, planID, now)
	if err != nil {
		return nil, planErr(err, planID, "release hold")
	}
	return h, nil
}

// AnnualExport is a statement as a file to download.
type AnnualExport struct {
	FileName    string
	ContentType string
	Body        []byte
}

// Content types of the exports.
const (
	ContentTypeXLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	ContentTypePDF  = "application/pdf"
)

// AnnualStatementFile returns the statement for year as "xlsx" or "pdf" (report.AnnualXLSX, report.AnnualPDF);
// any plan member.
func (s *Service) AnnualStatementFile(ctx context.Context, p store.Principal, planID string, year int, format string) (AnnualExport, error) {
	st, err := s.AnnualStatement(ctx, p, planID, year)
	if err != nil {
		return AnnualExport{}, err
	}
	now := annualNow()
	out := AnnualExport{FileName: report.AnnualFileName(planID, year, format)}
	switch format {
	case "xlsx":
		out.ContentType = ContentTypeXLSX
		out.Body, err = report.AnnualXLSX(st, now)
	case "pdf":
		out.ContentType = ContentTypePDF
		out.Body, err = report.AnnualPDF(st, now, true)
	default:
		return AnnualExport{}, domain.Refuse(domain.CodeNotFound, "Årsregnskabet kan hentes som xlsx eller pdf, ikke %q.", shortText(format))
	}
	if err != nil {
		return AnnualExport{}, err
	}
	return out, nil
}
