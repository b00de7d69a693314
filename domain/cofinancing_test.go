package domain_test

import (
	"strings"
	"testing"

	"github.com/helhedsplan/helhedsplan/domain"
)

func TestCofinancingRefused(t *testing.T) {
	sh := func(local, total domain.Money) domain.Share { return domain.Share{Local: local, Total: total} }
	tests := []struct {
		name          string
		min           int64
		before, after domain.Share
		want          bool
	}{
		{"exactly_at_the_minimum_passes", 250, sh(50, 100), sh(50, 200), false},
		{"one_ore_below_the_minimum_refused", 250, sh(50, 100), sh(50, 201), true},
		{"first_reservation_passes_at_0", 250, sh(0, 0), sh(0, 1_000), false},
		{"keeping_0_passes", 250, sh(0, 1_000), sh(0, 2_000), false},
		{"raising_below_the_minimum_passes", 250, sh(0, 1_000), sh(1, 1_001), false},
		{"lowering_below_the_minimum_refused", 250, sh(1, 1_001), sh(1, 1_002), true},
		{"lowering_above_the_minimum_passes", 250, sh(500, 1_000), sh(500, 1_999), false},
		{"no_minimum_passes", 0, sh(500, 1_000), sh(500, 100_000), false},
		{"giving_everything_back_passes", 250, sh(500, 1_000), sh(0, 0), false},
		// local*1000 and min*total pass int64 here: the comparison must stay exact.
		{"huge_amounts_exact", 250, sh(domain.MaxMoney, 2*domain.MaxMoney), sh(domain.MaxMoney, 4*domain.MaxMoney+1), true},
		{"huge_amounts_at_the_minimum", 250, sh(domain.MaxMoney, 2*domain.MaxMoney), sh(domain.MaxMoney, 4*domain.MaxMoney), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := domain.CofinancingRefused(tt.min, tt.before, tt.after); got != tt.want {
				t.Errorf("CofinancingRefused(%d, %+v, %+v) = %t, want %t", tt.min, tt.before, tt.after, got, tt.want)
			}
		})
	}
}

func TestCheckCofinancingSaysTheFigures(t *testing.T) {
	err := domain.CheckCofinancing(250, domain.Share{Local: domain.Kroner(2_000_000), Total: domain.Kroner(4_000_000)},
		domain.Share{Total: domain.Kroner(4_000_000) + 1}, "forslaget beder om")
	var want = []string{"mindst 25,0 %", "fra 50,0 % til 24,9 %", "8.000.000,01 kr."}
	if err == nil {
		t.Fatal("no refusal")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q does not say %q", err, w)
		}
	}
	if err := domain.CheckCofinancing(250, domain.Share{Local: domain.Kroner(2_000_000), Total: domain.Kroner(4_000_000)},
		domain.Share{Total: domain.Kroner(4_000_000)}, "forslaget beder om"); err != nil {
		t.Errorf("exactly 25 %%: %v", err)
	}
}

func TestFrameRefused(t *testing.T) {
	frame := domain.Kroner(1_000)
	tests := []struct {
		name            string
		frame           *domain.Money
		reserved, asked domain.Money
		want            bool
	}{
		{"exactly_at_the_frame_passes", &frame, domain.Kroner(400), domain.Kroner(600), false},
		{"one_ore_over_refused", &frame, domain.Kroner(400), domain.Kroner(600) + 1, true},
		{"no_frame_passes", nil, domain.MaxMoney, domain.MaxMoney, false},
		{"giving_back_over_the_frame_passes", &frame, domain.Kroner(2_000), -1, false},
		{"asking_nothing_over_the_frame_passes", &frame, domain.Kroner(2_000), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := domain.FrameRefused(tt.frame, tt.reserved, tt.asked); got != tt.want {
				t.Errorf("FrameRefused = %t, want %t", got, tt.want)
			}
		})
	}
	err := domain.CheckFrame("Beskæftigelse", &frame, domain.Kroner(400), domain.Kroner(600)+1, "forslaget beder om")
	want := "Delaftalen Beskæftigelse har en ramme på 1.000,00 kr.; 400,00 kr. er reserveret, og forslaget beder om 600,01 kr., i alt 1.000,01 kr."
	if re, ok := err.(*domain.RuleError); !ok || re.Code != domain.CodeFrameExceeded || re.Message != want {
		t.Errorf("CheckFrame = %v, want %s %q", err, domain.CodeFrameExceeded, want)
	}
}

func TestShareText(t *testing.T) {
	for _, tt := range []struct {
		s    domain.Share
		want string
	}{
		{domain.Share{Local: 466, Total: 1000}, "46,6 %"},
		{domain.Share{Local: 2_499_999, Total: 10_000_000}, "24,9 %"},
		{domain.Share{Local: 1, Total: 4}, "25,0 %"},
		{domain.Share{}, "–"},
	} {
		if got := tt.s.Text(); got != tt.want {
			t.Errorf("%+v.Text() = %q, want %q", tt.s, got, tt.want)
		}
	}
}
