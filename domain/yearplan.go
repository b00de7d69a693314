package domain

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The year rule (YearOverruns states it exactly): each funding source's commitment is split by the plan's years
// (store/years.go), and money is reserved only if no source is then planned to pay out more in a year than it
// committed for that year.

// YearAmount is an amount from one funding source in one calendar year.
type YearAmount struct {
	SourceID  string `json:"source_id"`
	Year      int    `json:"year"`
	AmountØre Money  `json:"amount_ore"`
}

// TrancheYear is the Copenhagen year milestone no's tranche is planned to be released in: the year of approvedAt
// (the approval step's time) for tranche 1, the year of prevDue (milestone no-1's due date) for tranche no >= 2.
// A tranche no >= 2 without a previous due date (a proposal never has one) is planned at approvedAt too.
func TrancheYear(no int, prevDue Date, approvedAt time.Time) int {
	if no >= 2 && !prevDue.IsZero() {
		return prevDue.Time().Year()
	}
	return approvedAt.In(Copenhagen).Year()
}

// PlannedTranches are the tranche lines of ini not yet released (TrancheScheduled), each in its planned year
// (TrancheYear, with at as the approval's time: for an approval, the approval step's own time). Released, paid,
// withdrawn and cancelled tranches are left out; zero lines too.
func PlannedTranches(ini *Initiative, at time.Time) []YearAmount {
	var out []YearAmount
	for i, m := range ini.Milestones {
		if m.TrancheStatus != TrancheScheduled {
			continue
		}
		var prev Date
		if i > 0 {
			prev = ini.Milestones[i-1].DueDate
		}
		y := TrancheYear(i+1, prev, at)
		for _, l := range m.Tranche {
			if l.AmountØre != 0 {
				out = append(out, YearAmount{SourceID: l.SourceID, Year: y, AmountØre: l.AmountØre})
			}
		}
	}
	return out
}

// YearSource is a funding source's commitment by year.
type YearSource struct {
	ID   string
	Name string
	// Committed is the source's commitment per plan year (the current split); nil when the source has no split on
	// record, and then it is not checked.
	Committed map[int]Money
}

// YearBudget is what CheckYearCommitments judges: the plan's years, each source's commitment per year, and the
// money on each side of the reservation, each at its own year (years outside the plan are charged to the nearest
// plan year here, not by the caller).
type YearBudget struct {
	Years    []int        // the plan's years, ascending
	Sources  []YearSource // in the plan's order
	Released []YearAmount // released and not withdrawn, over the whole plan, by year of release
	Planned  []YearAmount // other approved initiatives' planned tranches, by planned year
	Before   []YearAmount // this initiative's planned tranches before the step (none for an approval)
	After    []YearAmount // this initiative's planned tranches after the step
}

// YearOverrun is one source's year that a reservation takes above the source's commitment for it.
type YearOverrun struct {
	SourceID     string
	Name         string
	Year         int
	CommittedØre Money
	ReleasedØre  Money
	PlannedØre   Money // other initiatives
	BeforeØre    Money // this initiative, before the step
	AfterØre     Money // this initiative, after the step
	// LaterØre and EarlierØre are the parts of AfterØre planned after and before the plan's years, charged here.
	LaterØre   Money
	EarlierØre Money
	OverØre    Money // released + planned + after - committed
}

// ErrYearSums is wrapped by YearOverruns when an amount is outside [0, MaxMoney] or a sum overflows int64.
var ErrYearSums = errors.New("year commitments: amount out of range or sum overflows")

// yearCell is one source's money in one plan year.
type yearCell struct {
	released, planned, before, after, later, earlier Money
}

