package store_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
)

// ruleAt is a violation without its detail text: what the tests pin down exactly.
type ruleAt struct{ Rule, Subject string }

func rulesOf(vs []store.Violation) []ruleAt {
	out := []ruleAt{}
	for _, v := range vs {
		out = append(out, ruleAt{v.Rule, v.Subject})
	}
	return out
}

// bypassRules runs statements with every trigger switched off (session_replication_role = replica, which is what
// a restore or a careless superuser does): the foreign keys, the balance checks and the append-only guards all
// stay silent, and only CHECK constraints still hold. It is how these tests break data the database now refuses.
func bypassRules(t *testing.T, s *store.Store, stmts ...string) {
	t.Helper()
	ctx := ctxT(t)
	tx, err := s.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	execAll(t, tx, append([]string{`SET LOCAL session_replication_role = replica`}, stmts...)...)
	if err := tx.Commit(); err != nil {
		t.Fatalf("commit with triggers off: %v", err)
	}
}

func verifyClean(t *testing.T, s *store.Store) {
	t.Helper()
	vs, err := s.VerifyLedger(ctxT(t))
	if err != nil {
		t.Fatalf("VerifyLedger: %v", err)
	}
	if vs == nil || len(vs) != 0 {
		t.Fatalf("VerifyLedger = %#v, want an empty slice", vs)
	}
}

