package domain

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on what one initiative may hold. They keep the largest initiative the API accepts far below Temporal's
// limits (2 MB per payload, 50 MB per history: a proposal travels in the start and in every resubmit) and stop one
// bad client from filling the read model. TestLargestProposalSize measures what they allow.
const (
	MaxTitleLen = 200    // characters in a title or a payment reference
	MaxTextLen  = 20_000 // characters in a description or target group
	// MaxSummaryLen bounds a milestone report's or an evaluation's summary and each goal's result, MaxCommentLen a
	// comment or reason. They repeat per milestone, revision and goal, and the whole initiative must stay far below
	// Temporal's 2 MB payload limit (TestLargestInitiativeSize).
	MaxSummaryLen   = 4_000
	MaxCommentLen   = 2_000
	MaxGoalTextLen  = 2_000 // characters in a goal's description or success criterion
	MaxGoalIDLen    = 40    // characters in a goal ID chosen by the proposer
	MaxGoals        = 20    // goals in a proposal
	MaxMilestones   = 40    // milestones in a proposal
	MaxHousingAreas = 20    // housing areas in a proposal
	MaxResults      = 20    // goal results in an evaluation
	MaxSourceLines  = 20    // lines in a budget or in one tranche (one per funding source)
	MaxRevisions    = 10    // versions of one proposal: the first submission and nine resubmissions
	// MaxItems is the longest list any input may have; each list has its own, often smaller, limit above.
	MaxItems = MaxMilestones
)

const proposalRefused = "Forslaget kan ikke indsendes, fordi nogle felter ikke overholder reglerne."

// ValidateProposal checks a proposal against the plan. available is what each funding source has left that is not
// yet reserved for other initiatives; nil skips that check (the workflow, which cannot read the ledger, passes nil
// and the reservation at approval enforces it under a row lock). It also fills in missing goal IDs.
func ValidateProposal(plan Plan, p *Proposal, available map[string]Money) error {
	var ps problems
	validateProposal(&ps, plan, p, available)
	return ps.err(proposalRefused)
}

func validateProposal(ps *problems, plan Plan, p *Proposal, available map[string]Money) {
	text(ps, "title", p.Title, MaxTitleLen, true)
	text(ps, "description", p.Description, MaxTextLen, true)
	text(ps, "target_group", p.TargetGroup, MaxTextLen, true)
	if p.DelaftaleID == "" {
		ps.add("delaftale_id", "required", "Vælg en delaftale.")
	} else if !plan.HasDelaftale(p.DelaftaleID) {
		ps.add("delaftale_id", "unknown", "Planen har ingen delaftale %q.", short(p.DelaftaleID))
	}
	if len(p.HousingAreaIDs) == 0 {
		ps.add("housing_area_ids", "required", "Vælg mindst ét boligområde.")
	}
	if count(ps, "housing_area_ids", len(p.HousingAreaIDs), MaxHousingAreas) {
		seenArea := map[string]bool{}
		for i, a := range p.HousingAreaIDs {
			switch {
			case !plan.HasHousingArea(a):
				ps.add(fmt.Sprintf("housing_area_ids[%d]", i), "unknown", "Planen dækker ikke boligområdet %q.", short(a))
			case seenArea[a]:
				ps.add(fmt.Sprintf("housing_area_ids[%d]", i), "duplicate", "Boligområdet %q er nævnt to gange.", a)
			}
			seenArea[a] = true
		}
	}

	if len(p.Goals) == 0 {
		ps.add("goals", "required", "Angiv mindst ét mål med succeskriterium.")
	}
	if count(ps, "goals", len(p.Goals), MaxGoals) {
		seenGoal := map[string]bool{}
		for i := range p.Goals {
			g := &p.Goals[i]
			f := fmt.Sprintf("goals[%d]", i)
			if g.ID == "" {
				g.ID = fmt.Sprintf("g%d", i+1)
			}
			switch {
			case !goalID(ps, f+".id", g.ID):
			case seenGoal[g.ID]:
				ps.add(f+".id", "duplicate", "Mål-id %q er brugt to gange.", g.ID)
			default:
				seenGoal[g.ID] = true
			}
			text(ps, f+".description", g.Description, MaxGoalTextLen, true)
			text(ps, f+".success_criterion", g.SuccessCriterion, MaxGoalTextLen, true)
		}
	}

	validateMoney(ps, plan, p, available)
}

