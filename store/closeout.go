package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/helhedsplan/helhedsplan/domain"
)

// CompletedReason is the unreserve reason of a close-out: what was reserved and never paid goes back with entries
// keyed unreserve/<initiative>/completed/<source>.
const CompletedReason = "completed"

// CloseoutInput settles a completed initiative's money (domain.Closeout) in one transaction with the transition
// that completes it: a closeout_lines row per source, the never-paid reservation back to the sources ('unreserve'
// entries with reason "completed"), and a return (a receivable, initiative_returns) per source with money to come
// back. Running it again writes nothing.
type CloseoutInput struct {
	PlanID       string
	InitiativeID string
	DelaftaleID  string
	Lines        []domain.CloseoutLine
	Transition   Transition
}

// closeout books in inside the step's transaction (see CloseoutInput). It checks the lines against the ledger as
// it is: per source, what was paid must be what the ledger says was paid, and nothing may be released and unpaid.
// Running it again reports existed when the transition, the lines and the returns are there; anything else stored
// under the same keys is ErrDivergence.
func closeout(ctx context.Context, tx *sqlx.Tx, in CloseoutInput) (existed bool, err error) {
	if in.PlanID == "" || in.InitiativeID == "" || in.DelaftaleID == "" {
		return false, fmt.Errorf("close out: plan, initiative and delaftale are required")
	}
	if ev := in.Transition.Event; in.Transition.Snapshot.ID != in.InitiativeID || ev.PhaseAfter != domain.PhaseCompleted {
		return false, fmt.Errorf("close out %s: the transition must complete initiative %s, got %s to %q",
			in.InitiativeID, in.InitiativeID, in.Transition.Snapshot.ID, ev.PhaseAfter)
	}
	for _, l := range in.Lines {
		if l.SourceID == "" || !l.PaidØre.InRange() || !l.SpentØre.InRange() || !l.ReturnØre.InRange() ||
			!l.UnreservedØre.InRange() || l.SpentØre+l.ReturnØre != l.PaidØre {
			return false, fmt.Errorf("close out %s: line %+v does not add up", in.InitiativeID, l)
		}
	}
	closedAt := eventTime(in.Transition.Event.At)

	existed, err = recordTransition(ctx, tx, in.Transition)
	if err != nil {
		return false, err
	}
	const qStored = `SELECT count(*) FROM closeout_lines WHERE initiative_id = $1`
	var stored int
	if err := tx.GetContext(ctx, &stored, qStored, in.InitiativeID); err != nil {
		return false, translate(err, "close out %s: earlier lines", in.InitiativeID)
	}
	if existed {
		if stored != len(in.Lines) {
			return false, fmt.Errorf("close out %s: %w: the completion is recorded with %d close-out lines, not %d",
				in.InitiativeID, ErrDivergence, stored, len(in.Lines))
		}
		return true, sameCloseout(ctx, tx, in)
	}
	if stored != 0 {
		return false, fmt.Errorf("close out %s: %w: close-out lines exist without the completion", in.InitiativeID, ErrDivergence)
	}

	giveBack, err := checkAgainstLedger(ctx, tx, in.InitiativeID, in.Lines)
	if err != nil {
		return false, err
	}
	if err := insertCloseout(ctx, tx, in, closedAt, nil); err != nil {
		return false, err
	}
	if len(giveBack) > 0 {
		if err := unreserve(ctx, tx, UnreserveInput{PlanID: in.PlanID, InitiativeID: in.InitiativeID,
			DelaftaleID: in.DelaftaleID, Reason: CompletedReason, Lines: giveBack}); err != nil {
			return false, err
		}
	}
	return false, nil
}

