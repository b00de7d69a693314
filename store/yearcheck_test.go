package store_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
)

// lbfYear is Landsbyggefonden's commitment for each year of the Viborg plan in the seed's even split:
// 13.709.000 kr. / 5 = 2.741.800 kr.
const lbfYear = domain.Money(274_180_000)

// yearProposal is a Landsbyggefonden-only proposal on delaftale Beskæftigelse with one milestone per tranche:
// milestone i is due on dues[i] and its tranche is tranches[i]. Tranche 1 is planned in the approval's year,
// tranche k >= 2 in the year milestone k-1 is due.
func yearProposal(title string, tranches []domain.Money, dues ...domain.Date) domain.Proposal {
	p := domain.Proposal{
		Title:          title,
		Description:    "Jobcafé i beboerhuset.",
		DelaftaleID:    "beskaeftigelse",
		HousingAreaIDs: []string{"vestervang"},
		TargetGroup:    "Ledige beboere",
		Goals:          []domain.Goal{{ID: "g1", Description: "Flere i job", SuccessCriterion: "20 i job"}},
	}
	var total domain.Money
	for i, m := range tranches {
		total += m
		p.Milestones = append(p.Milestones, domain.MilestonePlan{Title: "Milepæl", DueDate: dues[i],
			Tranche: []domain.SourceAmount{{SourceID: "lbf", AmountØre: m}}})
	}
	p.Budget = []domain.SourceAmount{{SourceID: "lbf", AmountØre: total}}
	return p
}

// approvalStep is the board's approval as the workflow writes it: the reservation and the release of tranche 1
// in one step, at `at` (zero: the helpers' clock).
func approvalStep(t *testing.T, in *domain.Initiative, at time.Time) store.Step {
	t.Helper()
	res := approveInput(t, in)
	rel := releaseInput(t, in, 1)
	if !at.IsZero() {
		res.Transition.Event.At, rel.Transition.Event.At = at, at
	}
	return store.Step{Reserve: &res, Release: &rel}
}

// changeStep applies an approved change to in: edit changes its milestones (and the budget follows their tranches),
// more is what it asks for on top of the reservation.
func changeStep(t *testing.T, in *domain.Initiative, no int, more domain.Money, edit func(ms []domain.Milestone)) store.Step {
	t.Helper()
	edit(in.Milestones)
	var total domain.Money
	in.Proposal.Milestones = nil
	for _, m := range in.Milestones {
		for _, l := range m.Tranche {
			total += l.AmountØre
		}
		in.Proposal.Milestones = append(in.Proposal.Milestones, domain.MilestonePlan{Title: m.Title,
			DueDate: m.DueDate, Tranche: m.Tranche})
	}
	in.Proposal.Budget = []domain.SourceAmount{{SourceID: "lbf", AmountØre: total}}
	tr := step(t, in, "change_applied", hanne, domain.PhaseExecuting)
	return store.Step{Reserve: &store.ReserveInput{PlanID: planID, InitiativeID: in.ID, DelaftaleID: in.Proposal.DelaftaleID,
		Lines: []domain.SourceAmount{{SourceID: "lbf", AmountØre: more}}, Transition: tr,
		KeySuffix: "change-" + strconv.Itoa(no)}}
}

// wantYearRefusal checks that err is the year rule's refusal with exactly message and that initiative id's step
// wrote nothing: no reservation of it beyond reserved, and its read model still at version.
func wantYearRefusal(t *testing.T, s *store.Store, err error, message, id string, reserves int, version int64) {
	t.Helper()
	var re *domain.RuleError
	if !errors.As(err, &re) || re.Code != domain.CodeYearCommitmentExceeded {
		t.Fatalf("err = %v, want %s", err, domain.CodeYearCommitmentExceeded)
	}
	if diff := cmp.Diff(message, re.Message); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
	if n := count(t, s, `SELECT count(*) FROM ledger_entries WHERE initiative_id = $1 AND kind = 'reserve'`, id); n != reserves {
		t.Errorf("%s: %d reservations after the refusal, want %d", id, n, reserves)
	}
	if got, err := s.GetInitiative(ctxT(t), id); err != nil || got.Version != version {
		t.Errorf("%s: read model at v%d (%v), want v%d: the refused step was recorded", id, got.Version, err, version)
	}
}

