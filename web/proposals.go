package web

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/service"
)

// The proposal form ("Nyt forslag" and "Revidér forslag"). It works without JavaScript: rows of goals and
// milestones are added and removed with submit buttons that send the whole form back and get it again with
// everything typed kept; the budget, the sum of the tranches and what each source has free are computed on the
// server at each round trip. On submit the form is read into a domain.Proposal (amounts in kroner, Danish format,
// to exact øre; dates as ÅÅÅÅ-MM-DD or dd.mm.åååå) and handed to the service, which applies the rules; what did
// not parse is passed along as field problems, so all problems come back together and each is shown at its field.
//
// Form fields: title, description, delaftale_id, housing_area_ids (checkboxes), target_group, comment (revise
// only); goals_count, goals[i].id (hidden), goals[i].description, goals[i].success_criterion; budget.<source>;
// milestones_count, milestones[i].title, milestones[i].due_date, milestones[i].tranche.<source>. Row buttons:
// tilfoej_maal, fjern_maal=<no>, tilfoej_milepael, fjern_milepael=<no> (no is 1-based).

// routeProposals registers the proposal forms: a new proposal and a revised one.
func (w *Web) routeProposals(pages *http.ServeMux) {
	pages.HandleFunc("GET /indsatser/ny", w.authed(w.newProposalForm))
	pages.HandleFunc("POST /indsatser/ny", w.authed(w.newProposalSubmit))
	pages.HandleFunc("GET /indsatser/{id}/revider", w.authed(w.reviseProposalForm))
	pages.HandleFunc("POST /indsatser/{id}/revider", w.authed(w.reviseProposalSubmit))
}

// proposalPageName is the template of both forms; it belongs to the Indsatser navigation.
const proposalPageName = "initiatives-new"

// proposalForm is the form as the user typed it: strings, so that a value that does not parse is shown again
// exactly as typed.
type proposalForm struct {
	Title, Description, DelaftaleID, TargetGroup, Comment string
	Reason                                                string // why a change is asked for (the change form)
	Areas                                                 map[string]bool
	Goals                                                 []proposalGoalRow
	Budget                                                map[string]string // source ID → kroner as typed
	Milestones                                            []proposalMilestoneRow
	Key                                                   string // form_key
}

type proposalGoalRow struct{ ID, Description, Criterion string }

type proposalMilestoneRow struct {
	Title, Due string
	Tranche    map[string]string // source ID → kroner as typed
}

func newProposalFormState() proposalForm {
	return proposalForm{Areas: map[string]bool{}, Budget: map[string]string{}, Key: newFormKey(),
		Goals:      []proposalGoalRow{{}},
		Milestones: []proposalMilestoneRow{{Tranche: map[string]string{}}}}
}

// proposalFormFrom prefills the form with a proposal (for "Revidér forslag").
func proposalFormFrom(p domain.Proposal) proposalForm {
	f := proposalForm{Title: p.Title, Description: p.Description, DelaftaleID: p.DelaftaleID, TargetGroup: p.TargetGroup,
		Areas: map[string]bool{}, Budget: map[string]string{}, Key: newFormKey()}
	for _, a := range p.HousingAreaIDs {
		f.Areas[a] = true
	}
	for _, g := range p.Goals {
		f.Goals = append(f.Goals, proposalGoalRow{ID: g.ID, Description: g.Description, Criterion: g.SuccessCriterion})
	}
	for _, l := range p.Budget {
		f.Budget[l.SourceID] = proposalKrInput(l.AmountØre)
	}
	for _, m := range p.Milestones {
		row := proposalMilestoneRow{Title: m.Title, Due: m.DueDate.String(), Tranche: map[string]string{}}
		for _, l := range m.Tranche {
			row.Tranche[l.SourceID] = proposalKrInput(l.AmountØre)
		}
		f.Milestones = append(f.Milestones, row)
	}
	if len(f.Goals) == 0 {
		f.Goals = []proposalGoalRow{{}}
	}
	if len(f.Milestones) == 0 {
		f.Milestones = []proposalMilestoneRow{{Tranche: map[string]string{}}}
	}
	return f
}

