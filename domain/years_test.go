package domain

import (
	"slices"
	"testing"
)

func TestEvenSplitPutsRemainderInLastYear(t *testing.T) {
	got := EvenSplit(1370900003, 5)
	want := []Money{274180000, 274180000, 274180000, 274180000, 274180003}
	if !slices.Equal(got, want) {
		t.Fatalf("EvenSplit = %v, want %v", got, want)
	}
	if got := EvenSplit(MaxMoney, 7); sumMoney(got) != MaxMoney {
		t.Fatalf("split of MaxMoney sums to %d", sumMoney(got))
	}
}

func sumMoney(ms []Money) Money {
	var s Money
	for _, m := range ms {
		s += m
	}
	return s
}

func TestPlanYearsOfViborg(t *testing.T) {
	got := PlanYears(NewDate(2021, 1, 1), NewDate(2025, 12, 31))
	if !slices.Equal(got, []int{2021, 2022, 2023, 2024, 2025}) {
		t.Fatalf("PlanYears = %v", got)
	}
	if PlanYears(NewDate(2025, 1, 1), NewDate(2021, 1, 1)) != nil {
		t.Fatal("a reversed period has years")
	}
}
