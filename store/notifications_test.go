package store_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
)

// reminderStep is a step of in that records a reminder event and notifies audience of it.
func reminderStep(t *testing.T, in *domain.Initiative, kind string, audience store.Audience) store.Step {
	t.Helper()
	tr := step(t, in, "deadline_reminder", hanne, in.Phase)
	return store.Step{
		Transitions: []store.Transition{tr},
		Notify: []store.NotifyInput{{
			PlanID: planID, InitiativeID: in.ID, Seq: tr.Event.Seq, Kind: kind,
			Title:    "Påmindelse: bestyrelsen skal beslutte «" + in.Proposal.Title + "»",
			Body:     "Forslaget har ventet på bestyrelsens beslutning i 10 arbejdsdage. Fristen er fredag.",
			Audience: audience,
		}},
	}
}

// notificationEmails returns the notification.email messages in the outbox by key.
func notificationEmails(t *testing.T, s *store.Store) map[string]store.NotificationEmail {
	t.Helper()
	var rows []struct {
		Key     string `db:"key"`
		Payload []byte `db:"payload"`
	}
	if err := s.DB().SelectContext(ctxT(t), &rows, `SELECT key, payload FROM outbox WHERE topic = $1`,
		store.TopicNotificationEmail); err != nil {
		t.Fatal(err)
	}
	out := map[string]store.NotificationEmail{}
	for _, r := range rows {
		var m store.NotificationEmail
		if err := json.Unmarshal(r.Payload, &m); err != nil {
			t.Fatalf("payload of %s: %v", r.Key, err)
		}
		out[r.Key] = m
	}
	return out
}

// The notifications of a step are written with it, to the audience as the plan has it now, and once: a rerun of
// the same step (also one in a later workflow task, with later times) neither notifies nor mails anyone again.
func TestNotifyThroughWriteStep(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	// Sofie has no e-mail address; Ole exists but is no member of the plan.
	if _, err := s.DB().ExecContext(ctx, `UPDATE users SET email = '' WHERE id = 'bs-sofie'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO users (id, name, email) VALUES ('ext-ole', 'Ole Udefra', 'ole@example.dk')`); err != nil {
		t.Fatal(err)
	}
	in := submit(t, s, "notify", proposal("Lektiecafé", "uddannelse-og-livschancer", []string{"ringparken"}, kr(100_000), 0))
	st := reminderStep(t, in, store.NotifyReminder, store.Audience{
		Roles:   []domain.Role{domain.RoleBoard},
		UserIDs: []string{"og-mette", "bs-hanne", "ext-ole", "findes-ikke"}, // Hanne is on the board too
	})
	for i := range 2 {
		if _, err := s.WriteStep(ctx, st); err != nil {
			t.Fatalf("WriteStep #%d: %v", i+1, err)
		}
	}
	rerun := st
	rerun.Transitions = []store.Transition{later(t, st.Transitions[0], time.Minute)}
	if _, err := s.WriteStep(ctx, rerun); err != nil {
		t.Fatalf("WriteStep in a later task: %v", err)
	}

	var got []struct {
		ID     int64  `db:"id"`
		UserID string `db:"user_id"`
	}
	if err := s.DB().SelectContext(ctx, &got, `SELECT id, user_id FROM notifications ORDER BY user_id`); err != nil {
		t.Fatal(err)
	}
	var users []string
	for _, n := range got {
		users = append(users, n.UserID)
	}
	if diff := cmp.Diff([]string{"bs-hanne", "bs-lars", "bs-sofie", "og-mette"}, users); diff != "" {
		t.Fatalf("notified users (-want +got):\n%s", diff)
	}

	mails := notificationEmails(t, s)
	if len(mails) != 3 {
		t.Fatalf("%d e-mails in the outbox, want 3 (everyone notified who has an address): %v", len(mails), mails)
	}
	for _, n := range got {
		key := fmt.Sprintf("notification/%d", n.ID)
		m, ok := mails[key]
		if n.UserID == "bs-sofie" {
			if ok {
				t.Errorf("an e-mail for Sofie, who has no address: %+v", m)
			}
			continue
		}
		if !ok {
			t.Errorf("no e-mail %s for %s", key, n.UserID)
			continue
		}
		if m.NotificationID != n.ID || m.PlanID != planID || m.InitiativeID != in.ID ||
			m.Subject != st.Notify[0].Title {
			t.Errorf("e-mail %s = %+v", key, m)
		}
		if !strings.Contains(m.Body, "/indsatser/notify") || !strings.Contains(m.Body, st.Notify[0].Body) ||
			!strings.HasPrefix(m.Body, "Kære "+m.Name+"\n") {
			t.Errorf("e-mail body of %s:\n%s", key, m.Body)
		}
	}
	if m := mails[fmt.Sprintf("notification/%d", got[3].ID)]; m.To != "mette.kjaer@example.dk" || m.Name != "Mette Kjær" {
		t.Errorf("Mette's e-mail goes to %q <%s>", m.Name, m.To)
	}

	t.Run("another_kind_of_the_same_event_is_another_notification", func(t *testing.T) {
		esc := st
		esc.Notify = []store.NotifyInput{st.Notify[0]}
		esc.Notify[0].Kind = store.NotifyEscalation
		esc.Notify[0].Audience = store.Audience{UserIDs: []string{"adm-karen"}}
		if _, err := s.WriteStep(ctx, esc); err != nil {
			t.Fatal(err)
		}
		if n := count(t, s, `SELECT count(*) FROM notifications WHERE user_id = 'adm-karen' AND kind = 'escalation'`); n != 1 {
			t.Fatalf("Karen's escalations = %d, want 1", n)
		}
		if n := len(notificationEmails(t, s)); n != 4 {
			t.Fatalf("%d e-mails, want 4", n)
		}
	})
}