// proposalKrInput is an amount as the user would type it: "1.234.567" or "1.234.567,50".
func proposalKrInput(m domain.Money) string { return strings.TrimSuffix(formatKr(m), " kr.") }

// readProposalForm reads the posted form. Row counts are bounded by the rules' limits, so a forged count cannot
// make the page large.
func readProposalForm(r *http.Request, plan domain.Plan) proposalForm {
	_ = r.ParseForm() // already parsed by the CSRF check; a body error there was answered already
	get := func(k string) string { return r.PostForm.Get(k) }
	count := func(k string, max int) int {
		n, err := strconv.Atoi(get(k))
		if err != nil || n < 0 {
			return 0
		}
		return min(n, max)
	}
	f := proposalForm{Title: get("title"), Description: get("description"), DelaftaleID: get("delaftale_id"),
		TargetGroup: get("target_group"), Comment: get("comment"), Reason: get("reason"), Areas: map[string]bool{},
		Budget: map[string]string{}, Key: get("form_key")}
	if f.Key == "" || len(f.Key) > 64 {
		f.Key = newFormKey()
	}
	for _, a := range r.PostForm["housing_area_ids"] {
		f.Areas[a] = true
	}
	for i := range count("goals_count", domain.MaxGoals) {
		p := fmt.Sprintf("goals[%d].", i)
		f.Goals = append(f.Goals, proposalGoalRow{ID: get(p + "id"), Description: get(p + "description"),
			Criterion: get(p + "success_criterion")})
	}
	for _, s := range plan.FundingSources {
		f.Budget[s.ID] = get("budget." + s.ID)
	}
	for i := range count("milestones_count", domain.MaxMilestones) {
		p := fmt.Sprintf("milestones[%d].", i)
		row := proposalMilestoneRow{Title: get(p + "title"), Due: get(p + "due_date"), Tranche: map[string]string{}}
		for _, s := range plan.FundingSources {
			row.Tranche[s.ID] = get(p + "tranche." + s.ID)
		}
		f.Milestones = append(f.Milestones, row)
	}
	return f
}

// rowAction carries out an add/remove row button, if one was pressed, and reports whether it was (the form is then
// shown again, without validation).
func (f *proposalForm) rowAction(r *http.Request) bool {
	remove := func(n string, length int) (int, bool) {
		i, err := strconv.Atoi(n)
		return i - 1, err == nil && i >= 1 && i <= length
	}
	switch {
	case r.PostForm.Has("beregn"): // "Opdatér summer": only the overview changes
	case r.PostForm.Has("tilfoej_maal"):
		if len(f.Goals) < domain.MaxGoals {
			f.Goals = append(f.Goals, proposalGoalRow{})
		}
	case r.PostForm.Has("fjern_maal"):
		if i, ok := remove(r.PostForm.Get("fjern_maal"), len(f.Goals)); ok {
			f.Goals = append(f.Goals[:i], f.Goals[i+1:]...)
		}
	case r.PostForm.Has("tilfoej_milepael"):
		if len(f.Milestones) < domain.MaxMilestones {
			f.Milestones = append(f.Milestones, proposalMilestoneRow{Tranche: map[string]string{}})
		}
	case r.PostForm.Has("fjern_milepael"):
		if i, ok := remove(r.PostForm.Get("fjern_milepael"), len(f.Milestones)); ok {
			f.Milestones = append(f.Milestones[:i], f.Milestones[i+1:]...)
		}
	default:
		return false
	}
	return true
}

// Messages for input that does not parse.
const (
	proposalMsgAmount      = "Skriv beløbet i kroner, fx 1.234.567 eller 1.234.567,50."
	proposalMsgAmountLarge = "Beløbet er for stort."
	proposalMsgDate        = "Skriv datoen som dd.mm.åååå, fx 31.12.2025, eller vælg den i kalenderen."
)

// proposalKroner reads an amount of the proposal form (see parseKroner); blank is 0.
func proposalKroner(s string) (domain.Money, error) {
	m, blank, err := parseKroner(s)
	if blank {
		return 0, nil
	}
	return m, err
}

