package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
)

func utc(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, time.UTC)
}

// exec runs a statement that sets up test data the store has no method for (close-outs, returns, decisions at a
// chosen time).
func exec(t *testing.T, s *store.Store, q string, args ...any) {
	t.Helper()
	if _, err := s.DB().ExecContext(ctxT(t), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func ruleFields(err error) []string {
	var re *domain.RuleError
	if !errors.As(err, &re) {
		return nil
	}
	var out []string
	for _, p := range re.Problems {
		out = append(out, p.Field+":"+p.Code)
	}
	return out
}

// confirmedInKindAt records a confirmed in-kind contribution decided at the given instant.
func confirmedInKindAt(t *testing.T, s *store.Store, initiativeID, source string, value int64, at time.Time) {
	t.Helper()
	var id int64
	const q = `INSERT INTO inkind_contributions (plan_id, initiative_id, milestone_no, source_id, description, value_ore, registered_by)
		VALUES ($1, $2, 1, $3, 'Lokaler', $4, 'og-mette') RETURNING id`
	if err := s.DB().GetContext(ctxT(t), &id, q, planID, initiativeID, source, value); err != nil {
		t.Fatal(err)
	}
	exec(t, s, `INSERT INTO inkind_decisions (contribution_id, registered_by, status, decided_by, decided_at)
		VALUES ($1, 'og-mette', 'confirmed', 'fin-peter', $2)`, id, at)
}

// annualLedger builds the figures test's ledger on initiative "aars-1" (cancelProposal's tranches):
//
//	T1 (lbf 40.000.000 + vk 5.000.000 øre)    released 2024-03-01, paid 2024-12-31T23:30Z = 00:30 on 1.1.2025 (2025)
//	T2 (lbf 30.000.001 + vk 10.000.003)       released 2024-06-01, paid 2024-12-31T22:30Z = 23:30 on 31.12.2024
//	T3 (lbf 30.000.000 + vk 5.000.000)        released 2024-12-31T23:30Z (2025); vk's 5.000.000 withdrawn
//	in kind, vk: 1.234.567 confirmed 2024-05-01; 999 confirmed 2023-12-31T23:00Z (2024 in Copenhagen)
//	close-out 2025-03-01: lbf paid 70.000.001 = spent 60.000.000 + return 10.000.001 (received 2025-04-01);
//	                      vk  paid 15.000.003 = spent 14.000.000 + return 1.000.003 (open)
func annualLedger(t *testing.T, s *store.Store) {
	t.Helper()
	ctx := ctxT(t)
	if _, err := s.SetAnnualSettings(ctx, planID, store.AnnualSettingsInput{Due: domain.DefaultAnnualDue}, karen); err != nil {
		t.Fatal(err) // hold off: the releases below lie after earlier years' due dates
	}
	in := submit(t, s, "aars-1", cancelProposal("Årsregnskab"))
	if err := s.Reserve(ctx, approveInput(t, in)); err != nil {
		t.Fatal(err)
	}
	release := func(no int, at time.Time) {
		r := releaseInput(t, in, no)
		r.Transition.Event.At = at
		if err := s.Release(ctx, r); err != nil {
			t.Fatalf("release %d: %v", no, err)
		}
	}
	pay := func(no int, at time.Time) {
		p := payInput(t, in, no, "NETS-"+string(rune('0'+no)))
		p.Transition.Event.At = at
		if err := s.ConfirmPayment(ctx, p); err != nil {
			t.Fatalf("pay %d: %v", no, err)
		}
	}
	release(1, utc(2024, 3, 1, 10, 0))
	release(2, utc(2024, 6, 1, 10, 0))
	pay(2, utc(2024, 12, 31, 22, 30))
	pay(1, utc(2024, 12, 31, 23, 30))
	release(3, utc(2024, 12, 31, 23, 30))
	exec(t, s, `INSERT INTO ledger_entries (plan_id, source_id, initiative_id, delaftale_id, milestone_no, kind, amount_ore, idempotency_key)
		VALUES ($1, 'viborg-kommune', 'aars-1', 'uddannelse-og-livschancer', 3, 'withdraw', 5000000, 'test-withdraw-aars-1-3')`, planID)
	confirmedInKindAt(t, s, "aars-1", "viborg-kommune", 1_234_567, utc(2024, 5, 1, 10, 0))
	confirmedInKindAt(t, s, "aars-1", "viborg-kommune", 999, utc(2023, 12, 31, 23, 0))
	closed := utc(2025, 3, 1, 10, 0)
	exec(t, s, `INSERT INTO closeout_lines (initiative_id, plan_id, source_id, paid_ore, spent_ore, return_ore, unreserved_ore, closed_at)
		VALUES ('aars-1', $1, 'lbf', 70000001, 60000000, 10000001, 0, $2),
		       ('aars-1', $1, 'viborg-kommune', 15000003, 14000000, 1000003, 0, $2)`, planID, closed)
	exec(t, s, `INSERT INTO initiative_returns (id, plan_id, initiative_id, delaftale_id, source_id, amount_ore, status, created_at,
		received_at, received_by, reference)
		VALUES ('ret-lbf', $1, 'aars-1', 'uddannelse-og-livschancer', 'lbf', 10000001, 'received', $2, $3, 'fin-peter', 'BANK-1'),
		       ('ret-vk', $1, 'aars-1', 'uddannelse-og-livschancer', 'viborg-kommune', 1000003, 'open', $2, NULL, NULL, NULL)`,
		planID, closed, utc(2025, 4, 1, 10, 0))
}

func figuresOf(t *testing.T, f domain.AnnualStatementFigures, source string) domain.AnnualFigures {
	t.Helper()
	for _, s := range f.Sources {
		if s.SourceID == source {
			return s.AnnualFigures
		}
	}
	t.Fatalf("no source %s in %+v", source, f)
	return domain.AnnualFigures{}
}

func TestAnnualFiguresToTheØreWithCopenhagenYearBoundary(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	annualLedger(t, s)
	now := utc(2026, 2, 1, 12, 0)

	st, err := s.AnnualStatement(ctx, planID, 2024, now)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]domain.AnnualFigures{
		"lbf": {CommittedØre: 274_180_000, ReleasedØre: 70_000_001, PaidØre: 30_000_001, UnspentØre: 30_000_001,
			NetContributedØre: 30_000_001},
		"viborg-kommune": {CommittedØre: 144_000_000, ReleasedØre: 15_000_003, PaidØre: 10_000_003, InKindØre: 1_235_566,
			UnspentØre: 10_000_003, NetContributedØre: 11_235_569},
		"boligselskaberne": {CommittedØre: 95_600_000},
	}
	for src, w := range want {
		if diff := cmp.Diff(w, figuresOf(t, st.Figures, src)); diff != "" {
			t.Errorf("2024 %s (-want +got):\n%s", src, diff)
		}
	}
	wantTotal := domain.AnnualFigures{CommittedØre: 513_780_000, ReleasedØre: 85_000_004, PaidØre: 40_000_004,
		InKindØre: 1_235_566, UnspentØre: 40_000_004, NetContributedØre: 41_235_570}
	if diff := cmp.Diff(wantTotal, st.Figures.Total); diff != "" {
		t.Errorf("2024 total (-want +got):\n%s", diff)
	}
	if st.Status != domain.AnnualDraft || !st.Overdue || !st.YearOver || st.Due.String() != "2025-06-30" || st.PlanName == "" {
		t.Errorf("2024 summary = %+v", st.AnnualSummary)
	}

	st, err = s.AnnualStatement(ctx, planID, 2025, now)
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]domain.AnnualFigures{
		// T1's payment at 23:30 UTC on New Year's Eve is 2025 in Copenhagen; T3 released then too.
		"lbf": {CommittedØre: 274_180_000, ReleasedØre: 30_000_000, PaidØre: 40_000_000, SpentØre: 60_000_000,
			ReturnsRaisedØre: 10_000_001, ReturnedØre: 10_000_001, UnspentØre: 0, ReceivableØre: 0,
			NetContributedØre: 29_999_999},
		// T3's 5.000.000 from vk is withdrawn: nothing released in 2025.
		"viborg-kommune": {CommittedØre: 144_000_000, ReleasedØre: 0, PaidØre: 5_000_000, SpentØre: 14_000_000,
			ReturnsRaisedØre: 1_000_003, UnspentØre: 0, ReceivableØre: 1_000_003, NetContributedØre: 5_000_000},
	}
	for src, w := range want {
		if diff := cmp.Diff(w, figuresOf(t, st.Figures, src)); diff != "" {
			t.Errorf("2025 %s (-want +got):\n%s", src, diff)
		}
	}
	if got := st.Figures.Total.ReceivableØre; got != 1_000_003 {
		t.Errorf("2025 receivable total = %d", got)
	}
	// 2023: only what was committed; the in-kind decided at 23:00 UTC on 31.12.2023 belongs to 2024.
	st, err = s.AnnualStatement(ctx, planID, 2023, now)
	if err != nil {
		t.Fatal(err)
	}
	if st.Figures.Total != (domain.AnnualFigures{CommittedØre: 513_780_000}) {
		t.Errorf("2023 total = %+v", st.Figures.Total)
	}
	if _, err := s.AnnualStatement(ctx, planID, 2019, now); ruleCode(err) != domain.CodeNotFound {
		t.Errorf("2019: %v, want not_found", err)
	}
}

