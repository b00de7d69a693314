package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/seed"
)

// SeedPlan loads a plan and its people when the plan is not in the database yet, in one transaction. It never
// overwrites a plan that is there: after the first start, the secretariat's edits win over the seed file. Users
// shared with another plan are kept as they are and only get a membership. The plan's board (its users with the
// board role, the one titled formand as chair) and its settings get version 1 of their history, also when the
// plan was loaded before they had one.
func (s *Store) SeedPlan(ctx context.Context, sd seed.Seed) (created bool, err error) {
	p := sd.Plan
	settings, err := json.Marshal(p.Settings)
	if err != nil {
		return false, fmt.Errorf("seed plan %s: settings: %w", p.ID, err)
	}
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		// A concurrent seed of the same plan waits on the primary key here and then finds the plan present.
		const qPlan = `
			INSERT INTO plans (id, name, municipality, period_start, period_end, vision, settings)
			VALUES ($1, $2, $3, $4::date, $5::date, $6, $7)
			ON CONFLICT (id) DO NOTHING`
		res, err := tx.ExecContext(ctx, qPlan, p.ID, p.Name, p.Municipality, p.PeriodStart.String(),
			p.PeriodEnd.String(), p.Vision, settings)
		if err != nil {
			return translate(err, "seed plan %s", p.ID)
		}
		n, err := rowsAffected(res, "seed plan")
		if err != nil {
			return err
		}
		if n == 0 {
			// The plan is there already; one loaded before the board and the settings had history gets their
			// version 1 now (board.go), so upgrading needs nothing but another start.
			return ensurePlanHistory(ctx, tx, p.ID)
		}
		created = true

		const qSource = `
			INSERT INTO funding_sources (plan_id, id, position, name, kind, local, committed_ore, note)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
		for i, f := range p.FundingSources {
			if _, err := tx.ExecContext(ctx, qSource, p.ID, f.ID, i, f.Name, string(f.Kind), f.Local,
				int64(f.CommittedØre), f.Note); err != nil {
				return translate(err, "seed funding source %s", f.ID)
			}
		}
		const qDelaftale = `
			INSERT INTO delaftaler (plan_id, id, position, name, description)
			VALUES ($1, $2, $3, $4, $5)`
		for i, d := range p.Delaftaler {
			if _, err := tx.ExecContext(ctx, qDelaftale, p.ID, d.ID, i, d.Name, d.Description); err != nil {
				return translate(err, "seed delaftale %s", d.ID)
			}
		}
		const qAssociation = `
			INSERT INTO housing_associations (plan_id, id, position, name, residents)
			VALUES ($1, $2, $3, $4, $5)`
		for i, a := range p.HousingAssociations {
			if _, err := tx.ExecContext(ctx, qAssociation, p.ID, a.ID, i, a.Name, a.Residents); err != nil {
				return translate(err, "seed housing association %s", a.ID)
			}
		}
		const qArea = `
			INSERT INTO housing_areas (plan_id, id, position, name, association_id)
			VALUES ($1, $2, $3, $4, $5)`
		for i, a := range p.HousingAreas {
			if _, err := tx.ExecContext(ctx, qArea, p.ID, a.ID, i, a.Name, a.AssociationID); err != nil {
				return translate(err, "seed housing area %s", a.ID)
			}
		}
		const qUser = `
			INSERT INTO users (id, name, email, title)
			VALUES ($1, $2, $3, $4)
			ON CONFLICT (id) DO NOTHING`
		const qMember = `
			INSERT INTO plan_members (plan_id, user_id, role)
			VALUES ($1, $2, $3)`
		for _, u := range sd.Users {
			if _, err := tx.ExecContext(ctx, qUser, u.ID, u.Name, u.Email, u.Title); err != nil {
				return translate(err, "seed user %s", u.ID)
			}
			if _, err := tx.ExecContext(ctx, qMember, p.ID, u.ID, string(u.Role)); err != nil {
				return translate(err, "seed membership of %s", u.ID)
			}
		}
		return ensurePlanHistory(ctx, tx, p.ID)
	})
	if err != nil {
		return false, err
	}
	// The recipients and the paying account (recipients.go) are a seed step of their own: a plan loaded before they
	// existed gets them at its next start, and admin's edits are never overwritten.
	if _, err := s.SeedRecipients(ctx, sd); err != nil {
		return false, err
	}
	// So is the split of each source's commitment by year (years.go): version 1 an even split, once.
	if err := s.SeedCommitmentYears(ctx, p.ID); err != nil {
		return false, err
	}
	return created, nil
}

// GetPlan returns the whole plan: settings, funding sources, delaftaler, associations and areas, in the order
// the plan lists them, and its current board (nil when none is recorded).
func (s *Store) GetPlan(ctx context.Context, id string) (domain.Plan, error) {
	plans, err := s.loadPlans(ctx, []string{id})
	if err != nil {
		return domain.Plan{}, err
	}
	if len(plans) == 0 {
		return domain.Plan{}, fmt.Errorf("plan %s: %w", id, ErrNotFound)
	}
	return plans[0], nil
}

// ListPlans returns the plans with the given IDs (all plans when planIDs is nil), ordered by ID. Unknown IDs are
// left out rather than failing the list: the caller passes the plans a user is a member of.
func (s *Store) ListPlans(ctx context.Context, planIDs []string) ([]domain.Plan, error) {
	if planIDs != nil && len(planIDs) == 0 {
		return []domain.Plan{}, nil
	}
	return s.loadPlans(ctx, planIDs)
}

// loadPlans reads plans and their parts with one query per table, not per plan. ids nil means all plans.
func (s *Store) loadPlans(ctx context.Context, ids []string) ([]domain.Plan, error) {
	all := ids == nil
	var out []domain.Plan
	// One snapshot for all tables, so a plan edited meanwhile is not returned half old, half new.
	err := s.inTxOpts(ctx, readOnlySnapshot, func(tx *sqlx.Tx) error {
		const qPlans = `
			SELECT id, name, municipality, period_start, period_end, vision, settings
			FROM plans
			WHERE $1 OR id = ANY($2)
			ORDER BY id`
		var rows []struct {
			ID           string    `db:"id"`
			Name         string    `db:"name"`
			Municipality string    `db:"municipality"`
			PeriodStart  time.Time `db:"period_start"`
			PeriodEnd    time.Time `db:"period_end"`
			Vision       string    `db:"vision"`
			Settings     []byte    `db:"settings"`
		}
		if err := sqlx.SelectContext(ctx, tx, &rows, qPlans, all, pq.Array(ids)); err != nil {
			return translate(err, "list plans")
		}
		out = make([]domain.Plan, len(rows))
		index := make(map[string]*domain.Plan, len(rows))
		found := make([]string, len(rows))
		for i, r := range rows {
			p := domain.Plan{
				ID:                  r.ID,
				Name:                r.Name,
				Municipality:        r.Municipality,
				PeriodStart:         dateOf(r.PeriodStart),
				PeriodEnd:           dateOf(r.PeriodEnd),
				Vision:              r.Vision,
				FundingSources:      []domain.FundingSource{},
				Delaftaler:          []domain.Delaftale{},
				HousingAssociations: []domain.HousingAssociation{},
				HousingAreas:        []domain.HousingArea{},
			}
			if err := json.Unmarshal(r.Settings, &p.Settings); err != nil {
				return fmt.Errorf("plan %s: settings: %w", r.ID, err)
			}
			out[i] = p
			index[r.ID] = &out[i]
			found[i] = r.ID
		}
		if len(found) == 0 {
			return nil
		}

		const qSources = `
			SELECT plan_id, id, name, kind, local, committed_ore, note
			FROM funding_sources
			WHERE plan_id = ANY($1)
			ORDER BY plan_id, position`
		var sources []struct {
			PlanID       string `db:"plan_id"`
			ID           string `db:"id"`
			Name         string `db:"name"`
			Kind         string `db:"kind"`
			Local        bool   `db:"local"`
			CommittedØre int64  `db:"committed_ore"`
			Note         string `db:"note"`
		}
		if err := sqlx.SelectContext(ctx, tx, &sources, qSources, pq.Array(found)); err != nil {
			return translate(err, "list funding sources")
		}
		for _, r := range sources {
			p := index[r.PlanID]
			p.FundingSources = append(p.FundingSources, domain.FundingSource{ID: r.ID, Name: r.Name,
				Kind: domain.FundingSourceKind(r.Kind), Local: r.Local, CommittedØre: domain.Money(r.CommittedØre), Note: r.Note})
		}

		const qDelaftaler = `
			SELECT plan_id, id, name, description
			FROM delaftaler
			WHERE plan_id = ANY($1)
			ORDER BY plan_id, position`
		var delaftaler []struct {
			PlanID      string `db:"plan_id"`
			ID          string `db:"id"`
			Name        string `db:"name"`
			Description string `db:"description"`
		}
		if err := sqlx.SelectContext(ctx, tx, &delaftaler, qDelaftaler, pq.Array(found)); err != nil {
			return translate(err, "list delaftaler")
		}
		for _, r := range delaftaler {
			p := index[r.PlanID]
			p.Delaftaler = append(p.Delaftaler, domain.Delaftale{ID: r.ID, Name: r.Name, Description: r.Description})
		}

		const qAssociations = `
			SELECT plan_id, id, name, residents
			FROM housing_associations
			WHERE plan_id = ANY($1)
			ORDER BY plan_id, position`
		var associations []struct {
			PlanID    string `db:"plan_id"`
			ID        string `db:"id"`
			Name      string `db:"name"`
			Residents int    `db:"residents"`
		}
		if err := sqlx.SelectContext(ctx, tx, &associations, qAssociations, pq.Array(found)); err != nil {
			return translate(err, "list housing associations")
		}
		for _, r := range associations {
			p := index[r.PlanID]
			p.HousingAssociations = append(p.HousingAssociations,
				domain.HousingAssociation{ID: r.ID, Name: r.Name, Residents: r.Residents})
		}

		const qAreas = `
			SELECT plan_id, id, name, association_id
			FROM housing_areas
			WHERE plan_id = ANY($1)
			ORDER BY plan_id, position`
		var areas []struct {
			PlanID        string `db:"plan_id"`
			ID            string `db:"id"`
			Name          string `db:"name"`
			AssociationID string `db:"association_id"`
		}
		if err := sqlx.SelectContext(ctx, tx, &areas, qAreas, pq.Array(found)); err != nil {
			return translate(err, "list housing areas")
		}
		for _, r := range areas {
			p := index[r.PlanID]
			p.HousingAreas = append(p.HousingAreas,
				domain.HousingArea{ID: r.ID, Name: r.Name, AssociationID: r.AssociationID})
		}

		// The current board, so plan.Rules() carries it into the workflows (board.go).
		boards, err := currentBoards(ctx, tx, found)
		if err != nil {
			return err
		}
		for id, b := range boards {
			index[id].Board = b
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SetDelaftaleBudgetFrame sets (or, with nil, removes) the budget frame of a delaftale. The plan document gives
// none, so the secretariat sets one when the board decides it; Budget then shows what is left of it.
func (s *Store) SetDelaftaleBudgetFrame(ctx context.Context, planID, delaftaleID string, frame *domain.Money) error {
	const q = `
		UPDATE delaftaler SET budget_frame_ore = $3
		WHERE plan_id = $1 AND id = $2`
	var v *int64
	if frame != nil {
		f := int64(*frame)
		v = &f
	}
	res, err := s.db.ExecContext(ctx, q, planID, delaftaleID, v)
	if err != nil {
		return translate(err, "set budget frame of delaftale %s/%s", planID, delaftaleID)
	}
	n, err := rowsAffected(res, "set budget frame")
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("delaftale %s/%s: %w", planID, delaftaleID, ErrNotFound)
	}
	return nil
}

// dateOf turns a PostgreSQL date, which lib/pq hands over as midnight in some zone, into a calendar date.
func dateOf(t time.Time) domain.Date { return domain.NewDate(t.Year(), t.Month(), t.Day()) }
