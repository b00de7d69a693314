package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/helhedsplan/helhedsplan/internal/lifecycle"
	"github.com/helhedsplan/helhedsplan/internal/stack"
	"github.com/helhedsplan/helhedsplan/outbox"
)

type webhookCall struct {
	topic, key string
	body       map[string]any
}

// TestFinanceIsNotifiedBySignedWebhooks checks what finance's system receives: a signed POST when a tranche is
// released and another when it is paid, each once, with the disbursement's figures.
func TestFinanceIsNotifiedBySignedWebhooks(t *testing.T) {
	const secret = "whsec-e2e"
	var mu sync.Mutex
	var calls []webhookCall
	failFirst := true
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		if err := outbox.Verify([]byte(secret), r.Header, raw, time.Now(), 5*time.Minute); err != nil {
			t.Errorf("webhook with a bad signature: %s", raw)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if failFirst { // the finance system is briefly down: the message must come again
			failFirst = false
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		var body map[string]any
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Errorf("webhook body is not JSON: %s", raw)
		}
		calls = append(calls, webhookCall{topic: r.Header.Get(outbox.HeaderTopic), key: r.Header.Get("Idempotency-Key"), body: body})
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	e := newEnv(t, stack.Options{WebhookURL: receiver.URL, WebhookSecret: secret})
	ctx := context.Background()
	in, err := e.driver.Propose(ctx, lifecycle.Sample("Webhook", 1, 8_000_000, 2_000_000))
	if err != nil {
		t.Fatal(err)
	}
	if in, err = e.driver.Act(ctx, in.ID, "/decision", "", e.driver.Tokens.Board, map[string]string{"outcome": "approve"}); err != nil {
		t.Fatal(err)
	}
	disb := in.Milestones[0].DisbursementID
	if err := e.driver.Confirm(ctx, disb, "NETS-77"); err != nil {
		t.Fatal(err)
	}

	deadline := time.Now().Add(15 * time.Second) // the failed first delivery is retried after its 2 s backoff
	for {
		mu.Lock()
		n := len(calls)
		mu.Unlock()
		if n >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 2 {
		t.Fatalf("webhooks received: %+v, want released and paid", calls)
	}
	byTopic := map[string]webhookCall{}
	for _, c := range calls {
		byTopic[c.topic] = c
	}
	rel, paid := byTopic["disbursement.released"], byTopic["disbursement.paid"]
	if rel.key != "disbursement.released/"+disb || rel.body["disbursement_id"] != disb || rel.body["total_ore"] != float64(10_000_000) {
		t.Errorf("released webhook = %+v", rel)
	}
	if paid.key != "disbursement.paid/"+disb || paid.body["reference"] != "NETS-77" {
		t.Errorf("paid webhook = %+v", paid)
	}
	// The dispatcher marks a message delivered after the receiver's answer, so the last mark may trail the call.
	undelivered := func() int { return e.count(`SELECT count(*) FROM outbox WHERE delivered_at IS NULL`) }
	for end := time.Now().Add(5 * time.Second); undelivered() != 0 && time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond)
	}
	if n := undelivered(); n != 0 {
		t.Errorf("undelivered outbox messages: %d", n)
	}
}
