package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/helhedsplan/helhedsplan/domain"
)

// Per-year commitments of the funding sources, the budget by year, and the history of delaftale frames
// (migration 00015). The split of a source's commitment over the plan's years is plan data with history like the
// board (board.go): each change is a new version of the whole split of that source, written under the plan's row
// lock; a change based on an older version is refused with CodeConflict; a split equal to the current one writes
// nothing. The split must cover exactly the plan's years and add up to the source's committed total to the øre:
// SetCommitments checks it with Danish field messages, and a deferred constraint trigger checks it again at COMMIT.
//
// A tranche is charged to the calendar year (Copenhagen time) of its disbursement's released_at — the workflow's
// event time of the release, the same instant the ledger's release entries record, but deterministic where
// ledger_entries.created_at is the database's clock. A withdrawn disbursement charges nothing.

// CommitmentYear is one year's part of a source's commitment.
type CommitmentYear struct {
	Year      int          `json:"year"`
	AmountØre domain.Money `json:"amount_ore"`
}

// SourceCommitment is one version of a source's split by year, with who made it, when and why.
type SourceCommitment struct {
	SourceID      string           `json:"source_id"`
	Name          string           `json:"name"`
	CommittedØre  domain.Money     `json:"committed_ore"`
	Version       int              `json:"version"` // 0: no split on record
	Years         []CommitmentYear `json:"years"`
	ChangedBy     string           `json:"changed_by"`
	ChangedByName string           `json:"changed_by_name"`
	ChangedAt     time.Time        `json:"changed_at"`
	Note          string           `json:"note"`
}

// Commitments is the current split of every source of a plan, in the plan's order of sources.
type Commitments struct {
	PlanID  string             `json:"plan_id"`
	Years   []int              `json:"years"`
	Sources []SourceCommitment `json:"sources"`
}

// CommitmentSplit is a change of one source's split. BasedOnVersion, when not 0, is the version the change was made
// from. A plan year left out counts as 0.
type CommitmentSplit struct {
	SourceID       string
	BasedOnVersion int
	Years          []CommitmentYear
}

const commitmentsRefused = "Årsfordelingen kan ikke gemmes, fordi nogle beløb ikke overholder reglerne."

// CommitmentField is the problem field of a year's amount, and (year 0) of a source's whole split.
func CommitmentField(sourceID string, year int) string {
	if year == 0 {
		return "commitments[" + sourceID + "]"
	}
	return fmt.Sprintf("commitments[%s][%d]", sourceID, year)
}

type planSource struct {
	ID           string `db:"id"`
	Name         string `db:"name"`
	CommittedØre int64  `db:"committed_ore"`
}

// planYearsAndSources reads the plan's years and its sources in order; an unknown plan is ErrNotFound.
func planYearsAndSources(ctx context.Context, q sqlx.QueryerContext, planID string) ([]int, []planSource, error) {
	var period struct {
		Start time.Time `db:"period_start"`
		End   time.Time `db:"period_end"`
	}
	if err := sqlx.GetContext(ctx, q, &period, `SELECT period_start, period_end FROM plans WHERE id = $1`, planID); err != nil {
		return nil, nil, translate(err, "period of plan %s", planID)
	}
	var sources []planSource
	const qSources = `SELECT id, name, committed_ore FROM funding_sources WHERE plan_id = $1 ORDER BY position`
	if err := sqlx.SelectContext(ctx, q, &sources, qSources, planID); err != nil {
		return nil, nil, translate(err, "sources of plan %s", planID)
	}
	return domain.PlanYears(dateOf(period.Start), dateOf(period.End)), sources, nil
}

type commitmentRow struct {
	SourceID      string         `db:"source_id"`
	Version       int            `db:"version"`
	ChangedBy     sql.NullString `db:"changed_by"`
	ChangedByName sql.NullString `db:"changed_by_name"`
	ChangedAt     time.Time      `db:"changed_at"`
	Note          string         `db:"note"`
	Year          int            `db:"year"`
	AmountØre     int64          `db:"amount_ore"`
}

