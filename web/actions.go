package web

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/workflows"
)

// The actions on an initiative's page. Each allowed action (service.Allowed) is a form on GET /indsatser/{id};
// it posts to a path under the initiative, which begins the action through the service (the API's own gate:
// another plan's initiative is not found, another role is refused), reads the form and carries the action out
// with the form's idempotency (formIdem). Success redirects to the page with a flash message (Post/Redirect/Get);
// a refusal re-renders the page with the form as typed, the error summary on top and each message at its field.

// flashKey is the session key of the message the initiative page shows once after an action succeeded.
const flashKey = "flash"

// actionForm is one action's form on the page: its values (as typed, after a refusal), its problems by field
// id, and its key (a fresh newFormKey, or the posted one when it is shown again after a refusal).
type actionForm struct {
	Kind      service.ActionKind
	Milestone int               // report, accept and send back a milestone; a meeting decision on a milestone
	Change    int               // the change request, for Landsbyggefonden's answer and a meeting decision on a change
	Matter    domain.MatterKind // the matter of a meeting decision
	Round     *roundView        // the open round a meeting decision is about (its members, names and standing)
	Key       string
	Values    map[string]string   // form field name → value
	All       map[string][]string // form field name → every value (checkboxes)
	Errors    map[string]string   // HTML id → message
	Failed    bool                // this is the form that was refused
}

// Value is the value the user typed in field name ("" on a fresh form).
func (f *actionForm) Value(name string) string { return f.Values[name] }

// Err is the message at the field with HTML id ("" when none).
func (f *actionForm) Err(id string) string { return f.Errors[id] }

// Checked reports whether the radio button name=value was chosen.
func (f *actionForm) Checked(name, value string) bool { return f.Values[name] == value }

// Includes reports whether the checkbox name=value was ticked.
func (f *actionForm) Includes(name, value string) bool { return slices.Contains(f.All[name], value) }

// actionsView is the actions part of the initiative page.
type actionsView struct {
	Decide           *actionForm
	VoteCancel       *actionForm
	VoteChange       *actionForm
	RecordLBF        *actionForm
	RequestChange    bool // the link to the change form
	Withdraw         *actionForm
	Report           *actionForm
	AcceptMilestone  *actionForm
	ReturnMilestone  *actionForm
	Evaluate         *actionForm
	AcceptEvaluation *actionForm
	ReturnEvaluation *actionForm
	ProposeCancel    *actionForm
	DeclareConflict  *actionForm
	Meetings         []*actionForm   // one per open round the chair or an admin may record a meeting's votes on
	MeetingOptions   []meetingOption // the plan's meetings a meeting form may name (not cancelled)
	Resubmit         bool
	Goals            []goalField  // the evaluation's per-goal fields
	Spend            []spendField // the evaluation's final spend per funding source
	Summary          []fieldError
	Done             string // a success message (flash)
}

// Any reports whether there is anything to show in the actions section.
func (a actionsView) Any() bool {
	return a.Decide != nil || a.VoteCancel != nil || a.VoteChange != nil || a.RecordLBF != nil || a.RequestChange ||
		a.Withdraw != nil || a.Report != nil ||
		a.AcceptMilestone != nil || a.ReturnMilestone != nil || a.Evaluate != nil || a.AcceptEvaluation != nil ||
		a.ReturnEvaluation != nil || a.ProposeCancel != nil || a.DeclareConflict != nil || len(a.Meetings) > 0 ||
		a.Resubmit
}

// goalField is one goal in the evaluation form; its fields are maal-<Index>-id, -opnaaet, -resultat.
type goalField struct {
	Index int
	Goal  domain.Goal
}

// spendField is one funding source in the evaluation form's final spend: forbrug-<Index> (kroner) and
// forbrug-<Index>-kilde (the source), prefilled with what was paid from it.
type spendField struct {
	Index    int
	SourceID string
	Name     string
	Paid     domain.Money
}

// Default is the field's value on a fresh form: everything paid, spent ("12.500,00").
func (f spendField) Default() string { return strings.TrimSuffix(f.Paid.String(), " kr.") }

// spendFields are the evaluation form's spend fields: each source of the budget something was paid from, in the
// budget's order.
func spendFields(in domain.Initiative, plan domain.Plan) []spendField {
	paid, err := in.PaidBySource()
	if err != nil {
		return nil // an invalid read model offers no form; the rule refuses it anyway
	}
	var out []spendField
	for _, l := range in.Proposal.Budget {
		if paid[l.SourceID] <= 0 || slices.ContainsFunc(out, func(f spendField) bool { return f.SourceID == l.SourceID }) {
			continue
		}
		name := l.SourceID
		for _, s := range plan.FundingSources {
			if s.ID == l.SourceID {
				name = s.Name
			}
		}
		out = append(out, spendField{Index: len(out), SourceID: l.SourceID, Name: name, Paid: paid[l.SourceID]})
	}
	return out
}

