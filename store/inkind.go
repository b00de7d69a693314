package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/helhedsplan/helhedsplan/domain"
)

// maxInKindList bounds the contributions one list reads.
const maxInKindList = 1000

// InKindContribution is one registered in-kind contribution with its decision, if any.
type InKindContribution struct {
	ID               int64               `db:"id"`
	PlanID           string              `db:"plan_id"`
	InitiativeID     string              `db:"initiative_id"`
	InitiativeTitle  string              `db:"initiative_title"`
	MilestoneNo      int                 `db:"milestone_no"`
	SourceID         string              `db:"source_id"`
	SourceName       string              `db:"source_name"`
	Description      string              `db:"description"`
	Hours            *int64              `db:"hours"`
	RateØre          *int64              `db:"rate_ore"`
	ValueØre         int64               `db:"value_ore"`
	RegisteredBy     string              `db:"registered_by"`
	RegisteredByName string              `db:"registered_by_name"`
	RegisteredAt     time.Time           `db:"registered_at"`
	Status           domain.InKindStatus `db:"status"`
	Reason           string              `db:"reason"`
	DecidedBy        *string             `db:"decided_by"`
	DecidedByName    string              `db:"decided_by_name"`
	DecidedAt        *time.Time          `db:"decided_at"`
}

const qInKindSelect = `
	SELECT c.id, c.plan_id, c.initiative_id, i.title AS initiative_title, c.milestone_no, c.source_id,
	       s.name AS source_name, c.description, c.hours, c.rate_ore, c.value_ore, c.registered_by,
	       COALESCE(ru.name, '') AS registered_by_name, c.registered_at,
	       COALESCE(d.status, 'registered') AS status, COALESCE(d.reason, '') AS reason, d.decided_by,
	       COALESCE(du.name, '') AS decided_by_name, d.decided_at
	FROM inkind_contributions c
	JOIN initiatives i ON i.id = c.initiative_id
	JOIN funding_sources s ON s.plan_id = c.plan_id AND s.id = c.source_id
	LEFT JOIN inkind_decisions d ON d.contribution_id = c.id
	LEFT JOIN users ru ON ru.id = c.registered_by
	LEFT JOIN users du ON du.id = d.decided_by`

// InKindFilter selects contributions of a plan: of one initiative and/or in one status ("" for all).
type InKindFilter struct {
	InitiativeID string
	Status       domain.InKindStatus
}

// ListInKind returns the plan's in-kind contributions, newest first (at most maxInKindList).
func (s *Store) ListInKind(ctx context.Context, planID string, f InKindFilter) ([]InKindContribution, error) {
	q := qInKindSelect + `
	WHERE c.plan_id = $1
	  AND ($2 = '' OR c.initiative_id = $2)
	  AND ($3 = '' OR COALESCE(d.status, 'registered') = $3)
	ORDER BY c.id DESC
	LIMIT $4`
	out := []InKindContribution{}
	if err := s.db.SelectContext(ctx, &out, q, planID, f.InitiativeID, string(f.Status), maxInKindList); err != nil {
		return nil, translate(err, "in-kind of plan %s", planID)
	}
	return out, nil
}

// GetInKind returns one contribution; ErrNotFound when there is none with the ID.
func (s *Store) GetInKind(ctx context.Context, id int64) (InKindContribution, error) {
	return getInKind(ctx, s.db, id)
}

func getInKind(ctx context.Context, q sqlx.QueryerContext, id int64) (InKindContribution, error) {
	var out InKindContribution
	if err := sqlx.GetContext(ctx, q, &out, qInKindSelect+` WHERE c.id = $1`, id); err != nil {
		return InKindContribution{}, translate(err, "in-kind contribution %d", id)
	}
	return out, nil
}

