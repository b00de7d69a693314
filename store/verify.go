package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/helhedsplan/helhedsplan/domain"
)

// Rules VerifyLedger checks. Each is a stable code (operators grep for it, tests match on it); the order of this
// list is the order violations are reported in, money before bookkeeping, so the first one named is the most
// urgent.
const (
	// RuleAmountBounds: every stored amount (ledger, disbursement lines and totals, commitments, delaftale frames,
	// initiative budgets, and the amounts in the read model's snapshots) lies within 0..10^15 øre.
	RuleAmountBounds = "amount_bounds"
	// RuleSumRange: every plan's sums per kind of entry (and of its commitments) fit in int64, as the budget
	// endpoint adds them up in Go.
	RuleSumRange = "sum_range"
	// RuleReservedWithinCommitted: per plan and source, reserved minus unreserved is at most committed.
	RuleReservedWithinCommitted = "reserved_within_committed"
	// RulePaidWithinReleased: per initiative and source, paid plus withdrawn is at most released (what is released
	// and not paid, release - withdraw - pay, is never negative).
	RulePaidWithinReleased = "paid_within_released"
	// RuleWithdrawnWithinUnpaid: per initiative, milestone and source, what is withdrawn is at most what was
	// released and not paid.
	RuleWithdrawnWithinUnpaid = "withdrawn_within_unpaid"
	// RuleReleasedWithinReserved: per initiative and source, released minus withdrawn plus unreserved is at most
	// reserved (what is reserved and not released, reserve - unreserve - release + withdraw, is never negative).
	RuleReleasedWithinReserved = "released_within_reserved"
	// RuleDisbursementTotal: a disbursement's total equals the sum of its lines.
	RuleDisbursementTotal = "disbursement_total"
	// RuleReleaseEntry: every disbursement line has exactly its release entry (release/<disbursement>/<source>,
	// same amount, plan, initiative, delaftale and milestone), and every release entry has its line.
	RuleReleaseEntry = "release_entry"
	// RulePayEntry: a paid disbursement has a pay entry per line (pay/<disbursement>/<source>, same figures), a
	// pending or withdrawn one has none, and every pay entry has its line.
	RulePayEntry = "pay_entry"
	// RuleWithdrawEntry: a withdrawn disbursement has a withdraw entry per line (withdraw/<disbursement>/<source>,
	// same figures), a pending or paid one has none, and every withdraw entry has its line.
	RuleWithdrawEntry = "withdraw_entry"
	// RulePlanReference: ledger entries, disbursements and their lines belong to the plan of what they refer to,
	// and what they refer to exists.
	RulePlanReference = "plan_reference"
	// RuleEntryKey: an entry's idempotency key matches its kind, initiative and source.
	RuleEntryKey = "entry_key"
	// RuleReservationBudget: per initiative and source, reserved minus unreserved equals the approved budget once
	// approved (funding, executing, evaluation, completed), what was paid once cancelled (the paid tranches the read
	// model shows), and zero before or without approval.
	RuleReservationBudget = "reservation_budget"
	// RuleCancelledSettled: a cancelled initiative owes nothing and holds nothing: per source reserved equals paid
	// plus unreserved, nothing is released and unpaid, nothing is reserved and unreleased, and none of its
	// disbursements is still pending.
	RuleCancelledSettled = "cancelled_settled"
	// RuleCompletedSettled: a completed initiative that was closed out (domain.Closeout), or a cancelled one whose
	// paid money was settled (domain.ComputeSettlement), is settled to the øre: a completed one's close-out lines are
	// the ones its snapshot shows (a cancelled one's give nothing back), each source's paid equals its pay entries, nothing is
	// released and unpaid, each line's return is a receivable of exactly that amount (none when zero), and a
	// refund entry exists for exactly the returns received.
	RuleCompletedSettled = "completed_settled"
	// RuleTrancheReleases: per initiative, milestone and source, the releases minus the withdrawals equal the
	// tranche of a milestone the read model shows as released or paid, and nothing else is released (a withdrawn
	// tranche was released and taken back: it nets to zero).
	RuleTrancheReleases = "tranche_releases"
	// RuleTranchePayments: the same for payments and milestones shown as paid.
	RuleTranchePayments = "tranche_payments"
	// RuleEventLog: an initiative's events are seqs 1..version without gaps, each starts in the phase the one
	// before ended in, and the last ends in the read model's phase.
	RuleEventLog = "event_log"
)

// ledgerRules is the report order.
var ledgerRules = []string{RuleAmountBounds, RuleSumRange, RuleReservedWithinCommitted, RulePaidWithinReleased,
	RuleWithdrawnWithinUnpaid, RuleReleasedWithinReserved, RuleDisbursementTotal, RuleReleaseEntry, RulePayEntry,
	RuleWithdrawEntry, RulePlanReference, RuleEntryKey, RuleReservationBudget, RuleCancelledSettled,
	RuleCompletedSettled, RuleTrancheReleases, RuleTranchePayments, RuleEventLog}

// LedgerRules lists the rules VerifyLedger checks, in the order it reports violations.
func LedgerRules() []string { return slices.Clone(ledgerRules) }

// Violation is one broken rule found by VerifyLedger.
type Violation struct {
	Rule    string // one of the Rule constants
	Subject string // what it is about, e.g. "indsats a, kilde lbf"
	Detail  string // what is wrong, in Danish, with the figures
}

func (v Violation) String() string { return v.Rule + ": " + v.Subject + ": " + v.Detail }

// LedgerReport is what VerifyLedgerReport looked at and what it found.
type LedgerReport struct {
	Plans             int
	Initiatives       int
	Cancelled         int // initiatives in phase cancelled, whose ledger must be settled
	Events            int
	Entries           int
	Withdrawals       int // withdraw entries: released tranches taken back from finance
	Disbursements     int
	Withdrawn         int // disbursements taken back from finance unpaid
	DisbursementLines int
	ClosedOut         int         // completed initiatives whose money was settled (close-out lines), whose ledger must say so
	ReturnsOpen       int         // returns raised at close-out and not yet received
	Refunds           int         // refund entries: returns received
	Violations        []Violation // empty when every rule holds
}

// VerifyLedger recomputes every balance from the rows and checks every money and audit rule (the Rule constants).
// It returns the violations in a fixed order (by rule, then subject), or an empty slice when the ledger is clean.
// Most rules are also enforced by the database on every write (migration 00005); this finds what got past
// them anyway: rows written with triggers disabled, a restored backup, a rule the database cannot express per row.
func (s *Store) VerifyLedger(ctx context.Context) ([]Violation, error) {
	r, err := s.VerifyLedgerReport(ctx)
	if err != nil {
		return nil, err
	}
	return r.Violations, nil
}

