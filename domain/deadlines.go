package domain

import (
	"fmt"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // deadlines are Danish local time wherever the worker runs
)

// StepKind is a kind of step that waits for someone.
type StepKind string

// Step kinds.
const (
	StepBoardDecision StepKind = "board_decision" // the board decides an open matter
	StepPayment       StepKind = "payment"        // finance pays a released tranche
	StepReport        StepKind = "report"         // the operational group reports on the current milestone
	StepEvaluation    StepKind = "evaluation"     // the operational group submits the evaluation
)

// Who a step waits for, escalates to: the audience as the workflow names it. The store turns roles into users.
const (
	WaitBoardNonVoters = "board_non_voters" // entitled board members who have not voted in the round
	WaitChair          = "chair"
	WaitBoard          = "board"
	WaitFinance        = "finance"
	WaitFinanceLead    = "finance_lead"
	WaitProposer       = "proposer"
)

// OpenStep is a step of the initiative that waits for someone, with its deadline.
type OpenStep struct {
	Key         string   `json:"key"` // stable while the step is open, e.g. "proposal/r2", "payment/x-t1"
	Kind        StepKind `json:"kind"`
	Matter      string   `json:"matter,omitempty"` // MatterKey, for a board decision
	Title       string   `json:"title"`            // Danish: what is waited for
	Since       Date     `json:"since"`            // when the step opened (Copenhagen date)
	Deadline    Date     `json:"deadline"`         // the last day to act
	WaitingFor  string   `json:"waiting_for"`      // Wait*
	EscalateTo  string   `json:"escalate_to"`      // Wait*
	MilestoneNo int      `json:"milestone_no,omitempty"`
	// DisbursementID is the tranche to pay, for a payment step.
	DisbursementID string `json:"disbursement_id,omitempty"`
}

// Overdue reports whether the step's deadline has passed on date today.
func (s OpenStep) Overdue(today Date) bool { return today.After(s.Deadline) }

// Copenhagen is the time zone deadlines are kept in.
var Copenhagen = mustLocation("Europe/Copenhagen")

func mustLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(fmt.Sprintf("load time zone %s: %v", name, err))
	}
	return loc
}

// LocalDate is the Copenhagen date of instant t.
func LocalDate(t time.Time) Date {
	l := t.In(Copenhagen)
	return NewDate(l.Year(), l.Month(), l.Day())
}

// AlarmHour is the Copenhagen hour at which reminders and escalations go out, on business days.
const AlarmHour = 8

// AlarmTime is the instant of the alarm on date d: AlarmHour, Copenhagen time.
func AlarmTime(d Date) time.Time {
	return time.Date(d.t.Year(), d.t.Month(), d.t.Day(), AlarmHour, 0, 0, 0, Copenhagen)
}

// Alarm is a reminder or escalation due for an open step.
type Alarm struct {
	Key      string    // unique per step and alarm: "<step>/remind-<n>" or "<step>/escalate"
	Kind     string    // "reminder" or "escalation"
	At       time.Time // when it goes out
	Step     OpenStep
	OffsetBD int // business days before the deadline, for a reminder
}

// Alarm kinds.
const (
	AlarmReminder   = "reminder"
	AlarmEscalation = "escalation"
)