// A notification that cannot be stored fails its whole step: the event is not written without it.
func TestNotifyFailureUndoesTheStep(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	in := submit(t, s, "notify-fail", proposal("Jobcafé", "beskaeftigelse", []string{"vestervang"}, kr(50_000), 0))
	st := reminderStep(t, in, store.NotifyReminder, store.Audience{Roles: []domain.Role{domain.RoleBoard}})
	st.Notify[0].Title = strings.Repeat("å", store.MaxNotificationTitle+1)
	if _, err := s.WriteStep(ctx, st); err == nil {
		t.Fatal("WriteStep with a 201-character title succeeded")
	}
	if n := count(t, s, `SELECT count(*) FROM initiative_events WHERE initiative_id = $1`, in.ID); n != 1 {
		t.Fatalf("events = %d after a failed step, want 1 (only the submission)", n)
	}
	if n := count(t, s, `SELECT count(*) FROM notifications`); n != 0 {
		t.Fatalf("notifications = %d after a failed step", n)
	}

	// The database holds the same rule for a writer that skips the Go check.
	_, err := s.DB().ExecContext(ctx, `
		INSERT INTO notifications (plan_id, user_id, initiative_id, seq, kind, title, body)
		VALUES ($1, 'og-mette', $2, 1, 'info', $3, 'x')`, planID, in.ID, strings.Repeat("å", 201))
	if err == nil {
		t.Fatal("the database took a 201-character title")
	}
	// And a notification of an event that does not exist.
	_, err = s.DB().ExecContext(ctx, `
		INSERT INTO notifications (plan_id, user_id, initiative_id, seq, kind, title, body)
		VALUES ($1, 'og-mette', $2, 7, 'info', 'Titel', 'Tekst')`, planID, in.ID)
	if err == nil {
		t.Fatal("the database took a notification of event 7, which does not exist")
	}
}