// VerifyLedgerReport is VerifyLedger with counts of what was checked, for `helhedsplan ledger verify`.
//
// Everything is read in one REPEATABLE READ, read-only transaction: the checks compare tables with each other, and
// a write committing between two of them would otherwise show up as a violation that never existed. Sums are
// computed in numeric, so a sum that no longer fits in bigint is reported, not an error.
func (s *Store) VerifyLedgerReport(ctx context.Context) (LedgerReport, error) {
	tx, err := s.db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return LedgerReport{}, translate(err, "verify ledger: begin")
	}
	defer func() { _ = tx.Rollback() }() // read-only: nothing to commit

	const qCounts = `
		SELECT (SELECT count(*) FROM plans)              AS plans,
		       (SELECT count(*) FROM initiatives)        AS initiatives,
		       (SELECT count(*) FROM initiatives WHERE phase = 'cancelled') AS cancelled,
		       (SELECT count(*) FROM initiative_events)  AS events,
		       (SELECT count(*) FROM ledger_entries)     AS entries,
		       (SELECT count(*) FROM ledger_entries WHERE kind = 'withdraw') AS withdrawals,
		       (SELECT count(*) FROM disbursements)      AS disbursements,
		       (SELECT count(*) FROM disbursements WHERE status = 'withdrawn') AS withdrawn,
		       (SELECT count(*) FROM disbursement_lines) AS disbursement_lines,
		       (SELECT count(DISTINCT initiative_id) FROM closeout_lines) AS closed_out,
		       (SELECT count(*) FROM initiative_returns WHERE status = 'open') AS returns_open,
		       (SELECT count(*) FROM ledger_entries WHERE kind = 'refund') AS refunds`
	var counts struct {
		Plans             int `db:"plans"`
		Initiatives       int `db:"initiatives"`
		Cancelled         int `db:"cancelled"`
		Events            int `db:"events"`
		Entries           int `db:"entries"`
		Withdrawals       int `db:"withdrawals"`
		Disbursements     int `db:"disbursements"`
		Withdrawn         int `db:"withdrawn"`
		DisbursementLines int `db:"disbursement_lines"`
		ClosedOut         int `db:"closed_out"`
		ReturnsOpen       int `db:"returns_open"`
		Refunds           int `db:"refunds"`
	}
	if err := sqlx.GetContext(ctx, tx, &counts, qCounts); err != nil {
		return LedgerReport{}, translate(err, "verify ledger: counts")
	}
	r := LedgerReport{Plans: counts.Plans, Initiatives: counts.Initiatives, Cancelled: counts.Cancelled,
		Events: counts.Events, Entries: counts.Entries, Withdrawals: counts.Withdrawals,
		Disbursements: counts.Disbursements, Withdrawn: counts.Withdrawn, DisbursementLines: counts.DisbursementLines,
		ClosedOut: counts.ClosedOut, ReturnsOpen: counts.ReturnsOpen, Refunds: counts.Refunds}

	checks := []struct {
		name string
		fn   func(context.Context, *sqlx.Tx) ([]Violation, error)
	}{
		{"amount bounds", verifyAmountBounds},
		{"sums", verifySums},
		{"source balances", verifySourceBalances},
		{"initiative balances", verifyInitiativeBalances},
		{"disbursement totals", verifyDisbursementTotals},
		{"release entries", func(ctx context.Context, tx *sqlx.Tx) ([]Violation, error) {
			return verifyLineEntries(ctx, tx, "release")
		}},
		{"pay entries", func(ctx context.Context, tx *sqlx.Tx) ([]Violation, error) {
			return verifyLineEntries(ctx, tx, "pay")
		}},
		{"withdraw entries", func(ctx context.Context, tx *sqlx.Tx) ([]Violation, error) {
			return verifyLineEntries(ctx, tx, "withdraw")
		}},
		{"plan references", verifyPlanReferences},
		{"entry keys", verifyEntryKeys},
		{"reservations", verifyReservations},
		{"cancelled initiatives", verifyCancelled},
		{"completed initiatives", verifyCompleted},
		{"tranche releases", func(ctx context.Context, tx *sqlx.Tx) ([]Violation, error) {
			return verifyTranches(ctx, tx, "release")
		}},
		{"tranche payments", func(ctx context.Context, tx *sqlx.Tx) ([]Violation, error) {
			return verifyTranches(ctx, tx, "pay")
		}},
		{"event log", verifyEventLog},
	}
	r.Violations = []Violation{}
	for _, c := range checks {
		vs, err := c.fn(ctx, tx)
		if err != nil {
			return LedgerReport{}, translate(err, "verify ledger: %s", c.name)
		}
		r.Violations = append(r.Violations, vs...)
	}
	slices.SortStableFunc(r.Violations, func(a, b Violation) int {
		return cmp.Or(cmp.Compare(slices.Index(ledgerRules, a.Rule), slices.Index(ledgerRules, b.Rule)),
			strings.Compare(a.Subject, b.Subject), strings.Compare(a.Detail, b.Detail))
	})
	return r, nil
}

// jsonArray is a jsonb expression as an array, or an empty one when the snapshot holds null or something else, so
// a malformed snapshot is reported by the checks instead of failing the query.
func jsonArray(expr string) string {
	return "CASE jsonb_typeof(" + expr + ") WHEN 'array' THEN " + expr + " ELSE '[]'::jsonb END"
}

// jsonAmount is a snapshot amount as numeric, or 0 when it is not a number (reported by verifyAmountBounds).
func jsonAmount(elem string) string {
	return "CASE jsonb_typeof(" + elem + "->'amount_ore') WHEN 'number' THEN (" + elem + "->>'amount_ore')::numeric ELSE 0 END"
}

func verifyAmountBounds(ctx context.Context, tx *sqlx.Tx) ([]Violation, error) {
	// min is 1 for what the ledger moves (an entry, a line, a total of nothing is meaningless) and 0 for what
	// may legitimately be zero. Snapshot amounts must also be whole numbers of øre.
	q := `
		SELECT 'postering ' || idempotency_key AS subject, amount_ore::text AS amount, 1 AS min
		FROM ledger_entries WHERE amount_ore NOT BETWEEN 1 AND $1
		UNION ALL
		SELECT 'udbetaling ' || disbursement_id || ', kilde ' || source_id, amount_ore::text, 1
		FROM disbursement_lines WHERE amount_ore NOT BETWEEN 1 AND $1
		UNION ALL
		SELECT 'udbetaling ' || id, total_ore::text, 1
		FROM disbursements WHERE total_ore NOT BETWEEN 1 AND $1
		UNION ALL
		SELECT 'kilde ' || id || ' i plan ' || plan_id, committed_ore::text, 0
		FROM funding_sources WHERE committed_ore NOT BETWEEN 0 AND $1
		UNION ALL
		SELECT 'delaftale ' || id || ' i plan ' || plan_id, budget_frame_ore::text, 0
		FROM delaftaler WHERE budget_frame_ore NOT BETWEEN 0 AND $1
		UNION ALL
		SELECT 'indsats ' || id, budget_ore::text, 0
		FROM initiatives WHERE budget_ore NOT BETWEEN 0 AND $1
		UNION ALL
		SELECT 'indsats ' || i.id || ', budget, kilde ' || COALESCE(b->>'source_id', '?'), COALESCE(b->>'amount_ore', 'intet'), 0
		FROM initiatives i
		CROSS JOIN LATERAL jsonb_array_elements(` + jsonArray("i.snapshot->'proposal'->'budget'") + `) b
		WHERE CASE WHEN jsonb_typeof(b->'amount_ore') = 'number'
		           THEN (b->>'amount_ore')::numeric NOT BETWEEN 0 AND $1
		                OR (b->>'amount_ore')::numeric <> trunc((b->>'amount_ore')::numeric)
		           ELSE true END
		UNION ALL
		SELECT 'indsats ' || i.id || ', milepæl ' || COALESCE(m->>'no', '?') || ', kilde ' || COALESCE(t->>'source_id', '?'),
		       COALESCE(t->>'amount_ore', 'intet'), 0
		FROM initiatives i
		CROSS JOIN LATERAL jsonb_array_elements(` + jsonArray("i.snapshot->'milestones'") + `) m
		CROSS JOIN LATERAL jsonb_array_elements(` + jsonArray("m->'tranche'") + `) t
		WHERE CASE WHEN jsonb_typeof(t->'amount_ore') = 'number'
		           THEN (t->>'amount_ore')::numeric NOT BETWEEN 0 AND $1
		                OR (t->>'amount_ore')::numeric <> trunc((t->>'amount_ore')::numeric)
		           ELSE true END`
	var rows []struct {
		Subject string `db:"subject"`
		Amount  string `db:"amount"`
		Min     int64  `db:"min"`
	}
	if err := sqlx.SelectContext(ctx, tx, &rows, q, int64(domain.MaxMoney)); err != nil {
		return nil, err
	}
	out := make([]Violation, 0, len(rows))
	for _, r := range rows {
		out = append(out, Violation{Rule: RuleAmountBounds, Subject: r.Subject,
			Detail: fmt.Sprintf("beløbet %s ligger uden for %s til %s (amount out of bounds)",
				kroner(r.Amount), kroner(fmt.Sprint(r.Min)), kroner(fmt.Sprint(int64(domain.MaxMoney))))})
	}
	return out, nil
}

