package outbox

// Notification e-mails. A workflow step that notifies users leaves one notification.email message per recipient
// in the outbox (store.TopicNotificationEmail, payload store.NotificationEmail); the Dispatcher sends each by SMTP
// when a Mailer is configured and never to the finance webhook.
//
// Delivery is at least once, as for the webhooks. A claimed message is leased, so two dispatchers never send the
// same message at the same time; but a dispatcher that dies after the server accepted the mail and before the
// outbox row was marked delivered sends it again when the lease runs out. Every attempt of a message carries the
// same Message-ID, <notification-<id>@<domain of From>> (the domain, not the host name, so every worker process
// says the same), so the receiving system can recognise the repeat as the same message.
//
// Without SMTP (no HELHEDSPLAN_SMTP_ADDR) the dispatcher marks notification e-mails delivered without sending
// them, with the note "ikke sendt: …" in last_error. The in-app notification is the primary channel and is there
// either way; an outbox that only ever grows while e-mail is not set up would hide a real backlog of finance
// messages, and `helhedsplan doctor` would report every e-mail as undelivered. Mails that queued while SMTP was
// off are therefore never sent later.
//
// The answers of the mail server decide what happens next:
//   - 2xx to the message: delivered.
//   - 5xx to the recipient (RCPT TO) or to the message (end of DATA), or a recipient address that does not parse:
//     the server has refused this mail for good (an unknown mailbox, say). The message is marked delivered with
//     the refusal in last_error and logged at error level: retrying the same address every ten minutes forever
//     would change nothing, because the address is fixed in the message. (A relay that refuses every recipient —
//     relaying denied for want of authentication — therefore drops mails; the error log shows it.)
//   - anything else (4xx, a 5xx to the greeting, STARTTLS, AUTH or MAIL FROM — the server's or our configuration
//     —, a network error or a timeout): tried again after the dispatcher's backoff, like a failed webhook.

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"

	"github.com/helhedsplan/helhedsplan/store"
)

// DefaultDialTimeout bounds connecting to the mail server; the whole conversation is bounded by the
// dispatcher's Timeout.
const DefaultDialTimeout = 10 * time.Second

// Mailer sends notification e-mails through one SMTP server (a relay or submission service).
//
// It uses the standard library's net/smtp client. The package is frozen, but it has everything a submission
// client needs — STARTTLS, AUTH PLAIN (which it refuses to send unencrypted except to localhost), SMTPUTF8 and
// 8BITMIME when offered, dot-stuffing — and its errors carry the server's reply code, which is what sorts a
// retry from a refusal. Deadlines come from the connection, which we dial ourselves. github.com/emersion/go-smtp's
// client would do as well, but would add a dependency to the production binary for nothing we lack; the tests
// use its server.
type Mailer struct {
	// Addr is the server's host:port.
	Addr string
	// From is the sender, optionally with a display name ("helhedsplan <noreply@viborg.dk>"). Its domain names
	// the Message-IDs.
	From string
	// Username and Password authenticate with AUTH PLAIN when Username is set.
	Username string
	Password string
	// StartTLS requires STARTTLS before anything else is sent: a server that does not offer it gets nothing
	// (the message is retried), so a man in the middle cannot strip it. False sends in clear text (a relay on
	// the same host or network).
	StartTLS bool
	// TLSConfig verifies the server; nil verifies its certificate against the system roots for Addr's host.
	TLSConfig *tls.Config
	// HelloName is sent in EHLO; default "localhost", as net/smtp.
	HelloName string
	// DialTimeout bounds the TCP connect; default DefaultDialTimeout.
	DialTimeout time.Duration
}

// refusedError is a mail the server refused for good (see the package notes above): not retried.
type refusedError struct{ err error }

func (e *refusedError) Error() string { return "refused by the mail server: " + e.err.Error() }
func (e *refusedError) Unwrap() error { return e.err }

// Send delivers one notification e-mail, dated date. ctx bounds the whole SMTP conversation. An error that
// wraps *refusedError will fail the same way every time.
func (m *Mailer) Send(ctx context.Context, e store.NotificationEmail, date time.Time) error {
	from, err := mail.ParseAddress(m.From)
	if err != nil {
		return fmt.Errorf("smtp: sender %q: %w", m.From, err)
	}
	to, err := mail.ParseAddress(e.To)
	if err != nil {
		return &refusedError{fmt.Errorf("recipient address %q: %w", e.To, err)}
	}
	to.Name = e.Name
	msg := composeMail(from, to, e, date)

	host, _, err := net.SplitHostPort(m.Addr)
	if err != nil {
		return fmt.Errorf("smtp: address %q: %w", m.Addr, err)
	}
	dialTimeout := m.DialTimeout
	if dialTimeout <= 0 {
		dialTimeout = DefaultDialTimeout
	}
	conn, err := (&net.Dialer{Timeout: dialTimeout}).DialContext(ctx, "tcp", m.Addr)
	if err != nil {
		return fmt.Errorf("smtp: dial: %w", err)
	}
	defer conn.Close()
	// The deadline bounds every read and write of the conversation; cancelling ctx (the dispatcher stopping)
	// moves it to the past, which unblocks whatever is waiting.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return fmt.Errorf("smtp: greeting: %w", err)
	}
	defer c.Close()
	hello := m.HelloName
	if hello == "" {
		hello = "localhost"
	}
	if err := c.Hello(hello); err != nil {
		return fmt.Errorf("smtp: EHLO: %w", err)
	}
	if m.StartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fmt.Errorf("smtp: %s does not offer STARTTLS, which is required (HELHEDSPLAN_SMTP_STARTTLS)", m.Addr)
		}
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if m.TLSConfig != nil {
			cfg = m.TLSConfig.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = host
		}
		if err := c.StartTLS(cfg); err != nil {
			return fmt.Errorf("smtp: STARTTLS: %w", err)
		}
	}
	if m.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", m.Username, m.Password, host)); err != nil {
			return fmt.Errorf("smtp: AUTH: %w", err)
		}
	}
	if err := c.Mail(from.Address); err != nil {
		return fmt.Errorf("smtp: MAIL FROM: %w", err)
	}
	if err := c.Rcpt(to.Address); err != nil {
		return permanentIf5xx(fmt.Errorf("smtp: RCPT TO: %w", err))
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp: DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("smtp: message: %w", err)
	}
	// Close ends the message and reads the server's answer to it: from here on the mail is the server's.
	if err := w.Close(); err != nil {
		return permanentIf5xx(fmt.Errorf("smtp: message: %w", err))
	}
	_ = c.Quit() // the message is accepted; a failed goodbye changes nothing
	return nil
}