// readSpend reads a form's final spend per source (spendFields: forbrug-<i>-kilde and forbrug-<i> in kroner): the
// amounts, what was typed by field name, and the message of each amount that did not parse, by index.
func readSpend(r *http.Request) (spend []domain.SourceAmount, typed map[string]string, bad map[int]string) {
	typed, bad = map[string]string{}, map[int]string{}
	for i := 0; i < domain.MaxResults; i++ {
		name := fmt.Sprintf("forbrug-%d", i)
		src := r.PostFormValue(name + "-kilde")
		if src == "" {
			break
		}
		typed[name] = r.PostFormValue(name)
		m, msg := spentKroner(typed[name])
		if msg != "" {
			bad[i] = msg
		}
		spend = append(spend, domain.SourceAmount{SourceID: src, AmountØre: m})
	}
	return spend, typed, bad
}

// actionSpec is what the pages know about an action: where its form posts, its section's id (the summary's
// link for a refusal about no field) and which HTML id shows a rule's problem about a field.
type actionSpec struct {
	section string
	fields  map[string]string // problem field (the API's JSON name) → HTML id
	done    string            // the success message
}

var actionSpecs = map[service.ActionKind]actionSpec{
	service.ActDecide: {"handling-beslutning", map[string]string{"outcome": "beslutning-udfald",
		"comment": "beslutning-kommentar"}, "Bestyrelsens beslutning er registreret."},
	service.ActWithdraw: {"handling-tilbagetraek", map[string]string{"reason": "tilbagetraek-begrundelse"},
		"Forslaget er trukket tilbage."},
	service.ActReportMilestone: {"handling-rapport", map[string]string{"summary": "rapport-resume",
		"spent_ore": "rapport-forbrug"}, "Statusrapporten er sendt til bestyrelsen."},
	service.ActAcceptMilestone: {"handling-godkend-milepael", map[string]string{"comment": "milepael-kommentar"},
		"Milepælen er godkendt."},
	service.ActSubmitEvaluation: {"handling-evaluering", map[string]string{"summary": "evaluering-resume",
		"results": "evaluering-maal-0-opnaaet"}, "Evalueringen er sendt til bestyrelsen."},
	service.ActAcceptEvaluation: {"handling-godkend-evaluering", map[string]string{"comment": "evaluering-godkend-kommentar"},
		"Evalueringen er godkendt, og indsatsen er afsluttet."},
	service.ActReturnMilestone: {"handling-send-tilbage-milepael", map[string]string{"comment": "milepael-tilbage-kommentar"},
		"Rapporten er sendt tilbage til forslagsstilleren."},
	service.ActReturnEvaluation: {"handling-send-tilbage-evaluering", map[string]string{"comment": "evaluering-tilbage-kommentar"},
		"Evalueringen er sendt tilbage til forslagsstilleren."},
	service.ActVoteCancel: {"handling-annullering-stemme", map[string]string{"outcome": "annullering-udfald",
		"comment": "annullering-kommentar"}, "Din stemme om annullering er registreret."},
	service.ActProposeCancel: {"handling-annullering", map[string]string{"reason": "annullering-begrundelse"},
		"Forslaget om at annullere indsatsen er sendt til bestyrelsens afstemning."},
	service.ActDeclareConflict: {"handling-inhabilitet", map[string]string{"reason": "inhabilitet-begrundelse"},
		"Din inhabilitet er registreret. Du stemmer ikke i indsatsens sager."},
	service.ActMeetingDecision: {"handling-moede", map[string]string{"meeting_id": "moede-id", "comment": "moede-kommentar"},
		"Mødets afstemning er registreret."},
	service.ActVoteChange: {"handling-aendring-stemme", map[string]string{"outcome": "aendring-udfald",
		"comment": "aendring-kommentar"}, "Din stemme om ændringen er registreret."},
	service.ActRecordLBF: {"handling-lbf", map[string]string{"approved": "lbf-svar", "letter_date": "lbf-brevdato",
		"reference": "lbf-reference"}, "Landsbyggefondens svar er registreret."},
}

