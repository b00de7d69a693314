package store

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
)

// Claim bounds. A claimer that asks for more than maxClaim gets maxClaim: a dispatcher should work in small
// batches so a crash leaves few messages waiting for their lease to run out.
const (
	defaultClaim = 10
	maxClaim     = 1000
	// maxErrorLen caps a stored delivery error; a receiver's HTML error page is not worth keeping whole.
	maxErrorLen = 2000
)

// enqueue adds a message to the outbox inside the caller's transaction, so it leaves the system if and only if
// the change it announces commits. The key is unique: enqueueing the same message again does nothing.
func enqueue(ctx context.Context, tx *sqlx.Tx, topic, key string, payload []byte) error {
	const q = `
		INSERT INTO outbox (topic, key, payload)
		VALUES ($1, $2, $3)
		ON CONFLICT (key) DO NOTHING`
	if _, err := tx.ExecContext(ctx, q, topic, key, payload); err != nil {
		return translate(err, "enqueue %s", key)
	}
	return nil
}

// ClaimOutbox hands up to limit due, undelivered messages to one dispatcher, oldest due first. Each claimed
// message is leased: its next attempt moves to now()+lease, so no other dispatcher takes it meanwhile, and if this
// one dies the message becomes due again when the lease runs out. Rows another dispatcher is claiming right now
// are skipped rather than waited for. Attempts counts claims, so it includes the attempt about to be made.
func (s *Store) ClaimOutbox(ctx context.Context, limit int, lease time.Duration) ([]OutboxMessage, error) {
	if lease <= 0 {
		return nil, fmt.Errorf("claim outbox: lease must be positive, got %s", lease)
	}
	const q = `
		WITH due AS (
			SELECT id
			FROM outbox
			WHERE delivered_at IS NULL AND next_attempt_at <= now()
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
	if err := s.db.SelectContext(ctx, &rows, q, pageSize(limit, defaultClaim, maxClaim), lease.Microseconds()); err != nil {
		return nil, translate(err, "claim outbox")
	}
	out := make([]OutboxMessage, len(rows))
	for i, r := range rows {
		out[i] = r.message()
	}
	// RETURNING has no order; dispatch in the order the messages were written.
	slices.SortFunc(out, func(a, b OutboxMessage) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// MarkOutboxDelivered records that the receiver accepted a message. Marking it twice keeps the first time.
func (s *Store) MarkOutboxDelivered(ctx context.Context, id int64) error {
	const q = `UPDATE outbox SET delivered_at = COALESCE(delivered_at, now()) WHERE id = $1`
	res, err := s.db.ExecContext(ctx, q, id)
	if err != nil {
		return translate(err, "mark outbox %d delivered", id)
	}
	n, err := rowsAffected(res, "mark outbox delivered")
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("outbox message %d: %w", id, ErrNotFound)
	}
	return nil
}

// MarkOutboxFailed records why a delivery failed and when to try again; the dispatcher chooses the backoff. A
// message delivered meanwhile (by a dispatcher whose lease ran out but who still got through) stays delivered.
func (s *Store) MarkOutboxFailed(ctx context.Context, id int64, errText string, retryAt time.Time) error {
	if len(errText) > maxErrorLen {
		cut := maxErrorLen
		for cut > 0 && !utf8.RuneStart(errText[cut]) {
			cut--
		}
		errText = errText[:cut]
	}
	const q = `
		UPDATE outbox
		SET last_error = $2,
		    next_attempt_at = CASE WHEN delivered_at IS NULL THEN $3 ELSE next_attempt_at END
		WHERE id = $1`
	res, err := s.db.ExecContext(ctx, q, id, errText, retryAt)
	if err != nil {
		return translate(err, "mark outbox %d failed", id)
	}
	n, err := rowsAffected(res, "mark outbox failed")
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("outbox message %d: %w", id, ErrNotFound)
	}
	return nil
}

// OutboxBacklog counts undelivered messages, for a metric and an alert: a growing backlog means finance is not
// being told about tranches.
func (s *Store) OutboxBacklog(ctx context.Context) (int, error) {
	const q = `SELECT count(*) FROM outbox WHERE delivered_at IS NULL`
	var n int
	if err := s.db.GetContext(ctx, &n, q); err != nil {
		return 0, translate(err, "outbox backlog")
	}
	return n, nil
}

// outboxRow scans a message; Payload is []byte because database/sql copies the driver's buffer only into *[]byte.
type outboxRow struct {
	ID            int64      `db:"id"`
	Topic         string     `db:"topic"`
	Key           string     `db:"key"`
	Payload       []byte     `db:"payload"`
	Attempts      int        `db:"attempts"`
	LastError     *string    `db:"last_error"`
	CreatedAt     time.Time  `db:"created_at"`
	DeliveredAt   *time.Time `db:"delivered_at"`
	NextAttemptAt time.Time  `db:"next_attempt_at"`
}

func (r outboxRow) message() OutboxMessage {
	return OutboxMessage{ID: r.ID, Topic: r.Topic, Key: r.Key, Payload: json.RawMessage(r.Payload),
		Attempts: r.Attempts, LastError: r.LastError, CreatedAt: r.CreatedAt, DeliveredAt: r.DeliveredAt,
		NextAttemptAt: r.NextAttemptAt}
}
