package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/service"
)

// Changes after approval (ændringer). The proposer or the secretariat asks for a change on /indsatser/{id}/aendring:
// the proposal form's budget and milestone editor (proposals.go), prefilled with the version in force, with the
// milestones whose tranche is released or paid shown read-only, and a reason. The board votes on it on the
// initiative page (or the chair alone, for a small change); the secretariat records Landsbyggefonden's answer to a
// strategic one there too. The page shows the open change — what it changes, before and after — and every approved
// version and change request.

// routeChanges registers the change form and the change actions of the initiative page.
func (w *Web) routeChanges(pages *http.ServeMux) {
	pages.HandleFunc("GET /indsatser/{id}/aendring", w.authed(w.changeForm))
	pages.HandleFunc("POST /indsatser/{id}/aendring", w.authed(w.changeSubmit))
	pages.HandleFunc("POST /indsatser/{id}/aendring/stemme", w.authed(w.voteChange))
	pages.HandleFunc("POST /indsatser/{id}/aendringer/{no}/lbf", w.authed(w.recordLBF))
}

// lockedMilestones is how many milestones, from the first, have their tranche released or paid: tranches are
// released in order, so these come first, and a change keeps them.
func lockedMilestones(in *domain.Initiative) int {
	n := 0
	for _, m := range in.Milestones {
		if m.TrancheStatus == domain.TrancheScheduled {
			break
		}
		n++
	}
	return n
}

// lockRows puts the locked milestones' title and tranche (and, once reported, due date) into the form as they
// stand: the page shows them read-only, and whatever a posted form says about them is not what the user could
// change.
func lockRows(f *proposalForm, in *domain.Initiative) {
	for i := range lockedMilestones(in) {
		m := in.Milestones[i]
		if i >= len(f.Milestones) {
			f.Milestones = append(f.Milestones, proposalMilestoneRow{Due: m.DueDate.String()})
		}
		row := &f.Milestones[i]
		row.Title = m.Title
		row.Tranche = map[string]string{}
		for _, l := range m.Tranche {
			row.Tranche[l.SourceID] = proposalKrInput(l.AmountØre)
		}
		if m.Report != nil || m.AcceptedAt != nil {
			row.Due = m.DueDate.String()
		}
	}
}

// changeFormFrom prefills the change form with the version in force.
func changeFormFrom(in *domain.Initiative) proposalForm {
	p := in.Proposal
	p.Milestones = in.CurrentPlan()
	f := proposalFormFrom(p)
	f.Title, f.Description, f.TargetGroup, f.DelaftaleID, f.Goals, f.Areas = "", "", "", "", nil, map[string]bool{}
	return f
}

// changeRowAction is rowAction for the change form: a locked milestone cannot be removed.
func changeRowAction(f *proposalForm, r *http.Request, locked int) bool {
	if v := r.PostForm.Get("fjern_milepael"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 1 && n <= locked {
			return true // shown again as it was
		}
	}
	return f.rowAction(r)
}

// beginChange reads the initiative for "Anmod om ændring" and checks that the user may ask for a change now: the
// service's gate (access, role), then the workflow's own rule (the proposer or an admin, approved, no change or
// cancellation open). It answers the request itself when not.
func (w *Web) beginChange(rw http.ResponseWriter, r *http.Request, v *viewer) (*service.Target, bool) {
	if w.svc == nil {
		w.proposalUnavailable(rw, r, v, errors.New("no service"))
		return nil, false
	}
	t, err := w.svc.Begin(r.Context(), v.Principal, r.PathValue("id"), service.ActRequestChange)
	if err != nil {
		w.proposalFailed(rw, r, v, err)
		return nil, false
	}
	if t.Initiative.PlanID != v.Plan.ID {
		w.notFound(rw, r)
		return nil, false
	}
	a := domain.Actor{UserID: v.Principal.UserID, Name: v.Principal.Name, Role: t.Role}
	if _, err := domain.CheckRequestChange(&t.Initiative, v.Plan, a, "", nil, nil, nil); err != nil {
		var re *domain.RuleError
		if !errors.As(err, &re) || re.Code != domain.CodeValidation {
			w.proposalFailed(rw, r, v, err)
			return nil, false
		}
	}
	return t, true
}

func (w *Web) changeForm(rw http.ResponseWriter, r *http.Request, v *viewer) {
	t, ok := w.beginChange(rw, r, v)
	if !ok {
		return
	}
	w.renderChange(rw, r, v, http.StatusOK, changeFormFrom(&t.Initiative), nil, &t.Initiative)
}