// proposalDate reads a date as a date input sends it (ÅÅÅÅ-MM-DD) or as a Dane types it (31.12.2025, 1.2.2025,
// 31-12-2025). Blank is the zero date.
func proposalDate(s string) (domain.Date, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return domain.Date{}, true
	}
	if d, err := domain.ParseDate(s); err == nil {
		return d, true
	}
	for _, layout := range []string{"2.1.2006", "2-1-2006", "2/1/2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return domain.NewDate(t.Year(), t.Month(), t.Day()), true
		}
	}
	return domain.Date{}, false
}

// proposal reads the form into the proposal it describes, the problems of input that did not parse (as the
// rules' field paths), and the HTML id of the input behind each budget and tranche line's path. Blank amounts are
// left out (a source not used); an amount that did not parse stands in as 0, so the rules check the rest of the
// proposal around it and its own problem is reported at its field.
func (f proposalForm) proposal(plan domain.Plan) (domain.Proposal, []domain.FieldProblem, map[string]string) {
	var problems []domain.FieldProblem
	ids := map[string]string{}
	amount := func(raw, path, id string) (domain.Money, bool) {
		if strings.TrimSpace(raw) == "" {
			return 0, false
		}
		ids[path+".amount_ore"], ids[path+".source_id"], ids[path] = id, id, id
		m, err := proposalKroner(raw)
		switch {
		case errors.Is(err, errAmountTooLarge):
			problems = append(problems, domain.FieldProblem{Field: path + ".amount_ore", Code: "too_large", Message: proposalMsgAmountLarge})
		case err != nil:
			problems = append(problems, domain.FieldProblem{Field: path + ".amount_ore", Code: "invalid_amount", Message: proposalMsgAmount})
		}
		return m, true
	}
	p := domain.Proposal{Title: f.Title, Description: f.Description, DelaftaleID: f.DelaftaleID, TargetGroup: f.TargetGroup,
		HousingAreaIDs: []string{}, Goals: []domain.Goal{}, Budget: []domain.SourceAmount{}, Milestones: []domain.MilestonePlan{}}
	for _, a := range plan.HousingAreas {
		if f.Areas[a.ID] {
			p.HousingAreaIDs = append(p.HousingAreaIDs, a.ID)
		}
	}
	for a := range f.Areas { // a value the page did not offer: the rules name it
		if !plan.HasHousingArea(a) {
			p.HousingAreaIDs = append(p.HousingAreaIDs, a)
		}
	}
	used := map[string]bool{}
	for _, g := range f.Goals {
		used[g.ID] = true
	}
	next := 1
	for _, g := range f.Goals {
		id := g.ID
		if id == "" { // a new goal gets the first free "g<n>", so it cannot clash with a kept goal's ID
			for used[fmt.Sprintf("g%d", next)] {
				next++
			}
			id = fmt.Sprintf("g%d", next)
			used[id] = true
		}
		p.Goals = append(p.Goals, domain.Goal{ID: id, Description: g.Description, SuccessCriterion: g.Criterion})
	}
	for _, s := range plan.FundingSources {
		path := fmt.Sprintf("budget[%d]", len(p.Budget))
		if m, ok := amount(f.Budget[s.ID], path, "budget-"+s.ID); ok {
			p.Budget = append(p.Budget, domain.SourceAmount{SourceID: s.ID, AmountØre: m})
		}
	}
	for i, row := range f.Milestones {
		path := fmt.Sprintf("milestones[%d]", i)
		due, ok := proposalDate(row.Due)
		if !ok {
			problems = append(problems, domain.FieldProblem{Field: path + ".due_date", Code: "invalid_date", Message: proposalMsgDate})
		}
		m := domain.MilestonePlan{Title: row.Title, DueDate: due, Tranche: []domain.SourceAmount{}}
		for _, s := range plan.FundingSources {
			lp := fmt.Sprintf("%s.tranche[%d]", path, len(m.Tranche))
			if a, ok := amount(row.Tranche[s.ID], lp, proposalTrancheID(i, s.ID)); ok {
				m.Tranche = append(m.Tranche, domain.SourceAmount{SourceID: s.ID, AmountØre: a})
			}
		}
		p.Milestones = append(p.Milestones, m)
	}
	return p, problems, ids
}

