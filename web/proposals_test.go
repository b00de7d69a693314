package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/internal/browsertest"
	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
	"github.com/helhedsplan/helhedsplan/web"
	"github.com/helhedsplan/helhedsplan/workflows"
)

// proposalWorkflows stands in for Temporal behind the real service: a start writes the initiative's first transition to
// the read model (as the workflow's activity would) and a second start of the same ID is store.ErrConflict, as in
// Temporal; resubmit writes the revised proposal. It records what reached it.
type proposalWorkflows struct {
	st *store.Store

	mu        sync.Mutex
	err       error // answers every call when set
	attempts  int   // calls of Start
	starts    []workflows.StartInput
	resubmits []workflows.ResubmitInput
	done      map[string]workflows.UpdateResult // update ID → result, so the same update runs once
}

func (f *proposalWorkflows) Start(ctx context.Context, in workflows.StartInput) (workflows.UpdateResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts++
	if f.err != nil {
		return workflows.UpdateResult{}, f.err
	}
	if _, err := f.st.GetInitiative(ctx, in.InitiativeID); err == nil {
		return workflows.UpdateResult{}, store.ErrConflict
	}
	ini := &domain.Initiative{ID: in.InitiativeID, PlanID: in.Plan.ID, Revision: 1, Proposer: in.Proposer,
		Proposal: in.Proposal, Decisions: []domain.Decision{}, Milestones: domain.MilestonesFromPlan(in.Proposal.Milestones),
		CreatedAt: time.Now().UTC()}
	if err := proposalTransition(ctx, f.st, ini, "submitted", in.Proposer, domain.PhaseBoardReview); err != nil {
		return workflows.UpdateResult{}, err
	}
	f.starts = append(f.starts, in)
	return workflows.UpdateResult{InitiativeID: ini.ID, Phase: ini.Phase, Version: ini.Version}, nil
}

func (f *proposalWorkflows) Update(ctx context.Context, id, name, updateID string, arg any) (workflows.UpdateResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return workflows.UpdateResult{}, f.err
	}
	if res, ok := f.done[updateID]; ok {
		return res, nil
	}
	ini, err := f.st.GetInitiative(ctx, id)
	if err != nil {
		return workflows.UpdateResult{}, err
	}
	switch name {
	case workflows.UpdateSync:
	case workflows.UpdateResubmit:
		in := arg.(workflows.ResubmitInput)
		ini.Proposal, ini.Revision = in.Proposal, ini.Revision+1
		ini.Milestones = domain.MilestonesFromPlan(in.Proposal.Milestones)
		if err := proposalTransition(ctx, f.st, &ini, "resubmitted", in.Actor, domain.PhaseBoardReview); err != nil {
			return workflows.UpdateResult{}, err
		}
		f.resubmits = append(f.resubmits, in)
	default:
		return workflows.UpdateResult{}, errors.New("fake workflows: unexpected update " + name)
	}
	res := workflows.UpdateResult{InitiativeID: ini.ID, Phase: ini.Phase, Version: ini.Version}
	if f.done == nil {
		f.done = map[string]workflows.UpdateResult{}
	}
	f.done[updateID] = res
	return res, nil
}

func (f *proposalWorkflows) startCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.starts)
}

// proposalTransition is record (web_test.go) returning its error, for use outside the test's goroutine.
func proposalTransition(ctx context.Context, st *store.Store, in *domain.Initiative, typ string, actor domain.Actor, phase domain.Phase) error {
	before := in.Phase
	in.Version++
	in.Phase = phase
	in.UpdatedAt = time.Now().UTC()
	b, _ := json.Marshal(in)
	var snap domain.Initiative
	_ = json.Unmarshal(b, &snap)
	ev := store.Event{InitiativeID: in.ID, Seq: in.Version, Type: typ, ActorID: actor.UserID, ActorName: actor.Name,
		ActorRole: actor.Role, At: in.UpdatedAt, PhaseBefore: before, PhaseAfter: phase, Payload: json.RawMessage(`{}`)}
	return st.RecordTransition(ctx, store.Transition{Event: ev, Snapshot: snap})
}

