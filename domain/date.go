package domain

import (
	"fmt"
	"time"
)

// DateLayout is the calendar-date format used in the API and the seed: ISO 8601, "2006-01-02".
const DateLayout = time.DateOnly

// Date is a calendar date without time of day or zone. Its zero value is "no date".
type Date struct{ t time.Time }

// NewDate returns the calendar date y-m-d.
func NewDate(y int, m time.Month, d int) Date { return Date{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)} }

// ParseDate parses "2006-01-02".
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(DateLayout, s)
	if err != nil {
		return Date{}, fmt.Errorf("ugyldig dato %q (brug ÅÅÅÅ-MM-DD): %w", s, err)
	}
	return Date{t}, nil
}

// IsZero reports whether d is the zero date.
func (d Date) IsZero() bool { return d.t.IsZero() }

// Before reports whether d is before e.
func (d Date) Before(e Date) bool { return d.t.Before(e.t) }

// After reports whether d is after e.
func (d Date) After(e Date) bool { return d.t.After(e.t) }

// Time returns midnight UTC of the date.
func (d Date) Time() time.Time { return d.t }

// String formats the date as "2006-01-02" (empty for the zero date).
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return d.t.Format(DateLayout)
}

// MarshalText implements encoding.TextMarshaler (JSON and YAML use it).
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Date) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*d = Date{}
		return nil
	}
	p, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = p
	return nil
}