func verifySums(ctx context.Context, tx *sqlx.Tx) ([]Violation, error) {
	// Amounts are positive (a CHECK no trigger switch turns off), so when a plan's total of a kind fits in int64,
	// every partial sum the application makes (per source, delaftale, initiative) fits too.
	const q = `
		SELECT plan_id, kind, total::text AS total
		FROM (
			SELECT plan_id, kind, sum(amount_ore) AS total FROM ledger_entries GROUP BY plan_id, kind
			UNION ALL
			SELECT plan_id, 'committed', sum(committed_ore) FROM funding_sources GROUP BY plan_id
			UNION ALL
			SELECT plan_id, 'disbursement_lines', sum(amount_ore) FROM disbursement_lines GROUP BY plan_id
		) s
		WHERE total > 9223372036854775807`
	var rows []struct {
		PlanID string `db:"plan_id"`
		Kind   string `db:"kind"`
		Total  string `db:"total"`
	}
	if err := sqlx.SelectContext(ctx, tx, &rows, q); err != nil {
		return nil, err
	}
	out := make([]Violation, 0, len(rows))
	for _, r := range rows {
		out = append(out, Violation{Rule: RuleSumRange, Subject: "plan " + r.PlanID + ", " + r.Kind,
			Detail: fmt.Sprintf("summen %s er større end 64 bit kan rumme (sum does not fit in int64)", kroner(r.Total))})
	}
	return out, nil
}

func verifySourceBalances(ctx context.Context, tx *sqlx.Tx) ([]Violation, error) {
	const q = `
		SELECT s.plan_id, s.id AS source_id, s.committed_ore::text AS committed,
		       l.reserved::text AS reserved, l.unreserved::text AS unreserved
		FROM funding_sources s
		JOIN (
			SELECT plan_id, source_id,
			       COALESCE(sum(amount_ore) FILTER (WHERE kind = 'reserve'), 0)   AS reserved,
			       COALESCE(sum(amount_ore) FILTER (WHERE kind IN ('unreserve', 'refund')), 0) AS unreserved
			FROM ledger_entries
			GROUP BY plan_id, source_id
		) l ON l.plan_id = s.plan_id AND l.source_id = s.id
		WHERE l.reserved - l.unreserved > s.committed_ore`
	var rows []struct {
		PlanID     string `db:"plan_id"`
		SourceID   string `db:"source_id"`
		Committed  string `db:"committed"`
		Reserved   string `db:"reserved"`
		Unreserved string `db:"unreserved"`
	}
	if err := sqlx.SelectContext(ctx, tx, &rows, q); err != nil {
		return nil, err
	}
	out := make([]Violation, 0, len(rows))
	for _, r := range rows {
		out = append(out, Violation{Rule: RuleReservedWithinCommitted,
			Subject: "kilde " + r.SourceID + " i plan " + r.PlanID,
			Detail: fmt.Sprintf("reserveret %s, givet eller betalt tilbage %s, men kun givet tilsagn om %s (reserved exceeds committed)",
				kroner(r.Reserved), kroner(r.Unreserved), kroner(r.Committed))})
	}
	return out, nil
}

func verifyInitiativeBalances(ctx context.Context, tx *sqlx.Tx) ([]Violation, error) {
	const q = `
		SELECT initiative_id, source_id, reserved::text AS reserved, unreserved::text AS unreserved,
		       released::text AS released, paid::text AS paid, withdrawn::text AS withdrawn,
		       withdrawn > 0 AS any_withdrawn,
		       paid + withdrawn > released AS over_paid,
		       released - withdrawn + unreserved > reserved AS over_released
		FROM (
			SELECT initiative_id, source_id,
			       COALESCE(sum(amount_ore) FILTER (WHERE kind = 'reserve'), 0)   AS reserved,
			       COALESCE(sum(amount_ore) FILTER (WHERE kind = 'unreserve'), 0) AS unreserved,
			       COALESCE(sum(amount_ore) FILTER (WHERE kind = 'release'), 0)   AS released,
			       COALESCE(sum(amount_ore) FILTER (WHERE kind = 'pay'), 0)       AS paid,
			       COALESCE(sum(amount_ore) FILTER (WHERE kind = 'withdraw'), 0)  AS withdrawn
			FROM ledger_entries
			GROUP BY initiative_id, source_id
		) s
		WHERE paid + withdrawn > released OR released - withdrawn + unreserved > reserved`
	var rows []struct {
		InitiativeID string `db:"initiative_id"`
		SourceID     string `db:"source_id"`
		Reserved     string `db:"reserved"`
		Unreserved   string `db:"unreserved"`
		Released     string `db:"released"`
		Paid         string `db:"paid"`
		Withdrawn    string `db:"withdrawn"`
		AnyWithdrawn bool   `db:"any_withdrawn"`
		OverPaid     bool   `db:"over_paid"`
		OverReleased bool   `db:"over_released"`
	}
	if err := sqlx.SelectContext(ctx, tx, &rows, q); err != nil {
		return nil, err
	}
	var out []Violation
	for _, r := range rows {
		subject := "indsats " + r.InitiativeID + ", kilde " + r.SourceID
		withdrawn := ""
		if r.AnyWithdrawn {
			withdrawn = fmt.Sprintf(" (heraf trukket %s tilbage)", kroner(r.Withdrawn))
		}
		if r.OverPaid {
			detail := fmt.Sprintf("udbetalt %s, men kun frigivet %s (paid exceeds released)",
				kroner(r.Paid), kroner(r.Released))
			if r.AnyWithdrawn {
				detail = fmt.Sprintf("udbetalt %s og trukket %s tilbage, men kun frigivet %s (paid + withdrawn exceeds released)",
					kroner(r.Paid), kroner(r.Withdrawn), kroner(r.Released))
			}
			out = append(out, Violation{Rule: RulePaidWithinReleased, Subject: subject, Detail: detail})
		}
		if r.OverReleased {
			out = append(out, Violation{Rule: RuleReleasedWithinReserved, Subject: subject,
				Detail: fmt.Sprintf("frigivet %s%s og givet tilbage %s, men kun reserveret %s (released + unreserved exceeds reserved)",
					kroner(r.Released), withdrawn, kroner(r.Unreserved), kroner(r.Reserved))})
		}
	}

	// A withdrawal takes back one milestone's released, unpaid tranche; only milestones with withdrawals are
	// looked at (payments per milestone are tranche_payments' and pay_entry's to check).
	const qMilestones = `
		SELECT initiative_id, source_id, milestone_no, released::text AS released, paid::text AS paid,
		       withdrawn::text AS withdrawn
		FROM (
			SELECT initiative_id, source_id, milestone_no,
			       COALESCE(sum(amount_ore) FILTER (WHERE kind = 'release'), 0)  AS released,
			       COALESCE(sum(amount_ore) FILTER (WHERE kind = 'pay'), 0)      AS paid,
			       COALESCE(sum(amount_ore) FILTER (WHERE kind = 'withdraw'), 0) AS withdrawn
			FROM ledger_entries
			WHERE milestone_no IS NOT NULL
			GROUP BY initiative_id, source_id, milestone_no
		) m
		WHERE withdrawn > 0 AND paid + withdrawn > released`
	var ms []struct {
		InitiativeID string `db:"initiative_id"`
		SourceID     string `db:"source_id"`
		MilestoneNo  int64  `db:"milestone_no"`
		Released     string `db:"released"`
		Paid         string `db:"paid"`
		Withdrawn    string `db:"withdrawn"`
	}
	if err := sqlx.SelectContext(ctx, tx, &ms, qMilestones); err != nil {
		return nil, err
	}
	for _, m := range ms {
		out = append(out, Violation{Rule: RuleWithdrawnWithinUnpaid,
			Subject: fmt.Sprintf("indsats %s, milepæl %d, kilde %s", m.InitiativeID, m.MilestoneNo, m.SourceID),
			Detail: fmt.Sprintf("trukket %s tilbage, men af de frigivne %s er %s udbetalt (withdrawn exceeds released minus paid)",
				kroner(m.Withdrawn), kroner(m.Released), kroner(m.Paid))})
	}
	return out, nil
}