// newProposalApp is newApp with dev sign-in and the fake workflows behind the real service.
func newProposalApp(t *testing.T) (*app, *proposalWorkflows) {
	t.Helper()
	st := dbtest.New(t)
	wf := &proposalWorkflows{st: st}
	w, err := web.New(web.Config{DevSignIn: true}, st, service.New(st, wf, nil), st.DB().DB)
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	t.Cleanup(w.Close)
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)
	return &app{t: t, st: st, srv: srv}, wf
}

var proposalFormKeyRe = regexp.MustCompile(`name="form_key" value="([^"]+)"`)

// openProposalForm gets the form at path as b and returns the fields every post needs: the CSRF token and the form key.
func (b *browser) openProposalForm(path string) url.Values {
	b.a.t.Helper()
	p := b.get(path)
	if p.status != http.StatusOK {
		b.a.t.Fatalf("GET %s: %d\n%s", path, p.status, p.body)
	}
	c, k := csrfRe.FindStringSubmatch(p.body), proposalFormKeyRe.FindStringSubmatch(p.body)
	if c == nil || k == nil {
		b.a.t.Fatalf("GET %s: no CSRF token or form key:\n%s", path, p.body)
	}
	return url.Values{"csrf_token": {c[1]}, "form_key": {k[1]}}
}

// proposalLektiecafeForm is a valid proposal as typed into the form: 1.234.567,50 kr. from LBF and 100.000 kr. from Viborg
// Kommune, in two milestones whose tranches add up to exactly that.
func proposalLektiecafeForm(base url.Values) url.Values {
	f := url.Values{
		"title":                                  {"Lektiecafé i Houlkærvænget"},
		"description":                            {"Lektiehjælp to gange om ugen & forældremøder."},
		"delaftale_id":                           {"uddannelse-og-livschancer"},
		"housing_area_ids":                       {"houlkaervaenget", "vestervang"},
		"target_group":                           {"Børn i 4.-9. klasse"},
		"goals_count":                            {"1"},
		"goals[0].id":                            {""},
		"goals[0].description":                   {"Bedre karakterer"},
		"goals[0].success_criterion":             {"Gennemsnit +0,5"},
		"budget.lbf":                             {"1.234.567,50"},
		"budget.viborg-kommune":                  {"100.000"},
		"budget.boligselskaberne":                {""},
		"milestones_count":                       {"2"},
		"milestones[0].title":                    {"Opstart"},
		"milestones[0].due_date":                 {"2022-03-01"},
		"milestones[0].tranche.lbf":              {"1.000.000"},
		"milestones[0].tranche.viborg-kommune":   {"50.000"},
		"milestones[0].tranche.boligselskaberne": {""},
		"milestones[1].title":                    {"Første skoleår"},
		"milestones[1].due_date":                 {"31.08.2022"},
		"milestones[1].tranche.lbf":              {"234.567,50"},
		"milestones[1].tranche.viborg-kommune":   {"50.000"},
		"milestones[1].tranche.boligselskaberne": {""},
	}
	for k, v := range base {
		f[k] = v
	}
	return f
}

