package verifier

import (
	"sync"
	"time"
)

// ReplayCache remembers used jtis until their expiry (plus leeway), so a handshake token opens
// at most one connection. The Go proxy keeps one per org hub, as the Worker's Durable Object does
// in its SQLite storage. Safe for concurrent use.
type ReplayCache struct {
	mu      sync.Mutex
	seen    map[string]time.Time
	inserts int
}

// NewReplayCache returns an empty cache.
func NewReplayCache() *ReplayCache { return &ReplayCache{seen: make(map[string]time.Time)} }

// Use records jti as used until `until` and reports ErrReplayed if it was already in use.
func (c *ReplayCache) Use(jti string, until, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.seen[jti]; ok && now.Before(t) {
		return ErrReplayed
	}
	c.seen[jti] = until
	c.inserts++
	if c.inserts%64 == 0 { // amortised sweep keeps memory proportional to live tokens
		for k, t := range c.seen {
			if !now.Before(t) {
				delete(c.seen, k)
			}
		}
	}
	return nil
}

// Seen reports, without recording anything, whether jti is in use at now: the pre-flight's
// read-only replay check.
func (c *ReplayCache) Seen(jti string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.seen[jti]
	return ok && now.Before(t)
}

// Len is the number of remembered jtis.
func (c *ReplayCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}