// A user's list: newest first, paged by cursor, unread only on request; marking read changes only read_at and
// only the user's own.
func TestNotificationList(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	in := submit(t, s, "notify-list", proposal("Bydelsmødre", "sammenhaengskraft-og-medborgerskab", []string{"ringparken"}, kr(50_000), 0))
	for range 5 {
		if _, err := s.WriteStep(ctx, reminderStep(t, in, store.NotifyInfo, store.Audience{UserIDs: []string{"og-mette", "bs-hanne"}})); err != nil {
			t.Fatal(err)
		}
	}
	seqs := func(ns []store.Notification) []int64 {
		var out []int64
		for _, n := range ns {
			out = append(out, n.Seq)
		}
		return out
	}

	first, next, err := s.ListNotifications(ctx, "og-mette", store.NotificationFilter{Limit: 2})
	if err != nil || next == "" {
		t.Fatalf("first page: %v, next %q", err, next)
	}
	second, next2, err := s.ListNotifications(ctx, "og-mette", store.NotificationFilter{Limit: 2, After: next})
	if err != nil {
		t.Fatal(err)
	}
	third, next3, err := s.ListNotifications(ctx, "og-mette", store.NotificationFilter{Limit: 2, After: next2})
	if err != nil || next3 != "" {
		t.Fatalf("last page: %v, next %q", err, next3)
	}
	all := slices.Concat(first, second, third)
	if diff := cmp.Diff([]int64{6, 5, 4, 3, 2}, seqs(all)); diff != "" {
		t.Fatalf("pages, newest first (-want +got):\n%s", diff)
	}
	if all[0].UserID != "og-mette" || all[0].Kind != store.NotifyInfo || all[0].ReadAt != nil || all[0].CreatedAt.IsZero() {
		t.Fatalf("first notification = %+v", all[0])
	}
	if _, _, err := s.ListNotifications(ctx, "og-mette", store.NotificationFilter{After: "nonsense"}); !errors.Is(err, store.ErrBadCursor) {
		t.Fatalf("bad cursor: %v, want ErrBadCursor", err)
	}

	if err := s.MarkNotificationRead(ctx, "og-mette", all[1].ID); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkNotificationRead(ctx, "og-mette", all[1].ID); err != nil {
		t.Fatalf("marking it read again: %v", err)
	}
	if err := s.MarkNotificationRead(ctx, "bs-hanne", all[0].ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Hanne marks Mette's notification: %v, want ErrNotFound", err)
	}
	if err := s.MarkNotificationRead(ctx, "og-mette", 1<<40); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an unknown notification: %v, want ErrNotFound", err)
	}
	if n, err := s.CountUnread(ctx, "og-mette"); err != nil || n != 4 {
		t.Fatalf("Mette's unread = %d, %v; want 4", n, err)
	}
	unread, _, err := s.ListNotifications(ctx, "og-mette", store.NotificationFilter{Unread: true})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{6, 4, 3, 2}, seqs(unread)); diff != "" {
		t.Fatalf("unread (-want +got):\n%s", diff)
	}

	if n, err := s.MarkAllNotificationsRead(ctx, "og-mette"); err != nil || n != 4 {
		t.Fatalf("mark all: %d, %v; want 4", n, err)
	}
	if n, err := s.CountUnread(ctx, "og-mette"); err != nil || n != 0 {
		t.Fatalf("Mette's unread after marking all = %d, %v", n, err)
	}
	if n, err := s.CountUnread(ctx, "bs-hanne"); err != nil || n != 5 {
		t.Fatalf("Hanne's unread = %d, %v; want 5 (Mette's marking is hers alone)", n, err)
	}

	for name, q := range map[string]string{
		"title":  `UPDATE notifications SET title = 'Noget andet' WHERE user_id = 'bs-hanne'`,
		"user":   `UPDATE notifications SET user_id = 'og-mette' WHERE user_id = 'bs-hanne'`,
		"delete": `DELETE FROM notifications WHERE user_id = 'bs-hanne'`,
	} {
		if _, err := s.DB().ExecContext(ctx, q); err == nil {
			t.Errorf("%s: the database allowed %s", name, q)
		}
	}
}
