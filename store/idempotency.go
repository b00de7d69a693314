package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// IdempotencyTTL is how long an Idempotency-Key is remembered. A client retrying later than this starts afresh;
// older rows are expired lazily by BeginIdempotent and in bulk by PurgeIdempotency.
const IdempotencyTTL = 24 * time.Hour

// IdempotencyLease is how long an unfinished claim holds its key. A request that has not completed by then died
// with its process (the API gives up on a request long before), so a retry may take the key over: the work it
// redoes is deduplicated below (the same workflow update ID, the same derived initiative ID).
const IdempotencyLease = 2 * time.Minute

// BeginIdempotent claims (user, key) for a request that is about to run and returns nil. If the key is already
// claimed it returns the existing record instead and claims nothing; the caller decides: another request hash
// means the key was reused for a different request (422), a nil Status means the first request is still running
// (409), anything else is a response to replay. A record older than IdempotencyTTL, or an unfinished one older
// than IdempotencyLease, is discarded first.
func (s *Store) BeginIdempotent(ctx context.Context, r IdempotencyRecord) (existing *IdempotencyRecord, err error) {
	if r.UserID == "" || r.Key == "" {
		return nil, fmt.Errorf("begin idempotent request: user and key are required")
	}
	const qExpire = `
		DELETE FROM idempotency_keys
		WHERE user_id = $1 AND key = $2
		  AND (created_at < now() - $3::bigint * interval '1 microsecond'
		       OR (status IS NULL AND created_at < now() - $4::bigint * interval '1 microsecond'))`
	const qInsert = `
		INSERT INTO idempotency_keys (user_id, key, method, path, request_hash)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_id, key) DO NOTHING`
	const qGet = `
		SELECT user_id, key, method, path, request_hash, status, content_type, body, created_at, completed_at
		FROM idempotency_keys
		WHERE user_id = $1 AND key = $2`
	// The row found on conflict may be abandoned or expired before we read it; then claim again. Three rounds are
	// plenty: each lost round means another request finished in between.
	for range 3 {
		if _, err := s.db.ExecContext(ctx, qExpire, r.UserID, r.Key, IdempotencyTTL.Microseconds(), IdempotencyLease.Microseconds()); err != nil {
			return nil, translate(err, "expire idempotency key")
		}
		hash := r.RequestHash
		if hash == nil {
			hash = []byte{}
		}
		res, err := s.db.ExecContext(ctx, qInsert, r.UserID, r.Key, r.Method, r.Path, hash)
		if err != nil {
			return nil, translate(err, "begin idempotent request")
		}
		n, err := rowsAffected(res, "begin idempotent request")
		if err != nil {
			return nil, err
		}
		if n == 1 {
			return nil, nil
		}
		var got IdempotencyRecord
		err = s.db.GetContext(ctx, &got, qGet, r.UserID, r.Key)
		if err == nil {
			return &got, nil
		}
		if err = translate(err, "read idempotency key"); !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("begin idempotent request: the key keeps changing hands: %w", ErrConflict)
}

// CompleteIdempotent stores the response of the request that claimed (user, key), for replay. Completing a key
// that is not in progress is ErrNotFound: the caller's claim was lost (abandoned or expired).
func (s *Store) CompleteIdempotent(ctx context.Context, userID, key string, status int, contentType string, body []byte) error {
	const q = `
		UPDATE idempotency_keys
		SET status = $3, content_type = $4, body = $5, completed_at = now()
		WHERE user_id = $1 AND key = $2 AND status IS NULL`
	res, err := s.db.ExecContext(ctx, q, userID, key, status, contentType, body)
	if err != nil {
		return translate(err, "complete idempotent request")
	}
	n, err := rowsAffected(res, "complete idempotent request")
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("complete idempotent request: no request in progress under this key: %w", ErrNotFound)
	}
	return nil
}

// AbandonIdempotent releases a claim whose request failed with a server error, so the client's retry runs
// instead of being told "still in progress" for a day. A completed record is kept; abandoning twice is harmless.
func (s *Store) AbandonIdempotent(ctx context.Context, userID, key string) error {
	const q = `DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND status IS NULL`
	if _, err := s.db.ExecContext(ctx, q, userID, key); err != nil {
		return translate(err, "abandon idempotent request")
	}
	return nil
}

// PurgeIdempotency deletes records created before olderThan (normally now minus IdempotencyTTL) and says how
// many went.
func (s *Store) PurgeIdempotency(ctx context.Context, olderThan time.Time) (int64, error) {
	const q = `DELETE FROM idempotency_keys WHERE created_at < $1`
	res, err := s.db.ExecContext(ctx, q, olderThan)
	if err != nil {
		return 0, translate(err, "purge idempotency keys")
	}
	return rowsAffected(res, "purge idempotency keys")
}
