package issuer

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/qubital/office-router/internal/httpx"
	"github.com/qubital/office-router/internal/rsakey"
)

// Config holds the issuer's deploy-time settings; ConfigFromEnv reads them from the variables
// in docs/configuration.md. New validates them once.
type Config struct {
	// PrivateKeyPEM is JWT_PRIVATE_KEY: the RSA ≥ 2048-bit signing key, PKCS#1 or PKCS#8 PEM.
	// Required, unless PrivateKeyFile is set or Dev generates one.
	PrivateKeyPEM string
	// PrivateKeyFile is JWT_PRIVATE_KEY_FILE, an alternative to PrivateKeyPEM.
	PrivateKeyFile string
	// PreviousPublicKeysPEM is JWT_PREVIOUS_PUBLIC_KEYS: retired keys that stay in the JWKS
	// after a rotation until their tokens have expired. Optional.
	PreviousPublicKeysPEM string
	// NextPublicKeysPEM is JWT_NEXT_PUBLIC_KEYS: keys published in the JWKS before the issuer
	// signs with them, so that routers trust a key before its first token (docs/operations.md).
	// Optional.
	NextPublicKeysPEM string
	// Issuer is JWT_ISSUER (`iss`). Required; defaults to "office-router-dev" in Dev.
	Issuer string
	// Audience is JWT_AUDIENCE (`aud`). Required; defaults to "office-router" in Dev.
	Audience string
	// WebSocketBaseURL is WEBSOCKET_BASE_URL, ws:// or wss://, e.g. wss://router.example.com;
	// the socket URL of an org is this + /orgs/{orgId}/ws. Required; defaults to
	// ws://127.0.0.1:8787 (wrangler dev) in Dev.
	WebSocketBaseURL string
	// WorkOSJWKSURL is WORKOS_JWKS_URL: the JWKS that signs callers' WorkOS access tokens.
	// Required unless Dev.
	WorkOSJWKSURL string
	// WorkOSIssuer is WORKOS_ISSUER: when set, the access token's `iss` must equal it.
	WorkOSIssuer string
	// WorkOSRefreshInterval is how often the WorkOS JWKS is fetched again. This defaults to 10 min.
	WorkOSRefreshInterval time.Duration
	// WorkOSMaxStale bounds how long cached WorkOS keys are trusted while every refresh fails;
	// after it callers get 503 identity_provider_unavailable. This defaults to 24 h.
	WorkOSMaxStale time.Duration
	// SupabaseJWTSecret is SUPABASE_JWT_SECRET (≥ 32 bytes). Optional: without it
	// /api/v1/realtime/token answers 503 realtime_not_configured. Dev generates one.
	SupabaseJWTSecret string
	// AllowedOrigins is ALLOWED_ORIGINS (comma list): browser origins that get CORS headers.
	// Patterns as in docs/configuration.md#allowed-origins: exact, "https://*.example.com",
	// "http://localhost:*", or "*" for any. This defaults to none; in Dev to DevAllowedOrigins.
	AllowedOrigins []string
	// MaxBodyBytes bounds request bodies. This defaults to 64 KiB.
	MaxBodyBytes int64
	// Dev turns on the local identity provider (POST /dev/session) and fills in defaults so the
	// whole flow runs with no account and no secret. Never for production: it refuses to start
	// with JWT_PRIVATE_KEY, JWT_PRIVATE_KEY_FILE, WORKOS_JWKS_URL or SUPABASE_JWT_SECRET set (devguard.go).
	Dev bool
	// DevPrivateKeyPEM is the signing key of Dev mode (issuer -dev-key-file), for a dev stack
	// that must share it with its routers. This defaults to a key generated at start. Refused
	// without Dev.
	DevPrivateKeyPEM string
	// WorkOSClientID is WORKOS_CLIENT_ID: when set, an access token's `aud` and `client_id`
	// claims, where present, must name it. Optional.
	WorkOSClientID string
	// MintsPerSecond and MintBurst limit the tokens one user (the access token's `sub`) gets
	// from request-access and realtime/token together; over them the answer is 429
	// rate_limited with Retry-After. MINTS_PER_SECOND and MINT_BURST; these default to 2 and 20.
	MintsPerSecond float64
	MintBurst      int
	// TrustedProxies is TRUSTED_PROXIES, as at the Go proxy: comma list of CIDRs whose
	// CF-Connecting-IP / X-Forwarded-For name the client for the failed-access-token limit
	// (authlimit.go). This defaults to none: the TCP peer is the client.
	TrustedProxies string
	// FailedAuthPerSecond and FailedAuthBurst limit refused access tokens per client address
	// (IPv6: per /64); over them 429 rate_limited with Retry-After. These default to 10 and 100.
	FailedAuthPerSecond float64
	FailedAuthBurst     int

	trusted []netip.Prefix // TrustedProxies, parsed by validate
}

