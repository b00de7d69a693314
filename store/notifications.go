package store

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/helhedsplan/helhedsplan/domain"
)

// TopicNotificationEmail is the outbox topic of a notification's e-mail (payload NotificationEmail). The outbox
// dispatcher sends it by SMTP; it never goes to the finance webhook.
const TopicNotificationEmail = "notification.email"

// Bounds of a notification's text; migration 00010 checks the same (in characters).
const (
	MaxNotificationTitle = 200
	MaxNotificationBody  = 4000
)

// NotificationEmail is the payload of a TopicNotificationEmail message: everything the sender needs, fixed when
// the step committed, so the mail says what the in-app notification says even if the user's name changes later.
type NotificationEmail struct {
	NotificationID int64  `json:"notification_id"`
	To             string `json:"to"`   // the recipient's address
	Name           string `json:"name"` // the recipient's name
	Subject        string `json:"subject"`
	Body           string `json:"body"` // plain text, Danish, with the path of the initiative's page
	PlanID         string `json:"plan_id"`
	InitiativeID   string `json:"initiative_id"`
}

// NotificationFilter selects one page of a user's notifications, newest first.
type NotificationFilter struct {
	Unread bool   // only those not yet read
	After  string // opaque cursor: the next page after the one that returned it
	Limit  int    // 1..MaxPageSize, default DefaultPageSize
}

