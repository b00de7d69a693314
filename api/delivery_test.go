package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/helhedsplan/helhedsplan/store"
)

// deliveryFakeStore is the fake store with an outbox whose delivery state is d.
type deliveryFakeStore struct {
	*fakeStore
	d store.WebhookDelivery
}

func (f deliveryFakeStore) WebhookDelivery(context.Context) (store.WebhookDelivery, error) {
	return f.d, nil
}

// newDeliveryHarness serves the API over a store whose finance messages' oldest has waited for age.
func newDeliveryHarness(t *testing.T, cfg Config, age time.Duration) *harness {
	t.Helper()
	h := newHarness(t)
	oldest := time.Now().Add(-age)
	failing := oldest.Add(time.Minute)
	delivered := oldest.Add(-time.Hour)
	released := store.DeliveryStats{Topic: "disbursement.released", Delivered: 4, Waiting: 2, Retrying: 1,
		OldestWaitingAt: &oldest, FailingSince: &failing, LastError: "webhook answered 502 Bad Gateway",
		LastDeliveredAt: &delivered}
	overall := released
	overall.Topic = ""
	d := store.WebhookDelivery{Overall: overall, Topics: []store.DeliveryStats{released}}
	h.reg = prometheus.NewRegistry()
	h.e = New(cfg, deliveryFakeStore{fakeStore: h.st, d: d}, h.wf, nil, h.reg, h.reg)
	return h
}

func TestFinanceDelivery(t *testing.T) {
	tests := []struct {
		name     string
		token    string
		query    string
		status   int
		wantCode string
	}{
		{name: "finance_200", token: tokPeter, status: http.StatusOK},
		{name: "admin_200", token: tokKaren, status: http.StatusOK},
		{name: "operational_group_403", token: tokMette, status: http.StatusForbidden, wantCode: "forbidden"},
		{name: "board_403", token: tokHanne, status: http.StatusForbidden, wantCode: "forbidden"},
		{name: "other_plan_404", token: tokPeter, query: "?plan_id=" + planAarhus, status: http.StatusNotFound, wantCode: "not_found"},
		{name: "no_token_401", status: http.StatusUnauthorized, wantCode: "unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newDeliveryHarness(t, Config{}, 20*time.Minute)
			rec := h.do(http.MethodGet, "/api/v1/finance/delivery"+tt.query, tt.token, "")
			wantStatus(t, rec, tt.status)
			if tt.wantCode != "" {
				if p := problemOf(t, rec); p.Code != tt.wantCode {
					t.Errorf("code = %q, want %q", p.Code, tt.wantCode)
				}
				return
			}
			var got deliveryOut
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if !got.BacklogLate || got.AlertAfterSeconds != 900 || !got.WebhookSeen {
				t.Errorf("late %v, alert after %d s, seen %v; want late after 900 s, seen", got.BacklogLate,
					got.AlertAfterSeconds, got.WebhookSeen)
			}
			if o := got.Overall; o.Waiting != 2 || o.Retrying != 1 || o.Delivered != 4 || o.FailingSince == nil ||
				o.LastError == nil || *o.LastError != "webhook answered 502 Bad Gateway" ||
				o.OldestWaitingAgeSeconds < 20*60 || o.OldestWaitingAgeSeconds > 21*60 {
				t.Errorf("overall = %+v", o)
			}
			if len(got.Topics) != 1 || got.Topics[0].Topic != "disbursement.released" {
				t.Errorf("topics = %+v", got.Topics)
			}
		})
	}
}

// The threshold is the configuration's: 20 minutes of backlog is not late when an hour is allowed.
func TestFinanceDeliveryThresholdFromConfig(t *testing.T) {
	h := newDeliveryHarness(t, Config{WebhookBacklogAlert: time.Hour}, 20*time.Minute)
	rec := h.do(http.MethodGet, "/api/v1/finance/delivery", tokPeter, "")
	wantStatus(t, rec, http.StatusOK)
	var got deliveryOut
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.BacklogLate || got.AlertAfterSeconds != 3600 {
		t.Fatalf("late %v after %d s; want not late after 3600 s", got.BacklogLate, got.AlertAfterSeconds)
	}
}

func TestFinanceDeliveryMetrics(t *testing.T) {
	h := newDeliveryHarness(t, Config{}, 20*time.Minute)
	rec := h.do(http.MethodGet, "/metrics", "", "")
	wantStatus(t, rec, http.StatusOK)
	body := rec.Body.String()
	for _, want := range []string{
		`helhedsplan_finance_webhook_waiting{topic="disbursement.released"} 2`,
		"helhedsplan_finance_webhook_backlog_late 1",
		"helhedsplan_finance_webhook_oldest_waiting_seconds 12",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
