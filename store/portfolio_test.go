package store_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/payfile"
	"github.com/helhedsplan/helhedsplan/report"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
)

// The Viborg plan with a realistic portfolio: 30 initiatives over the three delaftaler and the five years, driven
// through the store the way the workflows' activities drive it (one store.Step per workflow step, with the
// workflow's event times), next to an independent model in plain Go maps of what was booked. At the end the
// budget, the budget by year and by source × delaftale × year, the five annual statements (live and as declared),
// the annual statement and budget workbooks, the close-out settlements and `ledger verify` must all agree with the
// model to the øre.
//
// The portfolio (seeded, so the same every run; see pfGenerate): 1-4 milestones each with odd-øre tranches from
// Landsbyggefonden and the local sources (local at least a third of every tranche), released one after another
// with a payment a few days later; most are closed out at evaluation, some spending everything, some leaving a
// return that finance receives the same year, a later year or not at all. Four approved changes (more from LBF and
// less locally, the other way round, money moved between milestones, less only); four cancellations (one with a
// tranche released in 2023 and withdrawn in 2024, after the 2023 statement was declared and filed, so that
// statement's live figures move away from the frozen ones); in-kind from Viborg Kommune, confirmed through the
// store (three, decided at the wall clock, so in no plan year) and at chosen instants (three), and one rejected;
// and three initiatives still running when the timeline stops on 20 December 2025. Year boundaries at 23:30 UTC on
// 31 December (00:30 on 1 January in Copenhagen): a release, a payment, a close-out, a return received and an
// in-kind decision. Each year's statement is declared in February and filed on 1 March of the next year, so no
// release is ever held for an overdue statement.

var (
	pfDelaftaler = []string{"uddannelse-og-livschancer", "beskaeftigelse", "sammenhaengskraft-og-medborgerskab"}
	pfAreas      = []string{"houlkaervaenget", "vestervang", "ringparken", "ellekonebakken", "klostersvaenget"}
	pfSources    = []string{"lbf", "viborg-kommune", "boligselskaberne"}
	pfYears      = []int{2021, 2022, 2023, 2024, 2025}
)

const (
	pfKommune = "viborg-kommune"
	pfBolig   = "boligselskaberne"
	pfDay     = 24 * time.Hour
)

// pfEnd is where the timeline stops: initiative events after it never happen (those initiatives are still running).
var pfEnd = pfCph(2025, 12, 20, 0, 0)

// newYearsEve is 23:30 UTC on 31 December of y: 00:30 on 1 January of y+1 in Copenhagen.
func pfNewYearsEve(y int) time.Time { return time.Date(y, 12, 31, 23, 30, 0, 0, time.UTC) }

func pfCph(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, domain.Copenhagen)
}

// cphYear is the Copenhagen calendar year of t.
func pfCphYear(t time.Time) int { return t.In(domain.Copenhagen).Year() }

// pfChange is an approved change: the new tranches of every milestone, what it reserves more and gives back.
type pfChange struct {
	kind      string // "A" more LBF, less local; "B" more local, less LBF; "C" moved between milestones; "D" less only
	at        time.Time
	tranches  [][]domain.SourceAmount
	reserve   []domain.SourceAmount
	unreserve []domain.SourceAmount
}

// pfPlan is one initiative's script. Zero times never happen.
type pfPlan struct {
	idx       int
	id, del   string
	areas     []string
	tranches  [][]domain.SourceAmount // as proposed
	submit    time.Time
	approve   time.Time // the approval step reserves the budget and releases tranche 1
	rel, pay  []time.Time
	evalAt    time.Time
	closeAt   time.Time
	cancelAt  time.Time
	dropLast  bool // closed out with the last tranche never released (a change dropped it)
	change    *pfChange
	ret       map[string]domain.Money // return per source at close-out (before capping at what was paid)
	receive   map[string]time.Time    // when finance receives each return; missing: it stays open
	inkind    string                  // "", "api", "api-hours", "rejected", "timed"
	inkindAt  time.Time
	inkindØre domain.Money
}

func (p *pfPlan) times() []*time.Time {
	out := []*time.Time{&p.approve, &p.evalAt, &p.closeAt}
	for k := range p.rel {
		out = append(out, &p.rel[k], &p.pay[k])
	}
	return out
}

// force moves the event at *target to `to` and every later event of the initiative by as much.
func (p *pfPlan) force(target *time.Time, to time.Time) {
	old := *target
	d := to.Sub(old)
	for _, x := range p.times() {
		if !x.IsZero() && !x.Before(old) {
			*x = x.Add(d)
		}
	}
}

// dueDates are the milestones' due dates: the day (Copenhagen) the next tranche is released, so a tranche's
// planned year (domain.TrancheYear: the previous milestone's due date) is the year it is released in.
func (p *pfPlan) dueDates() []domain.Date {
	out := make([]domain.Date, len(p.tranches))
	for k := range p.tranches {
		switch {
		case k+1 < len(p.tranches) && !p.rel[k+1].IsZero():
			out[k] = domain.LocalDate(p.rel[k+1])
		case k+1 == len(p.tranches) && !p.closeAt.IsZero():
			out[k] = domain.LocalDate(p.closeAt.Add(-20 * pfDay))
		default:
			out[k] = domain.LocalDate(p.approve.Add(time.Duration(k+1) * 150 * pfDay))
		}
	}
	return out
}

func sumBySource(lines ...[]domain.SourceAmount) map[string]domain.Money {
	out := map[string]domain.Money{}
	for _, ls := range lines {
		for _, l := range ls {
			out[l.SourceID] += l.AmountØre
		}
	}
	return out
}

// budgetOfTranches is the budget per source in the plan's order of sources, zero sources left out.
func budgetOfTranches(tranches [][]domain.SourceAmount) []domain.SourceAmount {
	by := sumBySource(tranches...)
	var out []domain.SourceAmount
	for _, src := range pfSources {
		if by[src] > 0 {
			out = append(out, domain.SourceAmount{SourceID: src, AmountØre: by[src]})
		}
	}
	return out
}

func nonZero(lines []domain.SourceAmount) []domain.SourceAmount {
	var out []domain.SourceAmount
	for _, l := range lines {
		if l.AmountØre != 0 {
			out = append(out, l)
		}
	}
	return out
}

func cloneTranches(ts [][]domain.SourceAmount) [][]domain.SourceAmount {
	out := make([][]domain.SourceAmount, len(ts))
	for i, t := range ts {
		out[i] = slices.Clone(t)
	}
	return out
}

func addTo(lines []domain.SourceAmount, src string, d domain.Money) []domain.SourceAmount {
	for i := range lines {
		if lines[i].SourceID == src {
			lines[i].AmountØre += d
			return lines
		}
	}
	return append(lines, domain.SourceAmount{SourceID: src, AmountØre: d})
}

func amountOf(lines []domain.SourceAmount, src string) domain.Money {
	var m domain.Money
	for _, l := range lines {
		if l.SourceID == src {
			m += l.AmountØre
		}
	}
	return m
}