// RegisterInKind records an in-kind contribution to a milestone of an approved initiative (phase funding,
// executing or evaluation), checked by domain.CheckInKind against the plan's sources and the initiative's
// milestones. The caller has checked who may register.
func (s *Store) RegisterInKind(ctx context.Context, initiativeID string, in domain.InKind, actor domain.Actor) (InKindContribution, error) {
	var id int64
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		const qIn = `SELECT plan_id, phase, snapshot->'milestones' AS milestones FROM initiatives WHERE id = $1 FOR SHARE`
		var row struct {
			PlanID     string          `db:"plan_id"`
			Phase      domain.Phase    `db:"phase"`
			Milestones json.RawMessage `db:"milestones"`
		}
		if err := tx.GetContext(ctx, &row, qIn, initiativeID); err != nil {
			return translate(err, "initiative %s", initiativeID)
		}
		if !row.Phase.Approved() {
			return domain.Refuse(domain.CodeWrongPhase,
				"Naturalydelser kan kun registreres på en godkendt indsats, der er i gang; indsatsen er %s.",
				strings.ToLower(row.Phase.DanishName()))
		}
		var ms []json.RawMessage
		if len(row.Milestones) > 0 && string(row.Milestones) != "null" {
			if err := json.Unmarshal(row.Milestones, &ms); err != nil {
				return fmt.Errorf("initiative %s: milestones: %w", initiativeID, err)
			}
		}
		const qSources = `SELECT id, name, kind, local, committed_ore FROM funding_sources WHERE plan_id = $1 ORDER BY position`
		var srcs []struct {
			ID        string `db:"id"`
			Name      string `db:"name"`
			Kind      string `db:"kind"`
			Local     bool   `db:"local"`
			Committed int64  `db:"committed_ore"`
		}
		if err := sqlx.SelectContext(ctx, tx, &srcs, qSources, row.PlanID); err != nil {
			return translate(err, "sources of %s", row.PlanID)
		}
		sources := make([]domain.FundingSource, len(srcs))
		for i, r := range srcs {
			sources[i] = domain.FundingSource{ID: r.ID, Name: r.Name, Kind: domain.FundingSourceKind(r.Kind),
				Local: r.Local, CommittedØre: domain.Money(r.Committed)}
		}
		value, err := domain.CheckInKind(in, sources, len(ms))
		if err != nil {
			return err
		}
		const qIns = `
			INSERT INTO inkind_contributions (plan_id, initiative_id, milestone_no, source_id, description, hours,
			                                  rate_ore, value_ore, registered_by, request_key)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULLIF($10, ''))
			ON CONFLICT (request_key) WHERE request_key IS NOT NULL DO NOTHING
			RETURNING id`
		var rate *int64
		if in.RateØre != nil && in.Hours != nil {
			r := int64(*in.RateØre)
			rate = &r
		}
		hours := in.Hours
		if rate == nil {
			hours = nil
		}
		err = tx.GetContext(ctx, &id, qIns, row.PlanID, initiativeID, in.MilestoneNo, in.SourceID,
			strings.TrimSpace(in.Description), hours, rate, int64(value), actor.UserID, in.RequestKey)
		if errors.Is(err, sql.ErrNoRows) {
			// Registered before under the same key (the key binds user and content): answer that registration.
			const qSame = `SELECT id FROM inkind_contributions WHERE request_key = $1 AND initiative_id = $2`
			return translate(tx.GetContext(ctx, &id, qSame, in.RequestKey, initiativeID), "register in-kind on %s: earlier registration", initiativeID)
		}
		return translate(err, "register in-kind on %s", initiativeID)
	})
	if err != nil {
		return InKindContribution{}, err
	}
	return s.GetInKind(ctx, id)
}

// DecideInKind confirms or rejects (with a reason) a registered contribution, once. The one who registered it
// may not decide it (segregation of duties; the database refuses it too): CodeForbidden. A contribution decided
// already: CodeConflict. The caller has checked that actor is finance or admin of the plan.
func (s *Store) DecideInKind(ctx context.Context, id int64, status domain.InKindStatus, reason string, actor domain.Actor) (InKindContribution, error) {
	if status != domain.InKindConfirmed && status != domain.InKindRejected {
		return InKindContribution{}, fmt.Errorf("decide in-kind %d: status %q", id, status)
	}
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		// No lock: two deciders at once both insert, and the decision's primary key refuses the second.
		c, err := getInKind(ctx, tx, id)
		if err != nil {
			return err
		}
		if c.RegisteredBy == actor.UserID {
			return domain.Refuse(domain.CodeForbidden,
				"Du har selv registreret naturalydelsen; en anden i økonomi eller sekretariatet skal godkende eller afvise den.")
		}
		if c.Status != domain.InKindRegistered {
			return domain.Refuse(domain.CodeConflict, "Naturalydelsen er allerede %s.", strings.ToLower(c.Status.DanishName()))
		}
		const qIns = `
			INSERT INTO inkind_decisions (contribution_id, registered_by, status, reason, decided_by)
			VALUES ($1, $2, $3, $4, $5)`
		_, err = tx.ExecContext(ctx, qIns, id, c.RegisteredBy, string(status), strings.TrimSpace(reason), actor.UserID)
		if err = translate(err, "decide in-kind %d", id); errors.Is(err, ErrConflict) {
			return domain.Refuse(domain.CodeConflict, "Naturalydelsen er allerede godkendt eller afvist.")
		}
		return err
	})
	if err != nil {
		return InKindContribution{}, err
	}
	return s.GetInKind(ctx, id)
}

// confirmedInKind returns the plan's confirmed in-kind per source, in øre.
func confirmedInKind(ctx context.Context, q sqlx.QueryerContext, planID string) (map[string]domain.Money, error) {
	const qSum = `
		SELECT c.source_id, sum(c.value_ore)::bigint AS value_ore
		FROM inkind_contributions c
		JOIN inkind_decisions d ON d.contribution_id = c.id AND d.status = 'confirmed'
		WHERE c.plan_id = $1
		GROUP BY c.source_id`
	var rows []struct {
		SourceID string `db:"source_id"`
		ValueØre int64  `db:"value_ore"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, qSum, planID); err != nil {
		return nil, translate(err, "confirmed in-kind of %s", planID)
	}
	out := make(map[string]domain.Money, len(rows))
	for _, r := range rows {
		out[r.SourceID] = domain.Money(r.ValueØre)
	}
	return out, nil
}
