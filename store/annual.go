package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"github.com/helhedsplan/helhedsplan/domain"
)

// The annual statement to Landsbyggefonden (årsregnskab) per plan and calendar year (migration 00018). The figures
// and their definitions are in domain/annual.go; this file reads them from the ledger, the disbursements, the
// in-kind decisions, the close-outs and the returns, and keeps the statement's lifecycle:
//
//	draft (computed live) -> declared (the auditor's declaration, figures frozen as JSON) -> filed (sent to LBF).
//
// Only plan years have statements. A declaration needs the year to be over (Copenhagen time), is dated after
// 31.12. of the year and not in the future; a filing needs the declaration and is dated on or after it and not in
// the future. Each is recorded once: the same declaration or filing again changes nothing, a different one is
// refused with CodeConflict. Both are written under the plan's row lock.
//
// The release hold: while the plan's setting "hold releases" is on, a new release (a tranche released by the
// board's approval or a milestone's acceptance) is refused with CodeStatementOverdue when the statement of an
// earlier plan year in which the plan moved money through the product is not filed and its due date (a Copenhagen
// calendar day, default 30 June of the following year) is over. Only a FILED statement counts as delivered: a declared statement still sits with the plan, not
// with Landsbyggefonden.

// AnnualSettings are the plan's due date and hold setting, with their history (newest first).
type AnnualSettings struct {
	PlanID       string                 `json:"plan_id"`
	Due          domain.AnnualDue       `json:"due"`
	HoldReleases bool                   `json:"hold_releases"`
	Version      int                    `json:"version"` // 0: the defaults, never changed
	History      []AnnualSettingsChange `json:"history"`
}

// AnnualSettingsChange is one version of the settings.
type AnnualSettingsChange struct {
	Version       int              `json:"version"`
	Due           domain.AnnualDue `json:"due"`
	HoldReleases  bool             `json:"hold_releases"`
	ChangedBy     string           `json:"changed_by"`
	ChangedByName string           `json:"changed_by_name"`
	ChangedAt     time.Time        `json:"changed_at"`
	Note          string           `json:"note"`
}

// AnnualDeclaration is the auditor's declaration of a year's statement, with the figures as they were when it was
// recorded.
type AnnualDeclaration struct {
	DeclaredOn     domain.Date                   `json:"declared_on"`
	Auditor        string                        `json:"auditor"`
	Reference      string                        `json:"reference"`
	Note           string                        `json:"note"`
	Figures        domain.AnnualStatementFigures `json:"figures"`
	RecordedBy     string                        `json:"recorded_by"`
	RecordedByName string                        `json:"recorded_by_name"`
	RecordedAt     time.Time                     `json:"recorded_at"`
}

// AnnualFiling records that the statement was sent to Landsbyggefonden.
type AnnualFiling struct {
	FiledOn        domain.Date `json:"filed_on"`
	Note           string      `json:"note"`
	RecordedBy     string      `json:"recorded_by"`
	RecordedByName string      `json:"recorded_by_name"`
	RecordedAt     time.Time   `json:"recorded_at"`
}

// AnnualSummary is one plan year in the list of statements.
type AnnualSummary struct {
	Year     int                 `json:"year"`
	Status   domain.AnnualStatus `json:"status"`
	Due      domain.Date         `json:"due"`
	YearOver bool                `json:"year_over"` // the year has ended (Copenhagen time)
	Overdue  bool                `json:"overdue"`   // not filed, and the due date is over
}

// AnnualStatement is a year's statement: the live figures, and the declaration and filing when recorded.
type AnnualStatement struct {
	PlanID   string `json:"plan_id"`
	PlanName string `json:"plan_name"`
	AnnualSummary
	Figures     domain.AnnualStatementFigures `json:"figures"`
	Declaration *AnnualDeclaration            `json:"declaration"`
	Filing      *AnnualFiling                 `json:"filing"`
	// Changed: the live figures differ from those frozen at the declaration (a later booking, a withdrawal, a
	// changed split by year).
	Changed bool `json:"changed"`
}

