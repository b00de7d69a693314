package domain

import (
	"fmt"
	"math"
	"math/big"
)

// Share is the local co-financing of an amount of money: Local of Total øre comes from sources that count as local
// co-financing (FundingSource.Local). It compares exactly (math/big), so no rounding can let a share pass that is
// below a limit by a fraction of a per mille.
type Share struct {
	Local Money `json:"local_ore"`
	Total Money `json:"total_ore"`
}

// Permille is the share in per mille, rounded down; 0 for an empty share.
func (s Share) Permille() int64 {
	if s.Total <= 0 {
		return 0
	}
	q := new(big.Int).Div(new(big.Int).Mul(big.NewInt(int64(s.Local)), big.NewInt(1000)), big.NewInt(int64(s.Total)))
	switch {
	case q.IsInt64():
		return q.Int64()
	case q.Sign() > 0:
		return math.MaxInt64
	default:
		return math.MinInt64
	}
}

// Text is the share as a Danish percentage with one decimal, rounded down: "46,6 %" ("–" for an empty share).
// Rounding down means a share below a limit never shows as the limit itself.
func (s Share) Text() string {
	if s.Total <= 0 {
		return "–"
	}
	return PermilleText(s.Permille())
}

// BelowPermille reports whether the share is below min per mille, exactly: Local*1000 < min*Total. An empty share
// is below nothing.
func (s Share) BelowPermille(min int64) bool {
	if s.Total <= 0 {
		return false
	}
	l := new(big.Int).Mul(big.NewInt(int64(s.Local)), big.NewInt(1000))
	r := new(big.Int).Mul(big.NewInt(min), big.NewInt(int64(s.Total)))
	return l.Cmp(r) < 0
}

// Less reports whether s is a smaller share than o, exactly (Local/Total < o.Local/o.Total by cross
// multiplication). An empty share is less than nothing and nothing is less than it.
func (s Share) Less(o Share) bool {
	if s.Total <= 0 || o.Total <= 0 {
		return false
	}
	l := new(big.Int).Mul(big.NewInt(int64(s.Local)), big.NewInt(int64(o.Total)))
	r := new(big.Int).Mul(big.NewInt(int64(o.Local)), big.NewInt(int64(s.Total)))
	return l.Cmp(r) < 0
}

// Plus returns the share with local and total added (a reservation: total is all of it, local the part from
// local sources), or false when a sum does not fit in int64.
func (s Share) Plus(local, total Money) (Share, bool) {
	l, ok1 := s.Local.Add(local)
	t, ok2 := s.Total.Add(total)
	return Share{Local: l, Total: t}, ok1 && ok2
}

// PlusInKind returns the share with a confirmed in-kind contribution of value added: to the total always, and to
// the local part when its source is local (FundingSource.Local). In-kind is never paid out, but it is money's worth
// the source contributed, so it counts in the approved budget like a reservation. False on int64 overflow.
func (s Share) PlusInKind(value Money, local bool) (Share, bool) {
	var l Money
	if local {
		l = value
	}
	return s.Plus(l, value)
}

// PermilleText shows a share in per mille as a Danish percentage with one decimal: 466 -> "46,6 %", 250 ->
// "25,0 %".
func PermilleText(pm int64) string {
	sign := ""
	u := uint64(pm)
	if pm < 0 {
		sign, u = "-", -u
	}
	return fmt.Sprintf("%s%d,%d %%", sign, u/10, u%10)
}

// CofinancingRefused reports whether a reservation that takes the plan's approved budget (what is reserved and not
// given back, over all initiatives) from before to after breaks the local co-financing rule with minimum min per
// mille (PlanSettings.MinLocalCofinancingPermille). The rule, exactly:
//
//	refused  ⇔  min > 0  and  before is not empty  and  after < min  and  after < before
//
// So a reservation is refused only when it leaves the approved budget's local share below the minimum *and* lowers
// it. A reservation that keeps or raises the share passes even below the minimum (it brings the plan nearer the
// rule, or leaves it where it is: refusing it would help nothing), and so does the first reservation of a plan
// (an empty budget has no share to lower; a plan whose first approved initiative is Landsbyggefonden's money only
// starts at 0 %, and from there only local money can raise it, and nothing can lower it).
func CofinancingRefused(min int64, before, after Share) bool {
	return min > 0 && before.Total > 0 && after.BelowPermille(min) && after.Less(before)
}

// CheckCofinancing is CofinancingRefused as a RuleError (CodeCofinancing) with the figures, in Danish. asks says
// who asks, as the start of a sentence ("forslaget beder om", "ændringen ændrer det godkendte budget med"); asked
// is the net reservation it makes (local and total; a change may give local money back).
func CheckCofinancing(min int64, before, asked Share, asks string) error {
	after, ok := before.Plus(asked.Local, asked.Total)
	if !ok {
		return fmt.Errorf("co-financing: sums overflow int64")
	}
	if !CofinancingRefused(min, before, after) {
		return nil
	}
	return Refuse(CodeCofinancing, "Den lokale medfinansiering af planens godkendte budget skal være mindst %s. "+
		"Nu er %s godkendt, heraf %s lokalt (%s); %s %s, heraf %s lokalt. Bagefter ville %s være godkendt, "+
		"heraf %s lokalt (%s), så andelen ville falde fra %s til %s.",
		PermilleText(min), before.Total, before.Local, before.Text(), asks, asked.Total, asked.Local,
		after.Total, after.Local, after.Text(), before.Text(), after.Text())
}

// FrameRefused reports whether reserving asked more (net; it may be negative, a change that gives money back) on a
// delaftale with reserved already reserved and not given back breaks its budget frame (nil: no frame): refused
// when the total after is above the frame and asked is more than nothing. Exactly at the frame passes.
func FrameRefused(frame *Money, reserved, asked Money) bool {
	if frame == nil || asked <= 0 {
		return false
	}
	after, ok := reserved.Add(asked)
	return !ok || after > *frame
}

// CheckFrame is FrameRefused as a RuleError (CodeFrameExceeded) with the figures, in Danish. name is the
// delaftale's name, asks says who asks ("forslaget beder om", "ændringen beder om yderligere").
func CheckFrame(name string, frame *Money, reserved, asked Money, asks string) error {
	if !FrameRefused(frame, reserved, asked) {
		return nil
	}
	after, _ := reserved.Add(asked)
	// No full stop of our own: the amount's text ends with "kr.".
	return Refuse(CodeFrameExceeded, "Delaftalen %s har en ramme på %s; %s er reserveret, og %s %s, i alt %s",
		name, *frame, reserved, asks, asked, after)
}