// pfGenerate builds the 30 scripts from a fixed seed, then sets the cases the test must have.
func pfGenerate(t *testing.T) []*pfPlan {
	t.Helper()
	rng := rand.New(rand.NewPCG(2021, 2025))
	odd := func(n int) domain.Money { return domain.Money(2*rng.IntN(n/2) + 1) }
	forceN := map[int]int{2: 3, 5: 3, 8: 3, 10: 3, 11: 3, 12: 3, 14: 3, 16: 2, 19: 3, 21: 3, 23: 2, 24: 2, 27: 1, 28: 4, 29: 4}
	var plans []*pfPlan
	for i := range 30 {
		p := &pfPlan{idx: i, id: fmt.Sprintf("hp-%02d", i+1), del: pfDelaftaler[i%3], areas: []string{pfAreas[i%5]}}
		if i%4 == 0 {
			p.areas = append(p.areas, pfAreas[(i+2)%5])
		}
		n := 1 + rng.IntN(4)
		if f, ok := forceN[i]; ok {
			n = f
		}
		for range n {
			lbf := kr(int64(20_000+rng.IntN(90_000))) + odd(100)
			local := lbf/2 + kr(int64(rng.IntN(40_000))) + odd(100)
			var kom, bol domain.Money
			switch rng.IntN(3) {
			case 0:
				kom = local
			case 1:
				bol = local
			default:
				kom = local * 2 / 3
				bol = local - kom
			}
			p.tranches = append(p.tranches, nonZero([]domain.SourceAmount{{SourceID: "lbf", AmountØre: lbf},
				{SourceID: pfKommune, AmountØre: kom}, {SourceID: pfBolig, AmountØre: bol}}))
		}
		p.approve = pfCph(2021, 2, 1, 10, 0).Add(time.Duration(40*i+rng.IntN(10)) * pfDay)
		p.submit = p.approve.Add(-14 * pfDay)
		p.rel, p.pay = make([]time.Time, n), make([]time.Time, n)
		for k := range n {
			if k == 0 {
				p.rel[k] = p.approve
			} else {
				p.rel[k] = p.pay[k-1].Add(time.Duration(90+rng.IntN(120)) * pfDay)
			}
			p.pay[k] = p.rel[k].Add(time.Duration(3+rng.IntN(20))*pfDay + 4*time.Hour)
		}
		p.closeAt = p.pay[n-1].Add(time.Duration(40+rng.IntN(60)) * pfDay)
		if rng.IntN(2) == 0 {
			p.ret = map[string]domain.Money{}
			p.receive = map[string]time.Time{}
			for _, src := range pfSources {
				if rng.IntN(2) == 0 {
					continue
				}
				p.ret[src] = kr(int64(rng.IntN(3_000))) + odd(100)
				switch rng.IntN(3) {
				case 1:
					p.receive[src] = p.closeAt.Add(20 * pfDay) // usually the same year
				case 2:
					p.receive[src] = p.closeAt.Add(200 * pfDay) // usually a later year
				}
			}
		}
		plans = append(plans, p)
	}

	// Year boundaries at 23:30 UTC on 31 December.
	plans[12].force(&plans[12].rel[1], pfNewYearsEve(2022)) // released 00:30 on 1.1.2023
	plans[21].force(&plans[21].rel[1], pfCph(2023, 12, 1, 10, 0))
	plans[21].force(&plans[21].pay[1], pfNewYearsEve(2023))  // paid 00:30 on 1.1.2024
	plans[27].force(&plans[27].closeAt, pfNewYearsEve(2024)) // closed out 00:30 on 1.1.2025
	plans[24].ret = map[string]domain.Money{"lbf": kr(4_321) + 99}
	plans[24].receive = map[string]time.Time{"lbf": pfNewYearsEve(2024)} // received 00:30 on 1.1.2025
	// A return raised in 2022 and received in 2023, and one that stays open.
	plans[4].ret, plans[4].receive = map[string]domain.Money{"lbf": kr(1_111) + 11}, map[string]time.Time{}
	plans[6].ret = map[string]domain.Money{"lbf": kr(2_222) + 21}
	plans[6].receive = map[string]time.Time{"lbf": plans[6].closeAt.Add(300 * pfDay)}

	// Still running when the timeline stops: 28 with tranche 4 not yet released, 29 with it released and unpaid.
	plans[28].force(&plans[28].rel[3], pfCph(2026, 1, 15, 10, 0))
	plans[29].force(&plans[29].rel[3], pfCph(2025, 12, 1, 10, 0))
	plans[29].force(&plans[29].pay[3], pfCph(2026, 1, 8, 10, 0))
	plans[26].force(&plans[26].closeAt, pfCph(2026, 2, 2, 10, 0)) // all paid, its evaluation not yet due

	// Cancellations.
	cancelAfter := func(p *pfPlan, at time.Time, released, paid int) {
		p.cancelAt = at
		for k := range p.rel {
			if k >= released {
				p.rel[k] = time.Time{}
			}
			if k >= paid {
				p.pay[k] = time.Time{}
			}
		}
		p.evalAt, p.closeAt, p.ret, p.receive = time.Time{}, time.Time{}, nil, nil
	}
	cancelAfter(plans[5], plans[5].pay[0].Add(60*pfDay), 1, 1)   // tranche 1 paid, 2-3 scheduled
	cancelAfter(plans[10], plans[10].pay[1].Add(30*pfDay), 2, 2) // tranches 1-2 paid, 3 scheduled
	cancelAfter(plans[16], plans[16].rel[0].Add(5*pfDay), 1, 0)  // tranche 1 released, withdrawn the same year
	plans[19].force(&plans[19].rel[1], pfCph(2023, 11, 20, 10, 0))
	cancelAfter(plans[19], pfCph(2024, 9, 10, 10, 0), 2, 1) // tranche 2 released 2023, withdrawn 2024

	// Closed out with the last tranche never released.
	p11 := plans[11]
	p11.dropLast = true
	p11.rel[2], p11.pay[2] = time.Time{}, time.Time{}
	p11.closeAt = p11.pay[1].Add(60 * pfDay)

	// Approved changes, 20 days after tranche 1 was paid.
	for i, kind := range map[int]string{2: "A", 8: "B", 14: "C", 23: "D"} {
		p := plans[i]
		c := &pfChange{kind: kind, at: p.pay[0].Add(20 * pfDay), tranches: cloneTranches(p.tranches)}
		last := c.tranches[len(c.tranches)-1]
		switch kind {
		case "A": // more from LBF, less from the local source with the most in the last tranche
			loc := pfKommune
			if amountOf(last, pfBolig) > amountOf(last, pfKommune) {
				loc = pfBolig
			}
			more, less := kr(10_000)+37, amountOf(last, loc)/4+1
			last = addTo(last, "lbf", more)
			last = addTo(last, loc, -less)
			c.reserve = []domain.SourceAmount{{SourceID: "lbf", AmountØre: more}}
			c.unreserve = []domain.SourceAmount{{SourceID: loc, AmountØre: less}}
		case "B": // more from Boligselskaberne, less from LBF
			less, more := amountOf(last, "lbf")/4+3, kr(7_777)+77
			last = addTo(last, "lbf", -less)
			last = addTo(last, pfBolig, more)
			c.reserve = []domain.SourceAmount{{SourceID: pfBolig, AmountØre: more}}
			c.unreserve = []domain.SourceAmount{{SourceID: "lbf", AmountØre: less}}
		case "C": // a third of tranche 2's LBF money moved to tranche 3
			d := amountOf(c.tranches[1], "lbf")/3 + 1
			c.tranches[1] = addTo(c.tranches[1], "lbf", -d)
			last = addTo(last, "lbf", d)
		case "D": // less from LBF only
			less := amountOf(last, "lbf")/5 + 5
			last = addTo(last, "lbf", -less)
			c.unreserve = []domain.SourceAmount{{SourceID: "lbf", AmountØre: less}}
		}
		c.tranches[len(c.tranches)-1] = last
		p.change = c
	}

	// In-kind from Viborg Kommune.
	for i, kind := range map[int]string{1: "api", 7: "api-hours", 13: "api", 20: "rejected", 3: "timed", 17: "timed", 22: "timed"} {
		p := plans[i]
		p.inkind, p.inkindAt = kind, p.rel[0].Add(30*pfDay)
		p.inkindØre = kr(int64(5_000+1_000*i)) + domain.Money(2*i+1)
	}
	plans[3].inkindAt = pfCph(2021, 11, 10, 10, 0)
	plans[17].inkindAt = pfNewYearsEve(2023) // confirmed 00:30 on 1.1.2024
	plans[22].inkindAt = pfCph(2024, 5, 5, 10, 0)

	for _, p := range plans {
		if !p.closeAt.IsZero() {
			p.evalAt = p.closeAt.Add(-10 * pfDay)
		}
		for src, at := range p.receive {
			if at.After(pfEnd) {
				delete(p.receive, src)
			}
		}
	}
	return plans
}

