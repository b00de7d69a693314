package web

import (
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // Europe/Copenhagen must exist on a minimal image too

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

// copenhagen is the time zone dates and times are shown in.
var copenhagen = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Copenhagen")
	if err != nil {
		panic(err) // embedded by time/tzdata: cannot happen
	}
	return loc
}()

// formatKr shows an amount the Danish way: "1.234.567 kr.", with øre only when it is not whole kroner
// ("1.234,50 kr."). Amounts are exact øre, so nothing is rounded.
func formatKr(m domain.Money) string {
	s := m.String() // "1.234.567,00 kr."
	return strings.Replace(s, ",00 kr.", " kr.", 1)
}

// formatKrRounded shows an amount in whole kroner, rounding half an øre-krone up (away from zero) as Danes round:
// 1.234,50 kr. is shown as "1.235 kr.". For chart labels, where øre are noise.
func formatKrRounded(m domain.Money) string {
	kr := int64(m) / 100
	rest := int64(m) % 100
	switch {
	case rest >= 50:
		kr++
	case rest <= -50:
		kr--
	}
	return formatKr(domain.Money(kr * 100))
}

// formatDate shows a date as 31.12.2025 ("" for the zero date).
func formatDate(d domain.Date) string {
	if d.IsZero() {
		return ""
	}
	return d.Time().Format("02.01.2006")
}

// formatTimeDate shows the Copenhagen date of an instant as 31.12.2025.
func formatTimeDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(copenhagen).Format("02.01.2006")
}

// formatDateTime shows an instant in Copenhagen time as "31.12.2025 kl. 14.05".
func formatDateTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(copenhagen).Format("02.01.2006 kl. 15.04")
}

func outcomeName(o domain.Outcome) string {
	switch o {
	case domain.OutcomeApprove:
		return "godkendt"
	case domain.OutcomeReject:
		return "afvist"
	case domain.OutcomeRequestChanges:
		return "ændringer ønsket"
	}
	return string(o)
}

func trancheStatusName(s domain.TrancheStatus) string {
	switch s {
	case domain.TrancheScheduled:
		return "planlagt"
	case domain.TrancheReleased:
		return "frigivet, afventer udbetaling"
	case domain.TranchePaid:
		return "udbetalt"
	case domain.TrancheWithdrawn:
		return "trukket tilbage fra økonomi"
	case domain.TrancheCancelled:
		return "annulleret, aldrig frigivet"
	}
	return string(s)
}

// eventNames are the event log's types as users read them (workflows.Event*).
var eventNames = map[string]string{
	"submitted":             "Forslag indsendt",
	"ballot_cast":           "Stemme afgivet",
	"approved":              "Forslag godkendt",
	"rejected":              "Forslag afvist",
	"changes_requested":     "Ændringer ønsket",
	"resubmitted":           "Revideret forslag indsendt",
	"withdrawn":             "Forslag trukket tilbage",
	"tranche_released":      "Rate frigivet",
	"payment_confirmed":     "Udbetaling bekræftet",
	"milestone_reported":    "Statusrapport indsendt",
	"milestone_accepted":    "Milepæl godkendt",
	"evaluation_submitted":  "Evaluering indsendt",
	"evaluation_accepted":   "Evaluering godkendt",
	"milestone_returned":    "Statusrapport sendt tilbage",
	"evaluation_returned":   "Evaluering sendt tilbage",
	"conflict_declared":     "Inhabilitet erklæret",
	"cancellation_proposed": "Annullering foreslået",
	"cancellation_refused":  "Annullering afvist",
	"cancelled":             "Indsats annulleret",
	"change_requested":      "Ændring anmodet",
	"change_approved":       "Ændring godkendt af bestyrelsen",
	"change_rejected":       "Ændring afvist",
	"change_applied":        "Ændring trådt i kraft",
	"change_lbf_refused":    "Ændring afvist af Landsbyggefonden",
	"reminder_sent":         "Påmindelse sendt",
	"escalated":             "Frist overskredet – eskaleret",
}

func eventName(typ string) string {
	if n, ok := eventNames[typ]; ok {
		return n
	}
	return typ
}

func roleName(r domain.Role) string {
	switch r {
	case "system", "":
		return "systemet"
	}
	return r.DanishName()
}

// workText says what waits, as an instruction to the user.
func workText(it store.WorkItem) string {
	switch it.Kind {
	case store.WorkDecide:
		return "Beslut forslaget"
	case store.WorkRevise:
		return "Revidér forslaget efter bestyrelsens ønsker"
	case store.WorkPay:
		return "Udbetal raten for milepæl " + itoa(it.MilestoneNo) + ": " + it.MilestoneTitle
	case store.WorkReport:
		return "Skriv statusrapport for milepæl " + itoa(it.MilestoneNo) + ": " + it.MilestoneTitle
	case store.WorkAcceptReport:
		return "Godkend statusrapporten for milepæl " + itoa(it.MilestoneNo) + ": " + it.MilestoneTitle
	case store.WorkEvaluate:
		return "Skriv evalueringen"
	case store.WorkAcceptEvaluation:
		return "Godkend evalueringen"
	}
	return string(it.Kind)
}

func itoa(n int) string { return strconv.Itoa(n) }