func (w *Web) changeSubmit(rw http.ResponseWriter, r *http.Request, v *viewer) {
	t, ok := w.beginChange(rw, r, v)
	if !ok {
		return
	}
	in := &t.Initiative
	f := readProposalForm(r, v.Plan)
	lockRows(&f, in)
	if changeRowAction(&f, r, lockedMilestones(in)) {
		lockRows(&f, in)
		w.renderChange(rw, r, v, http.StatusOK, f, nil, in)
		return
	}
	p, problems, _ := f.proposal(v.Plan)
	after, err := w.svc.RequestChange(r.Context(), t, f.Reason, p.Budget, p.Milestones, problems, formIdem(v.Principal, r))
	var re *domain.RuleError
	switch {
	case err == nil:
		msg := "Ændringen er sendt til bestyrelsen, som stemmer om den."
		if c := after.OpenChange(); c != nil && c.ChairAlone {
			msg = "Ændringen er sendt til bestyrelsens formand, som afgør den alene, fordi den flytter mindre end " +
				"planens grænse for omfordeling."
		}
		w.sessions.Put(r.Context(), flashKey, msg)
		http.Redirect(rw, r, "/indsatser/"+in.ID, http.StatusSeeOther)
	case errors.As(err, &re) && (re.Code == domain.CodeValidation || re.Code == domain.CodeInsufficientFunds):
		w.renderChange(rw, r, v, ruleStatus(re.Code), f, proposalProblems(re), in)
	default:
		w.proposalFailed(rw, r, v, err)
	}
}

// renderChange shows the change form: the proposal form's budget and milestones, with the locked milestones
// read-only, and what each source could have at most (its budget now and what the plan has not reserved).
func (w *Web) renderChange(rw http.ResponseWriter, r *http.Request, v *viewer, status int, f proposalForm,
	problems []domain.FieldProblem, in *domain.Initiative) {
	if len(f.Milestones) == 0 {
		f.Milestones = []proposalMilestoneRow{{Tranche: map[string]string{}}}
	}
	now := map[string]domain.Money{}
	for _, l := range in.Proposal.Budget {
		now[l.SourceID] += l.AmountØre
	}
	free := w.proposalAvailable(r, v)
	var most map[string]domain.Money
	if free != nil {
		most = map[string]domain.Money{}
		for _, src := range v.Plan.FundingSources {
			if a, ok := free[src.ID]; ok {
				most[src.ID] = min(a+now[src.ID], src.CommittedØre) // a source never gives more than it committed
			}
		}
	}
	view := buildProposalView(f, v.Plan, most, problems)
	for i := range view.Sources {
		s := &view.Sources[i]
		src, _ := v.Plan.Source(s.ID)
		s.Hint = "Tilsagn: " + formatKr(src.CommittedØre) + " Indsatsens budget nu: " + formatKr(now[s.ID])
		if a, ok := free[s.ID]; ok {
			s.Hint += " Endnu ikke reserveret i planen: " + formatKr(a)
		}
	}
	for i := range min(lockedMilestones(in), len(view.Milestones)) {
		m := in.Milestones[i]
		mv := &view.Milestones[i]
		mv.Locked, mv.DueLocked = true, m.Report != nil || m.AcceptedAt != nil
		mv.Lock = "frigivet"
		if m.TrancheStatus == domain.TranchePaid {
			mv.Lock = "udbetalt"
		}
	}
	view.Change, view.InitiativeID, view.Key = true, in.ID, f.Key
	view.Action = "/indsatser/" + in.ID + "/aendring"
	view.Heading = "Anmod om ændring: " + in.Proposal.Title
	st := v.Plan.Settings
	view.Lead = "Ret budgettet og milepælene, så de viser indsatsen, som den skal se ud efter ændringen, og skriv " +
		"hvorfor. Raterne fra hver kilde skal tilsammen give kildens budget. "
	if st.ReallocationThresholdØre > 0 {
		view.Lead += "Flytter ændringen mindre end " + formatKr(st.ReallocationThresholdØre) +
			", afgør bestyrelsens formand den alene; ellers stemmer bestyrelsen om den."
	} else {
		view.Lead += "Bestyrelsen stemmer om ændringen."
	}
	if st.StrategicChangeØre > 0 {
		view.Lead += " Flytter den " + formatKr(st.StrategicChangeØre) +
			" eller mere, skal Landsbyggefonden også godkende den, før den træder i kraft."
	}
	title := "Anmod om ændring"
	if len(view.Errors) > 0 {
		title = "Fejl: " + title
	}
	w.render(rw, r, status, proposalPageName, v, title, view)
}