// AnnualDeclarationInput is the auditor's declaration as admin records it.
type AnnualDeclarationInput struct {
	DeclaredOn domain.Date
	Auditor    string
	Reference  string
	Note       string
}

// AnnualFilingInput is the filing as admin records it.
type AnnualFilingInput struct {
	FiledOn domain.Date
	Note    string
}

// AnnualSettingsInput is a change of the settings.
type AnnualSettingsInput struct {
	Due          domain.AnnualDue
	HoldReleases bool
	Note         string
}

// Hold says that new releases of a plan are held, and why.
type Hold struct {
	Year    int         `json:"year"`    // the earliest overdue statement
	Due     domain.Date `json:"due"`     // its due date
	Message string      `json:"message"` // Danish, as the refusal says it
}

// maxAnnualText bounds the auditor's name and the reference.
const maxAnnualText = 200

// annualSettings reads the plan's settings with their history; the defaults when none was recorded.
func annualSettings(ctx context.Context, q sqlx.QueryerContext, planID string) (AnnualSettings, error) {
	const qs = `
		SELECT s.due_month, s.due_day, s.hold_releases, s.changed_by, u.name AS changed_by_name, s.changed_at, s.note
		FROM annual_statement_settings s
		LEFT JOIN users u ON u.id = s.changed_by
		WHERE s.plan_id = $1
		ORDER BY s.id DESC`
	var rows []struct {
		Month         int            `db:"due_month"`
		Day           int            `db:"due_day"`
		Hold          bool           `db:"hold_releases"`
		ChangedBy     sql.NullString `db:"changed_by"`
		ChangedByName sql.NullString `db:"changed_by_name"`
		ChangedAt     time.Time      `db:"changed_at"`
		Note          string         `db:"note"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, qs, planID); err != nil {
		return AnnualSettings{}, translate(err, "annual settings of %s", planID)
	}
	out := AnnualSettings{PlanID: planID, Due: domain.DefaultAnnualDue, HoldReleases: true, Version: len(rows),
		History: make([]AnnualSettingsChange, len(rows))}
	for i, r := range rows {
		out.History[i] = AnnualSettingsChange{Version: len(rows) - i, Due: domain.AnnualDue{Month: time.Month(r.Month), Day: r.Day},
			HoldReleases: r.Hold, ChangedBy: r.ChangedBy.String, ChangedByName: r.ChangedByName.String,
			ChangedAt: r.ChangedAt, Note: r.Note}
	}
	if len(rows) > 0 {
		out.Due, out.HoldReleases = out.History[0].Due, out.History[0].HoldReleases
	}
	return out, nil
}

// AnnualSettings returns the plan's due date and hold setting with their history. An unknown plan is ErrNotFound.
func (s *Store) AnnualSettings(ctx context.Context, planID string) (AnnualSettings, error) {
	var out AnnualSettings
	err := s.inTxOpts(ctx, readOnlySnapshot, func(tx *sqlx.Tx) error {
		if err := planExists(ctx, tx, planID); err != nil {
			return err
		}
		var err error
		out, err = annualSettings(ctx, tx, planID)
		return err
	})
	return out, err
}

// SetAnnualSettings records the settings as a new version by actor, under the plan's row lock; settings equal to
// the current ones write nothing. A due day that does not exist every year (29 February, 31 April) is refused with
// a *domain.RuleError (fields due_month, due_day). An unknown plan is ErrNotFound.
func (s *Store) SetAnnualSettings(ctx context.Context, planID string, in AnnualSettingsInput, actor domain.Actor) (AnnualSettings, error) {
	var ps fieldProblems
	switch {
	case in.Due.Month < time.January || in.Due.Month > time.December:
		ps.add("due_month", "out_of_range", "Måneden skal være et tal fra 1 til 12.")
	case !in.Due.Valid():
		ps.add("due_day", "out_of_range", "Dagen findes ikke hvert år i den valgte måned; vælg en dag fra 1 til %d.",
			time.Date(2001, in.Due.Month+1, 0, 0, 0, 0, 0, time.UTC).Day())
	}
	ps.note("note", in.Note)
	if err := ps.err("Indstillingerne for årsregnskabet kan ikke gemmes."); err != nil {
		return AnnualSettings{}, err
	}
	var out AnnualSettings
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := lockPlan(ctx, tx, planID); err != nil {
			return err
		}
		cur, err := annualSettings(ctx, tx, planID)
		if err != nil {
			return err
		}
		if cur.Due != in.Due || cur.HoldReleases != in.HoldReleases {
			const qIns = `
				INSERT INTO annual_statement_settings (plan_id, due_month, due_day, hold_releases, changed_by, note)
				VALUES ($1, $2, $3, $4, $5, $6)`
			if _, err := tx.ExecContext(ctx, qIns, planID, int(in.Due.Month), in.Due.Day, in.HoldReleases,
				nullString(actor.UserID), in.Note); err != nil {
				return translate(err, "annual settings of %s", planID)
			}
		}
		out, err = annualSettings(ctx, tx, planID)
		return err
	})
	return out, err
}

// annualFigures computes the statement's figures for year from one snapshot (see domain/annual.go for the
// definitions). An unknown plan is ErrNotFound.
func annualFigures(ctx context.Context, q sqlx.QueryerContext, planID string, year int) (domain.AnnualStatementFigures, error) {
	c, err := commitments(ctx, q, planID)
	if err != nil {
		return domain.AnnualStatementFigures{}, err
	}
	var locals []struct {
		ID    string `db:"id"`
		Local bool   `db:"local"`
	}
	if err := sqlx.SelectContext(ctx, q, &locals, `SELECT id, local FROM funding_sources WHERE plan_id = $1`, planID); err != nil {
		return domain.AnnualStatementFigures{}, translate(err, "sources of %s", planID)
	}
	// Each measure as rows of (source, measure, amount), summed per source. A ledger entry of a tranche belongs to
	// the disbursement of its initiative and milestone (UNIQUE(initiative_id, milestone_no)).
	const qm = `
		SELECT source_id, measure, sum(amount_ore)::bigint AS amount_ore FROM (
			SELECT l.source_id, l.kind AS measure, l.amount_ore
			FROM ledger_entries l
			JOIN disbursements d ON d.initiative_id = l.initiative_id AND d.milestone_no = l.milestone_no
			WHERE l.plan_id = $1
			  AND ((l.kind IN ('release', 'withdraw') AND d.released_at >= $2 AND d.released_at < $3)
			       OR (l.kind = 'pay' AND d.paid_at >= $2 AND d.paid_at < $3))
			UNION ALL
			SELECT l.source_id, 'cum_pay', l.amount_ore
			FROM ledger_entries l
			JOIN disbursements d ON d.initiative_id = l.initiative_id AND d.milestone_no = l.milestone_no
			WHERE l.plan_id = $1 AND l.kind = 'pay' AND d.paid_at < $3
			UNION ALL
			SELECT c.source_id, 'inkind', c.value_ore
			FROM inkind_contributions c
			JOIN inkind_decisions k ON k.contribution_id = c.id AND k.status = 'confirmed'
			WHERE c.plan_id = $1 AND k.decided_at >= $2 AND k.decided_at < $3
			UNION ALL
			SELECT source_id, 'spent', spent_ore FROM closeout_lines
			WHERE plan_id = $1 AND closed_at >= $2 AND closed_at < $3
			UNION ALL
			SELECT source_id, 'raised', return_ore FROM closeout_lines
			WHERE plan_id = $1 AND closed_at >= $2 AND closed_at < $3
			UNION ALL
			SELECT source_id, 'cum_spent', spent_ore FROM closeout_lines WHERE plan_id = $1 AND closed_at < $3
			UNION ALL
			SELECT source_id, 'cum_raised', return_ore FROM closeout_lines WHERE plan_id = $1 AND closed_at < $3
			UNION ALL
			SELECT source_id, 'returned', amount_ore FROM initiative_returns
			WHERE plan_id = $1 AND status = 'received' AND received_at >= $2 AND received_at < $3
			UNION ALL
			SELECT source_id, 'cum_returned', amount_ore FROM initiative_returns
			WHERE plan_id = $1 AND status = 'received' AND received_at < $3
		) m
		GROUP BY source_id, measure`
	var rows []struct {
		SourceID  string `db:"source_id"`
		Measure   string `db:"measure"`
		AmountØre int64  `db:"amount_ore"`
	}
	start, end := domain.CopenhagenYearStart(year), domain.CopenhagenYearStart(year+1)
	if err := sqlx.SelectContext(ctx, q, &rows, qm, planID, start, end); err != nil {
		return domain.AnnualStatementFigures{}, translate(err, "annual figures of %s %d", planID, year)
	}
	by := map[string]map[string]domain.Money{}
	for _, r := range rows {
		if by[r.SourceID] == nil {
			by[r.SourceID] = map[string]domain.Money{}
		}
		by[r.SourceID][r.Measure] = domain.Money(r.AmountØre)
	}
	local := map[string]bool{}
	for _, l := range locals {
		local[l.ID] = l.Local
	}
	in := make([]domain.AnnualSourceInput, 0, len(c.Sources))
	for _, src := range c.Sources {
		m := by[src.SourceID]
		x := domain.AnnualSourceInput{SourceID: src.SourceID, Name: src.Name, Local: local[src.SourceID],
			Released: m["release"], Withdrawn: m["withdraw"], Paid: m["pay"], InKind: m["inkind"], Spent: m["spent"],
			ReturnsRaised: m["raised"], Returned: m["returned"], CumPaid: m["cum_pay"], CumSpent: m["cum_spent"],
			CumReturnsRaised: m["cum_raised"], CumReturned: m["cum_returned"]}
		for _, cy := range src.Years {
			if cy.Year == year {
				x.Committed = cy.AmountØre
			}
		}
		in = append(in, x)
	}
	return domain.BuildAnnualFigures(year, in)
}

// planOf reads the plan's name and years; an unknown plan is ErrNotFound.
func planOf(ctx context.Context, q sqlx.QueryerContext, planID string) (string, []int, error) {
	var p struct {
		Name  string    `db:"name"`
		Start time.Time `db:"period_start"`
		End   time.Time `db:"period_end"`
	}
	if err := sqlx.GetContext(ctx, q, &p, `SELECT name, period_start, period_end FROM plans WHERE id = $1`, planID); err != nil {
		return "", nil, translate(err, "plan %s", planID)
	}
	return p.Name, domain.PlanYears(dateOf(p.Start), dateOf(p.End)), nil
}

// notPlanYear refuses a year outside the plan's period.
func notPlanYear(year int, years []int) error {
	if len(years) == 0 {
		return domain.Refuse(domain.CodeNotFound, "Planen har ingen år, og derfor intet årsregnskab for %d.", year)
	}
	return domain.Refuse(domain.CodeNotFound, "%d er ikke et år i planens periode (%d-%d); der er intet årsregnskab for det.",
		year, years[0], years[len(years)-1])
}

type declarationRow struct {
	Year           int             `db:"year"`
	DeclaredOn     time.Time       `db:"declared_on"`
	Auditor        string          `db:"auditor"`
	Reference      string          `db:"reference"`
	Note           string          `db:"note"`
	Figures        json.RawMessage `db:"figures"`
	RecordedBy     string          `db:"recorded_by"`
	RecordedByName sql.NullString  `db:"recorded_by_name"`
	RecordedAt     time.Time       `db:"recorded_at"`
}

type filingRow struct {
	Year           int            `db:"year"`
	FiledOn        time.Time      `db:"filed_on"`
	Note           string         `db:"note"`
	RecordedBy     string         `db:"recorded_by"`
	RecordedByName sql.NullString `db:"recorded_by_name"`
	RecordedAt     time.Time      `db:"recorded_at"`
}

// declarationsAndFilings reads the plan's declarations and filings by year (year 0: all years).
func declarationsAndFilings(ctx context.Context, q sqlx.QueryerContext, planID string, year int) (map[int]*AnnualDeclaration, map[int]*AnnualFiling, error) {
	const qd = `
		SELECT d.year, d.declared_on, d.auditor, d.reference, d.note, d.figures, d.recorded_by,
		       u.name AS recorded_by_name, d.recorded_at
		FROM annual_statement_declarations d
		LEFT JOIN users u ON u.id = d.recorded_by
		WHERE d.plan_id = $1 AND ($2 = 0 OR d.year = $2)`
	var ds []declarationRow
	if err := sqlx.SelectContext(ctx, q, &ds, qd, planID, year); err != nil {
		return nil, nil, translate(err, "annual declarations of %s", planID)
	}
	const qf = `
		SELECT f.year, f.filed_on, f.note, f.recorded_by, u.name AS recorded_by_name, f.recorded_at
		FROM annual_statement_filings f
		LEFT JOIN users u ON u.id = f.recorded_by
		WHERE f.plan_id = $1 AND ($2 = 0 OR f.year = $2)`
	var fs []filingRow
	if err := sqlx.SelectContext(ctx, q, &fs, qf, planID, year); err != nil {
		return nil, nil, translate(err, "annual filings of %s", planID)
	}
	decl := map[int]*AnnualDeclaration{}
	for _, d := range ds {
		var figures domain.AnnualStatementFigures
		if err := json.Unmarshal(d.Figures, &figures); err != nil {
			return nil, nil, fmt.Errorf("annual declaration %s %d: figures: %w", planID, d.Year, err)
		}
		decl[d.Year] = &AnnualDeclaration{DeclaredOn: dateOf(d.DeclaredOn), Auditor: d.Auditor, Reference: d.Reference,
			Note: d.Note, Figures: figures, RecordedBy: d.RecordedBy, RecordedByName: d.RecordedByName.String,
			RecordedAt: d.RecordedAt}
	}
	filed := map[int]*AnnualFiling{}
	for _, f := range fs {
		filed[f.Year] = &AnnualFiling{FiledOn: dateOf(f.FiledOn), Note: f.Note, RecordedBy: f.RecordedBy,
			RecordedByName: f.RecordedByName.String, RecordedAt: f.RecordedAt}
	}
	return decl, filed, nil
}

// summaryOf is the list entry of year at instant now.
func summaryOf(year int, due domain.AnnualDue, declared, filed bool, now time.Time) AnnualSummary {
	out := AnnualSummary{Year: year, Status: domain.AnnualDraft, Due: due.For(year),
		YearOver: now.In(domain.Copenhagen).Year() > year}
	switch {
	case filed:
		out.Status = domain.AnnualFiled
	case declared:
		out.Status = domain.AnnualDeclared
	}
	out.Overdue = !filed && domain.AnnualOverdue(year, due, now)
	return out
}

// AnnualStatements lists the plan's years with the status and due date of each statement at instant now. An
// unknown plan is ErrNotFound.
func (s *Store) AnnualStatements(ctx context.Context, planID string, now time.Time) ([]AnnualSummary, error) {
	var out []AnnualSummary
	err := s.inTxOpts(ctx, readOnlySnapshot, func(tx *sqlx.Tx) error {
		_, years, err := planOf(ctx, tx, planID)
		if err != nil {
			return err
		}
		set, err := annualSettings(ctx, tx, planID)
		if err != nil {
			return err
		}
		decl, filed, err := declarationsAndFilings(ctx, tx, planID, 0)
		if err != nil {
			return err
		}
		out = make([]AnnualSummary, 0, len(years))
		for _, y := range years {
			out = append(out, summaryOf(y, set.Due, decl[y] != nil, filed[y] != nil, now))
		}
		return nil
	})
	return out, err
}

func annualStatement(ctx context.Context, q sqlx.QueryerContext, planID string, year int, now time.Time) (AnnualStatement, error) {
	name, years, err := planOf(ctx, q, planID)
	if err != nil {
		return AnnualStatement{}, err
	}
	if !slices.Contains(years, year) {
		return AnnualStatement{}, notPlanYear(year, years)
	}
	set, err := annualSettings(ctx, q, planID)
	if err != nil {
		return AnnualStatement{}, err
	}
	decl, filed, err := declarationsAndFilings(ctx, q, planID, year)
	if err != nil {
		return AnnualStatement{}, err
	}
	figures, err := annualFigures(ctx, q, planID, year)
	if err != nil {
		return AnnualStatement{}, err
	}
	out := AnnualStatement{PlanID: planID, PlanName: name,
		AnnualSummary: summaryOf(year, set.Due, decl[year] != nil, filed[year] != nil, now),
		Figures:       figures, Declaration: decl[year], Filing: filed[year]}
	if out.Declaration != nil {
		out.Changed = !out.Declaration.Figures.Equal(figures)
	}
	return out, nil
}

// AnnualStatement returns the plan's statement for year as it stands at instant now: live figures, declaration,
// filing. A year outside the plan is refused with CodeNotFound; an unknown plan is ErrNotFound.
func (s *Store) AnnualStatement(ctx context.Context, planID string, year int, now time.Time) (AnnualStatement, error) {
	var out AnnualStatement
	err := s.inTxOpts(ctx, readOnlySnapshot, func(tx *sqlx.Tx) error {
		var err error
		out, err = annualStatement(ctx, tx, planID, year, now)
		return err
	})
	return out, err
}

// checkAnnualText adds a problem for a required one-line text that is missing, too long or has bad characters.
func checkAnnualText(ps *fieldProblems, field, v, missing string) {
	switch {
	case v == "":
		ps.add(field, "required", "%s", missing)
	case !domain.ValidText(v) || strings.ContainsAny(v, "\r\n"):
		ps.add(field, "invalid_characters", "Teksten indeholder tegn, der ikke er tilladt: linjeskift, kontroltegn eller ugyldig UTF-8.")
	case utf8.RuneCountInString(v) > maxAnnualText:
		ps.add(field, "too_long", "Højst %d tegn.", maxAnnualText)
	}
}

// DeclareAnnualStatement records the auditor's declaration of the plan's statement for year at instant now, by
// actor, freezing the figures as they are in the same transaction. The year must be a plan year (else
// CodeNotFound) and over (else CodeConflict); declared_on must lie after 31.12. of the year and not after today
// (Copenhagen); auditor and reference are required (CodeValidation). The same declaration again (same date,
// auditor and reference) changes nothing; a different one is refused with CodeConflict. The caller has checked
// that actor is admin.
func (s *Store) DeclareAnnualStatement(ctx context.Context, planID string, year int, in AnnualDeclarationInput, actor domain.Actor, now time.Time) (AnnualStatement, error) {
	in.Auditor, in.Reference, in.Note = strings.TrimSpace(in.Auditor), strings.TrimSpace(in.Reference), strings.TrimSpace(in.Note)
	today := domain.LocalDate(now)
	var ps fieldProblems
	switch {
	case in.DeclaredOn.IsZero():
		ps.add("declared_on", "required", "Angiv datoen for revisorerklæringen.")
	case in.DeclaredOn.After(today):
		ps.add("declared_on", "in_future", "Datoen for revisorerklæringen kan ikke ligge i fremtiden.")
	case !in.DeclaredOn.After(domain.NewDate(year, time.December, 31)):
		ps.add("declared_on", "before_year_end", "Revisor kan først erklære årsregnskabet for %d efter 31.12.%d.", year, year)
	}
	checkAnnualText(&ps, "auditor", in.Auditor, "Angiv revisorens navn.")
	checkAnnualText(&ps, "reference", in.Reference, "Angiv erklæringens reference.")
	ps.note("note", in.Note)
	var out AnnualStatement
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := lockPlan(ctx, tx, planID); err != nil {
			return err
		}
		_, years, err := planOf(ctx, tx, planID)
		if err != nil {
			return err
		}
		if !slices.Contains(years, year) {
			return notPlanYear(year, years)
		}
		decl, _, err := declarationsAndFilings(ctx, tx, planID, year)
		if err != nil {
			return err
		}
		if d := decl[year]; d != nil {
			if d.DeclaredOn.String() == in.DeclaredOn.String() && d.Auditor == in.Auditor && d.Reference == in.Reference {
				out, err = annualStatement(ctx, tx, planID, year, now)
				return err // the same declaration again: nothing to write
			}
			return domain.Refuse(domain.CodeConflict, "Årsregnskabet for %d er allerede revisorerklæret (%s, %s, reference %s) "+
				"og kan ikke erklæres igen.", year, d.Auditor, domain.DanishDate(d.DeclaredOn), d.Reference)
		}
		if today.Time().Year() <= year {
			return domain.Refuse(domain.CodeConflict, "Året %d er ikke slut endnu; revisor kan først erklære årsregnskabet "+
				"fra 01.01.%d.", year, year+1)
		}
		if err := ps.err("Revisorerklæringen kan ikke gemmes."); err != nil {
			return err
		}
		figures, err := annualFigures(ctx, tx, planID, year)
		if err != nil {
			return err
		}
		frozen, err := json.Marshal(figures)
		if err != nil {
			return fmt.Errorf("annual declaration %s %d: %w", planID, year, err)
		}
		const qIns = `
			INSERT INTO annual_statement_declarations (plan_id, year, declared_on, auditor, reference, note, figures, recorded_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
		if _, err := tx.ExecContext(ctx, qIns, planID, year, in.DeclaredOn.Time(), in.Auditor, in.Reference, in.Note,
			frozen, actor.UserID); err != nil {
			return translate(err, "annual declaration %s %d", planID, year)
		}
		out, err = annualStatement(ctx, tx, planID, year, now)
		return err
	})
	if err != nil {
		return AnnualStatement{}, err
	}
	return out, nil
}