// voteRegistered is the success message of a vote that did not (yet) decide its matter.
const voteRegistered = "Din stemme er registreret. Sagen afgøres, når nok medlemmer af bestyrelsen har stemt."

// fieldID is the HTML id that shows a rule's problem about field of action kind: results[i].x of the evaluation
// is goal i's field, and a field the page has no control for is shown at the action's section.
func fieldID(kind service.ActionKind, field string) string {
	spec := actionSpecs[kind]
	if id, ok := spec.fields[field]; ok {
		return id
	}
	if kind == service.ActSubmitEvaluation && strings.HasPrefix(field, "spend[") {
		if i, _, ok := strings.Cut(strings.TrimPrefix(field, "spend["), "]"); ok {
			if n, err := strconv.Atoi(i); err == nil && n >= 0 {
				return fmt.Sprintf("evaluering-forbrug-%d", n)
			}
		}
	}
	if kind == service.ActSubmitEvaluation && strings.HasPrefix(field, "results[") {
		if i, rest, ok := strings.Cut(strings.TrimPrefix(field, "results["), "]"); ok {
			if n, err := strconv.Atoi(i); err == nil && n >= 0 {
				if rest == ".result" {
					return fmt.Sprintf("evaluering-maal-%d-resultat", n)
				}
				return fmt.Sprintf("evaluering-maal-%d-opnaaet", n)
			}
		}
	}
	return spec.section
}

// fieldID is the HTML id on this form that shows a problem about field ("": the form's section). A page may hold
// a meeting form per open round, so their ids carry the round's matter.
func (f *actionForm) fieldID(field string) string {
	id := fieldID(f.Kind, field)
	if f.Kind == service.ActMeetingDecision {
		id += "-" + string(normalMatter(f.Matter))
	}
	return id
}

// ID is the HTML id of the form's field named base (see fieldID), for the templates.
func (f *actionForm) ID(base string) string {
	if f.Kind == service.ActMeetingDecision {
		return base + "-" + string(normalMatter(f.Matter))
	}
	return base
}

func (w *Web) routeActions(pages *http.ServeMux) {
	pages.HandleFunc("POST /indsatser/{id}/beslutning", w.authed(w.decide))
	pages.HandleFunc("POST /indsatser/{id}/tilbagetraek", w.authed(w.withdraw))
	pages.HandleFunc("POST /indsatser/{id}/milepaele/{n}/rapport", w.authed(w.reportMilestone))
	pages.HandleFunc("POST /indsatser/{id}/milepaele/{n}/godkend", w.authed(w.acceptMilestone))
	pages.HandleFunc("POST /indsatser/{id}/evaluering", w.authed(w.submitEvaluation))
	pages.HandleFunc("POST /indsatser/{id}/evaluering/godkend", w.authed(w.acceptEvaluation))
	pages.HandleFunc("POST /indsatser/{id}/milepaele/{n}/send-tilbage", w.authed(w.returnMilestone))
	pages.HandleFunc("POST /indsatser/{id}/evaluering/send-tilbage", w.authed(w.returnEvaluation))
	pages.HandleFunc("POST /indsatser/{id}/inhabilitet", w.authed(w.declareConflict))
	pages.HandleFunc("POST /indsatser/{id}/annullering", w.authed(w.proposeCancel))
	pages.HandleFunc("POST /indsatser/{id}/annullering/stemme", w.authed(w.voteCancel))
	pages.HandleFunc("POST /indsatser/{id}/moede", w.authed(w.meetingDecision))
}

// postedForm is the posted form of action kind, with its values as typed, to show again after a refusal.
func postedForm(r *http.Request, kind service.ActionKind, milestone int) *actionForm {
	f := &actionForm{Kind: kind, Milestone: milestone, Key: r.PostFormValue("form_key"), Values: map[string]string{},
		All: map[string][]string{}, Errors: map[string]string{}, Failed: true}
	for k, vs := range r.PostForm {
		if k != csrfField && k != "form_key" && len(vs) > 0 {
			f.Values[k] = vs[0]
			f.All[k] = vs
		}
	}
	if f.Key == "" || len(f.Key) > 64 {
		f.Key = newFormKey()
	}
	return f
}

