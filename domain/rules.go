package domain

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits on free text, so one bad client cannot fill the read model.
const (
	MaxTitleLen = 200
	MaxTextLen  = 20_000
	MaxItems    = 100 // goals, milestones, areas, results
)

// ValidateProposal checks a proposal against the plan. available is what each funding source has left that is not
// yet reserved for other initiatives; nil skips that check (the workflow, which cannot read the ledger, passes nil
// and the reservation at approval enforces it under a row lock). It also fills in missing goal IDs.
func ValidateProposal(plan Plan, p *Proposal, available map[string]Money) error {
	var ps problems
	text(&ps, "title", p.Title, MaxTitleLen, true)
	text(&ps, "description", p.Description, MaxTextLen, true)
	text(&ps, "target_group", p.TargetGroup, MaxTextLen, true)
	if p.DelaftaleID == "" {
		ps.add("delaftale_id", "required", "Vælg en delaftale.")
	} else if !plan.HasDelaftale(p.DelaftaleID) {
		ps.add("delaftale_id", "unknown", "Planen har ingen delaftale %q.", p.DelaftaleID)
	}
	if len(p.HousingAreaIDs) == 0 {
		ps.add("housing_area_ids", "required", "Vælg mindst ét boligområde.")
	}
	seenArea := map[string]bool{}
	for i, a := range p.HousingAreaIDs {
		switch {
		case !plan.HasHousingArea(a):
			ps.add(fmt.Sprintf("housing_area_ids[%d]", i), "unknown", "Planen dækker ikke boligområdet %q.", a)
		case seenArea[a]:
			ps.add(fmt.Sprintf("housing_area_ids[%d]", i), "duplicate", "Boligområdet %q er nævnt to gange.", a)
		}
		seenArea[a] = true
	}

	if len(p.Goals) == 0 {
		ps.add("goals", "required", "Angiv mindst ét mål med succeskriterium.")
	}
	count(&ps, "goals", len(p.Goals))
	seenGoal := map[string]bool{}
	for i := range p.Goals {
		g := &p.Goals[i]
		f := fmt.Sprintf("goals[%d]", i)
		if g.ID == "" {
			g.ID = fmt.Sprintf("g%d", i+1)
		}
		if seenGoal[g.ID] {
			ps.add(f+".id", "duplicate", "Mål-id %q er brugt to gange.", g.ID)
		}
		seenGoal[g.ID] = true
		text(&ps, f+".description", g.Description, MaxTextLen, true)
		text(&ps, f+".success_criterion", g.SuccessCriterion, MaxTextLen, true)
	}

	budget := map[string]Money{}
	if len(p.Budget) == 0 {
		ps.add("budget", "required", "Angiv budgettet fordelt på finansieringskilder.")
	}
	for i, l := range p.Budget {
		f := fmt.Sprintf("budget[%d]", i)
		if _, ok := plan.Source(l.SourceID); !ok {
			ps.add(f+".source_id", "unknown", "Planen har ingen finansieringskilde %q.", l.SourceID)
			continue
		}
		if _, dup := budget[l.SourceID]; dup {
			ps.add(f+".source_id", "duplicate", "Finansieringskilden %q er nævnt to gange.", l.SourceID)
		}
		if l.AmountØre <= 0 {
			ps.add(f+".amount_ore", "not_positive", "Beløbet skal være større end 0.")
		}
		budget[l.SourceID] += l.AmountØre
	}

	if len(p.Milestones) == 0 {
		ps.add("milestones", "required", "Angiv mindst én milepæl med en udbetalingsrate.")
	}
	count(&ps, "milestones", len(p.Milestones))
	tranches := map[string]Money{}
	var prev Date
	for i, m := range p.Milestones {
		f := fmt.Sprintf("milestones[%d]", i)
		text(&ps, f+".title", m.Title, MaxTitleLen, true)
		switch {
		case m.DueDate.IsZero():
			ps.add(f+".due_date", "required", "Angiv en dato (ÅÅÅÅ-MM-DD).")
		case m.DueDate.Before(plan.PeriodStart) || m.DueDate.After(plan.PeriodEnd):
			ps.add(f+".due_date", "outside_plan_period", "Datoen %s ligger uden for planperioden %s til %s.",
				m.DueDate, plan.PeriodStart, plan.PeriodEnd)
		case !prev.IsZero() && m.DueDate.Before(prev):
			ps.add(f+".due_date", "out_of_order", "Milepælene skal stå i datoorden; %s ligger før forrige milepæl.", m.DueDate)
		}
		if !m.DueDate.IsZero() {
			prev = m.DueDate
		}
		if len(m.Tranche) == 0 {
			ps.add(f+".tranche", "required", "Angiv milepælens udbetalingsrate fordelt på finansieringskilder.")
		}
		for j, l := range m.Tranche {
			lf := fmt.Sprintf("%s.tranche[%d]", f, j)
			if _, ok := budget[l.SourceID]; !ok {
				ps.add(lf+".source_id", "not_in_budget", "Finansieringskilden %q indgår ikke i budgettet.", l.SourceID)
			}
			if l.AmountØre < 0 {
				ps.add(lf+".amount_ore", "negative", "Beløbet må ikke være negativt.")
			}
			tranches[l.SourceID] += l.AmountØre
		}
		if len(m.Tranche) > 0 && Total(m.Tranche) <= 0 {
			ps.add(f+".tranche", "not_positive", "Udbetalingsraten skal være større end 0.")
		}
	}
	if len(p.Milestones) > 0 {
		for _, s := range plan.FundingSources {
			b, t := budget[s.ID], tranches[s.ID]
			if b != t {
				ps.add("milestones", "tranches_do_not_sum_to_budget",
					"Budgettet fra %s er %s, men raterne summer til %s; de skal være ens.", s.Name, b, t)
			}
		}
	}
	if available != nil {
		for i, l := range p.Budget {
			if a, ok := available[l.SourceID]; ok && budget[l.SourceID] > a {
				s, _ := plan.Source(l.SourceID)
				ps.add(fmt.Sprintf("budget[%d].amount_ore", i), "exceeds_uncommitted",
					"Der søges %s fra %s, men kun %s er endnu ikke reserveret.", budget[l.SourceID], s.Name, a)
			}
		}
	}
	return ps.err("Forslaget kan ikke indsendes, fordi nogle felter ikke overholder reglerne.")
}

