package web

import (
	"sort"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/service"
)

// Deadlines on the pages: each open step of an initiative (domain.OpenSteps, in Danish business days) with its
// deadline, and an overdue step marked "Overskredet siden <dato>". What is overdue depends on the day: Config.Now.

// stepView is an open step as the pages show it.
type stepView struct {
	domain.OpenStep
	InitiativeID    string
	InitiativeTitle string
	Waiting         string // Danish: who the step waits for
	Overdue         bool
	// OverdueSince is the first day after the deadline: the day the step became overdue.
	OverdueSince domain.Date
}

// today is the Copenhagen date of the pages' clock.
func (w *Web) today() domain.Date { return domain.LocalDate(w.cfg.Now()) }

// stepViews lists the initiative's open steps under the plan's settings, with what is overdue on today.
func stepViews(in domain.Initiative, plan domain.Plan, today domain.Date) []stepView {
	var out []stepView
	for _, s := range service.OpenSteps(in, plan) {
		v := stepView{OpenStep: s, InitiativeID: in.ID, InitiativeTitle: in.Proposal.Title, Waiting: waitingName(s.WaitingFor),
			Overdue: s.Overdue(today)}
		if v.Overdue {
			v.OverdueSince = dayAfter(s.Deadline)
		}
		out = append(out, v)
	}
	return out
}

// sortSteps orders steps overdue first, then by deadline.
func sortSteps(steps []stepView) {
	sort.SliceStable(steps, func(i, j int) bool {
		a, b := steps[i], steps[j]
		if a.Overdue != b.Overdue {
			return a.Overdue
		}
		return a.Deadline.Before(b.Deadline)
	})
}

func dayAfter(d domain.Date) domain.Date {
	t := d.Time().AddDate(0, 0, 1)
	return domain.NewDate(t.Year(), t.Month(), t.Day())
}

// waitingName says in Danish who a step waits for (domain.Wait*).
func waitingName(w string) string {
	switch w {
	case domain.WaitBoardNonVoters:
		return "bestyrelsen (de medlemmer, der ikke har stemt)"
	case domain.WaitChair:
		return "formanden"
	case domain.WaitBoard:
		return "bestyrelsen"
	case domain.WaitFinance:
		return "økonomi"
	case domain.WaitFinanceLead:
		return "den økonomiansvarlige"
	case domain.WaitProposer:
		return "forslagsstilleren"
	}
	return w
}

// alertKindName is a reminder or escalation in Danish.
func alertKindName(kind string) string {
	switch kind {
	case domain.AlarmReminder:
		return "Påmindelse"
	case domain.AlarmEscalation:
		return "Eskalering"
	}
	return kind
}
