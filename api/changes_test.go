package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/workflows"
)

func lbfLines(kr int64) []domain.SourceAmount {
	return []domain.SourceAmount{{SourceID: "lbf", AmountØre: domain.Kroner(kr)}}
}

// underWay puts the Viborg initiative in execution with two milestones: 40.000 kr. paid at milestone 1 and
// 60.000 kr. scheduled for milestone 2, all from Landsbyggefonden.
func underWay(h *harness) domain.Initiative {
	in := h.st.initiatives[iniViborg]
	in.Phase = domain.PhaseExecuting
	in.Proposal.Budget = lbfLines(100_000)
	in.Proposal.Milestones = []domain.MilestonePlan{
		{Title: "Opstart", DueDate: domain.NewDate(2024, 6, 30), Tranche: lbfLines(40_000)},
		{Title: "Andet halvår", DueDate: domain.NewDate(2024, 12, 31), Tranche: lbfLines(60_000)},
	}
	in.Milestones = domain.MilestonesFromPlan(in.Proposal.Milestones)
	m := &in.Milestones[0]
	m.TrancheStatus, m.DisbursementID, m.ReleasedAt, m.PaidAt = domain.TranchePaid, disViborg, &t0, &t0
	in.Versions = []domain.ApprovedVersion{{Version: 1, Budget: in.Proposal.Budget, Milestones: in.Proposal.Milestones,
		DecidedBy: []string{"Hanne Mortensen", "Lars Bach"}, At: t0}}
	h.st.initiatives[iniViborg] = in
	return in
}

// The change body as the API takes it: 20.000 kr. more, milestone 2 later and smaller, a third milestone.
const changeJSON = `{"reason": "Skoleåret er rykket",
  "budget": [{"source_id": "lbf", "amount_ore": 12000000}],
  "milestones": [
    {"title": "Opstart", "due_date": "2024-06-30", "tranche": [{"source_id": "lbf", "amount_ore": 4000000}]},
    {"title": "Andet halvår", "due_date": "2025-01-31", "tranche": [{"source_id": "lbf", "amount_ore": 5000000}]},
    {"title": "Afslutning", "due_date": "2025-06-30", "tranche": [{"source_id": "lbf", "amount_ore": 3000000}]}]}`

