package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/helhedsplan/helhedsplan/domain"
)

// Outbox topics.
const (
	TopicDisbursementReleased = "disbursement.released" // finance must pay a tranche
	TopicDisbursementPaid     = "disbursement.paid"     // finance confirmed the payment
)

// DisbursementMessage is the JSON payload of both disbursement topics. Paid fields are set on
// TopicDisbursementPaid only.
type DisbursementMessage struct {
	DisbursementID  string                `json:"disbursement_id"`
	PlanID          string                `json:"plan_id"`
	InitiativeID    string                `json:"initiative_id"`
	InitiativeTitle string                `json:"initiative_title"`
	MilestoneNo     int                   `json:"milestone_no"`
	MilestoneTitle  string                `json:"milestone_title"`
	Lines           []domain.SourceAmount `json:"lines"`
	TotalØre        domain.Money          `json:"total_ore"`
	ReleasedAt      time.Time             `json:"released_at"`
	Reference       string                `json:"reference,omitempty"`
	PaidAt          *time.Time            `json:"paid_at,omitempty"`
	PaidBy          string                `json:"paid_by,omitempty"`
}

// The ledger has four kinds of entry. Money moves committed -> reserved ('reserve', at approval) -> released
// ('release', a tranche is due) -> paid ('pay', finance confirmed), or back from reserved ('unreserve').

// Reserve sets an approved initiative's budget aside and records the approval, in one transaction. It locks the
// plan's funding sources first, so two approvals that together exceed a source cannot both pass the check. A
// retry after a committed reservation succeeds without reserving twice: reservations that exist already are
// neither checked again (they would count against themselves) nor written again.
//
// A source without enough money left is a *domain.RuleError with CodeInsufficientFunds and nothing is written.
func (s *Store) Reserve(ctx context.Context, in ReserveInput) error {
	if in.PlanID == "" || in.InitiativeID == "" || in.DelaftaleID == "" {
		return fmt.Errorf("reserve: plan, initiative and delaftale are required")
	}
	lines, err := sumLines(in.Lines)
	if err != nil {
		return fmt.Errorf("reserve %s: %w", in.InitiativeID, err)
	}
	keys := make([]string, len(lines))
	for i, l := range lines {
		keys[i] = "reserve/" + in.InitiativeID + "/" + l.SourceID
	}
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		// Fixed order (by ID), so two reservations never hold some locks each and wait for the other's.
		const qLock = `
			SELECT id, name
			FROM funding_sources
			WHERE plan_id = $1
			ORDER BY id
			FOR UPDATE`
		var sources []struct {
			ID   string `db:"id"`
			Name string `db:"name"`
		}
		if err := sqlx.SelectContext(ctx, tx, &sources, qLock, in.PlanID); err != nil {
			return translate(err, "reserve %s: lock funding sources", in.InitiativeID)
		}
		if len(sources) == 0 {
			return fmt.Errorf("reserve %s: plan %s has no funding sources: %w", in.InitiativeID, in.PlanID, ErrNotFound)
		}
		names := make(map[string]string, len(sources))
		for _, src := range sources {
			names[src.ID] = src.Name
		}
		for _, l := range lines {
			if _, ok := names[l.SourceID]; !ok {
				return domain.Refuse(domain.CodeValidation, "Planen har ingen finansieringskilde %q.", l.SourceID)
			}
		}

		const qDone = `SELECT idempotency_key FROM ledger_entries WHERE idempotency_key = ANY($1)`
		var done []string
		if err := sqlx.SelectContext(ctx, tx, &done, qDone, pq.Array(keys)); err != nil {
			return translate(err, "reserve %s: earlier reservations", in.InitiativeID)
		}
		var todo []domain.SourceAmount
		for i, l := range lines {
			if !slices.Contains(done, keys[i]) {
				todo = append(todo, l)
			}
		}
		if len(todo) > 0 {
			avail, err := available(ctx, tx, in.PlanID)
			if err != nil {
				return err
			}
			var short []string
			for _, l := range todo {
				if a := avail[l.SourceID]; l.AmountØre > a {
					short = append(short, fmt.Sprintf("der søges %s fra %s, men kun %s er endnu ikke reserveret",
						l.AmountØre, names[l.SourceID], a))
				}
			}
			if len(short) > 0 {
				return domain.Refuse(domain.CodeInsufficientFunds,
					"Der er ikke penge nok til at reservere budgettet: %s.", strings.Join(short, "; "))
			}
		}

		if err := recordTransition(ctx, tx, in.Transition); err != nil {
			return err
		}
		const qEntry = `
			INSERT INTO ledger_entries (plan_id, source_id, initiative_id, delaftale_id, milestone_no, kind,
			                            amount_ore, idempotency_key)
			VALUES ($1, $2, $3, $4, NULL, 'reserve', $5, $6)
			ON CONFLICT (idempotency_key) DO NOTHING`
		for _, l := range todo {
			if _, err := tx.ExecContext(ctx, qEntry, in.PlanID, l.SourceID, in.InitiativeID, in.DelaftaleID,
				int64(l.AmountØre), "reserve/"+in.InitiativeID+"/"+l.SourceID); err != nil {
				return translate(err, "reserve %s from %s", in.InitiativeID, l.SourceID)
			}
		}
		return nil
	})
}