func verifyDisbursementTotals(ctx context.Context, tx *sqlx.Tx) ([]Violation, error) {
	const q = `
		SELECT d.id, d.total_ore::text AS total, COALESCE(sum(l.amount_ore), 0)::text AS lines, count(l.source_id) AS n
		FROM disbursements d
		LEFT JOIN disbursement_lines l ON l.disbursement_id = d.id
		GROUP BY d.id, d.total_ore
		HAVING d.total_ore <> COALESCE(sum(l.amount_ore), 0)`
	var rows []struct {
		ID    string `db:"id"`
		Total string `db:"total"`
		Lines string `db:"lines"`
		N     int    `db:"n"`
	}
	if err := sqlx.SelectContext(ctx, tx, &rows, q); err != nil {
		return nil, err
	}
	out := make([]Violation, 0, len(rows))
	for _, r := range rows {
		out = append(out, Violation{Rule: RuleDisbursementTotal, Subject: "udbetaling " + r.ID,
			Detail: fmt.Sprintf("lyder på %s, men dens %d linjer giver %s (total differs from its lines)",
				kroner(r.Total), r.N, kroner(r.Lines))})
	}
	return out, nil
}

// verifyLineEntries checks that the release (pay, withdraw) entries and the disbursement lines match one to one.
// A line's entry is found by its derived key; for pay only a paid disbursement may have one, for withdraw only a
// withdrawn one.
func verifyLineEntries(ctx context.Context, tx *sqlx.Tx, kind string) ([]Violation, error) {
	rule, status, what := RuleReleaseEntry, "", "release"
	switch kind {
	case "pay":
		rule, status, what = RulePayEntry, DisbursementPaid, "pay entry for an unpaid disbursement"
	case "withdraw":
		rule, status, what = RuleWithdrawEntry, DisbursementWithdrawn, "withdraw entry for a disbursement not withdrawn"
	}
	// Lines of disbursements that do not exist are plan_reference's to report.
	const qLines = `
		SELECT l.disbursement_id, l.source_id, l.amount_ore, d.status, d.plan_id, d.initiative_id, d.delaftale_id,
		       d.milestone_no,
		       e.idempotency_key IS NOT NULL AS found, e.kind AS e_kind, e.amount_ore AS e_amount,
		       e.plan_id AS e_plan_id, e.initiative_id AS e_initiative_id, e.delaftale_id AS e_delaftale_id,
		       e.milestone_no AS e_milestone_no, e.source_id AS e_source_id
		FROM disbursement_lines l
		JOIN disbursements d ON d.id = l.disbursement_id
		LEFT JOIN ledger_entries e ON e.idempotency_key = $1::text || '/' || l.disbursement_id || '/' || l.source_id
		ORDER BY l.disbursement_id, l.source_id`
	var lines []struct {
		DisbursementID string         `db:"disbursement_id"`
		SourceID       string         `db:"source_id"`
		AmountØre      int64          `db:"amount_ore"`
		Status         string         `db:"status"`
		PlanID         string         `db:"plan_id"`
		InitiativeID   string         `db:"initiative_id"`
		DelaftaleID    string         `db:"delaftale_id"`
		MilestoneNo    int64          `db:"milestone_no"`
		Found          bool           `db:"found"`
		EKind          sql.NullString `db:"e_kind"`
		EAmount        sql.NullInt64  `db:"e_amount"`
		EPlanID        sql.NullString `db:"e_plan_id"`
		EInitiativeID  sql.NullString `db:"e_initiative_id"`
		EDelaftaleID   sql.NullString `db:"e_delaftale_id"`
		EMilestoneNo   sql.NullInt64  `db:"e_milestone_no"`
		ESourceID      sql.NullString `db:"e_source_id"`
	}
	if err := sqlx.SelectContext(ctx, tx, &lines, qLines, kind); err != nil {
		return nil, err
	}
	var out []Violation
	for _, l := range lines {
		key := kind + "/" + l.DisbursementID + "/" + l.SourceID
		subject := "udbetaling " + l.DisbursementID + ", kilde " + l.SourceID
		want := kind == "release" || l.Status == status
		switch {
		case want && !l.Found:
			out = append(out, Violation{Rule: rule, Subject: subject,
				Detail: fmt.Sprintf("posteringen %s mangler (udbetalingen er %s; missing ledger entry)", key, l.Status)})
			continue
		case !want && l.Found:
			out = append(out, Violation{Rule: rule, Subject: subject,
				Detail: fmt.Sprintf("posteringen %s findes, men udbetalingen er %s (%s)", key, l.Status, what)})
			continue
		case !l.Found:
			continue
		}
		var diffs []string
		diff := func(what, got, want string) {
			if got != want {
				diffs = append(diffs, fmt.Sprintf("%s %s, ikke %s", what, got, want))
			}
		}
		diff("art", l.EKind.String, kind)
		diff("beløb", kroner(fmt.Sprint(l.EAmount.Int64)), kroner(fmt.Sprint(l.AmountØre)))
		diff("plan", l.EPlanID.String, l.PlanID)
		diff("indsats", l.EInitiativeID.String, l.InitiativeID)
		diff("delaftale", l.EDelaftaleID.String, l.DelaftaleID)
		diff("milepæl", nullInt(l.EMilestoneNo), fmt.Sprint(l.MilestoneNo))
		diff("kilde", l.ESourceID.String, l.SourceID)
		if len(diffs) > 0 {
			out = append(out, Violation{Rule: rule, Subject: subject,
				Detail: fmt.Sprintf("posteringen %s passer ikke til linjen: %s (entry differs from its line)",
					key, strings.Join(diffs, "; "))})
		}
	}

	// Entries of this kind without a line: a release nobody was asked to pay, a payment of nothing.
	const qOrphans = `
		SELECT e.idempotency_key, e.initiative_id, e.amount_ore
		FROM ledger_entries e
		WHERE e.kind = $1::text
		  AND NOT EXISTS (SELECT 1 FROM disbursement_lines l
		                  WHERE $1::text || '/' || l.disbursement_id || '/' || l.source_id = e.idempotency_key)`
	var orphans []struct {
		Key          string `db:"idempotency_key"`
		InitiativeID string `db:"initiative_id"`
		AmountØre    int64  `db:"amount_ore"`
	}
	if err := sqlx.SelectContext(ctx, tx, &orphans, qOrphans, kind); err != nil {
		return nil, err
	}
	for _, o := range orphans {
		out = append(out, Violation{Rule: rule, Subject: "postering " + o.Key,
			Detail: fmt.Sprintf("%s af %s for indsats %s har ingen udbetalingslinje (entry without a disbursement line)",
				kind, kroner(fmt.Sprint(o.AmountØre)), o.InitiativeID)})
	}
	return out, nil
}

