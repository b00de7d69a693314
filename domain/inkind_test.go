package domain

import (
	"errors"
	"math"
	"testing"
)

func inkindSources() []FundingSource {
	return []FundingSource{
		{ID: "lbf", Name: "Landsbyggefonden", Kind: SourceCash},
		{ID: "viborg-kommune", Name: "Viborg Kommune", Kind: SourceCashAndInKind, Local: true},
	}
}

func p64(n int64) *int64 { return &n }
func pm(m Money) *Money  { return &m }

func TestMulMoneyOverflow(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		rate Money
		want Money
		ok   bool
	}{
		{100, 45_000, 4_500_000, true},
		{0, 1, 0, true},
		{math.MaxInt64, 1, math.MaxInt64, true},
		{2, math.MaxInt64/2 + 1, 0, false}, // 2^63: one more than int64 holds
		{100_000, MaxMoney, 0, false},      // 10^20 > 2^63
		{1 << 32, 1 << 32, 0, false},       // high word set
		{-1, 5, 0, false},
	} {
		got, ok := MulMoney(tt.n, tt.rate)
		if got != tt.want || ok != tt.ok {
			t.Errorf("MulMoney(%d, %d) = %d, %v; want %d, %v", tt.n, tt.rate, got, ok, tt.want, tt.ok)
		}
	}
}

func TestCheckInKind(t *testing.T) {
	base := InKind{SourceID: "viborg-kommune", MilestoneNo: 2, Description: "Timer fra Jobcentret"}
	with := func(f func(*InKind)) InKind { k := base; f(&k); return k }
	tests := []struct {
		name  string
		in    InKind
		value Money
		field string // "" when it passes
	}{
		{"hours_times_rate", with(func(k *InKind) { k.Hours, k.RateØre = p64(120), pm(45_000) }), 5_400_000, ""},
		{"value", with(func(k *InKind) { k.ValueØre = pm(1) }), 1, ""},
		{"value_at_max", with(func(k *InKind) { k.ValueØre = pm(MaxMoney) }), MaxMoney, ""},
		{"product_exactly_max", with(func(k *InKind) { k.Hours, k.RateØre = p64(1000), pm(MaxMoney/1000) }), MaxMoney, ""},
		{"product_above_max_too_large", with(func(k *InKind) { k.Hours, k.RateØre = p64(1000), pm(MaxMoney/1000+1) }), 0, "rate_ore"},
		{"product_overflows_int64_too_large", with(func(k *InKind) { k.Hours, k.RateØre = p64(MaxInKindHours), pm(MaxMoney) }), 0, "rate_ore"},
		{"value_above_max", with(func(k *InKind) { k.ValueØre = pm(MaxMoney + 1) }), 0, "value_ore"},
		{"value_zero", with(func(k *InKind) { k.ValueØre = pm(0) }), 0, "value_ore"},
		{"value_negative", with(func(k *InKind) { k.ValueØre = pm(-5) }), 0, "value_ore"},
		{"hours_zero", with(func(k *InKind) { k.Hours, k.RateØre = p64(0), pm(100) }), 0, "hours"},
		{"hours_above_bound", with(func(k *InKind) { k.Hours, k.RateØre = p64(MaxInKindHours+1), pm(100) }), 0, "hours"},
		{"rate_without_hours", with(func(k *InKind) { k.RateØre = pm(100) }), 0, "hours"},
		{"both_ways", with(func(k *InKind) { k.Hours, k.RateØre, k.ValueØre = p64(1), pm(1), pm(1) }), 0, "value_ore"},
		{"neither_way", base, 0, "value_ore"},
		{"cash_source", with(func(k *InKind) { k.SourceID, k.ValueØre = "lbf", pm(1) }), 0, "source_id"},
		{"unknown_source", with(func(k *InKind) { k.SourceID, k.ValueØre = "x", pm(1) }), 0, "source_id"},
		{"milestone_zero", with(func(k *InKind) { k.MilestoneNo, k.ValueØre = 0, pm(1) }), 0, "milestone_no"},
		{"milestone_beyond", with(func(k *InKind) { k.MilestoneNo, k.ValueØre = 4, pm(1) }), 0, "milestone_no"},
		{"no_description", with(func(k *InKind) { k.Description, k.ValueØre = "  ", pm(1) }), 0, "description"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CheckInKind(tt.in, inkindSources(), 3)
			if tt.field == "" {
				if err != nil || got != tt.value {
					t.Fatalf("= %d, %v; want %d", got, err, tt.value)
				}
				return
			}
			var re *RuleError
			if !errors.As(err, &re) || re.Code != CodeValidation {
				t.Fatalf("= %d, %v; want a validation error at %s", got, err, tt.field)
			}
			found := false
			for _, p := range re.Problems {
				found = found || p.Field == tt.field
			}
			if !found {
				t.Errorf("problems %+v, want one at %s", re.Problems, tt.field)
			}
		})
	}
}

func TestShareWithInKind(t *testing.T) {
	// 2.000.000 local of 8.000.000,01 kr. is below 25 %; 10.000 kr. of local in-kind lifts it above.
	before := Share{Local: Kroner(2_000_000), Total: Kroner(8_000_000) + 1}
	if !before.BelowPermille(250) {
		t.Fatal("setup: not below 25 %")
	}
	after, ok := before.PlusInKind(Kroner(10_000), true)
	if !ok || after.BelowPermille(250) || after.Local != Kroner(2_010_000) || after.Total != Kroner(8_010_000)+1 {
		t.Fatalf("with local in-kind %+v, %v", after, ok)
	}
	// In-kind from a source that is not local adds to the total only.
	if s, _ := before.PlusInKind(Kroner(10_000), false); s.Local != before.Local || s.Total != Kroner(8_010_000)+1 {
		t.Fatalf("non-local in-kind %+v", s)
	}
	if _, ok := (Share{Local: math.MaxInt64, Total: math.MaxInt64}).PlusInKind(1, true); ok {
		t.Fatal("overflow not reported")
	}
}

func TestCheckInKindReason(t *testing.T) {
	if err := CheckInKindReason(" "); err == nil {
		t.Error("empty reason accepted")
	}
	long := make([]rune, MaxInKindReason+1)
	for i := range long {
		long[i] = 'æ'
	}
	if err := CheckInKindReason(string(long)); err == nil {
		t.Error("too long reason accepted")
	}
	if err := CheckInKindReason("Timerne er ikke dokumenteret"); err != nil {
		t.Error(err)
	}
}