func text(ps *problems, field, v string, max int, required bool) {
	switch {
	case required && strings.TrimSpace(v) == "":
		ps.add(field, "required", "Feltet skal udfyldes.")
	case utf8.RuneCountInString(v) > max:
		ps.add(field, "too_long", "Højst %d tegn.", max)
	}
}

func count(ps *problems, field string, n int) {
	if n > MaxItems {
		ps.add(field, "too_many", "Højst %d.", MaxItems)
	}
}

// requireRole refuses actors without the role.
func requireRole(a Actor, want Role, action string) error {
	if a.Role != want {
		return Refuse(CodeForbidden, "Kun %s kan %s; du er logget ind som %s.", want.DanishName(), action, a.Role.DanishName())
	}
	return nil
}

func requirePhase(in *Initiative, action string, allowed ...Phase) error {
	for _, p := range allowed {
		if in.Phase == p {
			return nil
		}
	}
	names := make([]string, len(allowed))
	for i, p := range allowed {
		names[i] = p.DanishName()
	}
	return Refuse(CodeWrongPhase, "Indsatsen er %s; man kan kun %s, når den er %s.",
		in.Phase.DanishName(), action, strings.Join(names, " eller "))
}

// CheckBallot says whether a board member may cast this ballot now.
func CheckBallot(in *Initiative, b Ballot) error {
	if err := requireRole(b.Actor, RoleBoard, "træffe beslutning om et forslag"); err != nil {
		return err
	}
	if err := requirePhase(in, "træffe beslutning", PhaseBoardReview); err != nil {
		return err
	}
	if !b.Outcome.Valid() {
		return &RuleError{Code: CodeValidation, Message: "Ukendt beslutning.", Problems: []FieldProblem{{
			Field: "outcome", Code: "unknown", Message: "Brug approve, reject eller request_changes."}}}
	}
	var ps problems
	if b.Outcome != OutcomeApprove && strings.TrimSpace(b.Comment) == "" {
		ps.add("comment", "required", "Begrund afvisning eller ønskede ændringer.")
	}
	text(&ps, "comment", b.Comment, MaxTextLen, false)
	for _, prev := range in.Ballots {
		if prev.Actor.UserID == b.Actor.UserID {
			return Refuse(CodeConflict, "Du har allerede stemt om denne version af forslaget.")
		}
	}
	return ps.err("Beslutningen kan ikke registreres.")
}

