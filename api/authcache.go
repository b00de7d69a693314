package api

import (
	"sync"
	"time"

	"github.com/helhedsplan/helhedsplan/store"
)

// principalCache remembers resolved tokens for a short while, so a busy client does not cost a database round
// trip per request just to say who it is. Only successful lookups are cached (an unknown token always reaches the
// database, so guessing fills nothing), and a revoked token stops working within one TTL.
type principalCache struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu sync.Mutex
	m  map[[32]byte]cachedPrincipal
}

type cachedPrincipal struct {
	p       store.Principal
	expires time.Time
}

func newPrincipalCache(ttl time.Duration, max int) *principalCache {
	return &principalCache{ttl: ttl, max: max, now: time.Now, m: make(map[[32]byte]cachedPrincipal)}
}

func (c *principalCache) get(h [32]byte) (store.Principal, bool) {
	if c == nil {
		return store.Principal{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[h]
	if !ok || !c.now().Before(e.expires) {
		return store.Principal{}, false
	}
	return e.p, true
}

func (c *principalCache) put(h [32]byte, p store.Principal) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.m) >= c.max {
		for k, e := range c.m {
			if !now.Before(e.expires) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= c.max { // all fresh: start over rather than grow without bound
			clear(c.m)
		}
	}
	c.m[h] = cachedPrincipal{p: p, expires: now.Add(c.ttl)}
}