func TestYearCommitmentApprovalExactlyAtLimitPassesOneØreOverRefused(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	decideEvenSplit(t, s)
	ctx := ctxT(t)
	// A: 1.000.000 kr. released at approval in 2022.
	a := submit(t, s, "a", yearProposal("A", []domain.Money{kr(1_000_000)}, domain.NewDate(2022, 6, 1)))
	if _, err := s.WriteStep(ctx, approvalStep(t, a, time.Time{})); err != nil {
		t.Fatalf("approve A: %v", err)
	}
	// B: 500.000 kr. released at approval, the rest planned in 2022 (milestone 1 is due in 2022): 2022 then holds
	// exactly Landsbyggefonden's 2.741.800 kr.
	b := submit(t, s, "b", yearProposal("B", []domain.Money{kr(500_000), lbfYear - kr(1_500_000)},
		domain.NewDate(2022, 9, 1), domain.NewDate(2023, 6, 1)))
	if _, err := s.WriteStep(ctx, approvalStep(t, b, time.Time{})); err != nil {
		t.Fatalf("approve B exactly at the year's commitment: %v", err)
	}
	// C: one øre more in 2022.
	c := submit(t, s, "c", yearProposal("C", []domain.Money{1}, domain.NewDate(2022, 12, 1)))
	_, err := s.WriteStep(ctx, approvalStep(t, c, time.Time{}))
	wantYearRefusal(t, s, err, "Landsbyggefonden har givet tilsagn om 2.741.800,00 kr. for 2022; der er frigivet "+
		"1.500.000,00 kr. og planlagt 1.241.800,00 kr., og forslaget beder om 0,01 kr. i 2022 — 0,01 kr. for meget.",
		"c", 0, 1)
	if n := count(t, s, `SELECT count(*) FROM disbursements WHERE initiative_id = 'c'`); n != 0 {
		t.Errorf("the refused approval released %d tranches", n)
	}
}

func TestYearCommitmentReleasedTrancheCountsInItsReleaseYear(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	decideEvenSplit(t, s)
	ctx := ctxT(t)
	// A is approved at 23:30 UTC on New Year's Eve 2021, which is 2022 in Copenhagen: tranche 1 is released in
	// 2022. Tranche 2 is planned for 2023 (milestone 1 is due then) but released early, in April 2022.
	a := submit(t, s, "a", yearProposal("A", []domain.Money{kr(1_000_000), kr(1_000_000)},
		domain.NewDate(2023, 6, 1), domain.NewDate(2024, 6, 1)))
	if _, err := s.WriteStep(ctx, approvalStep(t, a, time.Date(2021, 12, 31, 23, 30, 0, 0, time.UTC))); err != nil {
		t.Fatalf("approve A: %v", err)
	}
	rel := releaseInput(t, a, 2)
	rel.Transition.Event.At = time.Date(2022, 4, 1, 9, 0, 0, 0, time.UTC)
	if err := s.Release(ctx, rel); err != nil {
		t.Fatalf("release A's tranche 2 early: %v", err)
	}
	// 2022 holds A's 2.000.000 kr. released: one øre more than the rest of 2022 is refused ...
	b := submit(t, s, "b", yearProposal("B", []domain.Money{lbfYear - kr(2_000_000) + 1}, domain.NewDate(2022, 12, 1)))
	_, err := s.WriteStep(ctx, approvalStep(t, b, time.Time{}))
	wantYearRefusal(t, s, err, "Landsbyggefonden har givet tilsagn om 2.741.800,00 kr. for 2022; der er frigivet "+
		"2.000.000,00 kr. og planlagt 0,00 kr., og forslaget beder om 741.800,01 kr. i 2022 — 0,01 kr. for meget.",
		"b", 0, 1)
	// ... and 2023, where A's tranche 2 was planned, is free again: all of it fits.
	c := submit(t, s, "c", yearProposal("C", []domain.Money{kr(100_000), lbfYear},
		domain.NewDate(2023, 3, 1), domain.NewDate(2024, 3, 1)))
	if _, err := s.WriteStep(ctx, approvalStep(t, c, time.Time{})); err != nil {
		t.Fatalf("approve C with all of 2023: %v", err)
	}
}

