package domain

import (
	"strconv"
	"strings"
)

// Money is an amount in øre (1 kr. = 100 øre). It is never a float: sums and comparisons are exact.
type Money int64

// Kroner returns an amount of whole kroner as Money.
func Kroner(kr int64) Money { return Money(kr * 100) }

// String formats the amount the Danish way: "1.234.567,89 kr.".
func (m Money) String() string {
	neg := m < 0
	v := int64(m)
	if neg {
		v = -v
	}
	kr, ore := v/100, v%100
	digits := strconv.FormatInt(kr, 10)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteRune(d)
	}
	b.WriteByte(',')
	if ore < 10 {
		b.WriteByte('0')
	}
	b.WriteString(strconv.FormatInt(ore, 10))
	b.WriteString(" kr.")
	return b.String()
}

// SourceAmount is an amount from one funding source.
type SourceAmount struct {
	SourceID  string `json:"source_id"`
	AmountØre Money  `json:"amount_ore"`
}

// Total adds up all amounts.
func Total(lines []SourceAmount) Money {
	var t Money
	for _, l := range lines {
		t += l.AmountØre
	}
	return t
}