func TestAnnualDeclarationFreezesFiguresAndFilingRules(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	annualLedger(t, s)
	now := utc(2025, 5, 1, 12, 0)
	decl := store.AnnualDeclarationInput{DeclaredOn: domain.NewDate(2025, 3, 15), Auditor: "Revisor Hansen",
		Reference: "RE-2024-17", Note: "Blank erklæring"}

	// The year is not over yet.
	if _, err := s.DeclareAnnualStatement(ctx, planID, 2025, decl, karen, now); ruleCode(err) != domain.CodeConflict ||
		!strings.Contains(err.Error(), "ikke slut") {
		t.Errorf("2025 declared in 2025: %v", err)
	}
	// Field rules.
	bad := store.AnnualDeclarationInput{DeclaredOn: domain.NewDate(2024, 12, 31), Auditor: " ", Reference: "R"}
	_, err := s.DeclareAnnualStatement(ctx, planID, 2024, bad, karen, now)
	if diff := cmp.Diff([]string{"declared_on:before_year_end", "auditor:required"}, ruleFields(err)); diff != "" {
		t.Errorf("bad declaration fields (-want +got):\n%s", diff)
	}
	bad.DeclaredOn, bad.Auditor = domain.NewDate(2025, 5, 2), "A"
	if _, err := s.DeclareAnnualStatement(ctx, planID, 2024, bad, karen, now); !slicesEqual(ruleFields(err), "declared_on:in_future") {
		t.Errorf("future declaration: %v", err)
	}
	if _, err := s.DeclareAnnualStatement(ctx, planID, 2030, decl, karen, now); ruleCode(err) != domain.CodeNotFound {
		t.Errorf("2030: %v", err)
	}
	// No filing before the declaration.
	filing := store.AnnualFilingInput{FiledOn: domain.NewDate(2025, 3, 20)}
	if _, err := s.FileAnnualStatement(ctx, planID, 2024, filing, karen, now); ruleCode(err) != domain.CodeConflict {
		t.Errorf("filing without declaration: %v", err)
	}

	st, err := s.DeclareAnnualStatement(ctx, planID, 2024, decl, karen, now)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != domain.AnnualDeclared || st.Declaration == nil || st.Changed ||
		!st.Declaration.Figures.Equal(st.Figures) || st.Declaration.RecordedBy != "adm-karen" || st.Declaration.Note != "Blank erklæring" {
		t.Fatalf("declared = %+v", st)
	}
	// The same again is harmless; another is a conflict.
	if _, err := s.DeclareAnnualStatement(ctx, planID, 2024, decl, karen, now); err != nil {
		t.Errorf("repeat: %v", err)
	}
	other := decl
	other.Auditor = "Revisor Jensen"
	if _, err := s.DeclareAnnualStatement(ctx, planID, 2024, other, karen, now); ruleCode(err) != domain.CodeConflict ||
		!strings.Contains(err.Error(), "Revisor Hansen") {
		t.Errorf("other declaration: %v", err)
	}
	if n := count(t, s, `SELECT count(*) FROM annual_statement_declarations`); n != 1 {
		t.Errorf("%d declarations", n)
	}

	// A later booking in 2024 changes the live figures; the frozen ones stay.
	confirmedInKindAt(t, s, "aars-1", "viborg-kommune", 100, utc(2024, 7, 1, 10, 0))
	st, err = s.AnnualStatement(ctx, planID, 2024, now)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Changed || st.Declaration.Figures.Total.InKindØre != 1_235_566 || st.Figures.Total.InKindØre != 1_235_666 {
		t.Errorf("after a later booking: changed=%v frozen=%d live=%d", st.Changed, st.Declaration.Figures.Total.InKindØre,
			st.Figures.Total.InKindØre)
	}

	// Filing: not before the declaration, not in the future; once.
	early := store.AnnualFilingInput{FiledOn: domain.NewDate(2025, 3, 14)}
	if _, err := s.FileAnnualStatement(ctx, planID, 2024, early, karen, now); !slicesEqual(ruleFields(err), "filed_on:before_declaration") {
		t.Errorf("early filing: %v", err)
	}
	if _, err := s.FileAnnualStatement(ctx, planID, 2024, store.AnnualFilingInput{FiledOn: domain.NewDate(2025, 6, 1)}, karen, now); !slicesEqual(ruleFields(err), "filed_on:in_future") {
		t.Errorf("future filing: %v", err)
	}
	st, err = s.FileAnnualStatement(ctx, planID, 2024, filing, karen, now)
	if err != nil || st.Status != domain.AnnualFiled || st.Overdue || st.Filing == nil || st.Filing.FiledOn.String() != "2025-03-20" {
		t.Fatalf("filed = %+v, %v", st, err)
	}
	if _, err := s.FileAnnualStatement(ctx, planID, 2024, filing, karen, now); err != nil {
		t.Errorf("repeat filing: %v", err)
	}
	if _, err := s.FileAnnualStatement(ctx, planID, 2024, store.AnnualFilingInput{FiledOn: domain.NewDate(2025, 3, 21)}, karen, now); ruleCode(err) != domain.CodeConflict {
		t.Errorf("other filing: %v", err)
	}
	// Append-only.
	if _, err := s.DB().ExecContext(ctx, `UPDATE annual_statement_declarations SET auditor = 'x'`); err == nil {
		t.Error("a declaration could be changed")
	}

	list, err := s.AnnualStatements(ctx, planID, now)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, y := range list {
		got = append(got, strings.Join([]string{y.Due.String(), string(y.Status), map[bool]string{true: "overdue", false: "-"}[y.Overdue]}, " "))
	}
	wantList := []string{"2022-06-30 draft overdue", "2023-06-30 draft overdue", "2024-06-30 draft overdue",
		"2025-06-30 filed -", "2026-06-30 draft -"}
	if diff := cmp.Diff(wantList, got); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
}

