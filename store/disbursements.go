package store

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/helhedsplan/helhedsplan/domain"
)

// disbursementRow scans a disbursement with the seq that pages it.
type disbursementRow struct {
	Seq int64 `db:"seq"`
	Disbursement
}

// ListDisbursements returns one page of disbursements, oldest first (the order finance pays in), with their lines
// and the initiative's title, and the cursor of the next page ("" on the last).
func (s *Store) ListDisbursements(ctx context.Context, f DisbursementFilter) ([]Disbursement, string, error) {
	if err := checkStatus(f.Status); err != nil {
		return nil, "", err
	}
	after, err := decodeCursor(f.After)
	if err != nil {
		return nil, "", err
	}
	limit := pageSize(f.Limit, DefaultPageSize, MaxPageSize)
	const q = `
		SELECT d.seq, d.id, d.plan_id, d.initiative_id, i.title AS initiative_title, d.delaftale_id, d.milestone_no,
		       d.milestone_title, d.total_ore, d.status, d.reference, d.released_at, d.paid_at, d.paid_by,
		       d.withdrawn_at, d.withdrawn_reason
		FROM disbursements d
		JOIN initiatives i ON i.id = d.initiative_id
		WHERE ($1::text = '' OR d.plan_id = $1::text)
		  AND ($2::text = '' OR d.status = $2::text)
		  AND d.seq > $3::bigint
		ORDER BY d.seq
		LIMIT $4`
	var rows []disbursementRow
	if err := s.db.SelectContext(ctx, &rows, q, f.PlanID, f.Status, after, limit+1); err != nil {
		return nil, "", translate(err, "list disbursements")
	}
	var next string
	if len(rows) > limit {
		rows = rows[:limit]
		next = encodeCursor(rows[limit-1].Seq)
	}
	out := make([]Disbursement, len(rows))
	ids := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Disbursement
		ids[i] = r.ID
	}
	lines, err := disbursementLines(ctx, s.db, ids)
	if err != nil {
		return nil, "", err
	}
	for i := range out {
		out[i].Lines = lines[out[i].ID]
	}
	return out, next, nil
}

// GetDisbursement returns one disbursement with its lines.
func (s *Store) GetDisbursement(ctx context.Context, id string) (Disbursement, error) {
	return getDisbursement(ctx, s.db, id)
}

func getDisbursement(ctx context.Context, q sqlx.QueryerContext, id string) (Disbursement, error) {
	const qOne = `
		SELECT d.seq, d.id, d.plan_id, d.initiative_id, i.title AS initiative_title, d.delaftale_id, d.milestone_no,
		       d.milestone_title, d.total_ore, d.status, d.reference, d.released_at, d.paid_at, d.paid_by,
		       d.withdrawn_at, d.withdrawn_reason
		FROM disbursements d
		JOIN initiatives i ON i.id = d.initiative_id
		WHERE d.id = $1`
	var r disbursementRow
	if err := sqlx.GetContext(ctx, q, &r, qOne, id); err != nil {
		return Disbursement{}, translate(err, "disbursement %s", id)
	}
	lines, err := disbursementLines(ctx, q, []string{id})
	if err != nil {
		return Disbursement{}, err
	}
	r.Lines = lines[id]
	return r.Disbursement, nil
}

// disbursementLines loads the lines of many disbursements in one query, in the order the plan lists its sources.
func disbursementLines(ctx context.Context, q sqlx.QueryerContext, ids []string) (map[string][]domain.SourceAmount, error) {
	out := make(map[string][]domain.SourceAmount, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	const qLines = `
		SELECT l.disbursement_id, l.source_id, l.amount_ore
		FROM disbursement_lines l
		JOIN funding_sources s ON s.plan_id = l.plan_id AND s.id = l.source_id
		WHERE l.disbursement_id = ANY($1)
		ORDER BY l.disbursement_id, s.position`
	var rows []struct {
		DisbursementID string `db:"disbursement_id"`
		SourceID       string `db:"source_id"`
		AmountØre      int64  `db:"amount_ore"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, qLines, pq.Array(ids)); err != nil {
		return nil, translate(err, "disbursement lines")
	}
	for _, r := range rows {
		out[r.DisbursementID] = append(out[r.DisbursementID],
			domain.SourceAmount{SourceID: r.SourceID, AmountØre: domain.Money(r.AmountØre)})
	}
	return out, nil
}

// checkStatus refuses a status filter that is neither empty nor a known status, so a typo in a query string is a
// validation error rather than an empty list.
func checkStatus(status string) error {
	switch status {
	case "", DisbursementPending, DisbursementPaid, DisbursementWithdrawn:
		return nil
	}
	return &domain.RuleError{Code: domain.CodeValidation, Message: "Ukendt status for udbetalinger.",
		Problems: []domain.FieldProblem{{Field: "status", Code: "unknown",
			Message: fmt.Sprintf("Status %q findes ikke; brug %q, %q eller %q.", status, DisbursementPending,
				DisbursementPaid, DisbursementWithdrawn)}}}
}