func proposalTrancheID(i int, source string) string {
	return "milestones-" + strconv.Itoa(i) + "-tranche-" + source
}

// proposalView is the form page.
type proposalView struct {
	Revise       bool
	Change       bool // the change form (change.go): the budget and milestones of an approved initiative, and why
	InitiativeID string
	Action       string
	Heading      string
	Lead         string
	Key          string
	Errors       []fieldError
	Msg          map[string]string // message per place in the form (an input's id, or a group's)
	Form         proposalForm
	Delaftaler   []domain.Delaftale
	Areas        []domain.HousingArea
	Goals        []proposalGoalView
	Sources      []proposalSourceView
	Milestones   []proposalMilestoneView
	MaxGoals     bool // no more goals may be added
	MaxMiles     bool
}

type proposalGoalView struct {
	No, Index int
	proposalGoalRow
	DescID, CritID, DescMsg, CritMsg string
	DescName, CritName, IDName       string
}

type proposalSourceView struct {
	ID, Name, InputID, InputName string
	Label, Hint, Value, Msg      string
	BudgetØre, SumØre            domain.Money
	AvailableØre                 *domain.Money
	SumMsg                       string
	Differs, OverAvailable       bool
	Unparsed                     bool // an amount of this source did not parse, so the sums leave it out
}

type proposalMilestoneView struct {
	No int
	// Locked is set on the change form for a milestone whose tranche is released or paid: its title and tranche
	// are shown but cannot be changed (Lock says why), nor its due date once it is reported (DueLocked).
	Locked, DueLocked            bool
	Lock                         string
	Title, Due, DueType          string
	TitleID, DueID               string
	TitleName, DueName           string
	TrancheID                    string // the tranche's group, for its message
	TitleMsg, DueMsg, TrancheMsg string
	Cells                        []proposalCell
}

type proposalCell struct {
	ID, Name, Label, Value, Msg string
	SourceID                    string
	DescribedBy                 string // the source's sum message, when the tranches of the source do not add up
}

var (
	proposalListPath = regexp.MustCompile(`^(goals|milestones|housing_area_ids)\[(\d+)\](?:\.(\w+))?`)
)

// proposalPlace is where a rule's field path is shown: the place its message goes (an input's id or a group's
// name) and the id its link in the error summary moves focus to.
func proposalPlace(path string, ids map[string]string, plan domain.Plan) (place, anchor string) {
	if id, ok := ids[path]; ok {
		return id, id
	}
	firstSource := ""
	if len(plan.FundingSources) > 0 {
		firstSource = plan.FundingSources[0].ID
	}
	firstArea := ""
	if len(plan.HousingAreas) > 0 {
		firstArea = "area-" + plan.HousingAreas[0].ID
	}
	switch path {
	case "title", "description", "target_group", "delaftale_id", "comment", "reason":
		return path, path
	case "housing_area_ids":
		return "housing_area_ids", firstArea
	case "goals":
		return "goals", "goals-0-description"
	case "budget":
		return "budget", "budget-" + firstSource
	case "milestones":
		return "milestones", "milestones-0-title"
	}
	if m := proposalListPath.FindStringSubmatch(path); m != nil {
		i, field := m[2], m[3]
		switch m[1] {
		case "housing_area_ids":
			return "housing_area_ids", firstArea
		case "goals":
			if field == "success_criterion" {
				return "goals-" + i + "-success_criterion", "goals-" + i + "-success_criterion"
			}
			return "goals-" + i + "-description", "goals-" + i + "-description"
		case "milestones":
			switch field {
			case "due_date":
				return "milestones-" + i + "-due_date", "milestones-" + i + "-due_date"
			case "tranche":
				n, _ := strconv.Atoi(i)
				return "milestones-" + i + "-tranche", proposalTrancheID(n, firstSource)
			}
			return "milestones-" + i + "-title", "milestones-" + i + "-title"
		}
	}
	return "form", "title"
}

// proposalSumCodes are the rules' problems with the tranches of one source as a whole, reported at "milestones".
var proposalSumCodes = map[string]bool{"tranches_do_not_sum_to_budget": true, "tranches_exceed_plan_total": true}