// Resolve decides a revision when enough ballots are cast: with quorum q, the first outcome to reach q ballots wins.
// It returns false while the vote is still open.
func Resolve(ballots []Ballot, quorum int) (Outcome, bool) {
	if quorum < 1 {
		quorum = 1
	}
	n := map[Outcome]int{}
	for _, b := range ballots {
		n[b.Outcome]++
		if n[b.Outcome] >= quorum {
			return b.Outcome, true
		}
	}
	return "", false
}

// CheckResubmit says whether the actor may resubmit a revised proposal with this comment.
func CheckResubmit(in *Initiative, a Actor, plan Plan, p *Proposal, comment string) error {
	if err := requireRole(a, RoleOperationalGroup, "indsende et revideret forslag"); err != nil {
		return err
	}
	if err := requirePhase(in, "indsende igen", PhaseChangesRequested); err != nil {
		return err
	}
	return ValidateProposal(plan, p, nil)
}

// CheckWithdraw says whether the actor may withdraw the proposal.
func CheckWithdraw(in *Initiative, a Actor, reason string) error {
	if err := requireRole(a, RoleOperationalGroup, "trække et forslag tilbage"); err != nil {
		return err
	}
	if a.UserID != in.Proposer.UserID {
		return Refuse(CodeForbidden, "Kun forslagsstilleren (%s) kan trække forslaget tilbage.", in.Proposer.Name)
	}
	if err := requirePhase(in, "trække forslaget tilbage", PhaseBoardReview, PhaseChangesRequested); err != nil {
		return err
	}
	var ps problems
	text(&ps, "reason", reason, MaxTextLen, false)
	return ps.err("Forslaget kan ikke trækkes tilbage.")
}

// CheckReport says whether the operational group may report on milestone no now.
func CheckReport(in *Initiative, a Actor, no int, summary string, spent Money) error {
	if err := requireRole(a, RoleOperationalGroup, "rapportere på en milepæl"); err != nil {
		return err
	}
	if err := requirePhase(in, "rapportere på en milepæl", PhaseExecuting); err != nil {
		return err
	}
	m, ok := in.Milestone(no)
	if !ok {
		return Refuse(CodeUnknownMilestone, "Indsatsen har ingen milepæl %d (den har %d).", no, len(in.Milestones))
	}
	if cur := in.CurrentMilestone(); cur == nil || cur.No != no {
		return Refuse(CodeUnknownMilestone, "Det er milepæl %d, der skal rapporteres på nu, ikke %d.", curNo(cur), no)
	}
	if m.Report != nil {
		return Refuse(CodeConflict, "Milepæl %d er allerede rapporteret og venter på bestyrelsen.", no)
	}
	var ps problems
	text(&ps, "summary", summary, MaxTextLen, true)
	if spent < 0 {
		ps.add("spent_ore", "negative", "Forbruget må ikke være negativt.")
	} else if in.SpentTotal()+spent > in.PaidTotal() {
		ps.add("spent_ore", "exceeds_paid", "Samlet forbrug på %s er mere end de %s, der er udbetalt.", in.SpentTotal()+spent, in.PaidTotal())
	}
	return ps.err("Rapporten kan ikke modtages.")
}

func curNo(m *Milestone) int {
	if m == nil {
		return 0
	}
	return m.No
}