// ConfigFromEnv reads the issuer's variables.
func ConfigFromEnv(getenv func(string) string) Config {
	return Config{
		PrivateKeyPEM:         getenv("JWT_PRIVATE_KEY"),
		PrivateKeyFile:        getenv("JWT_PRIVATE_KEY_FILE"),
		PreviousPublicKeysPEM: getenv("JWT_PREVIOUS_PUBLIC_KEYS"),
		NextPublicKeysPEM:     getenv("JWT_NEXT_PUBLIC_KEYS"),
		Issuer:                getenv("JWT_ISSUER"),
		Audience:              getenv("JWT_AUDIENCE"),
		WebSocketBaseURL:      getenv("WEBSOCKET_BASE_URL"),
		WorkOSJWKSURL:         getenv("WORKOS_JWKS_URL"),
		WorkOSIssuer:          getenv("WORKOS_ISSUER"),
		SupabaseJWTSecret:     getenv("SUPABASE_JWT_SECRET"),
		AllowedOrigins:        SplitList(getenv("ALLOWED_ORIGINS")),
		WorkOSClientID:        getenv("WORKOS_CLIENT_ID"),
		MintsPerSecond:        envNumber(getenv("MINTS_PER_SECOND")),
		MintBurst:             envInt(getenv("MINT_BURST")),
		TrustedProxies:        getenv("TRUSTED_PROXIES"),
	}
}

// SplitList splits a comma list, trimming blanks.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = httpx.TrimEntry(p); p != "" { // as the Worker trims: ASCII whitespace only
			out = append(out, p)
		}
	}
	return out
}

// Dev-mode defaults.
const (
	DevIssuer        = "office-router-dev"
	DevAudience      = "office-router"
	DevWebSocketBase = "ws://127.0.0.1:8787"
)

// DevAllowedOrigins are the origins Dev allows when ALLOWED_ORIGINS is empty: any port of
// localhost, where frontend dev servers (Vite's :5173) run. Never outside Dev.
var DevAllowedOrigins = []string{"http://localhost:*", "http://127.0.0.1:*"}

func (c *Config) applyDevDefaults() {
	if !c.Dev {
		return
	}
	if c.Issuer == "" {
		c.Issuer = DevIssuer
	}
	if c.Audience == "" {
		c.Audience = DevAudience
	}
	if c.WebSocketBaseURL == "" {
		c.WebSocketBaseURL = DevWebSocketBase
	}
	if len(c.AllowedOrigins) == 0 {
		c.AllowedOrigins = DevAllowedOrigins
	}
}