// proposalView builds the page from the form, the plan, what each source has free (nil: unknown) and the
// problems to show.
func buildProposalView(f proposalForm, plan domain.Plan, available map[string]domain.Money,
	problems []domain.FieldProblem) proposalView {
	v := proposalView{Key: f.Key, Form: f, Msg: map[string]string{}, Delaftaler: plan.Delaftaler, Areas: plan.HousingAreas,
		MaxGoals: len(f.Goals) >= domain.MaxGoals, MaxMiles: len(f.Milestones) >= domain.MaxMilestones}
	prop, _, ids := f.proposal(plan)

	// Sums per source, as the form stands: what parsed counts.
	ceiling := min(plan.TotalCommitted(), domain.MaxMoney)
	for _, s := range plan.FundingSources {
		sv := proposalSourceView{ID: s.ID, Name: s.Name, InputID: "budget-" + s.ID, InputName: "budget." + s.ID,
			Label: "Budget fra " + s.Name + " (kr.)", Value: f.Budget[s.ID], Hint: "Tilsagn: " + formatKr(s.CommittedØre)}
		if a, ok := available[s.ID]; ok {
			sv.AvailableØre = &a
			sv.Hint += " Endnu ikke reserveret: " + formatKr(a)
		}
		b, err := proposalKroner(f.Budget[s.ID])
		sv.Unparsed = err != nil
		sv.BudgetØre = b
		var sum domain.Money
		for _, row := range f.Milestones {
			t, err := proposalKroner(row.Tranche[s.ID])
			if err != nil {
				sv.Unparsed = true
				continue
			}
			sum = min(sum+t, domain.MaxMoney) // each is ≤ MaxMoney, so this cannot wrap
		}
		sv.SumØre = sum
		sv.Differs = !sv.Unparsed && sum != b
		sv.OverAvailable = sv.AvailableØre != nil && !sv.Unparsed && b > *sv.AvailableØre
		v.Sources = append(v.Sources, sv)
	}

	// Each problem to its place. The rules report a source's tranches that do not add up at "milestones", one
	// problem per source in plan order; they go to the sources this page finds off, in the same order, when the
	// two agree, and to the milestones as a whole otherwise.
	var sumProblems []domain.FieldProblem
	for _, fp := range problems {
		if fp.Field == "milestones" && proposalSumCodes[fp.Code] {
			sumProblems = append(sumProblems, fp)
		}
	}
	// The sources whose tranches the rules find off, in plan order, computed from the proposal as the rules saw it
	// (a malformed amount as the 0 standing in for it): that is only to tell which source each problem is about.
	var off []int
	for i, s := range plan.FundingSources {
		var b domain.Money
		inBudget := false
		for _, l := range prop.Budget {
			if l.SourceID == s.ID {
				b, inBudget = l.AmountØre, true
			}
		}
		var t domain.Money
		for _, m := range prop.Milestones {
			for _, l := range m.Tranche {
				if l.SourceID == s.ID {
					t = min(t+l.AmountØre, domain.MaxMoney+1) // each ≤ MaxMoney: no wrap; above MaxMoney is "too large"
				}
			}
		}
		valid := inBudget && b > 0 && b <= ceiling && b <= s.CommittedØre
		if inBudget && (t > ceiling || (valid && b != t)) {
			off = append(off, i)
		}
	}
	bySource := len(sumProblems) > 0 && len(off) == len(sumProblems)
	k := 0
	labels := proposalLabels(f, plan)
	add := func(place, anchor, msg string) {
		if prev, ok := v.Msg[place]; ok {
			v.Msg[place] = prev + " " + msg
		} else {
			v.Msg[place] = msg
		}
		if l := labels[place]; l != "" { // the summary says which field: "Titel: Feltet skal udfyldes."
			msg = l + ": " + msg
		}
		v.Errors = append(v.Errors, fieldError{ID: anchor, Message: msg})
	}
	for _, fp := range problems {
		if bySource && fp.Field == "milestones" && proposalSumCodes[fp.Code] {
			sv := &v.Sources[off[k]]
			k++
			if sv.Unparsed {
				continue // its sum is off by the amount that did not parse, which has its own message
			}
			sv.SumMsg = fp.Message
			v.Errors = append(v.Errors, fieldError{ID: proposalTrancheID(0, sv.ID), Message: fp.Message})
			continue
		}
		place, anchor := proposalPlace(fp.Field, ids, plan)
		add(place, anchor, fp.Message)
	}

	for i := range v.Sources {
		v.Sources[i].Msg = v.Msg[v.Sources[i].InputID]
	}
	for i, g := range f.Goals {
		gv := proposalGoalView{No: i + 1, Index: i, proposalGoalRow: g,
			DescID: fmt.Sprintf("goals-%d-description", i), CritID: fmt.Sprintf("goals-%d-success_criterion", i),
			DescName: fmt.Sprintf("goals[%d].description", i), CritName: fmt.Sprintf("goals[%d].success_criterion", i),
			IDName: fmt.Sprintf("goals[%d].id", i)}
		gv.DescMsg, gv.CritMsg = v.Msg[gv.DescID], v.Msg[gv.CritID]
		v.Goals = append(v.Goals, gv)
	}
	for i, row := range f.Milestones {
		mv := proposalMilestoneView{No: i + 1, Title: row.Title, Due: row.Due, DueType: "date",
			TitleID: fmt.Sprintf("milestones-%d-title", i), DueID: fmt.Sprintf("milestones-%d-due_date", i),
			TitleName: fmt.Sprintf("milestones[%d].title", i), DueName: fmt.Sprintf("milestones[%d].due_date", i)}
		if d, ok := proposalDate(row.Due); ok {
			mv.Due = d.String() // a date input shows only ÅÅÅÅ-MM-DD
		} else {
			mv.DueType = "text" // keep what was typed visible; a date input would drop it
		}
		mv.TitleMsg, mv.DueMsg = v.Msg[mv.TitleID], v.Msg[mv.DueID]
		mv.TrancheID = fmt.Sprintf("milestones-%d-tranche", i)
		mv.TrancheMsg = v.Msg[mv.TrancheID]
		for _, sv := range v.Sources {
			c := proposalCell{ID: proposalTrancheID(i, sv.ID), SourceID: sv.ID, Name: fmt.Sprintf("milestones[%d].tranche.%s", i, sv.ID),
				Label: fmt.Sprintf("%s, milepæl %d (kr.)", sv.Name, i+1), Value: row.Tranche[sv.ID]}
			c.Msg = v.Msg[c.ID]
			if sv.SumMsg != "" {
				c.DescribedBy = "sum-" + sv.ID + "-fejl"
			}
			mv.Cells = append(mv.Cells, c)
		}
		v.Milestones = append(v.Milestones, mv)
	}
	return v
}

