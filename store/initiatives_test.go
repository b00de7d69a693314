package store_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

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

// TestListInitiativesBySourceAndSearch filters by funding source and by words, alone, together, with a phase and
// across pages, and shows that what a user types never reaches the SQL.
func TestListInitiativesBySourceAndSearch(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)

	type row struct {
		id, title, description string
		phase                  domain.Phase
		budget                 []domain.SourceAmount
	}
	lbf := func(n int64) domain.SourceAmount { return domain.SourceAmount{SourceID: "lbf", AmountØre: kr(n)} }
	kommune := func(n int64) domain.SourceAmount {
		return domain.SourceAmount{SourceID: "viborg-kommune", AmountØre: kr(n)}
	}
	bolig := func(n int64) domain.SourceAmount {
		return domain.SourceAmount{SourceID: "boligselskaberne", AmountØre: kr(n)}
	}
	rows := []row{ // in creation order: the list shows them last first
		{"lektie", "Lektiecafé i Houlkærvænget", "Lektiehjælp to gange om ugen og forældremøder.",
			domain.PhaseBoardReview, []domain.SourceAmount{lbf(300), kommune(100)}},
		{"job", "Jobcafé i Vestervang", "Hjælp til ansøgninger og CV.",
			domain.PhaseExecuting, []domain.SourceAmount{lbf(200), kommune(0)}}, // 0 kr. takes nothing from kommunen
		{"fritid", "Fritidsjob til unge", "Brobygning til første job i Ringparken.",
			domain.PhaseBoardReview, []domain.SourceAmount{bolig(50)}},
		{"lektie-2", "Lektiecafé i Ellekonebakken", "Lektiehjælp om tirsdagen.",
			domain.PhaseExecuting, []domain.SourceAmount{lbf(100)}},
		{"lektie-3", "Lektiecafé i Klostersvænget", "Også for forældre.",
			domain.PhaseBoardReview, []domain.SourceAmount{lbf(100), bolig(10)}},
		{"lektie-4", "Lektiecafé i Ringparken", "Hver onsdag.",
			domain.PhaseBoardReview, []domain.SourceAmount{lbf(100)}},
	}
	for _, r := range rows {
		p := proposal(r.title, "uddannelse-og-livschancer", []string{"houlkaervaenget"}, kr(1), 0)
		p.Description, p.Budget = r.description, r.budget
		in := initiative(r.id, p)
		if err := s.RecordTransition(ctx, step(t, in, "submitted", mette, r.phase)); err != nil {
			t.Fatal(err)
		}
	}

	// all pages through the list with limit 1, so every filter is also checked with keyset paging.
	all := func(t *testing.T, f store.InitiativeFilter) []string {
		t.Helper()
		f.PlanID, f.Limit = planID, 1
		ids := []string{}
		for page := 0; ; page++ {
			items, next, err := s.ListInitiatives(ctx, f)
			if err != nil {
				t.Fatalf("%+v page %d: %v", f, page, err)
			}
			for _, it := range items {
				ids = append(ids, it.ID)
			}
			if next == "" || page > len(rows) {
				return ids
			}
			f.After = next
		}
	}
	everything := []string{"lektie-4", "lektie-3", "lektie-2", "fritid", "job", "lektie"}
	type testCase struct {
		name string
		f    store.InitiativeFilter
		want []string
		late bool // lektie-5, added later, matches too
	}
	cases := []testCase{
		{"source_lbf", store.InitiativeFilter{SourceID: "lbf"}, []string{"lektie-4", "lektie-3", "lektie-2", "job", "lektie"}, true},
		{"source_zero_amount_not_counted", store.InitiativeFilter{SourceID: "viborg-kommune"}, []string{"lektie"}, false},
		{"source_boligselskaberne", store.InitiativeFilter{SourceID: "boligselskaberne"}, []string{"lektie-3", "fritid"}, false},
		{"source_unknown_empty", store.InitiativeFilter{SourceID: "nope"}, []string{}, false},
		{"search_whole_word", store.InitiativeFilter{Search: "lektiecafé"}, []string{"lektie-4", "lektie-3", "lektie-2", "lektie"}, true},
		{"search_prefix", store.InitiativeFilter{Search: "lekt"}, []string{"lektie-4", "lektie-3", "lektie-2", "lektie"}, true},
		{"search_upper_case", store.InitiativeFilter{Search: "JOBCAFÉ"}, []string{"job"}, false},
		{"search_danish_letters_prefix", store.InitiativeFilter{Search: "houlkærvæ"}, []string{"lektie"}, false},
		{"search_description", store.InitiativeFilter{Search: "forældremøder"}, []string{"lektie"}, false},
		{"search_description_prefix", store.InitiativeFilter{Search: "ansøg"}, []string{"job"}, false},
		{"search_words_anded", store.InitiativeFilter{Search: "lektiecafé ringparken"}, []string{"lektie-4"}, false},
		{"search_words_anded_none", store.InitiativeFilter{Search: "jobcafé ringparken"}, []string{}, false},
		{"search_punctuation_separates", store.InitiativeFilter{Search: "«Lektiecafé», Ringparken!"}, []string{"lektie-4"}, false},
		{"search_operators_are_words", store.InitiativeFilter{Search: "jobcafé | lektiecafé"}, []string{}, false},
		{"search_negation_ignored", store.InitiativeFilter{Search: "!lektiecafé"}, []string{"lektie-4", "lektie-3", "lektie-2", "lektie"}, true},
		{"search_injection_harmless", store.InitiativeFilter{Search: "'); DROP TABLE initiatives; --"}, []string{}, false},
		{"search_quotes_and_colons", store.InitiativeFilter{Search: `lekt:* & 'x' \ "`}, []string{}, false},
		{"search_no_words_no_filter", store.InitiativeFilter{Search: " ,.-;:*&|!()' "}, everything, false},
		{"search_stop_words_only_no_filter", store.InitiativeFilter{Search: "i og"}, everything, false},
		{"search_stop_words_dropped", store.InitiativeFilter{Search: "lektiecafé i ringparken"}, []string{"lektie-4"}, false},
		// Only the first eight words count: the ninth would match nothing.
		{"search_capped_at_eight_words", store.InitiativeFilter{
			Search: "lektiecafé houlkærvænget lektiehjælp to gange om ugen forældremøder xyzzy"}, []string{"lektie"}, false},
		{"search_long_word_harmless", store.InitiativeFilter{Search: strings.Repeat("ø", 5000)}, []string{}, false},
		{"search_and_source", store.InitiativeFilter{Search: "lekt", SourceID: "boligselskaberne"}, []string{"lektie-3"}, false},
		{"search_source_phase", store.InitiativeFilter{Search: "lektie", SourceID: "lbf", Phase: domain.PhaseBoardReview},
			[]string{"lektie-4", "lektie-3", "lektie"}, true},
		{"search_source_phase_area_delaftale", store.InitiativeFilter{Search: "lektie", SourceID: "lbf",
			Phase: domain.PhaseExecuting, HousingAreaID: "houlkaervaenget", DelaftaleID: "uddannelse-og-livschancer"},
			[]string{"lektie-2"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, all(t, tc.f)); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}

	// The list filters the newest 2.000 rows one by one and takes older matches from the GIN indexes: bury the
	// rows under 2.100 that match nothing, add one that matches on top, and every filter finds the same rows.
	filler := *initiative("template", proposal("Fyld", "beskaeftigelse", nil, kr(1), 0))
	filler.Proposal.Description, filler.Proposal.Budget = "Intet at finde her.", nil
	if err := s.InsertSyntheticInitiatives(ctx, planID, 2100, filler); err != nil {
		t.Fatal(err)
	}
	p := proposal("Lektiecafé i Vestervang", "uddannelse-og-livschancer", []string{"vestervang"}, kr(1), 0)
	p.Description, p.Budget = "Ny.", []domain.SourceAmount{lbf(100)}
	if err := s.RecordTransition(ctx, step(t, initiative("lektie-5", p), "submitted", mette, domain.PhaseBoardReview)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		if slices.Equal(tc.want, everything) {
			continue // the fillers are there too
		}
		t.Run("older_than_window_"+tc.name, func(t *testing.T) {
			want := tc.want
			if tc.late {
				want = append([]string{"lektie-5"}, want...)
			}
			if diff := cmp.Diff(want, all(t, tc.f)); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}
	if n := count(t, s, `SELECT count(*) FROM initiatives`); n != len(rows)+2101 {
		t.Errorf("%d initiatives after the searches, want %d", n, len(rows)+2101)
	}
}

// TestRecordTransitionMaintainsSearchColumns: a revised proposal moves the initiative to its new funding sources
// and its new words, and the migration fills source_ids for rows written before it existed.
func TestRecordTransitionMaintainsSearchColumns(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	sourceIDs := func(id string) string {
		t.Helper()
		var got string
		if err := s.DB().GetContext(ctx, &got, `SELECT source_ids::text FROM initiatives WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
		return got
	}
	ids := func(f store.InitiativeFilter) []string {
		t.Helper()
		f.PlanID = planID
		items, _, err := s.ListInitiatives(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, it := range items {
			out = append(out, it.ID)
		}
		return out
	}

	p := proposal("Lektiecafé i Houlkærvænget", "uddannelse-og-livschancer", nil, kr(300), kr(100))
	p.Budget = append(p.Budget, domain.SourceAmount{SourceID: "lbf", AmountØre: kr(5)}) // twice: stored once
	in := submit(t, s, "ini-1", p)
	if got := sourceIDs("ini-1"); got != "{lbf,viborg-kommune}" {
		t.Errorf("source_ids after submit = %s", got)
	}

	// Revised: only the housing associations pay, and the title changes.
	in.Proposal.Title = "Jobcafé i Vestervang"
	in.Proposal.Description = "Hjælp til ansøgninger."
	in.Proposal.Budget = []domain.SourceAmount{{SourceID: "boligselskaberne", AmountØre: kr(400)}}
	if err := s.RecordTransition(ctx, step(t, in, "revised", mette, domain.PhaseBoardReview)); err != nil {
		t.Fatal(err)
	}
	if got := sourceIDs("ini-1"); got != "{boligselskaberne}" {
		t.Errorf("source_ids after revision = %s", got)
	}
	for _, tc := range []struct {
		f    store.InitiativeFilter
		want []string
	}{
		{store.InitiativeFilter{SourceID: "lbf"}, []string{}},
		{store.InitiativeFilter{SourceID: "boligselskaberne"}, []string{"ini-1"}},
		{store.InitiativeFilter{Search: "lektiecafé"}, []string{}},
		{store.InitiativeFilter{Search: "jobcafé ansøg"}, []string{"ini-1"}},
	} {
		if diff := cmp.Diff(tc.want, ids(tc.f)); diff != "" {
			t.Errorf("%+v after revision (-want +got):\n%s", tc.f, diff)
		}
	}

	// A row written before migration 7: roll it back and forward, and the backfill finds the snapshot's sources.
	submit(t, s, "ini-2", proposal("Fritidsjob", "beskaeftigelse", nil, kr(10), kr(20)))
	if err := store.MigrateDownTo(ctx, s.DB().DB, 6); err != nil {
		t.Fatal(err)
	}
	if err := store.Migrate(ctx, s.DB().DB); err != nil {
		t.Fatal(err)
	}
	if got := sourceIDs("ini-2"); got != "{lbf,viborg-kommune}" {
		t.Errorf("source_ids backfilled = %s", got)
	}
	if got := sourceIDs("ini-1"); got != "{boligselskaberne}" {
		t.Errorf("source_ids backfilled from the revised snapshot = %s", got)
	}
	if diff := cmp.Diff([]string{"ini-2"}, ids(store.InitiativeFilter{SourceID: "viborg-kommune", Search: "fritid"})); diff != "" {
		t.Errorf("after the migration (-want +got):\n%s", diff)
	}
}

// BenchmarkListInitiativesSourceAndSearch measures the source filter and the search over 100.000 initiatives and
// logs each case's p99 over 200 calls and its plan, failing when a rare filter does not use its GIN index. The
// rare rows are the oldest, the worst case for a plan that walks the list newest first and filters.
//
//	go test ./store -run '^$' -bench ListInitiativesSourceAndSearch -benchtime 200x
func BenchmarkListInitiativesSourceAndSearch(b *testing.B) {
	s := dbtest.New(b)
	ctx := ctxT(b)
	const n = 100_000
	rare := *initiative("template", proposal("Jobcafé Ringparken", "beskaeftigelse", []string{"ringparken"}, kr(10), 0))
	rare.Proposal.Description = "Hjælp til jobsøgning."
	rare.Proposal.Budget = []domain.SourceAmount{{SourceID: "boligselskaberne", AmountØre: kr(10)}}
	common := *initiative("template", proposal("Benchmark", "uddannelse-og-livschancer", []string{"vestervang"}, kr(10), kr(5)))
	if err := s.InsertSyntheticInitiatives(ctx, planID, 100, rare); err != nil {
		b.Fatal(err)
	}
	if err := s.InsertSyntheticInitiatives(ctx, planID, n-100, common); err != nil {
		b.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, `VACUUM ANALYZE initiatives`); err != nil {
		b.Fatal(err)
	}

	for _, bc := range []struct {
		name  string
		f     store.InitiativeFilter
		index string // the plan must use it; "" when walking the list newest first is right
	}{
		{"source_common", store.InitiativeFilter{PlanID: planID, SourceID: "lbf"}, ""},
		{"source_rare", store.InitiativeFilter{PlanID: planID, SourceID: "boligselskaberne"}, "initiatives_sources_idx"},
		{"source_none", store.InitiativeFilter{PlanID: planID, SourceID: "nope"}, "initiatives_sources_idx"},
		{"search_common", store.InitiativeFilter{PlanID: planID, Search: "lektiecafé"}, ""},
		{"search_rare", store.InitiativeFilter{PlanID: planID, Search: "jobcafé"}, "initiatives_search_idx"},
		{"search_rare_prefix", store.InitiativeFilter{PlanID: planID, Search: "jobs"}, "initiatives_search_idx"},
		{"search_one", store.InitiativeFilter{PlanID: planID, Search: "benchmark 47113"}, "initiatives_search_idx"},
		{"search_one_percent", store.InitiativeFilter{PlanID: planID, Search: "benchmark 47"}, ""},
		{"search_none", store.InitiativeFilter{PlanID: planID, Search: "xyzzy"}, "initiatives_search_idx"},
		{"search_source_phase", store.InitiativeFilter{PlanID: planID, Search: "ringpark", SourceID: "boligselskaberne",
			Phase: domain.PhaseBoardReview}, ""},
		{"search_common_source_rare", store.InitiativeFilter{PlanID: planID, Search: "hjælp", SourceID: "boligselskaberne"}, ""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			plan := explainList(b, s, bc.f)
			if bc.index != "" && !strings.Contains(plan, bc.index) {
				b.Fatalf("plan does not use %s:\n%s", bc.index, plan)
			}
			const samples = 200
			took := make([]time.Duration, 0, samples)
			var got int
			for range samples {
				start := time.Now()
				items, _, err := s.ListInitiatives(ctx, bc.f)
				took = append(took, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				got = len(items)
			}
			slices.Sort(took)
			b.Logf("%s: %d rows, p50 %v, p99 %v\n%s", bc.name, got, took[samples/2], took[samples*99/100-1], plan)
			for b.Loop() {
				if _, _, err := s.ListInitiatives(ctx, bc.f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// explainList is the plan of ListInitiatives' query for f.
func explainList(b *testing.B, s *store.Store, f store.InitiativeFilter) string {
	b.Helper()
	plan, err := s.ExplainListInitiatives(ctxT(b), f)
	if err != nil {
		b.Fatal(err)
	}
	return plan
}