// validateMoney checks the budget and the tranches. Every amount must lie in (0, ceiling], where the ceiling is the
// plan's total (never above MaxMoney), and every sum is checked, so no combination of amounts can wrap around int64
// into a total that looks right.
func validateMoney(ps *problems, plan Plan, p *Proposal, available map[string]Money) {
	ceiling := min(plan.TotalCommitted(), MaxMoney)
	amount := func(field string, v Money) bool {
		switch {
		case v <= 0:
			ps.add(field, "not_positive", "Beløbet skal være større end 0.")
		case v > ceiling:
			ps.add(field, "exceeds_plan_total", "Beløbet må højst være %s, som er planens samlede budget.", ceiling)
		default:
			return true
		}
		return false
	}

	budget := map[string]Money{} // per source in the budget; the amount counts only when !badBudget
	badBudget := map[string]bool{}
	if len(p.Budget) == 0 {
		ps.add("budget", "required", "Angiv budgettet fordelt på finansieringskilder.")
	}
	if count(ps, "budget", len(p.Budget), MaxSourceLines) {
		for i, l := range p.Budget {
			f := fmt.Sprintf("budget[%d]", i)
			src, ok := plan.Source(l.SourceID)
			if !ok {
				ps.add(f+".source_id", "unknown", "Planen har ingen finansieringskilde %q.", short(l.SourceID))
				continue
			}
			if _, dup := budget[l.SourceID]; dup {
				ps.add(f+".source_id", "duplicate", "Finansieringskilden %q er nævnt to gange.", l.SourceID)
				badBudget[l.SourceID] = true
				continue
			}
			budget[l.SourceID] = l.AmountØre
			switch {
			case !amount(f+".amount_ore", l.AmountØre):
				badBudget[l.SourceID] = true
			case l.AmountØre > src.CommittedØre:
				ps.add(f+".amount_ore", "exceeds_committed", "Der søges %s fra %s, men kilden har kun givet tilsagn om %s.",
					l.AmountØre, src.Name, src.CommittedØre)
				badBudget[l.SourceID] = true
			}
		}
	}
	var total Money
	totalOK := true
	for _, l := range p.Budget {
		if _, ok := budget[l.SourceID]; !ok || badBudget[l.SourceID] || !totalOK {
			continue
		}
		total, totalOK = total.Add(l.AmountØre)
	}
	if !totalOK || total > ceiling {
		ps.add("budget", "exceeds_plan_total", "Budgettet er større end planens samlede budget på %s.", ceiling)
	}

	if len(p.Milestones) == 0 {
		ps.add("milestones", "required", "Angiv mindst én milepæl med en udbetalingsrate.")
	}
	if count(ps, "milestones", len(p.Milestones), MaxMilestones) && len(p.Milestones) > 0 {
		validateMilestones(ps, plan, p.Milestones, budget, badBudget, ceiling, amount)
	}

	if available != nil {
		for i, l := range p.Budget {
			a, ok := available[l.SourceID]
			if !ok || badBudget[l.SourceID] || budget[l.SourceID] <= a {
				continue
			}
			s, _ := plan.Source(l.SourceID)
			ps.add(fmt.Sprintf("budget[%d].amount_ore", i), "exceeds_uncommitted",
				"Der søges %s fra %s, men kun %s er endnu ikke reserveret.", budget[l.SourceID], s.Name, a)
		}
	}
}

