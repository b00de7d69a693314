package store_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
)

// These tests write to the tables directly, the way a bug in Go or a hand-written statement would, and prove that
// the database itself refuses every write that breaks a money rule (migration 00005), while the application's
// own writes (the other store tests) still pass.

// maxØre is the bound on every stored amount: 10^15 øre.
const maxØre int64 = 1_000_000_000_000_000

const qInsertEntry = `
	INSERT INTO ledger_entries (plan_id, source_id, initiative_id, delaftale_id, milestone_no, kind, amount_ore,
	                            idempotency_key)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`

// ledgerRow is one ledger entry as a direct INSERT writes it.
type ledgerRow struct {
	plan, source, initiative, delaftale string
	milestone                           *int
	kind                                string
	amount                              int64
	key                                 string
}

func (r ledgerRow) args() []any {
	plan := r.plan
	if plan == "" {
		plan = planID
	}
	return []any{plan, r.source, r.initiative, r.delaftale, r.milestone, r.kind, r.amount, r.key}
}

func milestone(n int) *int { return &n }

// execer is a *sql.DB, *sql.Tx or *sql.Conn.
type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

// refusedBy asserts that err is the PostgreSQL error code with the named constraint, and returns it.
func refusedBy(t *testing.T, err error, code, constraint string) *pq.Error {
	t.Helper()
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) {
		t.Fatalf("error = %v, want PostgreSQL %s (%s)", err, code, constraint)
	}
	if string(pqErr.Code) != code || (constraint != "" && pqErr.Constraint != constraint) {
		t.Fatalf("error = %s %q (constraint %q), want %s (%s)", pqErr.Code, pqErr.Message, pqErr.Constraint, code,
			constraint)
	}
	return pqErr
}

// reservedInitiative submits and approves an initiative through the store: 1.000.000 kr. from LBF and
// 200.000 kr. from Viborg Kommune reserved, tranche 1 is 500.000 + 200.000 kr.
func reservedInitiative(t *testing.T, s *store.Store, id, delaftale string) *domain.Initiative {
	t.Helper()
	in := submit(t, s, id, proposal("Indsats "+id, delaftale, []string{"ringparken"}, kr(1_000_000), kr(200_000)))
	if err := s.Reserve(ctxT(t), approveInput(t, in)); err != nil {
		t.Fatalf("reserve %s: %v", id, err)
	}
	return in
}

// addPlan adds a second plan, "aarhus", with a source and a delaftale named like Viborg's, so a row that mixes
// the two plans passes every other foreign key and only the plan rule can refuse it.
func addPlan(t *testing.T, s *store.Store) {
	t.Helper()
	for _, q := range []string{
		`INSERT INTO plans (id, name, municipality, period_start, period_end, vision)
		 VALUES ('aarhus', 'Aarhus', 'Aarhus Kommune', '2021-01-01', '2025-12-31', 'Et godt sted at bo')`,
		`INSERT INTO funding_sources (plan_id, id, position, name, kind, local, committed_ore)
		 VALUES ('aarhus', 'lbf', 0, 'Landsbyggefonden', 'cash', false, 100000000000),
		        ('aarhus', 'boligselskaberne', 1, 'Boligselskaberne', 'cash', true, 100000000000)`,
		`INSERT INTO delaftaler (plan_id, id, position, name)
		 VALUES ('aarhus', 'beskaeftigelse', 0, 'Beskæftigelse'), ('aarhus', 'uddannelse-og-livschancer', 1, 'Uddannelse')`,
		`INSERT INTO initiatives (id, plan_id, title, phase, delaftale_id, proposer_id, budget_ore, version, snapshot,
		                          created_at, updated_at)
		 VALUES ('aarhus-1', 'aarhus', 'Aarhus-indsats', 'board_review', 'beskaeftigelse', 'og-mette', 0, 1, '{}',
		         now(), now())`,
		`INSERT INTO initiative_events (initiative_id, seq, type, actor_id, actor_name, actor_role, at, phase_before,
		                                phase_after)
		 VALUES ('aarhus-1', 1, 'submitted', 'og-mette', 'Mette Kjær', 'operational_group', now(), '', 'board_review')`,
	} {
		if _, err := s.DB().ExecContext(ctxT(t), q); err != nil {
			t.Fatalf("add plan aarhus: %v", err)
		}
	}
}