// commitmentVersions reads versions of the plan's splits with their years (current only, or all), grouped by
// source and version, newest version first.
func commitmentVersions(ctx context.Context, q sqlx.QueryerContext, planID string, currentOnly bool) (map[string][]SourceCommitment, error) {
	const qv = `
		SELECT v.source_id, v.version, v.changed_by, u.name AS changed_by_name, v.changed_at, v.note, y.year, y.amount_ore
		FROM source_commitment_versions v
		JOIN source_commitment_years y ON y.plan_id = v.plan_id AND y.source_id = v.source_id AND y.version = v.version
		LEFT JOIN users u ON u.id = v.changed_by
		WHERE v.plan_id = $1
		  AND (NOT $2 OR v.version = (SELECT max(version) FROM source_commitment_versions m
		                              WHERE m.plan_id = v.plan_id AND m.source_id = v.source_id))
		ORDER BY v.source_id, v.version DESC, y.year`
	var rows []commitmentRow
	if err := sqlx.SelectContext(ctx, q, &rows, qv, planID, currentOnly); err != nil {
		return nil, translate(err, "commitments of plan %s", planID)
	}
	out := map[string][]SourceCommitment{}
	for _, r := range rows {
		vs := out[r.SourceID]
		if len(vs) == 0 || vs[len(vs)-1].Version != r.Version {
			vs = append(vs, SourceCommitment{SourceID: r.SourceID, Version: r.Version, Years: []CommitmentYear{},
				ChangedBy: r.ChangedBy.String, ChangedByName: r.ChangedByName.String, ChangedAt: r.ChangedAt, Note: r.Note})
		}
		last := &vs[len(vs)-1]
		last.Years = append(last.Years, CommitmentYear{Year: r.Year, AmountØre: domain.Money(r.AmountØre)})
		out[r.SourceID] = vs
	}
	return out, nil
}

func commitments(ctx context.Context, q sqlx.QueryerContext, planID string) (Commitments, error) {
	years, sources, err := planYearsAndSources(ctx, q, planID)
	if err != nil {
		return Commitments{}, err
	}
	cur, err := commitmentVersions(ctx, q, planID, true)
	if err != nil {
		return Commitments{}, err
	}
	out := Commitments{PlanID: planID, Years: years, Sources: make([]SourceCommitment, 0, len(sources))}
	for _, src := range sources {
		c := SourceCommitment{SourceID: src.ID, Years: []CommitmentYear{}}
		if vs := cur[src.ID]; len(vs) > 0 {
			c = vs[0]
		}
		c.Name, c.CommittedØre = src.Name, domain.Money(src.CommittedØre)
		out.Sources = append(out.Sources, c)
	}
	return out, nil
}

// Commitments returns the current split by year of each of the plan's sources (Version 0 and no years for a
// source without one). An unknown plan is ErrNotFound.
func (s *Store) Commitments(ctx context.Context, planID string) (Commitments, error) {
	var out Commitments
	err := s.inTxOpts(ctx, readOnlySnapshot, func(tx *sqlx.Tx) error {
		var err error
		out, err = commitments(ctx, tx, planID)
		return err
	})
	return out, err
}

// CommitmentHistory returns every version of every source's split: sources in the plan's order, each source's
// versions newest first. An unknown plan is ErrNotFound.
func (s *Store) CommitmentHistory(ctx context.Context, planID string) ([]SourceCommitment, error) {
	var out []SourceCommitment
	err := s.inTxOpts(ctx, readOnlySnapshot, func(tx *sqlx.Tx) error {
		_, sources, err := planYearsAndSources(ctx, tx, planID)
		if err != nil {
			return err
		}
		all, err := commitmentVersions(ctx, tx, planID, false)
		if err != nil {
			return err
		}
		out = []SourceCommitment{}
		for _, src := range sources {
			for _, v := range all[src.ID] {
				v.Name, v.CommittedØre = src.Name, domain.Money(src.CommittedØre)
				out = append(out, v)
			}
		}
		return nil
	})
	return out, err
}

