package workflows

import (
	"fmt"
	"time"
	"unicode/utf8"

	"go.temporal.io/sdk/workflow"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

// calendar is the Danish business calendar. It reads no clock and holds no mutable state, so workflow code may
// share it.
var calendar = domain.DanishBusinessCalendar()

// due is the recorded choice of the next alarm: its key and when it goes out ("" when nothing is scheduled).
// It is a side effect, so a calendar or rule change in a later release cannot change an alarm already chosen.
type due struct {
	Key string    `json:"key,omitempty"`
	At  time.Time `json:"at"`
}

// waitForTheEnd waits until the initiative ends. Workflows started with deadlines keep a durable timer for the
// next reminder or escalation of whatever step waits for someone (domain.OpenSteps and domain.Alarms), and
// start over whenever the initiative changes; older histories only wait.
func (w *initiative) waitForTheEnd(ctx workflow.Context) error {
	if !w.deadlines {
		return workflow.Await(ctx, func() bool { return w.state.Phase.Terminal() })
	}
	skipped := map[string]bool{}
	for !w.state.Phase.Terminal() {
		version := w.state.Version
		changed := func() bool { return w.state.Version != version || w.state.Phase.Terminal() }
		var next due
		if err := workflow.SideEffect(ctx, func(workflow.Context) any { return w.nextAlarm(skipped) }).Get(&next); err != nil {
			return err
		}
		if next.Key == "" {
			if err := workflow.Await(ctx, changed); err != nil {
				return err
			}
			continue
		}
		if wait := next.At.Sub(workflow.Now(ctx)); wait > 0 {
			ok, err := workflow.AwaitWithTimeout(ctx, wait, changed)
			if err != nil {
				return err
			}
			if ok {
				continue // the initiative moved on: the alarms may have changed
			}
		}
		if err := w.fire(ctx, next.Key); err != nil {
			// Not sent (a divergence the log and the doctor report); do not try it again in this run.
			w.log.Error("Alarm not sent", "alarm", next.Key, "error", err)
			skipped[next.Key] = true
		} else if !w.state.Sent(next.Key) && w.state.Version == version {
			// Neither sent nor overtaken by a step: never choose it again, or this loop would never yield.
			skipped[next.Key] = true
		}
	}
	return nil
}

// nextAlarm is the earliest alarm of the open steps not sent yet.
func (w *initiative) nextAlarm(skipped map[string]bool) due {
	for _, a := range domain.Alarms(domain.OpenSteps(&w.state, w.plan, calendar), w.plan, calendar) {
		if !w.state.Sent(a.Key) && !skipped[a.Key] {
			return due{Key: a.Key, At: a.At.UTC()}
		}
	}
	return due{}
}

// fire sends alarm key if it is still due: an event on the initiative and a notification to each recipient,
// in one step.
func (w *initiative) fire(ctx workflow.Context, key string) error {
	_, err := w.locked(ctx, func() (UpdateResult, error) {
		var alarm *domain.Alarm
		for _, a := range domain.Alarms(domain.OpenSteps(&w.state, w.plan, calendar), w.plan, calendar) {
			if a.Key == key && !w.state.Sent(key) {
				alarm = &a
				break
			}
		}
		if alarm == nil {
			return w.result(), nil // the step was done while this waited for the lock
		}
		event, kind := EventReminder, store.NotifyReminder
		waiting := alarm.Step.WaitingFor
		if alarm.Kind == domain.AlarmEscalation {
			event, kind, waiting = EventEscalated, store.NotifyEscalation, alarm.Step.EscalateTo
		}
		audience := w.audience(waiting, alarm.Step)
		title, body := w.alarmText(*alarm)
		payload := map[string]any{"alarm": alarm.Key, "kind": alarm.Kind, "step": alarm.Step.Key,
			"step_kind": alarm.Step.Kind, "deadline": alarm.Step.Deadline, "to": waiting, "audience": audience}
		next, tr, err := w.next(ctx, w.state, event, System, payload, func(next *domain.Initiative, now time.Time) {
			next.Alerts = append(next.Alerts, domain.Alert{Key: alarm.Key, Kind: alarm.Kind, Step: alarm.Step.Key,
				Deadline: alarm.Step.Deadline, At: now})
		})
		if err != nil {
			return w.result(), err
		}
		n := store.NotifyInput{PlanID: w.state.PlanID, InitiativeID: w.state.ID, Seq: tr.Event.Seq, Kind: kind,
			Title: clip(title, store.MaxNotificationTitle), Body: clip(body, store.MaxNotificationBody), Audience: audience}
		return w.commit(ctx, store.Step{Transitions: []store.Transition{tr}, Notify: []store.NotifyInput{n}}, next)
	})
	return err
}

// audience turns who a step waits for into users and roles, from the board as last read.
func (w *initiative) audience(who string, step domain.OpenStep) store.Audience {
	b := w.plan.Board
	switch who {
	case domain.WaitBoardNonVoters:
		if !b.Voting() {
			return store.Audience{Roles: []domain.Role{domain.RoleBoard}}
		}
		voted := map[string]bool{w.state.Proposer.UserID: true}
		for _, c := range w.state.Conflicts {
			voted[c.UserID] = true
		}
		for _, x := range w.state.RoundBallots(step.Matter) {
			voted[x.Actor.UserID] = true
		}
		var ids []string
		for _, m := range b.Members {
			if !voted[m] {
				ids = append(ids, m)
			}
		}
		return store.Audience{UserIDs: ids}
	case domain.WaitChair:
		if b != nil && b.Chair != "" {
			return store.Audience{UserIDs: []string{b.Chair}}
		}
		return store.Audience{Roles: []domain.Role{domain.RoleBoard}}
	case domain.WaitBoard:
		return store.Audience{Roles: []domain.Role{domain.RoleBoard}}
	case domain.WaitFinance:
		return store.Audience{Roles: []domain.Role{domain.RoleFinance}}
	case domain.WaitFinanceLead:
		if lead := w.plan.Settings.FinanceLead; lead != "" {
			return store.Audience{UserIDs: []string{lead}}
		}
		return store.Audience{Roles: []domain.Role{domain.RoleFinance, domain.RoleAdmin}}
	case domain.WaitProposer:
		return store.Audience{UserIDs: []string{w.state.Proposer.UserID}}
	}
	return store.Audience{Roles: []domain.Role{domain.RoleAdmin}}
}

// alarmText is the Danish title and body of an alarm's notification.
func (w *initiative) alarmText(a domain.Alarm) (string, string) {
	title := w.state.Proposal.Title
	deadline := danishDate(a.Step.Deadline)
	if a.Kind == domain.AlarmEscalation {
		return fmt.Sprintf("Frist overskredet: %s", a.Step.Title),
			fmt.Sprintf("%s\n\n%s skulle have været klaret senest %s. Fristen er overskredet, og sagen er derfor "+
				"sendt videre til dig.", title, a.Step.Title, deadline)
	}
	days := "hverdag"
	if a.OffsetBD != 1 {
		days = "hverdage"
	}
	return fmt.Sprintf("Påmindelse: %s (frist %s)", a.Step.Title, deadline),
		fmt.Sprintf("%s\n\n%s skal være klaret senest %s, om %d %s.", title, a.Step.Title, deadline, a.OffsetBD, days)
}

var danishMonths = [...]string{"januar", "februar", "marts", "april", "maj", "juni", "juli", "august",
	"september", "oktober", "november", "december"}

func danishDate(d domain.Date) string {
	t := d.Time()
	return fmt.Sprintf("%d. %s %d", t.Day(), danishMonths[t.Month()-1], t.Year())
}

// clip shortens s to at most n characters, ending in "…" when it cut: titles of the largest initiatives would
// otherwise make a notification longer than the store takes.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