// pfSanity checks that each script runs forward in time and has what the scenario needs, so a change of the
// generator cannot silently turn the portfolio into something else.
func pfSanity(t *testing.T, plans []*pfPlan) {
	t.Helper()
	for _, p := range plans {
		seq := []time.Time{p.submit, p.approve}
		for k := range p.rel {
			if k > 0 && !p.rel[k].IsZero() {
				seq = append(seq, p.rel[k])
			}
			if !p.pay[k].IsZero() {
				seq = append(seq, p.pay[k])
			}
			if k == 0 && p.change != nil {
				seq = append(seq, p.change.at)
			}
		}
		for _, x := range []time.Time{p.cancelAt, p.evalAt, p.closeAt} {
			if !x.IsZero() {
				seq = append(seq, x)
			}
		}
		for k := 1; k < len(seq); k++ {
			if !seq[k].After(seq[k-1]) && !seq[k].After(pfEnd) {
				t.Fatalf("%s: the script goes back in time at step %d: %v", p.id, k, seq)
			}
		}
		if p.inkind != "" && p.inkind != "timed" && (p.inkindAt.Before(p.approve) || !p.closeAt.IsZero() && p.inkindAt.After(p.evalAt)) {
			t.Fatalf("%s: in-kind at %v is outside its approved phases", p.id, p.inkindAt)
		}
	}
	if c := plans[19]; pfCphYear(c.rel[1]) != 2023 || !c.cancelAt.After(pfCph(2024, 3, 1, 12, 0)) {
		t.Fatalf("hp-20: tranche 2 must be released in 2023 and withdrawn after the 2023 statement is filed")
	}
	if p := plans[24]; p.closeAt.IsZero() || !p.closeAt.Before(pfNewYearsEve(2024)) {
		t.Fatalf("hp-25 must be closed out before its return is received on 31.12.2024: %v", p.closeAt)
	}
	if p := plans[21]; !p.rel[1].Before(p.pay[1]) || !p.rel[2].After(p.pay[1]) {
		t.Fatalf("hp-22: %v %v %v", p.rel[1], p.pay[1], p.rel[2])
	}
	if p := plans[29]; !p.pay[3].After(pfEnd) || p.rel[3].After(pfEnd) {
		t.Fatalf("hp-30 must end with tranche 4 released and unpaid")
	}
}

// ---- the model ----

type pfDisb struct {
	init, del string
	no        int
	lines     []domain.SourceAmount
	released  time.Time
	paid      *time.Time
	withdrawn *time.Time
}

type pfCloseLine struct {
	init, del string
	domain.CloseoutLine
	at time.Time
}

type pfReturn struct {
	init, del, src string
	amount         domain.Money
	received       *time.Time
}

type pfInKind struct {
	src     string
	value   domain.Money
	decided time.Time
}

type pfModel struct {
	committed   map[string]domain.Money
	split       map[string]map[int]domain.Money
	del         map[string]string                  // initiative -> delaftale
	reservation map[string]map[string]domain.Money // initiative -> source -> reserved net of given back
	disb        map[string]*pfDisb                 // by disbursement ID
	closeouts   []pfCloseLine
	returns     map[string]*pfReturn // by return ID
	inkind      []pfInKind
	rejected    int
}

