package chaos

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/helhedsplan/helhedsplan/outbox"
)

// receiverMode is how the finance receiver answers.
type receiverMode int

const (
	receiverUp      receiverMode = iota // 200 to every delivery, repeats included, as a real receiver does
	receiver503                         // 503 to everything: the receiver is overloaded or in maintenance
	receiverRefused                     // not listening: connections are refused
)

func (m receiverMode) String() string {
	switch m {
	case receiver503:
		return "503"
	case receiverRefused:
		return "refusing connections"
	}
	return "up"
}

// delivery is what the receiver saw of one Idempotency-Key.
type delivery struct {
	accepted int      // deliveries answered 2xx; more than one is a duplicate
	bodyHash [32]byte // payload of the first 2xx delivery
	differed bool     // a later delivery of the key carried another payload
}

// Receiver is the finance system the worker's outbox delivers webhooks to. It records every delivery by its
// Idempotency-Key and counts repeats (answering them 2xx as well, so the sender moves on), and can be taken down
// — answering 503 or refusing connections — to simulate a finance outage.
type Receiver struct {
	secret []byte
	now    func() time.Time

	mu         sync.Mutex
	mode       receiverMode
	byKey      map[string]*delivery
	turnedAway int // requests answered 503 while down
	noKey      int // requests without an Idempotency-Key (a sender bug)
	badSig     int // requests outbox.Verify refused (answered 401)
	addr       string
	srv        *http.Server
}

// NewReceiver returns a receiver that is up but not yet listening; call Listen or use it as an http.Handler.
func NewReceiver(secret []byte) *Receiver {
	return &Receiver{secret: secret, now: time.Now, byKey: map[string]*delivery{}}
}

// ServeHTTP handles one webhook delivery.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mode != receiverUp {
		r.turnedAway++
		w.Header().Set("Retry-After", "5")
		http.Error(w, "finance is down", http.StatusServiceUnavailable)
		return
	}
	key := req.Header.Get("Idempotency-Key")
	if key == "" {
		r.noKey++
		http.Error(w, "Idempotency-Key required", http.StatusBadRequest)
		return
	}
	// As a real receiver must: nothing unsigned or wrongly signed is acted on. The sender retries a 401 like any
	// failure, so a signing bug shows up here as bad signatures and as missing deliveries.
	if err := outbox.Verify(r.secret, req.Header, body, r.now(), 0); err != nil {
		r.badSig++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	h := sha256.Sum256(body)
	d := r.byKey[key]
	if d == nil {
		d = &delivery{bodyHash: h}
		r.byKey[key] = d
	} else if !bytes.Equal(d.bodyHash[:], h[:]) {
		d.differed = true
	}
	d.accepted++
	w.WriteHeader(http.StatusOK)
}

// Listen starts serving on addr (host:port; port 0 picks one). The address is kept, so the receiver comes back
// on the same port after an outage that refused connections.
func (r *Receiver) Listen(addr string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.listenLocked(addr)
}

func (r *Receiver) listenLocked(addr string) error {
	var ln net.Listener
	var err error
	// The port was just released by this process; retry briefly in case the kernel has not let go of it yet.
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	r.addr = ln.Addr().String()
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go func(srv *http.Server) {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err // the listener was closed for an outage
		}
	}(r.srv)
	return nil
}

// Addr is the host:port the receiver listens on.
func (r *Receiver) Addr() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addr
}

// SetMode takes the receiver down (503 or refusing connections) or brings it back up on the same address.
func (r *Receiver) SetMode(m receiverMode) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m == r.mode {
		return nil
	}
	if r.mode == receiverRefused && r.addr != "" {
		if err := r.listenLocked(r.addr); err != nil {
			return err
		}
	}
	if m == receiverRefused && r.srv != nil {
		// Close drops the listener and every open connection, so kept-alive connections cannot get through either.
		_ = r.srv.Close()
		r.srv = nil
	}
	r.mode = m
	return nil
}

// Close stops serving.
func (r *Receiver) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.srv != nil {
		_ = r.srv.Close()
		r.srv = nil
	}
}

// ReceiverStats summarises what the receiver saw.
type ReceiverStats struct {
	Keys        int // distinct Idempotency-Keys accepted
	Accepted    int // 2xx answers in all
	Duplicates  int // 2xx answers beyond the first per key
	DupKeys     []string
	Differed    []string // keys delivered again with another payload
	TurnedAway  int      // answered 503 while down
	NoKey       int      // refused for want of an Idempotency-Key
	BadSig      int      // refused by outbox.Verify
	AcceptedKey map[string]int
}

// Stats returns a snapshot of the counts.
func (r *Receiver) Stats() ReceiverStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := ReceiverStats{TurnedAway: r.turnedAway, NoKey: r.noKey, BadSig: r.badSig, AcceptedKey: map[string]int{}}
	for k, d := range r.byKey {
		s.Keys++
		s.Accepted += d.accepted
		s.AcceptedKey[k] = d.accepted
		if d.accepted > 1 {
			s.Duplicates += d.accepted - 1
			s.DupKeys = append(s.DupKeys, k)
		}
		if d.differed {
			s.Differed = append(s.Differed, k)
		}
	}
	sort.Strings(s.DupKeys)
	sort.Strings(s.Differed)
	return s
}
