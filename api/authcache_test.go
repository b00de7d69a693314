package api

import (
	"crypto/sha256"
	"net/http"
	"testing"
	"time"

	"github.com/helhedsplan/helhedsplan/store"
)

func TestTokenLookupsAreCachedBriefly(t *testing.T) {
	h := newHarness(t)
	for range 3 {
		wantStatus(t, h.do(http.MethodGet, "/api/v1/me", tokMette, ""), http.StatusOK)
	}
	if h.st.principalCalls != 1 {
		t.Fatalf("three requests with one token looked it up %d times, want 1", h.st.principalCalls)
	}
	for range 2 {
		wantStatus(t, h.do(http.MethodGet, "/api/v1/me", "no-such-token", ""), http.StatusUnauthorized)
	}
	if h.st.principalCalls != 3 {
		t.Fatalf("unknown tokens looked up %d times in all, want every time (3)", h.st.principalCalls)
	}
}

func TestCachedPrincipalExpires(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	c := newPrincipalCache(10*time.Second, 2)
	c.now = func() time.Time { return now }
	a, b, d := sha256.Sum256([]byte("a")), sha256.Sum256([]byte("b")), sha256.Sum256([]byte("d"))
	c.put(a, store.Principal{UserID: "a"})
	if p, ok := c.get(a); !ok || p.UserID != "a" {
		t.Fatalf("fresh entry: %+v %v", p, ok)
	}
	now = now.Add(10 * time.Second)
	if _, ok := c.get(a); ok {
		t.Fatal("an entry is still served at its TTL: a revoked token would outlive it")
	}
	c.put(b, store.Principal{UserID: "b"})
	c.put(d, store.Principal{UserID: "d"}) // full: the expired a makes room
	if _, ok := c.get(b); !ok {
		t.Fatal("a fresh entry was evicted while an expired one could go")
	}
	if len(c.m) > 2 {
		t.Fatalf("cache holds %d entries, max 2", len(c.m))
	}
}

func TestNegativeTTLDisablesTheCache(t *testing.T) {
	h := newHarness(t)
	h.e = New(Config{AuthCacheTTL: -1}, h.st, h.wf, nil, nil, nil)
	for range 2 {
		wantStatus(t, h.do(http.MethodGet, "/api/v1/me", tokMette, ""), http.StatusOK)
	}
	if h.st.principalCalls != 2 {
		t.Fatalf("lookups = %d, want 2 with the cache off", h.st.principalCalls)
	}
}
