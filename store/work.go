package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/helhedsplan/helhedsplan/domain"
)

// WorkKind is what waits to be done on an initiative.
type WorkKind string

// Kinds of work, each done by one role.
const (
	WorkDecide           WorkKind = "decide"            // board: decide the proposal
	WorkRevise           WorkKind = "revise"            // operational group: revise the proposal the board sent back
	WorkPay              WorkKind = "pay"               // finance: pay the released tranche
	WorkReport           WorkKind = "report"            // operational group: report on the current milestone
	WorkAcceptReport     WorkKind = "accept_report"     // board: accept the reported milestone
	WorkEvaluate         WorkKind = "evaluate"          // operational group: submit the evaluation
	WorkAcceptEvaluation WorkKind = "accept_evaluation" // board: accept the submitted evaluation
)

// DefaultWorkLimit and MaxWorkLimit bound one answer of ListWork.
const (
	DefaultWorkLimit = 100
	MaxWorkLimit     = 500
)

// WorkItem is one thing that waits for a role in a plan.
type WorkItem struct {
	InitiativeID string
	Title        string
	Phase        domain.Phase
	Kind         WorkKind
	Role         domain.Role // who does it
	ProposerID   string
	// MilestoneNo and MilestoneTitle name the milestone concerned (pay, report, accept_report); 0 and "" otherwise.
	MilestoneNo    int
	MilestoneTitle string
	// DueDate is the milestone's due date (zero when the work has none).
	DueDate domain.Date
	// Since is when the initiative entered the state that makes the work wait: its last transition.
	Since time.Time
}

// WorkFilter selects the work of one role in one plan. UserID, when set, puts the operational-group work on the
// user's own proposals first.
type WorkFilter struct {
	PlanID string
	Role   domain.Role
	UserID string
	Limit  int // 1..MaxWorkLimit, default DefaultWorkLimit
}

// workPhases are the phases in which a role can have work: the WHERE clause uses them so the query reads only
// the rows of those phases through initiatives_plan_phase_seq_idx, not the whole plan.
var workPhases = map[domain.Role][]string{
	domain.RoleBoard:            {string(domain.PhaseBoardReview), string(domain.PhaseExecuting), string(domain.PhaseEvaluation)},
	domain.RoleFinance:          {string(domain.PhaseFunding)},
	domain.RoleOperationalGroup: {string(domain.PhaseChangesRequested), string(domain.PhaseExecuting), string(domain.PhaseEvaluation)},
}

