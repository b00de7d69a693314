package domain

import (
	"fmt"
	"time"
)

// The annual statement (årsregnskab) a plan files with Landsbyggefonden for each calendar year, with the auditor's
// declaration (revisorerklæring). Years are Copenhagen calendar years, like the budget by year (store/years.go).
//
// The figures of a statement for year Y, per funding source and in total, all in øre:
//
//	Tilsagn (committed)              the source's commitment for Y in the current split by year;
//	Frigivet (released)              release minus withdraw entries of the disbursements released in Y;
//	Udbetalt (paid)                  pay entries of the disbursements paid in Y (by paid_at);
//	Naturalydelser (in kind)         in-kind contributions confirmed in Y (by the decision's time);
//	Forbrug (spent)                  spent_ore of the close-out lines of initiatives closed in Y (completed, or
//	                                 cancelled and settled);
//	Tilbagebetalingskrav (raised)    return_ore of the close-out lines of initiatives closed in Y;
//	Tilbagebetalt (returned)         returns received in Y (each has a 'refund' ledger entry of the same amount);
//	Ikke forbrugt (unspent)          at 31.12.Y: paid - spent - returns raised, all cumulative up to the end of Y:
//	                                 what initiatives not settled (running, or cancelled and not yet settled) hold;
//	Tilgodehavende (receivable)      at 31.12.Y: returns raised - returned, cumulative up to the end of Y;
//	Nettobidrag (net contributed)    paid + in kind - returned, in Y.

// AnnualFigures are one source's (or the total's) figures of a statement.
type AnnualFigures struct {
	CommittedØre      Money `json:"committed_ore"`
	ReleasedØre       Money `json:"released_ore"`
	PaidØre           Money `json:"paid_ore"`
	InKindØre         Money `json:"inkind_ore"`
	SpentØre          Money `json:"spent_ore"`
	ReturnsRaisedØre  Money `json:"returns_raised_ore"`
	ReturnedØre       Money `json:"returned_ore"`
	UnspentØre        Money `json:"unspent_ore"`
	ReceivableØre     Money `json:"receivable_ore"`
	NetContributedØre Money `json:"net_contributed_ore"`
}

// AnnualSourceFigures are one funding source's figures.
type AnnualSourceFigures struct {
	SourceID string `json:"source_id"`
	Name     string `json:"name"`
	Local    bool   `json:"local"`
	AnnualFigures
}

// AnnualStatementFigures are the figures of a plan's statement for Year: per source in the plan's order, and the
// total.
type AnnualStatementFigures struct {
	Year    int                   `json:"year"`
	Sources []AnnualSourceFigures `json:"sources"`
	Total   AnnualFigures         `json:"total"`
}

// Equal reports whether f and g hold the same figures for the same sources in the same order. A source's name is
// not a figure: renaming a source does not make a declared statement differ.
func (f AnnualStatementFigures) Equal(g AnnualStatementFigures) bool {
	if f.Year != g.Year || f.Total != g.Total || len(f.Sources) != len(g.Sources) {
		return false
	}
	for i := range f.Sources {
		if f.Sources[i].SourceID != g.Sources[i].SourceID || f.Sources[i].AnnualFigures != g.Sources[i].AnnualFigures {
			return false
		}
	}
	return true
}

// AnnualSourceInput is what the store reads for one source of a statement for year Y, in øre. Each amount is a
// sum of stored rows, so each lies within 0..MaxMoney or the sum is refused.
type AnnualSourceInput struct {
	SourceID string
	Name     string
	Local    bool

	Committed     Money // the source's commitment for Y
	Released      Money // release entries of disbursements released in Y
	Withdrawn     Money // withdraw entries of disbursements released in Y
	Paid          Money // pay entries of disbursements paid in Y
	InKind        Money // in-kind confirmed in Y
	Spent         Money // close-outs in Y
	ReturnsRaised Money // close-outs in Y
	Returned      Money // returns received in Y

	CumPaid          Money // up to 31.12.Y
	CumSpent         Money
	CumReturnsRaised Money
	CumReturned      Money
}

// ErrFigureOverflow is wrapped when a figure cannot be computed within int64 (it never happens with data the
// database accepted; the check keeps bad data from turning into a plausible number).
var ErrFigureOverflow = fmt.Errorf("%w: et tal i årsregnskabet kan ikke beregnes", ErrAmountOutOfRange)

