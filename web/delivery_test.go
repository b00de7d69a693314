package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/web"
)

// addOutbox writes one outbox message as the dispatcher would have left it.
func addOutbox(t *testing.T, st *store.Store, topic, key string, attempts int, lastError string, created time.Time, delivered *time.Time) {
	t.Helper()
	var errText *string
	if lastError != "" {
		errText = &lastError
	}
	const q = `
		INSERT INTO outbox (topic, key, payload, attempts, last_error, created_at, delivered_at, next_attempt_at)
		VALUES ($1, $2, '{}', $3, $4, $5, $6, $5)`
	if _, err := st.DB().ExecContext(context.Background(), q, topic, key, attempts, errText, created, delivered); err != nil {
		t.Fatal(err)
	}
}

func TestFinancePageShowsWebhookDelivery(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) // 11.00 in Copenhagen
	at := func(min int) time.Time { return now.Add(time.Duration(min) * time.Minute) }
	delivered := at(-120)

	t.Run("late_backlog_warns_finance", func(t *testing.T) {
		a := newApp(t, web.Config{DevSignIn: true, Now: func() time.Time { return now }})
		addOutbox(t, a.st, "disbursement.released", "r1", 1, "", at(-121), &delivered)
		addOutbox(t, a.st, "disbursement.released", "r2", 4,
			`Post "https://fin:hemmelig@erp.example.dk/hook?token=abc": dial tcp: connection refused`, at(-25), nil)
		addOutbox(t, a.st, "disbursement.paid", "p1", 0, "", at(-10), nil)
		addOutbox(t, a.st, "notification.email", "n1", 7, "smtp down", at(-600), nil) // not finance's
		b := a.browser()
		b.signInAs("fin-peter")
		p := b.get("/oekonomi")
		if p.status != http.StatusOK {
			t.Fatalf("Økonomi: %d", p.status)
		}
		mustContain(t, p, `data-testid="delivery-late"`,
			"Betalingsbeskeder til økonomisystemet er forsinket: ældste venter siden 02.03.2026 kl. 10.35 (25 min.).",
			"Leveringen fejler siden 02.03.2026 kl. 10.35: Post &#34;https://erp.example.dk/…&#34;: dial tcp: connection refused",
			"Der advares, når den ældste har ventet 15 min.",
			"1 leveret, 2 venter, heraf 1 der prøves igen efter fejl. Senest leveret 02.03.2026 kl. 09.00.",
			"<td>Frigivne rater</td>", "<td>Betalte rater</td>")
		for _, secret := range []string{"hemmelig", "token=abc", "smtp down"} {
			if strings.Contains(p.body, secret) {
				t.Errorf("page shows %q", secret)
			}
		}
		if strings.Contains(p.body, `data-testid="delivery-unseen"`) {
			t.Error("a webhook that has delivered is called unconfigured")
		}
	})

	t.Run("young_backlog_is_not_flagged", func(t *testing.T) {
		a := newApp(t, web.Config{DevSignIn: true, Now: func() time.Time { return now }, WebhookBacklogAlert: time.Hour})
		addOutbox(t, a.st, "disbursement.released", "r1", 1, "", at(-121), &delivered)
		addOutbox(t, a.st, "disbursement.paid", "p1", 1, "webhook answered 503 Service Unavailable", at(-25), nil)
		b := a.browser()
		b.signInAs("adm-karen")
		p := b.get("/oekonomi")
		mustContain(t, p, `data-testid="webhook-delivery"`, "1 leveret, 1 venter, heraf 1 der prøves igen efter fejl.",
			"02.03.2026 kl. 10.35 (25 min.)", "webhook answered 503 Service Unavailable")
		if strings.Contains(p.body, `data-testid="delivery-late"`) {
			t.Error("25 minutes of backlog flagged with an hour allowed")
		}
	})

	t.Run("never_delivered_says_no_webhook", func(t *testing.T) {
		a := newApp(t, web.Config{DevSignIn: true, Now: func() time.Time { return now }})
		addOutbox(t, a.st, "disbursement.released", "r1", 0, "", at(-3*24*60), nil)
		b := a.browser()
		b.signInAs("fin-peter")
		p := b.get("/oekonomi")
		mustContain(t, p, `data-testid="delivery-late"`, "(3 dage)", `data-testid="delivery-unseen"`,
			"Ingen betalingsbesked er nogensinde leveret eller forsøgt leveret")
	})

	t.Run("board_sees_no_delivery_state", func(t *testing.T) {
		a := newApp(t, web.Config{DevSignIn: true, Now: func() time.Time { return now }})
		addOutbox(t, a.st, "disbursement.released", "r1", 0, "", at(-60), nil)
		b := a.browser()
		b.signInAs("bs-hanne")
		p := b.get("/oekonomi")
		if p.status != http.StatusOK {
			t.Fatalf("Økonomi for the board: %d", p.status)
		}
		if strings.Contains(p.body, `data-testid="webhook-delivery"`) || strings.Contains(p.body, `data-testid="delivery-late"`) {
			t.Error("the board sees the webhook delivery state")
		}
	})
}
