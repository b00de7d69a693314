package outbox

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
)

// mailServer is a real SMTP server (github.com/emersion/go-smtp) on a loopback port. It keeps every message it
// accepted; answer, when set, decides the reply to each message (nil accepts), rcpt the reply to each recipient.
type mailServer struct {
	addr  string
	users map[string]string // AUTH PLAIN credentials; nil offers no AUTH

	mu       sync.Mutex
	answer   func(attempt int) error
	rcpt     func(to string) error
	attempts int // messages sent to it, accepted or not
	mails    []receivedMail
}

type receivedMail struct {
	from string
	to   []string
	data []byte
	tls  bool
	user string
}

func newMailServer(t *testing.T, tlsConfig *tls.Config, users map[string]string) *mailServer {
	t.Helper()
	ms := &mailServer{users: users}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &mailSession{s: ms, c: c}, nil
	}))
	srv.Domain = "mail.test"
	srv.TLSConfig = tlsConfig
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = nopLogger{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ms.addr = l.Addr().String()
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ms
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
func (nopLogger) Println(...any)        {}

func (ms *mailServer) received() []receivedMail {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return append([]receivedMail(nil), ms.mails...)
}

func (ms *mailServer) tried() int {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return ms.attempts
}

type mailSession struct {
	s    *mailServer
	c    *smtp.Conn
	from string
	to   []string
	user string
}

func (s *mailSession) AuthMechanisms() []string {
	if s.s.users == nil {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *mailSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if pw, ok := s.s.users[username]; !ok || pw != password {
			return smtp.ErrAuthFailed
		}
		s.user = username
		return nil
	}), nil
}

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.s.users != nil && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.s.mu.Lock()
	rcpt := s.s.rcpt
	s.s.mu.Unlock()
	if rcpt != nil {
		if err := rcpt(to); err != nil {
			return err
		}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.s.mu.Lock()
	defer s.s.mu.Unlock()
	s.s.attempts++
	if s.s.answer != nil {
		if err := s.s.answer(s.s.attempts); err != nil {
			return err
		}
	}
	_, isTLS := s.c.TLSConnectionState()
	s.s.mails = append(s.s.mails, receivedMail{from: s.from, to: s.to, data: data, tls: isTLS, user: s.user})
	return nil
}

func (s *mailSession) Reset()        { s.from, s.to = "", nil }
func (s *mailSession) Logout() error { return nil }

const testFrom = "helhedsplan <noreply@viborg.example>"

// queueMail puts a notification e-mail into the outbox as store.notify does.
func queueMail(t *testing.T, st *store.Store, e store.NotificationEmail) {
	t.Helper()
	payload, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB().ExecContext(context.Background(), `INSERT INTO outbox (topic, key, payload) VALUES ($1, $2, $3)`,
		store.TopicNotificationEmail, fmt.Sprintf("notification/%d", e.NotificationID), payload); err != nil {
		t.Fatal(err)
	}
}

func queueFinance(t *testing.T, st *store.Store, disbursement string) {
	t.Helper()
	if _, err := st.DB().ExecContext(context.Background(), `INSERT INTO outbox (topic, key, payload) VALUES ($1, $2, $3)`,
		store.TopicDisbursementReleased, store.TopicDisbursementReleased+"/"+disbursement,
		fmt.Sprintf(`{"disbursement_id":%q}`, disbursement)); err != nil {
		t.Fatal(err)
	}
}

// outboxRowOf reads a message's delivery state.
func outboxRowOf(t *testing.T, st *store.Store, key string) (attempts int, lastError string, delivered, due bool) {
	t.Helper()
	var r struct {
		Attempts  int     `db:"attempts"`
		LastError *string `db:"last_error"`
		Delivered bool    `db:"delivered"`
		Due       bool    `db:"due"`
	}
	if err := st.DB().GetContext(context.Background(), &r, `
		SELECT attempts, last_error, delivered_at IS NOT NULL AS delivered, next_attempt_at <= now() AS due
		FROM outbox WHERE key = $1`, key); err != nil {
		t.Fatal(err)
	}
	if r.LastError != nil {
		lastError = *r.LastError
	}
	return r.Attempts, lastError, r.Delivered, r.Due
}