// BuildAnnualFigures computes the statement's figures from what the store read, exactly and overflow-checked: sums
// of stored amounts with Sum (each within 0..MaxMoney), differences with Money.Add.
func BuildAnnualFigures(year int, in []AnnualSourceInput) (AnnualStatementFigures, error) {
	out := AnnualStatementFigures{Year: year, Sources: make([]AnnualSourceFigures, 0, len(in))}
	for _, s := range in {
		for _, m := range []Money{s.Committed, s.Released, s.Withdrawn, s.Paid, s.InKind, s.Spent, s.ReturnsRaised,
			s.Returned, s.CumPaid, s.CumSpent, s.CumReturnsRaised, s.CumReturned} {
			if !m.InRange() {
				return AnnualStatementFigures{}, fmt.Errorf("%w: kilde %s: %d øre", ErrFigureOverflow, s.SourceID, int64(m))
			}
		}
		var f AnnualFigures
		var ok bool
		f.CommittedØre, f.PaidØre, f.InKindØre = s.Committed, s.Paid, s.InKind
		f.SpentØre, f.ReturnsRaisedØre, f.ReturnedØre = s.Spent, s.ReturnsRaised, s.Returned
		f.ReleasedØre = s.Released - s.Withdrawn // both within 0..MaxMoney: cannot wrap
		spentAndRaised, err := Sum([]SourceAmount{{AmountØre: s.CumSpent}, {AmountØre: s.CumReturnsRaised}})
		if err != nil {
			return AnnualStatementFigures{}, fmt.Errorf("%w: kilde %s: %v", ErrFigureOverflow, s.SourceID, err)
		}
		f.UnspentØre = s.CumPaid - spentAndRaised
		f.ReceivableØre = s.CumReturnsRaised - s.CumReturned
		contributed, err := Sum([]SourceAmount{{AmountØre: s.Paid}, {AmountØre: s.InKind}})
		if err != nil {
			return AnnualStatementFigures{}, fmt.Errorf("%w: kilde %s: %v", ErrFigureOverflow, s.SourceID, err)
		}
		f.NetContributedØre = contributed - s.Returned
		if out.Total, ok = addFigures(out.Total, f); !ok {
			return AnnualStatementFigures{}, fmt.Errorf("%w: summen over kilderne", ErrFigureOverflow)
		}
		out.Sources = append(out.Sources, AnnualSourceFigures{SourceID: s.SourceID, Name: s.Name, Local: s.Local, AnnualFigures: f})
	}
	return out, nil
}

// addFigures adds g to f field by field; false when a sum does not fit in int64.
func addFigures(f, g AnnualFigures) (AnnualFigures, bool) {
	ok := true
	add := func(a *Money, b Money) {
		s, fits := a.Add(b)
		if !fits {
			ok = false
		}
		*a = s
	}
	add(&f.CommittedØre, g.CommittedØre)
	add(&f.ReleasedØre, g.ReleasedØre)
	add(&f.PaidØre, g.PaidØre)
	add(&f.InKindØre, g.InKindØre)
	add(&f.SpentØre, g.SpentØre)
	add(&f.ReturnsRaisedØre, g.ReturnsRaisedØre)
	add(&f.ReturnedØre, g.ReturnedØre)
	add(&f.UnspentØre, g.UnspentØre)
	add(&f.ReceivableØre, g.ReceivableØre)
	add(&f.NetContributedØre, g.NetContributedØre)
	return f, ok
}

// AnnualFigureDef names and defines one figure of the statement, for the page and the exports.
type AnnualFigureDef struct {
	Key        string // the JSON name
	Label      string // Danish, as users see it
	English    string
	Definition string // Danish
	Value      func(AnnualFigures) Money
}