// The change actions go through the real router to the workflow as the exact update and input; what the rules
// refuse is a problem+json before anything is sent.
func TestChangeActions(t *testing.T) {
	base := "/api/v1/initiatives/" + iniViborg
	metteActor := domain.Actor{UserID: "og-mette", Name: "Mette Kjær", Role: domain.RoleOperationalGroup}
	karenActor := domain.Actor{UserID: "adm-karen", Name: "Karen Iversen", Role: domain.RoleAdmin}
	wantChange := func(a domain.Actor) workflows.RequestChangeInput {
		return workflows.RequestChangeInput{Actor: a, Reason: "Skoleåret er rykket", Budget: lbfLines(120_000),
			Milestones: []domain.MilestonePlan{
				{Title: "Opstart", DueDate: domain.NewDate(2024, 6, 30), Tranche: lbfLines(40_000)},
				{Title: "Andet halvår", DueDate: domain.NewDate(2025, 1, 31), Tranche: lbfLines(50_000)},
				{Title: "Afslutning", DueDate: domain.NewDate(2025, 6, 30), Tranche: lbfLines(30_000)},
			}}
	}
	awaitingLBF := func(in *domain.Initiative) {
		decided := t0.Add(24 * time.Hour)
		in.Changes = []domain.Change{{No: 1, Reason: "Skoleåret er rykket", RequestedBy: metteActor, RequestedAt: t0,
			Budget: lbfLines(120_000), Milestones: wantChange(metteActor).Milestones, MovedØre: domain.Kroner(30_000),
			Strategic: true, Status: domain.ChangeAwaitingLBF, DecidedAt: &decided}}
	}
	tests := []struct {
		name      string
		token     string
		path      string
		body      string
		state     func(in *domain.Initiative) // on top of underWay; nil: underWay as is
		available domain.Money                // Landsbyggefonden's free funds; 0: the fixture's
		status    int
		update    string
		wantArg   any
		wantCode  string
		wantField string
	}{
		{name: "change_by_the_proposer_200", token: tokMette, path: base + "/changes", body: changeJSON,
			status: http.StatusOK, update: workflows.UpdateRequestChange, wantArg: wantChange(metteActor)},
		{name: "change_by_admin_200", token: tokKaren, path: base + "/changes", body: changeJSON,
			status: http.StatusOK, update: workflows.UpdateRequestChange, wantArg: wantChange(karenActor)},
		{name: "change_by_board_403", token: tokHanne, path: base + "/changes", body: changeJSON,
			status: http.StatusForbidden, wantCode: "forbidden"},
		{name: "change_by_finance_with_a_bad_body_still_403", token: tokPeter, path: base + "/changes", body: `{`,
			status: http.StatusForbidden, wantCode: "forbidden"},
		{name: "change_by_another_member_of_the_operational_group_403", token: tokMulti, path: base + "/changes",
			body: changeJSON, status: http.StatusForbidden, wantCode: "forbidden"},
		{name: "change_of_another_plans_initiative_404", token: tokMette, path: "/api/v1/initiatives/" + iniAarhus + "/changes",
			body: changeJSON, status: http.StatusNotFound, wantCode: "not_found"},
		{name: "change_before_approval_409", token: tokMette, path: base + "/changes", body: changeJSON,
			state: func(in *domain.Initiative) { in.Phase = domain.PhaseBoardReview }, status: http.StatusConflict,
			wantCode: "wrong_phase"},
		{name: "change_while_another_is_open_409", token: tokMette, path: base + "/changes", body: changeJSON,
			state: awaitingLBF, status: http.StatusConflict, wantCode: "conflict"},
		{name: "change_without_reason_422", token: tokMette, path: base + "/changes",
			body: `{"budget": [{"source_id": "lbf", "amount_ore": 10000000}],
			  "milestones": [{"title": "Opstart", "due_date": "2024-06-30", "tranche": [{"source_id": "lbf", "amount_ore": 4000000}]},
			    {"title": "Andet halvår", "due_date": "2025-01-31", "tranche": [{"source_id": "lbf", "amount_ore": 6000000}]}]}`,
			status: http.StatusUnprocessableEntity, wantCode: "validation_failed", wantField: "reason"},
		{name: "change_with_a_bad_date_422", token: tokMette, path: base + "/changes",
			body: `{"reason": "Flyt datoen", "budget": [{"source_id": "lbf", "amount_ore": 10000000}],
			  "milestones": [{"title": "Opstart", "due_date": "2024-06-30", "tranche": [{"source_id": "lbf", "amount_ore": 4000000}]},
			    {"title": "Andet halvår", "due_date": "31.01.2025", "tranche": [{"source_id": "lbf", "amount_ore": 6000000}]}]}`,
			status: http.StatusUnprocessableEntity, wantCode: "validation_failed", wantField: "milestones[1].due_date"},
		{name: "change_of_a_paid_tranche_422", token: tokMette, path: base + "/changes",
			body: `{"reason": "Mere til opstart", "budget": [{"source_id": "lbf", "amount_ore": 10000000}],
			  "milestones": [{"title": "Opstart", "due_date": "2024-06-30", "tranche": [{"source_id": "lbf", "amount_ore": 5000000}]},
			    {"title": "Andet halvår", "due_date": "2024-12-31", "tranche": [{"source_id": "lbf", "amount_ore": 5000000}]}]}`,
			status: http.StatusUnprocessableEntity, wantCode: "validation_failed", wantField: "milestones[0]"},
		{name: "change_asking_more_than_the_source_has_409", token: tokMette, path: base + "/changes", body: changeJSON,
			available: domain.Kroner(5_000), status: http.StatusConflict, wantCode: "insufficient_funds", wantField: "budget"},
		{name: "change_with_an_unknown_field_400", token: tokMette, path: base + "/changes",
			body:   `{"reason": "x", "budget": [], "milestones": [], "title": "Ny titel"}`,
			status: http.StatusBadRequest, wantCode: "bad_request", wantField: "title"},
		{name: "lbf_approved_by_admin_200", token: tokKaren, path: base + "/changes/1/lbf",
			body: `{"approved": true, "letter_date": "2024-05-02", "reference": " LBF 2024-117 "}`, state: awaitingLBF,
			status: http.StatusOK, update: workflows.UpdateRecordLBF, wantArg: workflows.RecordLBFInput{Actor: karenActor,
				ChangeNo: 1, Approved: true, LetterDate: domain.NewDate(2024, 5, 2), Reference: "LBF 2024-117"}},
		{name: "lbf_refused_by_admin_200", token: tokKaren, path: base + "/changes/1/lbf",
			body: `{"approved": false, "letter_date": "2024-05-02", "reference": "LBF 2024-118"}`, state: awaitingLBF,
			status: http.StatusOK, update: workflows.UpdateRecordLBF, wantArg: workflows.RecordLBFInput{Actor: karenActor,
				ChangeNo: 1, LetterDate: domain.NewDate(2024, 5, 2), Reference: "LBF 2024-118"}},
		{name: "lbf_by_board_403", token: tokHanne, path: base + "/changes/1/lbf",
			body: `{"approved": true, "letter_date": "2024-05-02", "reference": "x"}`, state: awaitingLBF,
			status: http.StatusForbidden, wantCode: "forbidden"},
		{name: "lbf_change_number_not_a_number_400", token: tokKaren, path: base + "/changes/første/lbf",
			body: `{"approved": true, "letter_date": "2024-05-02", "reference": "x"}`, state: awaitingLBF,
			status: http.StatusBadRequest, wantCode: "bad_request", wantField: "no"},
		{name: "lbf_for_a_change_not_open_404", token: tokKaren, path: base + "/changes/2/lbf",
			body: `{"approved": true, "letter_date": "2024-05-02", "reference": "x"}`, state: awaitingLBF,
			status: http.StatusNotFound, wantCode: "not_found"},
		{name: "lbf_with_a_bad_date_422", token: tokKaren, path: base + "/changes/1/lbf",
			body: `{"approved": true, "letter_date": "2. maj 2024", "reference": "x"}`, state: awaitingLBF,
			status: http.StatusUnprocessableEntity, wantCode: "validation_failed", wantField: "letter_date"},
		{name: "lbf_without_approved_422", token: tokKaren, path: base + "/changes/1/lbf",
			body: `{"letter_date": "2024-05-02", "reference": "x"}`, state: awaitingLBF,
			status: http.StatusUnprocessableEntity, wantCode: "validation_failed", wantField: "approved"},
		{name: "lbf_approved_as_text_400", token: tokKaren, path: base + "/changes/1/lbf",
			body: `{"approved": "ja", "letter_date": "2024-05-02", "reference": "x"}`, state: awaitingLBF,
			status: http.StatusBadRequest, wantCode: "bad_request", wantField: "approved"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			in := underWay(h)
			if tt.state != nil {
				tt.state(&in)
				h.st.initiatives[iniViborg] = in
			}
			if tt.available > 0 {
				h.st.available[planViborg]["lbf"] = tt.available
			}
			h.wf.updateFn = h.answer(domain.PhaseExecuting)
			rec := h.do(http.MethodPost, tt.path, tt.token, tt.body)
			wantStatus(t, rec, tt.status)
			if tt.wantCode != "" {
				p := problemOf(t, rec)
				if p.Code != tt.wantCode {
					t.Errorf("code = %q, want %q (%s)", p.Code, tt.wantCode, rec.Body)
				}
				if tt.wantField != "" && (len(p.Errors) != 1 || p.Errors[0].Field != tt.wantField) {
					t.Errorf("errors = %+v, want one on %s", p.Errors, tt.wantField)
				}
				if len(h.wf.updates) != 0 {
					t.Errorf("a refused request reached the workflow: %+v", h.wf.updates)
				}
				return
			}
			if len(h.wf.updates) != 1 {
				t.Fatalf("updates = %+v, want one", h.wf.updates)
			}
			u := h.wf.updates[0]
			if u.InitiativeID != iniViborg || u.Name != tt.update {
				t.Errorf("update %s on %s, want %s on %s", u.Name, u.InitiativeID, tt.update, iniViborg)
			}
			if diff := cmp.Diff(tt.wantArg, u.Arg, cmp.Comparer(func(a, b domain.Date) bool { return a == b })); diff != "" {
				t.Errorf("update argument (-want +got):\n%s", diff)
			}
			var body map[string]any
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if body["id"] != iniViborg || body["version"] != float64(2) {
				t.Errorf("answer %s, want the initiative as recorded after the update", rec.Body)
			}
		})
	}
}