// paidTranche builds, through the store, initiative "a" (delaftale uddannelse-og-livschancer): approved with
// 1.000.000 kr. from LBF and 200.000 kr. from Viborg Kommune, tranche 1 (500.000 + 200.000 kr.) released as
// disbursement a-t1 and paid. Its events are 1 submitted, 2 approved, 3 tranche_released, 4 payment_confirmed.
func paidTranche(t *testing.T) *store.Store {
	t.Helper()
	s := dbtest.New(t)
	ctx := ctxT(t)
	in := reservedInitiative(t, s, "a", "uddannelse-og-livschancer")
	if err := s.Release(ctx, releaseInput(t, in, 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.ConfirmPayment(ctx, payInput(t, in, 1, "REF-A1")); err != nil {
		t.Fatal(err)
	}
	verifyClean(t, s)
	return s
}

func TestVerifyLedger(t *testing.T) {
	t.Parallel()

	t.Run("whole_lifecycles_clean", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		ctx := ctxT(t)
		verifyClean(t, s) // an empty plan

		// a: every step to completed, both tranches paid.
		a := reservedInitiative(t, s, "a", "uddannelse-og-livschancer")
		for no := 1; no <= 2; no++ {
			if err := s.Release(ctx, releaseInput(t, a, no)); err != nil {
				t.Fatal(err)
			}
			if err := s.ConfirmPayment(ctx, payInput(t, a, no, "REF-A"+string(rune('0'+no)))); err != nil {
				t.Fatal(err)
			}
		}
		for _, ph := range []domain.Phase{domain.PhaseEvaluation, domain.PhaseCompleted} {
			if err := s.RecordTransition(ctx, step(t, a, "to_"+string(ph), hanne, ph)); err != nil {
				t.Fatal(err)
			}
		}
		// b: tranche 1 released, waiting for finance.
		b := reservedInitiative(t, s, "b", "beskaeftigelse")
		if err := s.Release(ctx, releaseInput(t, b, 1)); err != nil {
			t.Fatal(err)
		}
		// c: waiting for the board; d: rejected. Nothing reserved.
		submit(t, s, "c", proposal("C", "beskaeftigelse", []string{"vestervang"}, kr(10_000), 0))
		d := submit(t, s, "d", proposal("D", "beskaeftigelse", []string{"vestervang"}, kr(10_000), 0))
		if err := s.RecordTransition(ctx, step(t, d, "rejected", hanne, domain.PhaseRejected)); err != nil {
			t.Fatal(err)
		}
		// e: approved, then the whole reservation given back and the initiative withdrawn.
		e := reservedInitiative(t, s, "e", "beskaeftigelse")
		if err := s.Unreserve(ctx, store.UnreserveInput{PlanID: planID, InitiativeID: "e",
			DelaftaleID: "beskaeftigelse", Reason: "cancelled", Lines: e.Proposal.Budget}); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordTransition(ctx, step(t, e, "withdrawn", mette, domain.PhaseWithdrawn)); err != nil {
			t.Fatal(err)
		}

		r, err := s.VerifyLedgerReport(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Violations) != 0 {
			t.Fatalf("violations on clean lifecycles:\n%v", r.Violations)
		}
		// a: reserve 2 + release 3 + pay 3 (milestone 2 takes nothing from the kommune); b: 2 + 2; e: 2 + 2.
		want := store.LedgerReport{Plans: 1, Initiatives: 5, Events: 8 + 3 + 1 + 2 + 3, Entries: 8 + 4 + 4,
			Disbursements: 3, DisbursementLines: 5, Violations: []store.Violation{}}
		if diff := cmp.Diff(want, r); diff != "" {
			t.Errorf("report (-want +got):\n%s", diff)
		}
	})

	tests := []struct {
		name    string
		corrupt func(t *testing.T, s *store.Store)
		want    []ruleAt
		detail  string // a figure or phrase the first violation's detail must hold
	}{
		{
			name: "commitment_above_bound",
			corrupt: func(t *testing.T, s *store.Store) {
				bypassRules(t, s, `ALTER TABLE funding_sources DROP CONSTRAINT funding_sources_committed_ore_max`,
					`UPDATE funding_sources SET committed_ore = 1000000000000001 WHERE id = 'boligselskaberne'`)
			},
			want:   []ruleAt{{store.RuleAmountBounds, "kilde boligselskaberne i plan viborg-2021-2025"}},
			detail: "10.000.000.000.000,01 kr.",
		},
		{
			name: "snapshot_amount_negative",
			corrupt: func(t *testing.T, s *store.Store) {
				execAll(t, s.DB(), `UPDATE initiatives SET snapshot = jsonb_set(snapshot, '{proposal,budget,0,amount_ore}', '-5')`)
			},
			want: []ruleAt{{store.RuleAmountBounds, "indsats a, budget, kilde lbf"},
				{store.RuleReservationBudget, "indsats a, kilde lbf"}},
			detail: "-0,05 kr.",
		},
		{
			name: "sums_beyond_int64",
			corrupt: func(t *testing.T, s *store.Store) {
				// 9.300 entries of 10^15 øre each: every amount in bounds, their sum not in int64.
				bypassRules(t, s, `
					INSERT INTO ledger_entries (plan_id, source_id, initiative_id, delaftale_id, kind, amount_ore,
					                            idempotency_key)
					SELECT 'viborg-2021-2025', 'boligselskaberne', 'a', 'uddannelse-og-livschancer', 'unreserve',
					       1000000000000000, 'unreserve/a/r' || g || '/boligselskaberne'
					FROM generate_series(1, 9300) g`)
			},
			want: []ruleAt{{store.RuleSumRange, "plan viborg-2021-2025, unreserve"},
				{store.RuleReleasedWithinReserved, "indsats a, kilde boligselskaberne"},
				{store.RuleReservationBudget, "indsats a, kilde boligselskaberne"}},
			detail: "93.000.000.000.000.000,00 kr.",
		},
		{
			name: "reserved_over_committed",
			corrupt: func(t *testing.T, s *store.Store) {
				bypassRules(t, s, `UPDATE funding_sources SET committed_ore = 99999999 WHERE id = 'lbf'`)
			},
			want:   []ruleAt{{store.RuleReservedWithinCommitted, "kilde lbf i plan viborg-2021-2025"}},
			detail: "999.999,99 kr.",
		},
		{
			name: "paid_over_released",
			corrupt: func(t *testing.T, s *store.Store) {
				bypassRules(t, s, `
					INSERT INTO ledger_entries (plan_id, source_id, initiative_id, delaftale_id, milestone_no, kind,
					                            amount_ore, idempotency_key)
					VALUES ('viborg-2021-2025', 'lbf', 'a', 'uddannelse-og-livschancer', 2, 'pay', 1, 'pay/a-t2/lbf')`)
			},
			want: []ruleAt{{store.RulePaidWithinReleased, "indsats a, kilde lbf"},
				{store.RulePayEntry, "postering pay/a-t2/lbf"},
				{store.RuleTranchePayments, "indsats a, milepæl 2, kilde lbf"}},
			detail: "500.000,01 kr.",
		},
		{
			name: "released_over_reserved",
			corrupt: func(t *testing.T, s *store.Store) {
				bypassRules(t, s, `
					INSERT INTO ledger_entries (plan_id, source_id, initiative_id, delaftale_id, milestone_no, kind,
					                            amount_ore, idempotency_key)
					VALUES ('viborg-2021-2025', 'lbf', 'a', 'uddannelse-og-livschancer', 2, 'release', 50000001,
					        'release/a-t2/lbf')`)
			},
			want: []ruleAt{{store.RuleReleasedWithinReserved, "indsats a, kilde lbf"},
				{store.RuleReleaseEntry, "postering release/a-t2/lbf"},
				{store.RuleTrancheReleases, "indsats a, milepæl 2, kilde lbf"}},
			detail: "1.000.000,01 kr.",
		},
		{
			name: "disbursement_total_differs_from_lines",
			corrupt: func(t *testing.T, s *store.Store) {
				bypassRules(t, s, `UPDATE disbursements SET total_ore = total_ore + 1 WHERE id = 'a-t1'`)
			},
			want:   []ruleAt{{store.RuleDisbursementTotal, "udbetaling a-t1"}},
			detail: "700.000,01 kr.",
		},
		{
			name: "release_entry_differs_from_line",
			corrupt: func(t *testing.T, s *store.Store) {
				bypassRules(t, s, `UPDATE ledger_entries SET delaftale_id = 'beskaeftigelse', milestone_no = 2
				                   WHERE idempotency_key = 'release/a-t1/lbf'`)
			},
			want: []ruleAt{{store.RuleReleaseEntry, "udbetaling a-t1, kilde lbf"},
				{store.RuleTrancheReleases, "indsats a, milepæl 1, kilde lbf"},
				{store.RuleTrancheReleases, "indsats a, milepæl 2, kilde lbf"}},
			detail: "delaftale beskaeftigelse, ikke uddannelse-og-livschancer; milepæl 2, ikke 1",
		},
		{
			name: "release_entry_missing",
			corrupt: func(t *testing.T, s *store.Store) {
				bypassRules(t, s, `DELETE FROM ledger_entries WHERE idempotency_key = 'release/a-t1/viborg-kommune'`)
			},
			want: []ruleAt{{store.RulePaidWithinReleased, "indsats a, kilde viborg-kommune"},
				{store.RuleReleaseEntry, "udbetaling a-t1, kilde viborg-kommune"},
				{store.RuleTrancheReleases, "indsats a, milepæl 1, kilde viborg-kommune"}},
		},
		{
			name: "pay_entry_missing",
			corrupt: func(t *testing.T, s *store.Store) {
				bypassRules(t, s, `DELETE FROM ledger_entries WHERE idempotency_key = 'pay/a-t1/viborg-kommune'`)
			},
			want: []ruleAt{{store.RulePayEntry, "udbetaling a-t1, kilde viborg-kommune"},
				{store.RuleTranchePayments, "indsats a, milepæl 1, kilde viborg-kommune"}},
			detail: "pay/a-t1/viborg-kommune mangler",
		},
		{
			name: "pay_entries_for_pending_disbursement",
			corrupt: func(t *testing.T, s *store.Store) {
				bypassRules(t, s, `UPDATE disbursements SET status = 'pending', reference = NULL, paid_at = NULL,
				                   paid_by = NULL WHERE id = 'a-t1'`)
			},
			want: []ruleAt{{store.RulePayEntry, "udbetaling a-t1, kilde lbf"},
				{store.RulePayEntry, "udbetaling a-t1, kilde viborg-kommune"}},
			detail: "udbetalingen er pending",
		},
		{
			name: "rows_in_another_plan",
			corrupt: func(t *testing.T, s *store.Store) {
				addPlan(t, s)
				bypassRules(t, s,
					`UPDATE ledger_entries SET plan_id = 'aarhus' WHERE idempotency_key = 'reserve/a/lbf'`,
					`UPDATE disbursement_lines SET plan_id = 'aarhus' WHERE disbursement_id = 'a-t1' AND source_id = 'lbf'`)
			},
			want: []ruleAt{{store.RulePlanReference, "postering reserve/a/lbf"},
				{store.RulePlanReference, "udbetaling a-t1, kilde lbf"}},
			detail: "hører til plan aarhus, men indsats a hører til plan viborg-2021-2025",
		},
		{
			name: "entry_for_unknown_initiative",
			corrupt: func(t *testing.T, s *store.Store) {
				bypassRules(t, s, `
					INSERT INTO ledger_entries (plan_id, source_id, initiative_id, delaftale_id, kind, amount_ore,
					                            idempotency_key)
					VALUES ('viborg-2021-2025', 'lbf', 'ghost', 'beskaeftigelse', 'reserve', 100, 'reserve/ghost/lbf')`)
			},
			want: []ruleAt{{store.RulePlanReference, "postering reserve/ghost/lbf"},
				{store.RuleReservationBudget, "indsats ghost, kilde lbf"}},
			detail: "indsats ghost findes ikke",
		},
		{
			name: "key_does_not_match_kind",
			corrupt: func(t *testing.T, s *store.Store) {
				bypassRules(t, s, `UPDATE ledger_entries SET idempotency_key = 'reserve/other/lbf'
				                   WHERE idempotency_key = 'reserve/a/lbf'`)
			},
			want:   []ruleAt{{store.RuleEntryKey, "postering reserve/other/lbf"}},
			detail: "reserve/<indsats>/<kilde>",
		},
		{
			name: "unreserve_key_without_reason",
			corrupt: func(t *testing.T, s *store.Store) {
				// Allowed by the triggers (it gives back unreleased money), but not a key unreserve writes.
				execAll(t, s.DB(), `
					INSERT INTO ledger_entries (plan_id, source_id, initiative_id, delaftale_id, kind, amount_ore,
					                            idempotency_key)
					VALUES ('viborg-2021-2025', 'lbf', 'a', 'uddannelse-og-livschancer', 'unreserve', 1, 'unreserve/a/lbf')`)
			},
			want: []ruleAt{{store.RuleEntryKey, "postering unreserve/a/lbf"},
				{store.RuleReservationBudget, "indsats a, kilde lbf"}},
		},
		{
			name: "reservation_beyond_budget",
			corrupt: func(t *testing.T, s *store.Store) {
				// The triggers allow it (the source has money left); only the budget says it is wrong.
				execAll(t, s.DB(), `
					INSERT INTO ledger_entries (plan_id, source_id, initiative_id, delaftale_id, kind, amount_ore,
					                            idempotency_key)
					VALUES ('viborg-2021-2025', 'boligselskaberne', 'a', 'uddannelse-og-livschancer', 'reserve', 1,
					        'reserve/a/boligselskaberne')`)
			},
			want:   []ruleAt{{store.RuleReservationBudget, "indsats a, kilde boligselskaberne"}},
			detail: `"executing"`,
		},
		{
			name: "reservation_before_approval",
			corrupt: func(t *testing.T, s *store.Store) {
				submit(t, s, "b", proposal("B", "beskaeftigelse", []string{"vestervang"}, kr(100), 0))
				execAll(t, s.DB(), `
					INSERT INTO ledger_entries (plan_id, source_id, initiative_id, delaftale_id, kind, amount_ore,
					                            idempotency_key)
					VALUES ('viborg-2021-2025', 'lbf', 'b', 'beskaeftigelse', 'reserve', 10000, 'reserve/b/lbf')`)
			},
			want:   []ruleAt{{store.RuleReservationBudget, "indsats b, kilde lbf"}},
			detail: `"board_review"`,
		},
		{
			name: "read_model_shows_unreleased_tranche_released",
			corrupt: func(t *testing.T, s *store.Store) {
				execAll(t, s.DB(), `UPDATE initiatives SET snapshot = jsonb_set(snapshot, '{milestones,1,tranche_status}', '"released"')`)
			},
			// Milestone 2 takes 500.000 kr. from LBF and nothing from the kommune.
			want:   []ruleAt{{store.RuleTrancheReleases, "indsats a, milepæl 2, kilde lbf"}},
			detail: "læsemodellen viser frigivet 500.000,00 kr., regnskabet 0,00 kr.",
		},
		{
			name: "read_model_shows_paid_tranche_unpaid",
			corrupt: func(t *testing.T, s *store.Store) {
				execAll(t, s.DB(), `UPDATE initiatives SET snapshot = jsonb_set(snapshot, '{milestones,0,tranche_status}', '"released"')`)
			},
			want: []ruleAt{{store.RuleTranchePayments, "indsats a, milepæl 1, kilde lbf"},
				{store.RuleTranchePayments, "indsats a, milepæl 1, kilde viborg-kommune"}},
		},
		{
			name: "event_missing",
			corrupt: func(t *testing.T, s *store.Store) {
				bypassRules(t, s, `DELETE FROM initiative_events WHERE initiative_id = 'a' AND seq = 2`)
			},
			want:   []ruleAt{{store.RuleEventLog, "indsats a"}},
			detail: "version 4, men hændelsesloggen har 3 hændelser med nr. 1-4",
		},
		{
			name: "read_model_phase_differs_from_last_event",
			corrupt: func(t *testing.T, s *store.Store) {
				execAll(t, s.DB(), `UPDATE initiatives SET phase = 'completed' WHERE id = 'a'`)
			},
			want:   []ruleAt{{store.RuleEventLog, "indsats a"}},
			detail: `fasen "completed", men den sidste hændelse endte i "executing"`,
		},
		{
			name: "events_do_not_chain",
			corrupt: func(t *testing.T, s *store.Store) {
				bypassRules(t, s, `UPDATE initiative_events SET phase_before = 'evaluation' WHERE initiative_id = 'a' AND seq = 3`)
			},
			want:   []ruleAt{{store.RuleEventLog, "indsats a"}},
			detail: `hændelse 3 starter i fasen "evaluation", men hændelse 2 endte i "executing"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name+"_found", func(t *testing.T) {
			t.Parallel()
			s := paidTranche(t)
			tc.corrupt(t, s)
			vs, err := s.VerifyLedger(ctxT(t))
			if err != nil {
				t.Fatalf("VerifyLedger: %v", err)
			}
			if diff := cmp.Diff(tc.want, rulesOf(vs)); diff != "" {
				t.Fatalf("violations (-want +got):\n%s\nall: %v", diff, vs)
			}
			if tc.detail != "" && !strings.Contains(vs[0].Detail, tc.detail) {
				t.Errorf("first violation's detail %q does not hold %q", vs[0].Detail, tc.detail)
			}
			again, err := s.VerifyLedger(ctxT(t))
			if err != nil || !cmp.Equal(vs, again) {
				t.Errorf("a second run reports %v (%v), not the same list in the same order", again, err)
			}
		})
	}
}
