package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

// Keys of values handlers and middleware share through echo.Context.
const (
	ctxPrincipal    = "helhedsplan.principal"       // store.Principal, set by authenticate
	ctxInitiativeID = "helhedsplan.initiative_id"   // string, set once a handler knows it, for the error log
	ctxIdemKey      = "helhedsplan.idempotency_key" // string, the validated Idempotency-Key of this POST
	ctxIdemHash     = "helhedsplan.request_hash"    // []byte, requestHash of this POST, set with ctxIdemKey
)

const (
	headerIdempotencyKey = "Idempotency-Key"
	headerReplayed       = "Idempotent-Replayed"
	maxIdempotencyKeyLen = 200
)

// principalOf returns the authenticated caller. Only routes behind authenticate call it.
func principalOf(c echo.Context) store.Principal {
	p, _ := c.Get(ctxPrincipal).(store.Principal)
	return p
}

// authenticate resolves "Authorization: Bearer <token>" to a principal. Only sha256(token) is looked up, so the
// database never holds a usable token.
func (s *server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		scheme, token, ok := strings.Cut(c.Request().Header.Get(echo.HeaderAuthorization), " ")
		token = strings.TrimSpace(token)
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="helhedsplan"`)
			return newAPIError(codeUnauthorized, "Send dit API-token i headeren Authorization: Bearer <token>.")
		}
		sum := sha256.Sum256([]byte(token))
		p, cached := s.principals.get(sum)
		if !cached {
			var err error
			p, err = s.st.PrincipalByTokenHash(c.Request().Context(), sum[:])
			if errors.Is(err, store.ErrNotFound) {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="helhedsplan", error="invalid_token"`)
				return newAPIError(codeUnauthorized, "Tokenet er ukendt eller tilbagekaldt. Log ind igen.")
			}
			if err != nil {
				return fmt.Errorf("look up token: %w", err)
			}
			s.principals.put(sum, p)
		}
		c.Set(ctxPrincipal, p)
		return next(c)
	}
}

// idempotent makes a POST with an Idempotency-Key safe to repeat: the first request runs and its answer is stored;
// a repeat with the same key and the same request gets that answer again. Server errors (5xx) are not stored, so
// the client can retry them; the handlers derive Temporal update IDs from the key and the request (updateID), so a
// retry of an update that in fact went through, or is still running, is answered by Temporal with that update's
// result instead of running twice.
func (s *server) idempotent(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		values, present := req.Header[http.CanonicalHeaderKey(headerIdempotencyKey)]
		if req.Method != http.MethodPost || !present {
			return next(c)
		}
		key := strings.TrimSpace(strings.Join(values, ","))
		if err := checkIdempotencyKey(key); err != nil {
			return err
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return err // *http.MaxBytesError becomes 413
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		hash := requestHash(req.Method, req.URL.Path, body)
		c.Set(ctxIdemKey, key)
		c.Set(ctxIdemHash, hash)
		user := principalOf(c).UserID

		prev, err := s.st.BeginIdempotent(req.Context(), store.IdempotencyRecord{
			UserID: user, Key: key, Method: req.Method, Path: req.URL.Path, RequestHash: hash,
		})
		if err != nil {
			return fmt.Errorf("begin idempotent request: %w", err)
		}
		if prev != nil && prev.Status == nil && bytes.Equal(prev.RequestHash, hash) && s.releasePending(req.Context(), user, key) {
			// This process failed the earlier attempt and could not release its claim while the database was
			// down; it just has. Claim the key for this retry.
			prev, err = s.st.BeginIdempotent(req.Context(), store.IdempotencyRecord{
				UserID: user, Key: key, Method: req.Method, Path: req.URL.Path, RequestHash: hash,
			})
			if err != nil {
				return fmt.Errorf("begin idempotent request: %w", err)
			}
		}
		if prev != nil {
			return replay(c, prev, hash)
		}
		claimed := time.Now()

		resp := c.Response()
		capture := &captureWriter{ResponseWriter: resp.Writer}
		resp.Writer = capture
		finished := false
		defer func() {
			resp.Writer = capture.ResponseWriter
			if !finished { // a panic is on its way up; let the client retry
				ctx, cancel := s.settleContext(req)
				defer cancel()
				s.abandon(ctx, c, user, key, claimed)
			}
		}()

		if err := next(c); err != nil {
			c.Error(err) // render now, so the problem body is captured and stored
		}
		finished = true
		// Settle the record even if the client has gone or the request ran out of time: an unsettled record
		// blocks the key with 409 until its lease (store.IdempotencyLease) runs out. The time for this starts
		// now, however long the handler took.
		ctx, cancel := s.settleContext(req)
		defer cancel()
		if !resp.Committed || resp.Status >= 500 {
			// Includes 503 for an update still running: the retry runs again and, with the same update ID,
			// attaches to that update.
			s.abandon(ctx, c, user, key, claimed)
			return nil
		}
		if err := s.st.CompleteIdempotent(ctx, user, key, resp.Status, resp.Header().Get(echo.HeaderContentType), capture.buf.Bytes()); err != nil {
			s.log.LogAttrs(ctx, slog.LevelError, "storing idempotent response failed",
				slog.String("request_id", requestID(c)), slog.String("user_id", user), slog.String("error", err.Error()))
			s.abandon(ctx, c, user, key, claimed)
		}
		return nil
	}
}