func verifyPlanReferences(ctx context.Context, tx *sqlx.Tx) ([]Violation, error) {
	// ref is what the row names (NULL when it does not exist); the row's own plan is plan_id.
	const q = `
		SELECT 'postering ' || e.idempotency_key AS subject, 'indsats ' || e.initiative_id AS what, e.plan_id,
		       i.plan_id AS ref
		FROM ledger_entries e LEFT JOIN initiatives i ON i.id = e.initiative_id
		WHERE i.plan_id IS DISTINCT FROM e.plan_id
		UNION ALL
		SELECT 'postering ' || e.idempotency_key, 'kilde ' || e.source_id, e.plan_id, s.plan_id
		FROM ledger_entries e LEFT JOIN funding_sources s ON s.plan_id = e.plan_id AND s.id = e.source_id
		WHERE s.id IS NULL
		UNION ALL
		SELECT 'postering ' || e.idempotency_key, 'delaftale ' || e.delaftale_id, e.plan_id, a.plan_id
		FROM ledger_entries e LEFT JOIN delaftaler a ON a.plan_id = e.plan_id AND a.id = e.delaftale_id
		WHERE a.id IS NULL
		UNION ALL
		SELECT 'udbetaling ' || d.id, 'indsats ' || d.initiative_id, d.plan_id, i.plan_id
		FROM disbursements d LEFT JOIN initiatives i ON i.id = d.initiative_id
		WHERE i.plan_id IS DISTINCT FROM d.plan_id
		UNION ALL
		SELECT 'udbetaling ' || l.disbursement_id || ', kilde ' || l.source_id, 'udbetaling ' || l.disbursement_id,
		       l.plan_id, d.plan_id
		FROM disbursement_lines l LEFT JOIN disbursements d ON d.id = l.disbursement_id
		WHERE d.plan_id IS DISTINCT FROM l.plan_id
		UNION ALL
		SELECT 'udbetaling ' || l.disbursement_id || ', kilde ' || l.source_id, 'kilde ' || l.source_id, l.plan_id,
		       s.plan_id
		FROM disbursement_lines l LEFT JOIN funding_sources s ON s.plan_id = l.plan_id AND s.id = l.source_id
		WHERE s.id IS NULL`
	var rows []struct {
		Subject string         `db:"subject"`
		What    string         `db:"what"`
		PlanID  string         `db:"plan_id"`
		Ref     sql.NullString `db:"ref"`
	}
	if err := sqlx.SelectContext(ctx, tx, &rows, q); err != nil {
		return nil, err
	}
	out := make([]Violation, 0, len(rows))
	for _, r := range rows {
		detail := fmt.Sprintf("hører til plan %s, men %s findes ikke der (refers to something that does not exist)",
			r.PlanID, r.What)
		if r.Ref.Valid {
			detail = fmt.Sprintf("hører til plan %s, men %s hører til plan %s (plan references disagree)",
				r.PlanID, r.What, r.Ref.String)
		}
		out = append(out, Violation{Rule: RulePlanReference, Subject: r.Subject, Detail: detail})
	}
	return out, nil
}

func verifyEntryKeys(ctx context.Context, tx *sqlx.Tx) ([]Violation, error) {
	// reserve/<initiative>/<source> (the approval) or reserve/<initiative>/<suffix>/<source> (a later reservation,
	// store.ReserveKey); unreserve/<initiative>/<reason>/<source>; suffixes and reasons are free of '/';
	// release|pay|withdraw/<disbursement>/<source>, whose disbursement verifyLineEntries matches with a line.
	const q = `
		SELECT idempotency_key, kind, initiative_id, source_id
		FROM ledger_entries
		WHERE NOT CASE kind
			WHEN 'reserve' THEN idempotency_key = 'reserve/' || initiative_id || '/' || source_id
				OR (starts_with(idempotency_key, 'reserve/' || initiative_id || '/')
				    AND right(idempotency_key, length(source_id) + 1) = '/' || source_id
				    AND length(idempotency_key) > length('reserve/' || initiative_id || '/') + length(source_id) + 1
				    AND strpos(substr(idempotency_key, length('reserve/' || initiative_id || '/') + 1,
				                      length(idempotency_key) - length('reserve/' || initiative_id || '/')
				                      - length(source_id) - 1), '/') = 0)
			WHEN 'unreserve' THEN
				starts_with(idempotency_key, 'unreserve/' || initiative_id || '/')
				AND right(idempotency_key, length(source_id) + 1) = '/' || source_id
				AND length(idempotency_key) > length('unreserve/' || initiative_id || '/') + length(source_id) + 1
				AND strpos(substr(idempotency_key, length('unreserve/' || initiative_id || '/') + 1,
				                  length(idempotency_key) - length('unreserve/' || initiative_id || '/')
				                  - length(source_id) - 1), '/') = 0
			WHEN 'refund' THEN idempotency_key = 'refund/' || initiative_id || '/' || source_id
			ELSE
				starts_with(idempotency_key, kind || '/')
				AND right(idempotency_key, length(source_id) + 1) = '/' || source_id
				AND length(idempotency_key) > length(kind) + length(source_id) + 2
			END
		ORDER BY idempotency_key`
	var rows []struct {
		Key          string `db:"idempotency_key"`
		Kind         string `db:"kind"`
		InitiativeID string `db:"initiative_id"`
		SourceID     string `db:"source_id"`
	}
	if err := sqlx.SelectContext(ctx, tx, &rows, q); err != nil {
		return nil, err
	}
	want := map[string]string{
		"reserve":   "reserve/<indsats>/<kilde> eller reserve/<indsats>/<tillæg>/<kilde>",
		"unreserve": "unreserve/<indsats>/<årsag>/<kilde>",
		"release":   "release/<udbetaling>/<kilde>",
		"pay":       "pay/<udbetaling>/<kilde>",
		"withdraw":  "withdraw/<udbetaling>/<kilde>",
		"refund":    "refund/<indsats>/<kilde>",
	}
	out := make([]Violation, 0, len(rows))
	for _, r := range rows {
		out = append(out, Violation{Rule: RuleEntryKey, Subject: "postering " + r.Key,
			Detail: fmt.Sprintf("en %s-postering for indsats %s og kilde %s skal have nøglen %s (key does not match its kind)",
				r.Kind, r.InitiativeID, r.SourceID, want[r.Kind])})
	}
	return out, nil
}

