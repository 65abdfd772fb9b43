package proxy

import (
	"time"

	"github.com/qubital/office-router/internal/clientaddr"
)

// ipLimiter limits failed handshakes per client key (clientip.go): clientaddr.Limiter, bounded
// to maxRateLimitedAddresses keys.
type ipLimiter struct{ l *clientaddr.Limiter }

func newIPLimiter(perSec float64, burst int, now func() time.Time) *ipLimiter {
	return &ipLimiter{clientaddr.NewLimiter(perSec, burst, maxRateLimitedAddresses, now)}
}

// blocked reports whether ip has no failure budget left, and for how long.
func (l *ipLimiter) blocked(ip string) (bool, time.Duration) { return l.l.Blocked(ip) }

// fail spends one token of ip's budget.
func (l *ipLimiter) fail(ip string) { l.l.Fail(ip) }