// settleContext bounds the bookkeeping after a handler: a fresh SettleTimeout, detached from the request's
// deadline and cancellation (which may both have passed by now).
func (s *server) settleContext(req *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(req.Context()), s.cfg.SettleTimeout)
}

func checkIdempotencyKey(key string) error {
	const field = "Idempotency-Key"
	if key == "" || len(key) > maxIdempotencyKeyLen {
		return badRequest(field, "invalid", fmt.Sprintf("Idempotency-Key skal være 1 til %d tegn.", maxIdempotencyKeyLen))
	}
	for _, r := range key {
		if r < 0x21 || r > 0x7e {
			return badRequest(field, "invalid", "Idempotency-Key må kun indeholde synlige ASCII-tegn.")
		}
	}
	return nil
}

// requestHash identifies a request's content, so a key reused for something else is caught. The parts are
// length-prefixed so no two different (method, path, body) triples hash alike.
func requestHash(method, path string, body []byte) []byte {
	h := sha256.New()
	for _, part := range [][]byte{[]byte(method), []byte(path), body} {
		fmt.Fprintf(h, "%d:", len(part))
		h.Write(part)
	}
	return h.Sum(nil)
}

func replay(c echo.Context, prev *store.IdempotencyRecord, hash []byte) error {
	if !bytes.Equal(prev.RequestHash, hash) {
		return newAPIError(codeIdempotencyReused,
			"Idempotency-Key er allerede brugt til en anden forespørgsel. Brug en ny nøgle til en ny handling.")
	}
	if prev.Status == nil {
		return &apiError{code: codeIdempotencyInFlight, retryAfter: retryAfterInProgress,
			detail: "En forespørgsel med samme Idempotency-Key er ved at blive behandlet. Prøv igen om et øjeblik."}
	}
	contentType := echo.MIMEApplicationJSON
	if prev.ContentType != nil && *prev.ContentType != "" {
		contentType = *prev.ContentType
	}
	c.Response().Header().Set(headerReplayed, "true")
	return c.Blob(*prev.Status, contentType, prev.Body)
}

// abandon releases a claim so the client's retry runs. When the database cannot be reached — often the very
// reason the request failed — it keeps trying in the background until it succeeds or the claim's lease
// (store.IdempotencyLease) ends, after which the store lets a retry take the key over anyway; until the lease ends
// no other request can hold the key, so the retries can only ever delete this request's own claim.
func (s *server) abandon(ctx context.Context, c echo.Context, user, key string, claimed time.Time) {
	err := s.st.AbandonIdempotent(ctx, user, key)
	if err == nil {
		return
	}
	s.log.LogAttrs(ctx, slog.LevelWarn, "abandoning idempotent request failed; retrying in the background",
		slog.String("request_id", requestID(c)), slog.String("user_id", user), slog.String("error", err.Error()))
	deadline := claimed.Add(store.IdempotencyLease)
	rid := requestID(c)
	pk := user + "\x00" + key
	s.pendingAbandons.Store(pk, deadline)
	go func() {
		defer s.pendingAbandons.CompareAndDelete(pk, deadline)
		for wait := abandonRetryInterval; time.Now().Add(wait).Before(deadline); {
			time.Sleep(wait)
			if _, still := s.pendingAbandons.Load(pk); !still {
				return // a retry in this process released it first (releasePending)
			}
			actx, cancel := context.WithTimeout(context.Background(), s.cfg.SettleTimeout)
			err := s.st.AbandonIdempotent(actx, user, key)
			cancel()
			if err == nil {
				s.log.LogAttrs(context.Background(), slog.LevelInfo, "idempotent request abandoned after retrying",
					slog.String("request_id", rid), slog.String("user_id", user))
				return
			}
		}
		s.log.LogAttrs(context.Background(), slog.LevelError, "abandoning idempotent request failed until its lease ended",
			slog.String("request_id", rid), slog.String("user_id", user))
	}()
}

// releasePending releases a claim this process still owes a release (see abandon), when a retry of the same
// request finds it in progress. It reports whether the claim is gone.
func (s *server) releasePending(ctx context.Context, user, key string) bool {
	pk := user + "\x00" + key
	deadline, ok := s.pendingAbandons.Load(pk)
	if !ok || time.Now().After(deadline.(time.Time)) {
		return false
	}
	if err := s.st.AbandonIdempotent(ctx, user, key); err != nil {
		return false
	}
	s.pendingAbandons.Delete(pk)
	return true
}

// abandonRetryInterval is how often a failed abandon is tried again.
var abandonRetryInterval = time.Second

