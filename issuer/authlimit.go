package issuer

import (
	"errors"
	"net/http"
	"time"

	"github.com/qubital/office-router/internal/clientaddr"
)

// Failed access tokens per client address. Each bad bearer token costs an RSA verification, so
// an address that keeps sending them gets 429 rate_limited with Retry-After, as failed
// handshakes do at the Go proxy; valid tokens never spend the budget. The address is the
// proxy's (internal/clientaddr): the TCP peer, or behind TRUSTED_PROXIES the client they name;
// IPv4 per address, IPv6 per /64.
const (
	DefaultFailedAuthPerSecond = 10
	DefaultFailedAuthBurst     = 100
)

// checkAuthLimit parses TRUSTED_PROXIES and fills in the failed-token budget's defaults.
func (c *Config) checkAuthLimit() error {
	var err error
	if c.trusted, err = clientaddr.ParseTrusted(c.TrustedProxies); err != nil {
		return err
	}
	if c.FailedAuthPerSecond < 0 || c.FailedAuthBurst < 0 {
		return errors.New("the failed access token limit must be positive")
	}
	if c.FailedAuthPerSecond == 0 {
		c.FailedAuthPerSecond = DefaultFailedAuthPerSecond
	}
	if c.FailedAuthBurst == 0 {
		c.FailedAuthBurst = DefaultFailedAuthBurst
	}
	return nil
}

func newAuthLimiter(c Config, now func() time.Time) *clientaddr.Limiter {
	return clientaddr.NewLimiter(c.FailedAuthPerSecond, c.FailedAuthBurst, clientaddr.DefaultMaxKeys, now)
}

// authFailed reports whether err is a refused access token, which spends the address's budget.
// A missing token is cheap but counted too, as at the proxy; an unavailable identity provider
// is not the caller's failure.
func authFailed(err error) bool {
	return errors.Is(err, ErrInvalidToken) || errors.Is(err, ErrTokenExpired) || errors.Is(err, ErrMissingToken)
}

// authenticateLimited is authenticate behind the per-address failed-token budget.
func (s *Server) authenticateLimited(w http.ResponseWriter, r *http.Request) (Identity, error) {
	key := clientaddr.RequestKey(r, s.cfg.trusted)
	if blocked, wait := s.authFails.Blocked(key); blocked {
		clientaddr.SetRetryAfter(w.Header(), wait)
		return Identity{}, ErrRateLimited
	}
	id, err := s.authenticate(r)
	if err != nil && authFailed(err) {
		s.authFails.Fail(key)
	}
	return id, err
}