func TestMoneyRulesInDatabase(t *testing.T) {
	t.Parallel()

	t.Run("negative_reservation_refused", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		submit(t, s, "neg", proposal("Neg", "beskaeftigelse", []string{"vestervang"}, kr(100), 0))
		_, err := s.DB().ExecContext(ctxT(t), qInsertEntry, ledgerRow{source: "lbf", initiative: "neg",
			delaftale: "beskaeftigelse", kind: "reserve", amount: -int64(kr(4_990_000)), key: "reserve/neg/lbf"}.args()...)
		refusedBy(t, err, "23514", "ledger_entries_amount_ore_check")
		if n := count(t, s, `SELECT count(*) FROM ledger_entries`); n != 0 {
			t.Errorf("%d ledger entries after a refused insert", n)
		}
	})

	t.Run("over_committed_reservation_refused", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		ctx := ctxT(t)
		submit(t, s, "all", proposal("Alt", "beskaeftigelse", []string{"vestervang"}, lbfTotal, 0))
		submit(t, s, "more", proposal("Mere", "beskaeftigelse", []string{"vestervang"}, kr(1), 0))
		// Exactly what LBF committed is allowed...
		if _, err := s.DB().ExecContext(ctx, qInsertEntry, ledgerRow{source: "lbf", initiative: "all",
			delaftale: "beskaeftigelse", kind: "reserve", amount: int64(lbfTotal), key: "reserve/all/lbf"}.args()...); err != nil {
			t.Fatalf("reserving exactly the commitment: %v", err)
		}
		// ...one øre more, by another initiative, is not.
		_, err := s.DB().ExecContext(ctx, qInsertEntry, ledgerRow{source: "lbf", initiative: "more",
			delaftale: "beskaeftigelse", kind: "reserve", amount: 1, key: "reserve/more/lbf"}.args()...)
		pqErr := refusedBy(t, err, "23514", "ledger_reserved_within_committed")
		for _, want := range []string{"lbf", planID, "13.709.000,01 kr.", "13.709.000,00 kr."} {
			if !strings.Contains(pqErr.Message, want) {
				t.Errorf("message %q does not mention %q", pqErr.Message, want)
			}
		}
		// An unreservation makes room again: the rule is about reserved minus unreserved.
		for _, q := range []struct {
			row  ledgerRow
			what string
		}{
			{ledgerRow{source: "lbf", initiative: "all", delaftale: "beskaeftigelse", kind: "unreserve", amount: 1,
				key: "unreserve/all/test/lbf"}, "unreserve one øre"},
			{ledgerRow{source: "lbf", initiative: "more", delaftale: "beskaeftigelse", kind: "reserve", amount: 1,
				key: "reserve/more/lbf"}, "reserve it again"},
		} {
			if _, err := s.DB().ExecContext(ctx, qInsertEntry, q.row.args()...); err != nil {
				t.Fatalf("%s: %v", q.what, err)
			}
		}
	})

	t.Run("lowering_commitment_below_reservations_refused", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		ctx := ctxT(t)
		reservedInitiative(t, s, "a", "beskaeftigelse")
		_, err := s.DB().ExecContext(ctx,
			`UPDATE funding_sources SET committed_ore = $1 WHERE plan_id = $2 AND id = 'lbf'`, int64(kr(999_999)), planID)
		refusedBy(t, err, "23514", "ledger_reserved_within_committed")
		if _, err := s.DB().ExecContext(ctx,
			`UPDATE funding_sources SET committed_ore = $1 WHERE plan_id = $2 AND id = 'lbf'`, int64(kr(1_000_000)), planID); err != nil {
			t.Fatalf("lowering the commitment to exactly what is reserved: %v", err)
		}
	})

	t.Run("release_more_than_reserved_refused", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		reservedInitiative(t, s, "a", "beskaeftigelse")
		_, err := s.DB().ExecContext(ctxT(t), qInsertEntry, ledgerRow{source: "lbf", initiative: "a",
			delaftale: "beskaeftigelse", milestone: milestone(1), kind: "release", amount: int64(kr(1_000_000)) + 1,
			key: "release/a-t1/lbf"}.args()...)
		pqErr := refusedBy(t, err, "23514", "ledger_released_within_reserved")
		if !strings.Contains(pqErr.Message, "Indsats a") || !strings.Contains(pqErr.Message, "1.000.000,01 kr.") {
			t.Errorf("message %q does not name the initiative and the figures", pqErr.Message)
		}
		// A source the initiative reserved nothing from cannot be released at all.
		_, err = s.DB().ExecContext(ctxT(t), qInsertEntry, ledgerRow{source: "boligselskaberne", initiative: "a",
			delaftale: "beskaeftigelse", milestone: milestone(1), kind: "release", amount: 1,
			key: "release/a-t1/boligselskaberne"}.args()...)
		refusedBy(t, err, "23514", "ledger_released_within_reserved")
	})

	t.Run("unreserve_of_released_money_refused", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		in := reservedInitiative(t, s, "a", "beskaeftigelse")
		if err := s.Release(ctxT(t), releaseInput(t, in, 1)); err != nil { // 500.000 of LBF's 1.000.000 released
			t.Fatal(err)
		}
		_, err := s.DB().ExecContext(ctxT(t), qInsertEntry, ledgerRow{source: "lbf", initiative: "a",
			delaftale: "beskaeftigelse", kind: "unreserve", amount: int64(kr(500_000)) + 1,
			key: "unreserve/a/cancelled/lbf"}.args()...)
		refusedBy(t, err, "23514", "ledger_released_within_reserved")
	})

	t.Run("pay_more_than_released_refused", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		in := reservedInitiative(t, s, "a", "beskaeftigelse")
		if err := s.Release(ctxT(t), releaseInput(t, in, 1)); err != nil {
			t.Fatal(err)
		}
		_, err := s.DB().ExecContext(ctxT(t), qInsertEntry, ledgerRow{source: "lbf", initiative: "a",
			delaftale: "beskaeftigelse", milestone: milestone(1), kind: "pay", amount: int64(kr(500_000)) + 1,
			key: "pay/a-t1/lbf"}.args()...)
		pqErr := refusedBy(t, err, "23514", "ledger_paid_within_released")
		if !strings.Contains(pqErr.Message, "500.000,01 kr.") || !strings.Contains(pqErr.Message, "500.000,00 kr.") {
			t.Errorf("message %q does not give the figures", pqErr.Message)
		}
		// Paying from a source nothing was released from is refused too.
		_, err = s.DB().ExecContext(ctxT(t), qInsertEntry, ledgerRow{source: "boligselskaberne", initiative: "a",
			delaftale: "beskaeftigelse", milestone: milestone(1), kind: "pay", amount: 1,
			key: "pay/a-t1/boligselskaberne"}.args()...)
		refusedBy(t, err, "23514", "ledger_paid_within_released")
	})

	t.Run("amount_above_bound_refused", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		ctx := ctxT(t)
		in := reservedInitiative(t, s, "a", "beskaeftigelse")
		if err := s.Release(ctx, releaseInput(t, in, 1)); err != nil {
			t.Fatal(err)
		}
		submit(t, s, "big", proposal("Stor", "beskaeftigelse", []string{"vestervang"}, kr(1), 0))
		tests := []struct {
			name       string
			stmt       string
			args       []any
			constraint string
		}{
			{"ledger_entry", qInsertEntry, ledgerRow{source: "lbf", initiative: "big", delaftale: "beskaeftigelse",
				kind: "reserve", amount: maxØre + 1, key: "reserve/big/lbf"}.args(), "ledger_entries_amount_ore_max"},
			{"disbursement_total",
				`INSERT INTO disbursements (id, plan_id, initiative_id, delaftale_id, milestone_no, milestone_title,
				                            total_ore, released_at)
				 VALUES ('a-t2', $1, 'a', 'beskaeftigelse', 2, 'Afslutning', $2, now())`,
				[]any{planID, maxØre + 1}, "disbursements_total_ore_max"},
			{"disbursement_line",
				`INSERT INTO disbursement_lines (disbursement_id, plan_id, source_id, amount_ore)
				 VALUES ('a-t1', $1, 'boligselskaberne', $2)`, []any{planID, maxØre + 1},
				"disbursement_lines_amount_ore_max"},
			{"committed", `UPDATE funding_sources SET committed_ore = $2 WHERE plan_id = $1 AND id = 'lbf'`,
				[]any{planID, maxØre + 1}, "funding_sources_committed_ore_max"},
			{"delaftale_frame",
				`UPDATE delaftaler SET budget_frame_ore = $2 WHERE plan_id = $1 AND id = 'beskaeftigelse'`,
				[]any{planID, maxØre + 1}, "delaftaler_budget_frame_ore_max"},
			{"initiative_budget", `UPDATE initiatives SET budget_ore = $1 WHERE id = 'big'`, []any{maxØre + 1},
				"initiatives_budget_ore_max"},
			{"initiative_budget_negative", `UPDATE initiatives SET budget_ore = $1 WHERE id = 'big'`, []any{-1},
				"initiatives_budget_ore_check"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.DB().ExecContext(ctx, tc.stmt, tc.args...)
				refusedBy(t, err, "23514", tc.constraint)
			})
		}
		// The bound itself is allowed.
		if _, err := s.DB().ExecContext(ctx, `UPDATE funding_sources SET committed_ore = $2 WHERE plan_id = $1 AND id = 'lbf'`,
			planID, maxØre); err != nil {
			t.Errorf("committed = 10^15 øre: %v", err)
		}
	})

	t.Run("disbursement_lines_not_adding_up_fail_at_commit", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		ctx := ctxT(t)
		reservedInitiative(t, s, "a", "beskaeftigelse")
		const qDisbursement = `
			INSERT INTO disbursements (id, plan_id, initiative_id, delaftale_id, milestone_no, milestone_title,
			                           total_ore, released_at)
			VALUES ($1, $2, 'a', 'beskaeftigelse', $3, 'Opstart', $4, now())`
		const qLine = `
			INSERT INTO disbursement_lines (disbursement_id, plan_id, source_id, amount_ore) VALUES ($1, $2, $3, $4)`
		tests := []struct {
			name  string
			total int64
			lines map[string]int64
		}{
			{"lines_short_of_total", int64(kr(700_000)), map[string]int64{"lbf": int64(kr(500_000)),
				"viborg-kommune": int64(kr(200_000)) - 1}},
			{"lines_over_total", int64(kr(700_000)), map[string]int64{"lbf": int64(kr(700_000)), "viborg-kommune": 1}},
			{"no_lines", int64(kr(700_000)), nil},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				tx, err := s.DB().BeginTx(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer func() { _ = tx.Rollback() }()
				// Each statement is accepted: the rule is checked when the whole disbursement is there.
				if _, err := tx.ExecContext(ctx, qDisbursement, "a-t1", planID, 1, tc.total); err != nil {
					t.Fatalf("insert disbursement: %v", err)
				}
				for src, amt := range tc.lines {
					if _, err := tx.ExecContext(ctx, qLine, "a-t1", planID, src, amt); err != nil {
						t.Fatalf("insert line %s: %v", src, err)
					}
				}
				refusedBy(t, tx.Commit(), "23514", "disbursement_total_matches_lines")
				if n := count(t, s, `SELECT count(*) FROM disbursements`); n != 0 {
					t.Errorf("%d disbursements after a refused commit", n)
				}
			})
		}
		t.Run("line_added_to_a_committed_disbursement_refused", func(t *testing.T) {
			in, err := s.GetInitiative(ctx, "a")
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Release(ctx, releaseInput(t, &in, 1)); err != nil { // the application's write passes
				t.Fatalf("Release: %v", err)
			}
			_, err = s.DB().ExecContext(ctx, qLine, "a-t1", planID, "boligselskaberne", 1)
			refusedBy(t, err, "23514", "disbursement_total_matches_lines")
			_, err = s.DB().ExecContext(ctx, `UPDATE disbursements SET total_ore = total_ore + 1 WHERE id = 'a-t1'`)
			refusedBy(t, err, "23514", "disbursement_total_matches_lines")
		})
	})

	t.Run("rows_pointing_at_another_plan_refused", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		ctx := ctxT(t)
		in := reservedInitiative(t, s, "a", "beskaeftigelse")
		if err := s.Release(ctx, releaseInput(t, in, 1)); err != nil {
			t.Fatal(err)
		}
		addPlan(t, s)
		tests := []struct {
			name       string
			stmt       string
			args       []any
			constraint string
		}{
			{"ledger_entry_of_viborg_for_aarhus_initiative", qInsertEntry, ledgerRow{source: "lbf",
				initiative: "aarhus-1", delaftale: "beskaeftigelse", kind: "reserve", amount: 1,
				key: "reserve/aarhus-1/lbf"}.args(), "ledger_entries_initiative_plan_fkey"},
			{"ledger_entry_of_aarhus_for_viborg_initiative", qInsertEntry, ledgerRow{plan: "aarhus", source: "lbf",
				initiative: "a", delaftale: "beskaeftigelse", milestone: milestone(1), kind: "release", amount: 1,
				key: "release/a-t1/lbf-aarhus"}.args(), "ledger_entries_initiative_plan_fkey"},
			{"disbursement_of_aarhus_for_viborg_initiative",
				`INSERT INTO disbursements (id, plan_id, initiative_id, delaftale_id, milestone_no, milestone_title,
				                            total_ore, released_at)
				 VALUES ('a-t2', 'aarhus', 'a', 'beskaeftigelse', 2, 'Afslutning', 1, now())`, nil,
				"disbursements_initiative_plan_fkey"},
			{"line_of_aarhus_for_viborg_disbursement",
				`INSERT INTO disbursement_lines (disbursement_id, plan_id, source_id, amount_ore)
				 VALUES ('a-t1', 'aarhus', 'boligselskaberne', 1)`, nil, "disbursement_lines_disbursement_plan_fkey"},
			{"initiative_moved_to_another_plan",
				`UPDATE initiatives SET plan_id = 'aarhus' WHERE id = 'a'`, nil, "ledger_entries_initiative_plan_fkey"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.DB().ExecContext(ctx, tc.stmt, tc.args...)
				refusedBy(t, err, "23503", tc.constraint)
			})
		}
	})

	t.Run("disbursement_lines_append_only", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		ctx := ctxT(t)
		in := reservedInitiative(t, s, "a", "beskaeftigelse")
		if err := s.Release(ctx, releaseInput(t, in, 1)); err != nil {
			t.Fatal(err)
		}
		for _, stmt := range []string{
			`UPDATE disbursement_lines SET amount_ore = amount_ore + 1`,
			`UPDATE disbursement_lines SET source_id = 'boligselskaberne' WHERE source_id = 'lbf'`,
			`DELETE FROM disbursement_lines`,
			`TRUNCATE disbursement_lines`,
			`TRUNCATE disbursements CASCADE`,
		} {
			_, err := s.DB().ExecContext(ctx, stmt)
			if err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: error = %v, want the append-only refusal", stmt, err)
			}
		}
		var lines []int64
		if err := s.DB().SelectContext(ctx, &lines, `SELECT amount_ore FROM disbursement_lines ORDER BY source_id`); err != nil {
			t.Fatal(err)
		}
		if len(lines) != 2 || lines[0] != int64(kr(500_000)) || lines[1] != int64(kr(200_000)) {
			t.Errorf("lines after refused changes = %v, want [50000000 20000000]", lines)
		}
	})

	t.Run("ledger_write_under_repeatable_read_refused", func(t *testing.T) {
		t.Parallel()
		// Its sums would read an old snapshot, blind to a writer it waited for.
		s := dbtest.New(t)
		ctx := ctxT(t)
		reservedInitiative(t, s, "a", "beskaeftigelse")
		tx, err := s.DB().BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback() }()
		_, err = tx.ExecContext(ctx, qInsertEntry, ledgerRow{source: "lbf", initiative: "a", delaftale: "beskaeftigelse",
			kind: "unreserve", amount: 1, key: "unreserve/a/rr/lbf"}.args()...)
		refusedBy(t, err, "25000", "")
	})
}