// The initiative shows its change requests (what each asks for, moves, reserves and gives back, its status in
// Danish, Landsbyggefonden's answer), every approved version, and an open change's round.
func TestGetInitiativeShowsChanges(t *testing.T) {
	h := newHarness(t)
	plan := h.st.plans[planViborg]
	plan.Board = &domain.Board{Version: 1, Members: []string{"bs-hanne", "bs-lars", "bs-sofie"}, Chair: "bs-hanne"}
	h.st.plans[planViborg] = plan
	in := underWay(h)
	mette := domain.Actor{UserID: "og-mette", Name: "Mette Kjær", Role: domain.RoleOperationalGroup}
	karen := domain.Actor{UserID: "adm-karen", Name: "Karen Iversen", Role: domain.RoleAdmin}
	decided, applied := t0.Add(24*time.Hour), t0.Add(72*time.Hour)
	m2 := []domain.MilestonePlan{
		{Title: "Opstart", DueDate: domain.NewDate(2024, 6, 30), Tranche: lbfLines(40_000)},
		{Title: "Andet halvår", DueDate: domain.NewDate(2025, 1, 31), Tranche: lbfLines(80_000)},
	}
	in.Changes = []domain.Change{
		{No: 1, Reason: "Flere deltagere", RequestedBy: mette, RequestedAt: t0, Budget: lbfLines(120_000), Milestones: m2,
			MovedØre: domain.Kroner(20_000), Reserve: lbfLines(20_000), Strategic: true, Status: domain.ChangeApplied,
			DecidedAt: &decided, AppliedAt: &applied, LBF: &domain.LBFApproval{Approved: true,
				LetterDate: domain.NewDate(2024, 3, 3), Reference: "LBF-17", RecordedBy: karen, RecordedAt: applied}},
		{No: 2, Reason: "Kortere forløb", RequestedBy: mette, RequestedAt: applied, Budget: lbfLines(100_000),
			Milestones: in.Proposal.Milestones, MovedØre: domain.Kroner(20_000), Unreserve: lbfLines(20_000),
			ChairAlone: true, Status: domain.ChangeVoting},
	}
	in.Versions = append(in.Versions, domain.ApprovedVersion{Version: 2, ChangeNo: 1, Budget: lbfLines(120_000),
		Milestones: m2, DecidedBy: []string{"Hanne Mortensen", "Landsbyggefonden (LBF-17)"}, At: applied})
	h.st.initiatives[iniViborg] = in

	rec := h.do(http.MethodGet, "/api/v1/initiatives/"+iniViborg, tokHanne, "")
	wantStatus(t, rec, http.StatusOK)
	var got struct {
		Changes    json.RawMessage `json:"changes"`
		Versions   json.RawMessage `json:"versions"`
		OpenRounds []struct {
			Matter      string `json:"matter"`
			MatterKey   string `json:"matter_key"`
			ChangeNo    int    `json:"change_no"`
			ChairAlone  bool   `json:"chair_alone"`
			Explanation string `json:"explanation"`
		} `json:"open_rounds"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	assertJSON(t, got.Changes, `[
	  {"no": 1, "reason": "Flere deltagere", "requested_at": "2024-03-01T09:30:00Z",
	   "requested_by": {"user_id": "og-mette", "name": "Mette Kjær", "role": "operational_group", "role_name": "operationel gruppe"},
	   "budget": [{"source_id": "lbf", "amount_ore": 12000000, "amount": "120.000,00 kr."}],
	   "budget_total_ore": 12000000, "budget_total": "120.000,00 kr.",
	   "milestones": [{"title": "Opstart", "due_date": "2024-06-30", "tranche": [{"source_id": "lbf", "amount_ore": 4000000, "amount": "40.000,00 kr."}]},
	     {"title": "Andet halvår", "due_date": "2025-01-31", "tranche": [{"source_id": "lbf", "amount_ore": 8000000, "amount": "80.000,00 kr."}]}],
	   "moved_ore": 2000000, "moved": "20.000,00 kr.",
	   "reserve": [{"source_id": "lbf", "amount_ore": 2000000, "amount": "20.000,00 kr."}], "unreserve": [],
	   "chair_alone": false, "strategic": true, "status": "applied", "status_name": "gennemført",
	   "decided_at": "2024-03-02T09:30:00Z", "applied_at": "2024-03-04T09:30:00Z",
	   "lbf": {"approved": true, "letter_date": "2024-03-03", "reference": "LBF-17", "recorded_at": "2024-03-04T09:30:00Z",
	     "recorded_by": {"user_id": "adm-karen", "name": "Karen Iversen", "role": "admin", "role_name": "sekretariat"}}},
	  {"no": 2, "reason": "Kortere forløb", "requested_at": "2024-03-04T09:30:00Z",
	   "requested_by": {"user_id": "og-mette", "name": "Mette Kjær", "role": "operational_group", "role_name": "operationel gruppe"},
	   "budget": [{"source_id": "lbf", "amount_ore": 10000000, "amount": "100.000,00 kr."}],
	   "budget_total_ore": 10000000, "budget_total": "100.000,00 kr.",
	   "milestones": [{"title": "Opstart", "due_date": "2024-06-30", "tranche": [{"source_id": "lbf", "amount_ore": 4000000, "amount": "40.000,00 kr."}]},
	     {"title": "Andet halvår", "due_date": "2024-12-31", "tranche": [{"source_id": "lbf", "amount_ore": 6000000, "amount": "60.000,00 kr."}]}],
	   "moved_ore": 2000000, "moved": "20.000,00 kr.", "reserve": [],
	   "unreserve": [{"source_id": "lbf", "amount_ore": 2000000, "amount": "20.000,00 kr."}],
	   "chair_alone": true, "strategic": false, "status": "voting", "status_name": "til behandling i bestyrelsen"}]`)
	assertJSON(t, got.Versions, `[
	  {"version": 1, "budget": [{"source_id": "lbf", "amount_ore": 10000000, "amount": "100.000,00 kr."}],
	   "budget_total_ore": 10000000, "budget_total": "100.000,00 kr.",
	   "milestones": [{"title": "Opstart", "due_date": "2024-06-30", "tranche": [{"source_id": "lbf", "amount_ore": 4000000, "amount": "40.000,00 kr."}]},
	     {"title": "Andet halvår", "due_date": "2024-12-31", "tranche": [{"source_id": "lbf", "amount_ore": 6000000, "amount": "60.000,00 kr."}]}],
	   "decided_by": ["Hanne Mortensen", "Lars Bach"], "at": "2024-03-01T09:30:00Z"},
	  {"version": 2, "change_no": 1, "budget": [{"source_id": "lbf", "amount_ore": 12000000, "amount": "120.000,00 kr."}],
	   "budget_total_ore": 12000000, "budget_total": "120.000,00 kr.",
	   "milestones": [{"title": "Opstart", "due_date": "2024-06-30", "tranche": [{"source_id": "lbf", "amount_ore": 4000000, "amount": "40.000,00 kr."}]},
	     {"title": "Andet halvår", "due_date": "2025-01-31", "tranche": [{"source_id": "lbf", "amount_ore": 8000000, "amount": "80.000,00 kr."}]}],
	   "decided_by": ["Hanne Mortensen", "Landsbyggefonden (LBF-17)"], "at": "2024-03-04T09:30:00Z"}]`)
	var change *struct {
		Matter      string `json:"matter"`
		MatterKey   string `json:"matter_key"`
		ChangeNo    int    `json:"change_no"`
		ChairAlone  bool   `json:"chair_alone"`
		Explanation string `json:"explanation"`
	}
	for i := range got.OpenRounds {
		if got.OpenRounds[i].Matter == "change" {
			change = &got.OpenRounds[i]
		}
	}
	if change == nil || change.MatterKey != "change/2" || change.ChangeNo != 2 || !change.ChairAlone {
		t.Errorf("open rounds %+v, want change 2, decided by the chair alone", got.OpenRounds)
	}
}

// The spec's change schemas list exactly the fields the API writes and reads.
func TestOpenAPIChangeSchemasMatchTypes(t *testing.T) {
	schemas := loadSpec(t).Components["schemas"]
	props := func(name string) (all, required []string) {
		m, _ := schemas[name].(map[string]any)
		p, _ := m["properties"].(map[string]any)
		for k := range p {
			all = append(all, k)
		}
		if r, ok := m["required"].([]any); ok {
			for _, x := range r {
				required = append(required, x.(string))
			}
		}
		sort.Strings(all)
		sort.Strings(required)
		return all, required
	}
	for _, tt := range []struct {
		schema   string
		typ      reflect.Type
		response bool // every field of a response is in the spec; required are those without omitempty
	}{
		{"ChangeRequest", reflect.TypeFor[changeBody](), false},
		{"LBFRequest", reflect.TypeFor[lbfBody](), false},
		{"Change", reflect.TypeFor[changeOut](), true},
		{"ApprovedVersion", reflect.TypeFor[versionOut](), true},
	} {
		all, required := props(tt.schema)
		if all == nil {
			t.Errorf("%s: not in the spec", tt.schema)
			continue
		}
		var fields, want []string
		for i := range tt.typ.NumField() {
			f := tt.typ.Field(i)
			name, opts, _ := cutTag(f.Tag.Get("json"))
			fields = append(fields, name)
			if (!tt.response && f.Tag.Get("required") == "true") || (tt.response && opts != "omitempty") {
				want = append(want, name)
			}
		}
		sort.Strings(fields)
		sort.Strings(want)
		if diff := cmp.Diff(all, fields); diff != "" {
			t.Errorf("%s: properties in spec (-) and fields of %s (+):\n%s", tt.schema, tt.typ, diff)
		}
		if diff := cmp.Diff(required, want); diff != "" {
			t.Errorf("%s: required in spec (-) and in %s (+):\n%s", tt.schema, tt.typ, diff)
		}
	}
}

func cutTag(tag string) (name, opts string, ok bool) { return strings.Cut(tag, ",") }
