package issuer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/qubital/office-router/contract"
	"github.com/qubital/office-router/internal/jwksfresh"
)

// Authenticator turns a caller's access token into an Identity.
type Authenticator interface {
	Authenticate(ctx context.Context, accessToken string) (Identity, error)
	// Ready reports whether the authenticator can verify tokens now (it has keys).
	Ready(ctx context.Context) bool
}

// DefaultRole is used when a WorkOS token carries no `role` claim.
const DefaultRole = "member"

// workosAuth verifies WorkOS access tokens (RS256) against a JWKS kept by jwksfresh.Set:
// cached keys, background refresh, and on an unknown kid one rate-limited fetch that the request
// waits for, so a WorkOS key rotation refuses no one; no network call per request otherwise.
type workosAuth struct {
	keys     keyLookup
	parser   *jwt.Parser
	set      *jwksfresh.Set // nil: keys are local (dev mode)
	maxStale time.Duration
	clientID string // WORKOS_CLIENT_ID; empty: not checked
}

var _ Authenticator = (*workosAuth)(nil)

// keyLookup finds a key by kid: a jwksfresh.Set, or localKeys in dev mode.
type keyLookup interface {
	Lookup(ctx context.Context, kid string) (jwkset.JWK, error)
	Empty(ctx context.Context) bool
}

var _ keyLookup = (*jwksfresh.Set)(nil)

// localKeys is a keyLookup over keys held in memory (the dev identity provider's).
type localKeys struct{ jwkset.Storage }

func (l localKeys) Lookup(ctx context.Context, kid string) (jwkset.JWK, error) {
	return l.KeyRead(ctx, kid)
}

func (l localKeys) Empty(ctx context.Context) bool {
	all, err := l.KeyReadAll(ctx)
	return err == nil && len(all) == 0
}

type workosClaims struct {
	jwt.RegisteredClaims
	OrgID    string  `json:"org_id"`
	Role     string  `json:"role"`
	ClientID *string `json:"client_id"` // nil: absent
}

// WorkOS JWKS settings that are not deploy-time variables.
const (
	workosUnknownKIDInterval = 30 * time.Second
	workosJWKSTimeout        = 10 * time.Second
)

func newWorkOSAuth(cfg Config, client *http.Client, logger *slog.Logger, now func() time.Time) *workosAuth {
	// WorkOS being down at start-up must not stop the issuer: it answers 503 until keys arrive.
	set := jwksfresh.Start(jwksfresh.Options{
		URL: cfg.WorkOSJWKSURL, Name: "WORKOS_JWKS_URL", Refresh: cfg.WorkOSRefreshInterval,
		UnknownKIDInterval: workosUnknownKIDInterval, Timeout: workosJWKSTimeout,
		Client: client, Now: now, Logger: logger,
	})
	a := newKeysAuth(set, cfg.WorkOSIssuer)
	a.set, a.maxStale, a.clientID = set, cfg.WorkOSMaxStale, cfg.WorkOSClientID
	return a
}

func newKeysAuth(keys keyLookup, issuer string) *workosAuth {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{"RS256"}), // never HS256 keyed with a public key (algorithm confusion)
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(5 * time.Second),
	}
	if issuer != "" {
		opts = append(opts, jwt.WithIssuer(issuer))
	}
	return &workosAuth{keys: keys, parser: jwt.NewParser(opts...)}
}

func (a *workosAuth) Ready(ctx context.Context) bool {
	if a.set != nil && (a.set.Stale(a.maxStale) || a.keys.Empty(ctx)) {
		// Never fetched, or every refresh has failed for too long: WorkOS may be back, and one
		// shared, rate-limited fetch tells, rather than the next periodic one (10 min).
		a.set.Refresh(ctx)
		if a.set.Stale(a.maxStale) {
			return false
		}
	}
	return !a.keys.Empty(ctx)
}

// keyfunc finds the token's key by its kid; jwt checks that it fits RS256.
func (a *workosAuth) keyfunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		kid, ok := t.Header["kid"].(string)
		if !ok || kid == "" {
			return nil, errors.New("no kid")
		}
		jwk, err := a.keys.Lookup(ctx, kid)
		if err != nil {
			return nil, err
		}
		return jwk.Key(), nil
	}
}

func (a *workosAuth) Authenticate(ctx context.Context, accessToken string) (Identity, error) {
	if len(accessToken) > 16<<10 {
		return Identity{}, ErrInvalidToken
	}
	if a.set != nil && a.set.Stale(a.maxStale) {
		a.set.Refresh(ctx) // WorkOS may be back: one shared, rate-limited fetch tells
		if a.set.Stale(a.maxStale) {
			return Identity{}, ErrIdPUnavailable
		}
	}
	var c workosClaims
	_, err := a.parser.ParseWithClaims(accessToken, &c, a.keyfunc(ctx))
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return Identity{}, ErrTokenExpired
	case err != nil:
		if !a.Ready(ctx) {
			return Identity{}, ErrIdPUnavailable
		}
		return Identity{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if k, err := nullClaim(accessToken); err != nil {
		return Identity{}, err
	} else if k != "" {
		return Identity{}, fmt.Errorf("%w: %s is null", ErrInvalidToken, k)
	}
	if c.Subject == "" {
		return Identity{}, fmt.Errorf("%w: no sub", ErrInvalidToken)
	}
	if a.clientID != "" {
		// Where the token names a client, it must be ours: another WorkOS application's token
		// signed by the same environment's keys is not a caller of this one.
		if c.Audience != nil && !slices.Contains(c.Audience, a.clientID) {
			return Identity{}, fmt.Errorf("%w: aud is not WORKOS_CLIENT_ID", ErrInvalidToken)
		}
		if c.ClientID != nil && *c.ClientID != a.clientID {
			return Identity{}, fmt.Errorf("%w: client_id is not WORKOS_CLIENT_ID", ErrInvalidToken)
		}
	}
	if c.OrgID == "" {
		return Identity{}, ErrNoOrganization
	}
	role := c.Role
	if role == "" {
		role = DefaultRole
	}
	return Identity{UserID: c.Subject, OrgID: c.OrgID, Role: role}, nil
}

// bearer returns the token of an `Authorization: Bearer` header: missing_token when there is
// none, invalid_token for anything else that is not a bearer token.
func bearer(r *http.Request) (string, error) {
	tok, err := contract.ParseBearer(r.Header.Get("Authorization"))
	switch {
	case errors.Is(err, contract.ErrMissingToken) && r.Header.Get("Authorization") == "":
		return "", ErrMissingToken
	case err != nil:
		return "", ErrInvalidToken
	}
	return tok, nil
}