// SetCommitments records the splits as the next version of each source's split, by actor with note, in one
// transaction under the plan's row lock. Each split must name a source of the plan once, give years of the plan
// only (a year left out is 0), amounts within 0..domain.MaxMoney, adding up exactly to the source's committed
// total; otherwise it refuses with a *domain.RuleError (CodeValidation; fields CommitmentField). A split based on
// a version that is no longer current is refused with CodeConflict. A split equal to the current one writes
// nothing, unless the current one is the seed's placeholder (no changed_by): saving it unchanged records that admin
// decided it, and from then on it binds approvals (store/yearcheck.go). It returns the commitments as they are after the change. An unknown plan is ErrNotFound.
func (s *Store) SetCommitments(ctx context.Context, planID string, splits []CommitmentSplit, actor domain.Actor, note string) (Commitments, error) {
	var out Commitments
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := lockPlan(ctx, tx, planID); err != nil {
			return err
		}
		cur, err := commitments(ctx, tx, planID)
		if err != nil {
			return err
		}
		byID := map[string]SourceCommitment{}
		for _, c := range cur.Sources {
			byID[c.SourceID] = c
		}
		inPlan := map[int]bool{}
		for _, y := range cur.Years {
			inPlan[y] = true
		}
		var ps fieldProblems
		if len(splits) == 0 {
			ps.add("commitments", "required", "Angiv årsfordelingen af mindst én finansieringskilde.")
		}
		ps.note("note", note)
		seen := map[string]bool{}
		var write []SourceCommitment
		for _, sp := range splits {
			f := CommitmentField(sp.SourceID, 0)
			c, ok := byID[sp.SourceID]
			switch {
			case !ok:
				ps.add(f, "unknown", "Finansieringskilden %q findes ikke i planen.", shortID(sp.SourceID))
				continue
			case seen[sp.SourceID]:
				ps.add(f, "duplicate", "%s står to gange.", c.Name)
				continue
			}
			seen[sp.SourceID] = true
			amounts := map[int]domain.Money{}
			var total domain.Money
			overflow := false
			for _, y := range sp.Years {
				yf := CommitmentField(sp.SourceID, y.Year)
				switch _, dup := amounts[y.Year]; {
				case !inPlan[y.Year]:
					ps.add(yf, "outside_period", "%d ligger uden for planens periode (%d-%d).", y.Year,
						cur.Years[0], cur.Years[len(cur.Years)-1])
					continue
				case dup:
					ps.add(yf, "duplicate", "%d står to gange for %s.", y.Year, c.Name)
					continue
				case !y.AmountØre.InRange():
					ps.add(yf, "out_of_range", "Beløbet skal ligge mellem 0 og %s.", domain.MaxMoney)
					continue
				}
				amounts[y.Year] = y.AmountØre
				if t, ok := total.Add(y.AmountØre); ok {
					total = t
				} else {
					overflow = true
				}
			}
			if overflow || total != c.CommittedØre {
				ps.add(f, "sum_mismatch", "Årene for %s giver i alt %s, men tilsagnet er %s. Fordel præcis hele tilsagnet.",
					c.Name, total, c.CommittedØre)
			}
			next := SourceCommitment{SourceID: c.SourceID, Name: c.Name, CommittedØre: c.CommittedØre,
				Years: make([]CommitmentYear, 0, len(cur.Years))}
			for _, y := range cur.Years {
				next.Years = append(next.Years, CommitmentYear{Year: y, AmountØre: amounts[y]})
			}
			if c.Version > 0 && slices.Equal(next.Years, c.Years) && c.ChangedBy != "" {
				continue // already so: nothing to write, whatever version the form was made from
			}
			if sp.BasedOnVersion != 0 && sp.BasedOnVersion != c.Version {
				return domain.Refuse(domain.CodeConflict, "Årsfordelingen af %s er blevet ændret (nu version %d), siden "+
					"du hentede version %d. Hent den igen, og gentag din ændring.", c.Name, c.Version, sp.BasedOnVersion)
			}
			next.Version = c.Version + 1
			write = append(write, next)
		}
		if err := ps.err(commitmentsRefused); err != nil {
			return err
		}
		for _, c := range write {
			if err := insertCommitment(ctx, tx, planID, c, nullString(actor.UserID), note); err != nil {
				return err
			}
		}
		out, err = commitments(ctx, tx, planID)
		return err
	})
	if err != nil {
		return Commitments{}, err
	}
	return out, nil
}