func validateMilestones(ps *problems, plan Plan, milestones []MilestonePlan, budget map[string]Money,
	badBudget map[string]bool, ceiling Money, amount func(string, Money) bool) {
	// Every line counts towards its source's sum as sent, checked, so a set of tranches that would wrap is named as
	// such instead of passing as a small total.
	tranches := map[string]Money{}
	tooLarge := map[string]bool{}
	var prev Date
	for i, m := range milestones {
		f := fmt.Sprintf("milestones[%d]", i)
		text(ps, f+".title", m.Title, MaxTitleLen, true)
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
		if !count(ps, f+".tranche", len(m.Tranche), MaxSourceLines) {
			continue
		}
		seen := map[string]bool{}
		for j, l := range m.Tranche {
			lf := fmt.Sprintf("%s.tranche[%d]", f, j)
			amount(lf+".amount_ore", l.AmountØre)
			if _, ok := budget[l.SourceID]; !ok {
				ps.add(lf+".source_id", "not_in_budget", "Finansieringskilden %q indgår ikke i budgettet.", short(l.SourceID))
				continue
			}
			if seen[l.SourceID] {
				ps.add(lf+".source_id", "duplicate", "Finansieringskilden %q er nævnt to gange i samme rate.", l.SourceID)
			}
			seen[l.SourceID] = true
			if !tooLarge[l.SourceID] {
				s, ok := tranches[l.SourceID].Add(l.AmountØre)
				tranches[l.SourceID] = s
				tooLarge[l.SourceID] = !ok || s > ceiling
			}
		}
	}
	for _, s := range plan.FundingSources {
		b, inBudget := budget[s.ID]
		t := tranches[s.ID]
		switch {
		case tooLarge[s.ID]:
			ps.add("milestones", "tranches_exceed_plan_total",
				"Raterne fra %s summer til mere end planens samlede budget på %s.", s.Name, ceiling)
		case inBudget && !badBudget[s.ID] && b != t:
			ps.add("milestones", "tranches_do_not_sum_to_budget",
				"Budgettet fra %s er %s, men raterne summer til %s; de skal være ens.", s.Name, b, t)
		}
	}
}

// ValidText reports whether s may be stored as text a user wrote: valid UTF-8 with no control characters other
// than tab, line feed and carriage return. PostgreSQL refuses NUL in text, JSON replaces invalid UTF-8 silently,
// and the other control characters only ever hide or garble what a reader sees.
func ValidText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' {
			return false
		}
	}
	return true
}

func text(ps *problems, field, v string, max int, required bool) {
	switch {
	case !ValidText(v):
		ps.add(field, "invalid_characters",
			"Teksten indeholder tegn, der ikke er tilladt: nul-tegn, kontroltegn eller ugyldig UTF-8.")
	case required && strings.TrimSpace(v) == "":
		ps.add(field, "required", "Feltet skal udfyldes.")
	case utf8.RuneCountInString(v) > max:
		ps.add(field, "too_long", "Højst %d tegn.", max)
	}
}

// goalID checks a goal ID the proposer chose; IDs are matched by evaluations and shown in URLs and reports, so
// they stay short and plain.
func goalID(ps *problems, field, id string) bool {
	if len(id) > MaxGoalIDLen {
		ps.add(field, "too_long", "Højst %d tegn.", MaxGoalIDLen)
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			ps.add(field, "invalid_characters", "Mål-id må kun indeholde bogstaverne a-z og A-Z, cifre, _ og -.")
			return false
		}
	}
	return true
}

// count refuses a list longer than max and reports whether its items are worth checking one by one; a list over
// the limit is refused as a whole, so a huge list costs neither time nor a huge answer.
func count(ps *problems, field string, n, max int) bool {
	if n > max {
		ps.add(field, "too_many", "Højst %d.", max)
		return false
	}
	return true
}