// OpenSteps lists the steps of the initiative that wait for someone, each with its deadline under the plan's
// settings and the Danish business calendar. Terminal initiatives have none.
func OpenSteps(in *Initiative, plan Plan, calendar *BusinessCalendar) []OpenStep {
	if in.Phase.Terminal() {
		return nil
	}
	d := plan.Settings.Deadlines()
	var steps []OpenStep
	board := func(key, matter, title string, since time.Time, no int) {
		s := LocalDate(since)
		waiting := WaitBoardNonVoters
		if kind := MatterKindOf(matter); ChairAlone(in, plan, kind) {
			waiting = WaitChair
		}
		steps = append(steps, OpenStep{Key: key, Kind: StepBoardDecision, Matter: matter, Title: title, Since: s,
			Deadline: calendar.AddBusinessDays(s, d.BoardDecisionDays), WaitingFor: waiting, EscalateTo: WaitChair,
			MilestoneNo: no})
	}
	if in.Phase == PhaseBoardReview {
		since := in.RevisionAt
		if since.IsZero() {
			since = in.CreatedAt
		}
		board(fmt.Sprintf("proposal/r%d", in.Revision), "", "Bestyrelsens beslutning om forslaget", since, 0)
	}
	if c := in.OpenChange(); c != nil && c.Status == ChangeVoting && in.Phase.Approved() {
		key := MatterKey(MatterChange, 0, c.No)
		board(key, key, fmt.Sprintf("Bestyrelsens beslutning om ændring %d", c.No), c.RequestedAt, 0)
	}
	if c := in.Cancellation; c != nil && !c.Decided && in.Phase.Approved() {
		board(MatterKey(MatterCancellation, 0, c.Round), MatterKey(MatterCancellation, 0, c.Round),
			"Bestyrelsens beslutning om annullering", c.ProposedAt, 0)
	}
	if !in.Phase.Approved() {
		return steps
	}
	for i := range in.Milestones {
		m := &in.Milestones[i]
		if m.TrancheStatus == TrancheReleased && m.ReleasedAt != nil {
			s := LocalDate(*m.ReleasedAt)
			steps = append(steps, OpenStep{Key: "payment/" + m.DisbursementID, Kind: StepPayment,
				Title: fmt.Sprintf("Udbetaling af rate %d (%s)", m.No, m.Title), Since: s,
				Deadline: calendar.AddBusinessDays(s, d.PaymentDays), WaitingFor: WaitFinance,
				EscalateTo: WaitFinanceLead, MilestoneNo: m.No, DisbursementID: m.DisbursementID})
		}
	}
	if cur := in.CurrentMilestone(); cur != nil && cur.TrancheStatus == TranchePaid {
		round := len(cur.Returned) + 1
		if cur.Report == nil {
			var s Date
			if cur.PaidAt != nil {
				s = LocalDate(*cur.PaidAt)
			} else if cur.ReleasedAt != nil {
				s = LocalDate(*cur.ReleasedAt)
			}
			if len(cur.Returned) > 0 {
				s = LocalDate(cur.Returned[len(cur.Returned)-1].At)
			}
			deadline := calendar.AddBusinessDays(cur.DueDate, 0)
			if len(cur.Returned) > 0 && !deadline.After(s) {
				// A report sent back after its due date gets the board's own deadline to be reported again.
				deadline = calendar.AddBusinessDays(s, d.BoardDecisionDays)
			}
			steps = append(steps, OpenStep{Key: fmt.Sprintf("report/%d/%d", cur.No, round), Kind: StepReport,
				Title: fmt.Sprintf("Rapport om milepæl %d (%s)", cur.No, cur.Title), Since: s, Deadline: deadline,
				WaitingFor: WaitProposer, EscalateTo: WaitBoard, MilestoneNo: cur.No})
		} else {
			key := MatterKey(MatterMilestone, cur.No, round)
			board(key, key, fmt.Sprintf("Bestyrelsens behandling af rapporten om milepæl %d", cur.No),
				cur.Report.At, cur.No)
		}
	}
	if in.Phase == PhaseEvaluation {
		round := len(in.EvaluationsReturned) + 1
		if in.Evaluation == nil {
			var since time.Time
			if n := len(in.Milestones); n > 0 && in.Milestones[n-1].AcceptedAt != nil {
				since = *in.Milestones[n-1].AcceptedAt
			}
			if r := len(in.EvaluationsReturned); r > 0 {
				since = in.EvaluationsReturned[r-1].At
			}
			if !since.IsZero() {
				s := LocalDate(since)
				steps = append(steps, OpenStep{Key: fmt.Sprintf("evaluation/%d", round), Kind: StepEvaluation,
					Title: "Evaluering af indsatsen", Since: s,
					Deadline: calendar.AddBusinessDays(s, d.EvaluationDays), WaitingFor: WaitProposer,
					EscalateTo: WaitBoard})
			}
		} else if in.Evaluation.AcceptedAt == nil {
			key := MatterKey(MatterEvaluation, 0, round)
			board(key, key, "Bestyrelsens behandling af evalueringen", in.Evaluation.SubmittedAt, 0)
		}
	}
	return steps
}

// Alarms lists the reminders and escalations of the open steps, in the order they go out: reminders at each
// offset before the deadline (on business days), the escalation on the first business day after it.
func Alarms(steps []OpenStep, plan Plan, calendar *BusinessCalendar) []Alarm {
	d := plan.Settings.Deadlines()
	var out []Alarm
	for _, s := range steps {
		for _, off := range d.ReminderOffsets {
			if off <= 0 {
				continue
			}
			day := calendar.AddBusinessDays(s.Deadline, -off)
			if day.Before(s.Since) || day == s.Since {
				continue // the step opened after this reminder would have gone out
			}
			out = append(out, Alarm{Key: fmt.Sprintf("%s/remind-%d", s.Key, off), Kind: AlarmReminder,
				At: AlarmTime(day), Step: s, OffsetBD: off})
		}
		out = append(out, Alarm{Key: s.Key + "/escalate", Kind: AlarmEscalation,
			At: AlarmTime(calendar.AddBusinessDays(s.Deadline, 1)), Step: s})
	}
	// By time, then key: a stable order for the workflow, which must choose the same alarm on every replay.
	slices.SortFunc(out, func(x, y Alarm) int {
		if c := x.At.Compare(y.At); c != 0 {
			return c
		}
		return strings.Compare(x.Key, y.Key)
	})
	return out
}

// Sent reports whether the initiative has sent the alarm.
func (in *Initiative) Sent(key string) bool {
	for _, a := range in.Alerts {
		if a.Key == key {
			return true
		}
	}
	return false
}

// MatterKindOf is the kind of the round named by a MatterKey ("" and anything unknown: the proposal).
func MatterKindOf(key string) MatterKind {
	for _, k := range MatterKinds {
		if strings.HasPrefix(key, string(k)+"/") {
			return k
		}
	}
	return MatterProposal
}
