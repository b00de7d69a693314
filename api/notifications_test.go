package api

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/helhedsplan/helhedsplan/store"
)

// notifyingStore is the fake store with notifications (service.NotificationStore), kept like the table: rows per
// user, newest first by ID, read_at set once.
type notifyingStore struct {
	*fakeStore
	mu     sync.Mutex
	rows   []store.Notification
	err    error // every notification method fails with it
	filter store.NotificationFilter
}

func (s *notifyingStore) ListNotifications(_ context.Context, userID string, f store.NotificationFilter) ([]store.Notification, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, "", s.err
	}
	s.filter = f
	after := int64(1 << 62)
	if f.After != "" {
		n, err := strconv.ParseInt(f.After, 10, 64)
		if err != nil {
			return nil, "", fmt.Errorf("cursor: %w", store.ErrBadCursor)
		}
		after = n
	}
	var out []store.Notification
	for _, n := range slices.Backward(s.rows) {
		if n.UserID == userID && n.ID < after && (!f.Unread || n.ReadAt == nil) {
			out = append(out, n)
		}
	}
	next := ""
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
		next = strconv.FormatInt(out[f.Limit-1].ID, 10)
	}
	return out, next, nil
}

func (s *notifyingStore) CountUnread(_ context.Context, userID string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, s.err
	}
	n := 0
	for _, r := range s.rows {
		if r.UserID == userID && r.ReadAt == nil {
			n++
		}
	}
	return n, nil
}

func (s *notifyingStore) MarkNotificationRead(_ context.Context, userID string, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	for i := range s.rows {
		if r := &s.rows[i]; r.ID == id && r.UserID == userID {
			if r.ReadAt == nil {
				at := t0.Add(time.Hour)
				r.ReadAt = &at
			}
			return nil
		}
	}
	return fmt.Errorf("notification %d: %w", id, store.ErrNotFound)
}

func (s *notifyingStore) MarkAllNotificationsRead(_ context.Context, userID string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, s.err
	}
	n := 0
	for i := range s.rows {
		if r := &s.rows[i]; r.UserID == userID && r.ReadAt == nil {
			at := t0.Add(time.Hour)
			r.ReadAt = &at
			n++
		}
	}
	return n, nil
}

// newNotificationHarness serves the API over a store with three notifications for Mette (ids 1, 2, 4) and one
// for Hanne (id 3).
func newNotificationHarness(t *testing.T) (*harness, *notifyingStore) {
	t.Helper()
	h := newHarness(t)
	ns := &notifyingStore{fakeStore: h.st}
	for i, u := range []string{"og-mette", "og-mette", "bs-hanne", "og-mette"} {
		ns.rows = append(ns.rows, store.Notification{ID: int64(i + 1), PlanID: planViborg, UserID: u,
			InitiativeID: iniViborg, Seq: int64(i + 2), Kind: store.NotifyReminder,
			Title: fmt.Sprintf("Påmindelse %d: statusrapport for «Lektiecafé i Ringparken»", i+1),
			Body:  "Rapporten for milepæl 1 skal afleveres senest fredag.", CreatedAt: t0.Add(time.Duration(i) * time.Minute)})
	}
	reg := prometheus.NewRegistry()
	h.e = New(Config{}, ns, h.wf, slog.New(slog.DiscardHandler), reg, reg)
	return h, ns
}

