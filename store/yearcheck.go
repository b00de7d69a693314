package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/helhedsplan/helhedsplan/domain"
)

// checkYearCommitments checks a reservation against each funding source's commitment per year (domain.YearOverruns
// has the rule, exactly): per source and year, what was released in that year (net of withdrawals, over the whole
// plan) plus the planned, not yet released tranches of every other approved initiative (phase funding, executing
// or evaluation; read from the read model's snapshots, milestones whose tranche_status is 'scheduled') plus this
// step's planned tranches must not exceed the source's commitment for that year, or the reservation is refused
// with CodeYearCommitmentExceeded and the figures — unless the step adds nothing to that year.
//
// A tranche's planned year is the Copenhagen year it will be released in: tranche 1 at approval (the step's time,
// in.Transition.Event.At), tranche k >= 2 when milestone k-1 is accepted, planned as milestone k-1's due date's
// year. A tranche already released or paid counts in the year it was released, from the disbursements (released_at,
// Copenhagen time; withdrawn ones count nowhere), not from the plan. A year outside the plan's years is charged to
// the plan's last year if after it and to the first if before it.
//
// "This step's planned tranches" are the scheduled tranches of in.Transition.Snapshot, the initiative as it will be
// after the step: for an approval its whole plan; for a change (in.KeySuffix "change-N") its new plan, which
// replaces the old one, so the initiative's old planned tranches (its read-model row before the step) are left out
// of the others and only compared with, to tell whether the step makes a year worse. What the step reserves and
// gives back is already in the snapshot's plan, so the check judges the plan rather than the amounts.
//
// It runs inside reserve's transaction after its locks (the plan's funding sources FOR UPDATE, so two reservations
// judge the years one after the other and the second sees the first; the plan row FOR SHARE, so a new split waits
// for this check). The released and the planned money are read in one statement, so they come from one snapshot
// even under READ COMMITTED: a release committing meanwhile (it moves a tranche from planned to released) is seen
// either wholly before or wholly after, never twice or not at all. A change that reserves nothing is judged by
// checkYearsOfChange under the same locks; a release is not judged (its year was judged when it was planned).
//
// Sources whose current split is the seed's even placeholder (version 1 without changed_by) are not checked until
// admin records a split (PUT /plans/{id}/commitments, the page Årsfordeling og rammer).
func checkYearCommitments(ctx context.Context, tx *sqlx.Tx, in ReserveInput) error {
	c, err := commitments(ctx, tx, in.PlanID)
	if err != nil {
		return fmt.Errorf("reserve %s: year commitments: %w", in.InitiativeID, err)
	}
	b := domain.YearBudget{Years: c.Years, Sources: make([]domain.YearSource, 0, len(c.Sources))}
	for _, src := range c.Sources {
		ys := domain.YearSource{ID: src.SourceID, Name: src.Name}
		// Only a split a person decided binds: the seed's even split (no changed_by) is a placeholder until admin
		// records the real one, and a made-up limit must not refuse real approvals.
		if src.Version > 0 && src.ChangedBy != "" {
			ys.Committed = make(map[int]domain.Money, len(src.Years))
			for _, y := range src.Years {
				ys.Committed[y.Year] = y.AmountØre
			}
		}
		b.Sources = append(b.Sources, ys)
	}

	// kind: 'released' (year set), 'planned' (another approved initiative) or 'before' (this initiative as the
	// read model has it before the step); for the planned kinds the milestone's number and the previous
	// milestone's due date give the year (domain.TrancheYear). jsonb arrays index from 0, and a negative index
	// counts from the end, hence the CASE for milestone 1. A milestones or tranche that is JSON null (a nil slice)
	// counts as empty.
	const qMoney = `
		SELECT 'released' AS kind, l.source_id,
		       extract(year FROM d.released_at AT TIME ZONE 'Europe/Copenhagen')::int AS year,
		       NULL::int AS milestone_no, NULL::text AS prev_due,
		       sum(l.amount_ore)::bigint AS amount_ore
		FROM disbursements d
		JOIN disbursement_lines l ON l.disbursement_id = d.id
		WHERE d.plan_id = $1 AND d.status <> 'withdrawn'
		GROUP BY l.source_id, 3
		UNION ALL
		SELECT CASE WHEN i.id = $2 THEN 'before' ELSE 'planned' END, t.line->>'source_id',
		       NULL, m.ord::int,
		       CASE WHEN m.ord >= 2 THEN i.snapshot->'milestones'->(m.ord::int - 2)->>'due_date' END,
		       sum((t.line->>'amount_ore')::bigint)::bigint
		FROM initiatives i
		CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(i.snapshot->'milestones') = 'array'
		                                             THEN i.snapshot->'milestones' ELSE '[]'::jsonb END)
		           WITH ORDINALITY AS m(ms, ord)
		CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(m.ms->'tranche') = 'array'
		                                             THEN m.ms->'tranche' ELSE '[]'::jsonb END) AS t(line)
		WHERE i.plan_id = $1
		  AND i.phase IN ('funding', 'executing', 'evaluation')
		  AND m.ms->>'tranche_status' = 'scheduled'
		GROUP BY 1, 2, 4, 5`
	var rows []struct {
		Kind        string         `db:"kind"`
		SourceID    string         `db:"source_id"`
		Year        sql.NullInt64  `db:"year"`
		MilestoneNo sql.NullInt64  `db:"milestone_no"`
		PrevDue     sql.NullString `db:"prev_due"`
		AmountØre   int64          `db:"amount_ore"`
	}
	if err := sqlx.SelectContext(ctx, tx, &rows, qMoney, in.PlanID, in.InitiativeID); err != nil {
		return translate(err, "reserve %s: money by year", in.InitiativeID)
	}
	at := in.Transition.Event.At
	for _, r := range rows {
		a := domain.YearAmount{SourceID: r.SourceID, Year: int(r.Year.Int64), AmountØre: domain.Money(r.AmountØre)}
		if r.Kind == "released" {
			b.Released = append(b.Released, a)
			continue
		}
		var prev domain.Date
		if r.PrevDue.Valid {
			if prev, err = domain.ParseDate(r.PrevDue.String); err != nil {
				return fmt.Errorf("reserve %s: due date in a snapshot: %w", in.InitiativeID, err)
			}
		}
		// A scheduled tranche 1 of an approved initiative does not occur (it is released at approval); were there
		// one, it would count in this step's year.
		a.Year = domain.TrancheYear(int(r.MilestoneNo.Int64), prev, at)
		if r.Kind == "before" {
			b.Before = append(b.Before, a)
		} else {
			b.Planned = append(b.Planned, a)
		}
	}
	b.After = domain.PlannedTranches(&in.Transition.Snapshot, at)

	err = domain.CheckYearCommitments(b, in.KeySuffix != "")
	var refused *domain.RuleError
	if err != nil && !errors.As(err, &refused) {
		return fmt.Errorf("reserve %s: %w", in.InitiativeID, err)
	}
	return err // nil, or the refusal as it is, like the other rules' (see checkReserveRules)
}

