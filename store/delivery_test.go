package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
)

func TestWebhookDeliveryCountsFinanceMessages(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	type row struct {
		topic, key string
		attempts   int
		lastError  *string
		created    time.Time
		delivered  *time.Time
		next       time.Time
	}
	str := func(s string) *string { return &s }
	tm := func(t time.Time) *time.Time { return &t }
	rows := []row{
		// released: two delivered (one after a failure), one waiting untried, two failing.
		{"disbursement.released", "r1", 1, nil, at(0), tm(at(1)), at(0)},
		{"disbursement.released", "r2", 3, str("old failure"), at(5), tm(at(20)), at(10)},
		{"disbursement.released", "r3", 2, str("webhook answered 502 Bad Gateway"), at(30), nil, at(40)},
		{"disbursement.released", "r4", 5, str(`Post "https://fin:hemmelig@erp.example.dk/hook?token=abc": dial tcp: connection refused`), at(35), nil, at(60)},
		{"disbursement.released", "r5", 0, nil, at(50), nil, at(50)},
		// paid: one delivered, one waiting untried.
		{"disbursement.paid", "p1", 1, nil, at(2), tm(at(3)), at(2)},
		{"disbursement.paid", "p2", 0, nil, at(10), nil, at(10)},
		// e-mails are not the finance webhook's: failing and old, they must not count.
		{"notification.email", "n1", 9, str("smtp down"), at(-600), nil, at(70)},
		{"notification.email", "n2", 1, nil, at(-500), tm(at(-499)), at(-500)},
	}
	for _, r := range rows {
		const q = `
			INSERT INTO outbox (topic, key, payload, attempts, last_error, created_at, delivered_at, next_attempt_at)
			VALUES ($1, $2, '{}', $3, $4, $5, $6, $7)`
		if _, err := s.DB().ExecContext(ctx, q, r.topic, r.key, r.attempts, r.lastError, r.created, r.delivered, r.next); err != nil {
			t.Fatal(err)
		}
	}

	got, err := s.WebhookDelivery(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lastErr := "Post \"https://erp.example.dk/…\": dial tcp: connection refused"
	want := store.WebhookDelivery{
		Overall: store.DeliveryStats{Delivered: 3, Waiting: 4, Retrying: 2, OldestWaitingAt: tm(at(10)),
			FailingSince: tm(at(30)), LastError: lastErr, LastDeliveredAt: tm(at(20))},
		Topics: []store.DeliveryStats{
			{Topic: "disbursement.paid", Delivered: 1, Waiting: 1, OldestWaitingAt: tm(at(10)), LastDeliveredAt: tm(at(3))},
			{Topic: "disbursement.released", Delivered: 2, Waiting: 3, Retrying: 2, OldestWaitingAt: tm(at(30)),
				FailingSince: tm(at(30)), LastError: lastErr, LastDeliveredAt: tm(at(20))},
		},
	}
	if d := cmp.Diff(want, got, cmpopts.IgnoreUnexported(store.DeliveryStats{}),
		cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); d != "" {
		t.Fatalf("delivery state (-want +got):\n%s", d)
	}
	if age := got.Overall.BacklogAge(at(25)); age != 15*time.Minute {
		t.Fatalf("backlog age at +25m = %s, want 15m", age)
	}
	if strings.Contains(got.Overall.LastError, "hemmelig") || strings.Contains(got.Overall.LastError, "token") {
		t.Fatalf("last error shows credentials: %q", got.Overall.LastError)
	}
}

func TestWebhookDeliveryEmptyOutbox(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	got, err := s.WebhookDelivery(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if got.Overall.Delivered+got.Overall.Waiting != 0 || len(got.Topics) != 0 || got.Overall.BacklogAge(time.Now()) != 0 {
		t.Fatalf("empty outbox gives %+v", got)
	}
}

func TestShortenDeliveryError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in, want string }{
		{"user_info_path_and_query_dropped", `Post "https://u:p@ss@erp.dk:8443/hooks/SECRET?k=1": EOF`, `Post "https://erp.dk:8443/…": EOF`},
		{"plain_text_kept", "webhook answered 500 Internal Server Error", "webhook answered 500 Internal Server Error"},
		{"white_space_collapsed", "a\n\n  b\tc", "a b c"},
		{"long_text_cut", strings.Repeat("æ", 300), strings.Repeat("æ", 199) + "…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := store.ShortenDeliveryError(tc.in); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
