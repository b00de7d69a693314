package api

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/helhedsplan/helhedsplan/doctor"
	"github.com/helhedsplan/helhedsplan/store"
)

// fakeDoctor records its calls and answers with a fixed report.
type fakeDoctor struct {
	calls []string // "plan repair=bool"
	rep   doctor.Report
	err   error
}

func (f *fakeDoctor) Check(_ context.Context, planID string, repair bool) (doctor.Report, error) {
	f.calls = append(f.calls, planID+map[bool]string{true: " repair", false: " check"}[repair])
	return f.rep, f.err
}

func TestDoctorEndpoint(t *testing.T) {
	report := doctor.Report{Checked: 3, Findings: []doctor.Finding{
		{InitiativeID: "i1", Kind: "read_model_ahead", Detail: "v5 i læsemodellen, v4 i workflowet", Repaired: true},
		{InitiativeID: "i2", Kind: "ledger_mismatch", Detail: "reserveret 100 kr., budget 200 kr."},
	}}
	path := "/api/v1/plans/" + planViborg + "/doctor"
	tests := []struct {
		name, method, token, body string
		doc                       *fakeDoctor
		status                    int
		wantCalls                 []string
	}{
		{name: "admin_checks_200", method: http.MethodGet, token: tokKaren, doc: &fakeDoctor{rep: report},
			status: http.StatusOK, wantCalls: []string{planViborg + " check"}},
		{name: "admin_repairs_200", method: http.MethodPost, token: tokKaren, body: `{"repair":true}`,
			doc: &fakeDoctor{rep: report}, status: http.StatusOK, wantCalls: []string{planViborg + " repair"}},
		{name: "board_403", method: http.MethodGet, token: tokHanne, doc: &fakeDoctor{rep: report},
			status: http.StatusForbidden},
		{name: "finance_repair_403", method: http.MethodPost, token: tokPeter, body: `{"repair":true}`,
			doc: &fakeDoctor{rep: report}, status: http.StatusForbidden},
		{name: "unknown_field_400", method: http.MethodPost, token: tokKaren, body: `{"repare":true}`,
			doc: &fakeDoctor{rep: report}, status: http.StatusBadRequest},
		{name: "database_down_503", method: http.MethodGet, token: tokKaren,
			doc: &fakeDoctor{err: store.ErrUnavailable}, status: http.StatusServiceUnavailable,
			wantCalls: []string{planViborg + " check"}},
		{name: "not_configured_503", method: http.MethodGet, token: tokKaren, status: http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{}
			if tt.doc != nil {
				cfg.Doctor = tt.doc
			}
			h := newHarnessWith(t, cfg)
			rec := h.do(tt.method, path, tt.token, tt.body)
			wantStatus(t, rec, tt.status)
			var calls []string
			if tt.doc != nil {
				calls = tt.doc.calls
			}
			if diff := cmp.Diff(tt.wantCalls, calls); diff != "" {
				t.Errorf("doctor calls (-want +got):\n%s", diff)
			}
			if tt.status != http.StatusOK {
				return
			}
			var got doctorOut
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got.Checked != 3 || got.Unrepaired != 1 || len(got.Findings) != 2 || got.Findings[1].Kind != "ledger_mismatch" {
				t.Errorf("report = %+v", got)
			}
		})
	}
}
