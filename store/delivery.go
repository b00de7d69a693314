package store

import (
	"context"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// The finance webhook's delivery state, read from the outbox: finance and admin see whether the messages about
// released and paid tranches reach the finance system, and a backlog that grows old is flagged. Notification
// e-mails share the table but not the receiver, so they are left out.

// FinanceTopicPrefix is what every finance webhook topic begins with (disbursement.released, .paid, .withdrawn).
const FinanceTopicPrefix = "disbursement."

// maxShownErrorRunes caps a delivery error as shown to users; the stored one may be 2000 bytes of HTML.
const maxShownErrorRunes = 200

// DeliveryStats is the delivery state of one topic, or of all finance topics together (Topic "").
type DeliveryStats struct {
	Topic     string
	Delivered int // accepted by the receiver
	Waiting   int // not yet accepted, whether tried or not
	Retrying  int // waiting and tried at least once
	// OldestWaitingAt is when the oldest waiting message was written; nil when none waits.
	OldestWaitingAt *time.Time
	// FailingSince is when the oldest waiting message that has failed at least once was written; nil when no
	// waiting message has failed.
	FailingSince *time.Time
	// LastError is the latest failure of a waiting message, shortened and without URLs (ShortenDeliveryError);
	// "" when none has failed.
	LastError string
	// LastDeliveredAt is the latest accepted delivery; nil when none ever was.
	LastDeliveredAt *time.Time

	lastErrorRetry time.Time // when the failure behind LastError is retried: the latest is the newest failure
}

// WebhookDelivery is the finance webhook's delivery state: overall and per topic, by topic name.
type WebhookDelivery struct {
	Overall DeliveryStats
	Topics  []DeliveryStats
}

// WebhookDelivery reads the finance messages' delivery state from the outbox.
func (s *Store) WebhookDelivery(ctx context.Context) (WebhookDelivery, error) {
	const q = `
		SELECT topic,
		       count(*) FILTER (WHERE delivered_at IS NOT NULL) AS delivered,
		       count(*) FILTER (WHERE delivered_at IS NULL) AS waiting,
		       count(*) FILTER (WHERE delivered_at IS NULL AND attempts > 0) AS retrying,
		       min(created_at) FILTER (WHERE delivered_at IS NULL) AS oldest_waiting_at,
		       min(created_at) FILTER (WHERE delivered_at IS NULL AND last_error IS NOT NULL) AS failing_since,
		       max(delivered_at) AS last_delivered_at
		FROM outbox
		WHERE starts_with(topic, $1)
		GROUP BY topic
		ORDER BY topic`
	var rows []struct {
		Topic           string     `db:"topic"`
		Delivered       int        `db:"delivered"`
		Waiting         int        `db:"waiting"`
		Retrying        int        `db:"retrying"`
		OldestWaitingAt *time.Time `db:"oldest_waiting_at"`
		FailingSince    *time.Time `db:"failing_since"`
		LastDeliveredAt *time.Time `db:"last_delivered_at"`
	}
	if err := s.db.SelectContext(ctx, &rows, q, FinanceTopicPrefix); err != nil {
		return WebhookDelivery{}, translate(err, "webhook delivery")
	}
	// The latest failure per topic: the waiting message whose retry was scheduled last failed last.
	const qErr = `
		SELECT DISTINCT ON (topic) topic, last_error, next_attempt_at
		FROM outbox
		WHERE starts_with(topic, $1) AND delivered_at IS NULL AND last_error IS NOT NULL
		ORDER BY topic, next_attempt_at DESC, id DESC`
	var errs []struct {
		Topic         string    `db:"topic"`
		LastError     string    `db:"last_error"`
		NextAttemptAt time.Time `db:"next_attempt_at"`
	}
	if err := s.db.SelectContext(ctx, &errs, qErr, FinanceTopicPrefix); err != nil {
		return WebhookDelivery{}, translate(err, "webhook delivery errors")
	}
	var out WebhookDelivery
	for _, r := range rows {
		st := DeliveryStats{Topic: r.Topic, Delivered: r.Delivered, Waiting: r.Waiting, Retrying: r.Retrying,
			OldestWaitingAt: r.OldestWaitingAt, FailingSince: r.FailingSince, LastDeliveredAt: r.LastDeliveredAt}
		for _, e := range errs {
			if e.Topic == r.Topic {
				st.LastError, st.lastErrorRetry = ShortenDeliveryError(e.LastError), e.NextAttemptAt
			}
		}
		out.Topics = append(out.Topics, st)
		out.Overall.add(st)
	}
	return out, nil
}

// add folds one topic's state into the overall state.
func (d *DeliveryStats) add(t DeliveryStats) {
	d.Delivered += t.Delivered
	d.Waiting += t.Waiting
	d.Retrying += t.Retrying
	d.OldestWaitingAt = earliest(d.OldestWaitingAt, t.OldestWaitingAt)
	d.FailingSince = earliest(d.FailingSince, t.FailingSince)
	if t.LastDeliveredAt != nil && (d.LastDeliveredAt == nil || t.LastDeliveredAt.After(*d.LastDeliveredAt)) {
		d.LastDeliveredAt = t.LastDeliveredAt
	}
	if t.LastError != "" && (d.LastError == "" || t.lastErrorRetry.After(d.lastErrorRetry)) {
		d.LastError, d.lastErrorRetry = t.LastError, t.lastErrorRetry
	}
}

func earliest(a, b *time.Time) *time.Time {
	if a == nil || (b != nil && b.Before(*a)) {
		return b
	}
	return a
}

// BacklogAge is how long the oldest waiting message has waited at now; 0 when none waits.
func (d DeliveryStats) BacklogAge(now time.Time) time.Duration {
	if d.OldestWaitingAt == nil {
		return 0
	}
	return max(now.Sub(*d.OldestWaitingAt), 0)
}

// urlPattern finds URLs in an error text: Go's HTTP client names the URL it failed to reach, and a webhook URL
// may carry a token in its user info, path or query.
var urlPattern = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"']+`)

// hostOf keeps a URL's scheme and host, dropping user info, path, query and fragment.
var hostOf = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9+.-]*://)(?:[^/?#]*@)?([^/?#]*)`)

// ShortenDeliveryError makes a stored delivery error fit to show: every URL is cut to its scheme and host (so no
// credentials or tokens in a webhook URL are shown), white space is collapsed and the text is cut to 200
// characters.
func ShortenDeliveryError(s string) string {
	s = urlPattern.ReplaceAllStringFunc(s, func(u string) string {
		m := hostOf.FindStringSubmatch(u)
		if m == nil {
			return "…"
		}
		return m[1] + m[2] + "/…"
	})
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > maxShownErrorRunes {
		r := []rune(s)
		s = string(r[:maxShownErrorRunes-1]) + "…"
	}
	return s
}