func TestListNotifications(t *testing.T) {
	h, ns := newNotificationHarness(t)

	rec := h.do(http.MethodGet, "/api/v1/notifications?limit=2", tokMette, "")
	wantStatus(t, rec, http.StatusOK)
	assertJSON(t, rec.Body.Bytes(), `{"items": [
	  {"id": 4, "plan_id": "viborg-2021-2025", "initiative_id": "ini-viborg", "seq": 5, "kind": "reminder",
	   "kind_name": "Påmindelse", "title": "Påmindelse 4: statusrapport for «Lektiecafé i Ringparken»",
	   "body": "Rapporten for milepæl 1 skal afleveres senest fredag.", "created_at": "2024-03-01T09:33:00Z", "read_at": null},
	  {"id": 2, "plan_id": "viborg-2021-2025", "initiative_id": "ini-viborg", "seq": 3, "kind": "reminder",
	   "kind_name": "Påmindelse", "title": "Påmindelse 2: statusrapport for «Lektiecafé i Ringparken»",
	   "body": "Rapporten for milepæl 1 skal afleveres senest fredag.", "created_at": "2024-03-01T09:31:00Z", "read_at": null}],
	  "next_cursor": "2", "unread_count": 3}`)

	rec = h.do(http.MethodGet, "/api/v1/notifications?limit=2&cursor=2&unread=true", tokMette, "")
	wantStatus(t, rec, http.StatusOK)
	var page notificationListOut
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].ID != 1 || page.NextCursor != nil {
		t.Fatalf("second page = %+v", page)
	}
	if diff := cmp.Diff(store.NotificationFilter{Unread: true, After: "2", Limit: 2}, ns.filter); diff != "" {
		t.Errorf("filter (-want +got):\n%s", diff)
	}

	// Hanne sees only her own.
	rec = h.do(http.MethodGet, "/api/v1/notifications", tokHanne, "")
	wantStatus(t, rec, http.StatusOK)
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].ID != 3 || page.UnreadCount != 1 {
		t.Fatalf("Hanne's notifications = %+v", page)
	}

	for name, tt := range map[string]struct {
		query, token string
		status       int
		code         string
	}{
		"no_token_401":       {"", "", http.StatusUnauthorized, "unauthorized"},
		"unread_maybe_400":   {"?unread=maybe", tokMette, http.StatusBadRequest, "bad_request"},
		"limit_0_400":        {"?limit=0", tokMette, http.StatusBadRequest, "bad_request"},
		"foreign_cursor_400": {"?cursor=abc", tokMette, http.StatusBadRequest, "bad_request"},
	} {
		t.Run(name, func(t *testing.T) {
			rec := h.do(http.MethodGet, "/api/v1/notifications"+tt.query, tt.token, "")
			wantStatus(t, rec, tt.status)
			if p := problemOf(t, rec); p.Code != tt.code {
				t.Errorf("code = %q, want %q", p.Code, tt.code)
			}
		})
	}

	t.Run("database_down_503", func(t *testing.T) {
		ns.mu.Lock()
		ns.err = fmt.Errorf("list: %w", store.ErrUnavailable)
		ns.mu.Unlock()
		defer func() { ns.mu.Lock(); ns.err = nil; ns.mu.Unlock() }()
		rec := h.do(http.MethodGet, "/api/v1/notifications", tokMette, "")
		wantStatus(t, rec, http.StatusServiceUnavailable)
		if rec.Header().Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
	})
}

func TestMarkNotificationsRead(t *testing.T) {
	h, ns := newNotificationHarness(t)

	rec := h.do(http.MethodPost, "/api/v1/notifications/2/read", tokMette, "")
	wantStatus(t, rec, http.StatusOK)
	assertJSON(t, rec.Body.Bytes(), `{"unread_count": 2}`)
	// Again: nothing changes, the same answer.
	rec = h.do(http.MethodPost, "/api/v1/notifications/2/read", tokMette, "")
	wantStatus(t, rec, http.StatusOK)
	assertJSON(t, rec.Body.Bytes(), `{"unread_count": 2}`)

	for name, path := range map[string]string{
		"hannes_notification_404": "/api/v1/notifications/3/read",
		"unknown_404":             "/api/v1/notifications/99/read",
		"not_a_number_404":        "/api/v1/notifications/abc/read",
	} {
		t.Run(name, func(t *testing.T) {
			rec := h.do(http.MethodPost, path, tokMette, "")
			wantStatus(t, rec, http.StatusNotFound)
			if p := problemOf(t, rec); p.Code != "not_found" {
				t.Errorf("code = %q", p.Code)
			}
		})
	}
	ns.mu.Lock()
	if ns.rows[2].ReadAt != nil {
		t.Error("Hanne's notification was marked read by Mette")
	}
	ns.mu.Unlock()

	rec = h.do(http.MethodPost, "/api/v1/notifications/read-all", tokMette, "", "Idempotency-Key", "alle-1")
	wantStatus(t, rec, http.StatusOK)
	assertJSON(t, rec.Body.Bytes(), `{"marked": 2, "unread_count": 0}`)
	rec = h.do(http.MethodGet, "/api/v1/notifications?unread=true", tokMette, "")
	wantStatus(t, rec, http.StatusOK)
	assertJSON(t, rec.Body.Bytes(), `{"items": [], "next_cursor": null, "unread_count": 0}`)
	rec = h.do(http.MethodGet, "/api/v1/notifications", tokHanne, "")
	var page notificationListOut
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || page.UnreadCount != 1 {
		t.Fatalf("Hanne's unread after Mette's read-all = %+v, %v; want 1", page, err)
	}
}
