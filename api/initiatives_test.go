package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/workflows"
)

// createBody is a valid proposal for the Viborg plan; edit changes it before it is encoded.
func createBody(t *testing.T, edit func(m map[string]any)) string {
	t.Helper()
	m := map[string]any{
		"title":            "Lektiecafé i Ringparken",
		"description":      "Lektiehjælp to gange om ugen.",
		"delaftale_id":     "uddannelse-og-livschancer",
		"housing_area_ids": []any{"ringparken"},
		"target_group":     "Børn i 4.-9. klasse",
		"goals":            []any{map[string]any{"description": "Flere børn får lektiehjælp", "success_criterion": "40 børn deltager"}},
		"budget":           []any{map[string]any{"source_id": "lbf", "amount_ore": 10_000_000}},
		"milestones": []any{map[string]any{"title": "Opstart", "due_date": "2024-06-30",
			"tranche": []any{map[string]any{"source_id": "lbf", "amount_ore": 10_000_000}}}},
	}
	if edit != nil {
		edit(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCreateInitiative(t *testing.T) {
	const path = "/api/v1/initiatives"
	tranche := func(ore int) func(m map[string]any) {
		return func(m map[string]any) {
			m["milestones"] = []any{map[string]any{"title": "Opstart", "due_date": "2024-06-30",
				"tranche": []any{map[string]any{"source_id": "lbf", "amount_ore": ore}}}}
		}
	}
	tests := []struct {
		name   string
		token  string
		body   string
		setup  func(h *harness)
		status int
		want   string // expected body; "" to skip
	}{
		{
			name: "create_with_tranches_not_summing_422", token: tokMette, body: createBody(t, tranche(9_000_000)),
			status: http.StatusUnprocessableEntity,
			want: problemJSON(t, "validation_failed", service.MsgProposalInvalid, path, domain.FieldProblem{
				Field: "milestones", Code: "tranches_do_not_sum_to_budget",
				Message: "Budgettet fra Landsbyggefonden er 100.000,00 kr., men raterne summer til 90.000,00 kr.; de skal være ens.",
			}),
		},
		{
			name: "create_with_unreadable_due_date_422_names_only_the_date", token: tokMette,
			body: createBody(t, func(m map[string]any) {
				m["milestones"] = []any{map[string]any{"title": "Opstart", "due_date": "30-06-2024",
					"tranche": []any{map[string]any{"source_id": "lbf", "amount_ore": 10_000_000}}}}
			}),
			status: http.StatusUnprocessableEntity,
			want: problemJSON(t, "validation_failed", service.MsgProposalInvalid, path, domain.FieldProblem{
				Field: "milestones[0].due_date", Code: "invalid_date", Message: `"30-06-2024" er ikke en dato; brug ÅÅÅÅ-MM-DD.`,
			}),
		},
		{
			name: "create_beyond_uncommitted_funds_422", token: tokMette, body: createBody(t, nil),
			setup:  func(h *harness) { h.st.available[planViborg]["lbf"] = domain.Kroner(50_000) },
			status: http.StatusUnprocessableEntity,
			want: problemJSON(t, "validation_failed", service.MsgProposalInvalid, path, domain.FieldProblem{
				Field: "budget[0].amount_ore", Code: "exceeds_uncommitted",
				Message: "Der søges 100.000,00 kr. fra Landsbyggefonden, men kun 50.000,00 kr. er endnu ikke reserveret.",
			}),
		},
		{
			name: "create_with_missing_fields_422_lists_each_field", token: tokMette, body: `{"title":"x"}`,
			status: http.StatusUnprocessableEntity,
			want: problemJSON(t, "validation_failed", service.MsgProposalInvalid, path,
				domain.FieldProblem{Field: "description", Code: "required", Message: "Feltet skal udfyldes."},
				domain.FieldProblem{Field: "target_group", Code: "required", Message: "Feltet skal udfyldes."},
				domain.FieldProblem{Field: "delaftale_id", Code: "required", Message: "Vælg en delaftale."},
				domain.FieldProblem{Field: "housing_area_ids", Code: "required", Message: "Vælg mindst ét boligområde."},
				domain.FieldProblem{Field: "goals", Code: "required", Message: "Angiv mindst ét mål med succeskriterium."},
				domain.FieldProblem{Field: "budget", Code: "required", Message: "Angiv budgettet fordelt på finansieringskilder."},
				domain.FieldProblem{Field: "milestones", Code: "required", Message: "Angiv mindst én milepæl med en udbetalingsrate."},
			),
		},
		{
			name: "create_by_board_403", token: tokHanne, body: createBody(t, nil), status: http.StatusForbidden,
			want: problemJSON(t, "forbidden", "Kun operationel gruppe kan foreslå en indsats; du er bestyrelse i denne plan.", path),
		},
		{
			name: "create_in_plan_without_role_422", token: tokMette,
			body:   createBody(t, func(m map[string]any) { m["plan_id"] = planAarhus }),
			status: http.StatusUnprocessableEntity,
			want: problemJSON(t, "validation_failed", "Forslaget kan ikke indsendes.", path, domain.FieldProblem{
				Field: "plan_id", Code: "unknown", Message: `Planen "aarhus-2022-2026" findes ikke, eller du har ikke adgang til den.`,
			}),
		},
		{
			name: "create_without_plan_id_by_user_of_two_plans_422", token: tokMulti, body: createBody(t, nil),
			status: http.StatusUnprocessableEntity,
			want: problemJSON(t, "validation_failed", "Forslaget kan ikke indsendes.", path, domain.FieldProblem{
				Field: "plan_id", Code: "required", Message: "Du er tilknyttet flere planer; angiv plan_id.",
			}),
		},
		{
			name: "create_with_unknown_field_400", token: tokMette,
			body:   createBody(t, func(m map[string]any) { m["status"] = "approved" }),
			status: http.StatusBadRequest,
			want: problemJSON(t, "bad_request", `Feltet "status" findes ikke i denne forespørgsel.`, path, domain.FieldProblem{
				Field: "status", Code: "unknown_field", Message: `Feltet "status" findes ikke i denne forespørgsel.`,
			}),
		},
		{
			name: "create_with_amount_as_text_400", token: tokMette,
			body:   createBody(t, func(m map[string]any) { m["budget"] = []any{map[string]any{"source_id": "lbf", "amount_ore": "100"}} }),
			status: http.StatusBadRequest,
			want: problemJSON(t, "bad_request", `Feltet "budget.amount_ore" skal være et heltal.`, path, domain.FieldProblem{
				Field: "budget.amount_ore", Code: "wrong_type", Message: `Feltet "budget.amount_ore" skal være et heltal.`,
			}),
		},
		{
			name: "create_with_malformed_json_400", token: tokMette, body: `{"title": `, status: http.StatusBadRequest,
			want: problemJSON(t, "bad_request", "Forespørgslen er ikke gyldig JSON: den slutter for tidligt.", path),
		},
		{
			name: "create_with_two_json_objects_400", token: tokMette, body: createBody(t, nil) + `{}`, status: http.StatusBadRequest,
			want: problemJSON(t, "bad_request", "Forespørgslen må kun indeholde ét JSON-objekt.", path),
		},
		{
			name: "create_larger_than_limit_413", token: tokMette,
			body:   createBody(t, func(m map[string]any) { m["description"] = strings.Repeat("x", 1<<20) }),
			status: http.StatusRequestEntityTooLarge,
			want:   problemJSON(t, "request_too_large", "Forespørgslen må højst fylde 1048576 byte.", path),
		},
		{
			name: "create_started_twice_409", token: tokMette, body: createBody(t, nil),
			setup: func(h *harness) {
				h.wf.startFn = func(workflows.StartInput) (workflows.UpdateResult, error) {
					return workflows.UpdateResult{}, fmt.Errorf("%w: already started", store.ErrConflict)
				}
			},
			status: http.StatusConflict,
			want:   problemJSON(t, "conflict", "Oplysningerne er ændret imens. Hent dem igen, og prøv igen.", path),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			if tt.setup != nil {
				tt.setup(h)
			}
			rec := h.do(http.MethodPost, path, tt.token, tt.body)
			wantStatus(t, rec, tt.status)
			if tt.want != "" {
				problemOf(t, rec)
				assertJSON(t, rec.Body.Bytes(), tt.want)
			}
			if tt.status >= 400 && tt.name != "create_started_twice_409" && len(h.wf.starts) != 0 {
				t.Errorf("refused create still started %d workflows", len(h.wf.starts))
			}
		})
	}
}

func TestCreateInitiativeStartsWorkflow(t *testing.T) {
	h := newHarness(t)
	var started workflows.StartInput
	h.wf.startFn = func(in workflows.StartInput) (workflows.UpdateResult, error) {
		started = in
		out := testInitiative(in.InitiativeID, in.Plan.ID)
		out.Proposal = in.Proposal
		return h.st.put(out), nil
	}
	rec := h.do(http.MethodPost, "/api/v1/initiatives", tokMette, createBody(t, nil))
	wantStatus(t, rec, http.StatusCreated)

	id, err := uuid.Parse(started.InitiativeID)
	if err != nil || id.Version() != 7 {
		t.Errorf("initiative id %q is not a UUIDv7 (err %v)", started.InitiativeID, err)
	}
	if got, want := rec.Header().Get("Location"), "/api/v1/initiatives/"+started.InitiativeID; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	if started.Plan.ID != planViborg || started.Plan.TotalCommitted() != domain.Kroner(25_689_000) {
		t.Errorf("workflow got plan %q with total %s, want the stored Viborg plan", started.Plan.ID, started.Plan.TotalCommitted())
	}
	wantActor := domain.Actor{UserID: "og-mette", Name: "Mette Kjær", Role: domain.RoleOperationalGroup}
	if diff := cmp.Diff(wantActor, started.Proposer); diff != "" {
		t.Errorf("proposer (-want +got):\n%s", diff)
	}
	if got := started.Proposal.Goals[0].ID; got != "g1" {
		t.Errorf("goal id = %q, want the domain's default g1", got)
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body["id"] != started.InitiativeID || body["phase_name"] != "til behandling i bestyrelsen" {
		t.Errorf("body id/phase_name = %v/%v", body["id"], body["phase_name"])
	}
}

func TestCreateRetriedAfterLostAnswerReturnsTheFirstInitiative(t *testing.T) {
	h := newHarness(t)
	var ids []string
	h.wf.startFn = func(in workflows.StartInput) (workflows.UpdateResult, error) {
		ids = append(ids, in.InitiativeID)
		if len(ids) == 1 { // started and recorded, but the answer was lost
			h.st.put(testInitiative(in.InitiativeID, planViborg))
			return workflows.UpdateResult{}, fmt.Errorf("%w: sync timed out", ErrStillRunning)
		}
		return workflows.UpdateResult{}, fmt.Errorf("%w: already started", store.ErrConflict)
	}
	h.wf.updateFn = func(_ context.Context, c updateCall) (workflows.UpdateResult, error) {
		return workflows.UpdateResult{InitiativeID: c.InitiativeID, Phase: domain.PhaseBoardReview, Version: 1}, nil
	}
	body := createBody(t, nil)
	first := h.do(http.MethodPost, "/api/v1/initiatives", tokMette, body, "Idempotency-Key", "create-1")
	wantStatus(t, first, http.StatusServiceUnavailable)
	second := h.do(http.MethodPost, "/api/v1/initiatives", tokMette, body, "Idempotency-Key", "create-1")
	wantStatus(t, second, http.StatusCreated)

	if len(ids) != 2 || ids[0] != ids[1] {
		t.Fatalf("start ids = %v, want the same key-derived id twice", ids)
	}
	if len(h.wf.updates) != 1 || h.wf.updates[0].Name != workflows.UpdateSync || h.wf.updates[0].InitiativeID != ids[0] {
		t.Errorf("updates = %+v, want one sync of %s", h.wf.updates, ids[0])
	}
}

func TestInitiativeActions(t *testing.T) {
	base := "/api/v1/initiatives/" + iniViborg
	tests := []struct {
		name     string
		token    string
		path     string
		body     string
		status   int
		update   string
		wantArg  any
		wantCode string
	}{
		{name: "decision_by_board_200", token: tokHanne, path: base + "/decision",
			body: `{"outcome":"request_changes","comment":"Uddyb målgruppen."}`, status: http.StatusOK,
			update: workflows.UpdateDecide, wantArg: workflows.DecideInput{
				Actor:   domain.Actor{UserID: "bs-hanne", Name: "Hanne Mortensen", Role: domain.RoleBoard},
				Outcome: domain.OutcomeRequestChanges, Comment: "Uddyb målgruppen."}},
		{name: "decision_by_operational_group_403", token: tokMette, path: base + "/decision",
			body: `{"outcome":"approve"}`, status: http.StatusForbidden, wantCode: "forbidden"},
		{name: "decision_by_finance_403", token: tokPeter, path: base + "/decision",
			body: `{"outcome":"approve"}`, status: http.StatusForbidden, wantCode: "forbidden"},
		{name: "decision_on_other_plans_initiative_404", token: tokHanne, path: "/api/v1/initiatives/" + iniAarhus + "/decision",
			body: `{"outcome":"approve"}`, status: http.StatusNotFound, wantCode: "not_found"},
		{name: "decision_on_unknown_initiative_404", token: tokHanne, path: "/api/v1/initiatives/nope/decision",
			body: `{"outcome":"approve"}`, status: http.StatusNotFound, wantCode: "not_found"},
		{name: "withdraw_by_operational_group_200", token: tokMette, path: base + "/withdraw",
			body: `{"reason":"Dækket af kommunen."}`, status: http.StatusOK, update: workflows.UpdateWithdraw,
			wantArg: workflows.WithdrawInput{Actor: domain.Actor{UserID: "og-mette", Name: "Mette Kjær", Role: domain.RoleOperationalGroup},
				Reason: "Dækket af kommunen."}},
		{name: "withdraw_by_board_403", token: tokHanne, path: base + "/withdraw", status: http.StatusForbidden, wantCode: "forbidden"},
		{name: "report_milestone_200", token: tokMette, path: base + "/milestones/1/report",
			body: `{"summary":"Caféen er åben.","spent_ore":2500000}`, status: http.StatusOK, update: workflows.UpdateReportMilestone,
			wantArg: workflows.ReportMilestoneInput{Actor: domain.Actor{UserID: "og-mette", Name: "Mette Kjær", Role: domain.RoleOperationalGroup},
				No: 1, Summary: "Caféen er åben.", SpentØre: domain.Kroner(25_000)}},
		{name: "report_milestone_zero_400", token: tokMette, path: base + "/milestones/0/report",
			body: `{"summary":"x","spent_ore":0}`, status: http.StatusBadRequest, wantCode: "bad_request"},
		{name: "report_milestone_by_board_403", token: tokHanne, path: base + "/milestones/1/report",
			body: `{"summary":"x","spent_ore":0}`, status: http.StatusForbidden, wantCode: "forbidden"},
		{name: "accept_milestone_without_body_200", token: tokHanne, path: base + "/milestones/2/accept", status: http.StatusOK,
			update: workflows.UpdateDecide, wantArg: workflows.DecideInput{
				Actor:  domain.Actor{UserID: "bs-hanne", Name: "Hanne Mortensen", Role: domain.RoleBoard},
				Matter: domain.MatterMilestone, No: 2, Outcome: domain.OutcomeApprove}},
		{name: "accept_milestone_by_operational_group_403", token: tokMette, path: base + "/milestones/1/accept",
			status: http.StatusForbidden, wantCode: "forbidden"},
		{name: "submit_evaluation_200", token: tokMette, path: base + "/evaluation",
			body:   `{"summary":"Godt forløb.","results":[{"goal_id":"g1","achieved":true,"result":"45 børn deltog."}]}`,
			status: http.StatusOK, update: workflows.UpdateSubmitEvaluation, wantArg: workflows.SubmitEvaluationInput{
				Actor:   domain.Actor{UserID: "og-mette", Name: "Mette Kjær", Role: domain.RoleOperationalGroup},
				Summary: "Godt forløb.", Results: []domain.GoalResult{{GoalID: "g1", Achieved: true, Result: "45 børn deltog."}}}},
		{name: "accept_evaluation_200", token: tokHanne, path: base + "/evaluation/accept", body: `{"comment":"Tak."}`,
			status: http.StatusOK, update: workflows.UpdateDecide, wantArg: workflows.DecideInput{
				Actor:  domain.Actor{UserID: "bs-hanne", Name: "Hanne Mortensen", Role: domain.RoleBoard},
				Matter: domain.MatterEvaluation, Outcome: domain.OutcomeApprove, Comment: "Tak."}},
		{name: "accept_evaluation_by_admin_403", token: tokKaren, path: base + "/evaluation/accept", status: http.StatusForbidden, wantCode: "forbidden"},
		{name: "decision_without_token_401", path: base + "/decision", body: `{"outcome":"approve"}`,
			status: http.StatusUnauthorized, wantCode: "unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.wf.updateFn = h.answer(domain.PhaseChangesRequested)
			rec := h.do(http.MethodPost, tt.path, tt.token, tt.body)
			wantStatus(t, rec, tt.status)
			if tt.wantCode != "" {
				if p := problemOf(t, rec); p.Code != tt.wantCode {
					t.Errorf("code = %q, want %q", p.Code, tt.wantCode)
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
			if diff := cmp.Diff(tt.wantArg, u.Arg); diff != "" {
				t.Errorf("update argument (-want +got):\n%s", diff)
			}
			if _, err := uuid.Parse(u.UpdateID); err != nil {
				t.Errorf("update id %q without Idempotency-Key is not a fresh UUID", u.UpdateID)
			}
			var body map[string]any
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if body["phase"] != "changes_requested" || body["phase_name"] != "ændringer ønsket" {
				t.Errorf("answer phase = %v (%v), want the workflow's result", body["phase"], body["phase_name"])
			}
		})
	}
}

func TestResubmitValidatesAgainstPlanAndFunds(t *testing.T) {
	h := newHarness(t)
	h.wf.updateFn = h.answer(domain.PhaseBoardReview)
	path := "/api/v1/initiatives/" + iniViborg + "/resubmit"

	h.st.available[planViborg]["lbf"] = domain.Kroner(1_000)
	rec := h.do(http.MethodPost, path, tokMette, createBody(t, func(m map[string]any) { m["comment"] = "Mindre budget." }))
	wantStatus(t, rec, http.StatusUnprocessableEntity)
	if p := problemOf(t, rec); len(p.Errors) != 1 || p.Errors[0].Code != "exceeds_uncommitted" {
		t.Errorf("errors = %+v, want exceeds_uncommitted", p.Errors)
	}

	h.st.available[planViborg]["lbf"] = domain.Kroner(1_000_000)
	rec = h.do(http.MethodPost, path, tokMette, createBody(t, func(m map[string]any) { m["comment"] = "Mindre budget." }))
	wantStatus(t, rec, http.StatusOK)
	arg, ok := h.wf.updates[0].Arg.(workflows.ResubmitInput)
	if !ok || h.wf.updates[0].Name != workflows.UpdateResubmit {
		t.Fatalf("update = %+v, want resubmit", h.wf.updates[0])
	}
	if arg.Comment != "Mindre budget." || arg.Proposal.Goals[0].ID != "g1" || arg.Proposal.Milestones[0].DueDate != domain.NewDate(2024, 6, 30) {
		t.Errorf("resubmit input = %+v", arg)
	}
}

func TestGetInitiative(t *testing.T) {
	h := newHarness(t)
	in := h.st.initiatives[iniViborg]
	in.Phase = domain.PhaseFunding
	paid := t0.Add(48 * 3600e9)
	in.Milestones[0].TrancheStatus = domain.TranchePaid
	in.Milestones[0].DisbursementID = disViborg
	in.Milestones[0].ReleasedAt = &t0
	in.Milestones[0].PaidAt = &paid
	in.Milestones[0].PaymentReference = "BANK-1"
	in.Decisions = []domain.Decision{{Revision: 1, Outcome: domain.OutcomeApprove, Comment: "", At: t0,
		Ballots: []domain.Ballot{{Revision: 1, Actor: domain.Actor{UserID: "bs-hanne", Name: "Hanne Mortensen", Role: domain.RoleBoard},
			Outcome: domain.OutcomeApprove, At: t0}}}}
	h.st.initiatives[iniViborg] = in

	rec := h.do(http.MethodGet, "/api/v1/initiatives/"+iniViborg, tokPeter, "")
	wantStatus(t, rec, http.StatusOK)
	assertJSON(t, rec.Body.Bytes(), `{
	  "id": "ini-viborg", "plan_id": "viborg-2021-2025", "phase": "funding", "phase_name": "afventer udbetaling",
	  "version": 1, "revision": 1,
	  "proposer": {"user_id": "og-mette", "name": "Mette Kjær", "role": "operational_group", "role_name": "operationel gruppe"},
	  "proposal": {
	    "title": "Lektiecafé i Ringparken", "description": "Lektiehjælp to gange om ugen.",
	    "delaftale_id": "uddannelse-og-livschancer", "housing_area_ids": ["ringparken"], "target_group": "Børn i 4.-9. klasse",
	    "goals": [{"id": "g1", "description": "Flere børn får lektiehjælp", "success_criterion": "40 børn deltager"}],
	    "budget": [{"source_id": "lbf", "amount_ore": 10000000, "amount": "100.000,00 kr."}],
	    "budget_total_ore": 10000000, "budget_total": "100.000,00 kr.",
	    "milestones": [{"title": "Opstart", "due_date": "2024-06-30",
	      "tranche": [{"source_id": "lbf", "amount_ore": 10000000, "amount": "100.000,00 kr."}]}]
	  },
	  "ballots": [],
	  "decisions": [{"matter": "proposal", "matter_key": "", "revision": 1, "outcome": "approve", "comment": "",
	    "at": "2024-03-01T09:30:00Z",
	    "ballots": [{"matter": "", "revision": 1, "outcome": "approve", "comment": "", "at": "2024-03-01T09:30:00Z",
	      "actor": {"user_id": "bs-hanne", "name": "Hanne Mortensen", "role": "board", "role_name": "bestyrelse"}}]}],
	  "milestones": [{"no": 1, "title": "Opstart", "due_date": "2024-06-30",
	    "tranche": [{"source_id": "lbf", "amount_ore": 10000000, "amount": "100.000,00 kr."}],
	    "tranche_total_ore": 10000000, "tranche_total": "100.000,00 kr.", "tranche_status": "paid",
	    "disbursement_id": "ini-viborg-t1", "released_at": "2024-03-01T09:30:00Z", "paid_at": "2024-03-03T09:30:00Z",
	    "payment_reference": "BANK-1", "returned": []}],
	  "open_rounds": [], "conflicts": [], "evaluations_returned": [], "alerts": [],
	  "open_steps": [{"key": "report/1/1", "kind": "report", "title": "Rapport om milepæl 1 (Opstart)",
	    "since": "2024-03-03", "deadline": "2024-07-01", "overdue": true, "waiting_for": "proposer",
	    "escalate_to": "board", "milestone_no": 1}],
	  "changes": [], "versions": [],
	  "paid_total_ore": 10000000, "paid_total": "100.000,00 kr.", "spent_total_ore": 0, "spent_total": "0,00 kr.",
	  "created_at": "2024-03-01T09:30:00Z", "updated_at": "2024-03-01T09:30:00Z"
	}`)
}

func TestCrossPlanInitiativeLooksLikeUnknown(t *testing.T) {
	h := newHarness(t)
	other := h.do(http.MethodGet, "/api/v1/initiatives/"+iniAarhus, tokMette, "")
	wantStatus(t, other, http.StatusNotFound)
	unknown := h.do(http.MethodGet, "/api/v1/initiatives/does-not-exist", tokMette, "")
	wantStatus(t, unknown, http.StatusNotFound)
	po, pu := problemOf(t, other), problemOf(t, unknown)
	if po.Title != pu.Title || po.Code != pu.Code ||
		strings.ReplaceAll(po.Detail, iniAarhus, "X") != strings.ReplaceAll(pu.Detail, "does-not-exist", "X") {
		t.Errorf("another plan's initiative answers differently from an unknown one:\n%+v\n%+v", po, pu)
	}
}

func TestListInitiatives(t *testing.T) {
	tests := []struct {
		name       string
		token      string
		query      string
		status     int
		wantFilter store.InitiativeFilter
		wantCode   string
		wantField  string
	}{
		{name: "defaults_to_callers_only_plan_200", token: tokMette, query: "", status: http.StatusOK,
			wantFilter: store.InitiativeFilter{PlanID: planViborg, Limit: 50}},
		{name: "all_filters_passed_through_200", token: tokMulti,
			query:  "?plan_id=aarhus-2022-2026&phase=executing&delaftale=beskaeftigelse&housing_area=vestervang&cursor=abc&limit=10",
			status: http.StatusOK,
			wantFilter: store.InitiativeFilter{PlanID: planAarhus, Phase: domain.PhaseExecuting, DelaftaleID: "beskaeftigelse",
				HousingAreaID: "vestervang", After: "abc", Limit: 10}},
		{name: "source_and_search_passed_through_200", token: tokMette, query: "?source=lbf&q=lektie&phase=executing",
			status: http.StatusOK,
			wantFilter: store.InitiativeFilter{PlanID: planViborg, Phase: domain.PhaseExecuting, SourceID: "lbf",
				Search: "lektie", Limit: 50}},
		// The store decides what of the text is a word; the handler passes it on untouched.
		{name: "search_danish_and_punctuation_passed_through_200", token: tokMette,
			query:  "?q=" + url.QueryEscape("Lektiecafé i Houlkærvænget'); DROP TABLE initiatives; --"),
			status: http.StatusOK,
			wantFilter: store.InitiativeFilter{PlanID: planViborg, Search: "Lektiecafé i Houlkærvænget'); DROP TABLE initiatives; --",
				Limit: 50}},
		// An unknown source is not refused, as an unknown delaftale is not: the list is simply empty.
		{name: "unknown_source_passed_through_200", token: tokMette, query: "?source=nope", status: http.StatusOK,
			wantFilter: store.InitiativeFilter{PlanID: planViborg, SourceID: "nope", Limit: 50}},
		{name: "search_200_characters_200", token: tokMette, query: "?q=" + url.QueryEscape(strings.Repeat("æ", 200)),
			status: http.StatusOK, wantFilter: store.InitiativeFilter{PlanID: planViborg, Search: strings.Repeat("æ", 200), Limit: 50}},
		{name: "search_201_characters_400", token: tokMette, query: "?q=" + url.QueryEscape(strings.Repeat("æ", 201)),
			status: http.StatusBadRequest, wantCode: "bad_request", wantField: "q"},
		{name: "bad_cursor_400", token: tokMette, query: "?cursor=garbage", status: http.StatusBadRequest, wantCode: "bad_request"},
		{name: "unknown_phase_400", token: tokMette, query: "?phase=approved", status: http.StatusBadRequest, wantCode: "bad_request", wantField: "phase"},
		{name: "limit_zero_400", token: tokMette, query: "?limit=0", status: http.StatusBadRequest, wantCode: "bad_request", wantField: "limit"},
		{name: "limit_over_200_400", token: tokMette, query: "?limit=201", status: http.StatusBadRequest, wantCode: "bad_request", wantField: "limit"},
		{name: "limit_not_a_number_400", token: tokMette, query: "?limit=ten", status: http.StatusBadRequest, wantCode: "bad_request", wantField: "limit"},
		{name: "two_plans_without_plan_id_400", token: tokMulti, query: "", status: http.StatusBadRequest, wantCode: "bad_request", wantField: "plan_id"},
		{name: "plan_without_role_404", token: tokMette, query: "?plan_id=aarhus-2022-2026", status: http.StatusNotFound, wantCode: "not_found"},
		{name: "user_without_plans_404", token: tokNone, query: "", status: http.StatusNotFound, wantCode: "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.st.summaries = []store.InitiativeSummary{{ID: iniViborg, PlanID: planViborg, Title: "Lektiecafé", Phase: domain.PhaseExecuting,
				DelaftaleID: "uddannelse-og-livschancer", HousingAreaIDs: []string{"ringparken"}, ProposerID: "og-mette",
				BudgetØre: domain.Kroner(100_000), Version: 4, CreatedAt: t0, UpdatedAt: t0}}
			h.st.nextCursor = "next-page"
			rec := h.do(http.MethodGet, "/api/v1/initiatives"+tt.query, tt.token, "")
			wantStatus(t, rec, tt.status)
			if tt.wantCode != "" {
				p := problemOf(t, rec)
				if p.Code != tt.wantCode || (tt.wantField != "" && (len(p.Errors) != 1 || p.Errors[0].Field != tt.wantField)) {
					t.Errorf("problem = %+v, want code %s on field %q", p, tt.wantCode, tt.wantField)
				}
				return
			}
			if diff := cmp.Diff(tt.wantFilter, h.st.initFilter); diff != "" {
				t.Errorf("filter (-want +got):\n%s", diff)
			}
			assertJSON(t, rec.Body.Bytes(), `{"items": [{"id": "ini-viborg", "plan_id": "viborg-2021-2025", "title": "Lektiecafé",
			  "phase": "executing", "phase_name": "i gang", "delaftale_id": "uddannelse-og-livschancer",
			  "housing_area_ids": ["ringparken"], "proposer_id": "og-mette", "budget_ore": 10000000, "budget": "100.000,00 kr.",
			  "version": 4, "created_at": "2024-03-01T09:30:00Z", "updated_at": "2024-03-01T09:30:00Z"}],
			  "next_cursor": "next-page"}`)
		})
	}
}

// A search longer than 200 characters is refused in Danish, on field q, before the store is asked.
func TestListInitiativesSearchTooLong(t *testing.T) {
	h := newHarness(t)
	rec := h.do(http.MethodGet, "/api/v1/initiatives?source=lbf&q="+url.QueryEscape(strings.Repeat("ø", 201)), tokMette, "")
	wantStatus(t, rec, http.StatusBadRequest)
	p := problemOf(t, rec)
	want := "Søgeteksten er for lang: højst 200 tegn."
	if p.Detail != want || len(p.Errors) != 1 || p.Errors[0].Field != "q" || p.Errors[0].Code != "too_long" ||
		p.Errors[0].Message != want {
		t.Errorf("problem = %+v, want %q on field q, code too_long", p, want)
	}
	if diff := cmp.Diff(store.InitiativeFilter{}, h.st.initFilter); diff != "" {
		t.Errorf("the store was asked (-want +got):\n%s", diff)
	}
}

func TestListEventsPages(t *testing.T) {
	h := newHarness(t)
	for seq := int64(1); seq <= 3; seq++ {
		h.st.events = append(h.st.events, store.Event{InitiativeID: iniViborg, Seq: seq, Type: "proposed",
			ActorID: "og-mette", ActorName: "Mette Kjær", ActorRole: domain.RoleOperationalGroup, At: t0,
			PhaseBefore: "", PhaseAfter: domain.PhaseBoardReview, Payload: json.RawMessage(`{"revision":1}`), RecordedAt: t0})
	}
	rec := h.do(http.MethodGet, "/api/v1/initiatives/"+iniViborg+"/events?after=1&limit=1", tokHanne, "")
	wantStatus(t, rec, http.StatusOK)
	assertJSON(t, rec.Body.Bytes(), `{"items": [{"initiative_id": "ini-viborg", "seq": 2, "type": "proposed",
	  "actor": {"user_id": "og-mette", "name": "Mette Kjær", "role": "operational_group", "role_name": "operationel gruppe"},
	  "at": "2024-03-01T09:30:00Z", "phase_before": "", "phase_after": "board_review", "payload": {"revision": 1},
	  "recorded_at": "2024-03-01T09:30:00Z"}], "next_after": 2}`)

	rec = h.do(http.MethodGet, "/api/v1/initiatives/"+iniViborg+"/events?after=2", tokHanne, "")
	wantStatus(t, rec, http.StatusOK)
	var last eventsOut
	_ = json.Unmarshal(rec.Body.Bytes(), &last)
	if len(last.Items) != 1 || last.NextAfter != nil {
		t.Errorf("last page = %d items, next_after %v; want 1 item and null", len(last.Items), last.NextAfter)
	}
	if h.st.eventsArgs != [2]int64{2, 100} {
		t.Errorf("store got after/limit %v, want [2 100]", h.st.eventsArgs)
	}

	rec = h.do(http.MethodGet, "/api/v1/initiatives/"+iniViborg+"/events?after=-1", tokHanne, "")
	wantStatus(t, rec, http.StatusBadRequest)
	rec = h.do(http.MethodGet, "/api/v1/initiatives/"+iniAarhus+"/events", tokHanne, "")
	wantStatus(t, rec, http.StatusNotFound)
}

// TestWorkflowRefusalsMapToStatuses covers every domain.Code the workflow can answer with, and the sentinels.
func TestWorkflowRefusalsMapToStatuses(t *testing.T) {
	path := "/api/v1/initiatives/" + iniViborg + "/decision"
	tests := []struct {
		name   string
		err    error
		status int
		want   string
	}{
		{"validation_failed_422", &domain.RuleError{Code: domain.CodeValidation, Message: "Beslutningen kan ikke registreres.",
			Problems: []domain.FieldProblem{{Field: "comment", Code: "required", Message: "Begrund afvisning eller ønskede ændringer."}}},
			http.StatusUnprocessableEntity, problemJSON(t, "validation_failed", "Beslutningen kan ikke registreres.", path,
				domain.FieldProblem{Field: "comment", Code: "required", Message: "Begrund afvisning eller ønskede ændringer."})},
		{"wrong_phase_409", domain.Refuse(domain.CodeWrongPhase, "Indsatsen er afvist."), http.StatusConflict,
			problemJSON(t, "wrong_phase", "Indsatsen er afvist.", path)},
		{"forbidden_403", domain.Refuse(domain.CodeForbidden, "Kun forslagsstilleren."), http.StatusForbidden,
			problemJSON(t, "forbidden", "Kun forslagsstilleren.", path)},
		{"unknown_milestone_422", domain.Refuse(domain.CodeUnknownMilestone, "Ingen milepæl 9."), http.StatusUnprocessableEntity,
			problemJSON(t, "unknown_milestone", "Ingen milepæl 9.", path)},
		{"insufficient_funds_409", domain.Refuse(domain.CodeInsufficientFunds, "LBF har ikke nok."), http.StatusConflict,
			problemJSON(t, "insufficient_funds", "LBF har ikke nok.", path)},
		{"frame_exceeded_409", domain.Refuse(domain.CodeFrameExceeded, "Delaftalen Beskæftigelse har en ramme på 2.000.000,00 kr.; "+
			"1.200.000,00 kr. er reserveret, og forslaget beder om 1.200.000,00 kr., i alt 2.400.000,00 kr."), http.StatusConflict,
			problemJSON(t, "frame_exceeded", "Delaftalen Beskæftigelse har en ramme på 2.000.000,00 kr.; 1.200.000,00 kr. er "+
				"reserveret, og forslaget beder om 1.200.000,00 kr., i alt 2.400.000,00 kr.", path)},
		{"cofinancing_below_minimum_409", domain.Refuse(domain.CodeCofinancing, "Andelen ville falde fra 50,0 %% til 24,9 %%."),
			http.StatusConflict, problemJSON(t, "cofinancing_below_minimum", "Andelen ville falde fra 50,0 % til 24,9 %.", path)},
		{"already_paid_409", domain.Refuse(domain.CodeAlreadyPaid, "Allerede betalt."), http.StatusConflict,
			problemJSON(t, "already_paid", "Allerede betalt.", path)},
		{"not_found_404", domain.Refuse(domain.CodeNotFound, "Ingen sådan udbetaling."), http.StatusNotFound,
			problemJSON(t, "not_found", "Ingen sådan udbetaling.", path)},
		{"conflict_409", domain.Refuse(domain.CodeConflict, "Du har allerede stemt."), http.StatusConflict,
			problemJSON(t, "conflict", "Du har allerede stemt.", path)},
		{"store_not_found_404", fmt.Errorf("workflow: %w", store.ErrNotFound), http.StatusNotFound,
			problemJSON(t, "not_found", "Det efterspurgte findes ikke.", path)},
		{"store_conflict_409", fmt.Errorf("x: %w", store.ErrConflict), http.StatusConflict,
			problemJSON(t, "conflict", "Oplysningerne er ændret imens. Hent dem igen, og prøv igen.", path)},
		{"temporal_unavailable_503", fmt.Errorf("%w: frontend down", ErrUnavailable), http.StatusServiceUnavailable,
			problemJSON(t, "dependency_unavailable", detailDependency, path)},
		{"update_still_running_503", fmt.Errorf("%w: %w: deadline", ErrStillRunning, ErrUnavailable), http.StatusServiceUnavailable,
			problemJSON(t, "service_unavailable", detailRunning, path)},
		{"database_unavailable_503", fmt.Errorf("x: %w: connection reset", store.ErrUnavailable), http.StatusServiceUnavailable,
			problemJSON(t, "dependency_unavailable", detailDatabase, path)},
		{"connection_reset_without_sentinel_503", fmt.Errorf("read: %w", syscall.ECONNRESET), http.StatusServiceUnavailable,
			problemJSON(t, "dependency_unavailable", detailDependency, path)},
		{"divergence_500", fmt.Errorf("write: %w", store.ErrDivergence), http.StatusInternalServerError,
			problemJSON(t, "internal_error", detailGeneric, path)},
		{"unknown_rule_code_500", &domain.RuleError{Code: "brand_new_code", Message: "intern besked"}, http.StatusInternalServerError,
			problemJSON(t, "internal_error", "Der opstod en uventet fejl. Prøv igen senere, og oplys fejl-id'et, hvis det sker igen.", path)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.wf.updateFn = func(context.Context, updateCall) (workflows.UpdateResult, error) {
				return workflows.UpdateResult{}, tt.err
			}
			rec := h.do(http.MethodPost, path, tokHanne, `{"outcome":"reject"}`)
			wantStatus(t, rec, tt.status)
			problemOf(t, rec)
			assertJSON(t, rec.Body.Bytes(), tt.want)
			if ra := rec.Header().Get("Retry-After"); (ra != "") != (tt.status == http.StatusServiceUnavailable) {
				t.Errorf("Retry-After = %q with status %d; want it exactly on 503", ra, tt.status)
			}
		})
	}
}

