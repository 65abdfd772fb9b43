package proxy

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ipLimiter limits failed handshakes per client IP. Only failures spend tokens, so an attacker
// on one address cannot slow down clients on others, nor successful clients at all.
type ipLimiter struct {
	mu    sync.Mutex
	rate  rate.Limit
	burst int
	m     map[string]*rate.Limiter
	now   func() time.Time
}

func newIPLimiter(perSec float64, burst int, now func() time.Time) *ipLimiter {
	return &ipLimiter{rate: rate.Limit(perSec), burst: burst, m: make(map[string]*rate.Limiter), now: now}
}

// blocked reports whether ip has no failure budget left, and for how long.
func (l *ipLimiter) blocked(ip string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.m[ip]
	if !ok {
		return false, 0
	}
	now := l.now()
	if t := lim.TokensAt(now); t < 1 {
		wait := time.Duration(math.Ceil((1-t)/float64(l.rate))) * time.Second
		return true, max(wait, time.Second)
	}
	return false, 0
}

// fail spends one token of ip's budget.
func (l *ipLimiter) fail(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.m[ip]
	if !ok {
		if len(l.m) >= maxRateLimitedAddresses {
			l.sweep()
		}
		lim = rate.NewLimiter(l.rate, l.burst)
		l.m[ip] = lim
	}
	lim.AllowN(l.now(), 1)
}

// sweep forgets addresses whose budget is full again.
func (l *ipLimiter) sweep() {
	now := l.now()
	for ip, lim := range l.m {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.m, ip)
		}
	}
}
