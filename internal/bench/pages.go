package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
)

// webUser is one signed-in browser: a cookie jar with the web application's session.
type webUser struct {
	base string
	c    *http.Client
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// signIn signs in to the web application with an API token, the way the sign-in page's form does.
func signIn(ctx context.Context, base, token string) (*webUser, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	u := &webUser{base: base, c: &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: http.DefaultTransport}}
	body, status, err := u.get(ctx, "/log-ind")
	if err != nil || status != http.StatusOK {
		return nil, fmt.Errorf("sign-in page: %d %v", status, err)
	}
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		return nil, fmt.Errorf("sign-in page has no CSRF token")
	}
	form := url.Values{"csrf_token": {m[1]}, "token": {token}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/log-ind/token", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err := u.c.Do(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Request.URL.Path == "/log-ind" || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("sign-in with token: %d at %s", resp.StatusCode, resp.Request.URL.Path)
	}
	return u, nil
}

func (u *webUser) get(ctx context.Context, path string) (string, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.base+path, nil)
	if err != nil {
		return "", 0, err
	}
	resp, err := u.c.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode, err
}

// pageCall is one page the benchmark requests, as the user who sees it.
type pageCall struct {
	route string
	path  string
	user  *webUser
}

// benchPages requests the web application's pages from `clients` concurrent clients, `requests` times in all,
// and records the latency of each under its route. A page that does not answer 200 is an error.
func benchPages(ctx context.Context, rec *recorder, clients, requests int, calls []pageCall) error {
	var (
		once  sync.Once
		first error
	)
	parallel(clients, requests, func(i int) {
		call := calls[i%len(calls)]
		start := time.Now()
		_, status, err := call.user.get(ctx, call.path)
		rec.observe("GET "+call.route, time.Since(start), status)
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("GET %s: %d", call.path, status)
		}
		if err != nil {
			once.Do(func() { first = err })
		}
	})
	return first
}