// checkYearsOfChange judges an approved change that reserves nothing (it only moves tranches, or asks for less)
// against each source's commitment per year, as checkYearCommitments judges one that reserves: under the same
// locks (the plan's funding sources FOR UPDATE, then the plan FOR SHARE), so it and a reservation run one after
// the other. A rerun of a step whose transition is recorded already is not judged again: the read model then holds
// the step's own plan, and the decision was made when it first ran.
func checkYearsOfChange(ctx context.Context, tx *sqlx.Tx, in ReserveInput) error {
	var done bool
	const qDone = `SELECT EXISTS (SELECT 1 FROM initiative_events WHERE initiative_id = $1 AND seq = $2)`
	if err := tx.GetContext(ctx, &done, qDone, in.InitiativeID, in.Transition.Event.Seq); err != nil {
		return translate(err, "change %s: recorded before", in.InitiativeID)
	}
	if done {
		return nil
	}
	const qLock = `SELECT id FROM funding_sources WHERE plan_id = $1 ORDER BY id FOR UPDATE`
	var ids []string
	if err := sqlx.SelectContext(ctx, tx, &ids, qLock, in.PlanID); err != nil {
		return translate(err, "change %s: lock funding sources", in.InitiativeID)
	}
	if _, err := tx.ExecContext(ctx, `SELECT 1 FROM plans WHERE id = $1 FOR SHARE`, in.PlanID); err != nil {
		return translate(err, "change %s: lock plan", in.InitiativeID)
	}
	return checkYearCommitments(ctx, tx, in)
}