func TestServerErrorDoesNotLeak(t *testing.T) {
	h := newHarness(t)
	secret := "pq: password authentication failed for user \"helhedsplan\" at db-7.internal:5432"
	h.wf.updateFn = func(context.Context, updateCall) (workflows.UpdateResult, error) {
		return workflows.UpdateResult{}, errors.New(secret)
	}
	path := "/api/v1/initiatives/" + iniViborg + "/decision"
	rec := h.do(http.MethodPost, path, tokHanne, `{"outcome":"approve"}`)
	wantStatus(t, rec, http.StatusInternalServerError)
	assertJSON(t, rec.Body.Bytes(), problemJSON(t, "internal_error",
		"Der opstod en uventet fejl. Prøv igen senere, og oplys fejl-id'et, hvis det sker igen.", path))
	for _, s := range []string{"pq:", "db-7", "password"} {
		if strings.Contains(rec.Body.String(), s) {
			t.Errorf("500 body leaks %q: %s", s, rec.Body)
		}
	}
	logs := h.logs.String()
	if !strings.Contains(logs, "db-7.internal") || !strings.Contains(logs, `"request_id":"`+testRequestID+`"`) ||
		!strings.Contains(logs, `"initiative_id":"`+iniViborg+`"`) || !strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("the full error, request_id and initiative_id should be logged at error level; log:\n%s", logs)
	}
}