func verifyReservations(ctx context.Context, tx *sqlx.Tx) ([]Violation, error) {
	// Once approved, the budget is reserved and stays reserved (releases move money out of reserved, not out of
	// the reservation entries). Before approval, after rejection or withdrawal, nothing is reserved, or what was is
	// given back. Once cancelled, what was paid stays reserved and the rest is given back.
	q := `
		WITH budget AS (
			SELECT i.id AS initiative_id, COALESCE(b->>'source_id', '') AS source_id, sum(` + jsonAmount("b") + `) AS amount
			FROM initiatives i
			CROSS JOIN LATERAL jsonb_array_elements(` + jsonArray("i.snapshot->'proposal'->'budget'") + `) b
			WHERE i.phase IN ('funding', 'executing', 'evaluation', 'completed')
			  AND NOT (i.phase = 'completed' AND COALESCE(jsonb_typeof(i.snapshot->'closeout'), '') = 'object')
			GROUP BY 1, 2
			UNION ALL
			-- Closed out: what was paid stays reserved (spent, or a return that comes back as a refund); the
			-- rest was given back.
			SELECT i.id, COALESCE(c->>'source_id', ''),
			       sum(CASE jsonb_typeof(c->'paid_ore') WHEN 'number' THEN (c->>'paid_ore')::numeric ELSE 0 END)
			FROM initiatives i
			CROSS JOIN LATERAL jsonb_array_elements(` + jsonArray("i.snapshot->'closeout'->'lines'") + `) c
			WHERE i.phase = 'completed' AND jsonb_typeof(i.snapshot->'closeout') = 'object'
			GROUP BY 1, 2
			UNION ALL
			SELECT i.id, COALESCE(t->>'source_id', ''), sum(` + jsonAmount("t") + `)
			FROM initiatives i
			CROSS JOIN LATERAL jsonb_array_elements(` + jsonArray("i.snapshot->'milestones'") + `) m
			CROSS JOIN LATERAL jsonb_array_elements(` + jsonArray("m->'tranche'") + `) t
			WHERE i.phase = 'cancelled' AND m->>'tranche_status' = 'paid'
			GROUP BY 1, 2
		), booked AS (
			SELECT initiative_id, source_id,
			       COALESCE(sum(amount_ore) FILTER (WHERE kind = 'reserve'), 0)
			       - COALESCE(sum(amount_ore) FILTER (WHERE kind = 'unreserve'), 0) AS amount
			FROM ledger_entries
			WHERE kind IN ('reserve', 'unreserve')
			GROUP BY 1, 2
		)
		SELECT x.initiative_id, x.source_id, COALESCE(i.phase, '') AS phase, x.budget::text AS budget,
		       x.booked::text AS booked
		FROM (
			SELECT COALESCE(b.initiative_id, k.initiative_id) AS initiative_id,
			       COALESCE(b.source_id, k.source_id) AS source_id,
			       COALESCE(b.amount, 0) AS budget, COALESCE(k.amount, 0) AS booked
			FROM budget b
			FULL JOIN booked k ON k.initiative_id = b.initiative_id AND k.source_id = b.source_id
		) x
		LEFT JOIN initiatives i ON i.id = x.initiative_id
		WHERE x.budget <> x.booked`
	var rows []struct {
		InitiativeID string `db:"initiative_id"`
		SourceID     string `db:"source_id"`
		Phase        string `db:"phase"`
		Budget       string `db:"budget"`
		Booked       string `db:"booked"`
	}
	if err := sqlx.SelectContext(ctx, tx, &rows, q); err != nil {
		return nil, err
	}
	out := make([]Violation, 0, len(rows))
	for _, r := range rows {
		where := fmt.Sprintf("i fasen %q", r.Phase)
		switch r.Phase {
		case "":
			where = "for en indsats, der ikke findes i læsemodellen,"
		case string(domain.PhaseCancelled):
			where = fmt.Sprintf("i fasen %q (det udbetalte bliver stående, resten gives tilbage)", r.Phase)
		case string(domain.PhaseCompleted):
			where = fmt.Sprintf("i fasen %q (efter afslutning bliver det udbetalte stående, resten gives tilbage)", r.Phase)
		}
		out = append(out, Violation{Rule: RuleReservationBudget,
			Subject: "indsats " + r.InitiativeID + ", kilde " + r.SourceID,
			Detail: fmt.Sprintf("%s skal der være reserveret %s, men der er reserveret %s netto "+
				"(reservation differs from the approved budget)", where, kroner(r.Budget), kroner(r.Booked))})
	}
	return out, nil
}

// verifyCancelled checks that each cancelled initiative is settled (RuleCancelledSettled): its disbursements are
// paid or withdrawn, and per source its reservation equals what was paid plus what was given back.
func verifyCancelled(ctx context.Context, tx *sqlx.Tx) ([]Violation, error) {
	const qPending = `
		SELECT d.id, d.initiative_id, d.milestone_no, d.total_ore
		FROM disbursements d
		JOIN initiatives i ON i.id = d.initiative_id
		WHERE i.phase = 'cancelled' AND d.status = 'pending'`
	var pending []struct {
		ID           string `db:"id"`
		InitiativeID string `db:"initiative_id"`
		MilestoneNo  int64  `db:"milestone_no"`
		TotalØre     int64  `db:"total_ore"`
	}
	if err := sqlx.SelectContext(ctx, tx, &pending, qPending); err != nil {
		return nil, err
	}
	var out []Violation
	for _, p := range pending {
		out = append(out, Violation{Rule: RuleCancelledSettled, Subject: "indsats " + p.InitiativeID,
			Detail: fmt.Sprintf("indsatsen er annulleret, men udbetaling %s (milepæl %d, %s) afventer stadig betaling "+
				"(pending disbursement of a cancelled initiative)", p.ID, p.MilestoneNo, kroner(fmt.Sprint(p.TotalØre)))})
	}

	const qBalances = `
		SELECT initiative_id, source_id, reserved::text AS reserved, unreserved::text AS unreserved,
		       paid::text AS paid, (released - withdrawn - paid)::text AS unpaid,
		       (reserved - unreserved - released + withdrawn)::text AS unreleased
		FROM (
			SELECT e.initiative_id, e.source_id,
			       COALESCE(sum(e.amount_ore) FILTER (WHERE e.kind = 'reserve'), 0)   AS reserved,
			       COALESCE(sum(e.amount_ore) FILTER (WHERE e.kind = 'unreserve'), 0) AS unreserved,
			       COALESCE(sum(e.amount_ore) FILTER (WHERE e.kind = 'release'), 0)   AS released,
			       COALESCE(sum(e.amount_ore) FILTER (WHERE e.kind = 'withdraw'), 0)  AS withdrawn,
			       COALESCE(sum(e.amount_ore) FILTER (WHERE e.kind = 'pay'), 0)       AS paid
			FROM ledger_entries e
			JOIN initiatives i ON i.id = e.initiative_id
			WHERE i.phase = 'cancelled'
			GROUP BY e.initiative_id, e.source_id
		) s
		WHERE reserved <> paid + unreserved OR released - withdrawn - paid <> 0`
	var rows []struct {
		InitiativeID string `db:"initiative_id"`
		SourceID     string `db:"source_id"`
		Reserved     string `db:"reserved"`
		Unreserved   string `db:"unreserved"`
		Paid         string `db:"paid"`
		Unpaid       string `db:"unpaid"`
		Unreleased   string `db:"unreleased"`
	}
	if err := sqlx.SelectContext(ctx, tx, &rows, qBalances); err != nil {
		return nil, err
	}
	for _, r := range rows {
		out = append(out, Violation{Rule: RuleCancelledSettled,
			Subject: "indsats " + r.InitiativeID + ", kilde " + r.SourceID,
			Detail: fmt.Sprintf("indsatsen er annulleret, men af de reserverede %s er %s udbetalt og %s givet tilbage; "+
				"frigivet og ikke betalt: %s, reserveret og ikke frigivet: %s (a cancelled initiative must have "+
				"reserved = paid + unreserved)", kroner(r.Reserved), kroner(r.Paid), kroner(r.Unreserved),
				kroner(r.Unpaid), kroner(r.Unreleased))})
	}
	return out, nil
}