func slicesEqual(got []string, want ...string) bool { return cmp.Equal(got, want) }

func TestAnnualSettingsHistory(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	set, err := s.AnnualSettings(ctx, planID)
	if err != nil || set.Due != domain.DefaultAnnualDue || !set.HoldReleases || set.Version != 0 {
		t.Fatalf("defaults = %+v, %v", set, err)
	}
	_, err = s.SetAnnualSettings(ctx, planID, store.AnnualSettingsInput{Due: domain.AnnualDue{Month: 2, Day: 29}, HoldReleases: true}, karen)
	if !slicesEqual(ruleFields(err), "due_day:out_of_range") {
		t.Errorf("29 February: %v", err)
	}
	in := store.AnnualSettingsInput{Due: domain.AnnualDue{Month: 5, Day: 31}, HoldReleases: true, Note: "LBF-brev"}
	if set, err = s.SetAnnualSettings(ctx, planID, in, karen); err != nil || set.Version != 1 || set.Due.Day != 31 {
		t.Fatalf("set = %+v, %v", set, err)
	}
	if set, err = s.SetAnnualSettings(ctx, planID, in, karen); err != nil || set.Version != 1 {
		t.Errorf("repeat wrote a version: %+v, %v", set, err)
	}
	if set.History[0].ChangedBy != "adm-karen" || set.History[0].Note != "LBF-brev" {
		t.Errorf("history = %+v", set.History)
	}
	if _, err := s.AnnualSettings(ctx, "ukendt"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown plan: %v", err)
	}
}