// notify stores a step's notifications inside the step's transaction, after the events they belong to.
//
// Each input goes to its audience as it is now: the members of the input's plan named in UserIDs plus every
// member with one of Roles, each once. A user ID that is not a member of the plan (unknown, or removed from the
// plan) is skipped without an error: the step is about the initiative, and a stale audience must not stop it.
//
// A rerun of the step writes nothing twice: a recipient who already has this event's notification of this kind
// keeps the one stored, and gets no second e-mail. Its text is not compared with the rerun's, on purpose: a rerun
// in a later workflow task may render times differently, and what the user was already shown (and perhaps
// mailed) is what counts. Each new notification whose recipient has an e-mail address queues one
// TopicNotificationEmail message with key notification/<id>.
func notify(ctx context.Context, tx *sqlx.Tx, in []NotifyInput) error {
	for _, n := range in {
		if err := checkNotify(n); err != nil {
			return err
		}
		roles := make([]string, len(n.Audience.Roles))
		for i, r := range n.Audience.Roles {
			roles[i] = string(r)
		}
		// One statement expands the audience, inserts what is new and returns the recipients of the new rows.
		// Ordered by user, so two transactions notifying the same people take their row locks in one order.
		const q = `
			WITH audience AS (
				SELECT m.user_id -- each member once: (plan_id, user_id) is plan_members' key
				FROM plan_members m
				WHERE m.plan_id = $1 AND (m.user_id = ANY($7::text[]) OR m.role = ANY($8::text[]))
			), inserted AS (
				INSERT INTO notifications (plan_id, user_id, initiative_id, seq, kind, title, body)
				SELECT $1, a.user_id, $2, $3, $4, $5, $6
				FROM audience a
				ORDER BY a.user_id
				ON CONFLICT (initiative_id, seq, kind, user_id) DO NOTHING
				RETURNING id, user_id
			)
			SELECT i.id, u.name, u.email
			FROM inserted i
			JOIN users u ON u.id = i.user_id
			ORDER BY i.id`
		var rows []struct {
			ID    int64  `db:"id"`
			Name  string `db:"name"`
			Email string `db:"email"`
		}
		if err := sqlx.SelectContext(ctx, tx, &rows, q, n.PlanID, n.InitiativeID, n.Seq, n.Kind, n.Title, n.Body,
			pq.Array(n.Audience.UserIDs), pq.Array(roles)); err != nil {
			return translate(err, "notify %s v%d (%s)", n.InitiativeID, n.Seq, n.Kind)
		}
		for _, r := range rows {
			to := strings.TrimSpace(r.Email)
			if to == "" {
				continue // the notification is in the app; there is nowhere to mail it
			}
			payload, err := json.Marshal(NotificationEmail{
				NotificationID: r.ID, To: to, Name: r.Name, Subject: n.Title,
				Body: mailBody(r.Name, n.Body, n.InitiativeID), PlanID: n.PlanID, InitiativeID: n.InitiativeID,
			})
			if err != nil {
				return fmt.Errorf("notify %s v%d: e-mail: %w", n.InitiativeID, n.Seq, err)
			}
			if err := enqueue(ctx, tx, TopicNotificationEmail, fmt.Sprintf("notification/%d", r.ID), payload); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkNotify refuses a notification the workflow should never have built; the database checks the same. The
// refusal is a *domain.RuleError, so the step is not retried: the same input would fail the same way forever.
func checkNotify(n NotifyInput) error {
	if err := checkNotifyFields(n); err != nil {
		return domain.Refuse(domain.CodeValidation, "%s", err.Error())
	}
	return nil
}

func checkNotifyFields(n NotifyInput) error {
	switch {
	case n.PlanID == "" || n.InitiativeID == "" || n.Seq < 1:
		return fmt.Errorf("notify: plan, initiative and seq are required, got %q %q v%d", n.PlanID, n.InitiativeID, n.Seq)
	case n.Kind != NotifyReminder && n.Kind != NotifyEscalation && n.Kind != NotifyInfo:
		return fmt.Errorf("notify %s v%d: unknown kind %q", n.InitiativeID, n.Seq, n.Kind)
	case n.Title == "" || utf8.RuneCountInString(n.Title) > MaxNotificationTitle:
		return fmt.Errorf("notify %s v%d: the title must have 1 to %d characters", n.InitiativeID, n.Seq, MaxNotificationTitle)
	case n.Body == "" || utf8.RuneCountInString(n.Body) > MaxNotificationBody:
		return fmt.Errorf("notify %s v%d: the body must have 1 to %d characters", n.InitiativeID, n.Seq, MaxNotificationBody)
	}
	return nil
}

// mailBody is the e-mail's plain text: a greeting, the notification and the path of the initiative's page. The
// path is relative because the service does not know the address it is reached at; the mail says where to find
// the notification in the app as well.
func mailBody(name, body, initiativeID string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Kære %s\n\n", name)
	b.WriteString(strings.TrimSpace(body))
	fmt.Fprintf(&b, "\n\nSe indsatsen i helhedsplan: /indsatser/%s\n\n", url.PathEscape(initiativeID))
	b.WriteString("Denne e-mail er sendt automatisk af helhedsplan. Alle dine notifikationer står under " +
		"Notifikationer, når du er logget ind.\n")
	return b.String()
}

// ListNotifications returns one page of the user's notifications, newest first, and the cursor of the next page
// ("" on the last).
func (s *Store) ListNotifications(ctx context.Context, userID string, f NotificationFilter) ([]Notification, string, error) {
	after, err := decodeCursor(f.After)
	if err != nil {
		return nil, "", err
	}
	if after == 0 {
		after = math.MaxInt64 // the first page: newest first, so every id is below the bound
	}
	limit := pageSize(f.Limit, DefaultPageSize, MaxPageSize)
	// Two statements rather than one with "$2 OR read_at IS NULL", so the unread list always uses the partial
	// index of unread rows.
	const qAll = `
		SELECT id, plan_id, user_id, initiative_id, seq, kind, title, body, created_at, read_at
		FROM notifications
		WHERE user_id = $1 AND id < $2
		ORDER BY id DESC
		LIMIT $3`
	const qUnread = `
		SELECT id, plan_id, user_id, initiative_id, seq, kind, title, body, created_at, read_at
		FROM notifications
		WHERE user_id = $1 AND id < $2 AND read_at IS NULL
		ORDER BY id DESC
		LIMIT $3`
	q := qAll
	if f.Unread {
		q = qUnread
	}
	var rows []Notification
	if err := s.db.SelectContext(ctx, &rows, q, userID, after, limit+1); err != nil {
		return nil, "", translate(err, "list notifications of %s", userID)
	}
	var next string
	if len(rows) > limit {
		rows = rows[:limit]
		next = encodeCursor(rows[limit-1].ID)
	}
	return rows, next, nil
}

// CountUnread counts the user's unread notifications: one index-only count over the unread rows, cheap enough
// for every page's header.
func (s *Store) CountUnread(ctx context.Context, userID string) (int, error) {
	const q = `SELECT count(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL`
	var n int
	if err := s.db.GetContext(ctx, &n, q, userID); err != nil {
		return 0, translate(err, "count unread notifications of %s", userID)
	}
	return n, nil
}

// MarkNotificationRead marks one of the user's notifications read. Marking it again keeps the first time. A
// notification that does not exist or is another user's is ErrNotFound, so nobody learns which IDs exist.
func (s *Store) MarkNotificationRead(ctx context.Context, userID string, id int64) error {
	const q = `
		UPDATE notifications SET read_at = now()
		WHERE id = $1 AND user_id = $2 AND read_at IS NULL`
	res, err := s.db.ExecContext(ctx, q, id, userID)
	if err != nil {
		return translate(err, "mark notification %d read", id)
	}
	n, err := rowsAffected(res, "mark notification read")
	if err != nil {
		return err
	}
	if n == 1 {
		return nil
	}
	const qMine = `SELECT id FROM notifications WHERE id = $1 AND user_id = $2`
	var got int64
	if err := s.db.GetContext(ctx, &got, qMine, id, userID); err != nil {
		return translate(err, "notification %d of %s", id, userID)
	}
	return nil // read before
}

// MarkAllNotificationsRead marks every unread notification of the user read and returns how many it marked.
func (s *Store) MarkAllNotificationsRead(ctx context.Context, userID string) (int, error) {
	const q = `UPDATE notifications SET read_at = now() WHERE user_id = $1 AND read_at IS NULL`
	res, err := s.db.ExecContext(ctx, q, userID)
	if err != nil {
		return 0, translate(err, "mark notifications of %s read", userID)
	}
	n, err := rowsAffected(res, "mark all notifications read")
	return int(n), err
}

// ClaimOutboxTopics is ClaimOutbox for the given topics only: a dispatcher that cannot deliver some topics (no
// finance webhook is configured) leaves their messages waiting, unclaimed and with their attempts untouched,
// instead of leasing them and failing them over and over.
func (s *Store) ClaimOutboxTopics(ctx context.Context, topics []string, limit int, lease time.Duration) ([]OutboxMessage, error) {
	if lease <= 0 {
		return nil, fmt.Errorf("claim outbox: lease must be positive, got %s", lease)
	}
	if len(topics) == 0 {
		return nil, nil
	}
	const q = `
		WITH due AS (
			SELECT id
			FROM outbox
			WHERE delivered_at IS NULL AND next_attempt_at <= now() AND topic = ANY($3::text[])
			ORDER BY next_attempt_at, id
			LIMIT $1
			FOR UPDATE SKIP LOCKED
		)
		UPDATE outbox o
		SET attempts = o.attempts + 1,
		    next_attempt_at = now() + $2::bigint * interval '1 microsecond'
		FROM due
		WHERE o.id = due.id
		RETURNING o.id, o.topic, o.key, o.payload, o.attempts, o.last_error, o.created_at, o.delivered_at,
		          o.next_attempt_at`
	var rows []outboxRow
	if err := s.db.SelectContext(ctx, &rows, q, pageSize(limit, defaultClaim, maxClaim), lease.Microseconds(),
		pq.Array(topics)); err != nil {
		return nil, translate(err, "claim outbox %v", topics)
	}
	out := make([]OutboxMessage, len(rows))
	for i, r := range rows {
		out[i] = r.message()
	}
	slices.SortFunc(out, func(a, b OutboxMessage) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// NotificationKindName is a kind in Danish, as the pages and the API show it.
func NotificationKindName(kind string) string {
	switch kind {
	case NotifyReminder:
		return "Påmindelse"
	case NotifyEscalation:
		return "Eskalering"
	case NotifyInfo:
		return "Orientering"
	}
	return kind
}
