package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
)

func TestIdempotency(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	req := store.IdempotencyRecord{UserID: "og-mette", Key: "k-1", Method: "POST", Path: "/plans/viborg-2021-2025/initiatives",
		RequestHash: []byte("hash-of-body-1")}
	ignoreTimes := cmpopts.IgnoreFields(store.IdempotencyRecord{}, "CreatedAt", "CompletedAt")
	status, ctype := 201, "application/json"

	// The steps build on each other, in order.
	steps := []struct {
		name string
		do   func() (*store.IdempotencyRecord, error)
		want *store.IdempotencyRecord
	}{
		{name: "first_request_claims_the_key", do: func() (*store.IdempotencyRecord, error) { return s.BeginIdempotent(ctx, req) }},
		{name: "repeat_while_running_sees_in_progress", do: func() (*store.IdempotencyRecord, error) { return s.BeginIdempotent(ctx, req) },
			want: &req},
		{name: "repeat_after_completion_gets_response_to_replay", do: func() (*store.IdempotencyRecord, error) {
			if err := s.CompleteIdempotent(ctx, req.UserID, req.Key, status, ctype, []byte(`{"id":"x"}`)); err != nil {
				return nil, err
			}
			return s.BeginIdempotent(ctx, req)
		}, want: &store.IdempotencyRecord{UserID: req.UserID, Key: req.Key, Method: req.Method, Path: req.Path,
			RequestHash: req.RequestHash, Status: &status, ContentType: &ctype, Body: []byte(`{"id":"x"}`)}},
		{name: "abandon_keeps_a_completed_record", do: func() (*store.IdempotencyRecord, error) {
			if err := s.AbandonIdempotent(ctx, req.UserID, req.Key); err != nil {
				return nil, err
			}
			other := req
			other.RequestHash = []byte("hash-of-another-body")
			return s.BeginIdempotent(ctx, other) // the caller compares hashes and answers 422
		}, want: &store.IdempotencyRecord{UserID: req.UserID, Key: req.Key, Method: req.Method, Path: req.Path,
			RequestHash: req.RequestHash, Status: &status, ContentType: &ctype, Body: []byte(`{"id":"x"}`)}},
		{name: "same_key_of_another_user_is_separate", do: func() (*store.IdempotencyRecord, error) {
			other := req
			other.UserID = "og-ahmed"
			return s.BeginIdempotent(ctx, other)
		}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			got, err := st.do()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(st.want, got, ignoreTimes); diff != "" {
				t.Errorf("existing record (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("abandoned_key_can_be_claimed_again", func(t *testing.T) {
		r := req
		r.Key = "k-abandon"
		if got, err := s.BeginIdempotent(ctx, r); err != nil || got != nil {
			t.Fatalf("Begin = %+v, %v", got, err)
		}
		if err := s.AbandonIdempotent(ctx, r.UserID, r.Key); err != nil {
			t.Fatal(err)
		}
		if got, err := s.BeginIdempotent(ctx, r); err != nil || got != nil {
			t.Fatalf("Begin after abandon = %+v, %v; want a fresh claim", got, err)
		}
	})

	t.Run("complete_without_claim_not_found", func(t *testing.T) {
		if err := s.CompleteIdempotent(ctx, req.UserID, "never-begun", 200, "text/plain", nil); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Complete = %v, want ErrNotFound", err)
		}
	})

	t.Run("expired_record_is_forgotten", func(t *testing.T) {
		r := req
		r.Key = "k-old"
		if _, err := s.BeginIdempotent(ctx, r); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DB().ExecContext(ctx, `UPDATE idempotency_keys SET created_at = now() - interval '25 hours'
			WHERE key = 'k-old'`); err != nil {
			t.Fatal(err)
		}
		if got, err := s.BeginIdempotent(ctx, r); err != nil || got != nil {
			t.Fatalf("Begin on a 25-hour-old key = %+v, %v; want a fresh claim", got, err)
		}
	})

	t.Run("unfinished_claim_of_a_dead_request_is_taken_over_after_the_lease", func(t *testing.T) {
		r := req
		r.Key = "k-dead"
		if _, err := s.BeginIdempotent(ctx, r); err != nil {
			t.Fatal(err)
		}
		if got, err := s.BeginIdempotent(ctx, r); err != nil || got == nil || got.Status != nil {
			t.Fatalf("Begin while the first runs = %+v, %v; want the in-progress record", got, err)
		}
		if _, err := s.DB().ExecContext(ctx, `UPDATE idempotency_keys SET created_at = now() - interval '3 minutes'
			WHERE key = 'k-dead'`); err != nil {
			t.Fatal(err)
		}
		if got, err := s.BeginIdempotent(ctx, r); err != nil || got != nil {
			t.Fatalf("Begin after the lease = %+v, %v; want a fresh claim", got, err)
		}
	})

	t.Run("completed_record_outlives_the_lease", func(t *testing.T) {
		r := req
		r.Key = "k-done"
		if _, err := s.BeginIdempotent(ctx, r); err != nil {
			t.Fatal(err)
		}
		if err := s.CompleteIdempotent(ctx, r.UserID, r.Key, 201, "application/json", []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DB().ExecContext(ctx, `UPDATE idempotency_keys SET created_at = now() - interval '3 hours'
			WHERE key = 'k-done'`); err != nil {
			t.Fatal(err)
		}
		if got, err := s.BeginIdempotent(ctx, r); err != nil || got == nil || got.Status == nil || *got.Status != 201 {
			t.Fatalf("Begin on a completed 3-hour-old key = %+v, %v; want the stored answer", got, err)
		}
	})

	t.Run("purge_deletes_older_records", func(t *testing.T) {
		before := count(t, s, `SELECT count(*) FROM idempotency_keys`)
		n, err := s.PurgeIdempotency(ctx, time.Now().Add(time.Minute))
		if err != nil || n != int64(before) || before == 0 {
			t.Fatalf("Purge = %d, %v; want %d", n, err, before)
		}
	})
}