// AnnualFigureDefs are the statement's figures in the order the page and the exports show them.
var AnnualFigureDefs = []AnnualFigureDef{
	{"committed_ore", "Tilsagn", "Committed", "Kildens tilsagn for året efter den gældende årsfordeling.",
		func(f AnnualFigures) Money { return f.CommittedØre }},
	{"released_ore", "Frigivet", "Released", "Rater frigivet i året (dansk tid), fratrukket rater, der siden er trukket tilbage.",
		func(f AnnualFigures) Money { return f.ReleasedØre }},
	{"paid_ore", "Udbetalt", "Paid", "Rater, som økonomi har bekræftet udbetalt i året (efter udbetalingsdatoen).",
		func(f AnnualFigures) Money { return f.PaidØre }},
	{"inkind_ore", "Naturalydelser", "In kind", "Naturalydelser godkendt af økonomi i året.",
		func(f AnnualFigures) Money { return f.InKindØre }},
	{"spent_ore", "Forbrug (afsluttede indsatser)", "Spent (closed initiatives)",
		"Det forbrug, som slutevalueringen af indsatser afsluttet i året opgør, og afregningen af annullerede indsatser afregnet i året.",
		func(f AnnualFigures) Money { return f.SpentØre }},
	{"returns_raised_ore", "Tilbagebetalingskrav", "Returns raised",
		"Udbetalt, men ikke forbrugt, i indsatser afsluttet eller afregnet i året: skal betales tilbage til kilden.",
		func(f AnnualFigures) Money { return f.ReturnsRaisedØre }},
	{"returned_ore", "Tilbagebetalt", "Returned", "Tilbagebetalinger modtaget i året.",
		func(f AnnualFigures) Money { return f.ReturnedØre }},
	{"unspent_ore", "Ikke forbrugt ved årets udgang", "Unspent at year end",
		"Pr. 31.12.: udbetalt i alt minus forbrug og tilbagebetalingskrav i alt, dvs. penge hos indsatser, der ikke er gjort op: igangværende indsatser og annullerede, der endnu ikke er afregnet.",
		func(f AnnualFigures) Money { return f.UnspentØre }},
	{"receivable_ore", "Tilgodehavende ved årets udgang", "Receivable at year end",
		"Pr. 31.12.: tilbagebetalingskrav i alt minus tilbagebetalt i alt.",
		func(f AnnualFigures) Money { return f.ReceivableØre }},
	{"net_contributed_ore", "Nettobidrag i året", "Net contributed",
		"Udbetalt plus naturalydelser minus tilbagebetalt i året.",
		func(f AnnualFigures) Money { return f.NetContributedØre }},
}

// AnnualStatus is where a statement is in its lifecycle: draft (computed live) -> declared (the auditor's
// declaration is recorded and the figures frozen) -> filed (sent to Landsbyggefonden).
type AnnualStatus string

// Statuses of an annual statement.
const (
	AnnualDraft    AnnualStatus = "draft"
	AnnualDeclared AnnualStatus = "declared"
	AnnualFiled    AnnualStatus = "filed"
)

// DanishName is the status as users read it.
func (s AnnualStatus) DanishName() string {
	switch s {
	case AnnualDraft:
		return "Kladde"
	case AnnualDeclared:
		return "Revisorerklæret"
	case AnnualFiled:
		return "Indsendt til Landsbyggefonden"
	}
	return string(s)
}

// AnnualDue is the day of the following year the statement for a year is due at Landsbyggefonden.
type AnnualDue struct {
	Month time.Month `json:"month"`
	Day   int        `json:"day"`
}

// DefaultAnnualDue is 30 June of the following year.
var DefaultAnnualDue = AnnualDue{Month: time.June, Day: 30}

// Valid reports whether the day exists in every year (29 February does not).
func (d AnnualDue) Valid() bool {
	if d.Month < time.January || d.Month > time.December || d.Day < 1 {
		return false
	}
	// 2001 is not a leap year: the last day of the month in a common year.
	last := time.Date(2001, d.Month+1, 0, 0, 0, 0, 0, time.UTC).Day()
	return d.Day <= last
}

// For returns the date the statement for year is due: Month-Day of year+1.
func (d AnnualDue) For(year int) Date { return NewDate(year+1, d.Month, d.Day) }

// String is "30.06." (the Danish day and month).
func (d AnnualDue) String() string { return fmt.Sprintf("%02d.%02d.", d.Day, int(d.Month)) }

// DanishDate formats a date as "30.06.2025".
func DanishDate(d Date) string {
	if d.IsZero() {
		return ""
	}
	return d.Time().Format("02.01.2006")
}

// CopenhagenYearStart returns midnight of 1 January of year in Copenhagen: the first instant of the year.
func CopenhagenYearStart(year int) time.Time {
	return time.Date(year, time.January, 1, 0, 0, 0, 0, Copenhagen)
}

// AnnualOverdue reports whether the statement for year, due per due, is overdue at instant at: its due date (a
// Copenhagen calendar day) is over.
func AnnualOverdue(year int, due AnnualDue, at time.Time) bool {
	return LocalDate(at).After(due.For(year))
}

// HoldMessage is the refusal of a release while the statement for year is overdue.
func HoldMessage(year int, due Date) string {
	return fmt.Sprintf("Nye rater holdes tilbage: årsregnskabet for %d skulle have været indsendt til "+
		"Landsbyggefonden senest %s.", year, DanishDate(due))
}
