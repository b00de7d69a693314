package web

import (
	"net/http"
	"strings"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

// planView is "Planen": the budget as tables and as a bar chart.
type planView struct {
	Plan       domain.Plan
	Budget     store.Budget
	SourceBars []bar
	DelBars    []bar
	Names      names
}

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
	view := planView{Plan: v.Plan, Budget: b, SourceBars: budgetBars(src), DelBars: budgetBars(del), Names: planNames(v.Plan)}
	w.render(rw, r, http.StatusOK, "plan", v, "Planen", view)
}