// Release asks finance to pay one tranche: in one transaction it records the transition, creates the pending
// disbursement and its lines, moves the money from reserved to released and queues the notification in the
// outbox. Releasing the same disbursement again only records the transition (idempotently), so a retried
// activity leaves exactly one of everything.
func (s *Store) Release(ctx context.Context, in ReleaseInput) error {
	if in.PlanID == "" || in.InitiativeID == "" || in.DelaftaleID == "" || in.DisbursementID == "" || in.MilestoneNo < 1 {
		return fmt.Errorf("release: plan, initiative, delaftale, disbursement and milestone are required")
	}
	lines, err := sumLines(in.Lines)
	if err != nil {
		return fmt.Errorf("release %s: %w", in.DisbursementID, err)
	}
	total := domain.Total(lines)
	if total <= 0 {
		return fmt.Errorf("release %s: the tranche is empty", in.DisbursementID)
	}
	// The event time is workflow time: the same on every retry, so the row and the message agree across retries.
	releasedAt := eventTime(in.Transition.Event.At)
	msg, err := json.Marshal(DisbursementMessage{
		DisbursementID:  in.DisbursementID,
		PlanID:          in.PlanID,
		InitiativeID:    in.InitiativeID,
		InitiativeTitle: in.Transition.Snapshot.Proposal.Title,
		MilestoneNo:     in.MilestoneNo,
		MilestoneTitle:  in.MilestoneTitle,
		Lines:           lines,
		TotalØre:        total,
		ReleasedAt:      releasedAt,
	})
	if err != nil {
		return fmt.Errorf("release %s: message: %w", in.DisbursementID, err)
	}

	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		// First, so the initiative row the disbursement references exists even if this is its first write.
		if err := recordTransition(ctx, tx, in.Transition); err != nil {
			return err
		}
		// A second disbursement for the same milestone under another ID violates UNIQUE(initiative_id,
		// milestone_no) and comes back as ErrConflict.
		const qDisbursement = `
			INSERT INTO disbursements (id, plan_id, initiative_id, delaftale_id, milestone_no, milestone_title,
			                           total_ore, status, released_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8)
			ON CONFLICT (id) DO NOTHING`
		res, err := tx.ExecContext(ctx, qDisbursement, in.DisbursementID, in.PlanID, in.InitiativeID, in.DelaftaleID,
			in.MilestoneNo, in.MilestoneTitle, int64(total), releasedAt)
		if err != nil {
			return translate(err, "release %s", in.DisbursementID)
		}
		n, err := rowsAffected(res, "release")
		if err != nil {
			return err
		}
		if n == 0 {
			// Released before: its lines, ledger entries and message committed with it.
			return sameDisbursement(ctx, tx, in)
		}

		const qLine = `
			INSERT INTO disbursement_lines (disbursement_id, plan_id, source_id, amount_ore)
			VALUES ($1, $2, $3, $4)
			ON CONFLICT (disbursement_id, source_id) DO NOTHING`
		const qEntry = `
			INSERT INTO ledger_entries (plan_id, source_id, initiative_id, delaftale_id, milestone_no, kind,
			                            amount_ore, idempotency_key)
			VALUES ($1, $2, $3, $4, $5, 'release', $6, $7)
			ON CONFLICT (idempotency_key) DO NOTHING`
		for _, l := range lines {
			if _, err := tx.ExecContext(ctx, qLine, in.DisbursementID, in.PlanID, l.SourceID, int64(l.AmountØre)); err != nil {
				return translate(err, "release %s: line %s", in.DisbursementID, l.SourceID)
			}
			if _, err := tx.ExecContext(ctx, qEntry, in.PlanID, l.SourceID, in.InitiativeID, in.DelaftaleID,
				in.MilestoneNo, int64(l.AmountØre), "release/"+in.DisbursementID+"/"+l.SourceID); err != nil {
				return translate(err, "release %s from %s", in.DisbursementID, l.SourceID)
			}
		}
		return enqueue(ctx, tx, TopicDisbursementReleased, TopicDisbursementReleased+"/"+in.DisbursementID, msg)
	})
}