// checkAgainstLedger checks a settlement's lines against the initiative's ledger: per source, paid must be what the
// pay entries say, and nothing may be released and unpaid (a *domain.RuleError: finance must confirm first). It
// returns what the lines give back to the sources (unreserved).
func checkAgainstLedger(ctx context.Context, tx *sqlx.Tx, initiativeID string, lines []domain.CloseoutLine) ([]domain.SourceAmount, error) {
	const qLedger = `
		SELECT source_id,
		       COALESCE(sum(amount_ore) FILTER (WHERE kind = 'pay'), 0)::bigint AS paid,
		       (COALESCE(sum(amount_ore) FILTER (WHERE kind = 'release'), 0)
		        - COALESCE(sum(amount_ore) FILTER (WHERE kind = 'withdraw'), 0)
		        - COALESCE(sum(amount_ore) FILTER (WHERE kind = 'pay'), 0))::bigint AS unpaid
		FROM ledger_entries
		WHERE initiative_id = $1
		GROUP BY source_id`
	var ledger []struct {
		SourceID string `db:"source_id"`
		Paid     int64  `db:"paid"`
		Unpaid   int64  `db:"unpaid"`
	}
	if err := sqlx.SelectContext(ctx, tx, &ledger, qLedger, initiativeID); err != nil {
		return nil, translate(err, "settle %s: ledger", initiativeID)
	}
	paid := map[string]int64{}
	for _, r := range ledger {
		if r.Unpaid != 0 {
			return nil, domain.Refuse(domain.CodeConflict, "Der er frigivet %s fra %s, som ikke er udbetalt endnu. "+
				"Indsatsen kan afsluttes, når økonomi har bekræftet udbetalingen.", domain.Money(r.Unpaid), r.SourceID)
		}
		paid[r.SourceID] = r.Paid
	}
	var giveBack []domain.SourceAmount
	for _, l := range lines {
		if int64(l.PaidØre) != paid[l.SourceID] {
			return nil, fmt.Errorf("settle %s: %w: the initiative says %s was paid from %s, the ledger %s",
				initiativeID, ErrDivergence, l.PaidØre, l.SourceID, domain.Money(paid[l.SourceID]))
		}
		delete(paid, l.SourceID)
		if l.UnreservedØre > 0 {
			giveBack = append(giveBack, domain.SourceAmount{SourceID: l.SourceID, AmountØre: l.UnreservedØre})
		}
	}
	for src, p := range paid {
		if p != 0 {
			return nil, fmt.Errorf("settle %s: %w: %s was paid from %s, which the settlement leaves out",
				initiativeID, ErrDivergence, domain.Money(p), src)
		}
	}
	return giveBack, nil
}