// captureWriter keeps a copy of the response body for the idempotency record.
type captureWriter struct {
	http.ResponseWriter
	buf bytes.Buffer
}

func (w *captureWriter) Write(b []byte) (int, error) {
	w.buf.Write(b)
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *captureWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// refuseBadURL answers 400 for a path or query parameter that is not valid UTF-8 text or holds control characters
// (a NUL, say): nothing downstream — PostgreSQL, the logs, Temporal IDs — can hold it, and it is never a real ID.
func refuseBadURL(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		u := c.Request().URL
		if !domain.ValidText(u.Path) {
			return badRequest("path", "invalid_characters", "Adressen indeholder ugyldige tegn.")
		}
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			return badRequest("query", "invalid", "Forespørgslens parametre kan ikke læses.")
		}
		for name, values := range q {
			if !domain.ValidText(name) {
				return badRequest("query", "invalid_characters", "Et parameternavn indeholder ugyldige tegn.")
			}
			for _, v := range values {
				if !domain.ValidText(v) {
					return badRequest(name, "invalid_characters",
						fmt.Sprintf("Parameteren %s indeholder ugyldige tegn.", name))
				}
			}
		}
		return next(c)
	}
}

// maxRequestIDLen bounds a client-supplied X-Request-Id, which is echoed in answers and written to every log line.
const maxRequestIDLen = 128

// dropBadRequestID removes an X-Request-Id that is too long or not plain visible ASCII, so the request ID middleware
// generates one instead.
func dropBadRequestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header
		if id := h.Get(echo.HeaderXRequestID); id != "" {
			ok := len(id) <= maxRequestIDLen
			for i := 0; ok && i < len(id); i++ {
				ok = id[i] > 0x20 && id[i] < 0x7f
			}
			if !ok {
				h.Del(echo.HeaderXRequestID)
			}
		}
		return next(c)
	}
}

// limitBody refuses bodies over MaxBodyBytes: early by Content-Length, otherwise when reading passes the limit.
func (s *server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		limit := s.cfg.MaxBodyBytes
		if c.Path() == pathStatements { // a bank statement file may be larger than any JSON request
			limit = max(limit, maxStatementBody)
		}
		if req.ContentLength > limit {
			return newAPIError(codeTooLarge, fmt.Sprintf("Forespørgslen må højst fylde %d byte.", limit))
		}
		if req.Body != nil && req.Body != http.NoBody {
			req.Body = http.MaxBytesReader(c.Response(), req.Body, limit)
		}
		return next(c)
	}
}

// withTimeout bounds an API request, so a stuck workflow or database turns into a 503 instead of a hung client.
func (s *server) withTimeout(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), s.cfg.RequestTimeout)
		defer cancel()
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}

func newDurationMetric(reg prometheus.Registerer) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "helhedsplan_http_request_duration_seconds",
		Help: "Duration of HTTP requests by method, route template and status.",
		// Updates wait for the workflow to record the transition, so the tail reaches into tens of seconds.
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"method", "route", "status"})
	if reg == nil {
		return h
	}
	if err := reg.Register(h); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.HistogramVec); ok {
				return existing // a second API on the same registry (tests, or two listeners) shares the metric
			}
		}
		panic(fmt.Sprintf("api: registering HTTP metrics: %v", err)) // a conflicting descriptor is a programming error
	}
	return h
}

// quietRoutes are polled by machines; logging each call at info would drown the log.
var quietRoutes = map[string]bool{pathHealthz: true, pathReadyz: true, pathMetrics: true}

// observe logs and measures every request once it is answered. It renders a returned error itself, so the status
// it records is the one the client got.
func (s *server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		elapsed := time.Since(start)
		req, resp := c.Request(), c.Response()

		route := c.Path()
		if !s.routes[route] {
			route = "unmatched" // a raw URL as label would let any client create unbounded series
		}
		method := req.Method
		switch method {
		case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		default:
			method = "other"
		}
		s.duration.WithLabelValues(method, route, strconv.Itoa(resp.Status)).Observe(elapsed.Seconds())

		level := slog.LevelInfo
		if quietRoutes[route] {
			level = slog.LevelDebug
		}
		s.log.LogAttrs(req.Context(), level, "http request",
			slog.String("method", req.Method),
			slog.String("path", req.URL.Path),
			slog.String("route", route),
			slog.Int("status", resp.Status),
			slog.Duration("duration", elapsed),
			slog.String("request_id", requestID(c)),
		)
		return nil
	}
}

// logPanic records a recovered panic with its stack; the panic then continues as an ordinary error to observe and
// the error handler, which answer 500.
func (s *server) logPanic(c echo.Context, err error, stack []byte) error {
	s.log.LogAttrs(c.Request().Context(), slog.LevelError, "panic in handler",
		slog.String("request_id", requestID(c)),
		slog.String("path", c.Request().URL.Path),
		slog.String("error", err.Error()),
		slog.String("stack", string(stack)),
	)
	return fmt.Errorf("panic: %w", err)
}
