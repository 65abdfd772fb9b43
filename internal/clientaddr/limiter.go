package clientaddr

import (
	"container/list"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxKeys bounds how many client keys a Limiter tracks.
const DefaultMaxKeys = 100000

// Limiter limits failures per client key. Only failures spend tokens, so an attacker on one
// address cannot slow down clients on others, nor successful clients at all.
//
// It tracks at most max keys, in the order of their last failure. Each failure forgets up to two
// of the oldest keys whose budget is full again (O(1), so the table shrinks after a spike), and a
// new key when the table is still full evicts the key whose last failure is the oldest. Memory is
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
	if t := el.Value.(*entry).lim.TokensAt(l.now()); t < 1 {
		wait := time.Duration(math.Ceil((1-t)/float64(l.rate))) * time.Second
		return true, max(wait, time.Second)
	}
	return false, 0
}

// Fail spends one token of key's budget.
func (l *Limiter) Fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	el, ok := l.m[key]
	if ok {
		l.lru.MoveToFront(el)
	} else {
		for len(l.m) >= l.max {
			old := l.lru.Back()
			l.lru.Remove(old)
			delete(l.m, old.Value.(*entry).key)
		}
		el = l.lru.PushFront(&entry{key: key, lim: rate.NewLimiter(l.rate, l.burst)})
		l.m[key] = el
	}
	el.Value.(*entry).lim.AllowN(now, 1)
	for range 2 {
		old := l.lru.Back()
		if old == el || old.Value.(*entry).lim.TokensAt(now) < float64(l.burst) {
			break
		}
		l.lru.Remove(old)
		delete(l.m, old.Value.(*entry).key)
	}
}

// Len is the number of keys tracked.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