// begin starts action kind on the initiative in the path. It answers the request itself (and returns nil) when
// the action cannot start: no service, not found, another role.
// fieldLabels name the fields whose rule messages do not ("Feltet skal udfyldes."), for the error summary.
var fieldLabels = map[string]string{"beslutning-kommentar": "Kommentar", "tilbagetraek-begrundelse": "Begrundelse",
	"rapport-resume": "Hvad er der nået", "rapport-forbrug": "Forbrug", "milepael-kommentar": "Kommentar",
	"evaluering-resume": "Samlet evaluering", "evaluering-godkend-kommentar": "Kommentar",
	"milepael-tilbage-kommentar": "Hvad mangler", "evaluering-tilbage-kommentar": "Hvad mangler",
	"annullering-kommentar": "Kommentar", "annullering-begrundelse": "Hvorfor bør indsatsen annulleres",
	"inhabilitet-begrundelse": "Hvorfor er du inhabil", "aendring-kommentar": "Kommentar",
	"lbf-brevdato": "Brevets dato", "lbf-reference": "Journalnummer"}

// summaryMessage is a problem as the error summary lists it: a generic rule message (a required or too long
// text) is prefixed with the field's label, so the summary says which field it is about.
func summaryMessage(id string, p domain.FieldProblem) string {
	if p.Message != "Feltet skal udfyldes." && p.Code != "too_long" && p.Code != "invalid_characters" {
		return p.Message
	}
	label, ok := fieldLabels[id]
	if !ok {
		var n int
		if _, err := fmt.Sscanf(id, "evaluering-maal-%d-resultat", &n); err == nil {
			label, ok = fmt.Sprintf("Resultat for mål %d", n+1), true
		}
	}
	if !ok || strings.Contains(p.Message, label) {
		return p.Message
	}
	return label + ": " + p.Message
}

func (w *Web) begin(rw http.ResponseWriter, r *http.Request, v *viewer, kind service.ActionKind) *service.Target {
	if w.svc == nil {
		w.actionUnavailable(rw, r, v, service.ErrUnavailable)
		return nil
	}
	t, err := w.svc.Begin(r.Context(), v.Principal, r.PathValue("id"), kind)
	if err != nil {
		w.actionFailed(rw, r, v, postedForm(r, kind, 0), err)
		return nil
	}
	return t
}

// milestoneNo is the {n} of the path, or 0 (a milestone no initiative has) when it is not a number.
func milestoneNo(r *http.Request) int {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 1 || n > 1000 {
		return 0
	}
	return n
}

func (w *Web) decide(rw http.ResponseWriter, r *http.Request, v *viewer) {
	t := w.begin(rw, r, v, service.ActDecide)
	if t == nil {
		return
	}
	f := postedForm(r, service.ActDecide, 0)
	outcome := domain.Outcome(map[string]string{"godkend": "approve", "afvis": "reject",
		"aendringer": "request_changes"}[r.PostFormValue("udfald")])
	if !outcome.Valid() {
		w.inputProblems(rw, r, v, f, []domain.FieldProblem{{Field: "outcome", Code: "required",
			Message: "Vælg bestyrelsens beslutning: godkend, afvis eller ønsk ændringer."}})
		return
	}
	in, err := w.svc.Decide(r.Context(), t, outcome, r.PostFormValue("kommentar"), formIdem(v.Principal, r))
	msg := actionSpecs[service.ActDecide].done
	if err == nil && in.Phase == domain.PhaseBoardReview {
		msg = voteRegistered // the round is still open: a vote, not yet the board's decision
	}
	w.actionDoneWith(rw, r, v, t, f, err, msg)
}

// outcomeOf reads the outcome radio buttons of a vote form ("" when none was chosen).
func outcomeOf(r *http.Request) domain.Outcome {
	return domain.Outcome(map[string]string{"godkend": "approve", "afvis": "reject",
		"aendringer": "request_changes"}[r.PostFormValue("udfald")])
}

func (w *Web) voteCancel(rw http.ResponseWriter, r *http.Request, v *viewer) {
	t := w.begin(rw, r, v, service.ActVoteCancel)
	if t == nil {
		return
	}
	f := postedForm(r, service.ActVoteCancel, 0)
	outcome := outcomeOf(r)
	if !outcome.Valid() {
		w.inputProblems(rw, r, v, f, []domain.FieldProblem{{Field: "outcome", Code: "required",
			Message: "Vælg, om indsatsen skal annulleres."}})
		return
	}
	in, err := w.svc.VoteCancel(r.Context(), t, outcome, r.PostFormValue("kommentar"), formIdem(v.Principal, r))
	msg := voteRegistered
	switch {
	case in.Phase == domain.PhaseCancelled:
		msg = "Bestyrelsen har besluttet at annullere indsatsen."
	case in.Cancellation != nil && in.Cancellation.Decided:
		msg = "Bestyrelsen har besluttet ikke at annullere indsatsen."
	}
	w.actionDoneWith(rw, r, v, t, f, err, msg)
}