// sameDisbursement checks that an existing disbursement is the one being released again, not another tranche
// that happens to have the same ID.
func sameDisbursement(ctx context.Context, tx *sqlx.Tx, in ReleaseInput) error {
	const q = `SELECT initiative_id, milestone_no FROM disbursements WHERE id = $1`
	var got struct {
		InitiativeID string `db:"initiative_id"`
		MilestoneNo  int    `db:"milestone_no"`
	}
	if err := sqlx.GetContext(ctx, tx, &got, q, in.DisbursementID); err != nil {
		return translate(err, "release %s: existing disbursement", in.DisbursementID)
	}
	if got.InitiativeID != in.InitiativeID || got.MilestoneNo != in.MilestoneNo {
		return fmt.Errorf("release %s: the ID is taken by milestone %d of %s: %w",
			in.DisbursementID, got.MilestoneNo, got.InitiativeID, ErrConflict)
	}
	return nil
}

// ConfirmPayment records that finance paid a disbursement: in one transaction it marks it paid, moves the money
// from released to paid, queues the notification and records the transition. Confirming again with the same
// reference (a retry, or two clicks) succeeds and changes nothing; another reference is a *domain.RuleError with
// CodeAlreadyPaid, because the first one matches the bank statement. An unknown disbursement is ErrNotFound.
func (s *Store) ConfirmPayment(ctx context.Context, in PayInput) error {
	if in.DisbursementID == "" || in.Reference == "" {
		return fmt.Errorf("confirm payment: disbursement and reference are required")
	}
	paidAt := eventTime(in.Transition.Event.At)
	var paidBy *string
	if in.Actor.UserID != "" {
		paidBy = &in.Actor.UserID
	}
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		// Two concurrent confirmations queue on the row lock; the second then sees status 'paid' and updates nothing.
		const qPay = `
			UPDATE disbursements SET status = 'paid', reference = $2, paid_at = $3, paid_by = $4
			WHERE id = $1 AND status = 'pending'`
		res, err := tx.ExecContext(ctx, qPay, in.DisbursementID, in.Reference, paidAt, paidBy)
		if err != nil {
			return translate(err, "confirm payment of %s", in.DisbursementID)
		}
		n, err := rowsAffected(res, "confirm payment")
		if err != nil {
			return err
		}
		d, err := getDisbursement(ctx, tx, in.DisbursementID)
		if err != nil {
			return err
		}
		if n == 0 && (d.Reference == nil || *d.Reference != in.Reference) {
			return domain.Refuse(domain.CodeAlreadyPaid, "Udbetalingen er allerede bekræftet med referencen %q.",
				deref(d.Reference))
		}

		if err := recordTransition(ctx, tx, in.Transition); err != nil {
			return err
		}
		const qEntries = `
			INSERT INTO ledger_entries (plan_id, source_id, initiative_id, delaftale_id, milestone_no, kind,
			                            amount_ore, idempotency_key)
			SELECT d.plan_id, l.source_id, d.initiative_id, d.delaftale_id, d.milestone_no, 'pay', l.amount_ore,
			       'pay/' || d.id || '/' || l.source_id
			FROM disbursements d
			JOIN disbursement_lines l ON l.disbursement_id = d.id
			WHERE d.id = $1
			ORDER BY l.source_id
			ON CONFLICT (idempotency_key) DO NOTHING`
		if _, err := tx.ExecContext(ctx, qEntries, in.DisbursementID); err != nil {
			return translate(err, "confirm payment of %s: ledger", in.DisbursementID)
		}
		msg, err := json.Marshal(DisbursementMessage{
			DisbursementID:  d.ID,
			PlanID:          d.PlanID,
			InitiativeID:    d.InitiativeID,
			InitiativeTitle: d.InitiativeTitle,
			MilestoneNo:     d.MilestoneNo,
			MilestoneTitle:  d.MilestoneTitle,
			Lines:           d.Lines,
			TotalØre:        d.TotalØre,
			ReleasedAt:      d.ReleasedAt.UTC(),
			Reference:       deref(d.Reference),
			PaidAt:          utcPtr(d.PaidAt),
			PaidBy:          deref(d.PaidBy),
		})
		if err != nil {
			return fmt.Errorf("confirm payment of %s: message: %w", in.DisbursementID, err)
		}
		return enqueue(ctx, tx, TopicDisbursementPaid, TopicDisbursementPaid+"/"+in.DisbursementID, msg)
	})
}

