package verifier

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/qubital/office-router/internal/jwksfresh"
	"github.com/qubital/office-router/internal/rsakey"
)

// KeySource finds the RSA public key for a kid. It returns ErrUnknownKID when there is none,
// or ErrKeysUnavailable when it has no keys at all.
type KeySource interface {
	Key(ctx context.Context, kid string) (*rsa.PublicKey, error)
}

// StaticKeys is a KeySource over fixed keys, indexed by their RFC 7638 thumbprints.
type StaticKeys map[string]*rsa.PublicKey

var _ KeySource = StaticKeys(nil)

// NewStaticKeys indexes keys by thumbprint. Keys under 2048 bits are refused.
func NewStaticKeys(keys ...*rsa.PublicKey) (StaticKeys, error) {
	s := make(StaticKeys, len(keys))
	for _, k := range keys {
		if err := rsakey.CheckSize(k); err != nil {
			return nil, err
		}
		s[rsakey.Thumbprint(k)] = k
	}
	return s, nil
}

// Key implements KeySource.
func (s StaticKeys) Key(_ context.Context, kid string) (*rsa.PublicKey, error) {
	if k, ok := s[kid]; ok {
		return k, nil
	}
	return nil, ErrUnknownKID
}

// jwksKeys reads keys from CONN_JWKS_URL through a jwksfresh.Set: refreshed every
// JWKSRefreshInterval; a new kid waits for one shared, rate-limited fetch (docs/operations.md).
type jwksKeys struct {
	set      *jwksfresh.Set
	maxStale time.Duration
}

func newJWKSKeys(cfg Config, client *http.Client, logger *slog.Logger, now func() time.Time) *jwksKeys {
	return &jwksKeys{maxStale: cfg.JWKSMaxStale, set: jwksfresh.Start(jwksfresh.Options{
		URL: cfg.JWKSURL, Name: "CONN_JWKS_URL", Refresh: cfg.JWKSRefreshInterval,
		UnknownKIDInterval: cfg.JWKSUnknownKIDInterval, Timeout: cfg.JWKSTimeout,
		Client: client, Now: now, Logger: logger,
	})}
}

func (j *jwksKeys) Key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	if j.set.Stale(j.maxStale) {
		j.set.Refresh(ctx) // the JWKS may be back: one shared, rate-limited fetch tells
		if j.set.Stale(j.maxStale) {
			return nil, fmt.Errorf("%w: no good JWKS fetch within %v", ErrKeysUnavailable, j.maxStale)
		}
	}
	jwk, err := j.set.Lookup(ctx, kid)
	switch {
	case errors.Is(err, jwksfresh.ErrNoKeys):
		return nil, ErrKeysUnavailable
	case errors.Is(err, jwksfresh.ErrUnknownKID):
		return nil, ErrUnknownKID
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrUnknownKID, err)
	}
	pub, ok := jwk.Key().(*rsa.PublicKey)
	if !ok || rsakey.CheckSize(pub) != nil {
		return nil, ErrUnknownKID // non-RSA and weak keys in a JWKS are ignored
	}
	return pub, nil
}