// FileAnnualStatement records that the plan's declared statement for year was sent to Landsbyggefonden on
// filed_on, by actor. The statement must be declared (else CodeConflict); filed_on must not lie before the
// declaration nor after today (Copenhagen). The same filing date again changes nothing; another is refused with
// CodeConflict. The caller has checked that actor is admin.
func (s *Store) FileAnnualStatement(ctx context.Context, planID string, year int, in AnnualFilingInput, actor domain.Actor, now time.Time) (AnnualStatement, error) {
	in.Note = strings.TrimSpace(in.Note)
	today := domain.LocalDate(now)
	var out AnnualStatement
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := lockPlan(ctx, tx, planID); err != nil {
			return err
		}
		_, years, err := planOf(ctx, tx, planID)
		if err != nil {
			return err
		}
		if !slices.Contains(years, year) {
			return notPlanYear(year, years)
		}
		decl, filed, err := declarationsAndFilings(ctx, tx, planID, year)
		if err != nil {
			return err
		}
		if f := filed[year]; f != nil {
			if f.FiledOn.String() == in.FiledOn.String() {
				out, err = annualStatement(ctx, tx, planID, year, now)
				return err
			}
			return domain.Refuse(domain.CodeConflict, "Årsregnskabet for %d er allerede markeret som indsendt til "+
				"Landsbyggefonden den %s.", year, domain.DanishDate(f.FiledOn))
		}
		d := decl[year]
		if d == nil {
			return domain.Refuse(domain.CodeConflict, "Årsregnskabet for %d har ingen revisorerklæring endnu; registrér "+
				"erklæringen, før regnskabet markeres som indsendt.", year)
		}
		var ps fieldProblems
		switch {
		case in.FiledOn.IsZero():
			ps.add("filed_on", "required", "Angiv datoen, regnskabet blev sendt til Landsbyggefonden.")
		case in.FiledOn.After(today):
			ps.add("filed_on", "in_future", "Datoen for indsendelsen kan ikke ligge i fremtiden.")
		case in.FiledOn.Before(d.DeclaredOn):
			ps.add("filed_on", "before_declaration", "Regnskabet kan ikke være sendt før revisorerklæringen (%s).",
				domain.DanishDate(d.DeclaredOn))
		}
		ps.note("note", in.Note)
		if err := ps.err("Indsendelsen kan ikke gemmes."); err != nil {
			return err
		}
		const qIns = `
			INSERT INTO annual_statement_filings (plan_id, year, filed_on, note, recorded_by)
			VALUES ($1, $2, $3, $4, $5)`
		if _, err := tx.ExecContext(ctx, qIns, planID, year, in.FiledOn.Time(), in.Note, actor.UserID); err != nil {
			return translate(err, "annual filing %s %d", planID, year)
		}
		out, err = annualStatement(ctx, tx, planID, year, now)
		return err
	})
	if err != nil {
		return AnnualStatement{}, err
	}
	return out, nil
}