// proposalLabels names each place of the form as its label does, for the error summary.
func proposalLabels(f proposalForm, plan domain.Plan) map[string]string {
	l := map[string]string{"title": "Titel", "description": "Beskrivelse", "delaftale_id": "Delaftale",
		"housing_area_ids": "Boligområder", "target_group": "Målgruppe", "comment": "Hvad er ændret?",
		"goals": "Mål og succeskriterier", "budget": "Budget", "milestones": "Milepæle og rater",
		"reason": "Hvorfor skal indsatsen ændres?"}
	for i := range f.Goals {
		l[fmt.Sprintf("goals-%d-description", i)] = fmt.Sprintf("Mål %d", i+1)
		l[fmt.Sprintf("goals-%d-success_criterion", i)] = fmt.Sprintf("Succeskriterium for mål %d", i+1)
	}
	for _, s := range plan.FundingSources {
		l["budget-"+s.ID] = "Budget fra " + s.Name
	}
	for i := range f.Milestones {
		l[fmt.Sprintf("milestones-%d-title", i)] = fmt.Sprintf("Titel på milepæl %d", i+1)
		l[fmt.Sprintf("milestones-%d-due_date", i)] = fmt.Sprintf("Frist for milepæl %d", i+1)
		l[fmt.Sprintf("milestones-%d-tranche", i)] = fmt.Sprintf("Rate ved milepæl %d", i+1)
		for _, s := range plan.FundingSources {
			l[proposalTrancheID(i, s.ID)] = fmt.Sprintf("%s, milepæl %d", s.Name, i+1)
		}
	}
	return l
}