// insertCloseout writes the close-out lines and a return per line with money to come back.
func insertCloseout(ctx context.Context, tx *sqlx.Tx, in CloseoutInput, closedAt time.Time, settledBy *string) error {
	const qLine = `
		INSERT INTO closeout_lines (initiative_id, plan_id, source_id, paid_ore, spent_ore, return_ore, unreserved_ore,
		                            closed_at, settled_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	const qReturn = `
		INSERT INTO initiative_returns (id, plan_id, initiative_id, delaftale_id, source_id, amount_ore, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`
	for _, l := range in.Lines {
		if _, err := tx.ExecContext(ctx, qLine, in.InitiativeID, in.PlanID, l.SourceID, int64(l.PaidØre),
			int64(l.SpentØre), int64(l.ReturnØre), int64(l.UnreservedØre), closedAt, settledBy); err != nil {
			return translate(err, "close out %s: line %s", in.InitiativeID, l.SourceID)
		}
		if l.ReturnØre > 0 {
			if _, err := tx.ExecContext(ctx, qReturn, domain.ReturnID(in.InitiativeID, l.SourceID), in.PlanID,
				in.InitiativeID, in.DelaftaleID, l.SourceID, int64(l.ReturnØre), closedAt); err != nil {
				return translate(err, "close out %s: return from %s", in.InitiativeID, l.SourceID)
			}
		}
	}
	return nil
}

// SettleCancelled settles a cancelled initiative's paid money (domain.ComputeSettlement), stated by actor, in one
// transaction: close-out lines (with who stated the spend) and a return per source with money to come back. The
// initiative must be cancelled in the read model and its lines must agree with its ledger. Settling it again with
// the same lines writes nothing; other lines are a *domain.RuleError (CodeConflict): it was settled already.
func (s *Store) SettleCancelled(ctx context.Context, planID, initiativeID, delaftaleID string, lines []domain.CloseoutLine,
	actor domain.Actor, at time.Time) error {
	in := CloseoutInput{PlanID: planID, InitiativeID: initiativeID, DelaftaleID: delaftaleID, Lines: lines}
	for _, l := range lines {
		if l.SourceID == "" || !l.PaidØre.InRange() || !l.SpentØre.InRange() || !l.ReturnØre.InRange() ||
			l.UnreservedØre != 0 || l.SpentØre+l.ReturnØre != l.PaidØre {
			return fmt.Errorf("settle %s: line %+v does not add up", initiativeID, l)
		}
	}
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		var phase domain.Phase
		if err := tx.GetContext(ctx, &phase, `SELECT phase FROM initiatives WHERE id = $1 FOR UPDATE`, initiativeID); err != nil {
			return translate(err, "settle %s", initiativeID)
		}
		if phase != domain.PhaseCancelled {
			return domain.Refuse(domain.CodeWrongPhase, "Kun en annulleret indsats afregnes sådan.")
		}
		var stored int
		if err := tx.GetContext(ctx, &stored, `SELECT count(*) FROM closeout_lines WHERE initiative_id = $1`, initiativeID); err != nil {
			return translate(err, "settle %s: earlier lines", initiativeID)
		}
		if stored > 0 {
			if stored == len(lines) && sameCloseout(ctx, tx, in) == nil {
				return nil // the same settlement again
			}
			return domain.Refuse(domain.CodeConflict, "Indsatsen er allerede afregnet.")
		}
		if _, err := checkAgainstLedger(ctx, tx, initiativeID, lines); err != nil {
			return err
		}
		by := actor.UserID
		return insertCloseout(ctx, tx, in, eventTime(at), &by)
	})
}

// CloseoutLines reads an initiative's settlement: its lines, when it was made and who stated the spend (""
// for a close-out at completion). No lines: nil.
func (s *Store) CloseoutLines(ctx context.Context, initiativeID string) (*domain.Closeout, string, error) {
	const q = `
		SELECT source_id, paid_ore, spent_ore, return_ore, unreserved_ore, closed_at, COALESCE(settled_by, '') AS settled_by
		FROM closeout_lines WHERE initiative_id = $1 ORDER BY source_id`
	var rows []struct {
		SourceID   string    `db:"source_id"`
		Paid       int64     `db:"paid_ore"`
		Spent      int64     `db:"spent_ore"`
		Return     int64     `db:"return_ore"`
		Unreserved int64     `db:"unreserved_ore"`
		ClosedAt   time.Time `db:"closed_at"`
		SettledBy  string    `db:"settled_by"`
	}
	if err := sqlx.SelectContext(ctx, s.db, &rows, q, initiativeID); err != nil {
		return nil, "", translate(err, "close-out of %s", initiativeID)
	}
	if len(rows) == 0 {
		return nil, "", nil
	}
	c := &domain.Closeout{At: rows[0].ClosedAt}
	for _, r := range rows {
		c.Lines = append(c.Lines, domain.CloseoutLine{SourceID: r.SourceID, PaidØre: domain.Money(r.Paid),
			SpentØre: domain.Money(r.Spent), ReturnØre: domain.Money(r.Return), UnreservedØre: domain.Money(r.Unreserved)})
	}
	return c, rows[0].SettledBy, nil
}

// sameCloseout checks that the stored close-out is in's.
func sameCloseout(ctx context.Context, tx *sqlx.Tx, in CloseoutInput) error {
	const q = `
		SELECT source_id, paid_ore, spent_ore, return_ore, unreserved_ore
		FROM closeout_lines WHERE initiative_id = $1`
	var rows []struct {
		SourceID   string `db:"source_id"`
		Paid       int64  `db:"paid_ore"`
		Spent      int64  `db:"spent_ore"`
		Return     int64  `db:"return_ore"`
		Unreserved int64  `db:"unreserved_ore"`
	}
	if err := sqlx.SelectContext(ctx, tx, &rows, q, in.InitiativeID); err != nil {
		return translate(err, "close out %s: stored lines", in.InitiativeID)
	}
	want := map[string]domain.CloseoutLine{}
	for _, l := range in.Lines {
		want[l.SourceID] = l
	}
	for _, r := range rows {
		l, ok := want[r.SourceID]
		if !ok || int64(l.PaidØre) != r.Paid || int64(l.SpentØre) != r.Spent || int64(l.ReturnØre) != r.Return ||
			int64(l.UnreservedØre) != r.Unreserved {
			return fmt.Errorf("close out %s: %w: the stored line for %s differs", in.InitiativeID, ErrDivergence, r.SourceID)
		}
	}
	return nil
}

// Return is a receivable: money an initiative's holder must pay back after close-out.
type Return struct {
	ID              string     `db:"id" json:"id"`
	Seq             int64      `db:"seq" json:"-"`
	PlanID          string     `db:"plan_id" json:"plan_id"`
	InitiativeID    string     `db:"initiative_id" json:"initiative_id"`
	InitiativeTitle string     `db:"initiative_title" json:"initiative_title"`
	DelaftaleID     string     `db:"delaftale_id" json:"delaftale_id"`
	SourceID        string     `db:"source_id" json:"source_id"`
	SourceName      string     `db:"source_name" json:"source_name"`
	AmountØre       int64      `db:"amount_ore" json:"amount_ore"`
	Status          string     `db:"status" json:"status"` // open or received
	CreatedAt       time.Time  `db:"created_at" json:"created_at"`
	ReceivedAt      *time.Time `db:"received_at" json:"received_at,omitempty"`
	ReceivedBy      *string    `db:"received_by" json:"received_by,omitempty"`
	ReceivedByName  *string    `db:"received_by_name" json:"received_by_name,omitempty"`
	Reference       *string    `db:"reference" json:"reference,omitempty"`
}

// Return statuses.
const (
	ReturnOpen     = "open"
	ReturnReceived = "received"
)

const qReturnSelect = `
	SELECT r.id, r.seq, r.plan_id, r.initiative_id, COALESCE(i.snapshot->'proposal'->>'title', '') AS initiative_title,
	       r.delaftale_id, r.source_id, s.name AS source_name, r.amount_ore, r.status, r.created_at,
	       r.received_at, r.received_by, u.name AS received_by_name, r.reference
	FROM initiative_returns r
	JOIN initiatives i ON i.id = r.initiative_id
	JOIN funding_sources s ON s.plan_id = r.plan_id AND s.id = r.source_id
	LEFT JOIN users u ON u.id = r.received_by`

// ListReturns lists the plan's returns, open first (oldest first), then received (newest first). status "" is
// all.
func (s *Store) ListReturns(ctx context.Context, planID, status string) ([]Return, error) {
	q := qReturnSelect + `
		WHERE r.plan_id = $1 AND ($2 = '' OR r.status = $2)
		ORDER BY r.status = 'received', CASE WHEN r.status = 'open' THEN r.seq ELSE -r.seq END
		LIMIT 10000`
	out := []Return{}
	if err := sqlx.SelectContext(ctx, s.db, &out, q, planID, status); err != nil {
		return nil, translate(err, "returns of %s", planID)
	}
	return out, nil
}

// InitiativeReturns lists one initiative's returns (at most one per source), by source.
func (s *Store) InitiativeReturns(ctx context.Context, initiativeID string) ([]Return, error) {
	out := []Return{}
	if err := sqlx.SelectContext(ctx, s.db, &out, qReturnSelect+` WHERE r.initiative_id = $1 ORDER BY r.source_id`,
		initiativeID); err != nil {
		return nil, translate(err, "returns of %s", initiativeID)
	}
	return out, nil
}

// GetReturn reads one return; ErrNotFound if there is none.
func (s *Store) GetReturn(ctx context.Context, id string) (Return, error) {
	var r Return
	if err := sqlx.GetContext(ctx, s.db, &r, qReturnSelect+` WHERE r.id = $1`, id); err != nil {
		return Return{}, translate(err, "return %s", id)
	}
	return r, nil
}

// ReturnByReference finds the plan's return whose payment reference (domain.ReturnReference: "TB" and the first
// 16 hex digits of the SHA-256 of its ID, upper case) is ref; ErrNotFound when none is. The reference is computed
// by the database, in one query, the way domain.ReturnReference computes it (TestReturnReferenceIsTheSameInSQL).
func (s *Store) ReturnByReference(ctx context.Context, planID, ref string) (Return, error) {
	var r Return
	q := qReturnSelect + `
		WHERE r.plan_id = $1
		  AND 'TB' || upper(left(encode(sha256(convert_to(r.id, 'UTF8')), 'hex'), 16)) = upper(btrim($2))`
	if err := sqlx.GetContext(ctx, s.db, &r, q, planID, ref); err != nil {
		return Return{}, translate(err, "return with reference %q in %s", ref, planID)
	}
	return r, nil
}

// RefundKey is the idempotency key of the refund entry that books return of initiative's money from source.
func RefundKey(initiativeID, sourceID string) string {
	return "refund/" + initiativeID + "/" + sourceID
}

// ReceiveReturn marks a return received with the bank's reference and books the refund that gives the money back
// to its source, in one transaction. Marking it again with the same reference answers the stored return and
// writes nothing; another reference is a *domain.RuleError (CodeConflict).
func (s *Store) ReceiveReturn(ctx context.Context, id, reference string, actor domain.Actor, at time.Time) (Return, error) {
	if reference == "" || len([]rune(reference)) > 100 {
		return Return{}, domain.Refuse(domain.CodeValidation, "Angiv bankens reference (højst 100 tegn).")
	}
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		const qLock = `
			SELECT id, plan_id, initiative_id, delaftale_id, source_id, amount_ore, status, reference, created_at
			FROM initiative_returns WHERE id = $1 FOR UPDATE`
		var r struct {
			CreatedAt    time.Time `db:"created_at"`
			ID           string    `db:"id"`
			PlanID       string    `db:"plan_id"`
			InitiativeID string    `db:"initiative_id"`
			DelaftaleID  string    `db:"delaftale_id"`
			SourceID     string    `db:"source_id"`
			AmountØre    int64     `db:"amount_ore"`
			Status       string    `db:"status"`
			Reference    *string   `db:"reference"`
		}
		if err := tx.GetContext(ctx, &r, qLock, id); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("return %s: %w", id, ErrNotFound)
			}
			return translate(err, "return %s", id)
		}
		if r.Status == ReturnReceived {
			if deref(r.Reference) == reference {
				return nil
			}
			return domain.Refuse(domain.CodeConflict, "Tilbagebetalingen er allerede registreret som modtaget med referencen %q.",
				deref(r.Reference))
		}
		if eventTime(at).Before(r.CreatedAt) {
			return fmt.Errorf("receive return %s at %s: before it was raised (%s)", id, at.UTC().Format(time.RFC3339),
				r.CreatedAt.UTC().Format(time.RFC3339))
		}
		const qUpdate = `
			UPDATE initiative_returns SET status = 'received', received_at = $2, received_by = $3, reference = $4
			WHERE id = $1`
		if _, err := tx.ExecContext(ctx, qUpdate, id, eventTime(at), actor.UserID, reference); err != nil {
			return translate(err, "receive return %s", id)
		}
		const qEntry = `
			INSERT INTO ledger_entries (plan_id, source_id, initiative_id, delaftale_id, milestone_no, kind,
			                            amount_ore, idempotency_key)
			VALUES ($1, $2, $3, $4, NULL, 'refund', $5, $6)`
		if _, err := tx.ExecContext(ctx, qEntry, r.PlanID, r.SourceID, r.InitiativeID, r.DelaftaleID, r.AmountØre,
			RefundKey(r.InitiativeID, r.SourceID)); err != nil {
			return translate(err, "receive return %s: refund entry", id)
		}
		return nil
	})
	if err != nil {
		return Return{}, err
	}
	return s.GetReturn(ctx, id)
}
