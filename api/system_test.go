package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

func TestAuthentication(t *testing.T) {
	tests := []struct {
		name       string
		header     string
		storeErr   error
		status     int
		wantDetail string
		wantAuth   string
	}{
		{name: "missing_token_401", header: "", status: http.StatusUnauthorized,
			wantDetail: "Send dit API-token i headeren Authorization: Bearer <token>.", wantAuth: `Bearer realm="helhedsplan"`},
		{name: "basic_auth_401", header: "Basic b2ctbWV0dGU6eA==", status: http.StatusUnauthorized,
			wantDetail: "Send dit API-token i headeren Authorization: Bearer <token>.", wantAuth: `Bearer realm="helhedsplan"`},
		{name: "unknown_token_401", header: "Bearer not-a-token", status: http.StatusUnauthorized,
			wantDetail: "Tokenet er ukendt eller tilbagekaldt. Log ind igen.", wantAuth: `Bearer realm="helhedsplan", error="invalid_token"`},
		{name: "known_token_200", header: "Bearer " + tokMette, status: http.StatusOK},
		{name: "lowercase_scheme_200", header: "bearer " + tokMette, status: http.StatusOK},
		{name: "token_lookup_failing_500", header: "Bearer " + tokMette, storeErr: errors.New("pq: syntax error"),
			status: http.StatusInternalServerError},
		{name: "token_lookup_with_database_down_503", header: "Bearer " + tokMette,
			storeErr: fmt.Errorf("principal: %w: dial tcp: connection refused", store.ErrUnavailable), status: http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.st.errs["PrincipalByTokenHash"] = tt.storeErr
			req := httptest.NewRequest(http.MethodGet, "/api/v1/me", nil)
			req.Header.Set("X-Request-Id", testRequestID)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			rec := httptest.NewRecorder()
			h.e.ServeHTTP(rec, req)
			wantStatus(t, rec, tt.status)
			if got := rec.Header().Get("WWW-Authenticate"); got != tt.wantAuth {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.wantAuth)
			}
			if tt.wantDetail != "" {
				assertJSON(t, rec.Body.Bytes(), problemJSON(t, "unauthorized", tt.wantDetail, "/api/v1/me"))
			}
		})
	}
}

func TestMe(t *testing.T) {
	h := newHarness(t)
	rec := h.do(http.MethodGet, "/api/v1/me", tokMulti, "")
	wantStatus(t, rec, http.StatusOK)
	assertJSON(t, rec.Body.Bytes(), `{"user_id": "og-multi", "name": "Multi Bruger", "email": "", "plans": [
	  {"plan_id": "aarhus-2022-2026", "plan_name": "Helhedsplan Aarhus", "role": "operational_group", "role_name": "operationel gruppe"},
	  {"plan_id": "viborg-2021-2025", "plan_name": "Boligsocial helhedsplan 2021-2025, Viborg Kommune", "role": "operational_group", "role_name": "operationel gruppe"}]}`)
}

func TestPlans(t *testing.T) {
	h := newHarness(t)

	rec := h.do(http.MethodGet, "/api/v1/plans", tokHanne, "")
	wantStatus(t, rec, http.StatusOK)
	assertJSON(t, rec.Body.Bytes(), `{"items": [{"id": "viborg-2021-2025", "name": "Boligsocial helhedsplan 2021-2025, Viborg Kommune",
	  "municipality": "Viborg Kommune", "period_start": "2021-01-01", "period_end": "2025-12-31", "role": "board", "role_name": "bestyrelse"}]}`)

	rec = h.do(http.MethodGet, "/api/v1/plans/"+planViborg, tokHanne, "")
	wantStatus(t, rec, http.StatusOK)
	var plan planOut
	if err := json.Unmarshal(rec.Body.Bytes(), &plan); err != nil {
		t.Fatal(err)
	}
	got := []string{plan.TotalCommitted, plan.LocalCofinancing, plan.Settings.MinLocalCofinancing, plan.YourRoleName,
		plan.FundingSources[0].Committed}
	want := []string{"25.689.000,00 kr.", "46,6 %", "25,0 %", "bestyrelse", "13.709.000,00 kr."}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("plan text %d = %q, want %q", i, got[i], want[i])
		}
	}
	if plan.LocalCofinancingPermille != 466 || plan.TotalCommittedOre != 2_568_900_000 || len(plan.HousingAreas) != 5 || len(plan.Delaftaler) != 3 {
		t.Errorf("plan figures = %d ‰, %d øre, %d areas, %d delaftaler", plan.LocalCofinancingPermille, plan.TotalCommittedOre,
			len(plan.HousingAreas), len(plan.Delaftaler))
	}

	rec = h.do(http.MethodGet, "/api/v1/plans/"+planAarhus, tokHanne, "")
	wantStatus(t, rec, http.StatusNotFound)
	rec = h.do(http.MethodGet, "/api/v1/plans/"+planAarhus+"/budget", tokHanne, "")
	wantStatus(t, rec, http.StatusNotFound)
}

