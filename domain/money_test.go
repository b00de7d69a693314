package domain

import "testing"

func TestMoneyString(t *testing.T) {
	tests := map[Money]string{
		0:                  "0,00 kr.",
		5:                  "0,05 kr.",
		123456789:          "1.234.567,89 kr.",
		Kroner(25_689_000): "25.689.000,00 kr.",
		-150:               "-1,50 kr.",
		Kroner(100):        "100,00 kr.",
	}
	for in, want := range tests {
		if got := in.String(); got != want {
			t.Errorf("Money(%d).String() = %q, want %q", int64(in), got, want)
		}
	}
}