func insertCommitment(ctx context.Context, tx *sqlx.Tx, planID string, c SourceCommitment, by sql.NullString, note string) error {
	const qVersion = `
		INSERT INTO source_commitment_versions (plan_id, source_id, version, changed_by, note)
		VALUES ($1, $2, $3, $4, $5)`
	if _, err := tx.ExecContext(ctx, qVersion, planID, c.SourceID, c.Version, by, note); err != nil {
		return translate(err, "commitment of %s/%s v%d", planID, c.SourceID, c.Version)
	}
	const qYear = `
		INSERT INTO source_commitment_years (plan_id, source_id, version, year, amount_ore)
		VALUES ($1, $2, $3, $4, $5)`
	for _, y := range c.Years {
		if _, err := tx.ExecContext(ctx, qYear, planID, c.SourceID, c.Version, y.Year, int64(y.AmountØre)); err != nil {
			return translate(err, "commitment of %s/%s v%d: %d", planID, c.SourceID, c.Version, y.Year)
		}
	}
	return nil
}

// SeedCommitmentYears gives each source of the plan without a split version 1: its committed total divided evenly
// over the plan's years, the remainder øre in the last year (domain.EvenSplit), written by the system with
// SeedNote. It runs under the plan's row lock, so concurrent seeds write version 1 once; a source that has a split
// keeps it, so admin's edits are never overwritten. An unknown plan is ErrNotFound.
func (s *Store) SeedCommitmentYears(ctx context.Context, planID string) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := lockPlan(ctx, tx, planID); err != nil {
			return err
		}
		cur, err := commitments(ctx, tx, planID)
		if err != nil {
			return err
		}
		for _, c := range cur.Sources {
			if c.Version > 0 || len(cur.Years) == 0 {
				continue
			}
			parts := domain.EvenSplit(c.CommittedØre, len(cur.Years))
			c.Version = 1
			c.Years = make([]CommitmentYear, len(cur.Years))
			for i, y := range cur.Years {
				c.Years[i] = CommitmentYear{Year: y, AmountØre: parts[i]}
			}
			if err := insertCommitment(ctx, tx, planID, c, sql.NullString{}, SeedNote); err != nil {
				return err
			}
		}
		return nil
	})
}

// YearFigures are one source's money in one year: its commitment for the year, what was released (charged to the
// year of release; paid or not, withdrawn excluded) and what of that is paid.
type YearFigures struct {
	Year         int          `json:"year"`
	CommittedØre domain.Money `json:"committed_ore"`
	ReleasedØre  domain.Money `json:"released_ore"`
	PaidØre      domain.Money `json:"paid_ore"`
}

// SourceYears are a source's figures per year.
type SourceYears struct {
	SourceID string        `json:"source_id"`
	Name     string        `json:"name"`
	Years    []YearFigures `json:"years"`
	Total    YearFigures   `json:"total"` // Year 0
}

// BudgetYears is the plan's budget by source and year. Years are the plan's years, plus any year a tranche was
// released in outside them.
type BudgetYears struct {
	PlanID  string        `json:"plan_id"`
	Years   []int         `json:"years"`
	Sources []SourceYears `json:"sources"`
	Total   []YearFigures `json:"total"` // per year, all sources
}

// BudgetCell is the money released and paid from one source for one delaftale in one year.
type BudgetCell struct {
	SourceID    string       `db:"source_id"`
	DelaftaleID string       `db:"delaftale_id"`
	Year        int          `db:"year"`
	ReleasedØre domain.Money `db:"released_ore"`
	PaidØre     domain.Money `db:"paid_ore"`
}