// voteChange is the board member's vote on the open change (approve or reject, with a comment).
func (w *Web) voteChange(rw http.ResponseWriter, r *http.Request, v *viewer) {
	t := w.begin(rw, r, v, service.ActVoteChange)
	if t == nil {
		return
	}
	f := postedForm(r, service.ActVoteChange, 0)
	outcome := outcomeOf(r)
	if outcome != domain.OutcomeApprove && outcome != domain.OutcomeReject {
		w.inputProblems(rw, r, v, f, []domain.FieldProblem{{Field: "outcome", Code: "required",
			Message: "Vælg, om ændringen skal godkendes eller afvises."}})
		return
	}
	no := 0
	if c := t.Initiative.OpenChange(); c != nil {
		no = c.No
	}
	in, err := w.svc.VoteChange(r.Context(), t, outcome, r.PostFormValue("kommentar"), formIdem(v.Principal, r))
	msg := voteRegistered
	for _, c := range in.Changes {
		if c.No != no {
			continue
		}
		switch c.Status {
		case domain.ChangeApplied:
			msg = fmt.Sprintf("Ændring %d er godkendt og gælder nu.", no)
		case domain.ChangeAwaitingLBF:
			msg = fmt.Sprintf("Ændring %d er godkendt af bestyrelsen. Den træder i kraft, når Landsbyggefondens "+
				"godkendelse er registreret.", no)
		case domain.ChangeRejected:
			msg = fmt.Sprintf("Ændring %d er afvist.", no)
		}
	}
	w.actionDoneWith(rw, r, v, t, f, err, msg)
}

// recordLBF records Landsbyggefonden's answer to a strategic change from its letter: approved or not (svar ja/nej),
// the letter's date (brevdato) and its journal number (reference).
func (w *Web) recordLBF(rw http.ResponseWriter, r *http.Request, v *viewer) {
	t := w.begin(rw, r, v, service.ActRecordLBF)
	if t == nil {
		return
	}
	f := postedForm(r, service.ActRecordLBF, 0)
	no, err := strconv.Atoi(r.PathValue("no"))
	if err != nil || no < 1 {
		w.notFound(rw, r)
		return
	}
	f.Change = no
	var problems []domain.FieldProblem
	var approved bool
	switch r.PostFormValue("svar") {
	case "ja":
		approved = true
	case "nej":
	default:
		problems = append(problems, domain.FieldProblem{Field: "approved", Code: "required",
			Message: "Vælg, om Landsbyggefonden har godkendt ændringen."})
	}
	letter, ok := proposalDate(r.PostFormValue("brevdato"))
	if !ok {
		problems = append(problems, domain.FieldProblem{Field: "letter_date", Code: "invalid_date",
			Message: "Skriv brevets dato som dd.mm.åååå, fx 02.05.2024, eller vælg den i kalenderen."})
	}
	_, err = w.svc.RecordLBF(r.Context(), t, no, approved, letter, r.PostFormValue("reference"), problems,
		formIdem(v.Principal, r))
	msg := fmt.Sprintf("Landsbyggefondens godkendelse er registreret. Ændring %d gælder nu.", no)
	if !approved {
		msg = fmt.Sprintf("Landsbyggefondens afslag er registreret. Ændring %d træder ikke i kraft.", no)
	}
	w.actionDoneWith(rw, r, v, t, f, err, msg)
}

// changeView is a change request as the initiative page shows it, against the version in force when it was
// asked for (for an open change: the initiative as it stands).
type changeView struct {
	domain.Change
	Sources      []budgetDiff
	BudgetBefore domain.Money
	BudgetAfter  domain.Money
	Milestones   []milestoneDiff
	Threshold    domain.Money // the plan's reallocation threshold: below it the chair decides alone
	StrategicAt  domain.Money // the plan's strategic change amount (0: none)
	Chair        string       // the chair's name, when the chair decides alone
}

// budgetDiff is one funding source's budget before and after a change.
type budgetDiff struct {
	Source        string
	Before, After domain.Money
	Changed       bool
}

// milestoneDiff is one milestone before and after a change.
type milestoneDiff struct {
	No            int
	Before, After *planRow
	What          string // Danish: uændret, ændret, ny, fjernet
}

