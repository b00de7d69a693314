package store_test

import (
	"strings"
	"testing"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
)

var karenAdmin = domain.Actor{UserID: "adm-karen", Name: "Karen Iversen", Role: domain.RoleAdmin}

func i64(n int64) *int64 { return &n }

// A proposal refused by the 25 % rule passes, unchanged, once enough in-kind from Viborg Kommune (local) is
// confirmed; registered and rejected in-kind count for nothing, and none of it reaches the ledger.
func TestConfirmedInKindCountsAsLocalCofinancing(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	half := submit(t, s, "half", budgetOf("half", "beskaeftigelse", kr(2_000_000), kr(2_000_000)))
	if err := s.Reserve(ctx, approveInput(t, half)); err != nil {
		t.Fatal(err)
	}
	// 2.000.000 local of 8.000.000,01 kr. afterwards: one øre below 25 %.
	below := submit(t, s, "below", budgetOf("below", "beskaeftigelse", kr(4_000_000)+1, 0))
	ri := approveInput(t, below)
	wantRefusal(t, s, s.Reserve(ctx, ri), domain.CodeCofinancing, "below", "falde fra 50,0 % til 24,9 %")

	// 100 hours at 100,00 kr. = 10.000 kr. from Viborg Kommune, registered by Mette; and a rejected 1 mio. kr.
	hours := domain.InKind{SourceID: "viborg-kommune", MilestoneNo: 1, Hours: i64(100), RateØre: mp(kr(100)),
		Description: "Medarbejdertimer fra Jobcentret"}
	c, err := s.RegisterInKind(ctx, half.ID, hours, mette)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != domain.InKindRegistered || c.ValueØre != int64(kr(10_000)) || c.RegisteredByName != "Mette Kjær" ||
		c.SourceName != "Viborg Kommune" || c.InitiativeTitle != "Indsats half" {
		t.Fatalf("registered %+v", c)
	}
	big, err := s.RegisterInKind(ctx, half.ID, domain.InKind{SourceID: "viborg-kommune", MilestoneNo: 1,
		ValueØre: mp(kr(1_000_000)), Description: "Lokaler"}, mette)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DecideInKind(ctx, big.ID, domain.InKindRejected, "Lokalerne er allerede betalt af LBF", peter); err != nil {
		t.Fatal(err)
	}
	// Registered and rejected in-kind count for nothing.
	wantRefusal(t, s, s.Reserve(ctx, ri), domain.CodeCofinancing, "below", "falde fra 50,0 % til 24,9 %")

	// Confirmed 10.000 kr. of local in-kind: 2.010.000 of 8.010.000,01 kr. afterwards, 25,09 %.
	if _, err := s.DecideInKind(ctx, c.ID, domain.InKindConfirmed, "", peter); err != nil {
		t.Fatal(err)
	}
	b, err := s.Budget(ctx, planID)
	if err != nil {
		t.Fatal(err)
	}
	co := b.Cofinancing()
	if co.Approved.Total != kr(4_010_000) || co.Approved.Local != kr(2_010_000) {
		t.Fatalf("approved share %+v, want 2.010.000 of 4.010.000 kr.", co.Approved)
	}
	for _, src := range b.Sources {
		want := domain.Money(0)
		if src.SourceID == "viborg-kommune" {
			want = kr(10_000)
		}
		if src.InKindØre != want {
			t.Errorf("%s: in-kind %s, want %s", src.SourceID, src.InKindØre, want)
		}
	}
	if b.Total.PaidØre != 0 || b.Total.ReleasedØre != 0 {
		t.Errorf("in-kind moved money: %+v", b.Total)
	}
	if err := s.Reserve(ctx, ri); err != nil {
		t.Fatalf("the same approval after confirmed in-kind: %v", err)
	}
	if n := count(t, s, `SELECT count(*) FROM ledger_entries WHERE source_id = 'viborg-kommune' AND kind <> 'reserve'`); n != 0 {
		t.Errorf("%d ledger rows of in-kind", n)
	}
}

