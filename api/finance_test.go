package api

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/workflows"
)

func TestListDisbursements(t *testing.T) {
	tests := []struct {
		name       string
		token      string
		query      string
		status     int
		wantFilter store.DisbursementFilter
		wantCode   string
	}{
		{name: "finance_lists_pending_200", token: tokPeter, query: "?status=pending&limit=5&cursor=c1", status: http.StatusOK,
			wantFilter: store.DisbursementFilter{PlanID: planViborg, Status: "pending", After: "c1", Limit: 5}},
		{name: "board_may_read_200", token: tokHanne, status: http.StatusOK,
			wantFilter: store.DisbursementFilter{PlanID: planViborg, Limit: 50}},
		{name: "admin_may_read_200", token: tokKaren, status: http.StatusOK,
			wantFilter: store.DisbursementFilter{PlanID: planViborg, Limit: 50}},
		{name: "operational_group_403", token: tokMette, status: http.StatusForbidden, wantCode: "forbidden"},
		{name: "unknown_status_400", token: tokPeter, query: "?status=late", status: http.StatusBadRequest, wantCode: "bad_request"},
		{name: "other_plan_404", token: tokPeter, query: "?plan_id=" + planAarhus, status: http.StatusNotFound, wantCode: "not_found"},
		{name: "cursor_too_long_400", token: tokPeter, query: "?cursor=" + strings.Repeat("c", 600), status: http.StatusBadRequest, wantCode: "bad_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			rec := h.do(http.MethodGet, "/api/v1/finance/disbursements"+tt.query, tt.token, "")
			wantStatus(t, rec, tt.status)
			if tt.wantCode != "" {
				if p := problemOf(t, rec); p.Code != tt.wantCode {
					t.Errorf("code = %q, want %q", p.Code, tt.wantCode)
				}
				return
			}
			if diff := cmp.Diff(tt.wantFilter, h.st.disbFilter); diff != "" {
				t.Errorf("filter (-want +got):\n%s", diff)
			}
			assertJSON(t, rec.Body.Bytes(), `{"items": [{"id": "ini-viborg-t1", "plan_id": "viborg-2021-2025", "initiative_id": "ini-viborg",
			  "initiative_title": "Lektiecafé i Ringparken", "milestone_no": 1, "milestone_title": "Opstart",
			  "lines": [{"source_id": "lbf", "amount_ore": 10000000, "amount": "100.000,00 kr."}],
			  "total_ore": 10000000, "total": "100.000,00 kr.", "status": "pending", "reference": null,
			  "released_at": "2024-03-01T09:30:00Z", "paid_at": null, "paid_by": null,
			  "withdrawn_at": null, "withdrawn_reason": null}], "next_cursor": null}`)
		})
	}
}

// A withdrawn disbursement shows when and why it was taken back from finance.
func TestListWithdrawnDisbursement(t *testing.T) {
	h := newHarness(t)
	d := h.st.disb[disViborg]
	at, reason := t0.Add(48*3600e9), "Indsatsen er annulleret af bestyrelsen."
	d.Status, d.WithdrawnAt, d.WithdrawnReason = store.DisbursementWithdrawn, &at, &reason
	h.st.disb[disViborg] = d
	rec := h.do(http.MethodGet, "/api/v1/finance/disbursements?status=withdrawn", tokPeter, "")
	wantStatus(t, rec, http.StatusOK)
	if h.st.disbFilter.Status != store.DisbursementWithdrawn {
		t.Errorf("filter %+v, want status withdrawn", h.st.disbFilter)
	}
	assertJSON(t, rec.Body.Bytes(), `{"items": [{"id": "ini-viborg-t1", "plan_id": "viborg-2021-2025", "initiative_id": "ini-viborg",
	  "initiative_title": "Lektiecafé i Ringparken", "milestone_no": 1, "milestone_title": "Opstart",
	  "lines": [{"source_id": "lbf", "amount_ore": 10000000, "amount": "100.000,00 kr."}],
	  "total_ore": 10000000, "total": "100.000,00 kr.", "status": "withdrawn", "reference": null,
	  "released_at": "2024-03-01T09:30:00Z", "paid_at": null, "paid_by": null,
	  "withdrawn_at": "2024-03-03T09:30:00Z", "withdrawn_reason": "Indsatsen er annulleret af bestyrelsen."}], "next_cursor": null}`)
}