// YearOverruns applies the year rule to a reservation (an approval, or an approved change that asks for more) and
// returns every source's year the reservation makes worse above its commitment, in the order of b.Sources and then
// by year. The rule, exactly:
//
// A tranche's planned year is the Copenhagen (Europe/Copenhagen) year it will be released in: tranche 1 at
// approval (the step's time), tranche k >= 2 when milestone k-1 is accepted, planned as milestone k-1's due date's
// year (TrancheYear, PlannedTranches). A tranche already released or paid counts in the year it was released (from
// the ledger's disbursements, not the plan); a withdrawn one counts nowhere. Per source and year, with
//
//	released  = released in that year, net of withdrawals, over the whole plan
//	planned   = the planned, not yet released tranches of every other approved initiative
//	before    = this initiative's planned, not yet released tranches before the step (nothing for an approval)
//	after     = this initiative's planned, not yet released tranches after the step (for a change its new plan,
//	            which replaces the old one; so the initiative itself is not among the others)
//
// the reservation is refused when
//
//	released + planned + after > committed  and  after > before
//
// So exactly at the commitment passes and one øre over is refused; and only a reservation that makes a year worse
// is refused: a year already over its commitment (an admin lowered the split) does not stop a reservation that adds
// nothing to it. A year outside the plan's years (a due date after the plan's period, a release after it) is
// charged to the plan's last year if after it and to the first year if before it, and the refusal says so: the
// commitment has no other year to hold it. A source without a split on record (Committed nil) is not checked, nor
// is anything when the plan has no years.
//
// Every sum is checked: an amount outside [0, MaxMoney] or a sum that does not fit in int64 is an error wrapping
// ErrYearSums (a bug or bad data, not a refusal).
func YearOverruns(b YearBudget) ([]YearOverrun, error) {
	if len(b.Years) == 0 {
		return nil, nil
	}
	first, last := slices.Min(b.Years), slices.Max(b.Years)
	cells := map[string]map[int]*yearCell{}
	add := func(list []YearAmount, field func(*yearCell) *Money, outside bool) error {
		for _, a := range list {
			if !a.AmountØre.InRange() {
				return fmt.Errorf("%w: %s %d: %d øre", ErrYearSums, a.SourceID, a.Year, int64(a.AmountØre))
			}
			y := a.Year
			switch {
			case y > last:
				y = last
			case y < first:
				y = first
			}
			byYear := cells[a.SourceID]
			if byYear == nil {
				byYear = map[int]*yearCell{}
				cells[a.SourceID] = byYear
			}
			c := byYear[y]
			if c == nil {
				c = &yearCell{}
				byYear[y] = c
			}
			f := field(c)
			s, ok := f.Add(a.AmountØre)
			if !ok {
				return fmt.Errorf("%w: %s %d", ErrYearSums, a.SourceID, y)
			}
			*f = s
			if outside && a.Year != y {
				o := &c.earlier
				if a.Year > last {
					o = &c.later
				}
				*o += a.AmountØre // at most *f, which did not overflow
			}
		}
		return nil
	}
	for _, part := range []struct {
		list    []YearAmount
		field   func(*yearCell) *Money
		outside bool
	}{
		{b.Released, func(c *yearCell) *Money { return &c.released }, false},
		{b.Planned, func(c *yearCell) *Money { return &c.planned }, false},
		{b.Before, func(c *yearCell) *Money { return &c.before }, false},
		{b.After, func(c *yearCell) *Money { return &c.after }, true},
	} {
		if err := add(part.list, part.field, part.outside); err != nil {
			return nil, err
		}
	}

	var out []YearOverrun
	for _, src := range b.Sources {
		if src.Committed == nil {
			continue
		}
		years := make([]int, 0, len(cells[src.ID]))
		for y := range cells[src.ID] {
			years = append(years, y)
		}
		slices.Sort(years)
		for _, y := range years {
			c := cells[src.ID][y]
			if c.after <= c.before {
				continue // the step adds nothing to this year
			}
			total, ok := c.released.Add(c.planned)
			if ok {
				total, ok = total.Add(c.after)
			}
			if !ok {
				return nil, fmt.Errorf("%w: %s %d", ErrYearSums, src.ID, y)
			}
			committed := src.Committed[y]
			if total <= committed {
				continue
			}
			out = append(out, YearOverrun{SourceID: src.ID, Name: src.Name, Year: y, CommittedØre: committed,
				ReleasedØre: c.released, PlannedØre: c.planned, BeforeØre: c.before, AfterØre: c.after,
				LaterØre: c.later, EarlierØre: c.earlier,
				OverØre: total - committed}) // total > committed >= 0, so no wrap
		}
	}
	return out, nil
}

// CheckYearCommitments is YearOverruns as a RuleError (CodeYearCommitmentExceeded) with the figures, in Danish,
// one sentence per year over. change says whether the step is an approved change (its new plan replaces the
// initiative's old one, and the message gives both) rather than an approval.
func CheckYearCommitments(b YearBudget, change bool) error {
	over, err := YearOverruns(b)
	if err != nil {
		return err
	}
	if len(over) == 0 {
		return nil
	}
	parts := make([]string, len(over))
	for i, o := range over {
		asks := fmt.Sprintf("forslaget beder om %s i %d", o.AfterØre, o.Year)
		if change {
			asks = fmt.Sprintf("ændringen planlægger %s i %d (før %s)", o.AfterØre, o.Year, o.BeforeØre)
		}
		var outside []string
		if o.EarlierØre > 0 {
			outside = append(outside, fmt.Sprintf("%s planlagt før planens periode", o.EarlierØre))
		}
		if o.LaterØre > 0 {
			outside = append(outside, fmt.Sprintf("%s planlagt efter planens periode", o.LaterØre))
		}
		if len(outside) > 0 {
			asks += fmt.Sprintf(" (heraf %s, som regnes med i %d)", strings.Join(outside, " og "), o.Year)
		}
		parts[i] = fmt.Sprintf("%s har givet tilsagn om %s for %d; der er frigivet %s og planlagt %s, og %s — %s "+
			"for meget.", o.Name, o.CommittedØre, o.Year, o.ReleasedØre, o.PlannedØre, asks, o.OverØre)
	}
	return Refuse(CodeYearCommitmentExceeded, "%s", strings.Join(parts, " "))
}
