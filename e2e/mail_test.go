package e2e

import (
	"context"
	"io"
	"mime"
	"net"
	"net/mail"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/helhedsplan/helhedsplan/internal/lifecycle"
	"github.com/helhedsplan/helhedsplan/internal/stack"
	"github.com/helhedsplan/helhedsplan/outbox"
)

// inbox is a real SMTP server (github.com/emersion/go-smtp) on a loopback port that keeps what it receives.
type inbox struct {
	addr  string
	mu    sync.Mutex
	mails []*mail.Message
	to    [][]string
}

func newInbox(t *testing.T) *inbox {
	t.Helper()
	in := &inbox{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &inboxSession{in: in}, nil }))
	srv.Domain = "mail.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	in.addr = l.Addr().String()
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return in
}

func (in *inbox) received() ([]*mail.Message, [][]string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]*mail.Message(nil), in.mails...), append([][]string(nil), in.to...)
}

type inboxSession struct {
	in *inbox
	to []string
}

func (s *inboxSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *inboxSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *inboxSession) Data(r io.Reader) error {
	m, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, m.Body); err != nil {
		return err
	}
	s.in.mu.Lock()
	s.in.mails = append(s.in.mails, m)
	s.in.to = append(s.in.to, s.to)
	s.in.mu.Unlock()
	return nil
}
func (s *inboxSession) Reset()        { s.to = nil }
func (s *inboxSession) Logout() error { return nil }

// A milestone report due in 2022 is overdue the moment its tranche is paid: the workflow escalates it to the
// board at once, and each board member gets the escalation as one e-mail through the outbox — not two, however
// often the dispatcher runs.
func TestAnEscalationArrivesAsOneEMailPerBoardMember(t *testing.T) {
	box := newInbox(t)
	e := newEnv(t, stack.Options{Mail: &outbox.Mailer{Addr: box.addr, From: "Helhedsplan <noreply@viborg.test>"}})
	ctx := context.Background()
	in, err := e.driver.Propose(ctx, lifecycle.Sample("Overskredet frist", 1, 1_000_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	if in, err = e.driver.Act(ctx, in.ID, "/decision", "/decision", e.driver.Tokens.Board, map[string]string{"outcome": "approve"}); err != nil {
		t.Fatal(err)
	}
	if err := e.driver.Confirm(ctx, in.Milestones[0].DisbursementID, "BANK-MAIL-1"); err != nil {
		t.Fatal(err)
	}
	want := []string{"hanne.mortensen@example.dk", "lars.bach@example.dk", "sofie.lund@example.dk"}
	deadline := time.Now().Add(60 * time.Second)
	var mails []*mail.Message
	var to [][]string
	for time.Now().Before(deadline) {
		if mails, to = box.received(); len(mails) >= len(want) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // room for a duplicate to show up, were there one
	mails, to = box.received()
	var got []string
	dec := new(mime.WordDecoder)
	for i, m := range mails {
		subject, err := dec.DecodeHeader(m.Header.Get("Subject"))
		if err != nil {
			t.Fatal(err)
		}
		if subject != "Frist overskredet: Rapport om milepæl 1 (Milepæl 1)" {
			t.Errorf("mail %d subject %q", i, subject)
		}
		if m.Header.Get("Message-Id") == "" {
			t.Errorf("mail %d has no Message-ID", i)
		}
		got = append(got, to[i]...)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("mails to %v, want one each to %v", got, want)
	}
	if n := e.count(`SELECT count(*) FROM notifications WHERE initiative_id = $1 AND kind = 'escalation'`, in.ID); n != 3 {
		t.Fatalf("%d escalation notifications, want 3", n)
	}
}
