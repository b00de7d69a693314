package domain

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Money is an amount in øre (1 kr. = 100 øre). It is never a float: sums and comparisons are exact.
type Money int64

// MaxMoney is the largest amount the product stores anywhere: 10^15 øre, 10.000.000.000.000 kr. It is far above any
// plan's budget yet leaves room to add thousands of such amounts in int64 without wrapping. The database CHECKs the
// same bound on every stored amount, so the two must stay equal.
const MaxMoney Money = 1_000_000_000_000_000

// ErrAmountOutOfRange is wrapped by Sum when an amount or the total lies outside [0, MaxMoney].
var ErrAmountOutOfRange = errors.New("beløbet ligger uden for det tilladte interval")

// Kroner returns an amount of whole kroner as Money. It is meant for constants in code and tests; amounts from
// users arrive in øre and are checked against MaxMoney.
func Kroner(kr int64) Money { return Money(kr * 100) }

// InRange reports whether m is an amount that may be stored: 0 <= m <= MaxMoney.
func (m Money) InRange() bool { return m >= 0 && m <= MaxMoney }

// Add returns m+o, or 0 and false when the sum does not fit in int64. It does not apply MaxMoney: differences and
// intermediate sums may leave that range, stored amounts may not (Sum applies it).
func (m Money) Add(o Money) (Money, bool) {
	s := m + o // Go wraps silently; the signs tell whether it did
	if (o > 0 && s < m) || (o < 0 && s > m) {
		return 0, false
	}
	return s, true
}

// String formats the amount the Danish way: "1.234.567,89 kr.".
func (m Money) String() string {
	// The magnitude is taken as uint64 because -math.MinInt64 does not fit in int64.
	neg := m < 0
	v := uint64(m)
	if neg {
		v = -v
	}
	kr, ore := v/100, v%100
	digits := strconv.FormatUint(kr, 10)
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
	b.WriteString(strconv.FormatUint(ore, 10))
	b.WriteString(" kr.")
	return b.String()
}

// SourceAmount is an amount from one funding source.
type SourceAmount struct {
	SourceID  string `json:"source_id"`
	AmountØre Money  `json:"amount_ore"`
}

// Sum adds up the amounts and fails, wrapping ErrAmountOutOfRange, when any amount or the running total leaves
// [0, MaxMoney]. A nil error therefore means the total can be stored and added to other such totals safely.
func Sum(lines []SourceAmount) (Money, error) {
	var t bounded
	for _, l := range lines {
		t.add(l.AmountØre)
	}
	return t.result()
}

// bounded is a running total with Sum's rule: every amount and the total stay in [0, MaxMoney]. The first amount
// that breaks it is kept for the error and later ones are ignored.
type bounded struct {
	sum Money
	n   int
	err error
}

func (b *bounded) add(o Money) {
	if b.err != nil {
		return
	}
	b.n++
	if !o.InRange() {
		b.err = fmt.Errorf("%w: beløb nr. %d er %d øre", ErrAmountOutOfRange, b.n, int64(o))
		return
	}
	// Both operands are in [0, MaxMoney], so this cannot wrap.
	b.sum += o
	if b.sum > MaxMoney {
		b.err = fmt.Errorf("%w: summen overstiger %d øre ved beløb nr. %d", ErrAmountOutOfRange, int64(MaxMoney), b.n)
	}
}

func (b *bounded) result() (Money, error) {
	if b.err != nil {
		return 0, b.err
	}
	return b.sum, nil
}

// Total adds up all amounts. It is only for lines that ValidateProposal has accepted (or that came from the
// database, which holds the same bounds): on anything else it saturates at math.MaxInt64 or math.MinInt64 instead
// of wrapping, so a bad total is absurd and refused by the database rather than plausible and stored. Use Sum
// where the lines are not known to be valid.
func Total(lines []SourceAmount) Money {
	var t saturating
	for _, l := range lines {
		t.add(l.AmountØre)
	}
	return t.sum
}

// saturating is a running total that sticks at math.MaxInt64 or math.MinInt64 once it would wrap. The exported
// totals whose signatures cannot return an error use it, so that bad data never turns into a plausible number.
type saturating struct {
	sum  Money
	full bool
}

func (s *saturating) add(o Money) {
	if s.full {
		return
	}
	n, ok := s.sum.Add(o)
	if ok {
		s.sum = n
		return
	}
	s.full = true
	if o > 0 {
		s.sum = math.MaxInt64
	} else {
		s.sum = math.MinInt64
	}
}
