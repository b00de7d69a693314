package domain

import (
	"time"

	"github.com/rickar/cal/v2"
	"github.com/rickar/cal/v2/dk"
)

// BusinessCalendar says which dates are business days (hverdage) for deadlines. It is immutable after
// construction and safe for concurrent use; it reads no clock, so workflow code may call it.
type BusinessCalendar struct {
	holidays *cal.Calendar
}

// Days that Danish public administration customarily keeps closed although they are not public holidays by
// law. A deadline counted in business days must not land on a day when nobody is at the office to act.
var (
	juleaftensdag = &cal.Holiday{Name: "Juleaftensdag", Type: cal.ObservanceOther, Month: time.December, Day: 24,
		Func: cal.CalcDayOfMonth}
	nytaarsaftensdag = &cal.Holiday{Name: "Nytårsaftensdag", Type: cal.ObservanceOther, Month: time.December,
		Day: 31, Func: cal.CalcDayOfMonth}
)

// DanishBusinessCalendar returns the calendar of Danish business days. A business day is Monday to Friday
// except:
//
//   - the public holidays of github.com/rickar/cal/v2/dk: nytårsdag, skærtorsdag, langfredag, 2. påskedag,
//     Kristi Himmelfartsdag, 2. pinsedag, juledag and 2. juledag. Store bededag counts up to and including 2023
//     only: it was abolished by law from 2024, and the dk package already ends it there (EndYear 2023).
//   - grundlovsdag (5 June), which dk includes: not a public holiday by law, but public administration is closed.
//   - juleaftensdag (24 December) and nytårsaftensdag (31 December), added here for the same reason.
//
// Deliberately not closed: 1 May and the Friday after Kristi Himmelfartsdag (days off under some collective
// agreements, but offices are open) — counting them as business days would be wrong for most of the board.
func DanishBusinessCalendar() *BusinessCalendar {
	c := &cal.Calendar{Name: "DK", Description: "Danske hverdage i offentlig forvaltning"}
	c.AddHoliday(dk.Holidays...)
	c.AddHoliday(juleaftensdag, nytaarsaftensdag)
	// Cacheable stays false: the cache is an unguarded map, and the calendar is shared between goroutines.
	return &BusinessCalendar{holidays: c}
}

// IsBusinessDay reports whether d is a weekday that is not a holiday.
func (c *BusinessCalendar) IsBusinessDay(d Date) bool {
	_, ok := c.Holiday(d)
	return !ok && !isWeekend(d)
}

// Holiday returns the Danish name of the holiday on d, so a page can say why a deadline moved ("Langfredag").
// Weekends are not holidays.
func (c *BusinessCalendar) Holiday(d Date) (name string, ok bool) {
	act, obs, h := c.holidays.IsHoliday(d.t)
	if (!act && !obs) || h == nil {
		return "", false
	}
	return h.Name, true
}

// AddBusinessDays returns the n-th business day after d, counting from the day after d whatever kind of day d
// is: a proposal submitted on Saturday with a deadline of 1 business day is due on Monday.
//
// With n == 0 it returns d if d is a business day and otherwise the next business day: a deadline that falls on a
// weekend or holiday moves to the next business day, as deadlines do in Danish administrative law.
//
// A negative n counts backwards: -3 is the third business day before d (for reminders before a deadline).
// The zero date stays the zero date: "no date" has no deadline.
func (c *BusinessCalendar) AddBusinessDays(d Date, n int) Date {
	if d.IsZero() {
		return d
	}
	step := 1
	if n < 0 {
		step, n = -1, -n
	}
	if n == 0 {
		for !c.IsBusinessDay(d) {
			d = d.addDays(1)
		}
		return d
	}
	for n > 0 {
		d = d.addDays(step)
		if c.IsBusinessDay(d) {
			n--
		}
	}
	return d
}

// BusinessDaysBetween returns the number of business days after a up to and including b, negative if b is
// before a. It is the inverse of AddBusinessDays: BusinessDaysBetween(a, AddBusinessDays(a, n)) == n for n != 0,
// and for n == 0 when a is a business day. A deadline is overdue when BusinessDaysBetween(submitted, today)
// exceeds the allowed number of days.
func (c *BusinessCalendar) BusinessDaysBetween(a, b Date) int {
	if b.Before(a) {
		return -c.BusinessDaysBetween(b, a)
	}
	n := 0
	for d := a.addDays(1); !d.After(b); d = d.addDays(1) {
		if c.IsBusinessDay(d) {
			n++
		}
	}
	return n
}

func isWeekend(d Date) bool {
	wd := d.t.Weekday()
	return wd == time.Saturday || wd == time.Sunday
}

// addDays moves d by n calendar days. Dates are UTC midnights, so there are no daylight-saving gaps.
func (d Date) addDays(n int) Date { return Date{d.t.AddDate(0, 0, n)} }