func TestPanicIsA500AndReleasesTheIdempotencyKey(t *testing.T) {
	h := newHarness(t)
	h.wf.updateFn = func(context.Context, updateCall) (workflows.UpdateResult, error) { panic("nil map in handler") }
	path := "/api/v1/initiatives/" + iniViborg + "/decision"
	rec := h.do(http.MethodPost, path, tokHanne, `{"outcome":"approve"}`, "Idempotency-Key", "k-panic")
	wantStatus(t, rec, http.StatusInternalServerError)
	if p := problemOf(t, rec); p.Code != "internal_error" || strings.Contains(rec.Body.String(), "nil map") {
		t.Errorf("panic answer = %s", rec.Body)
	}
	if len(h.st.idem) != 0 || h.st.abandoned != 1 {
		t.Errorf("idempotency record after panic: %d kept, %d abandoned; want released", len(h.st.idem), h.st.abandoned)
	}
	if !strings.Contains(h.logs.String(), "panic in handler") {
		t.Errorf("panic not logged")
	}
}

// TestResubmitRoles: the operational group and the admin reach the workflow, whose rule decides who exactly (the
// proposer or an admin); withdraw stays with the operational group.
func TestResubmitRoles(t *testing.T) {
	path := "/api/v1/initiatives/" + iniViborg
	tests := []struct {
		name, token, action string
		status              int
		wantRole            domain.Role
	}{
		{name: "resubmit_by_operational_group_200", token: tokMette, action: "/resubmit", status: http.StatusOK, wantRole: domain.RoleOperationalGroup},
		{name: "resubmit_by_admin_200", token: tokKaren, action: "/resubmit", status: http.StatusOK, wantRole: domain.RoleAdmin},
		{name: "resubmit_by_board_403", token: tokHanne, action: "/resubmit", status: http.StatusForbidden},
		{name: "resubmit_by_finance_403", token: tokPeter, action: "/resubmit", status: http.StatusForbidden},
		{name: "withdraw_by_admin_403", token: tokKaren, action: "/withdraw", status: http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.wf.updateFn = h.answer(domain.PhaseBoardReview)
			body := createBody(t, func(m map[string]any) { m["comment"] = "Mindre budget." })
			if tt.action == "/withdraw" {
				body = `{"reason":"x"}`
			}
			rec := h.do(http.MethodPost, path+tt.action, tt.token, body)
			wantStatus(t, rec, tt.status)
			if tt.status != http.StatusOK {
				if len(h.wf.updates) != 0 {
					t.Errorf("refused request reached the workflow")
				}
				return
			}
			arg, ok := h.wf.updates[0].Arg.(workflows.ResubmitInput)
			if !ok || arg.Actor.Role != tt.wantRole {
				t.Errorf("resubmit input = %+v, want actor role %s", h.wf.updates[0].Arg, tt.wantRole)
			}
		})
	}
}