func TestBudget(t *testing.T) {
	h := newHarness(t)
	committed, avail := domain.Kroner(13_709_000), domain.Kroner(13_609_000)
	h.st.budgets[planViborg] = store.Budget{
		PlanID: planViborg,
		Total:  store.BudgetLine{CommittedØre: &committed, ReservedØre: domain.Kroner(100_000), AvailableØre: &avail},
		Sources: []store.SourceBudget{{SourceID: "lbf", Name: "Landsbyggefonden",
			BudgetLine: store.BudgetLine{CommittedØre: &committed, ReservedØre: domain.Kroner(100_000), AvailableØre: &avail}},
			{SourceID: "viborg-kommune", Name: "Viborg Kommune", Local: true, BudgetLine: store.BudgetLine{PaidØre: domain.Kroner(50_000)}}},
		Delaftaler: []store.DelaftaleBudget{{DelaftaleID: "beskaeftigelse", Name: "Beskæftigelse",
			BudgetLine: store.BudgetLine{PaidØre: 12_345}}},
		MinLocalCofinancingPermille: 250,
		// 50.000 of 150.000 kr. local (33,3 %): LBF money only would lower it below 25 %, local money raises it.
		Pending: []store.PendingProposal{
			{InitiativeID: "p1", Title: "Jobcafé", Budget: []domain.SourceAmount{{SourceID: "lbf", AmountØre: domain.Kroner(100_000)}}},
			{InitiativeID: "p2", Title: "Lektiecafé", Budget: []domain.SourceAmount{{SourceID: "viborg-kommune", AmountØre: domain.Kroner(10_000)}}},
		},
	}
	rec := h.do(http.MethodGet, "/api/v1/plans/"+planViborg+"/budget", tokPeter, "")
	wantStatus(t, rec, http.StatusOK)
	line := `"committed_ore": 1370900000, "committed": "13.709.000,00 kr.", "reserved_ore": 10000000, "reserved": "100.000,00 kr.",
	  "released_ore": 0, "released": "0,00 kr.", "paid_ore": 0, "paid": "0,00 kr.", "available_ore": 1360900000, "available": "13.609.000,00 kr.",
	  "returned_ore": 0, "returned": "0,00 kr."`
	assertJSON(t, rec.Body.Bytes(), `{"plan_id": "viborg-2021-2025", "total": {`+line+`},
	  "sources": [{"source_id": "lbf", "name": "Landsbyggefonden", "local": false, `+line+`,
	    "inkind_confirmed_ore": 0, "inkind_confirmed": "0,00 kr."},
	    {"source_id": "viborg-kommune", "name": "Viborg Kommune", "local": true, "committed_ore": null, "committed": null,
	    "reserved_ore": 0, "reserved": "0,00 kr.", "released_ore": 0, "released": "0,00 kr.", "paid_ore": 5000000, "paid": "50.000,00 kr.",
	    "available_ore": null, "available": null, "returned_ore": 0, "returned": "0,00 kr.",
	    "inkind_confirmed_ore": 0, "inkind_confirmed": "0,00 kr."}],
	  "cofinancing": {"approved_ore": 15000000, "local_ore": 5000000, "share_permille": 333, "share": "33,3 %",
	    "minimum_permille": 250, "minimum": "25,0 %", "below_minimum": false, "pending_proposals": [
	      {"initiative_id": "p1", "title": "Jobcafé", "budget_ore": 10000000, "local_ore": 0, "share_after_permille": 200,
	       "share_after": "20,0 %", "refused": true},
	      {"initiative_id": "p2", "title": "Lektiecafé", "budget_ore": 1000000, "local_ore": 1000000, "share_after_permille": 375,
	       "share_after": "37,5 %", "refused": false}]},
	  "delaftaler": [{"delaftale_id": "beskaeftigelse", "name": "Beskæftigelse", "committed_ore": null, "committed": null,
	    "reserved_ore": 0, "reserved": "0,00 kr.", "released_ore": 0, "released": "0,00 kr.", "paid_ore": 12345, "paid": "123,45 kr.",
	    "available_ore": null, "available": null, "returned_ore": 0, "returned": "0,00 kr."}]}`)
}