func TestYearCommitmentChangeMovingTrancheIsCheckedAgainstNewYear(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	decideEvenSplit(t, s)
	ctx := ctxT(t)
	// A: tranche 1 released in 2022, tranche 2 (1.000.000 kr.) planned for 2023.
	a := submit(t, s, "a", yearProposal("A", []domain.Money{kr(500_000), kr(1_000_000)},
		domain.NewDate(2023, 6, 1), domain.NewDate(2024, 6, 1)))
	if _, err := s.WriteStep(ctx, approvalStep(t, a, time.Time{})); err != nil {
		t.Fatalf("approve A: %v", err)
	}
	// B plans 2.241.800 kr. for 2024: 500.000 kr. of 2024 are left.
	b := submit(t, s, "b", yearProposal("B", []domain.Money{kr(100_000), lbfYear - kr(500_000)},
		domain.NewDate(2024, 3, 1), domain.NewDate(2025, 6, 1)))
	if _, err := s.WriteStep(ctx, approvalStep(t, b, time.Time{})); err != nil {
		t.Fatalf("approve B: %v", err)
	}
	// A's change postpones milestone 1 to 2024, so tranche 2 moves from 2023 to 2024, and asks 1 kr. more for it.
	saved := clone(t, *a)
	_, err := s.WriteStep(ctx, changeStep(t, a, 1, kr(1), func(ms []domain.Milestone) {
		ms[0].DueDate = domain.NewDate(2024, 2, 1)
		ms[1].Tranche = []domain.SourceAmount{{SourceID: "lbf", AmountØre: kr(1_000_001)}}
	}))
	wantYearRefusal(t, s, err, "Landsbyggefonden har givet tilsagn om 2.741.800,00 kr. for 2024; der er frigivet "+
		"0,00 kr. og planlagt 2.241.800,00 kr., og ændringen planlægger 1.000.001,00 kr. i 2024 (før 0,00 kr.) — "+
		"500.001,00 kr. for meget.", "a", 1, saved.Version)
	// The same change postponing to 2025, where there is room, passes; 2023 is then empty of A.
	*a = saved
	if _, err := s.WriteStep(ctx, changeStep(t, a, 1, kr(1), func(ms []domain.Milestone) {
		ms[0].DueDate = domain.NewDate(2025, 1, 15)
		ms[1].Tranche = []domain.SourceAmount{{SourceID: "lbf", AmountØre: kr(1_000_001)}}
	})); err != nil {
		t.Fatalf("change to 2025: %v", err)
	}
	// A later approval sees A's tranche in 2025, not in 2023 where it was: all of 2023 fits, 2025 is short.
	c := submit(t, s, "c", yearProposal("C", []domain.Money{kr(1), lbfYear}, domain.NewDate(2023, 3, 1), domain.NewDate(2024, 3, 1)))
	if _, err := s.WriteStep(ctx, approvalStep(t, c, time.Time{})); err != nil {
		t.Fatalf("approve C with all of 2023 after A left it: %v", err)
	}
	d := submit(t, s, "d", yearProposal("D", []domain.Money{kr(1), lbfYear}, domain.NewDate(2025, 3, 1), domain.NewDate(2026, 3, 1)))
	_, err = s.WriteStep(ctx, approvalStep(t, d, time.Time{}))
	wantYearRefusal(t, s, err, "Landsbyggefonden har givet tilsagn om 2.741.800,00 kr. for 2025; der er frigivet "+
		"0,00 kr. og planlagt 1.000.001,00 kr., og forslaget beder om 2.741.800,00 kr. i 2025 — 1.000.001,00 kr. for meget.",
		"d", 0, 1)
}

