package issuer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

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

// workosAuth verifies WorkOS access tokens (RS256) against a JWKS through keyfunc/v3: cached
// keys, background refresh, rate-limited refresh on an unknown kid, no network call per request.
type workosAuth struct {
	kf       keyfunc.Keyfunc
	storage  jwkset.Storage
	parser   *jwt.Parser
	fresh    *jwksfresh.Tracker // nil: keys are local (dev mode)
	maxStale time.Duration
	clientID string // WORKOS_CLIENT_ID; empty: not checked
}

var _ Authenticator = (*workosAuth)(nil)

type workosClaims struct {
	jwt.RegisteredClaims
	OrgID    string  `json:"org_id"`
	Role     string  `json:"role"`
	ClientID *string `json:"client_id"` // nil: absent
}

func newWorkOSAuth(ctx context.Context, cfg Config, client *http.Client, logger *slog.Logger, now func() time.Time) (*workosAuth, error) {
	noErrFirst := true // WorkOS being down at start-up must not stop the issuer: it answers 503 until keys arrive
	fresh := jwksfresh.New(now)
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{cfg.WorkOSJWKSURL}, keyfunc.Override{
		Client:                    fresh.Client(client),
		HTTPTimeout:               10 * time.Second,
		RefreshInterval:           cfg.WorkOSRefreshInterval,
		RefreshUnknownKID:         rate.NewLimiter(rate.Every(30*time.Second), 1),
		RateLimitWaitMax:          time.Millisecond,
		NoErrorReturnFirstHTTPReq: &noErrFirst,
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(ctx context.Context, err error) {
				logger.WarnContext(ctx, "WorkOS JWKS refresh failed; serving cached keys", "url", u, "error", err)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("WORKOS_JWKS_URL: %w", err)
	}
	a := newKeyfuncAuth(kf, cfg.WorkOSIssuer)
	a.fresh, a.maxStale, a.clientID = fresh, cfg.WorkOSMaxStale, cfg.WorkOSClientID
	return a, nil
}

func newKeyfuncAuth(kf keyfunc.Keyfunc, issuer string) *workosAuth {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{"RS256"}), // never HS256 keyed with a public key (algorithm confusion)
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(5 * time.Second),
	}
	if issuer != "" {
		opts = append(opts, jwt.WithIssuer(issuer))
	}
	return &workosAuth{kf: kf, storage: kf.Storage(), parser: jwt.NewParser(opts...)}
}

func (a *workosAuth) Ready(ctx context.Context) bool {
	if a.fresh != nil && a.fresh.Stale(a.maxStale) {
		return false // never fetched, or every refresh has failed for too long
	}
	keys, err := a.storage.KeyReadAll(ctx)
	return err == nil && len(keys) > 0
}

func (a *workosAuth) Authenticate(ctx context.Context, accessToken string) (Identity, error) {
	if len(accessToken) > 16<<10 {
		return Identity{}, ErrInvalidToken
	}
	if a.fresh != nil && a.fresh.Stale(a.maxStale) {
		return Identity{}, ErrIdPUnavailable
	}
	var c workosClaims
	_, err := a.parser.ParseWithClaims(accessToken, &c, a.kf.KeyfuncCtx(ctx))
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return Identity{}, ErrTokenExpired
	case err != nil:
		if !a.Ready(ctx) {
			return Identity{}, ErrIdPUnavailable
		}
		return Identity{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
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

// bearer returns the token of an `Authorization: Bearer` header.
func bearer(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", ErrMissingToken
	}
	scheme, tok, ok := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", ErrInvalidToken
	}
	return tok, nil
}
