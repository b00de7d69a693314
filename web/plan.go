package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

// planView is "Planen": the budget as tables and as a bar chart, the local co-financing share against LBF's
// minimum, and the initiatives by phase.
type planView struct {
	// Hold says why new tranche releases are held (an overdue annual statement), nil when they are not.
	Hold        *store.Hold
	Plan        domain.Plan
	Budget      store.Budget
	SourceBars  []bar
	DelBars     []bar
	Names       names
	Cofinancing cofinancingView
	// Approved is the local co-financing of the approved budget (what is reserved and not given back) now and
	// after each proposal waiting for the board, against the plan's minimum: the rule approvals are held to.
	Approved   store.Cofinancing
	Phases     []phaseRow
	PhaseTotal int
	PhaseBars  []phaseBar
	// PhaseChartHeight is the phases chart's height in its own units.
	PhaseChartHeight int
	// The open steps of the plan's initiatives with their deadlines: every overdue one, then the next upcoming
	// (at most planUpcoming); MoreSteps when some initiatives were not read (more than planSnapshotsLimit open).
	OverdueSteps  []stepView
	UpcomingSteps []stepView
	MoreUpcoming  int
	MoreSteps     bool
	// Years is the budget by source and year (the split of the commitments, released and paid by year of
	// release): years.go.
	Years store.BudgetYears
}

// planSnapshotsLimit bounds the initiatives read whole for the deadlines on Planen; planUpcoming the upcoming
// deadlines listed.
const (
	planSnapshotsLimit = 200
	planUpcoming       = 20
)

// cofinancingView is the plan's local co-financing share (the local sources' committed money against the whole)
// and the rule it is measured against (PlanSettings.MinLocalCofinancingPermille, 25 % for LBF).
type cofinancingView struct {
	Share    string // "46,6 %"
	Min      string // "25 %"
	Text     string // "46,6 % lokal medfinansiering (krav: mindst 25 %)"
	OK       bool
	Sources  []cofinancingSource
	LocalØre domain.Money
	TotalØre domain.Money
	// The bar: the local share's width and the minimum's mark, in the chart's units (cofinancingWidth = 100 %).
	BarWidth int
	MarkX    int
}

type cofinancingSource struct {
	Name         string
	Local        bool
	CommittedØre domain.Money
}

// cofinancingWidth is the co-financing bar's width for 100 %.
const cofinancingWidth = 600

// phaseRow is one phase of "initiatives by phase", linking to the list filtered on it.
type phaseRow struct {
	Phase domain.Phase
	Name  string
	Count int
	URL   string
}

// phaseBar is one bar of the phases chart.
type phaseBar struct {
	phaseRow
	Y, Width int
	CountX   int // where the count is written, after the bar
}

// permilleText shows a share in per mille as a Danish percentage with one decimal, dropped when it is 0:
// 466 -> "46,6 %", 250 -> "25 %".
func permilleText(pm int64) string {
	neg := pm < 0
	if neg {
		pm = -pm
	}
	s := strconv.FormatInt(pm/10, 10)
	if d := pm % 10; d != 0 {
		s += "," + strconv.FormatInt(d, 10)
	}
	if neg {
		s = "-" + s
	}
	return s + " %"
}

func cofinancing(p domain.Plan) cofinancingView {
	share, minimum := p.LocalCofinancingPermille(), p.Settings.MinLocalCofinancingPermille
	c := cofinancingView{Share: permilleText(share), Min: permilleText(minimum), OK: share >= minimum,
		TotalØre: p.TotalCommitted()}
	c.Text = c.Share + " lokal medfinansiering (krav: mindst " + c.Min + ")"
	for _, s := range p.FundingSources {
		c.Sources = append(c.Sources, cofinancingSource{Name: s.Name, Local: s.Local, CommittedØre: s.CommittedØre})
		if s.Local {
			c.LocalØre += s.CommittedØre
		}
	}
	// Clamped to 0-100 %: a bar cannot be longer than the whole.
	c.BarWidth = int(min(max(share, 0), 1000) * cofinancingWidth / 1000)
	c.MarkX = int(min(max(minimum, 0), 1000) * cofinancingWidth / 1000)
	return c
}

// phaseRows lists every phase in lifecycle order with its count, so a phase with none shows 0 rather than
// disappearing, and the bars of the chart scaled to the largest count.
func phaseRows(counts map[domain.Phase]int) ([]phaseRow, []phaseBar, int) {
	rows := make([]phaseRow, 0, len(domain.Phases))
	largest, total := 0, 0
	for _, ph := range domain.Phases {
		n := counts[ph]
		rows = append(rows, phaseRow{Phase: ph, Name: ph.DanishName(), Count: n,
			URL: "/indsatser?" + url.Values{"fase": {string(ph)}}.Encode()})
		largest = max(largest, n)
		total += n
	}
	bars := make([]phaseBar, len(rows))
	for i, r := range rows {
		b := phaseBar{phaseRow: r, Y: i * 28}
		if largest > 0 {
			b.Width = r.Count * phaseBarWidth / largest
		}
		b.CountX = phaseBarX + b.Width + 8
		bars[i] = b
	}
	return rows, bars, total
}

