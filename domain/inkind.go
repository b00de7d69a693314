package domain

import (
	"math/bits"
	"strings"
	"unicode/utf8"
)

// In-kind contributions (naturalydelser): resources — staff hours, premises, materials — that a funding source of
// kind cash_and_in_kind or in_kind contributes to a milestone of an approved initiative. They are never paid out;
// once finance (or admin) confirms one, it counts as contributed by its source and in the approved budget's local
// co-financing share.

// InKindStatus is where an in-kind contribution is: registered, then confirmed or rejected (final).
type InKindStatus string

// In-kind statuses.
const (
	InKindRegistered InKindStatus = "registered"
	InKindConfirmed  InKindStatus = "confirmed"
	InKindRejected   InKindStatus = "rejected"
)

// Valid reports whether s is one of the statuses.
func (s InKindStatus) Valid() bool {
	return s == InKindRegistered || s == InKindConfirmed || s == InKindRejected
}

// DanishName is the status as users read it.
func (s InKindStatus) DanishName() string {
	switch s {
	case InKindRegistered:
		return "Registreret"
	case InKindConfirmed:
		return "Godkendt"
	case InKindRejected:
		return "Afvist"
	}
	return string(s)
}

// Bounds of one in-kind registration.
const (
	MaxInKindHours       = 100_000 // hours in one registration
	MaxInKindDescription = 500     // characters
	MaxInKindReason      = 500     // characters of a rejection's reason
)

// ContributesInKind reports whether a source of kind k can contribute in kind.
func (k FundingSourceKind) ContributesInKind() bool {
	return k == SourceCashAndInKind || k == SourceInKind
}

// InKind is what is registered: a source's resources for one milestone, either Hours × RateØre or ValueØre.
type InKind struct {
	SourceID    string
	MilestoneNo int
	Hours       *int64
	RateØre     *Money
	ValueØre    *Money
	Description string
	// RequestKey names the request that registers it (service.Idem.Key): the same key registers one contribution,
	// however often it is sent. Empty: no key.
	RequestKey string
}

// MulMoney returns n × rate, or false when the product does not fit in int64 or an operand is negative.
func MulMoney(n int64, rate Money) (Money, bool) {
	if n < 0 || rate < 0 {
		return 0, false
	}
	hi, lo := bits.Mul64(uint64(n), uint64(rate))
	if hi != 0 || lo > uint64(1<<63-1) {
		return 0, false
	}
	return Money(lo), true
}

// CheckInKind checks a registration against the plan's sources and the initiative's milestones (count) and
// returns its value in øre: Hours × RateØre (overflow-checked) or ValueØre, in [1 øre, MaxMoney]. Field problems
// are Danish, at source_id, milestone_no, hours, rate_ore, value_ore and description.
func CheckInKind(in InKind, sources []FundingSource, milestones int) (Money, error) {
	var p problems
	var src *FundingSource
	for i := range sources {
		if sources[i].ID == in.SourceID {
			src = &sources[i]
		}
	}
	switch {
	case strings.TrimSpace(in.SourceID) == "":
		p.add("source_id", "required", "Vælg den finansieringskilde, der bidrager.")
	case src == nil:
		p.add("source_id", "unknown", "Planen har ingen finansieringskilde med id %q.", in.SourceID)
	case !src.Kind.ContributesInKind():
		p.add("source_id", "not_in_kind", "%s bidrager kun kontant, ikke med ressourcer.", src.Name)
	}
	if in.MilestoneNo < 1 || in.MilestoneNo > milestones {
		p.add("milestone_no", "unknown", "Indsatsen har ingen milepæl nr. %d.", in.MilestoneNo)
	}
	desc := strings.TrimSpace(in.Description)
	switch {
	case desc == "":
		p.add("description", "required", "Beskriv, hvad bidraget består af.")
	case utf8.RuneCountInString(desc) > MaxInKindDescription:
		p.add("description", "too_long", "Beskrivelsen må højst være %d tegn.", MaxInKindDescription)
	}
	var value Money
	hoursGiven := in.Hours != nil || in.RateØre != nil
	switch {
	case hoursGiven && in.ValueØre != nil:
		p.add("value_ore", "one_of", "Angiv enten timer og timesats eller en værdi, ikke begge.")
	case hoursGiven:
		ok := true
		if in.Hours == nil || *in.Hours < 1 || *in.Hours > MaxInKindHours {
			p.add("hours", "out_of_range", "Timer skal være et helt tal fra 1 til %d.", MaxInKindHours)
			ok = false
		}
		if in.RateØre == nil || *in.RateØre < 1 || *in.RateØre > MaxMoney {
			p.add("rate_ore", "out_of_range", "Timesatsen skal være mellem %s og %s.", Money(1), MaxMoney)
			ok = false
		}
		if ok {
			v, fits := MulMoney(*in.Hours, *in.RateØre)
			if !fits || v > MaxMoney {
				p.add("rate_ore", "too_large", "Timer gange timesats må højst give %s.", MaxMoney)
			} else {
				value = v
			}
		}
	case in.ValueØre != nil:
		if *in.ValueØre < 1 || *in.ValueØre > MaxMoney {
			p.add("value_ore", "out_of_range", "Værdien skal være mellem %s og %s.", Money(1), MaxMoney)
		} else {
			value = *in.ValueØre
		}
	default:
		p.add("value_ore", "required", "Angiv timer og timesats eller en værdi.")
	}
	if err := p.err("Naturalydelsen kan ikke registreres."); err != nil {
		return 0, err
	}
	return value, nil
}

// CheckInKindReason checks a rejection's reason: required, at most MaxInKindReason characters.
func CheckInKindReason(reason string) error {
	var p problems
	r := strings.TrimSpace(reason)
	switch {
	case r == "":
		p.add("reason", "required", "Skriv, hvorfor naturalydelsen afvises.")
	case utf8.RuneCountInString(r) > MaxInKindReason:
		p.add("reason", "too_long", "Begrundelsen må højst være %d tegn.", MaxInKindReason)
	}
	return p.err("Naturalydelsen kan ikke afvises.")
}
