package verifier

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Defaults shared with the Worker (wrangler.jsonc vars); see docs/configuration.md.
const (
	DefaultLeeway = 5 * time.Second
	DefaultMaxTTL = 60 * time.Second
	MaxTokenBytes = 4096
	NoLeeway      = time.Duration(-1)
	// DefaultJWKSRefreshInterval is how often CONN_JWKS_URL is fetched again: the lead a key
	// needs between being published (JWT_NEXT_PUBLIC_KEYS) and being signed with
	// (docs/operations.md).
	DefaultJWKSRefreshInterval = 60 * time.Second
	// DefaultJWKSUnknownKIDInterval is the least time between two fetches caused by unknown kids.
	DefaultJWKSUnknownKIDInterval = 30 * time.Second
	// DefaultJWKSTimeout bounds each JWKS fetch, and so the wait of a handshake with a new kid.
	DefaultJWKSTimeout = 10 * time.Second
)

// Config holds deploy-time settings. Exactly one of PublicKeysPEM and JWKSURL is required.
type Config struct {
	// PublicKeysPEM is CONN_JWT_PUBLIC_KEY: one or more "PUBLIC KEY" PEM blocks, RSA ≥ 2048 bits.
	// Each key's kid is its RFC 7638 thumbprint. Several keys allow rotation.
	PublicKeysPEM string
	// JWKSURL is CONN_JWKS_URL, e.g. the issuer's /.well-known/jwks.json.
	JWKSURL string
	// Issuer is JWT_ISSUER, compared exactly with `iss`. Required.
	Issuer string
	// Audience is JWT_AUDIENCE, compared exactly with `aud` (or one of its entries). Required.
	Audience string
	// Leeway is JWT_LEEWAY_SECONDS: clock skew allowed on exp, nbf and iat.
	// This defaults to 5 s when zero; NoLeeway means none.
	Leeway time.Duration
	// MaxTTL is JWT_MAX_TTL_SECONDS: the largest allowed exp − iat. This defaults to 60 s.
	MaxTTL time.Duration
	// JWKSRefreshInterval is how often the JWKS is fetched again, hence how long a key published
	// before use takes to be trusted here (step 2 of docs/operations.md). This defaults to 60 s.
	JWKSRefreshInterval time.Duration
	// JWKSUnknownKIDInterval is the least time between two fetches caused by a token with an
	// unknown kid. Such a handshake waits for the fetch (bounded by JWKSTimeout) and is verified
	// again; handshakes arriving while it runs share it; when the budget is spent they are
	// refused at once with unknown_kid, so forged kids cannot cause a refresh storm.
	// This defaults to 30 s.
	JWKSUnknownKIDInterval time.Duration
	// JWKSTimeout bounds each JWKS request, and so how long a handshake with a new kid may wait.
	// This defaults to 10 s.
	JWKSTimeout time.Duration
	// JWKSMaxStale bounds how long cached keys are trusted while every refresh fails; after it,
	// handshakes get 503 keys_unavailable until a refresh succeeds. This defaults to 24 h.
	JWKSMaxStale time.Duration
}

// ConfigFromEnv reads the variables named in docs/configuration.md. It does not validate: New does.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{
		PublicKeysPEM: getenv("CONN_JWT_PUBLIC_KEY"),
		JWKSURL:       getenv("CONN_JWKS_URL"),
		Issuer:        getenv("JWT_ISSUER"),
		Audience:      getenv("JWT_AUDIENCE"),
	}
	var err error
	if cfg.Leeway, err = envSeconds(getenv, "JWT_LEEWAY_SECONDS"); err != nil {
		return cfg, err
	}
	if cfg.Leeway == 0 && strings.TrimSpace(getenv("JWT_LEEWAY_SECONDS")) != "" {
		cfg.Leeway = NoLeeway
	}
	if cfg.MaxTTL, err = envSeconds(getenv, "JWT_MAX_TTL_SECONDS"); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func envSeconds(getenv func(string) string, name string) (time.Duration, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 86400 {
		return 0, fmt.Errorf("%s: want whole seconds from 0 to 86400, got %q", name, v)
	}
	return time.Duration(n) * time.Second, nil
}

// Option injects dependencies; deploy-time settings belong in Config.
type Option func(*options)

type options struct {
	now    func() time.Time
	logger *slog.Logger
	client *http.Client
}

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithLogger sets the logger (JWKS refresh failures). This defaults to slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithHTTPClient sets the client used for CONN_JWKS_URL. This defaults to a client with JWKSTimeout.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.client = c } }

var errConfig = errors.New("verifier config")

func (c *Config) validate() error {
	switch {
	case c.PublicKeysPEM == "" && c.JWKSURL == "":
		return fmt.Errorf("%w: set CONN_JWT_PUBLIC_KEY or CONN_JWKS_URL", errConfig)
	case c.PublicKeysPEM != "" && c.JWKSURL != "":
		return fmt.Errorf("%w: set only one of CONN_JWT_PUBLIC_KEY and CONN_JWKS_URL", errConfig)
	}
	if c.Issuer == "" {
		return fmt.Errorf("%w: JWT_ISSUER is required", errConfig)
	}
	if c.Audience == "" {
		return fmt.Errorf("%w: JWT_AUDIENCE is required", errConfig)
	}
	switch {
	case c.Leeway == 0:
		c.Leeway = DefaultLeeway
	case c.Leeway == NoLeeway:
		c.Leeway = 0
	case c.Leeway < 0 || c.Leeway%time.Second != 0:
		return fmt.Errorf("%w: JWT_LEEWAY_SECONDS must be whole non-negative seconds", errConfig)
	}
	if c.MaxTTL == 0 {
		c.MaxTTL = DefaultMaxTTL
	}
	if c.MaxTTL < 0 || c.MaxTTL%time.Second != 0 {
		return fmt.Errorf("%w: JWT_MAX_TTL_SECONDS must be whole positive seconds", errConfig)
	}
	if c.JWKSRefreshInterval <= 0 {
		c.JWKSRefreshInterval = DefaultJWKSRefreshInterval
	}
	if c.JWKSUnknownKIDInterval <= 0 {
		c.JWKSUnknownKIDInterval = DefaultJWKSUnknownKIDInterval
	}
	if c.JWKSTimeout <= 0 {
		c.JWKSTimeout = DefaultJWKSTimeout
	}
	if c.JWKSMaxStale <= 0 {
		c.JWKSMaxStale = 24 * time.Hour
	}
	return nil
}
