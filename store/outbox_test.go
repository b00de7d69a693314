package store_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
)

// fillOutbox writes n due messages straight into the table: the outbox does not care what they announce.
func fillOutbox(t *testing.T, s *store.Store, n int) {
	t.Helper()
	const q = `
		INSERT INTO outbox (topic, key, payload)
		SELECT 'test', 'test/' || g, jsonb_build_object('n', g)
		FROM generate_series(1, $1::int) AS g`
	if _, err := s.DB().ExecContext(ctxT(t), q, n); err != nil {
		t.Fatal(err)
	}
}

func TestClaimOutbox(t *testing.T) {
	t.Parallel()

	t.Run("two_claimers_never_get_the_same_message", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		ctx := ctxT(t)
		const n = 60
		fillOutbox(t, s, n)
		var got [2][]int64
		claimer := func(i int) func() error {
			return func() error {
				for {
					msgs, err := s.ClaimOutbox(ctx, 3, time.Hour)
					if err != nil {
						return err
					}
					if len(msgs) == 0 {
						return nil
					}
					for _, m := range msgs {
						got[i] = append(got[i], m.ID)
					}
				}
			}
		}
		for _, err := range parallel(claimer(0), claimer(1)) {
			if err != nil {
				t.Fatal(err)
			}
		}
		all := append(slices.Clone(got[0]), got[1]...)
		slices.Sort(all)
		if len(all) != n || len(slices.Compact(slices.Clone(all))) != n {
			t.Fatalf("claimed %d messages (%d + %d), %d distinct; want each of %d exactly once",
				len(all), len(got[0]), len(got[1]), len(slices.Compact(all)), n)
		}
		if n, err := s.OutboxBacklog(ctx); err != nil || n != 60 {
			t.Errorf("backlog = %d, %v; claimed but undelivered messages still count", n, err)
		}
	})

	t.Run("failed_message_comes_back_when_due", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		ctx := ctxT(t)
		fillOutbox(t, s, 2)
		first, err := s.ClaimOutbox(ctx, 10, time.Hour)
		if err != nil || len(first) != 2 || first[0].ID > first[1].ID || first[0].Attempts != 1 {
			t.Fatalf("first claim = %+v, %v", first, err)
		}
		if again, _ := s.ClaimOutbox(ctx, 10, time.Hour); len(again) != 0 {
			t.Fatalf("leased messages claimed again: %+v", again)
		}
		if err := s.MarkOutboxDelivered(ctx, first[0].ID); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkOutboxFailed(ctx, first[1].ID, "502 Bad Gateway", time.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		retry, err := s.ClaimOutbox(ctx, 10, time.Hour)
		if err != nil || len(retry) != 1 {
			t.Fatalf("retry claim = %+v, %v; want the failed message only", retry, err)
		}
		m := retry[0]
		if m.ID != first[1].ID || m.Attempts != 2 || m.LastError == nil || *m.LastError != "502 Bad Gateway" ||
			!m.NextAttemptAt.After(time.Now().Add(50*time.Minute)) {
			t.Errorf("retried message = %+v", m)
		}
		if n, err := s.OutboxBacklog(ctx); err != nil || n != 1 {
			t.Errorf("backlog = %d, %v; want 1", n, err)
		}
	})

	t.Run("not_yet_due_message_waits", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		ctx := ctxT(t)
		fillOutbox(t, s, 1)
		msgs, _ := s.ClaimOutbox(ctx, 1, time.Hour)
		if err := s.MarkOutboxFailed(ctx, msgs[0].ID, "timeout", time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got, err := s.ClaimOutbox(ctx, 1, time.Hour); err != nil || len(got) != 0 {
			t.Errorf("claimed a message due in an hour: %+v, %v", got, err)
		}
	})

	t.Run("unknown_message_not_found", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t)
		if err := s.MarkOutboxDelivered(ctxT(t), 4711); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("MarkOutboxDelivered(4711) = %v, want ErrNotFound", err)
		}
		if err := s.MarkOutboxFailed(ctxT(t), 4711, "x", time.Now()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("MarkOutboxFailed(4711) = %v, want ErrNotFound", err)
		}
	})
}
