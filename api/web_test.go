package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// The web application is mounted beside the API: it answers every path outside /api/, while unknown API paths,
// the API itself and the probes keep their own answers.
func TestWebIsServedBesideTheAPI(t *testing.T) {
	h := newHarness(t)
	web := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<p>web " + r.URL.Path + "</p>"))
	})
	reg := prometheus.NewRegistry()
	h.e = New(Config{Web: web}, h.st, h.wf, slog.New(slog.DiscardHandler), reg, reg)

	tests := []struct {
		name, path string
		status     int
		web        bool
	}{
		{"root_is_web", "/", http.StatusOK, true},
		{"page_is_web", "/indsatser/abc", http.StatusOK, true},
		{"static_is_web", "/static/app.css", http.StatusOK, true},
		{"unknown_api_path_is_a_problem", "/api/v1/nope", http.StatusNotFound, false},
		{"api_needs_its_token", "/api/v1/me", http.StatusUnauthorized, false},
		{"healthz_is_the_probe", "/healthz", http.StatusOK, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			rec := httptest.NewRecorder()
			h.e.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			isWeb := rec.Body.String() == "<p>web "+tt.path+"</p>"
			if isWeb != tt.web {
				t.Fatalf("answered by the web application: %v, want %v (%s)", isWeb, tt.web, rec.Body)
			}
			if !tt.web && tt.status >= 400 {
				var p problem
				if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Code == "" {
					t.Fatalf("want problem+json, got %s", rec.Body)
				}
			}
		})
	}
}