// paidAfterUpdate makes the fake store show the disbursement as paid once the workflow has run.
func paidAfterUpdate(h *harness) {
	h.st.onGetDisb = func(d *store.Disbursement) {
		ref, by, at := "BANK-2024-0042", "fin-peter", t0.Add(3600e9)
		d.Status, d.Reference, d.PaidBy, d.PaidAt = store.DisbursementPaid, &ref, &by, &at
	}
	h.wf.updateFn = h.answer(domain.PhaseExecuting)
}

func TestConfirmPayment(t *testing.T) {
	path := "/api/v1/finance/disbursements/" + disViborg + "/confirm"
	tests := []struct {
		name     string
		token    string
		path     string
		status   int
		wantCode string
	}{
		{name: "confirm_by_finance_200", token: tokPeter, path: path, status: http.StatusOK},
		{name: "confirm_by_board_403", token: tokHanne, path: path, status: http.StatusForbidden, wantCode: "forbidden"},
		{name: "confirm_by_admin_403", token: tokKaren, path: path, status: http.StatusForbidden, wantCode: "forbidden"},
		{name: "confirm_other_plans_disbursement_404", token: tokPeter, path: "/api/v1/finance/disbursements/" + disAarhus + "/confirm",
			status: http.StatusNotFound, wantCode: "not_found"},
		{name: "confirm_unknown_disbursement_404", token: tokPeter, path: "/api/v1/finance/disbursements/nope/confirm",
			status: http.StatusNotFound, wantCode: "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			paidAfterUpdate(h)
			rec := h.do(http.MethodPost, tt.path, tt.token, `{"reference":" BANK-2024-0042 "}`)
			wantStatus(t, rec, tt.status)
			if tt.wantCode != "" {
				if p := problemOf(t, rec); p.Code != tt.wantCode {
					t.Errorf("code = %q, want %q", p.Code, tt.wantCode)
				}
				if len(h.wf.updates) != 0 {
					t.Errorf("refused confirm reached the workflow")
				}
				return
			}
			want := updateCall{InitiativeID: iniViborg, Name: workflows.UpdateConfirmPayment,
				UpdateID: service.ConfirmUpdateID(disViborg, "BANK-2024-0042"),
				Arg: workflows.ConfirmPaymentInput{Actor: domain.Actor{UserID: "fin-peter", Name: "Peter Holm", Role: domain.RoleFinance},
					DisbursementID: disViborg, Reference: "BANK-2024-0042"}}
			if diff := cmp.Diff([]updateCall{want}, h.wf.updates); diff != "" {
				t.Errorf("updates (-want +got):\n%s", diff)
			}
			if !strings.HasPrefix(want.UpdateID, "confirm/"+disViborg+"/") || len(want.UpdateID) != len("confirm/"+disViborg+"/")+16 {
				t.Errorf("update id %q is not confirm/<id>/<16 hex>", want.UpdateID)
			}
			assertJSON(t, rec.Body.Bytes(), `{"id": "ini-viborg-t1", "plan_id": "viborg-2021-2025", "initiative_id": "ini-viborg",
			  "initiative_title": "Lektiecafé i Ringparken", "milestone_no": 1, "milestone_title": "Opstart",
			  "lines": [{"source_id": "lbf", "amount_ore": 10000000, "amount": "100.000,00 kr."}],
			  "total_ore": 10000000, "total": "100.000,00 kr.", "status": "paid", "reference": "BANK-2024-0042",
			  "released_at": "2024-03-01T09:30:00Z", "paid_at": "2024-03-01T10:30:00Z", "paid_by": "fin-peter",
			  "withdrawn_at": null, "withdrawn_reason": null}`)
		})
	}
}

func TestConcurrentIdenticalConfirmsShareOneUpdateID(t *testing.T) {
	h := newHarness(t)
	paidAfterUpdate(h)
	path := "/api/v1/finance/disbursements/" + disViborg + "/confirm"
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.do(http.MethodPost, path, tokPeter, `{"reference":"BANK-1"}`)
		}()
	}
	wg.Wait()
	h.do(http.MethodPost, path, tokPeter, `{"reference":"BANK-2"}`)
	if len(h.wf.updates) != 3 {
		t.Fatalf("updates = %d, want 3", len(h.wf.updates))
	}
	a, b, c := h.wf.updates[0].UpdateID, h.wf.updates[1].UpdateID, h.wf.updates[2].UpdateID
	if a != b || a == c {
		t.Errorf("update ids %q %q %q: same reference must share one id so Temporal runs it once; another reference must not", a, b, c)
	}
}