func TestInKindStatusesSegregationAndAppendOnly(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	in := submit(t, s, "ik", budgetOf("ik", "beskaeftigelse", kr(1_000_000), kr(1_000_000)))
	// Not yet approved: wrong phase.
	k := domain.InKind{SourceID: "viborg-kommune", MilestoneNo: 1, ValueØre: mp(kr(5_000)), Description: "Lokaler"}
	if _, err := s.RegisterInKind(ctx, in.ID, k, mette); !isCode(err, domain.CodeWrongPhase) {
		t.Fatalf("in board review: %v, want wrong_phase", err)
	}
	if err := s.Reserve(ctx, approveInput(t, in)); err != nil {
		t.Fatal(err)
	}
	lbf := k
	lbf.SourceID = "lbf"
	if _, err := s.RegisterInKind(ctx, in.ID, lbf, mette); !hasField(err, "source_id") {
		t.Fatalf("Landsbyggefonden (cash only): %v, want a problem at source_id", err)
	}
	bad := k
	bad.MilestoneNo = 9
	if _, err := s.RegisterInKind(ctx, in.ID, bad, mette); !hasField(err, "milestone_no") {
		t.Fatalf("milestone 9: %v, want a problem at milestone_no", err)
	}
	c, err := s.RegisterInKind(ctx, in.ID, k, karenAdmin)
	if err != nil {
		t.Fatal(err)
	}
	// Karen registered it: she may not decide it, even as admin.
	if _, err := s.DecideInKind(ctx, c.ID, domain.InKindConfirmed, "", karenAdmin); !isCode(err, domain.CodeForbidden) {
		t.Fatalf("own registration: %v, want forbidden", err)
	}
	// The database refuses it too, whatever the Go code does.
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO inkind_decisions (contribution_id, registered_by, status, decided_by)
		VALUES ($1, 'adm-karen', 'confirmed', 'adm-karen')`, c.ID); err == nil {
		t.Fatal("the database let the registrar confirm")
	}
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO inkind_decisions (contribution_id, registered_by, status, decided_by)
		VALUES ($1, 'og-mette', 'confirmed', 'fin-peter')`, c.ID); err == nil {
		t.Fatal("the database took a decision naming another registrar")
	}
	got, err := s.DecideInKind(ctx, c.ID, domain.InKindConfirmed, "", peter)
	if err != nil || got.Status != domain.InKindConfirmed || got.DecidedByName != "Peter Holm" || got.DecidedAt == nil {
		t.Fatalf("confirmed %+v, %v", got, err)
	}
	if _, err := s.DecideInKind(ctx, c.ID, domain.InKindRejected, "For sent", mette); !isCode(err, domain.CodeConflict) {
		t.Fatalf("second decision: %v, want conflict", err)
	}
	for _, q := range []string{
		`UPDATE inkind_contributions SET value_ore = 1 WHERE id = $1`,
		`DELETE FROM inkind_decisions WHERE contribution_id = $1`,
		`DELETE FROM inkind_contributions WHERE id = $1`,
	} {
		if _, err := s.DB().ExecContext(ctx, q, c.ID); err == nil {
			t.Errorf("%s: allowed on an append-only table", q)
		}
	}
	// Value must be hours × rate exactly.
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO inkind_contributions (plan_id, initiative_id, milestone_no,
		source_id, description, hours, rate_ore, value_ore, registered_by)
		VALUES ($1, $2, 1, 'viborg-kommune', 'x', 2, 100, 201, 'og-mette')`, planID, in.ID); err == nil {
		t.Error("the database took a value that is not hours × rate")
	}
	list, err := s.ListInKind(ctx, planID, store.InKindFilter{Status: domain.InKindConfirmed})
	if err != nil || len(list) != 1 || list[0].ID != c.ID {
		t.Fatalf("confirmed list %+v, %v", list, err)
	}
	if list, _ := s.ListInKind(ctx, planID, store.InKindFilter{Status: domain.InKindRegistered}); len(list) != 0 {
		t.Fatalf("registered list %+v", list)
	}
	if list, _ := s.ListInKind(ctx, planID, store.InKindFilter{InitiativeID: "other"}); len(list) != 0 {
		t.Fatalf("another initiative's list %+v", list)
	}
	if !strings.Contains(got.Description, "Lokaler") {
		t.Errorf("description %q", got.Description)
	}
}

// A registration sent twice with the same request key — also at the same moment — registers one contribution.
func TestInKindRegistrationWithAKeyRegistersOnce(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	in := submit(t, s, "naturalie", budgetOf("naturalie", "beskaeftigelse", kr(200_000), kr(100_000)))
	if err := s.Reserve(ctx, approveInput(t, in)); err != nil {
		t.Fatal(err)
	}
	k := domain.InKind{SourceID: "viborg-kommune", MilestoneNo: 1, ValueØre: mp(kr(5_000)), Description: "Lokaler",
		RequestKey: "og-mette/3f2a"}
	ids := make([]int64, 3)
	errs := parallel(
		func() error { c, err := s.RegisterInKind(ctx, in.ID, k, mette); ids[0] = c.ID; return err },
		func() error { c, err := s.RegisterInKind(ctx, in.ID, k, mette); ids[1] = c.ID; return err },
	)
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	c, err := s.RegisterInKind(ctx, in.ID, k, mette)
	if err != nil {
		t.Fatal(err)
	}
	ids[2] = c.ID
	if ids[0] != ids[1] || ids[1] != ids[2] {
		t.Fatalf("ids %v, want one contribution", ids)
	}
	if n := count(t, s, `SELECT count(*) FROM inkind_contributions WHERE initiative_id = 'naturalie'`); n != 1 {
		t.Fatalf("%d contributions, want 1", n)
	}
	// Without a key, or with another, it is another registration.
	k.RequestKey = ""
	if _, err := s.RegisterInKind(ctx, in.ID, k, mette); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM inkind_contributions WHERE initiative_id = 'naturalie'`); n != 2 {
		t.Fatalf("%d contributions, want 2", n)
	}
}