// proposalAvailable is what each source of the plan has free, for the form's overview; nil when it cannot be read
// now (the form still works, the rules check the funds on submit).
func (w *Web) proposalAvailable(r *http.Request, v *viewer) map[string]domain.Money {
	b, err := w.svc.Budget(r.Context(), v.Principal, v.Plan.ID)
	if err != nil {
		w.log.Warn("web: available funds for the proposal form", "err", err)
		return nil
	}
	out := map[string]domain.Money{}
	for _, s := range b.Sources {
		if s.AvailableØre != nil {
			out[s.SourceID] = *s.AvailableØre
		}
	}
	return out
}

func (w *Web) renderProposal(rw http.ResponseWriter, r *http.Request, v *viewer, status int, f proposalForm,
	problems []domain.FieldProblem, in *domain.Initiative) {
	// A list the user emptied (or a post without rows) still shows one row to type into, which the summary's
	// link to the first goal or milestone can reach.
	if len(f.Goals) == 0 {
		f.Goals = []proposalGoalRow{{}}
	}
	if len(f.Milestones) == 0 {
		f.Milestones = []proposalMilestoneRow{{Tranche: map[string]string{}}}
	}
	view := buildProposalView(f, v.Plan, w.proposalAvailable(r, v), problems)
	title := "Nyt forslag"
	view.Action, view.Heading = "/indsatser/ny", "Nyt forslag"
	view.Lead = "Beskriv indsatsen, fordel budgettet på finansieringskilderne og læg raterne på milepælene. " +
		"Raterne fra hver kilde skal tilsammen give kildens budget."
	if in != nil {
		view.Revise, view.InitiativeID = true, in.ID
		view.Action = "/indsatser/" + in.ID + "/revider"
		title, view.Heading = "Revidér forslag", "Revidér forslag: "+in.Proposal.Title
		view.Lead = "Ret forslaget efter bestyrelsens ønsker, og skriv kort, hvad der er ændret."
	}
	if len(view.Errors) > 0 {
		title = "Fejl: " + title
	}
	w.render(rw, r, status, proposalPageName, v, title, view)
}

// proposalFailed answers an error from the service: a refusal with its Danish message and the status its code
// means, a dependency that is down with a 503 page, anything else with a 500 page.
func (w *Web) proposalFailed(rw http.ResponseWriter, r *http.Request, v *viewer, err error) {
	var re *domain.RuleError
	switch {
	case errors.As(err, &re):
		status, heading := http.StatusConflict, "Handlingen kan ikke udføres nu"
		switch re.Code {
		case domain.CodeForbidden:
			status, heading = http.StatusForbidden, "Du har ikke adgang"
		case domain.CodeNotFound:
			status, heading = http.StatusNotFound, "Siden findes ikke"
		case domain.CodeValidation:
			status, heading = http.StatusUnprocessableEntity, "Forslaget kan ikke indsendes"
		}
		w.render(rw, r, status, "error", v, heading, errorView{Heading: heading, Text: re.Message})
	case passing(err):
		w.proposalUnavailable(rw, r, v, err)
	default:
		w.serverError(rw, r, err)
	}
}

func (w *Web) proposalUnavailable(rw http.ResponseWriter, r *http.Request, v *viewer, err error) {
	w.serviceUnavailable(rw, r, v, err, errorView{
		Heading: "Prøv igen om lidt",
		Text: "Forslaget kunne ikke gemmes lige nu, fordi en del af systemet ikke svarer. Gå tilbage og send formularen " +
			"igen om lidt: det, du har skrevet, står der stadig, og forslaget bliver kun oprettet én gang.",
	})
}

func (w *Web) newProposalForm(rw http.ResponseWriter, r *http.Request, v *viewer) {
	if err := service.MayPropose(v.Principal, v.Plan.ID); err != nil {
		w.proposalFailed(rw, r, v, err)
		return
	}
	if w.svc == nil {
		w.proposalUnavailable(rw, r, v, errors.New("no service"))
		return
	}
	w.renderProposal(rw, r, v, http.StatusOK, newProposalFormState(), nil, nil)
}