// budgetCells reads released and paid per source, delaftale and year of release (Copenhagen time).
func budgetCells(ctx context.Context, q sqlx.QueryerContext, planID string) ([]BudgetCell, error) {
	const qc = `
		SELECT l.source_id, d.delaftale_id,
		       extract(year FROM d.released_at AT TIME ZONE 'Europe/Copenhagen')::int AS year,
		       sum(l.amount_ore)::bigint AS released_ore,
		       COALESCE(sum(l.amount_ore) FILTER (WHERE d.status = 'paid'), 0)::bigint AS paid_ore
		FROM disbursements d
		JOIN disbursement_lines l ON l.disbursement_id = d.id
		WHERE d.plan_id = $1 AND d.status <> 'withdrawn'
		GROUP BY 1, 2, 3
		ORDER BY 1, 2, 3`
	var cells []BudgetCell
	if err := sqlx.SelectContext(ctx, q, &cells, qc, planID); err != nil {
		return nil, translate(err, "budget by year of %s", planID)
	}
	return cells, nil
}

// BudgetByYear returns the plan's commitments, released and paid money per source and year, from one snapshot.
// An unknown plan is ErrNotFound.
func (s *Store) BudgetByYear(ctx context.Context, planID string) (BudgetYears, error) {
	var out BudgetYears
	err := s.inTxOpts(ctx, readOnlySnapshot, func(tx *sqlx.Tx) error {
		c, err := commitments(ctx, tx, planID)
		if err != nil {
			return err
		}
		cells, err := budgetCells(ctx, tx, planID)
		if err != nil {
			return err
		}
		out = budgetByYear(c, cells)
		return nil
	})
	return out, err
}

// budgetByYear folds the cells into the per-source, per-year table. Amounts are each at most a source's
// commitment summed over stored rows (bigint in SQL), so the sums fit.
func budgetByYear(c Commitments, cells []BudgetCell) BudgetYears {
	years := slices.Clone(c.Years)
	for _, x := range cells {
		if !slices.Contains(years, x.Year) {
			years = append(years, x.Year)
		}
	}
	slices.Sort(years)
	out := BudgetYears{PlanID: c.PlanID, Years: years, Sources: []SourceYears{}, Total: make([]YearFigures, len(years))}
	for i, y := range years {
		out.Total[i].Year = y
	}
	for _, src := range c.Sources {
		sy := SourceYears{SourceID: src.SourceID, Name: src.Name, Years: make([]YearFigures, len(years))}
		for i, y := range years {
			f := &sy.Years[i]
			f.Year = y
			for _, cy := range src.Years {
				if cy.Year == y {
					f.CommittedØre = cy.AmountØre
				}
			}
			for _, x := range cells {
				if x.SourceID == src.SourceID && x.Year == y {
					f.ReleasedØre += x.ReleasedØre
					f.PaidØre += x.PaidØre
				}
			}
			sy.Total.CommittedØre += f.CommittedØre
			sy.Total.ReleasedØre += f.ReleasedØre
			sy.Total.PaidØre += f.PaidØre
			out.Total[i].CommittedØre += f.CommittedØre
			out.Total[i].ReleasedØre += f.ReleasedØre
			out.Total[i].PaidØre += f.PaidØre
		}
		out.Sources = append(out.Sources, sy)
	}
	return out
}

// BudgetCells returns released and paid per source, delaftale and year of release, for the CSV export; cells
// with nothing released are left out. An unknown plan is ErrNotFound.
func (s *Store) BudgetCells(ctx context.Context, planID string) ([]BudgetCell, error) {
	var out []BudgetCell
	err := s.inTxOpts(ctx, readOnlySnapshot, func(tx *sqlx.Tx) error {
		if err := planExists(ctx, tx, planID); err != nil {
			return err
		}
		var err error
		out, err = budgetCells(ctx, tx, planID)
		return err
	})
	return out, err
}