// verifyTranches compares release (or pay) entries per initiative, milestone and source with the tranches the
// read model shows as released or paid (paid only, for pay). Releases count net of withdrawals: a withdrawn tranche
// (tranche_status withdrawn) was released and taken back.
func verifyTranches(ctx context.Context, tx *sqlx.Tx, kind string) ([]Violation, error) {
	rule, statuses, verb := RuleTrancheReleases, []string{"released", "paid"}, "frigivet"
	if kind == "pay" {
		rule, statuses, verb = RuleTranchePayments, []string{"paid"}, "udbetalt"
	}
	q := `
		WITH expected AS (
			SELECT i.id AS initiative_id,
			       CASE jsonb_typeof(m->'no') WHEN 'number' THEN (m->>'no')::numeric ELSE 0 END AS milestone_no,
			       COALESCE(t->>'source_id', '') AS source_id, sum(` + jsonAmount("t") + `) AS amount
			FROM initiatives i
			CROSS JOIN LATERAL jsonb_array_elements(` + jsonArray("i.snapshot->'milestones'") + `) m
			CROSS JOIN LATERAL jsonb_array_elements(` + jsonArray("m->'tranche'") + `) t
			WHERE m->>'tranche_status' = ANY($2::text[])
			GROUP BY 1, 2, 3
		), booked AS (
			SELECT initiative_id, milestone_no::numeric AS milestone_no, source_id,
			       sum(CASE WHEN kind = 'withdraw' THEN -amount_ore ELSE amount_ore END) AS amount
			FROM ledger_entries
			WHERE kind = $1::text OR ($1::text = 'release' AND kind = 'withdraw')
			GROUP BY 1, 2, 3
		)
		SELECT COALESCE(e.initiative_id, b.initiative_id) AS initiative_id,
		       COALESCE(e.milestone_no, b.milestone_no)::text AS milestone_no,
		       COALESCE(e.source_id, b.source_id) AS source_id,
		       COALESCE(e.amount, 0)::text AS expected, COALESCE(b.amount, 0)::text AS booked
		FROM expected e
		FULL JOIN booked b
		       ON b.initiative_id = e.initiative_id AND b.milestone_no = e.milestone_no AND b.source_id = e.source_id
		WHERE COALESCE(e.amount, 0) <> COALESCE(b.amount, 0)`
	var rows []struct {
		InitiativeID string `db:"initiative_id"`
		MilestoneNo  string `db:"milestone_no"`
		SourceID     string `db:"source_id"`
		Expected     string `db:"expected"`
		Booked       string `db:"booked"`
	}
	if err := sqlx.SelectContext(ctx, tx, &rows, q, kind, pqStrings(statuses)); err != nil {
		return nil, err
	}
	out := make([]Violation, 0, len(rows))
	for _, r := range rows {
		out = append(out, Violation{Rule: rule,
			Subject: "indsats " + r.InitiativeID + ", milepæl " + r.MilestoneNo + ", kilde " + r.SourceID,
			Detail: fmt.Sprintf("læsemodellen viser %s %s, regnskabet %s (%s entries differ from the tranche)",
				verb, kroner(r.Expected), kroner(r.Booked), kind)})
	}
	return out, nil
}

func verifyEventLog(ctx context.Context, tx *sqlx.Tx) ([]Violation, error) {
	// Seqs are a primary key per initiative, so count = version, min = 1 and max = version means exactly 1..version.
	const qLog = `
		WITH ev AS (
			SELECT initiative_id, count(*) AS n, min(seq) AS first, max(seq) AS last
			FROM initiative_events
			GROUP BY initiative_id
		)
		SELECT i.id, i.version, i.phase, COALESCE(ev.n, 0) AS n, COALESCE(ev.first, 0) AS first,
		       COALESCE(ev.last, 0) AS last, COALESCE(le.phase_after, '') AS last_phase
		FROM initiatives i
		LEFT JOIN ev ON ev.initiative_id = i.id
		LEFT JOIN initiative_events le ON le.initiative_id = i.id AND le.seq = ev.last
		WHERE COALESCE(ev.n, 0) <> i.version OR COALESCE(ev.first, 0) <> 1 OR COALESCE(ev.last, 0) <> i.version
		   OR le.phase_after IS DISTINCT FROM i.phase`
	var rows []struct {
		ID        string `db:"id"`
		Version   int64  `db:"version"`
		Phase     string `db:"phase"`
		N         int64  `db:"n"`
		First     int64  `db:"first"`
		Last      int64  `db:"last"`
		LastPhase string `db:"last_phase"`
	}
	if err := sqlx.SelectContext(ctx, tx, &rows, qLog); err != nil {
		return nil, err
	}
	var out []Violation
	for _, r := range rows {
		subject := "indsats " + r.ID
		if r.N != r.Version || r.First != 1 || r.Last != r.Version {
			out = append(out, Violation{Rule: RuleEventLog, Subject: subject,
				Detail: fmt.Sprintf("læsemodellen er i version %d, men hændelsesloggen har %d hændelser med nr. %d-%d "+
					"(event seqs are not 1..version)", r.Version, r.N, r.First, r.Last)})
		}
		if r.LastPhase != r.Phase {
			out = append(out, Violation{Rule: RuleEventLog, Subject: subject,
				Detail: fmt.Sprintf("læsemodellen er i fasen %q, men den sidste hændelse endte i %q "+
					"(last event's phase differs from the read model)", r.Phase, r.LastPhase)})
		}
	}

	// Each event starts where the one before it ended; a gap is reported above, so only neighbours are compared.
	const qChain = `
		SELECT initiative_id, seq, phase_before, prev_phase
		FROM (
			SELECT initiative_id, seq, phase_before,
			       lag(phase_after) OVER w AS prev_phase, lag(seq) OVER w AS prev_seq
			FROM initiative_events
			WINDOW w AS (PARTITION BY initiative_id ORDER BY seq)
		) x
		WHERE prev_seq = seq - 1 AND phase_before <> prev_phase`
	var chain []struct {
		InitiativeID string `db:"initiative_id"`
		Seq          int64  `db:"seq"`
		PhaseBefore  string `db:"phase_before"`
		PrevPhase    string `db:"prev_phase"`
	}
	if err := sqlx.SelectContext(ctx, tx, &chain, qChain); err != nil {
		return nil, err
	}
	for _, c := range chain {
		out = append(out, Violation{Rule: RuleEventLog, Subject: "indsats " + c.InitiativeID,
			Detail: fmt.Sprintf("hændelse %d starter i fasen %q, men hændelse %d endte i %q (events do not chain)",
				c.Seq, c.PhaseBefore, c.Seq-1, c.PrevPhase)})
	}

	const qOrphans = `
		SELECT DISTINCT e.initiative_id
		FROM initiative_events e
		WHERE NOT EXISTS (SELECT 1 FROM initiatives i WHERE i.id = e.initiative_id)`
	var orphans []string
	if err := sqlx.SelectContext(ctx, tx, &orphans, qOrphans); err != nil {
		return nil, err
	}
	for _, id := range orphans {
		out = append(out, Violation{Rule: RuleEventLog, Subject: "indsats " + id,
			Detail: "hændelsesloggen har hændelser for en indsats, der ikke findes i læsemodellen (events without an initiative)"})
	}
	return out, nil
}

// kroner formats an amount in øre given as a decimal integer of any size ("1370900001") the Danish way
// ("13.709.000,01 kr."). Sums may exceed int64, so this works on text; anything else is shown as it came.
func kroner(ore string) string {
	n, ok := new(big.Int).SetString(ore, 10)
	if !ok {
		return ore + " øre"
	}
	var b strings.Builder
	if n.Sign() < 0 {
		b.WriteByte('-')
		n.Neg(n)
	}
	kr, rest := new(big.Int).QuoRem(n, big.NewInt(100), new(big.Int))
	digits := kr.String()
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteRune(d)
	}
	fmt.Fprintf(&b, ",%02d kr.", rest.Int64())
	return b.String()
}

func nullInt(n sql.NullInt64) string {
	if !n.Valid {
		return "ingen"
	}
	return fmt.Sprint(n.Int64)
}

// pqStrings passes a string list as a PostgreSQL text[] parameter.
func pqStrings(s []string) any { return pq.StringArray(s) }