// planRow is a milestone of a plan: title, due date and tranche.
type planRow struct {
	Title string
	Due   domain.Date
	Total domain.Money
	Lines string // "Landsbyggefonden 40.000 kr., Viborg Kommune 10.000 kr."
}

func planRowOf(m domain.MilestonePlan, n names) *planRow {
	parts := make([]string, len(m.Tranche))
	for i, l := range m.Tranche {
		parts[i] = nameOr(n.Sources, l.SourceID) + " " + formatKr(l.AmountØre)
	}
	return &planRow{Title: m.Title, Due: m.DueDate, Total: domain.Total(m.Tranche), Lines: strings.Join(parts, ", ")}
}

// changeViewOf describes change c against the budget and milestones before it.
func changeViewOf(c domain.Change, budget []domain.SourceAmount, plan []domain.MilestonePlan, p domain.Plan, n names,
	memberNames map[string]string) *changeView {
	cv := &changeView{Change: c, BudgetBefore: domain.Total(budget), BudgetAfter: domain.Total(c.Budget),
		Threshold: p.Settings.ReallocationThresholdØre, StrategicAt: p.Settings.StrategicChangeØre}
	if c.ChairAlone && p.Board != nil && p.Board.Chair != "" {
		cv.Chair = nameOr(memberNames, p.Board.Chair)
	}
	before, after := amountsBySource(budget), amountsBySource(c.Budget)
	for _, s := range p.FundingSources {
		b, a := before[s.ID], after[s.ID]
		if b == 0 && a == 0 {
			continue
		}
		cv.Sources = append(cv.Sources, budgetDiff{Source: s.Name, Before: b, After: a, Changed: a != b})
	}
	for i := range max(len(plan), len(c.Milestones)) {
		d := milestoneDiff{No: i + 1}
		if i < len(plan) {
			d.Before = planRowOf(plan[i], n)
		}
		if i < len(c.Milestones) {
			d.After = planRowOf(c.Milestones[i], n)
		}
		switch {
		case d.Before == nil:
			d.What = "ny"
		case d.After == nil:
			d.What = "fjernet"
		case *d.Before == *d.After:
			d.What = "uændret"
		default:
			d.What = "ændret"
		}
		cv.Milestones = append(cv.Milestones, d)
	}
	return cv
}

func amountsBySource(lines []domain.SourceAmount) map[string]domain.Money {
	out := map[string]domain.Money{}
	for _, l := range lines {
		out[l.SourceID] += l.AmountØre
	}
	return out
}

// versionView is an approved version of the budget and milestone plan.
type versionView struct {
	domain.ApprovedVersion
	Title      string // "Version 1: forslaget som godkendt", "Version 2: ændring 1"
	Budget     string // per source, in Danish
	Total      domain.Money
	Milestones []*planRow
	DecidedBy  string
	Current    bool
}

func versionViews(in domain.Initiative, n names) []versionView {
	var out []versionView
	for i, v := range in.Versions {
		vv := versionView{ApprovedVersion: v, Total: domain.Total(v.Budget), DecidedBy: strings.Join(v.DecidedBy, ", "),
			Current: i == len(in.Versions)-1}
		vv.Title = fmt.Sprintf("Version %d: forslaget som godkendt", v.Version)
		if v.ChangeNo > 0 {
			vv.Title = fmt.Sprintf("Version %d: ændring %d", v.Version, v.ChangeNo)
		}
		parts := make([]string, len(v.Budget))
		for j, l := range v.Budget {
			parts[j] = nameOr(n.Sources, l.SourceID) + " " + formatKr(l.AmountØre)
		}
		vv.Budget = strings.Join(parts, ", ")
		for _, m := range v.Milestones {
			vv.Milestones = append(vv.Milestones, planRowOf(m, n))
		}
		out = append(out, vv)
	}
	return out
}

// changesView fills in the changes part of the initiative page: the open change against the version in force,
// the approved versions (newest first) and every change request (newest first).
func changesView(view *initiativeView, p domain.Plan, memberNames map[string]string) {
	in := view.In
	if c := in.OpenChange(); c != nil {
		view.OpenChange = changeViewOf(*c, in.Proposal.Budget, in.CurrentPlan(), p, view.Names, memberNames)
	}
	vs := versionViews(in, view.Names)
	for i := len(vs) - 1; i >= 0; i-- {
		view.Versions = append(view.Versions, vs[i])
	}
	for i := len(in.Changes) - 1; i >= 0; i-- {
		view.Changes = append(view.Changes, in.Changes[i])
	}
}