func (w *Web) withdraw(rw http.ResponseWriter, r *http.Request, v *viewer) {
	t := w.begin(rw, r, v, service.ActWithdraw)
	if t == nil {
		return
	}
	f := postedForm(r, service.ActWithdraw, 0)
	_, err := w.svc.Withdraw(r.Context(), t, r.PostFormValue("begrundelse"), formIdem(v.Principal, r))
	w.actionDone(rw, r, v, t, f, err)
}

func (w *Web) reportMilestone(rw http.ResponseWriter, r *http.Request, v *viewer) {
	t := w.begin(rw, r, v, service.ActReportMilestone)
	if t == nil {
		return
	}
	no := milestoneNo(r)
	f := postedForm(r, service.ActReportMilestone, no)
	summary := r.PostFormValue("resume")
	spent, msg := spentKroner(r.PostFormValue("forbrug"))
	if msg != "" {
		problems := []domain.FieldProblem{{Field: "spent_ore", Code: "invalid", Message: msg}}
		// The rule's other problems (an empty summary) are shown at once too, from the same rule the workflow
		// runs, with a stand-in amount: so the user fixes everything in one round.
		a := domain.Actor{UserID: v.Principal.UserID, Name: v.Principal.Name, Role: t.Role}
		var re *domain.RuleError
		if err := domain.CheckReport(&t.Initiative, a, no, summary, 0); errors.As(err, &re) && re.Code == domain.CodeValidation {
			for _, p := range re.Problems {
				if p.Field != "spent_ore" {
					problems = append(problems, p)
				}
			}
		}
		w.inputProblems(rw, r, v, f, problems)
		return
	}
	_, err := w.svc.ReportMilestone(r.Context(), t, no, summary, spent, formIdem(v.Principal, r))
	w.actionDone(rw, r, v, t, f, err)
}

func (w *Web) acceptMilestone(rw http.ResponseWriter, r *http.Request, v *viewer) {
	t := w.begin(rw, r, v, service.ActAcceptMilestone)
	if t == nil {
		return
	}
	no := milestoneNo(r)
	f := postedForm(r, service.ActAcceptMilestone, no)
	in, err := w.svc.AcceptMilestone(r.Context(), t, no, r.PostFormValue("kommentar"), formIdem(v.Principal, r))
	msg := voteRegistered
	if m, ok := in.Milestone(no); ok && m.AcceptedAt != nil {
		msg = actionSpecs[service.ActAcceptMilestone].done
	}
	w.actionDoneWith(rw, r, v, t, f, err, msg)
}

func (w *Web) returnMilestone(rw http.ResponseWriter, r *http.Request, v *viewer) {
	t := w.begin(rw, r, v, service.ActReturnMilestone)
	if t == nil {
		return
	}
	no := milestoneNo(r)
	f := postedForm(r, service.ActReturnMilestone, no)
	before := 0
	if m, ok := t.Initiative.Milestone(no); ok {
		before = len(m.Returned)
	}
	in, err := w.svc.ReturnMilestone(r.Context(), t, no, r.PostFormValue("kommentar"), formIdem(v.Principal, r))
	msg := voteRegistered
	if m, ok := in.Milestone(no); ok && len(m.Returned) > before {
		msg = actionSpecs[service.ActReturnMilestone].done
	}
	w.actionDoneWith(rw, r, v, t, f, err, msg)
}