func TestYearCommitmentYearAlreadyOverRefusedOnlyWhenMadeWorse(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	decideEvenSplit(t, s)
	ctx := ctxT(t)
	// A plans 1.000.000 kr. for 2023.
	a := submit(t, s, "a", yearProposal("A", []domain.Money{kr(500_000), kr(1_000_000)},
		domain.NewDate(2023, 6, 1), domain.NewDate(2024, 6, 1)))
	if _, err := s.WriteStep(ctx, approvalStep(t, a, time.Time{})); err != nil {
		t.Fatalf("approve A: %v", err)
	}
	// Admin lowers 2023 to 500.000 kr. and moves the rest to 2024: 2023 is now over by 500.000 kr.
	if _, err := s.SetCommitments(ctx, planID, []store.CommitmentSplit{{SourceID: "lbf",
		Years: yearsOf(lbfYear, lbfYear, kr(500_000), 2*lbfYear-kr(500_000), lbfYear)}}, karen, "2023 skåret ned"); err != nil {
		t.Fatal(err)
	}
	// A change that adds a tranche in 2024 and leaves 2023 as it is passes.
	if _, err := s.WriteStep(ctx, changeStep(t, a, 1, kr(100_000), func(ms []domain.Milestone) {
		a.Milestones = append(a.Milestones, domain.Milestone{No: 3, Title: "Opfølgning", DueDate: domain.NewDate(2025, 3, 1),
			Tranche: []domain.SourceAmount{{SourceID: "lbf", AmountØre: kr(100_000)}}, TrancheStatus: domain.TrancheScheduled})
	})); err != nil {
		t.Fatalf("a change that adds nothing to the year already over: %v", err)
	}
	// One that adds an øre to 2023 is refused.
	_, err := s.WriteStep(ctx, changeStep(t, a, 2, 1, func(ms []domain.Milestone) {
		ms[1].Tranche = []domain.SourceAmount{{SourceID: "lbf", AmountØre: kr(1_000_000) + 1}}
	}))
	wantYearRefusal(t, s, err, "Landsbyggefonden har givet tilsagn om 500.000,00 kr. for 2023; der er frigivet "+
		"0,00 kr. og planlagt 0,00 kr., og ændringen planlægger 1.000.000,01 kr. i 2023 (før 1.000.000,00 kr.) — "+
		"500.000,01 kr. for meget.", "a", 2, a.Version-1)
}

func TestYearCommitmentRacingApprovalsOnlyOnePasses(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	decideEvenSplit(t, s)
	ctx := ctxT(t)
	// Each fits 2022 alone (2.000.000 of 2.741.800 kr.), together they do not.
	a := submit(t, s, "a", yearProposal("A", []domain.Money{kr(2_000_000)}, domain.NewDate(2022, 12, 1)))
	b := submit(t, s, "b", yearProposal("B", []domain.Money{kr(2_000_000)}, domain.NewDate(2022, 12, 1)))
	sa, sb := approvalStep(t, a, time.Time{}), approvalStep(t, b, time.Time{})
	errs := parallel(func() error { _, err := s.WriteStep(ctx, sa); return err },
		func() error { _, err := s.WriteStep(ctx, sb); return err })
	ok, refused := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case ruleCode(err) == domain.CodeYearCommitmentExceeded:
			refused++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 || refused != 1 {
		t.Fatalf("%d passed, %d refused (%v); want one each", ok, refused, errs)
	}
	if n := count(t, s, `SELECT count(*) FROM ledger_entries WHERE kind = 'reserve'`); n != 1 {
		t.Errorf("%d reservations, want the winner's one", n)
	}
	if n := count(t, s, `SELECT count(*) FROM disbursements`); n != 1 {
		t.Errorf("%d disbursements, want the winner's one", n)
	}
}

// commitAllIn2022 gives each source's whole commitment to 2022, as admin would, for tests of the other money rules
// (funds, frame, co-financing, the ledger's lists) whose fixtures reserve more of a source in one year than the
// seed's even split allows: the test helpers approve on t0 (2022) and plan tranche 2 at milestone 1's due date
// (also 2022), so the year rule would refuse before the rule under test is reached.
func commitAllIn2022(t testing.TB, s *store.Store) {
	t.Helper()
	ctx := ctxT(t)
	c, err := s.Commitments(ctx, planID)
	if err != nil {
		t.Fatal(err)
	}
	var splits []store.CommitmentSplit
	for _, src := range c.Sources {
		splits = append(splits, store.CommitmentSplit{SourceID: src.SourceID, Years: yearsOf(0, src.CommittedØre, 0, 0, 0)})
	}
	if _, err := s.SetCommitments(ctx, planID, splits, karen, "Alt i 2022 (test af de andre regler)"); err != nil {
		t.Fatal(err)
	}
}