// short cuts a value the user sent before it is quoted back in a message, so a refusal stays small.
func short(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	for i := range s {
		if i > max {
			return s[:i] + "…"
		}
	}
	return s
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
	text(&ps, "comment", b.Comment, MaxCommentLen, false)
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

// CheckResubmit says whether the actor may resubmit a revised proposal with this comment. Only the proposer may,
// or the secretariat (admin) on the proposer's behalf: the board asked the proposer for changes, and another
// member's revision would put words in the proposer's mouth.
func CheckResubmit(in *Initiative, a Actor, plan Plan, p *Proposal, comment string) error {
	proposer := a.Role == RoleOperationalGroup && a.UserID == in.Proposer.UserID
	if !proposer && a.Role != RoleAdmin {
		return Refuse(CodeForbidden, "Kun forslagsstilleren (%s) eller sekretariatet kan indsende forslaget igen.", in.Proposer.Name)
	}
	if err := requirePhase(in, "indsende igen", PhaseChangesRequested); err != nil {
		return err
	}
	if in.Revision >= MaxRevisions {
		return Refuse(CodeConflict, "Forslaget er allerede indsendt i %d versioner, og flere kan der ikke være. "+
			"Træk det tilbage, og indsend et nyt forslag.", in.Revision)
	}
	var ps problems
	validateProposal(&ps, plan, p, nil)
	text(&ps, "comment", comment, MaxCommentLen, false)
	return ps.err(proposalRefused)
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
	text(&ps, "reason", reason, MaxCommentLen, false)
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
	text(&ps, "summary", summary, MaxSummaryLen, true)
	switch {
	case spent < 0:
		ps.add("spent_ore", "negative", "Forbruget må ikke være negativt.")
	case spent > MaxMoney:
		ps.add("spent_ore", "too_large", "Forbruget må højst være %s.", MaxMoney)
	default:
		before, errSpent := in.spentSum()
		paid, errPaid := in.paidSum()
		if errSpent != nil || errPaid != nil {
			// Validated input cannot get here; refusing keeps a damaged state from growing.
			return Refuse(CodeConflict, "Indsatsens registrerede beløb er ugyldige, så forbruget kan ikke opgøres. Kontakt sekretariatet.")
		}
		// Both are in [0, MaxMoney], so the sum fits in int64.
		if total := before + spent; total > paid {
			ps.add("spent_ore", "exceeds_paid", "Samlet forbrug på %s er mere end de %s, der er udbetalt.", total, paid)
		}
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
	var ps problems
	text(&ps, "comment", comment, MaxCommentLen, false)
	return ps.err("Milepælen kan ikke godkendes.")
}

// CheckSubmitEvaluation says whether the operational group may submit this evaluation.
func CheckSubmitEvaluation(in *Initiative, a Actor, summary string, results []GoalResult, spend []SourceAmount) error {
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
	text(&ps, "summary", summary, MaxSummaryLen, true)
	if !count(&ps, "results", len(results), MaxResults) {
		return ps.err("Evalueringen kan ikke modtages.")
	}
	got := map[string]bool{}
	for i, r := range results {
		f := fmt.Sprintf("results[%d]", i)
		known := false
		for _, g := range in.Proposal.Goals {
			known = known || g.ID == r.GoalID
		}
		switch {
		case !known:
			ps.add(f+".goal_id", "unknown", "Indsatsen har intet mål %q.", short(r.GoalID))
		case got[r.GoalID]:
			ps.add(f+".goal_id", "duplicate", "Målet %q er evalueret to gange.", r.GoalID)
		}
		got[r.GoalID] = true
		text(&ps, f+".result", r.Result, MaxSummaryLen, true)
	}
	for _, g := range in.Proposal.Goals {
		if !got[g.ID] {
			ps.add("results", "goal_missing", "Målet %q (%s) mangler en evaluering.", g.ID, g.Description)
		}
	}
	if len(spend) > MaxResults {
		ps.add("spend", "too_many", "Der kan højst angives forbrug fra %d kilder.", MaxResults)
	} else {
		checkSpend(&ps, in, spend)
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
	var ps problems
	text(&ps, "comment", comment, MaxCommentLen, false)
	return ps.err("Evalueringen kan ikke godkendes.")
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
		case TrancheWithdrawn:
			return Refuse(CodeConflict, "Udbetalingen er trukket tilbage, fordi bestyrelsen har annulleret indsatsen; "+
				"den må ikke betales.")
		}
	}
	return Refuse(CodeNotFound, "Indsatsen har ingen udbetaling %q, der venter på betaling.", short(disbursementID))
}
