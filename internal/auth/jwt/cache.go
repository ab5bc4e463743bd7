package jwt

import (
	"crypto/sha256"
	"slices"
	"sync"
	"time"

	"github.com/izwi-speech/izwi/internal/auth"
)

// Verified tokens are cached so a client that reuses one token pays for the
// signature check once. An entry lives until the token expires (plus
// leeway) but never longer than cacheMaxAge, so a key the issuer withdraws
// stops working within that time even for tokens already seen.
const (
	cacheMaxAge     = time.Minute
	cacheMaxEntries = 10000
)

type cached struct {
	p     auth.Principal
	until time.Time
}

// verifiedCache maps SHA-256(token) to its principal. Only tokens that passed
// every check are stored; lookups compare whole hashes of the exact bytes.
type verifiedCache struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]cached
}

func (c *verifiedCache) get(h [sha256.Size]byte, now time.Time) (auth.Principal, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[h]
	if !ok {
		return auth.Principal{}, false
	}
	if !now.Before(e.until) {
		delete(c.entries, h)
		return auth.Principal{}, false
	}
	return e.p, true
}

func (c *verifiedCache) put(h [sha256.Size]byte, p auth.Principal, now time.Time, leeway time.Duration) {
	until := p.Expires.Add(leeway)
	if lim := now.Add(cacheMaxAge); lim.Before(until) {
		until = lim
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[[sha256.Size]byte]cached{}
	}
	if len(c.entries) >= cacheMaxEntries {
		for k, e := range c.entries {
			if !now.Before(e.until) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= cacheMaxEntries {
			clear(c.entries) // a flood of distinct valid tokens: start over
		}
	}
	p.Scopes = slices.Clone(p.Scopes) // the caller keeps its own copy
	c.entries[h] = cached{p: p, until: until}
}