func (w *Web) submitEvaluation(rw http.ResponseWriter, r *http.Request, v *viewer) {
	t := w.begin(rw, r, v, service.ActSubmitEvaluation)
	if t == nil {
		return
	}
	f := postedForm(r, service.ActSubmitEvaluation, 0)
	var results []domain.GoalResult
	var problems []domain.FieldProblem
	for i := 0; i < len(t.Initiative.Proposal.Goals) && i < domain.MaxResults; i++ {
		p := fmt.Sprintf("maal-%d-", i)
		res := domain.GoalResult{GoalID: r.PostFormValue(p + "id"), Result: r.PostFormValue(p + "resultat")}
		switch r.PostFormValue(p + "opnaaet") {
		case "ja":
			res.Achieved = true
		case "nej":
		default:
			problems = append(problems, domain.FieldProblem{Field: fmt.Sprintf("results[%d].achieved", i),
				Code: "required", Message: fmt.Sprintf("Vælg, om målet „%s“ er nået.", t.Initiative.Proposal.Goals[i].Description)})
		}
		results = append(results, res)
	}
	summary := r.PostFormValue("resume")
	// The final spend per source: the form names the sources it shows; a blank amount is a problem of its own.
	spend, _, bad := readSpend(r)
	for i := range spend {
		if msg, ok := bad[i]; ok {
			problems = append(problems, domain.FieldProblem{Field: fmt.Sprintf("spend[%d].amount_ore", i),
				Code: "invalid", Message: msg})
		}
	}
	if len(problems) > 0 {
		// As for the report: the rule's own problems with the rest of the form, shown together.
		a := domain.Actor{UserID: v.Principal.UserID, Name: v.Principal.Name, Role: t.Role}
		var re *domain.RuleError
		if err := domain.CheckSubmitEvaluation(&t.Initiative, a, summary, results, spend); errors.As(err, &re) && re.Code == domain.CodeValidation {
			problems = append(problems, re.Problems...)
		}
		w.inputProblems(rw, r, v, f, problems)
		return
	}
	_, err := w.svc.SubmitEvaluation(r.Context(), t, summary, results, spend, formIdem(v.Principal, r))
	w.actionDone(rw, r, v, t, f, err)
}

func (w *Web) acceptEvaluation(rw http.ResponseWriter, r *http.Request, v *viewer) {
	t := w.begin(rw, r, v, service.ActAcceptEvaluation)
	if t == nil {
		return
	}
	f := postedForm(r, service.ActAcceptEvaluation, 0)
	in, err := w.svc.AcceptEvaluation(r.Context(), t, r.PostFormValue("kommentar"), formIdem(v.Principal, r))
	msg := voteRegistered
	if in.Phase == domain.PhaseCompleted {
		msg = actionSpecs[service.ActAcceptEvaluation].done
	}
	w.actionDoneWith(rw, r, v, t, f, err, msg)
}

func (w *Web) returnEvaluation(rw http.ResponseWriter, r *http.Request, v *viewer) {
	t := w.begin(rw, r, v, service.ActReturnEvaluation)
	if t == nil {
		return
	}
	f := postedForm(r, service.ActReturnEvaluation, 0)
	before := len(t.Initiative.EvaluationsReturned)
	in, err := w.svc.ReturnEvaluation(r.Context(), t, r.PostFormValue("kommentar"), formIdem(v.Principal, r))
	msg := voteRegistered
	if len(in.EvaluationsReturned) > before {
		msg = actionSpecs[service.ActReturnEvaluation].done
	}
	w.actionDoneWith(rw, r, v, t, f, err, msg)
}

func (w *Web) declareConflict(rw http.ResponseWriter, r *http.Request, v *viewer) {
	t := w.begin(rw, r, v, service.ActDeclareConflict)
	if t == nil {
		return
	}
	f := postedForm(r, service.ActDeclareConflict, 0)
	_, err := w.svc.DeclareConflict(r.Context(), t, r.PostFormValue("begrundelse"), formIdem(v.Principal, r))
	w.actionDone(rw, r, v, t, f, err)
}

func (w *Web) proposeCancel(rw http.ResponseWriter, r *http.Request, v *viewer) {
	t := w.begin(rw, r, v, service.ActProposeCancel)
	if t == nil {
		return
	}
	f := postedForm(r, service.ActProposeCancel, 0)
	_, err := w.svc.ProposeCancel(r.Context(), t, r.PostFormValue("begrundelse"), formIdem(v.Principal, r))
	w.actionDone(rw, r, v, t, f, err)
}

// meetingOutcomes are the votes a meeting form offers per member; "" is no vote (absent, or abstained).
var meetingOutcomes = map[string]domain.Outcome{"": "", "godkend": domain.OutcomeApprove, "afvis": domain.OutcomeReject,
	"aendringer": domain.OutcomeRequestChanges}