var mette = store.NotificationEmail{
	NotificationID: 41, To: "mette.kjaer@example.dk", Name: "Mette Kjær",
	Subject: "Påmindelse: statusrapport for «Lektiecafé i Houlkærvænget» – milepæl 1 «Opstart» skal afleveres " +
		"senest fredag den 12. marts; bestyrelsen behandler den på mødet i næste uge, så husk også økonomien",
	Body: "Kære Mette Kjær\n\nStatusrapporten for milepæl 1 skal være afleveret senest fredag.\n" +
		". en linje der starter med punktum, og æøå ÆØÅ é ü\n\nSe indsatsen i helhedsplan: /indsatser/lektiecafe\n",
	PlanID: "viborg-2021-2025", InitiativeID: "lektiecafe",
}

func mailDispatcher(st *store.Store, m *Mailer, webhookURL string) *Dispatcher {
	return &Dispatcher{Store: st, URL: webhookURL, Secret: []byte("whsec-mail"), Mail: m,
		Log: slog.New(slog.DiscardHandler), Timeout: 5 * time.Second,
		BackoffFunc: func(int) time.Duration { return 300 * time.Millisecond }}
}

// A notification e-mail is one mail through the SMTP server — never a webhook — with headers and Danish text a
// mail program reads back exactly; a dispatcher started again afterwards sends nothing more.
func TestNotificationEmailIsOneMailWithDanishText(t *testing.T) {
	st := dbtest.New(t)
	ms := newMailServer(t, nil, nil)
	var hooked []string
	var mu sync.Mutex
	_, hook := newReceiver(t, "whsec-mail", func(key string, _ *http.Request) int {
		mu.Lock()
		hooked = append(hooked, key)
		mu.Unlock()
		return http.StatusOK
	})
	queueMail(t, st, mette)
	queueFinance(t, st, "lektiecafe-t1")

	mailer := &Mailer{Addr: ms.addr, From: testFrom}
	before := time.Now().Add(-time.Second)
	if n, err := mailDispatcher(st, mailer, hook.URL).DeliverOnce(context.Background()); err != nil || n != 2 {
		t.Fatalf("DeliverOnce = %d, %v; want both messages", n, err)
	}
	mails := ms.received()
	if len(mails) != 1 {
		t.Fatalf("%d mails, want 1", len(mails))
	}
	mu.Lock()
	if len(hooked) != 1 || hooked[0] != store.TopicDisbursementReleased+"/lektiecafe-t1" {
		t.Errorf("the webhook received %v, want only the finance message", hooked)
	}
	mu.Unlock()
	got := mails[0]
	if got.from != "noreply@viborg.example" || len(got.to) != 1 || got.to[0] != "mette.kjaer@example.dk" {
		t.Errorf("envelope from %q to %v", got.from, got.to)
	}
	for i, b := range got.data {
		if b >= 0x80 {
			t.Fatalf("byte %d of the mail is not ASCII: Danish letters must be encoded", i)
		}
	}
	for _, line := range strings.Split(string(got.data), "\r\n") {
		if len(line) > 998 {
			t.Fatalf("a line of %d characters: %q", len(line), line)
		}
	}

	msg, err := mail.ReadMessage(bytes.NewReader(got.data))
	if err != nil {
		t.Fatalf("the mail does not parse: %v\n%s", err, got.data)
	}
	h := msg.Header
	var dec mime.WordDecoder
	subject, err := dec.DecodeHeader(h.Get("Subject"))
	if err != nil || subject != mette.Subject {
		t.Errorf("Subject decodes to %q (%v), want %q", subject, err, mette.Subject)
	}
	to, err := mail.ParseAddress(h.Get("To"))
	if err != nil || to.Name != "Mette Kjær" || to.Address != "mette.kjaer@example.dk" {
		t.Errorf("To = %q: %+v, %v", h.Get("To"), to, err)
	}
	from, err := mail.ParseAddress(h.Get("From"))
	if err != nil || from.Name != "helhedsplan" || from.Address != "noreply@viborg.example" {
		t.Errorf("From = %q: %+v, %v", h.Get("From"), from, err)
	}
	if id := h.Get("Message-Id"); id != "<notification-41@viborg.example>" {
		t.Errorf("Message-ID = %q, want <notification-41@viborg.example>", id)
	}
	if date, err := h.Date(); err != nil || date.Before(before) || date.After(time.Now().Add(time.Second)) {
		t.Errorf("Date = %q (%v), want now", h.Get("Date"), err)
	}
	for k, want := range map[string]string{"Content-Type": "text/plain; charset=utf-8",
		"Content-Transfer-Encoding": "quoted-printable", "Mime-Version": "1.0", "Auto-Submitted": "auto-generated"} {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.ReplaceAll(string(body), "\r\n", "\n"); got != mette.Body {
		t.Errorf("body decodes to\n%q\nwant\n%q", got, mette.Body)
	}
	if _, _, delivered, _ := outboxRowOf(t, st, "notification/41"); !delivered {
		t.Error("the mail is not marked delivered")
	}

	// A dispatcher started again finds nothing to send.
	if n, err := mailDispatcher(st, mailer, hook.URL).DeliverOnce(context.Background()); err != nil || n != 0 {
		t.Fatalf("after a restart DeliverOnce = %d, %v; want nothing claimed", n, err)
	}
	if n := len(ms.received()); n != 1 {
		t.Fatalf("%d mails after a restart, want still 1", n)
	}
}

// A server that answers 4xx gets the message again after the backoff — not before — and then has it once.
func TestTemporaryMailFailureIsRetriedLaterAndDeliveredOnce(t *testing.T) {
	st := dbtest.New(t)
	ms := newMailServer(t, nil, nil)
	ms.answer = func(attempt int) error {
		if attempt == 1 {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
		}
		return nil
	}
	queueMail(t, st, mette)
	d := mailDispatcher(st, &Mailer{Addr: ms.addr, From: testFrom}, "")
	ctx := context.Background()

	if n, err := d.DeliverOnce(ctx); err != nil || n != 1 {
		t.Fatalf("first DeliverOnce = %d, %v", n, err)
	}
	attempts, lastErr, delivered, due := outboxRowOf(t, st, "notification/41")
	if delivered || due || attempts != 1 || !strings.Contains(lastErr, "451") {
		t.Fatalf("after a 451: attempts %d, last error %q, delivered %v, due %v; want waiting for a retry",
			attempts, lastErr, delivered, due)
	}
	if n, _ := d.DeliverOnce(ctx); n != 0 {
		t.Fatalf("claimed again before the backoff ran out")
	}
	waitFor(t, 10*time.Second, func() bool {
		n, err := d.DeliverOnce(ctx)
		return err == nil && n == 1
	})
	if _, _, delivered, _ := outboxRowOf(t, st, "notification/41"); !delivered {
		t.Fatal("not delivered after the retry")
	}
	if n, tried := len(ms.received()), ms.tried(); n != 1 || tried != 2 {
		t.Fatalf("server accepted %d of %d attempts, want 1 of 2", n, tried)
	}
	if n, _ := d.DeliverOnce(ctx); n != 0 {
		t.Fatal("a delivered mail was claimed again")
	}
}

// A recipient the server refuses for good (5xx) is not tried again: the message is settled with the refusal.
func TestRefusedRecipientIsNotRetried(t *testing.T) {
	st := dbtest.New(t)
	ms := newMailServer(t, nil, nil)
	ms.rcpt = func(string) error {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
	}
	queueMail(t, st, mette)
	d := mailDispatcher(st, &Mailer{Addr: ms.addr, From: testFrom}, "")
	if n, err := d.DeliverOnce(context.Background()); err != nil || n != 1 {
		t.Fatalf("DeliverOnce = %d, %v", n, err)
	}
	attempts, lastErr, delivered, _ := outboxRowOf(t, st, "notification/41")
	if !delivered || attempts != 1 || !strings.Contains(lastErr, "550") || !strings.HasPrefix(lastErr, "ikke sendt") {
		t.Fatalf("attempts %d, last error %q, delivered %v; want settled with the refusal", attempts, lastErr, delivered)
	}
	if n := len(ms.received()); n != 0 {
		t.Fatalf("%d mails accepted", n)
	}
}

// Without SMTP the notification e-mails are marked delivered with a note and nothing is sent; without a webhook
// the finance messages are not even claimed, so they wait with their attempts untouched.
func TestWithoutSMTPMailsAreSettledAndFinanceMessagesWait(t *testing.T) {
	st := dbtest.New(t)
	queueMail(t, st, mette)
	queueFinance(t, st, "lektiecafe-t1")
	d := mailDispatcher(st, nil, "")
	if n, err := d.DeliverOnce(context.Background()); err != nil || n != 1 {
		t.Fatalf("DeliverOnce = %d, %v; want the e-mail only", n, err)
	}
	_, lastErr, delivered, _ := outboxRowOf(t, st, "notification/41")
	if !delivered || !strings.Contains(lastErr, "SMTP") {
		t.Fatalf("e-mail: delivered %v, note %q; want delivered with a note", delivered, lastErr)
	}
	attempts, _, delivered, due := outboxRowOf(t, st, store.TopicDisbursementReleased+"/lektiecafe-t1")
	if delivered || attempts != 0 || !due {
		t.Fatalf("finance message: attempts %d, delivered %v, due %v; want untouched", attempts, delivered, due)
	}
	if n, err := d.DeliverOnce(context.Background()); err != nil || n != 0 {
		t.Fatalf("second DeliverOnce = %d, %v; want nothing", n, err)
	}
}

// STARTTLS and AUTH PLAIN: the password only travels encrypted; a server that offers no STARTTLS gets nothing
// when it is required.
func TestMailOverStartTLSWithAuth(t *testing.T) {
	serverTLS, roots := selfSigned(t)
	users := map[string]string{"helhedsplan": "hemmeligt-ø"}

	t.Run("delivered_encrypted_and_authenticated", func(t *testing.T) {
		st := dbtest.New(t)
		ms := newMailServer(t, serverTLS, users)
		queueMail(t, st, mette)
		m := &Mailer{Addr: ms.addr, From: testFrom, StartTLS: true, Username: "helhedsplan", Password: "hemmeligt-ø",
			TLSConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}
		if n, err := mailDispatcher(st, m, "").DeliverOnce(context.Background()); err != nil || n != 1 {
			t.Fatalf("DeliverOnce = %d, %v", n, err)
		}
		mails := ms.received()
		if len(mails) != 1 || !mails[0].tls || mails[0].user != "helhedsplan" {
			t.Fatalf("mails %+v; want one, over TLS, as helhedsplan", mails)
		}
	})

	t.Run("starttls_required_but_not_offered_is_retried", func(t *testing.T) {
		st := dbtest.New(t)
		ms := newMailServer(t, nil, nil)
		queueMail(t, st, mette)
		m := &Mailer{Addr: ms.addr, From: testFrom, StartTLS: true, TLSConfig: &tls.Config{RootCAs: roots}}
		if _, err := mailDispatcher(st, m, "").DeliverOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		_, lastErr, delivered, _ := outboxRowOf(t, st, "notification/41")
		if delivered || !strings.Contains(lastErr, "STARTTLS") || len(ms.received()) != 0 {
			t.Fatalf("delivered %v, last error %q, %d mails; want waiting for a retry", delivered, lastErr, len(ms.received()))
		}
	})

	t.Run("wrong_password_is_retried", func(t *testing.T) {
		st := dbtest.New(t)
		ms := newMailServer(t, serverTLS, users)
		queueMail(t, st, mette)
		m := &Mailer{Addr: ms.addr, From: testFrom, StartTLS: true, Username: "helhedsplan", Password: "forkert",
			TLSConfig: &tls.Config{RootCAs: roots}}
		if _, err := mailDispatcher(st, m, "").DeliverOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		// A configuration fault is fixed by an operator; the mail must still go out afterwards.
		if _, lastErr, delivered, _ := outboxRowOf(t, st, "notification/41"); delivered || !strings.Contains(lastErr, "535") {
			t.Fatalf("delivered %v, last error %q; want waiting for a retry", delivered, lastErr)
		}
	})
}

// A server that accepts the connection and then says nothing holds a worker no longer than the timeout.
func TestSilentMailServerTimesOut(t *testing.T) {
	st := dbtest.New(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // never greets
			mu.Unlock()
		}
	}()
	queueMail(t, st, mette)
	d := mailDispatcher(st, &Mailer{Addr: l.Addr().String(), From: testFrom}, "")
	d.Timeout = 300 * time.Millisecond
	start := time.Now()
	if _, err := d.DeliverOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("a silent server held the delivery for %s", took)
	}
	_, lastErr, delivered, _ := outboxRowOf(t, st, "notification/41")
	if delivered || !strings.Contains(lastErr, "timeout") {
		t.Fatalf("delivered %v, last error %q; want a timeout waiting for a retry", delivered, lastErr)
	}
}

// selfSigned returns a server TLS config for 127.0.0.1 and the pool that trusts it.
func selfSigned(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mail.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}},
		MinVersion: tls.VersionTLS12}, pool
}