// ListWork returns what waits for a role in a plan now, oldest first (for the operational group the user's own
// proposals first), at most f.Limit items, and whether there are more. It reads the read model only: the phase
// column and the snapshot's current milestone and evaluation. A role with no work of its own (admin) gets none.
func (s *Store) ListWork(ctx context.Context, f WorkFilter) (items []WorkItem, more bool, err error) {
	phases, ok := workPhases[f.Role]
	if !ok {
		return nil, false, nil
	}
	limit := pageSize(f.Limit, DefaultWorkLimit, MaxWorkLimit)
	// The current milestone is the first one not accepted (domain.Initiative.CurrentMilestone); in funding it is
	// the one whose tranche was released. Absent and JSON-null report, accepted_at and evaluation count as none.
	const q = `
		WITH w AS (
			SELECT i.id, i.title, i.phase, i.proposer_id, i.updated_at, i.seq,
			       m.no AS milestone_no, m.title AS milestone_title, m.due_date,
			       CASE
			         WHEN i.phase = 'board_review' THEN 'decide'
			         WHEN i.phase = 'changes_requested' THEN 'revise'
			         WHEN i.phase = 'funding' THEN 'pay'
			         WHEN i.phase = 'executing' AND m.no IS NOT NULL AND NOT m.reported THEN 'report'
			         WHEN i.phase = 'executing' AND m.no IS NOT NULL THEN 'accept_report'
			         WHEN i.phase = 'evaluation'
			              AND COALESCE(i.snapshot->'evaluation', 'null'::jsonb) = 'null'::jsonb THEN 'evaluate'
			         WHEN i.phase = 'evaluation'
			              AND COALESCE(i.snapshot->'evaluation'->'accepted_at', 'null'::jsonb) = 'null'::jsonb
			           THEN 'accept_evaluation'
			       END AS kind
			FROM initiatives i
			LEFT JOIN LATERAL (
				SELECT (e->>'no')::int AS no, e->>'title' AS title, e->>'due_date' AS due_date,
				       COALESCE(e->'report', 'null'::jsonb) <> 'null'::jsonb AS reported
				FROM jsonb_array_elements(i.snapshot->'milestones') AS e
				WHERE (i.phase = 'funding' AND e->>'tranche_status' = 'released')
				   OR (i.phase = 'executing' AND COALESCE(e->'accepted_at', 'null'::jsonb) = 'null'::jsonb)
				ORDER BY (e->>'no')::int
				LIMIT 1
			) m ON i.phase IN ('funding', 'executing')
			WHERE i.plan_id = $1 AND i.phase = ANY($2::text[])
		)
		SELECT id, title, phase, proposer_id, updated_at, milestone_no, milestone_title, due_date, kind
		FROM w
		WHERE kind = ANY($3::text[])
		ORDER BY CASE WHEN $4::text <> '' AND proposer_id = $4::text THEN 0 ELSE 1 END, updated_at, seq
		LIMIT $5`
	var rows []struct {
		ID             string         `db:"id"`
		Title          string         `db:"title"`
		Phase          string         `db:"phase"`
		ProposerID     string         `db:"proposer_id"`
		UpdatedAt      time.Time      `db:"updated_at"`
		MilestoneNo    sql.NullInt64  `db:"milestone_no"`
		MilestoneTitle sql.NullString `db:"milestone_title"`
		DueDate        sql.NullString `db:"due_date"`
		Kind           string         `db:"kind"`
	}
	userFirst := ""
	if f.Role == domain.RoleOperationalGroup {
		userFirst = f.UserID
	}
	if err := s.db.SelectContext(ctx, &rows, q, f.PlanID, pq.Array(phases), pq.Array(workKinds(f.Role)), userFirst,
		limit+1); err != nil {
		return nil, false, translate(err, "list work of %s in %s", f.Role, f.PlanID)
	}
	if len(rows) > limit {
		rows, more = rows[:limit], true
	}
	items = make([]WorkItem, len(rows))
	for i, r := range rows {
		it := WorkItem{InitiativeID: r.ID, Title: r.Title, Phase: domain.Phase(r.Phase), Kind: WorkKind(r.Kind),
			Role: f.Role, ProposerID: r.ProposerID, Since: r.UpdatedAt}
		if r.MilestoneNo.Valid {
			it.MilestoneNo, it.MilestoneTitle = int(r.MilestoneNo.Int64), r.MilestoneTitle.String
		}
		if r.DueDate.Valid && r.DueDate.String != "" {
			d, err := domain.ParseDate(r.DueDate.String)
			if err != nil {
				return nil, false, fmt.Errorf("list work: initiative %s: milestone due date: %w", r.ID, err)
			}
			it.DueDate = d
		}
		items[i] = it
	}
	return items, more, nil
}

// workKinds are the kinds of work a role does.
func workKinds(r domain.Role) []string {
	switch r {
	case domain.RoleBoard:
		return []string{string(WorkDecide), string(WorkAcceptReport), string(WorkAcceptEvaluation)}
	case domain.RoleFinance:
		return []string{string(WorkPay)}
	case domain.RoleOperationalGroup:
		return []string{string(WorkRevise), string(WorkReport), string(WorkEvaluate)}
	}
	return nil
}

// PrincipalByUserID returns a user and their role in each plan, as PrincipalByTokenHash does for a token: the web
// application keeps only the user ID in its session and reads the roles on every request, so a changed role
// takes effect at once. An unknown user is ErrNotFound.
func (s *Store) PrincipalByUserID(ctx context.Context, userID string) (Principal, error) {
	const q = `
		SELECT u.id, u.name, u.email,
		       COALESCE(array_agg(m.plan_id ORDER BY m.plan_id) FILTER (WHERE m.plan_id IS NOT NULL), '{}') AS plan_ids,
		       COALESCE(array_agg(m.role ORDER BY m.plan_id) FILTER (WHERE m.plan_id IS NOT NULL), '{}') AS roles
		FROM users u
		LEFT JOIN plan_members m ON m.user_id = u.id
		WHERE u.id = $1
		GROUP BY u.id, u.name, u.email`
	var row struct {
		ID      string         `db:"id"`
		Name    string         `db:"name"`
		Email   string         `db:"email"`
		PlanIDs pq.StringArray `db:"plan_ids"`
		Roles   pq.StringArray `db:"roles"`
	}
	if err := s.db.GetContext(ctx, &row, q, userID); err != nil {
		return Principal{}, translate(err, "principal %s", userID)
	}
	p := Principal{UserID: row.ID, Name: row.Name, Email: row.Email, Roles: make(map[string]domain.Role, len(row.PlanIDs))}
	for i, id := range row.PlanIDs {
		p.Roles[id] = domain.Role(row.Roles[i])
	}
	return p, nil
}