// decideEvenSplit has admin record the seed's even split as the plan's decided split: until then the seed's
// placeholder binds nothing.
func decideEvenSplit(t testing.TB, s *store.Store) {
	t.Helper()
	ctx := ctxT(t)
	cur, err := s.Commitments(ctx, planID)
	if err != nil {
		t.Fatal(err)
	}
	var splits []store.CommitmentSplit
	for _, c := range cur.Sources {
		splits = append(splits, store.CommitmentSplit{SourceID: c.SourceID, Years: c.Years})
	}
	if _, err := s.SetCommitments(ctx, planID, splits, karen, "Ligelig fordeling besluttet"); err != nil {
		t.Fatal(err)
	}
}

// The seed's even split is a placeholder: an approval that plans all of Landsbyggefonden's money in one year passes
// until admin records a split, and is refused after.
func TestYearCommitmentSeedPlaceholderBindsNothingUntilDecided(t *testing.T) {
	s := dbtest.New(t)
	ctx := ctxT(t)
	big := submit(t, s, "stor", yearProposal("Stor", []domain.Money{lbfYear + 1}, domain.NewDate(2022, 12, 1)))
	if _, err := s.WriteStep(ctx, approvalStep(t, big, time.Time{})); err != nil {
		t.Fatalf("over the placeholder's year: %v", err)
	}
	decideEvenSplit(t, s)
	next := submit(t, s, "naeste", yearProposal("Næste", []domain.Money{1}, domain.NewDate(2022, 12, 1)))
	_, err := s.WriteStep(ctx, approvalStep(t, next, time.Time{}))
	var re *domain.RuleError
	if !errors.As(err, &re) || re.Code != domain.CodeYearCommitmentExceeded {
		t.Fatalf("after admin decided the split: %v, want year_commitment_exceeded", err)
	}
}

// A change that reserves nothing — it only moves a tranche into another year — is judged too (Step.YearsOfChange),
// under the same locks; its rerun after a lost answer is not judged again.
func TestYearCommitmentChangeWithoutReservationIsChecked(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	decideEvenSplit(t, s)
	ctx := ctxT(t)
	a := submit(t, s, "a", yearProposal("A", []domain.Money{kr(500_000), kr(1_000_000)},
		domain.NewDate(2023, 6, 1), domain.NewDate(2024, 6, 1)))
	if _, err := s.WriteStep(ctx, approvalStep(t, a, time.Time{})); err != nil {
		t.Fatalf("approve A: %v", err)
	}
	b := submit(t, s, "b", yearProposal("B", []domain.Money{kr(100_000), lbfYear - kr(500_000)},
		domain.NewDate(2024, 3, 1), domain.NewDate(2025, 6, 1)))
	if _, err := s.WriteStep(ctx, approvalStep(t, b, time.Time{})); err != nil {
		t.Fatalf("approve B: %v", err)
	}
	moveOnly := func(due domain.Date) store.Step {
		st := changeStep(t, a, 1, 0, func(ms []domain.Milestone) { ms[0].DueDate = due })
		tr := st.Reserve.Transition
		return store.Step{Transitions: []store.Transition{tr}, YearsOfChange: "change-1"}
	}
	saved := clone(t, *a)
	// Milestone 1 postponed to 2024: tranche 2 (1.000.000 kr.) moves from 2023 into 2024, which has 500.000 kr. left.
	_, err := s.WriteStep(ctx, moveOnly(domain.NewDate(2024, 2, 1)))
	wantYearRefusal(t, s, err, "Landsbyggefonden har givet tilsagn om 2.741.800,00 kr. for 2024; der er frigivet "+
		"0,00 kr. og planlagt 2.241.800,00 kr., og ændringen planlægger 1.000.000,00 kr. i 2024 (før 0,00 kr.) — "+
		"500.000,00 kr. for meget.", "a", 1, saved.Version)
	// Postponed to 2025, where there is room: applied; the same step again (its answer lost) is not judged again.
	*a = saved
	st := moveOnly(domain.NewDate(2025, 1, 15))
	if _, err := s.WriteStep(ctx, st); err != nil {
		t.Fatalf("change to 2025: %v", err)
	}
	if _, err := s.WriteStep(ctx, st); err != nil {
		t.Fatalf("the same change again: %v", err)
	}
}
