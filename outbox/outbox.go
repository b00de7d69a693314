// Package outbox delivers messages that transactions left in the outbox table: today the finance webhooks for
// released and paid tranches. A message is written in the same transaction as the money movement it announces,
// so none is lost and none is sent for a movement that rolled back; delivery is at least once, and each POST
// carries the message's unique key as Idempotency-Key so the receiver can drop repeats.
package outbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/helhedsplan/helhedsplan/store"
)

// Store is the outbox table (implemented by *store.Store).
type Store interface {
	ClaimOutbox(ctx context.Context, limit int, lease time.Duration) ([]store.OutboxMessage, error)
	MarkOutboxDelivered(ctx context.Context, id int64) error
	MarkOutboxFailed(ctx context.Context, id int64, errText string, retryAt time.Time) error
}

// Headers of a webhook request.
const (
	HeaderTopic     = "X-Helhedsplan-Topic"
	HeaderTimestamp = "X-Helhedsplan-Timestamp"
	// HeaderSignature is "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)).
	HeaderSignature = "X-Helhedsplan-Signature"
)

// Dispatcher polls the outbox and POSTs each message to URL.
type Dispatcher struct {
	Store    Store
	URL      string
	Secret   []byte
	Client   *http.Client
	Log      *slog.Logger
	Interval time.Duration // how often to look for new messages; default 1 s
	Batch    int           // messages per claim; default 20
	Now      func() time.Time
}

// Run delivers until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) error {
	interval := d.Interval
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := d.DeliverOnce(ctx)
		if err != nil && ctx.Err() == nil {
			d.Log.Error("outbox: claim failed", "error", err)
		}
		if n > 0 {
			continue // there may be more waiting
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// DeliverOnce claims one batch and tries to deliver it. It returns how many messages it claimed.
func (d *Dispatcher) DeliverOnce(ctx context.Context) (int, error) {
	batch := d.Batch
	if batch <= 0 {
		batch = 20
	}
	// The lease must outlast one delivery attempt, so two dispatchers never send the same message at once.
	msgs, err := d.Store.ClaimOutbox(ctx, batch, 2*time.Minute)
	if err != nil {
		return 0, err
	}
	for _, m := range msgs {
		if err := d.deliver(ctx, m); err != nil {
			retry := d.now().Add(Backoff(m.Attempts))
			d.Log.Warn("outbox: delivery failed", "topic", m.Topic, "key", m.Key, "attempt", m.Attempts, "retry_at", retry, "error", err)
			if err := d.Store.MarkOutboxFailed(ctx, m.ID, err.Error(), retry); err != nil {
				return len(msgs), err
			}
			continue
		}
		if err := d.Store.MarkOutboxDelivered(ctx, m.ID); err != nil {
			return len(msgs), err
		}
		d.Log.Info("outbox: delivered", "topic", m.Topic, "key", m.Key, "attempt", m.Attempts)
	}
	return len(msgs), nil
}

func (d *Dispatcher) deliver(ctx context.Context, m store.OutboxMessage) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(m.Payload))
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(d.now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", m.Key)
	req.Header.Set(HeaderTopic, m.Topic)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(d.Secret, ts, m.Payload))
	client := d.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Sign computes the signature header value for a body sent at timestamp ts (Unix seconds).
func Sign(secret []byte, ts string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Backoff is the wait after the given number of failed attempts: 2^attempts seconds, at most 10 minutes.
func Backoff(attempts int) time.Duration {
	if attempts > 9 {
		return 10 * time.Minute
	}
	d := time.Duration(1<<max(attempts, 0)) * time.Second
	return min(d, 10*time.Minute)
}