func TestReleaseHeldWhileAnnualStatementOverdue(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	// 2021 is delivered.
	if _, err := s.DeclareAnnualStatement(ctx, planID, 2021, store.AnnualDeclarationInput{DeclaredOn: domain.NewDate(2022, 3, 1),
		Auditor: "Revisor Hansen", Reference: "R-2021"}, karen, utc(2022, 4, 1, 9, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FileAnnualStatement(ctx, planID, 2021, store.AnnualFilingInput{FiledOn: domain.NewDate(2022, 3, 2)}, karen, utc(2022, 4, 1, 9, 0)); err != nil {
		t.Fatal(err)
	}
	// Money moved in 2022 (a tranche released in October), so 2022 owes a statement; a year without any would not.
	in0 := submit(t, s, "hold-0", cancelProposal("Hold 0"))
	if err := s.Reserve(ctx, approveInput(t, in0)); err != nil {
		t.Fatal(err)
	}
	r0 := releaseInput(t, in0, 1)
	r0.Transition.Event.At = utc(2022, 10, 3, 9, 0)
	if err := s.Release(ctx, r0); err != nil {
		t.Fatal(err)
	}
	in := submit(t, s, "hold-1", cancelProposal("Hold"))
	if err := s.Reserve(ctx, approveInput(t, in)); err != nil {
		t.Fatal(err)
	}

	// 23:00 on 30.06.2023 in Copenhagen: the due day of 2022's statement is not over.
	r1 := releaseInput(t, in, 1)
	r1.Transition.Event.At = utc(2023, 6, 30, 21, 0)
	if err := s.Release(ctx, r1); err != nil {
		t.Fatalf("release before due: %v", err)
	}
	// 00:30 on 1.7.2023 in Copenhagen: overdue, refused with the year and the due date, nothing written.
	r2 := releaseInput(t, in, 2)
	r2.Transition.Event.At = utc(2023, 6, 30, 22, 30)
	err := s.Release(ctx, r2)
	const msg = "Nye rater holdes tilbage: årsregnskabet for 2022 skulle have været indsendt til Landsbyggefonden senest 30.06.2023."
	var re *domain.RuleError
	if !errors.As(err, &re) || re.Code != domain.CodeStatementOverdue || re.Message != msg {
		t.Fatalf("release after due: %v", err)
	}
	if n := count(t, s, `SELECT count(*) FROM disbursements WHERE initiative_id = 'hold-1'`); n != 1 {
		t.Errorf("%d disbursements after the refusal", n)
	}
	h, err := s.ReleaseHold(ctx, planID, utc(2023, 7, 1, 8, 0))
	if err != nil || h == nil || h.Year != 2022 || h.Message != msg {
		t.Errorf("hold = %+v, %v", h, err)
	}
	// Declared is not delivered.
	now := utc(2023, 7, 2, 9, 0)
	if _, err := s.DeclareAnnualStatement(ctx, planID, 2022, store.AnnualDeclarationInput{DeclaredOn: domain.NewDate(2023, 7, 1),
		Auditor: "Revisor Hansen", Reference: "R-2022"}, karen, now); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, r2); ruleCode(err) != domain.CodeStatementOverdue {
		t.Errorf("release with 2022 only declared: %v", err)
	}
	// Filed: released.
	if _, err := s.FileAnnualStatement(ctx, planID, 2022, store.AnnualFilingInput{FiledOn: domain.NewDate(2023, 7, 2)}, karen, now); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, r2); err != nil {
		t.Fatalf("release after filing: %v", err)
	}
	if h, err := s.ReleaseHold(ctx, planID, now); err != nil || h != nil {
		t.Errorf("hold after filing = %+v, %v", h, err)
	}
	// 2023 overdue in August 2024; with the hold off the release goes through.
	r3 := releaseInput(t, in, 3)
	r3.Transition.Event.At = utc(2024, 8, 1, 10, 0)
	if err := s.Release(ctx, r3); ruleCode(err) != domain.CodeStatementOverdue || !strings.Contains(err.Error(), "2023") {
		t.Fatalf("release with 2023 overdue: %v", err)
	}
	if _, err := s.SetAnnualSettings(ctx, planID, store.AnnualSettingsInput{Due: domain.DefaultAnnualDue, HoldReleases: false}, karen); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, r3); err != nil {
		t.Fatalf("release with the hold off: %v", err)
	}
}

// A plan year in which the plan moved no money through the product owes no statement from it, so it holds
// nothing: Viborg's plan started in 2021, long before it was run here.
func TestAYearWithoutMoneyHoldsNothing(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	in := submit(t, s, "stille", cancelProposal("Stille år"))
	if err := s.Reserve(ctx, approveInput(t, in)); err != nil {
		t.Fatal(err)
	}
	r1 := releaseInput(t, in, 1)
	r1.Transition.Event.At = utc(2024, 8, 1, 10, 0) // 2021-2023 are overdue, but nothing happened in them
	if err := s.Release(ctx, r1); err != nil {
		t.Fatalf("first release in 2024: %v", err)
	}
	if h, err := s.ReleaseHold(ctx, planID, utc(2025, 8, 1, 10, 0)); err != nil || h == nil || h.Year != 2024 {
		t.Fatalf("after 30.06.2025 with money moved in 2024: hold %+v, %v; want 2024 overdue", h, err)
	}
}
