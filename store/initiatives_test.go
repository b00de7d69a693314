package store_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
)

func TestRecordTransition(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)

	in := initiative("lektiecafe", proposal("Lektiecafé", "uddannelse-og-livschancer", []string{"ringparken"}, kr(100_000), 0))
	v1 := step(t, in, "submitted", mette, domain.PhaseBoardReview)
	v2 := step(t, in, "changes_requested", hanne, domain.PhaseChangesRequested)

	tests := []struct {
		name      string
		write     []store.Transition
		wantV     int64
		wantPhase domain.Phase
		wantSeqs  []int64
	}{
		{name: "first_write_creates_read_model", write: []store.Transition{v1}, wantV: 1,
			wantPhase: domain.PhaseBoardReview, wantSeqs: []int64{1}},
		{name: "next_version_moves_read_model", write: []store.Transition{v2}, wantV: 2,
			wantPhase: domain.PhaseChangesRequested, wantSeqs: []int64{1, 2}},
		{name: "duplicate_write_is_noop", write: []store.Transition{v2, v2}, wantV: 2,
			wantPhase: domain.PhaseChangesRequested, wantSeqs: []int64{1, 2}},
		{name: "replay_of_older_version_never_moves_back", write: []store.Transition{v1}, wantV: 2,
			wantPhase: domain.PhaseChangesRequested, wantSeqs: []int64{1, 2}},
	}
	for _, tc := range tests { // in order: each case builds on the one before
		t.Run(tc.name, func(t *testing.T) {
			for _, tr := range tc.write {
				if err := s.RecordTransition(ctx, tr); err != nil {
					t.Fatalf("RecordTransition v%d: %v", tr.Snapshot.Version, err)
				}
			}
			got, err := s.GetInitiative(ctx, in.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := v1.Snapshot
			if tc.wantV == 2 {
				want = v2.Snapshot
			}
			if diff := cmp.Diff(want, got, cmpDates); diff != "" {
				t.Errorf("GetInitiative (-want +got):\n%s", diff)
			}
			if got.Version != tc.wantV || got.Phase != tc.wantPhase {
				t.Errorf("read model at v%d %s, want v%d %s", got.Version, got.Phase, tc.wantV, tc.wantPhase)
			}
			events, err := s.ListEvents(ctx, in.ID, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			var seqs []int64
			for _, e := range events {
				seqs = append(seqs, e.Seq)
			}
			if diff := cmp.Diff(tc.wantSeqs, seqs); diff != "" {
				t.Errorf("event seqs (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("events_keep_what_happened", func(t *testing.T) {
		got, err := s.ListEvents(ctx, in.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]store.Event{v1.Event, v2.Event}, got, ignoreRecordedAt, cmpJSON); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		after, err := s.ListEvents(ctx, in.ID, 1, 10)
		if err != nil || len(after) != 1 || after[0].Seq != 2 {
			t.Errorf("ListEvents after seq 1 = %+v, %v; want only seq 2", after, err)
		}
	})

	t.Run("seq_not_equal_to_version_refused", func(t *testing.T) {
		bad := step(t, in, "x", mette, domain.PhaseBoardReview)
		bad.Event.Seq = 99
		if err := s.RecordTransition(ctx, bad); err == nil {
			t.Fatal("RecordTransition with seq 99 for version 3 succeeded")
		}
		in.Version-- // the step was not recorded
	})

	t.Run("unknown_initiative_not_found", func(t *testing.T) {
		if _, err := s.GetInitiative(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetInitiative(nope) = %v, want ErrNotFound", err)
		}
	})
}

func TestAppendOnly(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	in := submit(t, s, "append-only", proposal("Jobcafé", "beskaeftigelse", []string{"vestervang"}, kr(50_000), 0))
	if err := s.Reserve(ctx, approveInput(t, in)); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		stmt  string
		table string
	}{
		{"event_update_refused", `UPDATE initiative_events SET type = 'forged'`, "initiative_events"},
		{"event_delete_refused", `DELETE FROM initiative_events`, "initiative_events"},
		{"event_truncate_refused", `TRUNCATE initiative_events CASCADE`, "initiative_events"},
		{"ledger_update_refused", `UPDATE ledger_entries SET amount_ore = 1`, "ledger_entries"},
		{"ledger_delete_refused", `DELETE FROM ledger_entries`, "ledger_entries"},
		{"ledger_truncate_refused", `TRUNCATE ledger_entries`, "ledger_entries"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := count(t, s, `SELECT count(*) FROM `+tc.table)
			_, err := s.DB().ExecContext(ctx, tc.stmt)
			if err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Fatalf("%s: error = %v, want the append-only refusal", tc.stmt, err)
			}
			if after := count(t, s, `SELECT count(*) FROM `+tc.table); after != before || before == 0 {
				t.Errorf("%s: %d rows before, %d after", tc.table, before, after)
			}
		})
	}
	var amounts []int64
	if err := s.DB().SelectContext(ctx, &amounts, `SELECT amount_ore FROM ledger_entries ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{int64(kr(50_000))}, amounts); diff != "" {
		t.Errorf("ledger amounts changed (-want +got):\n%s", diff)
	}
}

func TestListInitiatives(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)

	delaftaler := []string{"uddannelse-og-livschancer", "beskaeftigelse", "sammenhaengskraft-og-medborgerskab"}
	areas := []string{"houlkaervaenget", "vestervang", "ringparken", "ellekonebakken", "klostersvaenget"}
	phases := []domain.Phase{domain.PhaseBoardReview, domain.PhaseExecuting, domain.PhaseRejected}
	type row struct {
		id, delaftale string
		phase         domain.Phase
		areas         []string
	}
	var rows []row // in creation order
	for i := range 23 {
		r := row{id: fmt.Sprintf("ini-%02d", i), delaftale: delaftaler[i%3], phase: phases[(i/3)%3],
			areas: []string{areas[i%5], areas[(i+2)%5]}}
		in := initiative(r.id, proposal("Indsats "+r.id, r.delaftale, r.areas, kr(int64(1000+i)), 0))
		if err := s.RecordTransition(ctx, step(t, in, "submitted", mette, r.phase)); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	// newestFirst returns the IDs of the rows that match, as the list orders them.
	newestFirst := func(match func(row) bool) []string {
		var ids []string
		for i := len(rows) - 1; i >= 0; i-- {
			if match(rows[i]) {
				ids = append(ids, rows[i].id)
			}
		}
		return ids
	}
	// all pages through the list and fails on a repeated ID.
	all := func(t *testing.T, f store.InitiativeFilter) []string {
		t.Helper()
		var ids []string
		seen := map[string]bool{}
		for page := 0; ; page++ {
			items, next, err := s.ListInitiatives(ctx, f)
			if err != nil {
				t.Fatalf("page %d: %v", page, err)
			}
			if f.Limit > 0 && len(items) > f.Limit {
				t.Fatalf("page %d has %d items, limit %d", page, len(items), f.Limit)
			}
			for _, it := range items {
				if seen[it.ID] {
					t.Fatalf("page %d repeats %s", page, it.ID)
				}
				seen[it.ID] = true
				ids = append(ids, it.ID)
			}
			if next == "" {
				return ids
			}
			if page > 30 {
				t.Fatal("pages never end")
			}
			f.After = next
		}
	}

	tests := []struct {
		name   string
		filter store.InitiativeFilter
		want   []string
	}{
		{name: "whole_plan_newest_first_over_pages", filter: store.InitiativeFilter{PlanID: planID, Limit: 5},
			want: newestFirst(func(row) bool { return true })},
		{name: "one_page_when_limit_is_large", filter: store.InitiativeFilter{PlanID: planID},
			want: newestFirst(func(row) bool { return true })},
		{name: "by_phase", filter: store.InitiativeFilter{PlanID: planID, Phase: domain.PhaseExecuting, Limit: 2},
			want: newestFirst(func(r row) bool { return r.phase == domain.PhaseExecuting })},
		{name: "by_delaftale", filter: store.InitiativeFilter{PlanID: planID, DelaftaleID: "beskaeftigelse", Limit: 3},
			want: newestFirst(func(r row) bool { return r.delaftale == "beskaeftigelse" })},
		{name: "by_housing_area", filter: store.InitiativeFilter{PlanID: planID, HousingAreaID: "ringparken", Limit: 4},
			want: newestFirst(func(r row) bool { return slices.Contains(r.areas, "ringparken") })},
		{name: "by_all_three", filter: store.InitiativeFilter{PlanID: planID, Phase: domain.PhaseBoardReview,
			DelaftaleID: "uddannelse-og-livschancer", HousingAreaID: "houlkaervaenget"},
			want: newestFirst(func(r row) bool {
				return r.phase == domain.PhaseBoardReview && r.delaftale == "uddannelse-og-livschancer" &&
					slices.Contains(r.areas, "houlkaervaenget")
			})},
		{name: "other_plan_empty", filter: store.InitiativeFilter{PlanID: "aarhus"}, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, all(t, tc.filter)); diff != "" {
				t.Errorf("IDs (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("summary_has_read_model_columns", func(t *testing.T) {
		items, _, err := s.ListInitiatives(ctx, store.InitiativeFilter{PlanID: planID, Limit: 1})
		if err != nil || len(items) != 1 {
			t.Fatalf("%v, %v", items, err)
		}
		got := items[0]
		got.CreatedAt, got.UpdatedAt = got.CreatedAt.UTC(), got.UpdatedAt.UTC()
		want := store.InitiativeSummary{ID: "ini-22", PlanID: planID, Title: "Indsats ini-22",
			Phase: phases[(22/3)%3], DelaftaleID: delaftaler[22%3], HousingAreaIDs: []string{areas[2], areas[4]},
			ProposerID: mette.UserID, BudgetØre: kr(1022), Version: 1, CreatedAt: t0, UpdatedAt: t0}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("summary (-want +got):\n%s", diff)
		}
	})

	t.Run("new_initiative_does_not_shift_later_pages", func(t *testing.T) {
		first, next, err := s.ListInitiatives(ctx, store.InitiativeFilter{PlanID: planID, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		submit(t, s, "ini-late", proposal("Sen", delaftaler[0], areas[:1], kr(1), 0))
		second, _, err := s.ListInitiatives(ctx, store.InitiativeFilter{PlanID: planID, Limit: 10, After: next})
		if err != nil {
			t.Fatal(err)
		}
		want := newestFirst(func(row) bool { return true })[10:20]
		var got []string
		for _, it := range second {
			got = append(got, it.ID)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("second page after an insert (-want +got):\n%s", diff)
		}
		if first[0].ID != "ini-22" {
			t.Errorf("first page starts with %s", first[0].ID)
		}
	})

	t.Run("bad_cursor_refused", func(t *testing.T) {
		for _, c := range []string{"not base64!", "eHl6", "LTE"} { // "xyz", "-1"
			_, _, err := s.ListInitiatives(ctx, store.InitiativeFilter{PlanID: planID, After: c})
			if !errors.Is(err, store.ErrBadCursor) {
				t.Errorf("cursor %q: error = %v, want ErrBadCursor", c, err)
			}
		}
	})
}

func TestInsertSyntheticInitiatives(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	tmpl := *initiative("template", proposal("Benchmark", "beskaeftigelse", []string{"vestervang"}, kr(10), 0))
	tmpl.Phase = domain.PhaseExecuting
	for range 2 {
		if err := s.InsertSyntheticInitiatives(ctx, planID, 300, tmpl); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.CountInitiatives(ctx, planID); err != nil || n != 600 {
		t.Fatalf("CountInitiatives = %d, %v; want 600 after two calls of 300", n, err)
	}
	got, err := s.GetInitiative(ctx, "bench-600")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "bench-600" || got.Proposal.Title != "Benchmark 600" || got.PlanID != planID || got.Phase != domain.PhaseExecuting {
		t.Errorf("bench-600 snapshot = %s %q %s %s", got.ID, got.Proposal.Title, got.PlanID, got.Phase)
	}
	items, _, err := s.ListInitiatives(ctx, store.InitiativeFilter{PlanID: planID, HousingAreaID: "vestervang", Limit: 3})
	if err != nil || len(items) != 3 || items[0].ID != "bench-600" {
		t.Errorf("ListInitiatives over synthetic rows = %+v, %v", items, err)
	}
}