// CheckAcceptMilestone says whether the board may accept milestone no's report with this comment.
func CheckAcceptMilestone(in *Initiative, a Actor, no int, comment string) error {
	if err := requireRole(a, RoleBoard, "godkende en milepæl"); err != nil {
		return err
	}
	if err := requirePhase(in, "godkende en milepæl", PhaseExecuting); err != nil {
		return err
	}
	m, ok := in.Milestone(no)
	if !ok {
		return Refuse(CodeUnknownMilestone, "Indsatsen har ingen milepæl %d (den har %d).", no, len(in.Milestones))
	}
	if m.AcceptedAt != nil {
		return Refuse(CodeConflict, "Milepæl %d er allerede godkendt.", no)
	}
	if m.Report == nil {
		return Refuse(CodeConflict, "Milepæl %d er ikke rapporteret endnu.", no)
	}
	return nil
}

// CheckSubmitEvaluation says whether the operational group may submit this evaluation.
func CheckSubmitEvaluation(in *Initiative, a Actor, summary string, results []GoalResult) error {
	if err := requireRole(a, RoleOperationalGroup, "indsende en evaluering"); err != nil {
		return err
	}
	if err := requirePhase(in, "indsende en evaluering", PhaseEvaluation); err != nil {
		return err
	}
	if in.Evaluation != nil {
		return Refuse(CodeConflict, "Evalueringen er allerede indsendt og venter på bestyrelsen.")
	}
	var ps problems
	text(&ps, "summary", summary, MaxTextLen, true)
	got := map[string]bool{}
	for i, r := range results {
		f := fmt.Sprintf("results[%d]", i)
		known := false
		for _, g := range in.Proposal.Goals {
			known = known || g.ID == r.GoalID
		}
		switch {
		case !known:
			ps.add(f+".goal_id", "unknown", "Indsatsen har intet mål %q.", r.GoalID)
		case got[r.GoalID]:
			ps.add(f+".goal_id", "duplicate", "Målet %q er evalueret to gange.", r.GoalID)
		}
		got[r.GoalID] = true
		text(&ps, f+".result", r.Result, MaxTextLen, true)
	}
	for _, g := range in.Proposal.Goals {
		if !got[g.ID] {
			ps.add("results", "goal_missing", "Målet %q (%s) mangler en evaluering.", g.ID, g.Description)
		}
	}
	return ps.err("Evalueringen kan ikke modtages.")
}

// CheckAcceptEvaluation says whether the board may accept the evaluation with this comment.
func CheckAcceptEvaluation(in *Initiative, a Actor, comment string) error {
	if err := requireRole(a, RoleBoard, "godkende en evaluering"); err != nil {
		return err
	}
	if err := requirePhase(in, "godkende evalueringen", PhaseEvaluation); err != nil {
		return err
	}
	if in.Evaluation == nil {
		return Refuse(CodeConflict, "Evalueringen er ikke indsendt endnu.")
	}
	return nil
}

// CheckConfirmPayment says whether finance may confirm payment of the disbursement. A repeat of an earlier
// confirmation with the same reference is allowed (the caller answers it with the first result).
func CheckConfirmPayment(in *Initiative, a Actor, disbursementID, reference string) error {
	if err := requireRole(a, RoleFinance, "bekræfte en udbetaling"); err != nil {
		return err
	}
	var ps problems
	text(&ps, "reference", reference, MaxTitleLen, true)
	if err := ps.err("Udbetalingen kan ikke bekræftes."); err != nil {
		return err
	}
	for _, m := range in.Milestones {
		if m.DisbursementID != disbursementID {
			continue
		}
		switch m.TrancheStatus {
		case TrancheReleased:
			return nil
		case TranchePaid:
			if m.PaymentReference == reference {
				return nil
			}
			return Refuse(CodeAlreadyPaid, "Udbetalingen er allerede bekræftet med referencen %q.", m.PaymentReference)
		}
	}
	return Refuse(CodeNotFound, "Indsatsen har ingen udbetaling %q, der venter på betaling.", disbursementID)
}