// TestMoneyRulesUnderConcurrency proves that the triggers lock what they sum: two transactions that each keep a
// rule but together break it cannot both commit. The second waits for the first, then sees its row and is refused.
func TestMoneyRulesUnderConcurrency(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name       string
		setup      func(t *testing.T, s *store.Store)
		first      ledgerRow
		second     ledgerRow
		constraint string
	}{
		{
			// 8.000.000 kr. each of LBF's 13.709.000 kr., for two initiatives: the source row is the lock.
			name: "two_reservations_over_a_source",
			setup: func(t *testing.T, s *store.Store) {
				submit(t, s, "a", proposal("A", "beskaeftigelse", []string{"vestervang"}, kr(8_000_000), 0))
				submit(t, s, "b", proposal("B", "beskaeftigelse", []string{"ringparken"}, kr(8_000_000), 0))
			},
			first: ledgerRow{source: "lbf", initiative: "a", delaftale: "beskaeftigelse", kind: "reserve",
				amount: int64(kr(8_000_000)), key: "reserve/a/lbf"},
			second: ledgerRow{source: "lbf", initiative: "b", delaftale: "beskaeftigelse", kind: "reserve",
				amount: int64(kr(8_000_000)), key: "reserve/b/lbf"},
			constraint: "ledger_reserved_within_committed",
		},
		{
			// 600.000 kr. released and 600.000 kr. given back, of 1.000.000 kr. reserved: the initiative row is
			// the lock.
			name:  "release_and_unreserve_over_a_reservation",
			setup: func(t *testing.T, s *store.Store) { reservedInitiative(t, s, "a", "beskaeftigelse") },
			first: ledgerRow{source: "lbf", initiative: "a", delaftale: "beskaeftigelse", milestone: milestone(1),
				kind: "release", amount: int64(kr(600_000)), key: "release/a-t1/lbf"},
			second: ledgerRow{source: "lbf", initiative: "a", delaftale: "beskaeftigelse", kind: "unreserve",
				amount: int64(kr(600_000)), key: "unreserve/a/cancelled/lbf"},
			constraint: "ledger_released_within_reserved",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name+"_second_waits_and_is_refused", func(t *testing.T) {
			t.Parallel()
			s := dbtest.New(t)
			ctx := ctxT(t)
			tc.setup(t, s)

			tx1, err := s.DB().BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx1.Rollback() }()
			if _, err := tx1.ExecContext(ctx, qInsertEntry, tc.first.args()...); err != nil {
				t.Fatalf("first insert: %v", err)
			}
			tx2, err := s.DB().BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx2.Rollback() }()
			var pid int
			if err := tx2.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
				t.Fatal(err)
			}
			second := make(chan error, 1)
			go func() {
				_, err := tx2.ExecContext(ctx, qInsertEntry, tc.second.args()...)
				second <- err
			}()
			// The second insert must be waiting on a lock, not done: otherwise it decided without seeing the first.
			waitForLockWait(t, s, pid, second)
			if err := tx1.Commit(); err != nil {
				t.Fatalf("first commit: %v", err)
			}
			select {
			case err := <-second:
				refusedBy(t, err, "23514", tc.constraint)
			case <-ctx.Done():
				t.Fatal("the second insert never finished")
			}
			_ = tx2.Rollback()
			if n := count(t, s, `SELECT count(*) FROM ledger_entries WHERE idempotency_key = $1`, tc.first.key); n != 1 {
				t.Errorf("first entry committed %d times, want 1", n)
			}
			if n := count(t, s, `SELECT count(*) FROM ledger_entries WHERE idempotency_key = $1`, tc.second.key); n != 0 {
				t.Errorf("second entry committed %d times, want 0", n)
			}
		})

		t.Run(tc.name+"_racing_exactly_one_commits", func(t *testing.T) {
			t.Parallel()
			s := dbtest.New(t)
			ctx := ctxT(t)
			tc.setup(t, s)
			insert := func(r ledgerRow) func() error {
				return func() error {
					tx, err := s.DB().BeginTx(ctx, nil)
					if err != nil {
						return err
					}
					defer func() { _ = tx.Rollback() }()
					if _, err := tx.ExecContext(ctx, qInsertEntry, r.args()...); err != nil {
						return err
					}
					time.Sleep(20 * time.Millisecond) // hold the transaction open so the two overlap
					return tx.Commit()
				}
			}
			errs := parallel(insert(tc.first), insert(tc.second))
			ok := 0
			for _, err := range errs {
				if err == nil {
					ok++
					continue
				}
				refusedBy(t, err, "23514", tc.constraint) // never a deadlock or another fault
			}
			if ok != 1 {
				t.Fatalf("%d of 2 committed (%v), want exactly 1", ok, errs)
			}
			if v, err := s.VerifyLedger(ctx); err != nil {
				t.Fatal(err)
			} else {
				for _, x := range v {
					if x.Rule == store.RuleReservedWithinCommitted || x.Rule == store.RuleReleasedWithinReserved {
						t.Errorf("after the race: %v", x)
					}
				}
			}
		})
	}
}

// waitForLockWait waits until backend pid is blocked on a lock. It fails the test if the statement running there
// finishes first (done receives its result) or nothing happens for ten seconds.
func waitForLockWait(t *testing.T, s *store.Store, pid int, done <-chan error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("the second insert finished without waiting for the first: %v", err)
		default:
		}
		var waiting bool
		if err := s.DB().GetContext(ctxT(t), &waiting,
			`SELECT COALESCE(bool_or(wait_event_type = 'Lock'), false) FROM pg_stat_activity WHERE pid = $1`, pid); err != nil {
			t.Fatal(err)
		}
		if waiting {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the second insert never waited for a lock")
}

// execAll runs statements on db in order and fails the test on the first error.
func execAll(t *testing.T, db execer, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := db.ExecContext(ctxT(t), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}
