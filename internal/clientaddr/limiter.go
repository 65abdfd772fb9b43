package clientaddr

import (
	"container/list"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxKeys bounds how many client keys a Limiter tracks.
const DefaultMaxKeys = 100000

// Limiter is a token bucket per key. As a failure limiter (Blocked, then Fail) only failures
// spend tokens, so an attacker on one address cannot slow down clients on others, nor successful
// clients at all: the proxy's failed handshakes and the issuer's failed access tokens per client
// address. As a plain budget (Allow) every request spends one: the issuer's mints per user.
//
// It tracks at most max keys, in the order of their last use. Each use forgets up to two of the
// oldest keys whose budget is full again (O(1), so the table shrinks after a spike), and a new
// key when the table is still full evicts the key whose last use is the oldest. Memory is
// bounded whatever the number of addresses, and no request pays for a scan of the table; the price
// is that an attacker with more than max addresses (IPv4 addresses or IPv6 /64s) can make a
// blocked key be forgotten early, which gives that key a fresh budget.
type Limiter struct {
	mu    sync.Mutex
	rate  rate.Limit
	burst int
	max   int
	m     map[string]*list.Element // of *entry; the list is ordered by last failure, newest first
	lru   *list.List
	now   func() time.Time
}

type entry struct {
	key string
	lim *rate.Limiter
}

// NewLimiter allows burst failures per key at once and perSec after; maxKeys <= 0 means
// DefaultMaxKeys.
func NewLimiter(perSec float64, burst, maxKeys int, now func() time.Time) *Limiter {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	return &Limiter{rate: rate.Limit(perSec), burst: burst, max: maxKeys, m: make(map[string]*list.Element), lru: list.New(), now: now}
}

// Blocked reports whether key has no failure budget left, and for how long (≥ 1 s).
func (l *Limiter) Blocked(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.m[key]
	if !ok {
		return false, 0
	}
	now := l.now()
	if lim := el.Value.(*entry).lim; lim.TokensAt(now) < 1 {
		return true, l.wait(lim, now)
	}
	return false, 0
}

// Fail spends one token of key's budget.
func (l *Limiter) Fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	el := l.touch(key)
	el.Value.(*entry).lim.AllowN(now, 1)
	l.forgetFull(el, now)
}

// Allow spends one token of key's budget if there is one; if not it spends nothing and reports
// how long until there is (≥ 1 s). It is Blocked and Fail in one step, for a budget that every
// request spends, not only failures: the issuer's mints per user.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	el := l.touch(key)
	lim := el.Value.(*entry).lim
	ok := lim.AllowN(now, 1)
	l.forgetFull(el, now)
	if ok {
		return true, 0
	}
	return false, l.wait(lim, now)
}

// touch returns key's entry, now the newest; a new key when the table is full evicts the key
// whose last use is the oldest.
func (l *Limiter) touch(key string) *list.Element {
	if el, ok := l.m[key]; ok {
		l.lru.MoveToFront(el)
		return el
	}
	for len(l.m) >= l.max {
		old := l.lru.Back()
		l.lru.Remove(old)
		delete(l.m, old.Value.(*entry).key)
	}
	el := l.lru.PushFront(&entry{key: key, lim: rate.NewLimiter(l.rate, l.burst)})
	l.m[key] = el
	return el
}

// forgetFull forgets up to two of the oldest keys whose budget is full again, never keep: O(1)
// per call, so the table shrinks after a spike without a scan.
func (l *Limiter) forgetFull(keep *list.Element, now time.Time) {
	for range 2 {
		old := l.lru.Back()
		if old == keep || old.Value.(*entry).lim.TokensAt(now) < float64(l.burst) {
			return
		}
		l.lru.Remove(old)
		delete(l.m, old.Value.(*entry).key)
	}
}

// maxWait keeps a wait of a near-zero rate within time.Duration.
const maxWait = time.Duration(math.MaxInt64) / time.Second * time.Second

// wait is how long until lim has a whole token again, in whole seconds, at least one.
func (l *Limiter) wait(lim *rate.Limiter, now time.Time) time.Duration {
	secs := math.Ceil((1 - lim.TokensAt(now)) / float64(l.rate))
	if secs >= maxWait.Seconds() {
		return maxWait
	}
	return max(time.Duration(secs)*time.Second, time.Second)
}

// SetRetryAfter sets the Retry-After header of a refusal that waits wait (whole seconds).
func SetRetryAfter(h http.Header, wait time.Duration) {
	h.Set("Retry-After", strconv.Itoa(int(wait/time.Second)))
}

// Len is the number of keys tracked.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
