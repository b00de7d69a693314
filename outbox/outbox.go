// Package outbox delivers messages that transactions left in the outbox table: the finance webhooks for
// released and paid tranches, and the notification e-mails (by SMTP, see mail.go). A message is written in the
// same transaction as the change it announces, so none is lost and none is sent for a change that rolled back;
// delivery is at least once, and each POST carries the message's unique key as Idempotency-Key so the receiver
// can drop repeats (each e-mail, its stable Message-ID).
//
// # The request
//
// Each message is one POST of its JSON payload to the configured URL with these headers:
//
//	Content-Type: application/json
//	Idempotency-Key: <key>                  e.g. disbursement.released/<disbursement>; unique per message
//	X-Helhedsplan-Topic: <topic>            e.g. disbursement.released, disbursement.paid
//	X-Helhedsplan-Timestamp: <unix seconds> when this attempt was sent
//	X-Helhedsplan-Signature: v1=<hex>       hex(HMAC-SHA256(secret, signed string))
//
// The signed string of version v1 covers every header the receiver acts on and the body, each on its own line:
//
//	"v1" LF timestamp LF topic LF key LF body
//
// Timestamp, topic and key are header values and so never contain a line break; the body comes last and may hold
// anything, so the string cannot be read two ways. A receiver checks a request with [Verify], which also refuses
// a timestamp further than the allowed clock skew from its own clock (replays of old requests). The header may
// carry several comma-separated signatures (for example while a secret is rotated); one valid v1 signature is
// enough, and versions a receiver does not know are ignored.
//
// # Delivery
//
// The [Dispatcher] delivers concurrently with a bounded number of workers, each POST with its own timeout, and
// claims only as many messages as it has free workers. A receiver that hangs on one message therefore holds one
// worker until that request times out, while every other message goes on being delivered. A failed message is
// retried after its own backoff (2, 4, 8 ... seconds, at most 10 minutes); other messages are not held back by it.
package outbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
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
	HeaderTopic          = "X-Helhedsplan-Topic"
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderTimestamp      = "X-Helhedsplan-Timestamp"
	// HeaderSignature is SignatureVersion + "=" + hex(HMAC-SHA256(secret, SignedString(...))).
	HeaderSignature = "X-Helhedsplan-Signature"
)

// SignatureVersion names the signed string's layout; it prefixes the signature in HeaderSignature and is the
// first line of the signed string, so a future layout can never verify as this one.
const SignatureVersion = "v1"

// DefaultMaxSkew is how far a request's timestamp may lie from the receiver's clock when Verify is given no skew.
const DefaultMaxSkew = 5 * time.Minute

// Defaults of a Dispatcher.
const (
	DefaultInterval = time.Second
	DefaultWorkers  = 8
	DefaultTimeout  = 30 * time.Second
	// markTimeout bounds recording an outcome; it runs even while the dispatcher stops, so a delivery that got
	// through is not sent again when avoidable.
	markTimeout = 10 * time.Second
)

// Errors Verify returns; a receiver answers each of them with 401 and does not act on the request.
var (
	ErrMissingHeader     = errors.New("webhook: a signed header is missing")
	ErrBadTimestamp      = errors.New("webhook: timestamp is not Unix seconds")
	ErrTimestampSkew     = errors.New("webhook: timestamp is outside the allowed clock skew")
	ErrBadHeaderValue    = errors.New("webhook: a signed header is repeated or contains a line break")
	ErrSignatureMismatch = errors.New("webhook: no valid v1 signature")
)

// Dispatcher polls the outbox and POSTs each message to URL, except notification e-mails, which go to Mail.
type Dispatcher struct {
	Store  Store
	URL    string // the finance webhook; "" leaves finance messages waiting (see claim)
	Secret []byte
	// Mail sends the notification e-mails; nil marks them delivered without sending (see mail.go).
	Mail     *Mailer
	Client   *http.Client  // nil: a client without its own timeout (each request has Timeout)
	Log      *slog.Logger  // nil: no logging
	Interval time.Duration // how often to look for due messages when none are waiting; default 1 s
	Workers  int           // deliveries in flight at once; default 8
	Timeout  time.Duration // per POST, including reading the answer; default 30 s
	// BackoffFunc is the wait before the next attempt after a failure, given the attempts made so far (including
	// the failed one); nil means Backoff.
	BackoffFunc func(attempts int) time.Duration
	Now         func() time.Time
}