// FrameChange is one change of a delaftale's budget frame.
type FrameChange struct {
	DelaftaleID   string        `json:"delaftale_id"`
	FrameØre      *domain.Money `json:"frame_ore"` // nil: the frame was removed
	ChangedBy     string        `json:"changed_by"`
	ChangedByName string        `json:"changed_by_name"`
	ChangedAt     time.Time     `json:"changed_at"`
	Note          string        `json:"note"`
}

// SetDelaftaleFrame sets (or, with nil, removes) a delaftale's budget frame like SetDelaftaleBudgetFrame and
// records the change in its history, in one transaction; a frame equal to the current one writes nothing. A frame
// outside 0..domain.MaxMoney is refused with a *domain.RuleError; an unknown delaftale is ErrNotFound.
func (s *Store) SetDelaftaleFrame(ctx context.Context, planID, delaftaleID string, frame *domain.Money, actor domain.Actor, note string) error {
	var ps fieldProblems
	if frame != nil && !frame.InRange() {
		ps.add("frame_ore", "out_of_range", "Rammen skal ligge mellem 0 og %s.", domain.MaxMoney)
	}
	ps.note("note", note)
	if err := ps.err("Rammen kan ikke gemmes."); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		var cur sql.NullInt64
		const qLock = `SELECT budget_frame_ore FROM delaftaler WHERE plan_id = $1 AND id = $2 FOR NO KEY UPDATE`
		if err := tx.GetContext(ctx, &cur, qLock, planID, delaftaleID); err != nil {
			return translate(err, "delaftale %s/%s", planID, delaftaleID)
		}
		var v *int64
		if frame != nil {
			f := int64(*frame)
			v = &f
		}
		if (v == nil && !cur.Valid) || (v != nil && cur.Valid && *v == cur.Int64) {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE delaftaler SET budget_frame_ore = $3 WHERE plan_id = $1 AND id = $2`,
			planID, delaftaleID, v); err != nil {
			return translate(err, "set frame of %s/%s", planID, delaftaleID)
		}
		const qHist = `
			INSERT INTO delaftale_frame_history (plan_id, delaftale_id, frame_ore, changed_by, note)
			VALUES ($1, $2, $3, $4, $5)`
		if _, err := tx.ExecContext(ctx, qHist, planID, delaftaleID, v, nullString(actor.UserID), note); err != nil {
			return translate(err, "frame history of %s/%s", planID, delaftaleID)
		}
		return nil
	})
}

// FrameHistory returns the changes of the plan's delaftale frames, newest first.
func (s *Store) FrameHistory(ctx context.Context, planID string) ([]FrameChange, error) {
	const q = `
		SELECT h.delaftale_id, h.frame_ore, h.changed_by, u.name AS changed_by_name, h.changed_at, h.note
		FROM delaftale_frame_history h
		LEFT JOIN users u ON u.id = h.changed_by
		WHERE h.plan_id = $1
		ORDER BY h.id DESC`
	var rows []struct {
		DelaftaleID   string         `db:"delaftale_id"`
		Frame         *int64         `db:"frame_ore"`
		ChangedBy     sql.NullString `db:"changed_by"`
		ChangedByName sql.NullString `db:"changed_by_name"`
		ChangedAt     time.Time      `db:"changed_at"`
		Note          string         `db:"note"`
	}
	if err := s.db.SelectContext(ctx, &rows, q, planID); err != nil {
		return nil, translate(err, "frame history of %s", planID)
	}
	out := make([]FrameChange, len(rows))
	for i, r := range rows {
		out[i] = FrameChange{DelaftaleID: r.DelaftaleID, ChangedBy: r.ChangedBy.String,
			ChangedByName: r.ChangedByName.String, ChangedAt: r.ChangedAt, Note: r.Note}
		if r.Frame != nil {
			m := domain.Money(*r.Frame)
			out[i].FrameØre = &m
		}
	}
	return out, nil
}