// holdAt returns why new releases of the plan are held at instant at, or nil: the earliest plan year whose
// statement is not filed and whose due date is over, while the plan holds releases.
func holdAt(ctx context.Context, q sqlx.QueryerContext, planID string, at time.Time) (*Hold, error) {
	set, err := annualSettings(ctx, q, planID)
	if err != nil || !set.HoldReleases {
		return nil, err
	}
	_, years, err := planOf(ctx, q, planID)
	if err != nil {
		return nil, err
	}
	var filed []int
	if err := sqlx.SelectContext(ctx, q, &filed, `SELECT year FROM annual_statement_filings WHERE plan_id = $1`, planID); err != nil {
		return nil, translate(err, "annual filings of %s", planID)
	}
	// Only a year the plan moved money in through the product owes a statement from it: a year before the plan
	// was run here (Viborg's first years, say) has nothing to account for, and holding releases for it would stop
	// the plan for good.
	const qActive = `
		SELECT DISTINCT extract(year FROM (t AT TIME ZONE 'Europe/Copenhagen'))::int
		FROM (
			SELECT released_at AS t FROM disbursements WHERE plan_id = $1
			UNION ALL SELECT paid_at FROM disbursements WHERE plan_id = $1 AND paid_at IS NOT NULL
			UNION ALL SELECT d.decided_at FROM inkind_decisions d JOIN inkind_contributions c ON c.id = d.contribution_id
			          WHERE c.plan_id = $1 AND d.status = 'confirmed'
			UNION ALL SELECT received_at FROM initiative_returns WHERE plan_id = $1 AND received_at IS NOT NULL
		) x`
	var active []int
	if err := sqlx.SelectContext(ctx, q, &active, qActive, planID); err != nil {
		return nil, translate(err, "years with money of %s", planID)
	}
	for _, y := range years {
		if slices.Contains(active, y) && !slices.Contains(filed, y) && domain.AnnualOverdue(y, set.Due, at) {
			due := set.Due.For(y)
			return &Hold{Year: y, Due: due, Message: domain.HoldMessage(y, due)}, nil
		}
	}
	return nil, nil
}

