package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/helhedsplan/helhedsplan/domain"
)

// TestStrictInput: what encoding/json would let through (a second key wins, null is zero, bad UTF-8 becomes
// U+FFFD, NUL reaches PostgreSQL) is refused before anything reaches the workflow.
func TestStrictInput(t *testing.T) {
	base := "/api/v1/initiatives/" + iniViborg
	decision, report, evaluation := base+"/decision", base+"/milestones/1/report", base+"/evaluation"
	confirm := "/api/v1/finance/disbursements/" + disViborg + "/confirm"
	required := func(field string) domain.FieldProblem {
		return domain.FieldProblem{Field: field, Code: "required", Message: "Feltet skal udfyldes."}
	}
	invalidChars := func(field string) domain.FieldProblem {
		return domain.FieldProblem{Field: field, Code: "invalid_characters",
			Message: "Teksten indeholder tegn, der ikke er tilladt: nul-tegn, kontroltegn eller ugyldig UTF-8."}
	}
	duplicate := func(field string) domain.FieldProblem {
		return domain.FieldProblem{Field: field, Code: "duplicate_key",
			Message: `Feltet "` + field + `" står mere end én gang i forespørgslen.`}
	}
	tests := []struct {
		name, token, path, body string
		status                  int
		code                    string
		detail                  string                // "" skips
		problems                []domain.FieldProblem // compared when status is 400 or 422
	}{
		{name: "duplicate_key_400", token: tokHanne, path: decision,
			body:   `{"outcome":"reject","comment":"nej","outcome":"approve"}`,
			status: 400, code: "bad_request", problems: []domain.FieldProblem{duplicate("outcome")}},
		{name: "duplicate_key_in_other_letter_case_400", token: tokHanne, path: decision,
			body:   `{"outcome":"reject","comment":"nej","Outcome":"approve"}`,
			status: 400, code: "bad_request", problems: []domain.FieldProblem{duplicate("Outcome")}},
		{name: "duplicate_key_in_nested_object_400", token: tokMette, path: "/api/v1/initiatives",
			body:   strings.Replace(createBody(t, nil), `"title":"Opstart"`, `"title":"Opstart","title":"Slut"`, 1),
			status: 400, code: "bad_request", problems: []domain.FieldProblem{duplicate("milestones[0].title")}},
		{name: "invalid_utf8_400", token: tokHanne, path: decision, body: "{\"outcome\":\"reject\",\"comment\":\"n\xffj\"}",
			status: 400, code: "bad_request", detail: "Forespørgslen er ikke gyldig UTF-8."},
		{name: "lone_surrogate_escape_400", token: tokHanne, path: decision, body: `{"outcome":"reject","comment":"n\ud800j"}`,
			status: 400, code: "bad_request"},
		{name: "surrogate_pair_escape_200", token: tokHanne, path: decision, body: `{"outcome":"reject","comment":"nej \ud83d\ude00"}`,
			status: 200},
		{name: "nul_in_comment_422", token: tokHanne, path: decision, body: `{"outcome":"reject","comment":"nej\u0000"}`,
			status: 422, code: "validation_failed", detail: msgInputInvalid, problems: []domain.FieldProblem{invalidChars("comment")}},
		{name: "escape_character_in_reference_422", token: tokPeter, path: confirm, body: `{"reference":"NETS\u001b[2J"}`,
			status: 422, code: "validation_failed", problems: []domain.FieldProblem{invalidChars("reference")}},
		{name: "nul_in_nested_field_422", token: tokMette, path: evaluation,
			body:   `{"summary":"Godt","results":[{"goal_id":"g1","achieved":true,"result":"ok\u0000"}]}`,
			status: 422, code: "validation_failed", problems: []domain.FieldProblem{invalidChars("results[0].result")}},
		{name: "tab_and_newlines_are_text_200", token: tokHanne, path: decision,
			body: `{"outcome":"reject","comment":"Nej:\n\t- for dyrt\r\n"}`, status: 200},
		{name: "null_required_number_422", token: tokMette, path: report, body: `{"summary":"Caféen er åben","spent_ore":null}`,
			status: 422, code: "validation_failed", detail: msgInputInvalid, problems: []domain.FieldProblem{required("spent_ore")}},
		{name: "missing_required_number_422", token: tokMette, path: report, body: `{"summary":"Caféen er åben"}`,
			status: 422, code: "validation_failed", problems: []domain.FieldProblem{required("spent_ore")}},
		{name: "null_body_422", token: tokHanne, path: decision, body: `null`,
			status: 422, code: "validation_failed", problems: []domain.FieldProblem{required("outcome")}},
		{name: "missing_outcome_422", token: tokHanne, path: decision, body: `{"comment":"Uddyb."}`,
			status: 422, code: "validation_failed", problems: []domain.FieldProblem{required("outcome")}},
		{name: "missing_reference_422", token: tokPeter, path: confirm, body: `{}`,
			status: 422, code: "validation_failed", problems: []domain.FieldProblem{required("reference")}},
		{name: "missing_summary_422", token: tokMette, path: evaluation, body: `{"results":[]}`,
			status: 422, code: "validation_failed", problems: []domain.FieldProblem{required("summary")}},
		{name: "null_list_item_422", token: tokMette, path: evaluation, body: `{"summary":"s","results":[null]}`,
			status: 422, code: "validation_failed", problems: []domain.FieldProblem{required("results[0]")}},
		{name: "missing_nested_boolean_422", token: tokMette, path: evaluation,
			body:   `{"summary":"s","results":[{"goal_id":"g1","result":"r"}]}`,
			status: 422, code: "validation_failed", problems: []domain.FieldProblem{required("results[0].achieved")}},
		{name: "null_optional_field_is_absent_200", token: tokHanne, path: decision, body: `{"outcome":"approve","comment":null}`,
			status: 200},
		{name: "null_body_where_all_fields_are_optional_200", token: tokHanne, path: base + "/milestones/1/accept", body: `null`,
			status: 200},
		{name: "nesting_too_deep_400", token: tokHanne, path: decision,
			body:   `{"outcome":"approve","comment":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
			status: 400, code: "bad_request", detail: "Forespørgslen er indlejret for dybt."},
		{name: "unknown_field_still_400", token: tokHanne, path: decision, body: `{"outcome":"approve","vote":"yes"}`,
			status: 400, code: "bad_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.wf.updateFn = h.answer(domain.PhaseRejected)
			paidAfterUpdate(h)
			rec := h.do(http.MethodPost, tt.path, tt.token, tt.body, "Idempotency-Key", "k-"+tt.name)
			wantStatus(t, rec, tt.status)
			if tt.status == http.StatusOK {
				if len(h.wf.updates) != 1 {
					t.Errorf("updates = %d, want 1", len(h.wf.updates))
				}
				return
			}
			p := problemOf(t, rec)
			if p.Code != tt.code || (tt.detail != "" && p.Detail != tt.detail) {
				t.Errorf("problem %q %q, want %q %q", p.Code, p.Detail, tt.code, tt.detail)
			}
			if tt.problems != nil {
				var got []domain.FieldProblem
				for _, e := range p.Errors {
					got = append(got, domain.FieldProblem(e))
				}
				if diff := cmp.Diff(tt.problems, got); diff != "" {
					t.Errorf("field problems (-want +got):\n%s", diff)
				}
			}
			if len(h.wf.updates)+len(h.wf.starts) != 0 {
				t.Errorf("refused input reached the workflow: %+v", h.wf.updates)
			}
			if strings.ContainsRune(rec.Body.String(), 0) {
				t.Errorf("the answer carries the NUL back")
			}
		})
	}
}

// TestProposalInputProblemsJoinTheRules: fields missing or with forbidden characters are reported together with
// the rules' own problems, one per field.
func TestProposalInputProblemsJoinTheRules(t *testing.T) {
	h := newHarness(t)
	body := createBody(t, func(m map[string]any) {
		m["goals"] = []any{map[string]any{"description": "Bedre\u0000karakterer", "success_criterion": "+0,5"}}
		m["budget"] = []any{map[string]any{"source_id": "lbf"}} // amount_ore missing
		m["milestones"] = []any{map[string]any{"title": "Opstart", "due_date": "2099-01-01",
			"tranche": []any{map[string]any{"source_id": "lbf", "amount_ore": 10_000_000}}}}
	})
	rec := h.do(http.MethodPost, "/api/v1/initiatives", tokMette, body)
	wantStatus(t, rec, http.StatusUnprocessableEntity)
	p := problemOf(t, rec)
	seen := map[string]string{}
	for _, e := range p.Errors {
		if prev, dup := seen[e.Field]; dup {
			t.Errorf("field %s reported twice (%s, %s)", e.Field, prev, e.Code)
		}
		seen[e.Field] = e.Code
	}
	for field, code := range map[string]string{
		"goals[0].description":   "invalid_characters",
		"budget[0].amount_ore":   "required", // not the rule's not_positive: the rule only saw the zero standing in
		"milestones[0].due_date": "",         // outside the plan period: the rule's code, whatever it is
	} {
		got, ok := seen[field]
		if !ok || (code != "" && got != code) {
			t.Errorf("problems %v lack %s %s", seen, field, code)
		}
	}
	if len(h.wf.starts) != 0 {
		t.Errorf("refused proposal started a workflow")
	}
}