// The board's actions go through the real router to the workflow as the exact update and input: votes on every
// matter through /decision, sending reports back, conflicts, cancellation and a meeting's votes; bad input is a
// problem+json before anything is sent.
func TestBoardActions(t *testing.T) {
	base := "/api/v1/initiatives/" + iniViborg
	hanneActor := domain.Actor{UserID: "bs-hanne", Name: "Hanne Mortensen", Role: domain.RoleBoard}
	karenActor := domain.Actor{UserID: "adm-karen", Name: "Karen Iversen", Role: domain.RoleAdmin}
	tests := []struct {
		name      string
		token     string
		path      string
		body      string
		status    int
		update    string
		wantArg   any
		wantCode  string
		wantField string
	}{
		{name: "vote_on_milestone_through_decision_200", token: tokHanne, path: base + "/decision",
			body: `{"outcome":"approve","matter":"milestone","milestone_no":2}`, status: http.StatusOK,
			update: workflows.UpdateDecide, wantArg: workflows.DecideInput{Actor: hanneActor, Outcome: domain.OutcomeApprove,
				Matter: domain.MatterMilestone, No: 2}},
		{name: "vote_on_evaluation_through_decision_200", token: tokHanne, path: base + "/decision",
			body:   `{"outcome":"request_changes","comment":"Mål 2 mangler tal.","matter":"evaluation"}`,
			status: http.StatusOK, update: workflows.UpdateDecide, wantArg: workflows.DecideInput{Actor: hanneActor,
				Outcome: domain.OutcomeRequestChanges, Comment: "Mål 2 mangler tal.", Matter: domain.MatterEvaluation}},
		{name: "vote_on_cancellation_through_decision_200", token: tokHanne, path: base + "/decision",
			body: `{"outcome":"approve","matter":"cancellation"}`, status: http.StatusOK, update: workflows.UpdateDecide,
			wantArg: workflows.DecideInput{Actor: hanneActor, Outcome: domain.OutcomeApprove, Matter: domain.MatterCancellation}},
		{name: "vote_on_proposal_named_200", token: tokHanne, path: base + "/decision",
			body: `{"outcome":"approve","matter":"proposal"}`, status: http.StatusOK, update: workflows.UpdateDecide,
			wantArg: workflows.DecideInput{Actor: hanneActor, Outcome: domain.OutcomeApprove, Matter: domain.MatterProposal}},
		{name: "vote_on_unknown_matter_422", token: tokHanne, path: base + "/decision",
			body: `{"outcome":"approve","matter":"budget"}`, status: http.StatusUnprocessableEntity,
			wantCode: "validation_failed", wantField: "matter"},
		{name: "vote_on_milestone_without_number_422", token: tokHanne, path: base + "/decision",
			body: `{"outcome":"approve","matter":"milestone"}`, status: http.StatusUnprocessableEntity,
			wantCode: "validation_failed", wantField: "milestone_no"},
		{name: "vote_with_number_as_text_400", token: tokHanne, path: base + "/decision",
			body: `{"outcome":"approve","matter":"milestone","milestone_no":"2"}`, status: http.StatusBadRequest,
			wantCode: "bad_request", wantField: "milestone_no"},
		{name: "vote_on_cancellation_by_admin_403", token: tokKaren, path: base + "/decision",
			body: `{"outcome":"approve","matter":"cancellation"}`, status: http.StatusForbidden, wantCode: "forbidden"},
		{name: "return_milestone_200", token: tokHanne, path: base + "/milestones/1/return",
			body: `{"comment":"Forbruget er ikke opgjort."}`, status: http.StatusOK, update: workflows.UpdateDecide,
			wantArg: workflows.DecideInput{Actor: hanneActor, Outcome: domain.OutcomeRequestChanges,
				Comment: "Forbruget er ikke opgjort.", Matter: domain.MatterMilestone, No: 1}},
		{name: "return_milestone_without_comment_422", token: tokHanne, path: base + "/milestones/1/return",
			body: `{"comment":"  "}`, status: http.StatusUnprocessableEntity, wantCode: "validation_failed", wantField: "comment"},
		{name: "return_milestone_without_body_422", token: tokHanne, path: base + "/milestones/1/return",
			status: http.StatusUnprocessableEntity, wantCode: "validation_failed", wantField: "comment"},
		{name: "return_milestone_zero_400", token: tokHanne, path: base + "/milestones/0/return",
			body: `{"comment":"x"}`, status: http.StatusBadRequest, wantCode: "bad_request", wantField: "n"},
		{name: "return_milestone_by_operational_group_403", token: tokMette, path: base + "/milestones/1/return",
			body: `{"comment":"x"}`, status: http.StatusForbidden, wantCode: "forbidden"},
		{name: "return_evaluation_200", token: tokHanne, path: base + "/evaluation/return",
			body: `{"comment":"Uddyb resultatet for mål 1."}`, status: http.StatusOK, update: workflows.UpdateDecide,
			wantArg: workflows.DecideInput{Actor: hanneActor, Outcome: domain.OutcomeRequestChanges,
				Comment: "Uddyb resultatet for mål 1.", Matter: domain.MatterEvaluation}},
		{name: "return_evaluation_with_unknown_field_400", token: tokHanne, path: base + "/evaluation/return",
			body: `{"comment":"x","outcome":"reject"}`, status: http.StatusBadRequest, wantCode: "bad_request", wantField: "outcome"},
		{name: "conflict_200", token: tokHanne, path: base + "/conflict", body: `{"reason":"Min søn går i lektiecaféen."}`,
			status: http.StatusOK, update: workflows.UpdateDeclareConflict,
			wantArg: workflows.DeclareConflictInput{Actor: hanneActor, Reason: "Min søn går i lektiecaféen."}},
		{name: "conflict_without_reason_422", token: tokHanne, path: base + "/conflict", body: `{}`,
			status: http.StatusUnprocessableEntity, wantCode: "validation_failed", wantField: "reason"},
		{name: "conflict_by_admin_403", token: tokKaren, path: base + "/conflict", body: `{"reason":"x"}`,
			status: http.StatusForbidden, wantCode: "forbidden"},
		{name: "conflict_on_other_plans_initiative_404", token: tokHanne, path: "/api/v1/initiatives/" + iniAarhus + "/conflict",
			body: `{"reason":"x"}`, status: http.StatusNotFound, wantCode: "not_found"},
		{name: "cancel_by_admin_200", token: tokKaren, path: base + "/cancel", body: `{"reason":"Ingen deltagere i et år."}`,
			status: http.StatusOK, update: workflows.UpdateProposeCancel,
			wantArg: workflows.ProposeCancelInput{Actor: karenActor, Reason: "Ingen deltagere i et år."}},
		{name: "cancel_by_board_200", token: tokHanne, path: base + "/cancel", body: `{"reason":"Målgruppen er flyttet."}`,
			status: http.StatusOK, update: workflows.UpdateProposeCancel,
			wantArg: workflows.ProposeCancelInput{Actor: hanneActor, Reason: "Målgruppen er flyttet."}},
		{name: "cancel_without_reason_422", token: tokKaren, path: base + "/cancel", body: `{"reason":""}`,
			status: http.StatusUnprocessableEntity, wantCode: "validation_failed", wantField: "reason"},
		{name: "cancel_by_finance_403", token: tokPeter, path: base + "/cancel", body: `{"reason":"x"}`,
			status: http.StatusForbidden, wantCode: "forbidden"},
		{name: "meeting_decision_by_admin_200", token: tokKaren, path: base + "/meeting-decision",
			body: `{"meeting_id":"` + meetingViborg + `","matter":"milestone","milestone_no":1,
			  "present":["bs-hanne","bs-lars"],"votes":[{"member_id":"bs-hanne","outcome":"approve"},
			  {"member_id":"bs-lars","outcome":"request_changes"}],"comment":"Referat punkt 4"}`,
			status: http.StatusOK, update: workflows.UpdateMeetingDecision, wantArg: workflows.MeetingDecisionInput{
				Actor: karenActor, MeetingID: meetingViborg, Matter: domain.MatterMilestone, No: 1,
				Present: []string{"bs-hanne", "bs-lars"}, Votes: []workflows.MeetingVote{
					{MemberID: "bs-hanne", Outcome: domain.OutcomeApprove}, {MemberID: "bs-lars", Outcome: domain.OutcomeRequestChanges}},
				Comment: "Referat punkt 4"}},
		{name: "meeting_decision_at_an_unknown_meeting_422", token: tokKaren, path: base + "/meeting-decision",
			body:   `{"meeting_id":"bestyrelsesmøde 2024-03-05","present":["bs-hanne"],"votes":[]}`,
			status: http.StatusUnprocessableEntity, wantCode: "validation_failed", wantField: "meeting_id"},
		{name: "meeting_decision_at_a_cancelled_meeting_422", token: tokKaren, path: base + "/meeting-decision",
			body:   `{"meeting_id":"` + meetingCancelled + `","present":["bs-hanne"],"votes":[]}`,
			status: http.StatusUnprocessableEntity, wantCode: "validation_failed", wantField: "meeting_id"},
		{name: "meeting_decision_on_a_change_200", token: tokKaren, path: base + "/meeting-decision",
			body:   `{"meeting_id":"` + meetingViborg + `","matter":"change","present":["bs-hanne"],"votes":[{"member_id":"bs-hanne","outcome":"reject"}],"comment":"Nej"}`,
			status: http.StatusOK, update: workflows.UpdateMeetingDecision, wantArg: workflows.MeetingDecisionInput{
				Actor: karenActor, MeetingID: meetingViborg, Matter: domain.MatterChange, Present: []string{"bs-hanne"},
				Votes: []workflows.MeetingVote{{MemberID: "bs-hanne", Outcome: domain.OutcomeReject}}, Comment: "Nej"}},
		{name: "vote_on_change_through_decision_200", token: tokHanne, path: base + "/decision",
			body: `{"outcome":"reject","comment":"Vent til næste år","matter":"change"}`, status: http.StatusOK,
			update: workflows.UpdateDecide, wantArg: workflows.DecideInput{Actor: hanneActor, Outcome: domain.OutcomeReject,
				Comment: "Vent til næste år", Matter: domain.MatterChange}},
		{name: "vote_on_change_with_a_number_422", token: tokHanne, path: base + "/decision",
			body: `{"outcome":"approve","matter":"change","milestone_no":1}`, status: http.StatusUnprocessableEntity,
			wantCode: "validation_failed", wantField: "milestone_no"},
		{name: "meeting_decision_without_meeting_id_422", token: tokKaren, path: base + "/meeting-decision",
			body: `{"present":[],"votes":[]}`, status: http.StatusUnprocessableEntity, wantCode: "validation_failed",
			wantField: "meeting_id"},
		{name: "meeting_decision_vote_as_number_400", token: tokKaren, path: base + "/meeting-decision",
			body:   `{"meeting_id":"m","present":["bs-hanne"],"votes":[{"member_id":"bs-hanne","outcome":1}]}`,
			status: http.StatusBadRequest, wantCode: "bad_request", wantField: "votes.outcome"},
		{name: "meeting_decision_on_unknown_matter_422", token: tokKaren, path: base + "/meeting-decision",
			body:   `{"meeting_id":"m","matter":"budget","present":["bs-hanne"],"votes":[]}`,
			status: http.StatusUnprocessableEntity, wantCode: "validation_failed", wantField: "matter"},
		{name: "meeting_decision_by_operational_group_403", token: tokMette, path: base + "/meeting-decision",
			body: `{"meeting_id":"m","present":[],"votes":[]}`, status: http.StatusForbidden, wantCode: "forbidden"},
		{name: "meeting_decision_without_token_401", path: base + "/meeting-decision",
			body: `{"meeting_id":"m","present":[],"votes":[]}`, status: http.StatusUnauthorized, wantCode: "unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.wf.updateFn = h.answer(domain.PhaseExecuting)
			rec := h.do(http.MethodPost, tt.path, tt.token, tt.body)
			wantStatus(t, rec, tt.status)
			if tt.wantCode != "" {
				p := problemOf(t, rec)
				if p.Code != tt.wantCode {
					t.Errorf("code = %q, want %q", p.Code, tt.wantCode)
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
			if diff := cmp.Diff(tt.wantArg, u.Arg); diff != "" {
				t.Errorf("update argument (-want +got):\n%s", diff)
			}
			var body map[string]any
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if body["phase"] != "executing" {
				t.Errorf("answer phase = %v, want the workflow's result", body["phase"])
			}
		})
	}
}

// The workflow's refusal of a vote (here: a member who is not entitled) is the API's problem+json with its code
// and Danish message.
func TestBoardVoteRefusedByTheWorkflow(t *testing.T) {
	h := newHarness(t)
	msg := "Formanden træffer beslutning om milepælsrapporter alene efter bestyrelsens regler."
	h.wf.updateFn = func(context.Context, updateCall) (workflows.UpdateResult, error) {
		return workflows.UpdateResult{}, domain.Refuse(domain.CodeForbidden, "%s", msg)
	}
	path := "/api/v1/initiatives/" + iniViborg + "/milestones/1/accept"
	rec := h.do(http.MethodPost, path, tokHanne, `{}`)
	wantStatus(t, rec, http.StatusForbidden)
	assertJSON(t, rec.Body.Bytes(), problemJSON(t, "forbidden", msg, path))
}

// With a board on record the initiative shows each open round with every member's standing (who may vote, who
// voted what, who is recused and why), the decisions with their tally, conflicts, the cancellation with the money
// returned per source, reports sent back, the reminders sent, and the open steps with deadlines and overdue.
func TestGetInitiativeShowsTheBoardsBusiness(t *testing.T) {
	h := newHarness(t)
	plan := h.st.plans[planViborg]
	plan.Board = &domain.Board{Version: 3, Members: []string{"bs-hanne", "bs-lars", "bs-sofie"}, Chair: "bs-hanne"}
	h.st.plans[planViborg] = plan
	sofie := domain.Actor{UserID: "bs-sofie", Name: "Sofie Lund", Role: domain.RoleBoard}
	hanne := domain.Actor{UserID: "bs-hanne", Name: "Hanne Mortensen", Role: domain.RoleBoard}

	in := h.st.initiatives[iniViborg]
	in.Revision = 2
	in.Conflicts = []domain.Conflict{{UserID: "bs-lars", Name: "Lars Bach", Reason: "Min bror søger", At: t0}}
	in.Ballots = []domain.Ballot{{Revision: 2, Actor: sofie, Outcome: domain.OutcomeRequestChanges, Comment: "Uddyb budgettet", At: t0}}
	in.Decisions = []domain.Decision{{Revision: 1, Outcome: domain.OutcomeRequestChanges, Comment: "Mere om forældrene", At: t0,
		Ballots: []domain.Ballot{{Revision: 1, Actor: hanne, Outcome: domain.OutcomeRequestChanges, At: t0},
			{Revision: 1, Actor: sofie, Outcome: domain.OutcomeRequestChanges, At: t0}},
		Tally: &domain.DecisionTally{Basis: domain.BasisMajority, Early: true,
			Counts:   map[domain.Outcome]int{domain.OutcomeRequestChanges: 2},
			Entitled: 2, Voted: 2, QuorumNeeded: 2, Recused: []string{"bs-lars"}, MeetingID: "møde-1",
			Present: []string{"bs-hanne", "bs-sofie"}, BoardVersion: 3,
			Explanation: "Sendt tilbage med ønske om ændringer med 2 af 2 afgivne stemmer."}}}
	in.Alerts = []domain.Alert{{Key: "proposal/r2/remind-5", Kind: domain.AlarmReminder, Step: "proposal/r2",
		Deadline: domain.NewDate(2024, 3, 22), At: t0}}
	h.st.initiatives[iniViborg] = in

	rec := h.do(http.MethodGet, "/api/v1/initiatives/"+iniViborg, tokHanne, "")
	wantStatus(t, rec, http.StatusOK)
	var got struct {
		OpenRounds []json.RawMessage `json:"open_rounds"`
		Decisions  []json.RawMessage `json:"decisions"`
		Conflicts  json.RawMessage   `json:"conflicts"`
		Alerts     json.RawMessage   `json:"alerts"`
		OpenSteps  json.RawMessage   `json:"open_steps"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || len(got.OpenRounds) != 1 || len(got.Decisions) != 1 {
		t.Fatalf("body %s (%v)", rec.Body, err)
	}
	assertJSON(t, got.OpenRounds[0], `{"matter": "proposal", "matter_key": "", "title": "Bestyrelsens beslutning om forslaget",
	  "voting": true, "chair_alone": false, "chair": "bs-hanne", "quorum_needed": 2, "entitled": 2,
	  "counts": {"approve": 0, "reject": 0, "request_changes": 1},
	  "explanation": "Afstemningen er åben: 1 af 2 stemmeberettigede har stemt (0 for godkendelse, 0 for afvisning, 1 for ændringer); der kræves mindst 2 stemmer for at være beslutningsdygtig.",
	  "since": "2024-03-01", "deadline": "2024-03-22", "overdue": true,
	  "members": [
	    {"user_id": "bs-hanne", "chair": true, "status": "may_vote"},
	    {"user_id": "bs-lars", "name": "Lars Bach", "chair": false, "status": "recused", "recused": "conflict",
	     "reason": "Har erklæret sig inhabil i sagen (Min bror søger) og kan ikke stemme."},
	    {"user_id": "bs-sofie", "name": "Sofie Lund", "chair": false, "status": "voted",
	     "vote": {"matter": "", "revision": 2, "outcome": "request_changes", "comment": "Uddyb budgettet", "at": "2024-03-01T09:30:00Z",
	       "actor": {"user_id": "bs-sofie", "name": "Sofie Lund", "role": "board", "role_name": "bestyrelse"}}}],
	  "ballots": [{"matter": "", "revision": 2, "outcome": "request_changes", "comment": "Uddyb budgettet", "at": "2024-03-01T09:30:00Z",
	    "actor": {"user_id": "bs-sofie", "name": "Sofie Lund", "role": "board", "role_name": "bestyrelse"}}]}`)
	var decision struct {
		Tally json.RawMessage `json:"tally"`
	}
	_ = json.Unmarshal(got.Decisions[0], &decision)
	assertJSON(t, decision.Tally, `{"basis": "majority", "chair_alone": false, "early": true,
	  "counts": {"approve": 0, "reject": 0, "request_changes": 2}, "entitled": 2, "voted": 2, "quorum_needed": 2,
	  "recused": ["bs-lars"], "meeting_id": "møde-1", "present": ["bs-hanne", "bs-sofie"], "board_version": 3,
	  "explanation": "Sendt tilbage med ønske om ændringer med 2 af 2 afgivne stemmer."}`)
	assertJSON(t, got.Conflicts, `[{"user_id": "bs-lars", "name": "Lars Bach", "reason": "Min bror søger", "at": "2024-03-01T09:30:00Z"}]`)
	assertJSON(t, got.Alerts, `[{"key": "proposal/r2/remind-5", "kind": "reminder", "step": "proposal/r2", "deadline": "2024-03-22",
	  "at": "2024-03-01T09:30:00Z"}]`)
	assertJSON(t, got.OpenSteps, `[{"key": "proposal/r2", "kind": "board_decision", "title": "Bestyrelsens beslutning om forslaget",
	  "since": "2024-03-01", "deadline": "2024-03-22", "overdue": true, "waiting_for": "board_non_voters", "escalate_to": "chair"}]`)

	// Submitted today, the same step is not overdue.
	in.RevisionAt = time.Now()
	h.st.initiatives[iniViborg] = in
	rec = h.do(http.MethodGet, "/api/v1/initiatives/"+iniViborg, tokHanne, "")
	var again struct {
		OpenSteps []struct {
			Overdue  bool   `json:"overdue"`
			Deadline string `json:"deadline"`
		} `json:"open_steps"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &again)
	if len(again.OpenSteps) != 1 || again.OpenSteps[0].Overdue || again.OpenSteps[0].Deadline <= domain.LocalDate(time.Now()).String() {
		t.Errorf("open steps %+v, want one in the future, not overdue", again.OpenSteps)
	}
}

func TestGetCancelledInitiative(t *testing.T) {
	h := newHarness(t)
	in := h.st.initiatives[iniViborg]
	in.Phase = domain.PhaseCancelled
	decided := t0.Add(24 * time.Hour)
	in.Cancellation = &domain.Cancellation{Round: 1, Reason: "Ingen deltagere", ProposedAt: t0, Decided: true,
		ProposedBy: domain.Actor{UserID: "adm-karen", Name: "Karen Iversen", Role: domain.RoleAdmin},
		Outcome:    domain.OutcomeApprove, DecidedAt: &decided, Withdrawn: []string{"ini-viborg-t2"},
		Returned: []domain.SourceAmount{{SourceID: "lbf", AmountØre: domain.Kroner(60_000)},
			{SourceID: "viborg-kommune", AmountØre: domain.Kroner(5_000)}}}
	in.Milestones[0].Returned = []domain.ReturnedReport{{Summary: "Første udkast", SpentØre: domain.Kroner(1_000),
		Comment: "Forbruget mangler", By: domain.Actor{UserID: "bs-hanne", Name: "Hanne Mortensen", Role: domain.RoleBoard}, At: t0}}
	h.st.initiatives[iniViborg] = in
	rec := h.do(http.MethodGet, "/api/v1/initiatives/"+iniViborg, tokMette, "")
	wantStatus(t, rec, http.StatusOK)
	var got struct {
		Phase        string          `json:"phase"`
		PhaseName    string          `json:"phase_name"`
		Cancellation json.RawMessage `json:"cancellation"`
		OpenSteps    json.RawMessage `json:"open_steps"`
		OpenRounds   json.RawMessage `json:"open_rounds"`
		Milestones   []struct {
			Returned json.RawMessage `json:"returned"`
		} `json:"milestones"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Phase != "cancelled" || got.PhaseName != "annulleret" {
		t.Errorf("phase %s (%s)", got.Phase, got.PhaseName)
	}
	assertJSON(t, got.Cancellation, `{"round": 1, "reason": "Ingen deltagere", "proposed_at": "2024-03-01T09:30:00Z",
	  "proposed_by": {"user_id": "adm-karen", "name": "Karen Iversen", "role": "admin", "role_name": "sekretariat"},
	  "decided": true, "outcome": "approve", "decided_at": "2024-03-02T09:30:00Z",
	  "returned": [{"source_id": "lbf", "amount_ore": 6000000, "amount": "60.000,00 kr."},
	    {"source_id": "viborg-kommune", "amount_ore": 500000, "amount": "5.000,00 kr."}],
	  "returned_total_ore": 6500000, "returned_total": "65.000,00 kr.", "withdrawn_disbursements": ["ini-viborg-t2"]}`)
	assertJSON(t, got.OpenSteps, `[]`)
	assertJSON(t, got.OpenRounds, `[]`)
	assertJSON(t, got.Milestones[0].Returned, `[{"summary": "Første udkast", "spent_ore": 100000, "spent": "1.000,00 kr.",
	  "comment": "Forbruget mangler", "at": "2024-03-01T09:30:00Z",
	  "by": {"user_id": "bs-hanne", "name": "Hanne Mortensen", "role": "board", "role_name": "bestyrelse"}}]`)
}

// TestOpenAPIBoardActionRequestsMatchTypes: the fields the spec marks required in the board's action requests are
// exactly those the decoder refuses to do without.
func TestOpenAPIBoardActionRequestsMatchTypes(t *testing.T) {
	schemas := loadSpec(t).Components["schemas"]
	schema := func(name string) map[string]any {
		m, _ := schemas[name].(map[string]any)
		return m
	}
	votes := func() map[string]any {
		props, _ := schema("MeetingDecisionRequest")["properties"].(map[string]any)
		v, _ := props["votes"].(map[string]any)
		items, _ := v["items"].(map[string]any)
		return items
	}
	tests := []struct {
		name   string
		schema map[string]any
		typ    reflect.Type
	}{
		{"DecisionRequest", schema("DecisionRequest"), reflect.TypeFor[decisionBody]()},
		{"ReturnRequest", schema("ReturnRequest"), reflect.TypeFor[commentBody]()},
		{"ReasonRequest", schema("ReasonRequest"), reflect.TypeFor[reasonBody]()},
		{"MeetingDecisionRequest", schema("MeetingDecisionRequest"), reflect.TypeFor[meetingDecisionBody]()},
		{"MeetingDecisionRequest.votes[]", votes(), reflect.TypeFor[meetingVoteBody]()},
	}
	for _, tt := range tests {
		if tt.schema == nil {
			t.Errorf("%s: not in the spec", tt.name)
			continue
		}
		var inSpec, inCode, props []string
		if req, ok := tt.schema["required"].([]any); ok {
			for _, r := range req {
				inSpec = append(inSpec, r.(string))
			}
		}
		if p, ok := tt.schema["properties"].(map[string]any); ok {
			for k := range p {
				props = append(props, k)
			}
		}
		var fields []string
		for _, f := range orderedFields(tt.typ) {
			fields = append(fields, f.name)
			if f.required {
				inCode = append(inCode, f.name)
			}
		}
		sort.Strings(inSpec)
		sort.Strings(inCode)
		sort.Strings(props)
		sort.Strings(fields)
		if diff := cmp.Diff(inSpec, inCode); diff != "" {
			t.Errorf("%s: required in spec (-) and in %s (+):\n%s", tt.name, tt.typ, diff)
		}
		if diff := cmp.Diff(props, fields); diff != "" {
			t.Errorf("%s: properties in spec (-) and fields of %s (+):\n%s", tt.name, tt.typ, diff)
		}
	}
}