func (m *pfModel) disbursements() []*pfDisb {
	ids := make([]string, 0, len(m.disb))
	for id := range m.disb {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := make([]*pfDisb, len(ids))
	for i, id := range ids {
		out[i] = m.disb[id]
	}
	return out
}

// budgetLines is the model's budget per key (a source, a delaftale, or "total"): reserved is what the initiatives
// hold minus what they had released and not withdrawn, released the pending disbursements, paid the paid ones minus
// the returns received.
func (m *pfModel) budgetLines(keyOf func(init, src string) string) map[string]*store.BudgetLine {
	out := map[string]*store.BudgetLine{}
	get := func(k string) *store.BudgetLine {
		if out[k] == nil {
			out[k] = &store.BudgetLine{}
		}
		return out[k]
	}
	for init, bySrc := range m.reservation {
		for src, amt := range bySrc {
			get(keyOf(init, src)).ReservedØre += amt
		}
	}
	for _, d := range m.disbursements() {
		for _, l := range d.lines {
			b := get(keyOf(d.init, l.SourceID))
			switch {
			case d.withdrawn != nil:
			case d.paid != nil:
				b.ReservedØre -= l.AmountØre
				b.PaidØre += l.AmountØre
			default:
				b.ReservedØre -= l.AmountØre
				b.ReleasedØre += l.AmountØre
			}
		}
	}
	for _, r := range m.returns {
		if r.received != nil {
			b := get(keyOf(r.init, r.src))
			b.PaidØre -= r.amount
			b.ReturnedØre += r.amount
		}
	}
	return out
}

// annual is the model's statement for year (domain/annual.go has the definitions), per source and "total".
func (m *pfModel) annual(year int) map[string]domain.AnnualFigures {
	start, end := domain.CopenhagenYearStart(year), domain.CopenhagenYearStart(year+1)
	in := func(t time.Time) bool { return !t.Before(start) && t.Before(end) }
	type cum struct{ paid, spent, raised, returned domain.Money }
	f := map[string]*domain.AnnualFigures{}
	c := map[string]*cum{}
	for _, src := range pfSources {
		f[src] = &domain.AnnualFigures{CommittedØre: m.split[src][year]}
		c[src] = &cum{}
	}
	for _, d := range m.disbursements() {
		for _, l := range d.lines {
			if in(d.released) && d.withdrawn == nil {
				f[l.SourceID].ReleasedØre += l.AmountØre
			}
			if d.paid != nil && in(*d.paid) {
				f[l.SourceID].PaidØre += l.AmountØre
			}
			if d.paid != nil && d.paid.Before(end) {
				c[l.SourceID].paid += l.AmountØre
			}
		}
	}
	for _, k := range m.inkind {
		if in(k.decided) {
			f[k.src].InKindØre += k.value
		}
	}
	for _, l := range m.closeouts {
		if in(l.at) {
			f[l.SourceID].SpentØre += l.SpentØre
			f[l.SourceID].ReturnsRaisedØre += l.ReturnØre
		}
		if l.at.Before(end) {
			c[l.SourceID].spent += l.SpentØre
			c[l.SourceID].raised += l.ReturnØre
		}
	}
	for _, r := range m.returns {
		if r.received != nil && in(*r.received) {
			f[r.src].ReturnedØre += r.amount
		}
		if r.received != nil && r.received.Before(end) {
			c[r.src].returned += r.amount
		}
	}
	out := map[string]domain.AnnualFigures{}
	var total domain.AnnualFigures
	for _, src := range pfSources {
		x := f[src]
		x.UnspentØre = c[src].paid - c[src].spent - c[src].raised
		x.ReceivableØre = c[src].raised - c[src].returned
		x.NetContributedØre = x.PaidØre + x.InKindØre - x.ReturnedØre
		out[src] = *x
		total.CommittedØre += x.CommittedØre
		total.ReleasedØre += x.ReleasedØre
		total.PaidØre += x.PaidØre
		total.InKindØre += x.InKindØre
		total.SpentØre += x.SpentØre
		total.ReturnsRaisedØre += x.ReturnsRaisedØre
		total.ReturnedØre += x.ReturnedØre
		total.UnspentØre += x.UnspentØre
		total.ReceivableØre += x.ReceivableØre
		total.NetContributedØre += x.NetContributedØre
	}
	out["total"] = total
	return out
}

func statementFigures(f domain.AnnualStatementFigures) map[string]domain.AnnualFigures {
	out := map[string]domain.AnnualFigures{"total": f.Total}
	for _, s := range f.Sources {
		out[s.SourceID] = s.AnnualFigures
	}
	return out
}

// ---- driving the store ----

// pfStep moves in to phase as one transition by actor at the workflow time at.
func pfStep(t *testing.T, in *domain.Initiative, typ string, actor domain.Actor, phase domain.Phase, at time.Time) store.Transition {
	t.Helper()
	before := in.Phase
	in.Version++
	in.Phase = phase
	in.UpdatedAt = at
	payload, err := json.Marshal(map[string]any{"type": typ, "version": in.Version})
	if err != nil {
		t.Fatal(err)
	}
	return store.Transition{
		Event: store.Event{InitiativeID: in.ID, Seq: in.Version, Type: typ, ActorID: actor.UserID, ActorName: actor.Name,
			ActorRole: actor.Role, At: at, PhaseBefore: before, PhaseAfter: phase, Payload: payload},
		Snapshot: clone(t, *in),
	}
}

// pfRelease is the release of milestone no's tranche at `at` (with the acceptance of the milestone before it).
func pfRelease(t *testing.T, in *domain.Initiative, no int, at time.Time) store.ReleaseInput {
	t.Helper()
	m := &in.Milestones[no-1]
	m.TrancheStatus = domain.TrancheReleased
	m.DisbursementID = domain.DisbursementID(in.ID, no)
	m.ReleasedAt = &at
	if no > 1 {
		prev := &in.Milestones[no-2]
		prev.AcceptedBy, prev.AcceptedAt = &hanne, &at
	}
	tr := pfStep(t, in, "tranche_released", hanne, domain.PhaseFunding, at)
	return store.ReleaseInput{PlanID: planID, InitiativeID: in.ID, DelaftaleID: in.Proposal.DelaftaleID,
		DisbursementID: m.DisbursementID, MilestoneNo: no, MilestoneTitle: m.Title, Lines: m.Tranche, Transition: tr}
}

type pfEvent struct {
	at   time.Time
	ord  int
	name string
	do   func()
}

func TestPortfolioOfThirtyInitiativesAgreesToTheØre(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	plans := pfGenerate(t)
	pfSanity(t, plans)

	m := &pfModel{committed: map[string]domain.Money{"lbf": 1_370_900_000, pfKommune: 720_000_000, pfBolig: 478_000_000},
		split: map[string]map[int]domain.Money{}, del: map[string]string{},
		reservation: map[string]map[string]domain.Money{}, disb: map[string]*pfDisb{}, returns: map[string]*pfReturn{}}

	// Each source's commitment per year: what the portfolio can charge to each year (each tranche in its planned
	// and in its release year, before and after a change; years outside the plan count in the nearest plan year,
	// as store/yearcheck.go does), plus an even share of the rest.
	clampYear := func(y int) int { return min(max(y, pfYears[0]), pfYears[len(pfYears)-1]) }
	need := map[string]map[int]domain.Money{}
	for _, src := range pfSources {
		need[src] = map[int]domain.Money{}
	}
	for _, p := range plans {
		due := p.dueDates()
		versions := [][][]domain.SourceAmount{p.tranches}
		if p.change != nil {
			versions = append(versions, p.change.tranches)
		}
		for _, ts := range versions {
			for k, tr := range ts {
				years := map[int]bool{}
				if k == 0 {
					years[clampYear(pfCphYear(p.approve))] = true
				} else {
					years[clampYear(due[k-1].Time().Year())] = true
				}
				if !p.rel[k].IsZero() {
					years[clampYear(pfCphYear(p.rel[k]))] = true
				}
				for y := range years {
					for _, l := range tr {
						need[l.SourceID][y] += l.AmountØre
					}
				}
			}
		}
	}
	var splits []store.CommitmentSplit
	for _, src := range pfSources {
		var used domain.Money
		for _, y := range pfYears {
			used += need[src][y]
		}
		rest := m.committed[src] - used
		if rest < 0 {
			t.Fatalf("the portfolio needs %s from %s, more than its commitment %s", used, src, m.committed[src])
		}
		m.split[src] = map[int]domain.Money{}
		sp := store.CommitmentSplit{SourceID: src}
		var given domain.Money
		for i, y := range pfYears {
			share := rest / domain.Money(len(pfYears))
			if i == len(pfYears)-1 {
				share = rest - given
			}
			given += share
			m.split[src][y] = need[src][y] + share
			sp.Years = append(sp.Years, store.CommitmentYear{Year: y, AmountØre: m.split[src][y]})
		}
		splits = append(splits, sp)
	}
	if _, err := s.SetCommitments(ctx, planID, splits, karen, "Fordeling efter porteføljen"); err != nil {
		t.Fatalf("set commitments: %v", err)
	}

	// checkBudget compares store.Budget and store.Available with the model, per source, delaftale and in total.
	checkBudget := func(t *testing.T, when string) store.Budget {
		t.Helper()
		b, err := s.Budget(ctx, planID)
		if err != nil {
			t.Fatal(err)
		}
		bySource := m.budgetLines(func(_, src string) string { return src })
		byDel := m.budgetLines(func(init, _ string) string { return m.del[init] })
		total := m.budgetLines(func(_, _ string) string { return "total" })["total"]
		withAvailable := func(l *store.BudgetLine, committed *domain.Money) store.BudgetLine {
			out := store.BudgetLine{}
			if l != nil {
				out = *l
			}
			out.CommittedØre = committed
			if committed != nil {
				a := *committed - out.ReservedØre - out.ReleasedØre - out.PaidØre
				out.AvailableØre = &a
			}
			return out
		}
		inkind := map[string]domain.Money{}
		for _, k := range m.inkind {
			inkind[k.src] += k.value
		}
		for _, src := range pfSources {
			c := m.committed[src]
			if d := cmp.Diff(withAvailable(bySource[src], &c), sourceLine(t, b, src)); d != "" {
				t.Errorf("%s: budget of %s (-model +store):\n%s", when, src, d)
			}
			for _, sb := range b.Sources {
				if sb.SourceID == src && sb.InKindØre != inkind[src] {
					t.Errorf("%s: in-kind of %s: %s, model %s", when, src, sb.InKindØre, inkind[src])
				}
			}
		}
		for _, del := range pfDelaftaler {
			if d := cmp.Diff(withAvailable(byDel[del], nil), delaftaleLine(t, b, del)); d != "" {
				t.Errorf("%s: budget of delaftale %s (-model +store):\n%s", when, del, d)
			}
		}
		all := m.committed["lbf"] + m.committed[pfKommune] + m.committed[pfBolig]
		if d := cmp.Diff(withAvailable(total, &all), b.Total); d != "" {
			t.Errorf("%s: budget in total (-model +store):\n%s", when, d)
		}
		avail, err := s.Available(ctx, planID)
		if err != nil {
			t.Fatal(err)
		}
		for _, src := range pfSources {
			c := m.committed[src]
			if want := *withAvailable(bySource[src], &c).AvailableØre; avail[src] != want {
				t.Errorf("%s: available from %s: %s, model %s", when, src, avail[src], want)
			}
		}
		return b
	}

	var events []pfEvent
	add := func(at time.Time, name string, do func()) {
		events = append(events, pfEvent{at: at, ord: len(events), name: name, do: do})
	}
	stepOK := func(name string, st store.Step) {
		t.Helper()
		if _, err := s.WriteStep(ctx, st); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}

	counts := map[string]int{}
	for _, p := range plans {
		p := p
		var in *domain.Initiative
		due := p.dueDates()
		m.del[p.id] = p.del
		reserveOf := func() map[string]domain.Money {
			if m.reservation[p.id] == nil {
				m.reservation[p.id] = map[string]domain.Money{}
			}
			return m.reservation[p.id]
		}
		paidBySource := func() map[string]domain.Money {
			out := map[string]domain.Money{}
			for _, d := range m.disb {
				if d.init == p.id && d.paid != nil {
					for _, l := range d.lines {
						out[l.SourceID] += l.AmountØre
					}
				}
			}
			return out
		}

		add(p.submit, p.id+" submitted", func() {
			var ms []domain.MilestonePlan
			for k, tr := range p.tranches {
				ms = append(ms, domain.MilestonePlan{Title: "Milepæl " + strconv.Itoa(k+1), DueDate: due[k], Tranche: tr})
			}
			prop := domain.Proposal{Title: "Indsats " + p.id, Description: "Boligsocial indsats i portføljetesten.",
				DelaftaleID: p.del, HousingAreaIDs: p.areas, TargetGroup: "Beboere i boligområderne",
				Goals:  []domain.Goal{{ID: "g1", Description: "Flere i job og uddannelse", SuccessCriterion: "10 %"}},
				Budget: budgetOfTranches(p.tranches), Milestones: ms}
			in = initiative(p.id, prop)
			in.CreatedAt = p.submit
			stepOK(p.id+" submit", store.Step{Transitions: []store.Transition{pfStep(t, in, "submitted", mette, domain.PhaseBoardReview, p.submit)}})
		})

		add(p.approve, p.id+" approved", func() {
			res := store.ReserveInput{PlanID: planID, InitiativeID: p.id, DelaftaleID: p.del, Lines: in.Proposal.Budget,
				Transition: pfStep(t, in, "approved", hanne, domain.PhaseExecuting, p.approve)}
			rel := pfRelease(t, in, 1, p.approve)
			stepOK(p.id+" approve", store.Step{Reserve: &res, Release: &rel})
			for _, l := range in.Proposal.Budget {
				reserveOf()[l.SourceID] += l.AmountØre
			}
			m.disb[rel.DisbursementID] = &pfDisb{init: p.id, del: p.del, no: 1, lines: slices.Clone(rel.Lines), released: p.approve}
		})

		for k := range p.rel {
			no := k + 1
			if k > 0 && !p.rel[k].IsZero() && !p.rel[k].After(pfEnd) {
				at := p.rel[k]
				add(at, fmt.Sprintf("%s tranche %d released", p.id, no), func() {
					// The milestone's report, then the board's acceptance, which releases the next tranche.
					prev := &in.Milestones[no-2]
					prev.Report = &domain.Report{Summary: "Milepælen er nået", Actor: mette, At: at.Add(-time.Hour)}
					report := pfStep(t, in, "report_submitted", mette, domain.PhaseExecuting, at.Add(-time.Hour))
					rel := pfRelease(t, in, no, at)
					stepOK(p.id+" release", store.Step{Transitions: []store.Transition{report}, Release: &rel})
					m.disb[rel.DisbursementID] = &pfDisb{init: p.id, del: p.del, no: no, lines: slices.Clone(rel.Lines), released: at}
				})
			}
			if !p.pay[k].IsZero() && !p.pay[k].After(pfEnd) {
				at := p.pay[k]
				add(at, fmt.Sprintf("%s tranche %d paid", p.id, no), func() {
					ms := &in.Milestones[no-1]
					ms.TrancheStatus, ms.PaymentReference, ms.PaidAt = domain.TranchePaid, "NETS-"+ms.DisbursementID, &at
					tr := pfStep(t, in, "payment_confirmed", peter, domain.PhaseExecuting, at)
					stepOK(p.id+" pay", store.Step{Pay: &store.PayInput{DisbursementID: ms.DisbursementID,
						Reference: ms.PaymentReference, Actor: peter, Transition: tr}})
					m.disb[ms.DisbursementID].paid = &at
				})
			}
		}

		if c := p.change; c != nil {
			add(c.at, p.id+" change "+c.kind, func() {
				for k := range in.Milestones {
					if in.Milestones[k].TrancheStatus == domain.TrancheScheduled {
						in.Milestones[k].Tranche = c.tranches[k]
						in.Proposal.Milestones[k].Tranche = c.tranches[k]
					} else if !slices.Equal(in.Milestones[k].Tranche, c.tranches[k]) {
						t.Fatalf("%s: the change alters released tranche %d", p.id, k+1)
					}
				}
				in.Proposal.Budget = budgetOfTranches(c.tranches)
				in.Versions = append(in.Versions, domain.ApprovedVersion{Version: len(in.Versions) + 1, ChangeNo: 1,
					Budget: in.Proposal.Budget, Milestones: in.Proposal.Milestones, DecidedBy: []string{hanne.UserID}, At: c.at})
				tr := pfStep(t, in, "change_applied", hanne, in.Phase, c.at)
				st := store.Step{}
				if len(c.reserve) > 0 {
					st.Reserve = &store.ReserveInput{PlanID: planID, InitiativeID: p.id, DelaftaleID: p.del,
						Lines: c.reserve, Transition: tr, KeySuffix: "change-1"}
				} else {
					st.Transitions = []store.Transition{tr}
				}
				if len(c.unreserve) > 0 {
					st.Unreserve = &store.UnreserveInput{PlanID: planID, InitiativeID: p.id, DelaftaleID: p.del,
						Reason: "change-1", Lines: c.unreserve}
				}
				stepOK(p.id+" change", st)
				for _, l := range c.reserve {
					reserveOf()[l.SourceID] += l.AmountØre
				}
				for _, l := range c.unreserve {
					reserveOf()[l.SourceID] -= l.AmountØre
				}
				counts["changes"]++
			})
		}

		if p.inkind != "" {
			add(p.inkindAt, p.id+" in-kind "+p.inkind, func() {
				if p.inkind == "timed" {
					// The store decides in-kind at the database's clock; a decision at a chosen instant is written
					// as annual_test.go does.
					confirmedInKindAt(t, s, p.id, pfKommune, int64(p.inkindØre), p.inkindAt)
					m.inkind = append(m.inkind, pfInKind{src: pfKommune, value: p.inkindØre, decided: p.inkindAt})
					return
				}
				k := domain.InKind{SourceID: pfKommune, MilestoneNo: 1, Description: "Lokaler og medarbejdertimer"}
				value := p.inkindØre
				if p.inkind == "api-hours" {
					k.Hours, k.RateØre = i64(37), mp(kr(450)+1)
					value = 37 * (kr(450) + 1)
				} else {
					k.ValueØre = mp(value)
				}
				c, err := s.RegisterInKind(ctx, p.id, k, mette)
				if err != nil {
					t.Fatalf("%s: register in-kind: %v", p.id, err)
				}
				if c.ValueØre != int64(value) {
					t.Fatalf("%s: in-kind value %d, want %d", p.id, c.ValueØre, value)
				}
				if p.inkind == "rejected" {
					if _, err := s.DecideInKind(ctx, c.ID, domain.InKindRejected, "Allerede betalt af LBF", peter); err != nil {
						t.Fatalf("%s: reject in-kind: %v", p.id, err)
					}
					m.rejected++
					return
				}
				// Confirmed by someone other than the registrar.
				if _, err := s.DecideInKind(ctx, c.ID, domain.InKindConfirmed, "", mette); !isCode(err, domain.CodeForbidden) {
					t.Fatalf("%s: the registrar confirmed her own in-kind: %v", p.id, err)
				}
				d, err := s.DecideInKind(ctx, c.ID, domain.InKindConfirmed, "", peter)
				if err != nil || d.DecidedAt == nil {
					t.Fatalf("%s: confirm in-kind: %+v %v", p.id, d, err)
				}
				m.inkind = append(m.inkind, pfInKind{src: pfKommune, value: value, decided: *d.DecidedAt})
			})
		}

		if !p.cancelAt.IsZero() {
			add(p.cancelAt, p.id+" cancelled", func() {
				var withdraw []store.WithdrawInput
				var withdrawn []string
				for k := range in.Milestones {
					ms := &in.Milestones[k]
					switch ms.TrancheStatus {
					case domain.TrancheReleased:
						withdraw = append(withdraw, store.WithdrawInput{DisbursementID: ms.DisbursementID, MilestoneNo: ms.No, Lines: ms.Tranche})
						withdrawn = append(withdrawn, ms.DisbursementID)
						ms.TrancheStatus = domain.TrancheWithdrawn
					case domain.TrancheScheduled:
						ms.TrancheStatus = domain.TrancheCancelled
					}
				}
				paid := paidBySource()
				var back []domain.SourceAmount
				for _, l := range in.Proposal.Budget {
					if rest := l.AmountØre - paid[l.SourceID]; rest > 0 {
						back = append(back, domain.SourceAmount{SourceID: l.SourceID, AmountØre: rest})
					}
				}
				at := p.cancelAt
				in.Cancellation = &domain.Cancellation{Round: 1, Reason: "Indsatsen stoppes", ProposedBy: hanne,
					ProposedAt: at.Add(-7 * pfDay), Decided: true, Outcome: domain.OutcomeApprove, DecidedAt: &at,
					Returned: back, Withdrawn: withdrawn}
				tr := pfStep(t, in, "cancelled", hanne, domain.PhaseCancelled, at)
				stepOK(p.id+" cancel", store.Step{Cancel: &store.CancelInput{PlanID: planID, InitiativeID: p.id,
					DelaftaleID: p.del, Withdraw: withdraw, Unreserve: back, Transition: tr}})
				for _, id := range withdrawn {
					m.disb[id].withdrawn = &at
				}
				m.reservation[p.id] = paid
				counts["cancelled"]++
				counts["withdrawn"] += len(withdrawn)
			})
		}

		if !p.closeAt.IsZero() && !p.closeAt.After(pfEnd) {
			add(p.evalAt, p.id+" evaluation submitted", func() {
				if p.dropLast {
					in.Milestones[len(in.Milestones)-1].TrancheStatus = domain.TrancheCancelled
				}
				last := &in.Milestones[len(in.Milestones)-1]
				if last.TrancheStatus == domain.TranchePaid {
					last.Report = &domain.Report{Summary: "Sidste milepæl er nået", Actor: mette, At: p.evalAt}
				}
				// The spend: everything paid, or paid minus the return, per source of the budget.
				paid := paidBySource()
				var spend []domain.SourceAmount
				if len(p.ret) > 0 {
					for _, l := range in.Proposal.Budget {
						r := p.ret[l.SourceID]
						if r >= paid[l.SourceID] {
							r = paid[l.SourceID] / 2
						}
						spend = append(spend, domain.SourceAmount{SourceID: l.SourceID, AmountØre: paid[l.SourceID] - r})
					}
				}
				in.Evaluation = &domain.Evaluation{Summary: "Målene er nået", SubmittedBy: mette, SubmittedAt: p.evalAt, Spend: spend}
				stepOK(p.id+" evaluation", store.Step{Transitions: []store.Transition{
					pfStep(t, in, "evaluation_submitted", mette, domain.PhaseEvaluation, p.evalAt)}})
			})
			add(p.closeAt, p.id+" closed out", func() {
				at := p.closeAt
				// The model's settlement, per source of the budget: paid = spent + return, the rest given back.
				paid := paidBySource()
				spent := map[string]domain.Money{}
				for _, l := range in.Evaluation.Spend {
					spent[l.SourceID] = l.AmountØre
				}
				var want []domain.CloseoutLine
				for _, src := range []string{pfBolig, "lbf", pfKommune} { // source ID order
					budget := amountOf(in.Proposal.Budget, src)
					if budget == 0 {
						continue
					}
					sp := paid[src]
					if len(in.Evaluation.Spend) > 0 {
						sp = spent[src]
					}
					want = append(want, domain.CloseoutLine{SourceID: src, PaidØre: paid[src], SpentØre: sp,
						ReturnØre: paid[src] - sp, UnreservedØre: reserveOf()[src] - paid[src]})
				}
				lines, err := domain.ComputeCloseout(in)
				if err != nil {
					t.Fatalf("%s: close-out: %v", p.id, err)
				}
				if d := cmp.Diff(want, lines); d != "" {
					t.Fatalf("%s: close-out lines (-model +domain):\n%s", p.id, d)
				}
				accepted := at
				in.Evaluation.AcceptedBy, in.Evaluation.AcceptedAt = &hanne, &accepted
				tr := pfStep(t, in, "evaluation_accepted", hanne, domain.PhaseCompleted, at)
				in.Closeout = &domain.Closeout{Lines: lines, At: at}
				tr.Snapshot = clone(t, *in)
				stepOK(p.id+" close out", store.Step{Closeout: &store.CloseoutInput{PlanID: planID, InitiativeID: p.id,
					DelaftaleID: p.del, Lines: lines, Transition: tr}})
				for _, l := range lines {
					m.closeouts = append(m.closeouts, pfCloseLine{init: p.id, del: p.del, CloseoutLine: l, at: at})
					if l.ReturnØre > 0 {
						m.returns[domain.ReturnID(p.id, l.SourceID)] = &pfReturn{init: p.id, del: p.del, src: l.SourceID, amount: l.ReturnØre}
					}
				}
				m.reservation[p.id] = paid
				counts["completed"]++
			})
			for _, src := range pfSources {
				at, ok := p.receive[src]
				if !ok {
					continue
				}
				add(at, p.id+" return received from "+src, func() {
					id := domain.ReturnID(p.id, src)
					r := m.returns[id]
					if r == nil {
						return // nothing was returned from src (the initiative spent it all)
					}
					got, err := s.ReceiveReturn(ctx, id, "BANK-"+id, peter, at)
					if err != nil {
						t.Fatalf("%s: receive return: %v", id, err)
					}
					if got.AmountØre != int64(r.amount) || got.Status != store.ReturnReceived {
						t.Fatalf("%s: received %+v, want %s", id, got, r.amount)
					}
					r.received = &at
				})
			}
		}
	}

	// Each year's statement: declared on 15 February, filed on 1 March of the next year. The frozen figures must
	// be the model's at that moment.
	frozen := map[int]map[string]domain.AnnualFigures{}
	for _, y := range pfYears {
		declareAt, fileAt := pfCph(y+1, 2, 15, 10, 0), pfCph(y+1, 3, 1, 10, 0)
		add(declareAt, fmt.Sprintf("statement %d declared", y), func() {
			st, err := s.DeclareAnnualStatement(ctx, planID, y, store.AnnualDeclarationInput{DeclaredOn: domain.LocalDate(declareAt),
				Auditor: "Revisionsfirmaet i Viborg", Reference: fmt.Sprintf("RE-%d-001", y)}, karen, declareAt)
			if err != nil {
				t.Fatalf("declare %d: %v", y, err)
			}
			want := m.annual(y)
			if d := cmp.Diff(want, statementFigures(st.Declaration.Figures)); d != "" {
				t.Errorf("statement %d as declared (-model +store):\n%s", y, d)
			}
			frozen[y] = want
		})
		add(fileAt, fmt.Sprintf("statement %d filed", y), func() {
			if _, err := s.FileAnnualStatement(ctx, planID, y, store.AnnualFilingInput{FiledOn: domain.LocalDate(fileAt)}, karen, fileAt); err != nil {
				t.Fatalf("file %d: %v", y, err)
			}
			// Mid-way as at the end: the ledger holds every rule and the budget is the model's.
			mustVerify(t, s)
			checkBudget(t, fmt.Sprintf("when the %d statement is filed", y))
		})
	}

	slices.SortStableFunc(events, func(a, b pfEvent) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.ord - b.ord
	})
	for i, e := range events {
		if e.at.After(pfEnd) && e.at.Before(pfCph(2026, 1, 1, 0, 0)) {
			t.Fatalf("event %s at %v lies after the end of the timeline", e.name, e.at)
		}
		e.do()
		if t.Failed() {
			t.Fatalf("stopped after event %d (%s at %s)", i, e.name, e.at.In(domain.Copenhagen).Format(time.DateTime))
		}
	}
	now := pfCph(2026, 3, 15, 12, 0)

	t.Run("ledger_verify", func(t *testing.T) {
		mustVerify(t, s)
	})

	var b store.Budget
	t.Run("budget_per_source_and_delaftale", func(t *testing.T) {
		b = checkBudget(t, "at the end")
		if len(b.Pending) != 0 {
			t.Errorf("pending proposals: %+v", b.Pending)
		}
		// The approved budget's co-financing: what the initiatives hold net of what came back, plus in-kind.
		var want domain.Share
		local := map[string]bool{"lbf": false, pfKommune: true, pfBolig: true}
		add := func(src string, amt domain.Money) {
			want.Total += amt
			if local[src] {
				want.Local += amt
			}
		}
		for _, bySrc := range m.reservation {
			for src, amt := range bySrc {
				add(src, amt)
			}
		}
		for _, r := range m.returns {
			if r.received != nil {
				add(r.src, -r.amount)
			}
		}
		for _, k := range m.inkind {
			add(k.src, k.value)
		}
		if co := b.Cofinancing(); co.Approved != want || co.BelowMinimum || co.Approved.Permille() < 250 {
			t.Errorf("co-financing %+v, model %+v (%d ‰)", co, want, want.Permille())
		}
	})

	// The model's released and paid per source, delaftale and year of release (withdrawn tranches count nowhere).
	type cellKey struct {
		src, del string
		year     int
	}
	type cellVal struct{ released, paid domain.Money }
	modelCells := map[cellKey]cellVal{}
	for _, d := range m.disbursements() {
		if d.withdrawn != nil {
			continue
		}
		for _, l := range d.lines {
			k := cellKey{l.SourceID, d.del, pfCphYear(d.released)}
			v := modelCells[k]
			v.released += l.AmountØre
			if d.paid != nil {
				v.paid += l.AmountØre
			}
			modelCells[k] = v
		}
	}

	t.Run("budget_by_year_and_cells", func(t *testing.T) {
		by, err := s.BudgetByYear(ctx, planID)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(by.Years, pfYears) {
			t.Errorf("years %v, want %v", by.Years, pfYears)
		}
		want := map[string]store.YearFigures{}
		for k, v := range modelCells {
			for _, key := range []string{fmt.Sprintf("%s/%d", k.src, k.year), fmt.Sprintf("total/%d", k.year),
				k.src + "/total"} {
				f := want[key]
				f.ReleasedØre += v.released
				f.PaidØre += v.paid
				want[key] = f
			}
		}
		for _, src := range pfSources {
			for _, y := range pfYears {
				for _, key := range []string{fmt.Sprintf("%s/%d", src, y), fmt.Sprintf("total/%d", y), src + "/total"} {
					f := want[key]
					f.CommittedØre += m.split[src][y]
					want[key] = f
				}
			}
		}
		// Year is zeroed: the key holds it.
		got := map[string]store.YearFigures{}
		for _, sy := range by.Sources {
			for _, f := range sy.Years {
				y := f.Year
				f.Year = 0
				got[fmt.Sprintf("%s/%d", sy.SourceID, y)] = f
			}
			tot := sy.Total
			tot.Year = 0
			got[sy.SourceID+"/total"] = tot
		}
		for _, f := range by.Total {
			y := f.Year
			f.Year = 0
			got[fmt.Sprintf("total/%d", y)] = f
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("budget by year (-model +store):\n%s", d)
		}

		cells, err := s.BudgetCells(ctx, planID)
		if err != nil {
			t.Fatal(err)
		}
		gotCells := map[cellKey]cellVal{}
		for _, c := range cells {
			if c.ReleasedØre == 0 && c.PaidØre == 0 {
				t.Logf("budget cell %+v holds withdrawn tranches only", c)
				continue
			}
			gotCells[cellKey{c.SourceID, c.DelaftaleID, c.Year}] = cellVal{c.ReleasedØre, c.PaidØre}
		}
		if d := cmp.Diff(modelCells, gotCells, cmp.AllowUnexported(cellKey{}, cellVal{})); d != "" {
			t.Errorf("budget cells (-model +store):\n%s", d)
		}
	})

	t.Run("annual_statements_live_and_declared", func(t *testing.T) {
		for _, y := range pfYears {
			st, err := s.AnnualStatement(ctx, planID, y, now)
			if err != nil {
				t.Fatal(err)
			}
			live := m.annual(y)
			if d := cmp.Diff(live, statementFigures(st.Figures)); d != "" {
				t.Errorf("statement %d, live (-model +store):\n%s", y, d)
			}
			if st.Declaration == nil || st.Filing == nil || st.Status != domain.AnnualFiled || st.Overdue {
				t.Errorf("statement %d: status %s, declared %t, filed %t, overdue %t", y, st.Status,
					st.Declaration != nil, st.Filing != nil, st.Overdue)
				continue
			}
			if d := cmp.Diff(frozen[y], statementFigures(st.Declaration.Figures)); d != "" {
				t.Errorf("statement %d, frozen at the declaration (-model then +store):\n%s", y, d)
			}
			if changed := !cmp.Equal(frozen[y], live); st.Changed != changed {
				t.Errorf("statement %d: changed %t, but the model says %t", y, st.Changed, changed)
			}
		}
		// hp-20's tranche 2 was released in 2023 and withdrawn in 2024, after the declaration: 2023 has changed,
		// and by exactly that tranche.
		st, err := s.AnnualStatement(ctx, planID, 2023, now)
		if err != nil {
			t.Fatal(err)
		}
		withdrawn := sumBySource(m.disb[domain.DisbursementID("hp-20", 2)].lines)
		if !st.Changed {
			t.Errorf("the 2023 statement does not show the withdrawal after its declaration")
		}
		for _, src := range pfSources {
			then, now := figuresOf(t, st.Declaration.Figures, src), figuresOf(t, st.Figures, src)
			if then.ReleasedØre-now.ReleasedØre != withdrawn[src] {
				t.Errorf("2023 %s: released %s as declared, %s now; the withdrawn tranche had %s", src,
					then.ReleasedØre, now.ReleasedØre, withdrawn[src])
			}
		}
	})

	t.Run("annual_statement_workbooks", func(t *testing.T) {
		for _, y := range pfYears {
			st, err := s.AnnualStatement(ctx, planID, y, now)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := report.AnnualXLSX(st, now)
			if err != nil {
				t.Fatal(err)
			}
			f, err := excelize.OpenReader(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			// The workbook shows what the auditor declared.
			want := frozen[y]
			cols := append(slices.Clone(pfSources), "total")
			for i, def := range domain.AnnualFigureDefs {
				for j, key := range cols {
					cell := report.XLSXCell(i, j)
					v, err := f.GetCellValue(report.SheetName(y), cell, excelize.Options{RawCellValue: true})
					if err != nil {
						t.Fatal(err)
					}
					x, err := strconv.ParseFloat(v, 64)
					if err != nil {
						t.Fatalf("%d %s: %q: %v", y, cell, v, err)
					}
					if got, w := domain.Money(math.Round(x*100)), def.Value(want[key]); got != w {
						t.Errorf("workbook %d, %s of %s (%s): %s, want %s", y, def.Label, key, cell, got, w)
					}
				}
			}
			_ = f.Close()
			// The PDF shows the same figures: each total as the page writes it.
			pdf, err := report.AnnualPDF(st, now, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, def := range domain.AnnualFigureDefs {
				if a := strings.TrimSuffix(def.Value(want["total"]).String(), " kr."); !bytes.Contains(pdf, []byte(a)) {
					t.Errorf("PDF %d: no %s %s", y, def.Label, a)
				}
			}
		}
	})

	t.Run("nothing_held_or_overdue", func(t *testing.T) {
		h, err := s.ReleaseHold(ctx, planID, now)
		if err != nil || h != nil {
			t.Errorf("release hold at %v: %+v %v", now, h, err)
		}
		list, err := s.AnnualStatements(ctx, planID, now)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range list {
			if a.Status != domain.AnnualFiled || a.Overdue {
				t.Errorf("statement %d: %s, overdue %t", a.Year, a.Status, a.Overdue)
			}
		}
	})

	t.Run("budget_workbook", func(t *testing.T) {
		plan, err := s.GetPlan(ctx, planID)
		if err != nil {
			t.Fatal(err)
		}
		cells, err := s.BudgetCells(ctx, planID)
		if err != nil {
			t.Fatal(err)
		}
		var pc []payfile.BudgetCell
		for _, c := range cells {
			pc = append(pc, payfile.BudgetCell{SourceID: c.SourceID, DelaftaleID: c.DelaftaleID, Year: c.Year,
				ReleasedØre: c.ReleasedØre, PaidØre: c.PaidØre})
		}
		raw, err := payfile.BudgetXLSX(payfile.BudgetRows(plan, pc))
		if err != nil {
			t.Fatal(err)
		}
		f, err := excelize.OpenReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rows, err := f.GetRows(payfile.BudgetSheet, excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		øre := func(s string) domain.Money {
			x, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatalf("amount %q: %v", s, err)
			}
			return domain.Money(math.Round(x * 100))
		}
		released, paid := map[string]domain.Money{}, map[string]domain.Money{}
		var totalRow []string
		for _, r := range rows[1:] {
			if r[0] == payfile.BudgetTotalLabel {
				totalRow = r
				continue
			}
			released[r[2]] += øre(r[5])
			paid[r[2]] += øre(r[6])
			if øre(r[7]) != øre(r[5])-øre(r[6]) {
				t.Errorf("row %v: unpaid is not released minus paid", r)
			}
		}
		// Released in the workbook is every tranche released and not withdrawn: pending, paid and paid back; paid is
		// paid, including what came back later.
		for _, src := range pfSources {
			l := sourceLine(t, b, src)
			if released[src] != l.ReleasedØre+l.PaidØre+l.ReturnedØre || paid[src] != l.PaidØre+l.ReturnedØre {
				t.Errorf("budget workbook %s: released %s, paid %s; budget: released %s, paid %s, returned %s", src,
					released[src], paid[src], l.ReleasedØre, l.PaidØre, l.ReturnedØre)
			}
		}
		if totalRow == nil || øre(totalRow[5]) != b.Total.ReleasedØre+b.Total.PaidØre+b.Total.ReturnedØre ||
			øre(totalRow[6]) != b.Total.PaidØre+b.Total.ReturnedØre {
			t.Errorf("budget workbook totals %v; budget %+v", totalRow, b.Total)
		}
		// Each year's sheet sums to the model's year.
		for _, y := range pfYears {
			rows, err := f.GetRows(strconv.Itoa(y), excelize.Options{RawCellValue: true})
			if err != nil {
				t.Fatal(err)
			}
			last := rows[len(rows)-1]
			var wantRel, wantPaid domain.Money
			for k, v := range modelCells {
				if k.year == y {
					wantRel += v.released
					wantPaid += v.paid
				}
			}
			if last[0] != payfile.BudgetTotalLabel || øre(last[5]) != wantRel || øre(last[6]) != wantPaid {
				t.Errorf("budget workbook %d totals %v, model released %s paid %s", y, last, wantRel, wantPaid)
			}
		}
	})

	t.Run("settlements", func(t *testing.T) {
		var rows []struct {
			InitiativeID string    `db:"initiative_id"`
			SourceID     string    `db:"source_id"`
			Paid         int64     `db:"paid_ore"`
			Spent        int64     `db:"spent_ore"`
			Return       int64     `db:"return_ore"`
			Unreserved   int64     `db:"unreserved_ore"`
			ClosedAt     time.Time `db:"closed_at"`
		}
		if err := s.DB().SelectContext(ctx, &rows, `
			SELECT initiative_id, source_id, paid_ore, spent_ore, return_ore, unreserved_ore, closed_at
			FROM closeout_lines ORDER BY initiative_id, source_id`); err != nil {
			t.Fatal(err)
		}
		type line struct {
			Paid, Spent, Return, Unreserved int64
			Year                            int
		}
		got, want := map[string]line{}, map[string]line{}
		sums := map[string]line{}
		for _, r := range rows {
			if r.Paid != r.Spent+r.Return {
				t.Errorf("%s %s: paid %d is not spent %d + return %d", r.InitiativeID, r.SourceID, r.Paid, r.Spent, r.Return)
			}
			got[r.InitiativeID+"/"+r.SourceID] = line{r.Paid, r.Spent, r.Return, r.Unreserved, pfCphYear(r.ClosedAt)}
			s := sums[r.SourceID]
			s.Paid += r.Paid
			s.Spent += r.Spent
			s.Return += r.Return
			s.Unreserved += r.Unreserved
			sums[r.SourceID] = s
		}
		for _, l := range m.closeouts {
			want[l.init+"/"+l.SourceID] = line{int64(l.PaidØre), int64(l.SpentØre), int64(l.ReturnØre), int64(l.UnreservedØre), pfCphYear(l.at)}
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("close-out lines (-model +store):\n%s", d)
		}
		// What the completed initiatives were paid, from the model's disbursements, is what they settled.
		for _, src := range pfSources {
			var paid domain.Money
			for _, d := range m.disbursements() {
				if d.paid != nil && m.isCompleted(d.init) {
					paid += amountOf(d.lines, src)
				}
			}
			if domain.Money(sums[src].Paid) != paid {
				t.Errorf("%s: the close-outs settle %d paid, the completed initiatives were paid %s", src, sums[src].Paid, paid)
			}
		}
		// The snapshots carry the same settlement.
		for init := range m.completed() {
			in, err := s.GetInitiative(ctx, init)
			if err != nil {
				t.Fatal(err)
			}
			if in.Phase != domain.PhaseCompleted || in.Closeout == nil {
				t.Errorf("%s: phase %s, close-out %v", init, in.Phase, in.Closeout)
				continue
			}
			for _, l := range in.Closeout.Lines {
				w := want[init+"/"+l.SourceID]
				if int64(l.PaidØre) != w.Paid || int64(l.SpentØre) != w.Spent || int64(l.ReturnØre) != w.Return ||
					int64(l.UnreservedØre) != w.Unreserved {
					t.Errorf("%s: snapshot close-out %+v, model %+v", init, l, w)
				}
			}
		}
		// The returns: open and received, each to the øre.
		list, err := s.ListReturns(ctx, planID, "")
		if err != nil {
			t.Fatal(err)
		}
		gotR := map[string]string{}
		for _, r := range list {
			gotR[r.ID] = fmt.Sprintf("%s %s %d %s", r.InitiativeID, r.SourceID, r.AmountØre, r.Status)
		}
		wantR := map[string]string{}
		for id, r := range m.returns {
			status := store.ReturnOpen
			if r.received != nil {
				status = store.ReturnReceived
			}
			wantR[id] = fmt.Sprintf("%s %s %d %s", r.init, r.src, r.amount, status)
		}
		if d := cmp.Diff(wantR, gotR); d != "" {
			t.Errorf("returns (-model +store):\n%s", d)
		}
	})

	t.Run("coverage", func(t *testing.T) {
		open, sameYear, laterYear := 0, 0, 0
		for _, r := range m.returns {
			switch {
			case r.received == nil:
				open++
			default:
				var closed time.Time
				for _, l := range m.closeouts {
					if l.init == r.init {
						closed = l.at
					}
				}
				if pfCphYear(*r.received) > pfCphYear(closed) {
					laterYear++
				} else {
					sameYear++
				}
			}
		}
		running := 30 - counts["completed"] - counts["cancelled"]
		pending, scheduled := 0, 0
		for _, d := range m.disb {
			if d.paid == nil && d.withdrawn == nil {
				pending++
			}
		}
		for _, p := range plans {
			for k := range p.rel {
				if p.cancelAt.IsZero() && !p.dropLast && (p.rel[k].IsZero() || p.rel[k].After(pfEnd)) {
					scheduled++
				}
			}
		}
		confirmed := len(m.inkind)
		// The year boundaries happened as scripted (each at 00:30 on 1 January in Copenhagen).
		at := func(p *time.Time) time.Time {
			if p == nil {
				return time.Time{}
			}
			return *p
		}
		var closed28 time.Time
		for _, l := range m.closeouts {
			if l.init == "hp-28" {
				closed28 = l.at
			}
		}
		inkind2023 := false
		for _, k := range m.inkind {
			inkind2023 = inkind2023 || k.decided.Equal(pfNewYearsEve(2023))
		}
		if !m.disb["hp-13-t2"].released.Equal(pfNewYearsEve(2022)) || !at(m.disb["hp-22-t2"].paid).Equal(pfNewYearsEve(2023)) ||
			!closed28.Equal(pfNewYearsEve(2024)) || m.returns["ret-hp-25-lbf"] == nil ||
			!at(m.returns["ret-hp-25-lbf"].received).Equal(pfNewYearsEve(2024)) || !inkind2023 {
			t.Errorf("a year-boundary event did not happen as scripted")
		}
		t.Logf("portfolio: %d completed, %d cancelled (%d tranches withdrawn), %d running (%d tranches pending, %d scheduled), "+
			"%d changes, %d returns (%d received the same year, %d a later year, %d open), %d in-kind confirmed, %d rejected, "+
			"%d disbursements", counts["completed"], counts["cancelled"], counts["withdrawn"], running, pending, scheduled,
			counts["changes"], len(m.returns), sameYear, laterYear, open, confirmed, m.rejected, len(m.disb))
		if counts["completed"] < 15 || counts["cancelled"] != 4 || counts["withdrawn"] != 2 || running < 3 || pending < 1 ||
			scheduled < 1 || counts["changes"] != 4 || sameYear < 1 || laterYear < 2 || open < 2 || confirmed < 5 || m.rejected != 1 {
			t.Errorf("the portfolio lacks a case the test is meant to have")
		}
	})

	// What the 2025 statement calls unspent at the year end is what the running initiatives were paid and what
	// the cancelled ones were paid (a cancellation has no close-out, so its paid tranches are never accounted for).
	paidBy := func(init string) (sum domain.Money) {
		for _, d := range m.disbursements() {
			if d.init == init && d.paid != nil {
				for _, l := range d.lines {
					sum += l.AmountØre
				}
			}
		}
		return sum
	}
	var runningPaid, cancelledPaid domain.Money
	for _, p := range plans {
		switch {
		case !p.cancelAt.IsZero():
			cancelledPaid += paidBy(p.id)
		case !m.isCompleted(p.id):
			runningPaid += paidBy(p.id)
		}
	}
	if u := m.annual(2025)["total"].UnspentØre; u != runningPaid+cancelledPaid {
		t.Errorf("unspent at the end of 2025 %s, running initiatives hold %s, cancelled ones %s", u, runningPaid, cancelledPaid)
	}
	t.Logf("unspent at the end of 2025: %s held by running initiatives, %s paid to cancelled ones", runningPaid, cancelledPaid)

	// The summary per year.
	t.Logf("%-6s %16s %16s %16s %16s %16s", "år", "frigivet", "udbetalt", "naturalydelser", "forbrug", "tilbagebetalt")
	for _, y := range pfYears {
		f := m.annual(y)["total"]
		t.Logf("%-6d %16s %16s %16s %16s %16s", y, f.ReleasedØre, f.PaidØre, f.InKindØre, f.SpentØre, f.ReturnedØre)
	}
	t.Logf("budget: reserved %s, released %s, paid %s, returned %s, available %s", b.Total.ReservedØre,
		b.Total.ReleasedØre, b.Total.PaidØre, b.Total.ReturnedØre, *b.Total.AvailableØre)
}

func (m *pfModel) completed() map[string]bool {
	out := map[string]bool{}
	for _, l := range m.closeouts {
		out[l.init] = true
	}
	return out
}

func (m *pfModel) isCompleted(init string) bool { return m.completed()[init] }