func formWith(f url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, v := range f {
		out[k] = append([]string(nil), v...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
}

// mustKeepTyped checks that every typed text value is in the page again, as the value of its field.
func mustKeepTyped(t *testing.T, p page, f url.Values, skip ...string) {
	t.Helper()
	for k, vs := range f {
		if k == "csrf_token" || k == "form_key" || k == "housing_area_ids" || strings.HasSuffix(k, "_count") ||
			strings.HasSuffix(k, ".id") || k == "description" || k == "target_group" || k == "comment" || proposalHas(skip, k) {
			continue
		}
		for _, v := range vs {
			want := `name="` + k + `" value="` + proposalEscape(v) + `"`
			if k == "delaftale_id" {
				want = `value="` + v + `" selected`
			}
			if !strings.Contains(p.body, want) {
				t.Errorf("typed %s=%q is not kept (want %s)", k, v, want)
			}
		}
	}
	for _, k := range []string{"description", "target_group", "comment"} {
		if v := f.Get(k); v != "" && !strings.Contains(p.body, ">"+proposalEscape(v)+"</textarea>") {
			t.Errorf("typed %s=%q is not kept", k, v)
		}
	}
	for _, a := range f["housing_area_ids"] {
		if !strings.Contains(p.body, `value="`+a+`" checked`) {
			t.Errorf("ticked housing area %s is not kept", a)
		}
	}
}

func proposalHas(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

func proposalEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;", "+", "&#43;").Replace(s)
}

func TestProposalFormAccess(t *testing.T) {
	a, wf := newProposalApp(t)
	t.Run("operational_group_gets_the_form_with_the_plans_choices", func(t *testing.T) {
		b := a.browser()
		b.signInAs("og-mette")
		p := b.get("/indsatser/ny")
		if p.status != http.StatusOK {
			t.Fatalf("status %d", p.status)
		}
		mustContain(t, p, "<h1>Nyt forslag</h1>", `aria-current="page"><span>Indsatser`,
			"Uddannelse og livschancer", "Beskæftigelse", "Sammenhængskraft og medborgerskab",
			`<label for="area-houlkaervaenget">Houlkærvænget</label>`, "Vestervang", "Ringparken", "Ellekonebakken", "Klostersvænget",
			`<label class="form-label" for="budget-lbf">Budget fra Landsbyggefonden (kr.)</label>`, `name="budget.viborg-kommune"`,
			`name="budget.boligselskaberne"`, `name="milestones[0].tranche.lbf"`, `type="date" id="milestones-0-due_date"`,
			`name="tilfoej_milepael"`, `name="tilfoej_maal"`, "Endnu ikke reserveret: 13.709.000 kr.", "<legend",
			`name="form_key"`)
		if strings.Contains(p.body, `class="alert alert-error"`) {
			t.Error("the empty form shows errors")
		}
	})
	for _, user := range []string{"bs-hanne", "fin-peter", "adm-karen"} {
		t.Run(user+"_403", func(t *testing.T) {
			b := a.browser()
			b.signInAs(user)
			p := b.get("/indsatser/ny")
			if p.status != http.StatusForbidden {
				t.Fatalf("GET status %d, want 403", p.status)
			}
			mustContain(t, p, "Kun operationel gruppe kan foreslå en indsats")
			p = b.post("/indsatser/ny", proposalLektiecafeForm(url.Values{"csrf_token": {b.csrf("/")}, "form_key": {"k"}}))
			if p.status != http.StatusForbidden {
				t.Fatalf("POST status %d, want 403", p.status)
			}
		})
	}
	t.Run("post_without_csrf_token_403", func(t *testing.T) {
		b := a.browser()
		b.signInAs("og-mette")
		f := b.openProposalForm("/indsatser/ny")
		f.Del("csrf_token")
		if p := b.post("/indsatser/ny", proposalLektiecafeForm(f)); p.status != http.StatusForbidden {
			t.Fatalf("status %d, want 403", p.status)
		}
	})
	if n := wf.startCount(); n != 0 {
		t.Errorf("%d workflows started by refused requests", n)
	}
}

func TestProposalRowsKeepWhatIsTyped(t *testing.T) {
	a, wf := newProposalApp(t)
	b := a.browser()
	b.signInAs("og-mette")
	f := proposalLektiecafeForm(b.openProposalForm("/indsatser/ny"))

	p := b.post("/indsatser/ny", formWith(f, "tilfoej_milepael", "1"))
	if p.status != http.StatusOK {
		t.Fatalf("add milestone: status %d", p.status)
	}
	mustKeepTyped(t, p, f, "milestones[1].due_date")
	mustContain(t, p, `name="milestones[1].due_date" value="2022-08-31"`, // the Danish date, as a date input shows it
		`name="milestones[2].title" value=""`, `name="milestones_count" value="3"`, "Fjern milepæl 3",
		"1.234.567,50 kr.") // the sum of LBF's tranches, computed on the server
	if strings.Contains(p.body, `class="alert alert-error"`) || strings.Contains(p.body, `aria-invalid="true"`) {
		t.Error("adding a row shows validation errors")
	}

	p = b.post("/indsatser/ny", formWith(f, "fjern_milepael", "1"))
	if p.status != http.StatusOK {
		t.Fatalf("remove milestone: status %d", p.status)
	}
	mustContain(t, p, `name="milestones[0].title" value="Første skoleår"`, `name="milestones[0].tranche.lbf" value="234.567,50"`,
		`name="milestones_count" value="1"`, `name="title" value="Lektiecafé i Houlkærvænget"`)
	if strings.Contains(p.body, "Opstart") {
		t.Error("the removed milestone is still there")
	}

	p = b.post("/indsatser/ny", formWith(f, "tilfoej_maal", "1"))
	mustContain(t, p, `name="goals[0].description" value="Bedre karakterer"`, `name="goals[1].description" value=""`, "Fjern mål 2")
	mustKeepTyped(t, p, f, "milestones[1].due_date")
	g := formWith(f, "goals_count", "2", "goals[1].description", "Flere forældre til møder", "goals[1].success_criterion", "50 %", "fjern_maal", "1")
	p = b.post("/indsatser/ny", g)
	mustContain(t, p, `name="goals[0].description" value="Flere forældre til møder"`, `name="goals_count" value="1"`)
	if strings.Contains(p.body, "Bedre karakterer") {
		t.Error("the removed goal is still there")
	}
	if n := wf.startCount(); n != 0 {
		t.Errorf("row buttons started %d workflows", n)
	}
}

func TestProposalRefusedIsShownAtItsFields(t *testing.T) {
	a, wf := newProposalApp(t)
	b := a.browser()
	b.signInAs("og-mette")
	base := b.openProposalForm("/indsatser/ny")

	t.Run("tranches_not_summing_to_the_budget_422", func(t *testing.T) {
		f := formWith(proposalLektiecafeForm(base), "milestones[1].tranche.lbf", "200.000")
		p := b.post("/indsatser/ny", f)
		if p.status != http.StatusUnprocessableEntity {
			t.Fatalf("status %d, want 422\n%s", p.status, p.body)
		}
		msg := "Budgettet fra Landsbyggefonden er 1.234.567,50 kr., men raterne summer til 1.200.000,00 kr.; de skal være ens."
		mustContain(t, p, "<title>Fejl: Nyt forslag", `class="alert alert-error"`, "Der er et problem",
			`<a href="#milestones-0-tranche-lbf">`+msg+`</a>`,           // the summary links to the source's first tranche
			`id="sum-lbf-fejl"><span class="sr-only">Fejl:</span> `+msg, // the message in the tranche overview
			`id="milestones-1-tranche-lbf" name="milestones[1].tranche.lbf" value="200.000" inputmode="decimal"`,
			`aria-invalid="true" aria-describedby="sum-lbf-fejl"`) // each LBF tranche points at it
		mustKeepTyped(t, p, f, "milestones[1].due_date")
		if strings.Contains(p.body, `id="milestones-0-tranche-viborg-kommune" name="milestones[0].tranche.viborg-kommune" value="50.000" inputmode="decimal" autocomplete="off" data-amount aria-invalid`) {
			t.Error("Viborg Kommune's tranches, which add up, are marked invalid")
		}
	})
	t.Run("malformed_amount_and_date_are_field_problems", func(t *testing.T) {
		f := formWith(proposalLektiecafeForm(base), "budget.viborg-kommune", "12,3,4", "milestones[1].due_date", "31.13.2022",
			"milestones[0].tranche.lbf", "1.23")
		p := b.post("/indsatser/ny", f)
		if p.status != http.StatusUnprocessableEntity {
			t.Fatalf("status %d, want 422\n%s", p.status, p.body)
		}
		mustContain(t, p, "Der er 3 problemer",
			`<a href="#budget-viborg-kommune">Budget fra Viborg Kommune: Skriv beløbet i kroner, fx 1.234.567 eller 1.234.567,50.</a>`,
			`<a href="#milestones-0-tranche-lbf">Landsbyggefonden, milepæl 1: Skriv beløbet i kroner`,
			`<a href="#milestones-1-due_date">Frist for milepæl 2: Skriv datoen som dd.mm.åååå`,
			`id="budget-viborg-kommune-fejl"`, `id="milestones-1-due_date-fejl"`, `id="milestones-0-tranche-lbf-fejl"`,
			// what was typed is kept; the bad date in a text field, since a date input would drop it
			`type="text" id="milestones-1-due_date" name="milestones[1].due_date" value="31.13.2022"`,
			`name="budget.viborg-kommune" value="12,3,4"`)
		if strings.Contains(p.body, "Beløbet skal være større end 0") {
			t.Error("the rule's message about the 0 standing in for a malformed amount is shown too")
		}
	})
	t.Run("empty_form_names_every_required_field", func(t *testing.T) {
		p := b.post("/indsatser/ny", formWith(base, "goals_count", "1", "milestones_count", "1"))
		if p.status != http.StatusUnprocessableEntity {
			t.Fatalf("status %d, want 422", p.status)
		}
		mustContain(t, p, `href="#title">Titel: Feltet skal udfyldes.`, `href="#delaftale_id">Delaftale: Vælg en delaftale.`, `href="#area-houlkaervaenget">Boligområder: Vælg mindst ét boligområde.`,
			`href="#goals-0-description"`, `href="#budget-lbf">Budget: Angiv budgettet fordelt på finansieringskilder.`,
			`href="#milestones-0-due_date">Frist for milepæl 1: Angiv en dato`, `id="housing_area_ids-fejl"`, `id="milestones-0-tranche-fejl"`)
	})
	if n := wf.startCount(); n != 0 {
		t.Errorf("%d workflows started by refused proposals", n)
	}
}

func TestProposalReachesTheWorkflowOnce(t *testing.T) {
	a, wf := newProposalApp(t)
	b := a.browser()
	b.signInAs("og-mette")
	f := proposalLektiecafeForm(b.openProposalForm("/indsatser/ny"))
	p := b.post("/indsatser/ny", f)
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/indsatser/") {
		t.Fatalf("status %d to %q, want 303 to the initiative\n%s", p.status, p.header.Get("Location"), p.body)
	}
	loc := p.header.Get("Location")
	if n := wf.startCount(); n != 1 {
		t.Fatalf("%d starts, want 1", n)
	}
	got := wf.starts[0]
	want := domain.Proposal{
		Title: "Lektiecafé i Houlkærvænget", Description: "Lektiehjælp to gange om ugen & forældremøder.",
		DelaftaleID: "uddannelse-og-livschancer", HousingAreaIDs: []string{"houlkaervaenget", "vestervang"},
		TargetGroup: "Børn i 4.-9. klasse",
		Goals:       []domain.Goal{{ID: "g1", Description: "Bedre karakterer", SuccessCriterion: "Gennemsnit +0,5"}},
		Budget: []domain.SourceAmount{{SourceID: "lbf", AmountØre: 123456750},
			{SourceID: "viborg-kommune", AmountØre: 10000000}},
		Milestones: []domain.MilestonePlan{
			{Title: "Opstart", DueDate: domain.NewDate(2022, 3, 1), Tranche: []domain.SourceAmount{
				{SourceID: "lbf", AmountØre: 100000000}, {SourceID: "viborg-kommune", AmountØre: 5000000}}},
			{Title: "Første skoleår", DueDate: domain.NewDate(2022, 8, 31), Tranche: []domain.SourceAmount{
				{SourceID: "lbf", AmountØre: 23456750}, {SourceID: "viborg-kommune", AmountØre: 5000000}}},
		},
	}
	if diff := cmp.Diff(want, got.Proposal, cmp.Comparer(func(a, b domain.Date) bool { return a == b })); diff != "" {
		t.Errorf("proposal reaching the workflow (-want +got):\n%s", diff)
	}
	if got.Proposer.UserID != "og-mette" || got.Plan.ID != planID || "/indsatser/"+got.InitiativeID != loc {
		t.Errorf("start: proposer %s, plan %s, id %s; redirected to %s", got.Proposer.UserID, got.Plan.ID, got.InitiativeID, loc)
	}
	if p := b.get(loc); p.status != http.StatusOK || !strings.Contains(p.body, "Lektiecafé i Houlkærvænget") {
		t.Errorf("the new initiative's page: %d", p.status)
	}

	// The same form sent again (a double click, a reload of the POST) is the same proposal: one workflow.
	again := b.post("/indsatser/ny", f)
	if again.status != http.StatusSeeOther || again.header.Get("Location") != loc {
		t.Errorf("second post: %d to %q, want 303 to %s", again.status, again.header.Get("Location"), loc)
	}
	if n := wf.startCount(); n != 1 {
		t.Errorf("%d initiatives after posting the same form twice, want 1", n)
	}
	// The same form key with other content is another proposal.
	other := b.post("/indsatser/ny", formWith(f, "title", "Lektiecafé i Vestervang"))
	if other.status != http.StatusSeeOther || other.header.Get("Location") == loc {
		t.Errorf("corrected form: %d to %q, want a new initiative", other.status, other.header.Get("Location"))
	}
}

func TestProposalAmounts(t *testing.T) {
	a, wf := newProposalApp(t)
	b := a.browser()
	b.signInAs("og-mette")
	base := b.openProposalForm("/indsatser/ny")
	tests := []struct {
		name, typed string
		want        domain.Money // 0: refused as malformed
	}{
		{"dots_and_comma", "1.234.567,50", 123456750},
		{"no_dots_one_decimal", "1234567,5", 123456750},
		{"with_kr_and_spaces", " 1.234.567 kr. ", 123456700},
		{"leading_zero_ore", "0,05", 5},
		{"two_commas_refused", "12,3,4", 0},
		{"english_decimal_refused", "1.23", 0},
		{"short_group_refused", "1.23.456", 0},
		{"three_decimals_refused", "1,234", 0},
		{"negative_refused", "-5", 0},
		{"exponent_refused", "1e6", 0},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := formWith(proposalLektiecafeForm(base), "form_key", "amount-"+tt.name, "title", "Beløb "+string(rune('A'+i)),
				"budget.viborg-kommune", "", "milestones_count", "1", "budget.lbf", tt.typed,
				"milestones[0].tranche.lbf", tt.typed, "milestones[0].tranche.viborg-kommune", "")
			before := wf.startCount()
			p := b.post("/indsatser/ny", f)
			if tt.want == 0 {
				if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `id="budget-lbf-fejl"`) {
					t.Fatalf("%q: status %d, want 422 with the problem at the LBF budget", tt.typed, p.status)
				}
				return
			}
			if p.status != http.StatusSeeOther || wf.startCount() != before+1 {
				t.Fatalf("%q: status %d\n%s", tt.typed, p.status, p.body)
			}
			got := wf.starts[len(wf.starts)-1].Proposal
			if got.Budget[0].AmountØre != tt.want || got.Milestones[0].Tranche[0].AmountØre != tt.want {
				t.Errorf("%q: budget %d øre, tranche %d øre, want %d", tt.typed, got.Budget[0].AmountØre,
					got.Milestones[0].Tranche[0].AmountØre, tt.want)
			}
		})
	}
}