// permanentIf5xx marks a 5xx reply as a refusal for good.
func permanentIf5xx(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 && te.Code <= 599 {
		return &refusedError{err}
	}
	return err
}

// MessageID is the Message-ID header of a notification's e-mail: the same on every attempt.
func MessageID(notificationID int64, from string) string {
	domain := "helhedsplan.invalid"
	if a, err := mail.ParseAddress(from); err == nil {
		if _, d, ok := strings.Cut(a.Address, "@"); ok && d != "" {
			domain = d
		}
	}
	return fmt.Sprintf("<notification-%d@%s>", notificationID, domain)
}

// composeMail writes the message: headers (non-ASCII text RFC 2047-encoded), then the body as UTF-8 plain text in
// quoted-printable, so Danish letters survive every relay, with CRLF line ends throughout.
func composeMail(from, to *mail.Address, e store.NotificationEmail, date time.Time) []byte {
	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", from.String())
	header("To", to.String())
	header("Subject", encodeHeader(e.Subject))
	header("Date", date.Format(time.RFC1123Z))
	header("Message-ID", MessageID(e.NotificationID, from.String()))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	// RFC 3834: sent by a program, so out-of-office replies are not sent back.
	header("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(e.Body)) // writes to a bytes.Buffer do not fail
	_ = qp.Close()
	return b.Bytes()
}

// encodeHeader encodes text for a header (only when it needs it; a line break always does) and folds between
// encoded words, so a long Danish subject never makes a line longer than SMTP allows.
func encodeHeader(s string) string {
	return strings.ReplaceAll(mime.QEncoding.Encode("utf-8", s), "?= =?", "?=\r\n =?")
}

// deliverMail sends one notification.email message, or settles it when e-mail is not configured or the message
// cannot be read (retrying would not change it).
func (d *Dispatcher) deliverMail(ctx context.Context, m store.OutboxMessage) error {
	var e store.NotificationEmail
	if err := json.Unmarshal(m.Payload, &e); err != nil {
		return &settledError{note: "ikke sendt: beskeden kan ikke læses: " + err.Error(), err: err}
	}
	if d.Mail == nil {
		return &settledError{note: "ikke sendt: der er ikke sat SMTP op (HELHEDSPLAN_SMTP_ADDR)"}
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout())
	defer cancel()
	err := d.Mail.Send(ctx, e, d.now())
	var refused *refusedError
	if errors.As(err, &refused) {
		return &settledError{note: "ikke sendt: " + err.Error(), err: err}
	}
	return err
}

// settledError is an outcome that is final without a delivery: the message is marked delivered with note as its
// last error. err, when set, is a failure worth an error in the log.
type settledError struct {
	note string
	err  error
}

func (e *settledError) Error() string { return e.note }

// settle records a final outcome that is not a delivery: the note first, then delivered. A crash between the two
// leaves the message to be claimed again, and it settles the same way.
func (d *Dispatcher) settle(ctx context.Context, m store.OutboxMessage, s *settledError) error {
	if err := d.Store.MarkOutboxFailed(ctx, m.ID, s.note, d.now()); err != nil {
		d.log().Error("outbox: outcome not recorded", "topic", m.Topic, "key", m.Key, "error", err)
		return err
	}
	if err := d.Store.MarkOutboxDelivered(ctx, m.ID); err != nil {
		d.log().Error("outbox: outcome not recorded", "topic", m.Topic, "key", m.Key, "error", err)
		return err
	}
	if s.err != nil {
		d.log().Error("outbox: message given up", "topic", m.Topic, "key", m.Key, "attempt", m.Attempts, "error", s.err)
	} else {
		d.log().Debug("outbox: message settled without sending", "topic", m.Topic, "key", m.Key, "note", s.note)
	}
	return nil
}

// TopicStore is a Store that can claim the messages of some topics only (implemented by *store.Store).
type TopicStore interface {
	ClaimOutboxTopics(ctx context.Context, topics []string, limit int, lease time.Duration) ([]store.OutboxMessage, error)
}

// errNoWebhook fails a finance message claimed by a dispatcher without a webhook (only with a Store that cannot
// claim by topic); it waits for a dispatcher that has one.
var errNoWebhook = errors.New("no finance webhook is configured")

// claim takes due messages for up to n free workers. Without a webhook only notification e-mails are claimed:
// the finance messages wait, unleased and with their attempts untouched, for a dispatcher that can deliver them.
func (d *Dispatcher) claim(ctx context.Context, n int) ([]store.OutboxMessage, error) {
	if d.URL == "" {
		if ts, ok := d.Store.(TopicStore); ok {
			return ts.ClaimOutboxTopics(ctx, []string{store.TopicNotificationEmail}, n, d.lease())
		}
	}
	return d.Store.ClaimOutbox(ctx, n, d.lease())
}
