// Package apiclient is a small typed client of the helhedsplan HTTP API, used by the end-to-end tests and the
// benchmark. It times every call so the benchmark can report latency per endpoint.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Problem is an RFC 9457 problem+json answer.
type Problem struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
}

func (p *Problem) Error() string {
	msg := fmt.Sprintf("%d %s: %s", p.Status, p.Code, p.Detail)
	for _, e := range p.Errors {
		msg += fmt.Sprintf(" [%s %s: %s]", e.Field, e.Code, e.Message)
	}
	return msg
}

// Client calls the API at BaseURL.
type Client struct {
	BaseURL string
	HTTP    *http.Client
	// Observe, when set, is told the duration of every call, under a route name with IDs left out.
	Observe func(route string, d time.Duration, status int)
}

// Call is one request.
type Call struct {
	Method         string
	Path           string // below BaseURL, e.g. "/api/v1/initiatives"
	Route          string // name for Observe; Path when empty
	Token          string
	Body           any
	IdempotencyKey string
}

// Do sends the call and decodes a 2xx answer into out (which may be nil). A non-2xx answer is returned as a
// *Problem error.
func (c *Client) Do(ctx context.Context, call Call, out any) (int, error) {
	var body io.Reader
	if call.Body != nil {
		b, err := json.Marshal(call.Body)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, call.Method, c.BaseURL+call.Path, body)
	if err != nil {
		return 0, err
	}
	if call.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if call.Token != "" {
		req.Header.Set("Authorization", "Bearer "+call.Token)
	}
	if call.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", call.IdempotencyKey)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if c.Observe != nil {
		route := call.Route
		if route == "" {
			route = call.Path
		}
		c.Observe(call.Method+" "+route, time.Since(start), resp.StatusCode)
	}
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		p := &Problem{Status: resp.StatusCode}
		if json.Unmarshal(raw, p) != nil || p.Code == "" {
			p.Detail = string(raw)
		}
		return resp.StatusCode, p
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode %s %s: %w", call.Method, call.Path, err)
		}
	}
	return resp.StatusCode, nil
}