// Run delivers until ctx ends, then waits for the deliveries in flight (which ctx aborts) to record their outcome.
// A claim that fails (the database is down) is logged and tried again at the next interval.
func (d *Dispatcher) Run(ctx context.Context) error {
	workers := d.workers()
	interval := d.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()

	var wg sync.WaitGroup
	defer wg.Wait()
	var mu sync.Mutex
	busy := 0
	freed := make(chan struct{}, 1) // a worker finished; wakes a dispatcher that was full

	for {
		mu.Lock()
		free := workers - busy
		mu.Unlock()
		if free == 0 {
			// Every worker is busy (perhaps some with a receiver that hangs): wait for one to finish.
			select {
			case <-ctx.Done():
				return nil
			case <-freed:
			}
			continue
		}
		msgs, err := d.claim(ctx, free)
		if err != nil && ctx.Err() == nil {
			d.log().Error("outbox: claim failed", "error", err)
		}
		mu.Lock()
		busy += len(msgs)
		mu.Unlock()
		for _, m := range msgs {
			wg.Go(func() {
				defer func() {
					mu.Lock()
					busy--
					mu.Unlock()
					select {
					case freed <- struct{}{}:
					default:
					}
				}()
				_ = d.handle(ctx, m) // handle logs what it could not record
			})
		}
		if err == nil && len(msgs) == free {
			continue // there may be more due: claim again as soon as a worker is free
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// DeliverOnce claims up to Workers due messages, delivers them concurrently and waits until each has been
// delivered or scheduled for a retry. It returns how many messages it claimed.
func (d *Dispatcher) DeliverOnce(ctx context.Context) (int, error) {
	msgs, err := d.claim(ctx, d.workers())
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(msgs))
	for i, m := range msgs {
		wg.Go(func() { errs[i] = d.handle(ctx, m) })
	}
	wg.Wait()
	return len(msgs), errors.Join(errs...)
}

// handle delivers one claimed message and records the outcome. It returns an error only when the outcome could
// not be recorded; the message then becomes due again when its lease runs out, and is sent again.
func (d *Dispatcher) handle(ctx context.Context, m store.OutboxMessage) error {
	start := d.now()
	err := d.deliver(ctx, m)
	// The outcome is recorded even if ctx ended meanwhile: a delivery that got through should not be repeated.
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	if s := (*settledError)(nil); errors.As(err, &s) {
		return d.settle(mctx, m, s)
	}
	if err == nil {
		if merr := d.Store.MarkOutboxDelivered(mctx, m.ID); merr != nil {
			d.log().Error("outbox: delivered but not recorded; it will be sent again", "topic", m.Topic, "key", m.Key, "error", merr)
			return merr
		}
		d.log().Info("outbox: delivered", "topic", m.Topic, "key", m.Key, "attempt", m.Attempts,
			"duration", d.now().Sub(start))
		return nil
	}
	retry := d.now().Add(d.backoff(m.Attempts))
	if ctx.Err() != nil {
		// The dispatcher is stopping: not the receiver's fault, so the next dispatcher may try at once.
		retry = d.now()
	}
	if merr := d.Store.MarkOutboxFailed(mctx, m.ID, err.Error(), retry); merr != nil {
		d.log().Error("outbox: failure not recorded", "topic", m.Topic, "key", m.Key, "error", merr)
		return merr
	}
	d.log().Warn("outbox: delivery failed", "topic", m.Topic, "key", m.Key, "attempt", m.Attempts, "retry_at", retry,
		"error", err)
	return nil
}

func (d *Dispatcher) deliver(ctx context.Context, m store.OutboxMessage) error {
	if m.Topic == store.TopicNotificationEmail {
		return d.deliverMail(ctx, m) // never to the webhook
	}
	if d.URL == "" {
		return errNoWebhook
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(m.Payload))
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(d.now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderIdempotencyKey, m.Key)
	req.Header.Set(HeaderTopic, m.Topic)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(d.Secret, ts, m.Topic, m.Key, m.Payload))
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

// lease is how long a claimed message is kept from other dispatchers: longer than one attempt and recording its
// outcome, so two dispatchers never send the same message at once.
func (d *Dispatcher) lease() time.Duration { return d.timeout() + markTimeout + time.Minute }

func (d *Dispatcher) log() *slog.Logger {
	if d.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Log
}

func (d *Dispatcher) workers() int {
	if d.Workers <= 0 {
		return DefaultWorkers
	}
	return d.Workers
}

func (d *Dispatcher) timeout() time.Duration {
	if d.Timeout <= 0 {
		return DefaultTimeout
	}
	return d.Timeout
}

func (d *Dispatcher) backoff(attempts int) time.Duration {
	if d.BackoffFunc != nil {
		return d.BackoffFunc(attempts)
	}
	return Backoff(attempts)
}

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// SignedString is what a v1 signature is computed over: "v1\n" + ts + "\n" + topic + "\n" + key + "\n" + body.
func SignedString(ts, topic, key string, body []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(SignatureVersion) + len(ts) + len(topic) + len(key) + len(body) + 4)
	for _, s := range []string{SignatureVersion, ts, topic, key} {
		b.WriteString(s)
		b.WriteByte('\n')
	}
	b.Write(body)
	return b.Bytes()
}

// Sign computes the HeaderSignature value ("v1=<hex>") for a message sent at ts (Unix seconds, decimal) with the
// given topic, Idempotency-Key and body.
func Sign(secret []byte, ts, topic, key string, body []byte) string {
	return SignatureVersion + "=" + hex.EncodeToString(mac(secret, SignedString(ts, topic, key, body)))
}

func mac(secret, msg []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write(msg)
	return h.Sum(nil)
}

// Verify checks a webhook request as a receiver must before acting on it: the timestamp, topic, Idempotency-Key
// and signature headers are present, the timestamp lies within maxSkew of now (DefaultMaxSkew when maxSkew <= 0),
// and one v1 signature in HeaderSignature matches the body and those headers under secret. The comparison takes
// the same time whatever the signature. It returns one of the Err* values of this package, wrapped.
func Verify(secret []byte, h http.Header, body []byte, now time.Time, maxSkew time.Duration) error {
	if maxSkew <= 0 {
		maxSkew = DefaultMaxSkew
	}
	ts, topic, key, sigs := h.Get(HeaderTimestamp), h.Get(HeaderTopic), h.Get(HeaderIdempotencyKey), h.Values(HeaderSignature)
	for _, hv := range [][2]string{{HeaderTimestamp, ts}, {HeaderTopic, topic}, {HeaderIdempotencyKey, key}} {
		if hv[1] == "" {
			return fmt.Errorf("%w: %s", ErrMissingHeader, hv[0])
		}
		if len(h.Values(hv[0])) > 1 {
			// Which copy would the receiver act on? Only one is signed.
			return fmt.Errorf("%w: %s appears more than once", ErrBadHeaderValue, hv[0])
		}
	}
	if len(sigs) == 0 {
		return fmt.Errorf("%w: %s", ErrMissingHeader, HeaderSignature)
	}
	if strings.ContainsAny(topic, "\r\n") || strings.ContainsAny(key, "\r\n") {
		return ErrBadHeaderValue
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || strconv.FormatInt(sec, 10) != ts {
		// Only the canonical form: "+17…" or "017…" would sign a different string for the same instant.
		return fmt.Errorf("%w: %q", ErrBadTimestamp, ts)
	}
	if skew := now.Sub(time.Unix(sec, 0)).Abs(); skew > maxSkew {
		return fmt.Errorf("%w: %s off, at most %s allowed", ErrTimestampSkew, skew.Truncate(time.Second), maxSkew)
	}
	want := mac(secret, SignedString(ts, topic, key, body))
	for _, header := range sigs {
		for part := range strings.SplitSeq(header, ",") {
			version, sig, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || version != SignatureVersion {
				continue
			}
			got, err := hex.DecodeString(sig)
			if err == nil && hmac.Equal(got, want) {
				return nil
			}
		}
	}
	return ErrSignatureMismatch
}

// Backoff is the wait after the given number of failed attempts: 2^attempts seconds, at most 10 minutes.
func Backoff(attempts int) time.Duration {
	if attempts > 9 {
		return 10 * time.Minute
	}
	d := time.Duration(1<<max(attempts, 0)) * time.Second
	return min(d, 10*time.Minute)
}
