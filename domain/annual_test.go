package domain

import (
	"errors"
	"testing"
	"time"
)

func TestBuildAnnualFiguresDefinitionsToTheØre(t *testing.T) {
	got, err := BuildAnnualFigures(2024, []AnnualSourceInput{
		{SourceID: "lbf", Name: "LBF", Committed: 1000, Released: 700, Withdrawn: 100, Paid: 500, InKind: 0,
			Spent: 300, ReturnsRaised: 50, Returned: 20, CumPaid: 900, CumSpent: 600, CumReturnsRaised: 80, CumReturned: 30},
		{SourceID: "vk", Name: "Kommune", Local: true, Committed: 1, Paid: 2, InKind: 3, CumPaid: 2},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := AnnualFigures{CommittedØre: 1000, ReleasedØre: 600, PaidØre: 500, SpentØre: 300, ReturnsRaisedØre: 50,
		ReturnedØre: 20, UnspentØre: 220, ReceivableØre: 50, NetContributedØre: 480}
	if got.Sources[0].AnnualFigures != want {
		t.Errorf("lbf = %+v, want %+v", got.Sources[0].AnnualFigures, want)
	}
	wantTotal := AnnualFigures{CommittedØre: 1001, ReleasedØre: 600, PaidØre: 502, InKindØre: 3, SpentØre: 300,
		ReturnsRaisedØre: 50, ReturnedØre: 20, UnspentØre: 222, ReceivableØre: 50, NetContributedØre: 485}
	if got.Total != wantTotal {
		t.Errorf("total = %+v, want %+v", got.Total, wantTotal)
	}
	if !got.Sources[1].Local || got.Year != 2024 || !got.Equal(got) {
		t.Errorf("figures = %+v", got)
	}
	changed := got
	changed.Sources = append([]AnnualSourceFigures(nil), got.Sources...)
	changed.Sources[1].InKindØre++
	if got.Equal(changed) {
		t.Error("Equal misses a changed source figure")
	}
	for _, def := range AnnualFigureDefs {
		if def.Label == "" || def.Definition == "" || def.Value == nil {
			t.Errorf("definition %q incomplete", def.Key)
		}
	}
	if len(AnnualFigureDefs) != 10 || AnnualFigureDefs[2].Value(want) != 500 {
		t.Errorf("definitions out of order")
	}
}

func TestBuildAnnualFiguresRefusesAmountsOutOfRange(t *testing.T) {
	_, err := BuildAnnualFigures(2024, []AnnualSourceInput{{SourceID: "x", Paid: MaxMoney + 1}})
	if !errors.Is(err, ErrAmountOutOfRange) {
		t.Errorf("out of range: %v", err)
	}
	_, err = BuildAnnualFigures(2024, []AnnualSourceInput{{SourceID: "x", Paid: MaxMoney, InKind: 1}})
	if !errors.Is(err, ErrAmountOutOfRange) {
		t.Errorf("paid + in kind above MaxMoney: %v", err)
	}
}

func TestAnnualDueAndOverdueInCopenhagenTime(t *testing.T) {
	for _, c := range []struct {
		due  AnnualDue
		want bool
	}{{AnnualDue{time.June, 30}, true}, {AnnualDue{time.February, 28}, true}, {AnnualDue{time.February, 29}, false},
		{AnnualDue{time.April, 31}, false}, {AnnualDue{13, 1}, false}, {AnnualDue{time.January, 0}, false}} {
		if got := c.due.Valid(); got != c.want {
			t.Errorf("%v valid = %v", c.due, got)
		}
	}
	if got := DefaultAnnualDue.For(2024).String(); got != "2025-06-30" {
		t.Errorf("due for 2024 = %s", got)
	}
	// 21:59 UTC on 30 June is 23:59 in Copenhagen (summer time): still the due day.
	if AnnualOverdue(2024, DefaultAnnualDue, time.Date(2025, 6, 30, 21, 59, 0, 0, time.UTC)) {
		t.Error("overdue on the due day")
	}
	if !AnnualOverdue(2024, DefaultAnnualDue, time.Date(2025, 6, 30, 22, 0, 0, 0, time.UTC)) {
		t.Error("not overdue at midnight after the due day")
	}
	if got := HoldMessage(2024, DefaultAnnualDue.For(2024)); got != "Nye rater holdes tilbage: årsregnskabet for 2024 "+
		"skulle have været indsendt til Landsbyggefonden senest 30.06.2025." {
		t.Errorf("message %q", got)
	}
	if got := CopenhagenYearStart(2025).UTC(); !got.Equal(time.Date(2024, 12, 31, 23, 0, 0, 0, time.UTC)) {
		t.Errorf("2025 starts at %v", got)
	}
}
