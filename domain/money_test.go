package domain

import (
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMoneyString(t *testing.T) {
	tests := map[Money]string{
		0:                  "0,00 kr.",
		5:                  "0,05 kr.",
		123456789:          "1.234.567,89 kr.",
		Kroner(25_689_000): "25.689.000,00 kr.",
		-150:               "-1,50 kr.",
		Kroner(100):        "100,00 kr.",
		MaxMoney:           "10.000.000.000.000,00 kr.",
		math.MaxInt64:      "92.233.720.368.547.758,07 kr.",
		math.MinInt64:      "-92.233.720.368.547.758,08 kr.",
		math.MinInt64 + 1:  "-92.233.720.368.547.758,07 kr.",
	}
	for in, want := range tests {
		if got := in.String(); got != want {
			t.Errorf("Money(%d).String() = %q, want %q", int64(in), got, want)
		}
	}
}

func TestMoneyAdd(t *testing.T) {
	type result struct {
		Sum Money
		OK  bool
	}
	tests := []struct {
		name string
		a, b Money
		want result
	}{
		{"small_ok", 150, 250, result{400, true}},
		{"negative_ok", -150, 50, result{-100, true}},
		{"up_to_max_int64_ok", math.MaxInt64 - 1, 1, result{math.MaxInt64, true}},
		{"past_max_int64_overflows", math.MaxInt64, 1, result{0, false}},
		{"why0_tranches_overflow", 500_000_000, math.MaxInt64, result{0, false}},
		{"down_to_min_int64_ok", math.MinInt64 + 1, -1, result{math.MinInt64, true}},
		{"past_min_int64_overflows", math.MinInt64, -1, result{0, false}},
		{"max_plus_min_ok", math.MaxInt64, math.MinInt64, result{-1, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ok := tt.a.Add(tt.b)
			if diff := cmp.Diff(tt.want, result{s, ok}); diff != "" {
				t.Errorf("%d.Add(%d) (-want +got):\n%s", tt.a, tt.b, diff)
			}
		})
	}
}

func TestSum(t *testing.T) {
	l := func(amounts ...Money) []SourceAmount {
		var out []SourceAmount
		for _, a := range amounts {
			out = append(out, SourceAmount{SourceID: "lbf", AmountØre: a})
		}
		return out
	}
	tests := []struct {
		name    string
		lines   []SourceAmount
		want    Money
		wantErr bool
	}{
		{"empty_is_zero", nil, 0, false},
		{"zero_line_ok", l(0, 5), 5, false},
		{"walkthrough_ok", l(15_000_000, 5_000_000, 15_000_000, 5_000_000), 40_000_000, false},
		{"max_money_line_ok", l(MaxMoney), MaxMoney, false},
		{"sum_exactly_max_money_ok", l(MaxMoney-1, 1), MaxMoney, false},
		{"sum_above_max_money_refused", l(MaxMoney, 1), 0, true},
		{"line_above_max_money_refused", l(MaxMoney + 1), 0, true},
		{"negative_line_refused", l(10, -1), 0, true},
		{"min_int64_refused", l(math.MinInt64), 0, true},
		{"why0_tranches_refused", l(500_000_000, math.MaxInt64, 9223372036355775809), 0, true},
		{"many_max_money_lines_refused", l(MaxMoney, MaxMoney, MaxMoney, MaxMoney, MaxMoney, MaxMoney, MaxMoney, MaxMoney,
			MaxMoney, MaxMoney, MaxMoney, MaxMoney), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Sum(tt.lines)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("Sum = %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrAmountOutOfRange) {
				t.Errorf("error %v does not wrap ErrAmountOutOfRange", err)
			}
		})
	}
}

func TestTotalSaturates(t *testing.T) {
	l := func(amounts ...Money) []SourceAmount {
		var out []SourceAmount
		for _, a := range amounts {
			out = append(out, SourceAmount{AmountØre: a})
		}
		return out
	}
	tests := []struct {
		name  string
		lines []SourceAmount
		want  Money
	}{
		{"validated_lines_exact", l(15_000_000, 5_000_000), 20_000_000},
		{"why0_tranches_saturate_high", l(500_000_000, math.MaxInt64, 9223372036355775809), math.MaxInt64},
		{"stays_saturated_after_negative", l(math.MaxInt64, 1, -5), math.MaxInt64},
		{"saturates_low", l(math.MinInt64, -1), math.MinInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Total(tt.lines); got != tt.want {
				t.Errorf("Total = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestPlanTotals(t *testing.T) {
	src := func(committed Money, local bool) FundingSource {
		return FundingSource{ID: "s", CommittedØre: committed, Local: local}
	}
	tests := []struct {
		name         string
		sources      []FundingSource
		wantTotal    Money
		wantPermille int64
	}{
		{"viborg_466_permille", []FundingSource{src(1_370_900_000, false), src(720_000_000, true), src(478_000_000, true)},
			2_568_900_000, 466},
		{"no_sources_zero", nil, 0, 0},
		// local*1000 wraps int64 here: 4*10^18*1000. The share must still be one half.
		{"huge_amounts_exact_share", []FundingSource{src(4_000_000_000_000_000_000, true), src(4_000_000_000_000_000_000, false)},
			8_000_000_000_000_000_000, 500},
		{"total_saturates_share_exact", []FundingSource{src(math.MaxInt64, true), src(math.MaxInt64, false)},
			math.MaxInt64, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Plan{FundingSources: tt.sources}
			if got := p.TotalCommitted(); got != tt.wantTotal {
				t.Errorf("TotalCommitted = %d, want %d", got, tt.wantTotal)
			}
			if got := p.LocalCofinancingPermille(); got != tt.wantPermille {
				t.Errorf("LocalCofinancingPermille = %d, want %d", got, tt.wantPermille)
			}
		})
	}
}

func TestInitiativeTotalsSaturate(t *testing.T) {
	in := &Initiative{Milestones: []Milestone{
		{TrancheStatus: TranchePaid, Tranche: []SourceAmount{{AmountØre: math.MaxInt64}}, Report: &Report{SpentØre: math.MaxInt64}},
		{TrancheStatus: TranchePaid, Tranche: []SourceAmount{{AmountØre: 500_000_000}}, Report: &Report{SpentØre: 1}},
		{TrancheStatus: TrancheReleased, Tranche: []SourceAmount{{AmountØre: 7}}},
	}}
	if got := in.PaidTotal(); got != math.MaxInt64 {
		t.Errorf("PaidTotal = %d, want saturated %d", got, int64(math.MaxInt64))
	}
	if got := in.SpentTotal(); got != math.MaxInt64 {
		t.Errorf("SpentTotal = %d, want saturated %d", got, int64(math.MaxInt64))
	}
	in.Milestones[0].Tranche[0].AmountØre, in.Milestones[0].Report.SpentØre = 100, 50
	if got, want := in.PaidTotal(), Money(500_000_100); got != want {
		t.Errorf("PaidTotal = %d, want %d (released tranches do not count)", got, want)
	}
	if got, want := in.SpentTotal(), Money(51); got != want {
		t.Errorf("SpentTotal = %d, want %d", got, want)
	}
}
