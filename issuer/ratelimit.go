package issuer

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/qubital/office-router/internal/clientaddr"
)

// Mint rate limit defaults (Config.MintsPerSecond, Config.MintBurst). A browser needs one
// handshake token per (re)connection, with backoff; 20 at once covers many tabs reconnecting
// together, 2 per second any honest reconnect loop.
const (
	DefaultMintsPerSecond = 2
	DefaultMintBurst      = 20
	maxLimitedUsers       = 100000
)

// envNumber parses a positive numeric variable; empty is 0 (the default), anything else that
// is not a finite number > 0 is -1 so that validate names the variable.
func envNumber(s string) float64 {
	if s == "" {
		return 0
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 {
		return -1
	}
	return f
}

// envInt is envNumber for a positive integer variable: "0.5" or "2.0" is -1, not a truncated 0
// that would silently become the default.
func envInt(s string) int {
	if s == "" {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n <= 0 {
		return -1
	}
	return n
}

func (c *Config) checkLimits() error {
	var errs []error
	if c.MintsPerSecond < 0 || math.IsNaN(c.MintsPerSecond) || math.IsInf(c.MintsPerSecond, 0) {
		errs = append(errs, errors.New("MINTS_PER_SECOND must be a positive number"))
	}
	if c.MintBurst < 0 {
		errs = append(errs, errors.New("MINT_BURST must be a positive integer"))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if c.MintsPerSecond == 0 {
		c.MintsPerSecond = DefaultMintsPerSecond
	}
	if c.MintBurst == 0 {
		c.MintBurst = DefaultMintBurst
	}
	return nil
}

// newMintLimiter is the per-user mint budget: a clientaddr.Limiter keyed by user ID, which every
// mint spends (Allow), bounded to maxLimitedUsers users.
func newMintLimiter(perSec float64, burst int, now func() time.Time) *clientaddr.Limiter {
	return clientaddr.NewLimiter(perSec, burst, maxLimitedUsers, now)
}

// allowMint spends one mint of user; when none is left it sets Retry-After and reports
// ErrRateLimited.
func (s *Server) allowMint(w http.ResponseWriter, user string) error {
	if ok, wait := s.mints.Allow(user); !ok {
		clientaddr.SetRetryAfter(w.Header(), wait)
		return ErrRateLimited
	}
	return nil
}