// Available returns, per funding source of the plan, what is not yet reserved: committed minus reservations
// plus reservations given back. It is what a new proposal may ask for.
func (s *Store) Available(ctx context.Context, planID string) (map[string]domain.Money, error) {
	avail, err := available(ctx, s.db, planID)
	if err != nil {
		return nil, err
	}
	if len(avail) == 0 {
		if err := planExists(ctx, s.db, planID); err != nil {
			return nil, err
		}
	}
	return avail, nil
}

func available(ctx context.Context, q sqlx.QueryerContext, planID string) (map[string]domain.Money, error) {
	const qAvail = `
		SELECT s.id,
		       s.committed_ore - COALESCE(sum(CASE l.kind WHEN 'reserve' THEN l.amount_ore
		                                                  WHEN 'unreserve' THEN -l.amount_ore
		                                                  ELSE 0 END), 0)::bigint AS available_ore
		FROM funding_sources s
		LEFT JOIN ledger_entries l ON l.plan_id = s.plan_id AND l.source_id = s.id
		WHERE s.plan_id = $1
		GROUP BY s.id, s.committed_ore`
	var rows []struct {
		ID           string `db:"id"`
		AvailableØre int64  `db:"available_ore"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, qAvail, planID); err != nil {
		return nil, translate(err, "available funds of %s", planID)
	}
	out := make(map[string]domain.Money, len(rows))
	for _, r := range rows {
		out[r.ID] = domain.Money(r.AvailableØre)
	}
	return out, nil
}

// Budget returns the plan's money per funding source, per delaftale and in total, from the ledger. Every source
// and delaftale appears, also those nothing was booked on. Both queries read one snapshot, so the per-source and
// per-delaftale figures always add up to the same total.
func (s *Store) Budget(ctx context.Context, planID string) (Budget, error) {
	b := Budget{PlanID: planID, Sources: []SourceBudget{}, Delaftaler: []DelaftaleBudget{}}
	err := s.inTxOpts(ctx, readOnlySnapshot, func(tx *sqlx.Tx) error {
		const qSources = `
			SELECT s.id, s.name, s.committed_ore,
			       COALESCE(l.reserve_ore, 0) AS reserve_ore, COALESCE(l.unreserve_ore, 0) AS unreserve_ore,
			       COALESCE(l.release_ore, 0) AS release_ore, COALESCE(l.pay_ore, 0) AS pay_ore
			FROM funding_sources s
			LEFT JOIN (
				SELECT source_id,
				       sum(amount_ore) FILTER (WHERE kind = 'reserve')::bigint   AS reserve_ore,
				       sum(amount_ore) FILTER (WHERE kind = 'unreserve')::bigint AS unreserve_ore,
				       sum(amount_ore) FILTER (WHERE kind = 'release')::bigint   AS release_ore,
				       sum(amount_ore) FILTER (WHERE kind = 'pay')::bigint       AS pay_ore
				FROM ledger_entries
				WHERE plan_id = $1
				GROUP BY source_id
			) l ON l.source_id = s.id
			WHERE s.plan_id = $1
			ORDER BY s.position`
		var sources []struct {
			ID           string `db:"id"`
			Name         string `db:"name"`
			CommittedØre int64  `db:"committed_ore"`
			sums
		}
		if err := sqlx.SelectContext(ctx, tx, &sources, qSources, planID); err != nil {
			return translate(err, "budget of %s: sources", planID)
		}
		var committed domain.Money
		var all sums
		for _, r := range sources {
			c := domain.Money(r.CommittedØre)
			committed += c
			all.add(r.sums)
			b.Sources = append(b.Sources, SourceBudget{SourceID: r.ID, Name: r.Name, BudgetLine: r.line(&c)})
		}
		b.Total = all.line(&committed)

		const qDelaftaler = `
			SELECT d.id, d.name, d.budget_frame_ore,
			       COALESCE(l.reserve_ore, 0) AS reserve_ore, COALESCE(l.unreserve_ore, 0) AS unreserve_ore,
			       COALESCE(l.release_ore, 0) AS release_ore, COALESCE(l.pay_ore, 0) AS pay_ore
			FROM delaftaler d
			LEFT JOIN (
				SELECT delaftale_id,
				       sum(amount_ore) FILTER (WHERE kind = 'reserve')::bigint   AS reserve_ore,
				       sum(amount_ore) FILTER (WHERE kind = 'unreserve')::bigint AS unreserve_ore,
				       sum(amount_ore) FILTER (WHERE kind = 'release')::bigint   AS release_ore,
				       sum(amount_ore) FILTER (WHERE kind = 'pay')::bigint       AS pay_ore
				FROM ledger_entries
				WHERE plan_id = $1
				GROUP BY delaftale_id
			) l ON l.delaftale_id = d.id
			WHERE d.plan_id = $1
			ORDER BY d.position`
		var delaftaler []struct {
			ID    string `db:"id"`
			Name  string `db:"name"`
			Frame *int64 `db:"budget_frame_ore"`
			sums
		}
		if err := sqlx.SelectContext(ctx, tx, &delaftaler, qDelaftaler, planID); err != nil {
			return translate(err, "budget of %s: delaftaler", planID)
		}
		for _, r := range delaftaler {
			var frame *domain.Money
			if r.Frame != nil {
				f := domain.Money(*r.Frame)
				frame = &f
			}
			b.Delaftaler = append(b.Delaftaler, DelaftaleBudget{DelaftaleID: r.ID, Name: r.Name, BudgetLine: r.line(frame)})
		}
		if len(sources) == 0 && len(delaftaler) == 0 {
			return planExists(ctx, tx, planID)
		}
		return nil
	})
	if err != nil {
		return Budget{}, err
	}
	return b, nil
}

// sums are the ledger totals of one budget line, per kind.
type sums struct {
	Reserve   int64 `db:"reserve_ore"`
	Unreserve int64 `db:"unreserve_ore"`
	Release   int64 `db:"release_ore"`
	Pay       int64 `db:"pay_ore"`
}

func (s *sums) add(o sums) {
	s.Reserve += o.Reserve
	s.Unreserve += o.Unreserve
	s.Release += o.Release
	s.Pay += o.Pay
}

// line turns ledger totals into money per state. A release moves money out of reserved, a payment out of
// released, so each amount is counted in exactly one state. Without committed there is nothing to be available of.
func (s sums) line(committed *domain.Money) BudgetLine {
	l := BudgetLine{
		CommittedØre: committed,
		ReservedØre:  domain.Money(s.Reserve - s.Unreserve - s.Release),
		ReleasedØre:  domain.Money(s.Release - s.Pay),
		PaidØre:      domain.Money(s.Pay),
	}
	if committed != nil {
		a := *committed - l.ReservedØre - l.ReleasedØre - l.PaidØre
		l.AvailableØre = &a
	}
	return l
}

func planExists(ctx context.Context, q sqlx.QueryerContext, planID string) error {
	const qPlan = `SELECT id FROM plans WHERE id = $1`
	var id string
	if err := sqlx.GetContext(ctx, q, &id, qPlan, planID); err != nil {
		return translate(err, "plan %s", planID)
	}
	return nil
}

// sumLines adds up amounts per source, drops zero lines (a tranche may take nothing from a source; the ledger
// only holds positive amounts) and sorts by source ID, so keys and lock order never depend on input order.
func sumLines(lines []domain.SourceAmount) ([]domain.SourceAmount, error) {
	by := map[string]domain.Money{}
	for _, l := range lines {
		if l.SourceID == "" {
			return nil, fmt.Errorf("a line has no funding source")
		}
		if l.AmountØre < 0 {
			return nil, fmt.Errorf("line %s: negative amount %d øre", l.SourceID, l.AmountØre)
		}
		by[l.SourceID] += l.AmountØre
	}
	out := make([]domain.SourceAmount, 0, len(by))
	for id, amt := range by {
		if amt > 0 {
			out = append(out, domain.SourceAmount{SourceID: id, AmountØre: amt})
		}
	}
	slices.SortFunc(out, func(a, b domain.SourceAmount) int { return strings.Compare(a.SourceID, b.SourceID) })
	return out, nil
}

// eventTime is the time a ledger row records for a transition: the workflow's event time, at the precision
// PostgreSQL keeps, so what is stored and what is sent in a message are equal. A zero time (a caller bug) falls
// back to now rather than year 1.
func eventTime(t time.Time) time.Time {
	if t.IsZero() {
		t = time.Now()
	}
	return t.UTC().Truncate(time.Microsecond)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