// The phases chart: labels on the left, bars from phaseBarX, the longest phaseBarWidth wide.
const (
	phaseBarX     = 260
	phaseBarWidth = 460
)

// bar is one bar of the budget chart: the committed amount split into paid, released, reserved and available,
// as widths in per mille of the widest bar.
type bar struct {
	Label    string
	Y        int
	Segments []segment
	Summary  string
}

type segment struct {
	X, Width int
	Class    string
	Label    string
}

const chartWidth = 600

func budgetBars(lines []struct {
	Label string
	Line  store.BudgetLine
}) []bar {
	var max domain.Money
	for _, l := range lines {
		if m := lineTotal(l.Line); m > max {
			max = m
		}
	}
	bars := make([]bar, 0, len(lines))
	for i, l := range lines {
		b := bar{Label: l.Label, Y: i * 56}
		x := 0
		parts := []struct {
			m     domain.Money
			class string
			label string
		}{
			{l.Line.PaidØre, "paid", "udbetalt"},
			{l.Line.ReleasedØre, "released", "frigivet"},
			{l.Line.ReservedØre, "reserved", "reserveret"},
		}
		if l.Line.AvailableØre != nil && *l.Line.AvailableØre > 0 {
			parts = append(parts, struct {
				m     domain.Money
				class string
				label string
			}{*l.Line.AvailableØre, "available", "til rådighed"})
		}
		var text []string
		for _, p := range parts {
			wd := 0
			if max > 0 {
				wd = int(int64(p.m) * chartWidth / int64(max))
			}
			if wd > 0 {
				b.Segments = append(b.Segments, segment{X: x, Width: wd, Class: p.class, Label: p.label + " " + formatKrRounded(p.m)})
			}
			x += wd
			text = append(text, p.label+" "+formatKrRounded(p.m))
		}
		b.Summary = l.Label + ": " + strings.Join(text, ", ")
		bars = append(bars, b)
	}
	return bars
}

// lineTotal is what the bar stands for: the committed amount, or what is in use when no frame is set.
func lineTotal(l store.BudgetLine) domain.Money {
	used := l.PaidØre + l.ReleasedØre + l.ReservedØre
	if l.CommittedØre != nil && *l.CommittedØre > used {
		return *l.CommittedØre
	}
	return used
}

func (w *Web) planPage(rw http.ResponseWriter, r *http.Request, v *viewer) {
	b, err := w.st.Budget(r.Context(), v.Plan.ID)
	if err != nil {
		w.serverError(rw, r, err)
		return
	}
	type labelled = struct {
		Label string
		Line  store.BudgetLine
	}
	var src, del []labelled
	for _, s := range b.Sources {
		src = append(src, labelled{s.Name, s.BudgetLine})
	}
	for _, d := range b.Delaftaler {
		del = append(del, labelled{d.Name, d.BudgetLine})
	}
	counts, err := w.st.PhaseCounts(r.Context(), v.Plan.ID)
	if err != nil {
		w.serverError(rw, r, err)
		return
	}
	view := planView{Plan: v.Plan, Budget: b, SourceBars: budgetBars(src), DelBars: budgetBars(del), Names: planNames(v.Plan),
		Cofinancing: cofinancing(v.Plan), Approved: b.Cofinancing()}
	if view.Years, err = w.svc.BudgetByYear(r.Context(), v.Principal, v.Plan.ID); err != nil {
		w.serverError(rw, r, err)
		return
	}
	view.Phases, view.PhaseBars, view.PhaseTotal = phaseRows(counts)
	view.PhaseChartHeight = len(view.PhaseBars)*28 + 4
	open, more, err := w.st.OpenInitiatives(r.Context(), v.Plan.ID, planSnapshotsLimit)
	if err != nil {
		w.serverError(rw, r, err)
		return
	}
	today := w.today()
	var steps []stepView
	for _, in := range open {
		steps = append(steps, stepViews(in, v.Plan, today)...)
	}
	sortSteps(steps)
	for _, s := range steps {
		switch {
		case s.Overdue:
			view.OverdueSteps = append(view.OverdueSteps, s)
		case len(view.UpcomingSteps) < planUpcoming:
			view.UpcomingSteps = append(view.UpcomingSteps, s)
		default:
			view.MoreUpcoming++
		}
	}
	view.MoreSteps = more
	view.Hold = w.releaseHold(r, v.Plan.ID)
	w.render(rw, r, http.StatusOK, "plan", v, "Planen", view)
}
