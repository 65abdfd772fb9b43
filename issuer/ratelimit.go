package issuer

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"
)

// Mint rate limit defaults (Config.MintsPerSecond, Config.MintBurst). A browser needs one
// handshake token per (re)connection, with backoff; 20 at once covers many tabs reconnecting
// together, 2 per second any honest reconnect loop.
const (
	DefaultMintsPerSecond = 2
	DefaultMintBurst      = 20
	maxLimitedUsers       = 100000
)

// envNumber parses a numeric variable; empty is 0 (the default), garbage is -1 so that
// validate names the variable.
func envNumber(s string) float64 {
	if s == "" {
		return 0
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return -1
	}
	return f
}

func (c *Config) checkLimits() error {
	if c.MintsPerSecond < 0 {
		return errors.New("MINTS_PER_SECOND must be a positive number")
	}
	if c.MintBurst < 0 {
		return errors.New("MINT_BURST must be a positive integer")
	}
	if c.MintsPerSecond == 0 {
		c.MintsPerSecond = DefaultMintsPerSecond
	}
	if c.MintBurst == 0 {
		c.MintBurst = DefaultMintBurst
	}
	return nil
}

// allowMint spends one mint of user; when none is left it sets Retry-After and reports
// ErrRateLimited.
func (s *Server) allowMint(w http.ResponseWriter, user string) error {
	if ok, wait := s.mints.Spend(user); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)))
		return ErrRateLimited
	}
	return nil
}