func TestProposalUnavailable503(t *testing.T) {
	a, wf := newProposalApp(t)
	b := a.browser()
	b.signInAs("og-mette")
	f := proposalLektiecafeForm(b.openProposalForm("/indsatser/ny"))
	wf.err = service.ErrUnavailable
	p := b.post("/indsatser/ny", f)
	if p.status != http.StatusServiceUnavailable || p.header.Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q; want 503 with Retry-After", p.status, p.header.Get("Retry-After"))
	}
	mustContain(t, p, "Prøv igen om lidt", `lang="da"`)
}

// proposalInReview records an initiative of Mette's that the board sent back for changes.
func proposalInReview(t *testing.T, st *store.Store, id string, phase domain.Phase) {
	t.Helper()
	ctx := context.Background()
	prop := domain.Proposal{
		Title: "Jobcafé", Description: "Hjælp til jobsøgning.", DelaftaleID: "beskaeftigelse",
		HousingAreaIDs: []string{"ringparken"}, TargetGroup: "Ledige beboere",
		Goals:  []domain.Goal{{ID: "g1", Description: "Flere i job", SuccessCriterion: "20 i job"}},
		Budget: []domain.SourceAmount{{SourceID: "lbf", AmountØre: domain.Kroner(1_000_000)}},
		Milestones: []domain.MilestonePlan{{Title: "Åbning", DueDate: domain.NewDate(2023, 1, 15),
			Tranche: []domain.SourceAmount{{SourceID: "lbf", AmountØre: domain.Kroner(1_000_000)}}}},
	}
	in := &domain.Initiative{ID: id, PlanID: planID, Revision: 1, Proposer: mette, Proposal: prop,
		Decisions: []domain.Decision{}, Milestones: domain.MilestonesFromPlan(prop.Milestones), CreatedAt: time.Now().UTC()}
	if err := proposalTransition(ctx, st, in, "submitted", mette, domain.PhaseBoardReview); err != nil {
		t.Fatal(err)
	}
	if phase != domain.PhaseBoardReview {
		if err := proposalTransition(ctx, st, in, "changes_requested", hanne, phase); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReviseProposal(t *testing.T) {
	a, wf := newProposalApp(t)
	proposalInReview(t, a.st, "jobcafe", domain.PhaseChangesRequested)
	proposalInReview(t, a.st, "til-behandling", domain.PhaseBoardReview)
	mette := a.browser()
	mette.signInAs("og-mette")

	t.Run("prefilled_for_the_proposer", func(t *testing.T) {
		p := mette.get("/indsatser/jobcafe/revider")
		if p.status != http.StatusOK {
			t.Fatalf("status %d\n%s", p.status, p.body)
		}
		mustContain(t, p, "Revidér forslag: Jobcafé", `name="title" value="Jobcafé"`, `value="beskaeftigelse" selected`,
			`value="ringparken" checked`, `name="goals[0].id" value="g1"`, `name="budget.lbf" value="1.000.000"`,
			`name="milestones[0].due_date" value="2023-01-15"`, `name="milestones[0].tranche.lbf" value="1.000.000"`,
			`<label class="form-label" for="comment">Hvad er ændret?</label>`, `action="/indsatser/jobcafe/revider"`)
	})
	refusals := []struct {
		name, user, path string
		status           int
		want             string
	}{
		{"another_member_403", "og-ahmed", "/indsatser/jobcafe/revider", http.StatusForbidden, "Kun forslagsstilleren (Mette Kjær)"},
		{"board_403", "bs-hanne", "/indsatser/jobcafe/revider", http.StatusForbidden, "Kun operationel gruppe, sekretariat kan"},
		{"unknown_initiative_404", "og-mette", "/indsatser/findes-ikke/revider", http.StatusNotFound, "findes ikke"},
		{"in_board_review_409", "og-mette", "/indsatser/til-behandling/revider", http.StatusConflict, "ændringer ønsket"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			b := a.browser()
			b.signInAs(tt.user)
			p := b.get(tt.path)
			if p.status != tt.status {
				t.Fatalf("GET: status %d, want %d", p.status, tt.status)
			}
			mustContain(t, p, tt.want)
			p = b.post(tt.path, proposalLektiecafeForm(url.Values{"csrf_token": {b.csrf("/")}, "form_key": {"k"}}))
			if p.status != tt.status {
				t.Fatalf("POST: status %d, want %d", p.status, tt.status)
			}
		})
	}
	t.Run("admin_may_revise", func(t *testing.T) {
		b := a.browser()
		b.signInAs("adm-karen")
		if p := b.get("/indsatser/jobcafe/revider"); p.status != http.StatusOK {
			t.Fatalf("status %d", p.status)
		}
	})
	t.Run("refused_revision_422_keeps_the_comment", func(t *testing.T) {
		f := formWith(proposalLektiecafeForm(mette.openProposalForm("/indsatser/jobcafe/revider")), "comment", "Flere rater", "milestones[0].due_date", "2030-01-01")
		p := mette.post("/indsatser/jobcafe/revider", f)
		if p.status != http.StatusUnprocessableEntity {
			t.Fatalf("status %d", p.status)
		}
		mustContain(t, p, `href="#milestones-0-due_date">Frist for milepæl 1: Datoen 2030-01-01 ligger uden for planperioden`, ">Flere rater</textarea>")
	})
	t.Run("resubmit_reaches_the_workflow", func(t *testing.T) {
		f := mette.openProposalForm("/indsatser/jobcafe/revider")
		f = formWith(proposalLektiecafeForm(f), "title", "Jobcafé med mentorer", "comment", "Budgettet er delt på to rater.",
			"goals[0].id", "g1")
		p := mette.post("/indsatser/jobcafe/revider", f)
		if p.status != http.StatusSeeOther || p.header.Get("Location") != "/indsatser/jobcafe" {
			t.Fatalf("status %d to %q\n%s", p.status, p.header.Get("Location"), p.body)
		}
		if len(wf.resubmits) != 1 {
			t.Fatalf("%d resubmits, want 1", len(wf.resubmits))
		}
		got := wf.resubmits[0]
		if got.Proposal.Title != "Jobcafé med mentorer" || got.Comment != "Budgettet er delt på to rater." ||
			got.Actor.UserID != "og-mette" || got.Proposal.Budget[0].AmountØre != 123456750 || got.Proposal.Goals[0].ID != "g1" {
			t.Errorf("resubmit input: %+v", got)
		}
		if p := mette.get("/indsatser/jobcafe/revider"); p.status != http.StatusConflict {
			t.Errorf("after resubmitting, the form answers %d, want 409 (the board has it now)", p.status)
		}
	})
}

// TestProposalFormInABrowser uses the form in chromium: a row added, live sums, a refused submission, and both
// pages checked with axe-core (screenshots in artifacts/screenshots/TestProposalFormInABrowser/).
func TestProposalFormInABrowser(t *testing.T) {
	a, _ := newProposalApp(t)
	br := browsertest.Start(t, browsertest.WithBaseURL(a.srv.URL))
	tab := br.NewTab()
	tab.Visit("/log-ind")
	tab.Click("Log ind som Mette Kjær")
	if status := tab.Visit("/indsatser/ny"); status != http.StatusOK {
		t.Fatalf("GET /indsatser/ny: %d", status)
	}
	tab.Page("nyt-forslag")
	tab.Fill("Titel", "Lektiecafé")
	tab.Click("Tilføj milepæl")
	if got := len(tab.Texts("[data-testid=milestone-row]")); got != 2 {
		t.Errorf("%d milestone rows after Tilføj milepæl, want 2", got)
	}
	// proposal.js recomputes the overview as amounts are typed (the server does so at every round trip).
	tab.Fill("Budget fra Landsbyggefonden (kr.)", "1.000,50")
	tab.Fill("Landsbyggefonden, milepæl 2 (kr.)", "400")
	if got := tab.Text("tr[data-source=lbf] [data-sum=tranches]"); got != "400 kr." {
		t.Errorf("live sum of LBF's tranches %q, want 400 kr.", got)
	}
	if got := tab.Text("tr[data-source=lbf] [data-sum=status]"); got != "Raterne giver ikke budgettet" {
		t.Errorf("live status %q", got)
	}
	tab.Click("Indsend forslag")
	if !strings.Contains(tab.Text(".alert-error"), "Vælg en delaftale.") {
		t.Errorf("error summary: %s", tab.Text(".alert-error"))
	}
	tab.Page("nyt-forslag-fejl")
}
