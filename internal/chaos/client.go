package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// answer is one outcome of one HTTP attempt, kept so the report can count 5xx answers per fault window.
type answer struct {
	at       time.Time
	status   int  // 0 when the attempt got no answer
	netErr   bool // connection refused or reset, or the client's timeout
	inFlight bool // 409 idempotency_request_in_progress
	noRetry  bool // a 503 without Retry-After
}

// recorder collects answers from every client.
type recorder struct {
	mu      sync.Mutex
	answers []answer
}

func (r *recorder) add(a answer) {
	r.mu.Lock()
	r.answers = append(r.answers, a)
	r.mu.Unlock()
}

func (r *recorder) snapshot() []answer {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]answer(nil), r.answers...)
}

// answerCounts sums answers.
type answerCounts struct {
	Total, OK, S500, S503, S5xxOther, NetErr, InFlight, Other4xx, NoRetryAfter int
}

func (c answerCounts) fiveXX() int { return c.S500 + c.S503 + c.S5xxOther }

func countAnswers(as []answer, from, to time.Time) answerCounts {
	var c answerCounts
	for _, a := range as {
		if a.at.Before(from) || !a.at.Before(to) {
			continue
		}
		c.Total++
		switch {
		case a.netErr:
			c.NetErr++
		case a.status >= 200 && a.status < 300:
			c.OK++
		case a.status == 500:
			c.S500++
		case a.status == 503:
			c.S503++
			if a.noRetry {
				c.NoRetryAfter++
			}
		case a.status > 500:
			c.S5xxOther++
		case a.inFlight:
			c.InFlight++
		default:
			c.Other4xx++
		}
	}
	return c
}

// Refusal is an answer the suite does not retry: a 4xx other than 408, 429 and 409
// idempotency_request_in_progress. Every step the suite takes is valid, so a refusal is a failure.
type Refusal struct {
	Method, Path string
	Status       int
	Code, Detail string
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("%s %s refused: %d %s: %s", r.Method, r.Path, r.Status, r.Code, r.Detail)
}

// GaveUp means a request was still failing with retryable answers when the suite's deadline came.
type GaveUp struct {
	Method, Path string
	Attempts     int    // attempts that got an answer or an error of their own
	Last         string // the last answer or error
	Since        time.Time
}

func (g *GaveUp) Error() string {
	if g.Attempts == 0 {
		return fmt.Sprintf("%s %s: the deadline came while the first attempt was waiting for its answer", g.Method, g.Path)
	}
	return fmt.Sprintf("%s %s: no success after %d attempts over %s; last: %s", g.Method, g.Path, g.Attempts,
		time.Since(g.Since).Round(time.Second), g.Last)
}

// apiClient calls the API and retries what a careful client retries: 5xx (503 above all), 408, 429, connection
// errors and timeouts, and 409 idempotency_request_in_progress — always with the same Idempotency-Key, with capped
// exponential backoff and honouring Retry-After. It stops only when ctx ends.
type apiClient struct {
	base string
	hc   *http.Client
	rec  *recorder
	log  *slog.Logger

	baseDelay, maxDelay, maxRetryAfter time.Duration
	// sleep waits d or until ctx ends; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

func newAPIClient(base string, rec *recorder, log *slog.Logger, conns int) *apiClient {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = conns*2, conns*2
	return &apiClient{
		base: base, rec: rec, log: log,
		// Longer than the API's write timeout (45 s), so a slow update is answered 503 by the API rather than cut
		// off by this client; a cut-off is retried all the same.
		hc:        &http.Client{Timeout: 60 * time.Second, Transport: tr},
		baseDelay: 200 * time.Millisecond, maxDelay: 5 * time.Second, maxRetryAfter: 30 * time.Second,
		sleep: sleepCtx,
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// backoff is the wait before retry number attempt (1-based): doubling from baseDelay up to maxDelay, with
// jitter so twenty clients do not retry in lockstep.
func backoff(attempt int, base, maxDelay time.Duration) time.Duration {
	d := base
	for i := 1; i < attempt && d < maxDelay; i++ {
		d *= 2
	}
	d = min(d, maxDelay)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// retryAfter parses a Retry-After header (seconds or an HTTP date).
func retryAfter(h string, now time.Time) (time.Duration, bool) {
	if h == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

type problemBody struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// do sends the request until it succeeds, is refused, or ctx ends. A 2xx body is decoded into out.
func (c *apiClient) do(ctx context.Context, method, path, token, key string, body, out any) error {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return err
		}
	}
	since := time.Now()
	last := ""
	for attempt := 1; ; attempt++ {
		status, hdr, respBody, err := c.once(ctx, method, path, token, key, raw)
		now := time.Now()
		wait := backoff(attempt, c.baseDelay, c.maxDelay)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				// This attempt was cut off by the deadline, not answered: it does not count.
				return &GaveUp{Method: method, Path: path, Attempts: attempt - 1, Last: last + " (then the deadline cut off a waiting attempt)", Since: since}
			}
			c.rec.add(answer{at: now, netErr: true})
			last = err.Error()
		case status >= 200 && status < 300:
			c.rec.add(answer{at: now, status: status})
			if out != nil && len(respBody) > 0 {
				if err := json.Unmarshal(respBody, out); err != nil {
					return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
				}
			}
			return nil
		default:
			var p problemBody
			_ = json.Unmarshal(respBody, &p)
			ra, hasRA := retryAfter(hdr.Get("Retry-After"), now)
			a := answer{at: now, status: status}
			retry := status >= 500 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests
			if status == http.StatusConflict && p.Code == "idempotency_request_in_progress" {
				a.inFlight, retry = true, true
			}
			if status == http.StatusServiceUnavailable && !hasRA {
				a.noRetry = true
			}
			c.rec.add(a)
			if !retry {
				detail := p.Detail
				if p.Code == "" && detail == "" {
					detail = string(respBody)
				}
				return &Refusal{Method: method, Path: path, Status: status, Code: p.Code, Detail: detail}
			}
			last = fmt.Sprintf("%d %s", status, p.Code)
			if hasRA {
				wait = max(wait, min(ra, c.maxRetryAfter))
			}
		}
		if attempt == 1 || attempt%10 == 0 {
			c.log.Info("retrying", "method", method, "path", path, "key", key, "attempt", attempt, "last", last, "wait", wait)
		}
		if c.sleep(ctx, wait) != nil {
			return &GaveUp{Method: method, Path: path, Attempts: attempt, Last: last, Since: since}
		}
	}
}

func (c *apiClient) once(ctx context.Context, method, path, token, key string, raw []byte) (int, http.Header, []byte, error) {
	var body io.Reader
	if raw != nil {
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return 0, nil, nil, err
	}
	if raw != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		// The answer was cut off: the request may or may not have happened, as with a lost connection.
		return 0, nil, nil, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, resp.Header, b, nil
}

// isRefusal reports whether err is a refusal, and returns it.
func isRefusal(err error) (*Refusal, bool) {
	var r *Refusal
	ok := errors.As(err, &r)
	return r, ok
}