func (w *Web) newProposalSubmit(rw http.ResponseWriter, r *http.Request, v *viewer) {
	if err := service.MayPropose(v.Principal, v.Plan.ID); err != nil {
		w.proposalFailed(rw, r, v, err)
		return
	}
	if w.svc == nil {
		w.proposalUnavailable(rw, r, v, errors.New("no service"))
		return
	}
	f := readProposalForm(r, v.Plan)
	if f.rowAction(r) {
		w.renderProposal(rw, r, v, http.StatusOK, f, nil, nil)
		return
	}
	proposal, problems, _ := f.proposal(v.Plan)
	in, err := w.svc.Propose(r.Context(), v.Principal, v.Plan.ID, proposal, problems, formIdem(v.Principal, r))
	var re *domain.RuleError
	switch {
	case err == nil:
		http.Redirect(rw, r, "/indsatser/"+in.ID, http.StatusSeeOther)
	case errors.As(err, &re) && re.Code == domain.CodeValidation:
		w.renderProposal(rw, r, v, http.StatusUnprocessableEntity, f, proposalProblems(re), nil)
	default:
		w.proposalFailed(rw, r, v, err)
	}
}

// proposalProblems are a refusal's field problems; a refusal without any is shown as one problem of the form.
func proposalProblems(re *domain.RuleError) []domain.FieldProblem {
	if len(re.Problems) > 0 {
		return re.Problems
	}
	return []domain.FieldProblem{{Field: "form", Code: string(re.Code), Message: re.Message}}
}

// beginRevise reads the initiative for "Revidér forslag" and checks that the user may resubmit it now: the
// service's gate (access, role), then the workflow's own rule (proposer or admin, changes requested). It answers
// the request itself when not.
func (w *Web) beginRevise(rw http.ResponseWriter, r *http.Request, v *viewer) (*service.Target, bool) {
	if w.svc == nil {
		w.proposalUnavailable(rw, r, v, errors.New("no service"))
		return nil, false
	}
	t, err := w.svc.Begin(r.Context(), v.Principal, r.PathValue("id"), service.ActResubmit)
	if err != nil {
		w.proposalFailed(rw, r, v, err)
		return nil, false
	}
	if t.Initiative.PlanID != v.Plan.ID {
		// The pages show one plan; another plan's initiative is not there, as on its own page.
		w.notFound(rw, r)
		return nil, false
	}
	a := domain.Actor{UserID: v.Principal.UserID, Name: v.Principal.Name, Role: t.Role}
	if err := domain.CheckResubmit(&t.Initiative, a, domain.Plan{}, &domain.Proposal{}, ""); err != nil {
		var re *domain.RuleError
		if !errors.As(err, &re) || re.Code != domain.CodeValidation {
			w.proposalFailed(rw, r, v, err)
			return nil, false
		}
	}
	return t, true
}

func (w *Web) reviseProposalForm(rw http.ResponseWriter, r *http.Request, v *viewer) {
	t, ok := w.beginRevise(rw, r, v)
	if !ok {
		return
	}
	w.renderProposal(rw, r, v, http.StatusOK, proposalFormFrom(t.Initiative.Proposal), nil, &t.Initiative)
}

func (w *Web) reviseProposalSubmit(rw http.ResponseWriter, r *http.Request, v *viewer) {
	t, ok := w.beginRevise(rw, r, v)
	if !ok {
		return
	}
	f := readProposalForm(r, v.Plan)
	if f.rowAction(r) {
		w.renderProposal(rw, r, v, http.StatusOK, f, nil, &t.Initiative)
		return
	}
	proposal, problems, _ := f.proposal(v.Plan)
	in, err := w.svc.Resubmit(r.Context(), t, proposal, problems, f.Comment, formIdem(v.Principal, r))
	var re *domain.RuleError
	switch {
	case err == nil:
		http.Redirect(rw, r, "/indsatser/"+in.ID, http.StatusSeeOther)
	case errors.As(err, &re) && re.Code == domain.CodeValidation:
		w.renderProposal(rw, r, v, http.StatusUnprocessableEntity, f, proposalProblems(re), &t.Initiative)
	default:
		w.proposalFailed(rw, r, v, err)
	}
}