func TestProbes(t *testing.T) {
	const allOK = `{"postgresql": "ok", "migrations": "ok", "temporal": "ok", "temporal_namespace": "ok"}`
	notReady := func(detail, checks string) string {
		return `{"type": "https://helhedsplan.dk/problems/dependency_unavailable", "title": "Tjenesten er ikke klar", "status": 503,
		  "detail": "` + detail + `", "instance": "/readyz", "code": "dependency_unavailable", "request_id": "req-test-1",
		  "checks": ` + checks + `}`
	}
	tests := []struct {
		name          string
		pingErr       error
		migrationsErr error
		pending       bool
		readyErr      error
		status        int
		want          string
	}{
		{name: "readyz_all_up_200", status: http.StatusOK, want: `{"status": "ok", "checks": ` + allOK + `}`},
		{name: "readyz_temporal_down_503", readyErr: errors.New("dial tcp 10.0.0.7:7233: connection refused"),
			status: http.StatusServiceUnavailable,
			want: notReady("Tjenesten er ikke klar: Temporal svarer ikke.",
				`{"postgresql": "ok", "migrations": "ok", "temporal": "fejl", "temporal_namespace": "ikke tjekket"}`)},
		{name: "readyz_unknown_namespace_503",
			readyErr: fmt.Errorf("%w: helhedsplan-prod: Namespace helhedsplan-prod is not found at 10.0.0.7", ErrNamespaceNotFound),
			status:   http.StatusServiceUnavailable,
			want: notReady("Tjenesten er ikke klar: Temporal kender ikke navnerummet (namespace).",
				`{"postgresql": "ok", "migrations": "ok", "temporal": "ok", "temporal_namespace": "fejl"}`)},
		{name: "readyz_pending_migration_503", pending: true, status: http.StatusServiceUnavailable,
			want: notReady("Tjenesten er ikke klar: databasen mangler migreringer (kør helhedsplan migrate).",
				`{"postgresql": "ok", "migrations": "fejl", "temporal": "ok", "temporal_namespace": "ok"}`)},
		{name: "readyz_migrations_unreadable_503", migrationsErr: errors.New("pq: relation goose_db_version at db.internal"),
			status: http.StatusServiceUnavailable,
			want: notReady("Tjenesten er ikke klar: databasens migreringer kan ikke aflæses.",
				`{"postgresql": "ok", "migrations": "fejl", "temporal": "ok", "temporal_namespace": "ok"}`)},
		{name: "readyz_both_down_503", pingErr: errors.New("pq: no route to host db.internal"), readyErr: errors.New("x"),
			status: http.StatusServiceUnavailable,
			want: notReady("Tjenesten er ikke klar: PostgreSQL svarer ikke; Temporal svarer ikke.",
				`{"postgresql": "fejl", "migrations": "ikke tjekket", "temporal": "fejl", "temporal_namespace": "ikke tjekket"}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.st.errs["Ping"] = tt.pingErr
			h.st.errs["MigrationStatus"] = tt.migrationsErr
			if tt.pending {
				h.st.migrations = append(h.st.migrations, store.MigrationState{Version: 3, Name: "00003_checks.sql"})
			}
			h.wf.readyErr = tt.readyErr
			rec := h.do(http.MethodGet, "/readyz", "", "")
			wantStatus(t, rec, tt.status)
			assertJSON(t, rec.Body.Bytes(), tt.want)
			for _, leak := range []string{"10.0.0.7", "db.internal", "goose", "00003"} {
				if strings.Contains(rec.Body.String(), leak) {
					t.Errorf("readyz leaks %q from the dependency's error: %s", leak, rec.Body)
				}
			}
			if got, want := rec.Header().Get("Retry-After"), map[bool]string{true: "", false: "5"}[tt.status == http.StatusOK]; got != want {
				t.Errorf("Retry-After = %q, want %q", got, want)
			}
		})
	}

	h := newHarness(t)
	h.st.errs["Ping"] = errors.New("down") // liveness must not depend on the database
	rec := h.do(http.MethodGet, "/healthz", "", "")
	wantStatus(t, rec, http.StatusOK)
	assertJSON(t, rec.Body.Bytes(), `{"status": "ok"}`)
}

func TestReadyzReadsMigrationsUntilApplied(t *testing.T) {
	h := newHarness(t)
	h.st.migrations[1].Applied = false
	wantStatus(t, h.do(http.MethodGet, "/readyz", "", ""), http.StatusServiceUnavailable)
	h.st.migrations[1].Applied = true // helhedsplan migrate ran
	wantStatus(t, h.do(http.MethodGet, "/readyz", "", ""), http.StatusOK)
	wantStatus(t, h.do(http.MethodGet, "/readyz", "", ""), http.StatusOK)
	if h.st.migrationCalls != 2 {
		t.Errorf("migration status read %d times, want 2: once applied, migrations stay applied", h.st.migrationCalls)
	}
	h.st.errs["Ping"] = errors.New("down") // but the database is still checked every time
	wantStatus(t, h.do(http.MethodGet, "/readyz", "", ""), http.StatusServiceUnavailable)
}

func TestReadyzWithoutMigrationStatusIsNotReady(t *testing.T) {
	st := pingOnly{}
	r := NewReadiness(st, &fakeWorkflows{}, time.Second, nil)
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	wantStatus(t, rec, http.StatusServiceUnavailable)
	if p := problemOf(t, rec); p.Checks[checkMigrations] != checkFailed {
		t.Errorf("checks = %v, want migrations fejl when the store cannot report them", p.Checks)
	}
}

type pingOnly struct{}

func (pingOnly) Ping(context.Context) error { return nil }

// TestReadinessHandler is the worker's /readyz: the same checks and bodies without the API around them.
func TestReadinessHandler(t *testing.T) {
	st := &fakeStore{errs: map[string]error{}, migrations: []store.MigrationState{{Version: 1, Name: "00001_init.sql", Applied: true}}}
	wf := &fakeWorkflows{}
	r := NewReadiness(st, wf, time.Second, nil)

	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	wantStatus(t, rec, http.StatusOK)
	assertJSON(t, rec.Body.Bytes(), `{"status": "ok", "checks": {"postgresql": "ok", "migrations": "ok", "temporal": "ok", "temporal_namespace": "ok"}}`)

	wf.readyErr = fmt.Errorf("%w: default", ErrNamespaceNotFound)
	rec = httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	wantStatus(t, rec, http.StatusServiceUnavailable)
	p := problemOf(t, rec)
	if p.Code != codeDependencyUnavailable || p.Checks[checkNamespace] != checkFailed || rec.Header().Get("Retry-After") != "5" ||
		strings.Contains(rec.Body.String(), "default") {
		t.Errorf("worker readyz = %s (Retry-After %q)", rec.Body, rec.Header().Get("Retry-After"))
	}
}

func TestUnknownRouteAndMethod(t *testing.T) {
	h := newHarness(t)
	rec := h.do(http.MethodGet, "/api/v1/nothing-here", tokMette, "")
	wantStatus(t, rec, http.StatusNotFound)
	assertJSON(t, rec.Body.Bytes(), problemJSON(t, "not_found", "Adressen findes ikke i API'et.", "/api/v1/nothing-here"))

	rec = h.do(http.MethodDelete, "/api/v1/initiatives", tokMette, "")
	wantStatus(t, rec, http.StatusMethodNotAllowed)
	assertJSON(t, rec.Body.Bytes(), problemJSON(t, "method_not_allowed", "Adressen understøtter ikke denne HTTP-metode.", "/api/v1/initiatives"))
	if allow := rec.Header().Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
		t.Errorf("Allow = %q, want GET and POST", allow)
	}
}

func TestMetrics(t *testing.T) {
	h := newHarness(t)
	h.do(http.MethodGet, "/api/v1/initiatives/"+iniViborg, tokMette, "")
	h.do(http.MethodGet, "/api/v1/initiatives/"+iniAarhus, tokMette, "")
	h.do(http.MethodGet, "/api/v1/random-"+strings.Repeat("x", 10), tokMette, "")
	h.do(http.MethodGet, "/api/v1/random-"+strings.Repeat("y", 10), tokMette, "")

	families, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := 0
	for _, f := range families {
		if f.GetName() == "helhedsplan_http_request_duration_seconds" {
			series = len(f.GetMetric())
		}
	}
	if series != 3 { // the two initiative GETs (200 and 404) and one "unmatched" series for both unknown URLs
		t.Errorf("series = %d, want 3", series)
	}
	rec := h.do(http.MethodGet, "/metrics", "", "")
	wantStatus(t, rec, http.StatusOK)
	body := rec.Body.String()
	for _, want := range []string{
		"# TYPE helhedsplan_http_request_duration_seconds histogram",
		`helhedsplan_http_request_duration_seconds_count{method="GET",route="/api/v1/initiatives/:id",status="200"} 1`,
		`helhedsplan_http_request_duration_seconds_count{method="GET",route="/api/v1/initiatives/:id",status="404"} 1`,
		`helhedsplan_http_request_duration_seconds_count{method="GET",route="unmatched",status="404"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
}

func TestOpenAPIIsServedWithoutToken(t *testing.T) {
	h := newHarness(t)
	rec := h.do(http.MethodGet, "/api/v1/openapi.yaml", "", "")
	wantStatus(t, rec, http.StatusOK)
	b, _ := io.ReadAll(rec.Body)
	if !strings.HasPrefix(string(b), "openapi: 3.1.0") {
		t.Errorf("spec starts %q", string(b[:min(40, len(b))]))
	}
}

func TestBodyOverLimitWithoutContentLength413(t *testing.T) {
	h := newHarness(t)
	req := httptest.NewRequest(http.MethodPost, "/api/v1/initiatives/"+iniViborg+"/decision",
		io.MultiReader(strings.NewReader(`{"comment":"`), strings.NewReader(strings.Repeat("x", 2<<20)), strings.NewReader(`"}`)))
	req.ContentLength = -1 // chunked: only reading can tell
	req.Header.Set("Authorization", "Bearer "+tokHanne)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "big")
	rec := httptest.NewRecorder()
	h.e.ServeHTTP(rec, req)
	wantStatus(t, rec, http.StatusRequestEntityTooLarge)
	if p := problemOf(t, rec); p.Code != "request_too_large" {
		t.Errorf("code = %q", p.Code)
	}
}

func TestNonJSONBody415(t *testing.T) {
	h := newHarness(t)
	req := httptest.NewRequest(http.MethodPost, "/api/v1/initiatives/"+iniViborg+"/decision", strings.NewReader("outcome=approve"))
	req.Header.Set("Authorization", "Bearer "+tokHanne)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.e.ServeHTTP(rec, req)
	wantStatus(t, rec, http.StatusUnsupportedMediaType)
}

func TestRequestID(t *testing.T) {
	h := newHarness(t)
	rec := h.do(http.MethodGet, "/api/v1/initiatives/nope", tokMette, "")
	if got := rec.Header().Get("X-Request-Id"); got != testRequestID {
		t.Errorf("X-Request-Id = %q, want the client's %q", got, testRequestID)
	}
	if p := problemOf(t, rec); p.RequestID != testRequestID {
		t.Errorf("problem request_id = %q", p.RequestID)
	}

	forged := "x\"}\n{\"level\":\"ERROR\"" + strings.Repeat("y", 200)
	rec = h.do(http.MethodGet, "/api/v1/initiatives/nope", tokMette, "", "X-Request-Id", forged)
	got := rec.Header().Get("X-Request-Id")
	if got == forged || got == "" || len(got) > maxRequestIDLen {
		t.Errorf("X-Request-Id = %q, want a generated ID instead of the forged one", got)
	}
}
