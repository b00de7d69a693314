package store_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
)

var viborgYears = []int{2021, 2022, 2023, 2024, 2025}

func yearsOf(amounts ...domain.Money) []store.CommitmentYear {
	out := make([]store.CommitmentYear, len(amounts))
	for i, a := range amounts {
		out[i] = store.CommitmentYear{Year: viborgYears[i], AmountØre: a}
	}
	return out
}

func sourceOf(t *testing.T, c store.Commitments, id string) store.SourceCommitment {
	t.Helper()
	for _, s := range c.Sources {
		if s.SourceID == id {
			return s
		}
	}
	t.Fatalf("no source %s in %+v", id, c)
	return store.SourceCommitment{}
}

func TestSeedSplitsCommitmentsEvenlyOnce(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	c, err := s.Commitments(ctx, planID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Years, viborgYears) {
		t.Fatalf("years = %v", c.Years)
	}
	lbf := sourceOf(t, c, "lbf") // 13.709.000 kr. over five years
	if diff := cmp.Diff(yearsOf(274_180_000, 274_180_000, 274_180_000, 274_180_000, 274_180_000), lbf.Years); diff != "" {
		t.Errorf("lbf split (-want +got):\n%s", diff)
	}
	if lbf.Version != 1 || lbf.ChangedBy != "" || lbf.Note != store.SeedNote {
		t.Errorf("lbf version 1 = %+v", lbf)
	}
	for _, src := range c.Sources {
		var sum domain.Money
		for _, y := range src.Years {
			sum += y.AmountØre
		}
		if sum != src.CommittedØre {
			t.Errorf("%s: split sums to %d, committed %d", src.SourceID, sum, src.CommittedØre)
		}
	}
	// Admin changes lbf; seeding again (a restart) writes nothing and keeps admin's split.
	if _, err := s.SetCommitments(ctx, planID, []store.CommitmentSplit{{SourceID: "lbf", BasedOnVersion: 1,
		Years: yearsOf(0, 0, 0, 0, lbf.CommittedØre)}}, karen, "Alt i 2025"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SeedPlan(ctx, viborg(t)); err != nil {
		t.Fatal(err)
	}
	if err := s.SeedCommitmentYears(ctx, planID); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM source_commitment_versions WHERE plan_id = $1 AND version = 1`, planID); n != len(c.Sources) {
		t.Errorf("%d versions 1, want %d", n, len(c.Sources))
	}
	c2, err := s.Commitments(ctx, planID)
	if err != nil {
		t.Fatal(err)
	}
	if got := sourceOf(t, c2, "lbf"); got.Version != 2 || got.Years[4].AmountØre != lbf.CommittedØre {
		t.Errorf("lbf after reseed = %+v", got)
	}
}

func TestSetCommitmentsRefusesSplitNotSummingToCommitment(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	c, err := s.Commitments(ctx, planID)
	if err != nil {
		t.Fatal(err)
	}
	total := sourceOf(t, c, "lbf").CommittedØre
	_, err = s.SetCommitments(ctx, planID, []store.CommitmentSplit{
		{SourceID: "lbf", Years: yearsOf(0, 0, 0, 0, total-1)}, // one øre short
		{SourceID: "viborg-kommune", Years: []store.CommitmentYear{{Year: 2026, AmountØre: 1}}},
		{SourceID: "nope"},
	}, karen, "")
	re := ruleErr(t, err)
	want := []string{"commitments[lbf]:sum_mismatch", "commitments[viborg-kommune][2026]:outside_period",
		"commitments[viborg-kommune]:sum_mismatch", "commitments[nope]:unknown"}
	if diff := cmp.Diff(want, problemFields(re)); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	// Exactly the total passes; a year left out counts as 0.
	out, err := s.SetCommitments(ctx, planID, []store.CommitmentSplit{{SourceID: "lbf",
		Years: []store.CommitmentYear{{Year: 2023, AmountØre: total - 7}, {Year: 2021, AmountØre: 7}}}}, karen, "")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(yearsOf(7, 0, total-7, 0, 0), sourceOf(t, out, "lbf").Years); diff != "" {
		t.Errorf("saved split (-want +got):\n%s", diff)
	}
}

func TestCommitmentTriggerRefusesWrongSumAtCommit(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	tx, err := s.DB().BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO source_commitment_versions (plan_id, source_id, version) VALUES ($1, 'lbf', 2)`, planID); err != nil {
		t.Fatal(err)
	}
	for _, y := range viborgYears {
		if _, err := tx.ExecContext(ctx, `INSERT INTO source_commitment_years (plan_id, source_id, version, year, amount_ore) VALUES ($1, 'lbf', 2, $2, 1)`, planID, y); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err == nil {
		t.Fatal("a split of 5 øre against 13.709.000 kr. committed")
	}
	if _, err := s.DB().ExecContext(ctx, `DELETE FROM source_commitment_years WHERE plan_id = $1`, planID); err == nil {
		t.Fatal("deleted a version's years")
	}
}

func TestSetCommitmentsVersionsAndStaleRefused(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	c, _ := s.Commitments(ctx, planID)
	total := sourceOf(t, c, "boligselskaberne").CommittedØre
	split := func(based int, first domain.Money, note string) error {
		_, err := s.SetCommitments(ctx, planID, []store.CommitmentSplit{{SourceID: "boligselskaberne", BasedOnVersion: based,
			Years: yearsOf(first, 0, 0, 0, total-first)}}, karen, note)
		return err
	}
	if err := split(1, 100, "to"); err != nil {
		t.Fatal(err)
	}
	if err := split(1, 100, "igen"); err != nil { // what is already current: nothing to write, not stale
		t.Fatal(err)
	}
	err := split(1, 200, "gammel formular")
	if re := ruleErr(t, err); re.Code != domain.CodeConflict {
		t.Fatalf("stale change: %v", err)
	}
	if err := split(2, 300, "tre"); err != nil {
		t.Fatal(err)
	}
	h, err := s.CommitmentHistory(ctx, planID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range h {
		if v.SourceID == "boligselskaberne" {
			got = append(got, v.Note+"/"+v.ChangedByName)
		}
	}
	if diff := cmp.Diff([]string{"tre/Karen Iversen", "to/Karen Iversen", store.SeedNote + "/"}, got); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	if _, err := s.Commitments(ctx, "no-such-plan"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown plan: %v", err)
	}
}

func TestBudgetByYearChargesReleaseToCopenhagenYear(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	in := submit(t, s, "aar-1", cancelProposal("Årsindsats"))
	if err := s.Reserve(ctx, approveInput(t, in)); err != nil {
		t.Fatal(err)
	}
	r1 := releaseInput(t, in, 1) // 2022
	if err := s.Release(ctx, r1); err != nil {
		t.Fatal(err)
	}
	if err := s.ConfirmPayment(ctx, payInput(t, in, 1, "NETS-1")); err != nil {
		t.Fatal(err)
	}
	r2 := releaseInput(t, in, 2)
	// 23:30 UTC on New Year's Eve is 00:30 on 1 January 2023 in Copenhagen: charged to 2023.
	r2.Transition.Event.At = time.Date(2022, 12, 31, 23, 30, 0, 0, time.UTC)
	if err := s.Release(ctx, r2); err != nil {
		t.Fatal(err)
	}
	b, err := s.BudgetByYear(ctx, planID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b.Years, viborgYears) {
		t.Fatalf("years = %v", b.Years)
	}
	var lbf store.SourceYears
	for _, sy := range b.Sources {
		if sy.SourceID == "lbf" {
			lbf = sy
		}
	}
	want := []store.YearFigures{
		{Year: 2021, CommittedØre: 274_180_000},
		{Year: 2022, CommittedØre: 274_180_000, ReleasedØre: 40_000_000, PaidØre: 40_000_000},
		{Year: 2023, CommittedØre: 274_180_000, ReleasedØre: 30_000_001},
		{Year: 2024, CommittedØre: 274_180_000},
		{Year: 2025, CommittedØre: 274_180_000},
	}
	if diff := cmp.Diff(want, lbf.Years); diff != "" {
		t.Errorf("lbf by year (-want +got):\n%s", diff)
	}
	if lbf.Total.ReleasedØre != 70_000_001 || lbf.Total.PaidØre != 40_000_000 || lbf.Total.CommittedØre != 1_370_900_000 {
		t.Errorf("lbf total = %+v", lbf.Total)
	}
	if got := b.Total[1]; got.ReleasedØre != 45_000_000 || got.PaidØre != 45_000_000 {
		t.Errorf("2022 total = %+v", got)
	}
	cells, err := s.BudgetCells(ctx, planID)
	if err != nil {
		t.Fatal(err)
	}
	wantCells := []store.BudgetCell{
		{SourceID: "lbf", DelaftaleID: "uddannelse-og-livschancer", Year: 2022, ReleasedØre: 40_000_000, PaidØre: 40_000_000},
		{SourceID: "lbf", DelaftaleID: "uddannelse-og-livschancer", Year: 2023, ReleasedØre: 30_000_001},
		{SourceID: "viborg-kommune", DelaftaleID: "uddannelse-og-livschancer", Year: 2022, ReleasedØre: 5_000_000, PaidØre: 5_000_000},
		{SourceID: "viborg-kommune", DelaftaleID: "uddannelse-og-livschancer", Year: 2023, ReleasedØre: 10_000_003},
	}
	if diff := cmp.Diff(wantCells, cells); diff != "" {
		t.Errorf("cells (-want +got):\n%s", diff)
	}
}

func TestSetDelaftaleFrameKeepsHistory(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	if err := s.SetDelaftaleFrame(ctx, planID, "beskaeftigelse", mp(kr(1_000_000)), karen, "Bestyrelsens beslutning"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetDelaftaleFrame(ctx, planID, "beskaeftigelse", mp(kr(1_000_000)), karen, "igen"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetDelaftaleFrame(ctx, planID, "beskaeftigelse", nil, karen, "fjernet"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetDelaftaleFrame(ctx, planID, "nope", nil, karen, ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown delaftale: %v", err)
	}
	h, err := s.FrameHistory(ctx, planID)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].FrameØre != nil || h[1].FrameØre == nil || *h[1].FrameØre != kr(1_000_000) || h[1].Note != "Bestyrelsens beslutning" {
		t.Errorf("history = %+v", h)
	}
}