// ReleaseHold returns why new releases of the plan are held at instant now (for the pages' banner), or nil when
// they are not. An unknown plan is ErrNotFound.
func (s *Store) ReleaseHold(ctx context.Context, planID string, now time.Time) (*Hold, error) {
	var out *Hold
	err := s.inTxOpts(ctx, readOnlySnapshot, func(tx *sqlx.Tx) error {
		var err error
		out, err = holdAt(ctx, tx, planID, now)
		return err
	})
	return out, err
}

// checkReleaseHold refuses a new release at instant at (the release's event time) with CodeStatementOverdue while
// the plan holds releases and the statement of an earlier plan year with money movements (a tranche released or
// paid, in-kind confirmed, a return received, in Copenhagen time) is overdue: not FILED (a declaration alone
// does not count: the statement has not reached Landsbyggefonden) and its due date over. It runs inside the
// release's transaction (store/ledger.go), so a refused release writes nothing.
func checkReleaseHold(ctx context.Context, tx *sqlx.Tx, planID string, at time.Time) error {
	h, err := holdAt(ctx, tx, planID, at)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil // the plan's foreign keys refuse the release
		}
		return err
	}
	if h != nil {
		return domain.Refuse(domain.CodeStatementOverdue, "%s", h.Message)
	}
	return nil
}
