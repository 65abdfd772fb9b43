package verifier

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"golang.org/x/time/rate"

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

// jwksKeys reads keys from a remote JWKS through keyfunc/jwkset: cached, refreshed in the
// background, refreshed on an unknown kid at most once per interval.
type jwksKeys struct {
	storage  jwkset.Storage
	fresh    *jwksfresh.Tracker
	maxStale time.Duration
}

func newJWKSKeys(ctx context.Context, cfg Config, client *http.Client, logger *slog.Logger, now func() time.Time) (*jwksKeys, error) {
	if client == nil {
		client = &http.Client{Timeout: cfg.JWKSTimeout}
	}
	fresh := jwksfresh.New(now)
	client = fresh.Client(client)
	noErrFirst := true // a JWKS that is down at start-up must not stop the router; it answers keys_unavailable until it comes back
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{cfg.JWKSURL}, keyfunc.Override{
		Client:                    client,
		HTTPTimeout:               cfg.JWKSTimeout,
		RefreshInterval:           cfg.JWKSRefreshInterval,
		RefreshUnknownKID:         rate.NewLimiter(rate.Every(cfg.JWKSUnknownKIDInterval), 1),
		RateLimitWaitMax:          time.Millisecond, // never park a handshake behind the limiter
		NoErrorReturnFirstHTTPReq: &noErrFirst,
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(ctx context.Context, err error) {
				logger.WarnContext(ctx, "JWKS refresh failed; serving cached keys", "url", u, "error", err)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("CONN_JWKS_URL: %w", err)
	}
	return &jwksKeys{storage: kf.Storage(), fresh: fresh, maxStale: cfg.JWKSMaxStale}, nil
}

func (j *jwksKeys) Key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	if j.fresh.Stale(j.maxStale) {
		return nil, fmt.Errorf("%w: no good JWKS fetch within %v", ErrKeysUnavailable, j.maxStale)
	}
	jwk, err := j.storage.KeyRead(ctx, kid)
	if err != nil {
		if all, aerr := j.storage.KeyReadAll(ctx); aerr == nil && len(all) == 0 {
			return nil, ErrKeysUnavailable
		}
		if errors.Is(err, jwkset.ErrKeyNotFound) || errors.Is(err, context.DeadlineExceeded) {
			return nil, ErrUnknownKID
		}
		return nil, fmt.Errorf("%w: %v", ErrUnknownKID, err)
	}
	pub, ok := jwk.Key().(*rsa.PublicKey)
	if !ok || rsakey.CheckSize(pub) != nil {
		return nil, ErrUnknownKID // non-RSA and weak keys in a JWKS are ignored
	}
	return pub, nil
}