// meetingDecision records a meeting's votes on one matter. The form names the matter (sag, milepael), the meeting
// (moede), each member present (tilstede, one value per member) and each member's vote (stemme-<user ID>).
func (w *Web) meetingDecision(rw http.ResponseWriter, r *http.Request, v *viewer) {
	t := w.begin(rw, r, v, service.ActMeetingDecision)
	if t == nil {
		return
	}
	matter := domain.MatterKind(r.PostFormValue("sag"))
	no, _ := strconv.Atoi(r.PostFormValue("milepael"))
	f := postedForm(r, service.ActMeetingDecision, no)
	f.Matter = matter
	m := service.MeetingVotes{ID: strings.TrimSpace(r.PostFormValue("moede")), Matter: matter, No: no,
		Present: r.PostForm["tilstede"], Comment: r.PostFormValue("kommentar")}
	if len(m.Present) > maxMeetingMembers {
		m.Present = m.Present[:maxMeetingMembers]
	}
	var problems []domain.FieldProblem
	if b := v.Plan.Board; b != nil {
		for _, id := range b.Members {
			val := r.PostFormValue("stemme-" + id)
			o, ok := meetingOutcomes[val]
			if !ok {
				problems = append(problems, domain.FieldProblem{Field: "votes", Code: "unknown",
					Message: "Vælg godkend, afvis, ønsk ændringer eller ingen stemme for hvert medlem."})
				continue
			}
			if o != "" {
				m.Votes = append(m.Votes, workflows.MeetingVote{MemberID: id, Outcome: o})
			}
		}
	}
	if len(problems) > 0 {
		w.inputProblems(rw, r, v, f, problems)
		return
	}
	_, err := w.svc.MeetingDecision(r.Context(), t, m, formIdem(v.Principal, r))
	w.actionDone(rw, r, v, t, f, err)
}

// maxMeetingMembers bounds the members a posted meeting form may name.
const maxMeetingMembers = 50

// actionDone answers a carried-out action: on success a redirect to the initiative with the flash message.
func (w *Web) actionDone(rw http.ResponseWriter, r *http.Request, v *viewer, t *service.Target, f *actionForm, err error) {
	w.actionDoneWith(rw, r, v, t, f, err, actionSpecs[t.Kind].done)
}

// actionDoneWith is actionDone with the success message msg (a vote says whether it decided its matter).
func (w *Web) actionDoneWith(rw http.ResponseWriter, r *http.Request, v *viewer, t *service.Target, f *actionForm,
	err error, msg string) {
	if err != nil {
		w.actionFailed(rw, r, v, f, err)
		return
	}
	w.sessions.Put(r.Context(), flashKey, msg)
	http.Redirect(rw, r, "/indsatser/"+t.Initiative.ID, http.StatusSeeOther)
}

// inputProblems shows the page again with problems the form's own reading found (nothing was sent).
func (w *Web) inputProblems(rw http.ResponseWriter, r *http.Request, v *viewer, f *actionForm, problems []domain.FieldProblem) {
	w.actionFailed(rw, r, v, f, &domain.RuleError{Code: domain.CodeValidation,
		Message: "Handlingen kan ikke udføres.", Problems: problems})
}

// actionFailed answers an action that did not succeed: not found is the 404 page; a refusal for the user's role
// or identity is a 403 page with the rule's Danish message, as the API refuses it; any other refusal shows the
// page again with the form as typed and the problems; an unavailable dependency is a 503 page.
func (w *Web) actionFailed(rw http.ResponseWriter, r *http.Request, v *viewer, f *actionForm, err error) {
	var re *domain.RuleError
	switch {
	case errors.As(err, &re) && re.Code == domain.CodeNotFound, errors.Is(err, store.ErrNotFound):
		w.notFound(rw, r)
	case re != nil && re.Code == domain.CodeForbidden:
		w.render(rw, r, http.StatusForbidden, "error", v, "Handlingen er ikke tilladt", errorView{
			Heading: "Handlingen er ikke tilladt", Text: re.Message})
	case re != nil:
		f.Errors = map[string]string{}
		var summary []fieldError
		for _, p := range re.Problems {
			id := f.fieldID(p.Field)
			if _, dup := f.Errors[id]; dup {
				f.Errors[id] += " " + p.Message
			} else {
				f.Errors[id] = p.Message
			}
			summary = append(summary, fieldError{ID: id, Message: summaryMessage(id, p)})
		}
		if len(re.Problems) == 0 {
			summary = []fieldError{{ID: f.fieldID(""), Message: re.Message}}
		}
		w.showInitiative(rw, r, v, ruleStatus(re.Code), f, summary)
	case passing(err):
		w.actionUnavailable(rw, r, v, err)
	default:
		w.serverError(rw, r, err)
	}
}