// checkedSigningKey validates c, the signing key included, and returns the key: a fresh one in
// dev mode without JWT_PRIVATE_KEY. Every bad variable is reported at once: the key's problem
// joined to the others'.
func (c *Config) checkedSigningKey() (*rsa.PrivateKey, error) {
	key, err := c.signingKey()
	if err == nil && key == nil && !c.Dev {
		err = errors.New("JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE is required (or run with -dev)")
	}
	if err := errors.Join(err, c.validate()); err != nil {
		return nil, err
	}
	if key == nil {
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	return key, nil
}

// signingKey loads the key named by the config; errors name the variable, never the value.
func (c *Config) signingKey() (*rsa.PrivateKey, error) {
	switch {
	case c.Dev && c.DevPrivateKeyPEM != "": // checkDevIsolation: the production settings are empty
		k, err := rsakey.ParsePrivateKey(c.DevPrivateKeyPEM)
		if err != nil {
			return nil, fmt.Errorf("DevPrivateKeyPEM: %w", err)
		}
		return k, nil
	case c.Dev:
		// A production key in dev mode is refused by checkDevIsolation without ever being read;
		// validate reports it with the other variables.
		return nil, nil
	case c.PrivateKeyPEM != "" && c.PrivateKeyFile != "":
		return nil, fmt.Errorf("set only one of JWT_PRIVATE_KEY and JWT_PRIVATE_KEY_FILE")
	case c.PrivateKeyPEM != "":
		k, err := rsakey.ParsePrivateKey(c.PrivateKeyPEM)
		if err != nil {
			return nil, fmt.Errorf("JWT_PRIVATE_KEY: %w", err)
		}
		return k, nil
	case c.PrivateKeyFile != "":
		k, err := rsakey.ReadPrivateKeyFile(c.PrivateKeyFile)
		if err != nil {
			return nil, fmt.Errorf("JWT_PRIVATE_KEY_FILE: %w", err)
		}
		return k, nil
	}
	return nil, nil
}

// validate checks every variable and reports all the bad ones at once (errors.Join), so a
// deployment is fixed in one restart, not one per variable.
func (c *Config) validate() error {
	c.applyDevDefaults()
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.Issuer == "" {
		bad("JWT_ISSUER is required")
	}
	if c.Audience == "" {
		bad("JWT_AUDIENCE is required")
	}
	u, err := url.Parse(c.WebSocketBaseURL)
	switch {
	case c.WebSocketBaseURL == "":
		bad("WEBSOCKET_BASE_URL is required (e.g. wss://router.example.com)")
	case err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" || u.RawQuery != "" || u.Fragment != "":
		bad("WEBSOCKET_BASE_URL must be a ws:// or wss:// URL without query, got %q", c.WebSocketBaseURL)
	default:
		c.WebSocketBaseURL = strings.TrimRight(c.WebSocketBaseURL, "/")
	}
	if err := c.checkDevIsolation(); err != nil {
		errs = append(errs, err)
	}
	if err := c.checkLimits(); err != nil {
		errs = append(errs, err)
	}
	if err := c.checkAuthLimit(); err != nil {
		errs = append(errs, err)
	}
	if !c.Dev {
		if c.WorkOSJWKSURL == "" {
			bad("WORKOS_JWKS_URL is required (or run with -dev)")
		} else if ju, err := url.Parse(c.WorkOSJWKSURL); err != nil || (ju.Scheme != "https" && ju.Scheme != "http") || ju.Host == "" {
			bad("WORKOS_JWKS_URL must be an http(s) URL")
		}
		if c.WorkOSIssuer == "" {
			// Without it any JWT signed by a key of that JWKS would be accepted (issue 13, item 11).
			bad("WORKOS_ISSUER is required: the iss of your WorkOS access tokens, e.g. https://api.workos.com/user_management/<client_id>")
		}
	}
	if c.SupabaseJWTSecret != "" && len(c.SupabaseJWTSecret) < minSecretBytes {
		bad("SUPABASE_JWT_SECRET must be at least %d bytes", minSecretBytes)
	}
	if _, err := httpx.ParseOrigins(c.AllowedOrigins); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 64 << 10
	}
	if c.WorkOSRefreshInterval <= 0 {
		c.WorkOSRefreshInterval = 10 * time.Minute
	}
	if c.WorkOSMaxStale <= 0 {
		c.WorkOSMaxStale = 24 * time.Hour
	}
	return nil
}
