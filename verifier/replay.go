package verifier

import (
	"container/heap"
	"sync"
	"time"
)

// ReplayCache remembers used jtis until their expiry (plus leeway), so a handshake token opens
// at most one connection. The Go proxy keeps one for all its orgs, as the Worker's Durable
// Object keeps one per org in its SQLite storage. Safe for concurrent use.
//
// Two rules close the window at the edge of `exp + leeway` (docs/security.md): a jti whose
// `until` has passed is refused outright (the token is dead anyway, and the verifier's clock
// read may be older than ours), and the lookup happens before any garbage is collected.
// Expiry is heap-ordered, so collecting costs O(expired · log n) per call instead of a walk over
// every remembered jti under the lock during a reconnect storm.
//
// Callers read the clock before they take the lock, so under contention calls arrive out of
// clock order. The cache therefore judges every call at the latest `now` it has been given
// (latest): once one caller has seen a jti's `until` pass and collected it, a caller with an
// older clock read must not find it gone and accept the token again.
type ReplayCache struct {
	mu     sync.Mutex
	seen   map[string]time.Time
	expiry expiryHeap
	latest time.Time // the latest now given to Use
}

// NewReplayCache returns an empty cache.
func NewReplayCache() *ReplayCache { return &ReplayCache{seen: make(map[string]time.Time)} }

// Use records jti as used until `until`. It reports ErrReplayed if jti is still remembered as
// in use at now, and ErrExpired if until is not after now.
func (c *ReplayCache) Use(jti string, until, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now = c.advance(now)
	if !now.Before(until) {
		return ErrExpired
	}
	if t, ok := c.seen[jti]; ok && now.Before(t) {
		return ErrReplayed
	}
	c.seen[jti] = until
	heap.Push(&c.expiry, expiring{until: until, jti: jti})
	c.collect(now)
	return nil
}

// advance returns the later of now and every now seen before; the caller holds c.mu.
func (c *ReplayCache) advance(now time.Time) time.Time {
	if now.Before(c.latest) {
		return c.latest
	}
	c.latest = now
	return now
}

// collect forgets the jtis whose time has passed; the caller holds c.mu.
func (c *ReplayCache) collect(now time.Time) {
	for len(c.expiry) > 0 && !now.Before(c.expiry[0].until) {
		e := heap.Pop(&c.expiry).(expiring)
		if t, ok := c.seen[e.jti]; ok && t.Equal(e.until) { // not since replaced by a later until
			delete(c.seen, e.jti)
		}
	}
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

type expiring struct {
	until time.Time
	jti   string
}

// expiryHeap is a min-heap of expiries (container/heap).
type expiryHeap []expiring

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].until.Before(h[j].until) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiring)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = expiring{} // drop the string reference
	*h = old[:len(old)-1]
	return e
}