// actionUnavailable is the Danish 503 page of an action that could not be completed now: still running in the
// workflow, or a dependency down. The same form sent again acts once (its form key), so trying again is safe.
func (w *Web) actionUnavailable(rw http.ResponseWriter, r *http.Request, v *viewer, err error) {
	view := errorView{Heading: "Handlingen er under behandling",
		Text: "Din handling er ved at blive behandlet, men systemet har ikke svaret endnu. Genindlæs indsatsens side om et " +
			"øjeblik for at se, om den er gennemført. Sender du den samme formular igen, udføres handlingen kun én gang."}
	if !errors.Is(err, service.ErrStillRunning) && !errors.Is(err, service.ErrReadModelBehind) {
		view = errorView{Heading: "Handlingen kan ikke udføres lige nu",
			Text: "En del af systemet svarer ikke i øjeblikket, så handlingen kan være under behandling. Vent et øjeblik, " +
				"og genindlæs indsatsens side. Sender du den samme formular igen, udføres handlingen kun én gang."}
	}
	w.serviceUnavailable(rw, r, v, err, view)
}

// actionsFor is the forms of the actions v may take on in now (service.Allowed under the plan's board), each with
// a fresh key; failed is the refused form, shown as typed instead of a fresh one when its action is still allowed.
// rounds are the board's open rounds as the page shows them, for the meeting forms.
func actionsFor(v *viewer, in domain.Initiative, failed *actionForm, rounds []roundView) actionsView {
	var av actionsView
	fresh := func(a service.Action) *actionForm {
		if failed != nil && failed.Kind == a.Kind && (failed.Milestone == a.Milestone || failed.Milestone == 0) &&
			(a.Kind != service.ActMeetingDecision || normalMatter(failed.Matter) == normalMatter(a.Matter)) {
			failed.Milestone = a.Milestone
			failed.Matter = a.Matter
			failed.Change = a.Change
			return failed
		}
		return &actionForm{Kind: a.Kind, Milestone: a.Milestone, Matter: a.Matter, Change: a.Change, Key: newFormKey(),
			Values: map[string]string{}, Errors: map[string]string{}}
	}
	for _, a := range service.Allowed(v.Principal, in, v.Plan) {
		switch a.Kind {
		case service.ActDecide:
			av.Decide = fresh(a)
		case service.ActVoteCancel:
			av.VoteCancel = fresh(a)
		case service.ActVoteChange:
			av.VoteChange = fresh(a)
		case service.ActRecordLBF:
			av.RecordLBF = fresh(a)
		case service.ActRequestChange:
			av.RequestChange = true
		case service.ActResubmit:
			av.Resubmit = true
		case service.ActWithdraw:
			av.Withdraw = fresh(a)
		case service.ActReportMilestone:
			av.Report = fresh(a)
		case service.ActAcceptMilestone:
			av.AcceptMilestone = fresh(a)
		case service.ActReturnMilestone:
			av.ReturnMilestone = fresh(a)
		case service.ActSubmitEvaluation:
			av.Evaluate = fresh(a)
			for i, g := range in.Proposal.Goals {
				av.Goals = append(av.Goals, goalField{Index: i, Goal: g})
			}
			av.Spend = spendFields(in, v.Plan)
		case service.ActAcceptEvaluation:
			av.AcceptEvaluation = fresh(a)
		case service.ActReturnEvaluation:
			av.ReturnEvaluation = fresh(a)
		case service.ActProposeCancel:
			av.ProposeCancel = fresh(a)
		case service.ActDeclareConflict:
			av.DeclareConflict = fresh(a)
		case service.ActMeetingDecision:
			f := fresh(a)
			for i := range rounds {
				if rounds[i].Matter == a.Matter && rounds[i].No == a.Milestone {
					f.Round = &rounds[i]
				}
			}
			if f.Round != nil {
				av.Meetings = append(av.Meetings, f)
			}
			// ActConfirmPayment belongs to the finance pages.
		}
	}
	return av
}

// normalMatter is the matter kind with "" as the proposal.
func normalMatter(k domain.MatterKind) domain.MatterKind {
	if k == "" {
		return domain.MatterProposal
	}
	return k
}

// spentKroner reads a report's spent amount (see parseKroner) and says in Danish what is wrong with it, if
// anything.
func spentKroner(s string) (domain.Money, string) {
	m, blank, err := parseKroner(s)
	switch {
	case blank:
		return 0, "Skriv, hvor meget der er brugt i alt på milepælen, i kroner (0, hvis intet)."
	case errors.Is(err, errAmountNegative):
		return 0, "Forbruget må ikke være negativt."
	case errors.Is(err, errAmountTooLarge):
		return 0, fmt.Sprintf("Forbruget må højst være %s.", domain.MaxMoney)
	case err != nil:
		return 0, "Skriv beløbet i kroner, fx 12.500 eller 12.500,50."
	}
	return m, ""
}
