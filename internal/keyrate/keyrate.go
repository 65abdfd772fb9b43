// Package keyrate is a token bucket per key (a user, a client address) with a bounded number of
// keys: the issuer's per-user mint budget and the proxy's per-address failed-handshake budget.
package keyrate

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter keeps one bucket per key. Only the keys that spent recently are kept: when MaxKeys
// keys are held, the keys whose bucket is full again are forgotten before a new one is added.
// Safe for concurrent use.
type Limiter struct {
	mu      sync.Mutex
	rate    rate.Limit
	burst   int
	maxKeys int
	m       map[string]*rate.Limiter
	now     func() time.Time
}

// New returns a Limiter refilling perSec tokens a second up to burst, for at most maxKeys keys
// between sweeps; now is the clock (time.Now when nil).
func New(perSec float64, burst, maxKeys int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{rate: rate.Limit(perSec), burst: burst, maxKeys: maxKeys, m: make(map[string]*rate.Limiter), now: now}
}

// Spend takes one token of key. When none is left it reports false and how long until one is
// back, in whole seconds and at least one (a Retry-After).
func (l *Limiter) Spend(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	lim := l.bucket(key, now)
	if lim.AllowN(now, 1) {
		return true, 0
	}
	return false, l.wait(lim, now)
}

// Blocked reports, without spending, whether key has no token left, and for how long (as Spend).
func (l *Limiter) Blocked(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.m[key]
	if !ok {
		return false, 0
	}
	now := l.now()
	if lim.TokensAt(now) < 1 {
		return true, l.wait(lim, now)
	}
	return false, 0
}

func (l *Limiter) wait(lim *rate.Limiter, now time.Time) time.Duration {
	return max(time.Duration(math.Ceil((1-lim.TokensAt(now))/float64(l.rate)))*time.Second, time.Second)
}

// bucket returns key's bucket, adding one (after a sweep when full). Called with l.mu held.
func (l *Limiter) bucket(key string, now time.Time) *rate.Limiter {
	if lim, ok := l.m[key]; ok {
		return lim
	}
	if len(l.m) >= l.maxKeys {
		for k, lim := range l.m {
			if lim.TokensAt(now) >= float64(l.burst) {
				delete(l.m, k)
			}
		}
	}
	lim := rate.NewLimiter(l.rate, l.burst)
	l.m[key] = lim
	return lim
}

// Len is the number of keys held, for tests.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