// verifyCompleted checks that each closed-out completed initiative is settled (RuleCompletedSettled).
func verifyCompleted(ctx context.Context, tx *sqlx.Tx) ([]Violation, error) {
	num := func(e, f string) string {
		return "CASE jsonb_typeof(" + e + "->'" + f + "') WHEN 'number' THEN (" + e + "->>'" + f + "')::numeric ELSE -1 END"
	}
	q := `
		WITH snap AS (
			SELECT i.id AS initiative_id, COALESCE(c->>'source_id', '') AS source_id,
			       ` + num("c", "paid_ore") + ` AS paid, ` + num("c", "spent_ore") + ` AS spent,
			       ` + num("c", "return_ore") + ` AS ret, ` + num("c", "unreserved_ore") + ` AS unreserved
			FROM initiatives i
			CROSS JOIN LATERAL jsonb_array_elements(` + jsonArray("i.snapshot->'closeout'->'lines'") + `) c
			WHERE i.phase = 'completed' AND jsonb_typeof(i.snapshot->'closeout') = 'object'
		), led AS (
			SELECT e.initiative_id, e.source_id,
			       COALESCE(sum(e.amount_ore) FILTER (WHERE e.kind = 'pay'), 0) AS paid,
			       COALESCE(sum(e.amount_ore) FILTER (WHERE e.kind = 'release'), 0)
			       - COALESCE(sum(e.amount_ore) FILTER (WHERE e.kind = 'withdraw'), 0)
			       - COALESCE(sum(e.amount_ore) FILTER (WHERE e.kind = 'pay'), 0) AS unpaid,
			       COALESCE(sum(e.amount_ore) FILTER (WHERE e.kind = 'refund'), 0) AS refunded
			FROM ledger_entries e
			WHERE e.initiative_id IN (SELECT initiative_id FROM snap)
			   OR e.initiative_id IN (SELECT initiative_id FROM closeout_lines)
			GROUP BY 1, 2
		), closed AS (
			SELECT initiative_id FROM snap
			UNION
			SELECT initiative_id FROM closeout_lines
		), keys AS (
			SELECT initiative_id, source_id FROM snap
			UNION SELECT initiative_id, source_id FROM closeout_lines
			UNION SELECT initiative_id, source_id FROM led
			UNION SELECT initiative_id, source_id FROM initiative_returns
		)
		SELECT k.initiative_id, k.source_id,
		       COALESCE(s.paid, -1)::text AS snap_paid, COALESCE(s.spent, -1)::text AS snap_spent,
		       COALESCE(s.ret, -1)::text AS snap_return, COALESCE(s.unreserved, -1)::text AS snap_unreserved,
		       COALESCE(cl.paid_ore, -1)::text AS line_paid, COALESCE(cl.spent_ore, -1)::text AS line_spent,
		       COALESCE(cl.return_ore, -1)::text AS line_return, COALESCE(cl.unreserved_ore, -1)::text AS line_unreserved,
		       COALESCE(l.paid, 0)::text AS ledger_paid, COALESCE(l.unpaid, 0)::text AS ledger_unpaid,
		       COALESCE(l.refunded, 0)::text AS refunded,
		       COALESCE(r.amount_ore, 0)::text AS receivable,
		       (CASE WHEN r.status = 'received' THEN r.amount_ore ELSE 0 END)::text AS received,
		       (s.initiative_id IS NOT NULL) AS in_snapshot,
		       COALESCE(i.phase, '') AS phase
		FROM keys k
		JOIN closed USING (initiative_id)
		LEFT JOIN initiatives i ON i.id = k.initiative_id
		LEFT JOIN snap s ON s.initiative_id = k.initiative_id AND s.source_id = k.source_id
		LEFT JOIN closeout_lines cl ON cl.initiative_id = k.initiative_id AND cl.source_id = k.source_id
		LEFT JOIN led l ON l.initiative_id = k.initiative_id AND l.source_id = k.source_id
		LEFT JOIN initiative_returns r ON r.initiative_id = k.initiative_id AND r.source_id = k.source_id
		WHERE (COALESCE(i.phase, '') <> 'cancelled'
		       AND (s.paid IS DISTINCT FROM cl.paid_ore OR s.spent IS DISTINCT FROM cl.spent_ore
		            OR s.ret IS DISTINCT FROM cl.return_ore OR s.unreserved IS DISTINCT FROM cl.unreserved_ore))
		   OR COALESCE(i.phase, '') NOT IN ('completed', 'cancelled')
		   OR (i.phase = 'cancelled' AND COALESCE(cl.unreserved_ore, 0) <> 0)
		   OR COALESCE(l.paid, 0) <> COALESCE(cl.paid_ore, 0) OR COALESCE(l.unpaid, 0) <> 0
		   OR COALESCE(r.amount_ore, 0) <> COALESCE(cl.return_ore, 0)
		   OR COALESCE(l.refunded, 0) <> (CASE WHEN r.status = 'received' THEN r.amount_ore ELSE 0 END)
		ORDER BY 1, 2`
	var rows []struct {
		InitiativeID   string `db:"initiative_id"`
		SourceID       string `db:"source_id"`
		SnapPaid       string `db:"snap_paid"`
		SnapSpent      string `db:"snap_spent"`
		SnapReturn     string `db:"snap_return"`
		SnapUnreserved string `db:"snap_unreserved"`
		LinePaid       string `db:"line_paid"`
		LineSpent      string `db:"line_spent"`
		LineReturn     string `db:"line_return"`
		LineUnreserved string `db:"line_unreserved"`
		LedgerPaid     string `db:"ledger_paid"`
		LedgerUnpaid   string `db:"ledger_unpaid"`
		Refunded       string `db:"refunded"`
		Receivable     string `db:"receivable"`
		Received       string `db:"received"`
		InSnapshot     bool   `db:"in_snapshot"`
		Phase          string `db:"phase"`
	}
	if err := sqlx.SelectContext(ctx, tx, &rows, q); err != nil {
		return nil, err
	}
	out := make([]Violation, 0, len(rows))
	for _, r := range rows {
		var why []string
		switch r.Phase {
		case string(domain.PhaseCompleted), string(domain.PhaseCancelled):
		default:
			why = append(why, fmt.Sprintf("indsatsen er gjort op, men er i fasen %q (settled but neither completed nor cancelled)", r.Phase))
		}
		if r.Phase == string(domain.PhaseCancelled) && nonNegative(r.LineUnreserved) != "0" {
			why = append(why, fmt.Sprintf("en annulleret indsats' afregning giver %s tilbage, men det skete ved annulleringen "+
				"(a cancelled initiative's settlement gives nothing back)", kroner(r.LineUnreserved)))
		}
		if r.Phase != string(domain.PhaseCancelled) && (r.SnapPaid != r.LinePaid || r.SnapSpent != r.LineSpent ||
			r.SnapReturn != r.LineReturn || r.SnapUnreserved != r.LineUnreserved) {
			why = append(why, fmt.Sprintf("afslutningen i læsemodellen (udbetalt %s, forbrug %s, tilbagebetaling %s, "+
				"givet tilbage %s) og i regnskabet (%s, %s, %s, %s) er forskellige (close-out lines differ; -1 = missing)",
				r.SnapPaid, r.SnapSpent, r.SnapReturn, r.SnapUnreserved, r.LinePaid, r.LineSpent, r.LineReturn,
				r.LineUnreserved))
		}
		if r.LedgerPaid != nonNegative(r.LinePaid) {
			why = append(why, fmt.Sprintf("udbetalt ifølge posteringerne %s, ifølge afslutningen %s (paid differs)",
				kroner(r.LedgerPaid), kroner(nonNegative(r.LinePaid))))
		}
		if r.LedgerUnpaid != "0" {
			why = append(why, fmt.Sprintf("%s er frigivet og ikke udbetalt (released and unpaid after close-out)",
				kroner(r.LedgerUnpaid)))
		}
		if r.Receivable != nonNegative(r.LineReturn) {
			why = append(why, fmt.Sprintf("tilbagebetalingskravet er %s, men afslutningen siger %s (receivable differs)",
				kroner(r.Receivable), kroner(nonNegative(r.LineReturn))))
		}
		if r.Refunded != r.Received {
			why = append(why, fmt.Sprintf("der er bogført %s tilbagebetalt, men registreret %s modtaget (refund entries differ from returns received)",
				kroner(r.Refunded), kroner(r.Received)))
		}
		if len(why) == 0 {
			continue
		}
		out = append(out, Violation{Rule: RuleCompletedSettled,
			Subject: "indsats " + r.InitiativeID + ", kilde " + r.SourceID, Detail: strings.Join(why, "; ")})
	}
	return out, nil
}

// nonNegative maps the query's "missing" marker -1 to 0.
func nonNegative(s string) string {
	if s == "-1" {
		return "0"
	}
	return s
}
