package issuer

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/qubital/office-router/internal/clientaddr"
	"github.com/qubital/office-router/internal/httpx"
	"github.com/qubital/office-router/internal/rsakey"
)

// Server is the issuer's HTTP handler. Routes and bodies are in docs/protocol.md.
type Server struct {
	cfg       Config
	minter    *Minter
	realtime  *RealtimeMinter
	auth      Authenticator
	dev       *devIdP
	jwks      []byte
	origins   httpx.Origins
	m         *metrics
	mints     *clientaddr.Limiter // per-user mint budget (ratelimit.go)
	authFails *clientaddr.Limiter // per-address failed access tokens (authlimit.go)
	log       *slog.Logger
	cancel    context.CancelFunc
	mux       *http.ServeMux       // the routes' patterns (routes.go)
	mu        sync.RWMutex         // guards methods and endpoints, which Handle extends
	methods   map[string][]string  // each routed path's methods, sorted: its 405's Allow
	unknown   *endpoint            // every path no route names: 404, or a pre-flight's answer
	endpoints map[string]*endpoint // "{method} {path}": the route's endpoint, for Handle to replace
}

// Option injects dependencies.
type Option func(*options)

type options struct {
	now    func() time.Time
	logger *slog.Logger
	client *http.Client
	auth   Authenticator
}

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithLogger sets the logger. This defaults to slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithHTTPClient sets the client for WORKOS_JWKS_URL. This defaults to http.DefaultClient.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.client = c } }

// WithAuthenticator replaces WorkOS verification (for embedding the issuer behind another IdP).
func WithAuthenticator(a Authenticator) Option { return func(o *options) { o.auth = a } }

// New validates cfg and builds the issuer. Errors name the bad variable, never its value.
func New(cfg Config, opts ...Option) (*Server, error) {
	o := options{now: time.Now, logger: slog.Default(), client: http.DefaultClient}
	for _, opt := range opts {
		opt(&o)
	}
	key, err := cfg.checkedSigningKey()
	if err != nil {
		return nil, err
	}
	minter, err := NewMinter(key, cfg.Issuer, cfg.Audience, o.now)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, minter: minter, origins: httpx.NewOrigins(cfg.AllowedOrigins), m: newMetrics(),
		log: o.logger, cancel: func() {}, mints: newMintLimiter(cfg.MintsPerSecond, cfg.MintBurst, o.now),
		authFails: newAuthLimiter(cfg, o.now)}
	if cfg.Dev {
		o.logger.Warn("ISSUER IN DEV MODE: POST /dev/session mints tokens for any user, org and role; never expose it")
	}
	if s.realtime, err = newRealtimeMinterFor(cfg, o.now); err != nil {
		return nil, err
	}
	if err := s.buildJWKS(); err != nil {
		return nil, err
	}
	if err := s.setAuthenticator(o); err != nil {
		return nil, err
	}
	s.mux, s.methods, s.endpoints = http.NewServeMux(), map[string][]string{}, map[string]*endpoint{}
	s.unknown = &endpoint{s: s}
	s.mux.Handle("/", s.unknown) // so ServeMux answers no path itself (no 404, no 405)
	for _, rt := range s.apiRoutes() {
		s.addRoute(rt)
	}
	return s, nil
}

// newRealtimeMinterFor is the Supabase Realtime minter of SUPABASE_JWT_SECRET, a random secret in
// dev mode without one, or nil (realtime/token disabled).
func newRealtimeMinterFor(cfg Config, now func() time.Time) (*RealtimeMinter, error) {
	secret := []byte(cfg.SupabaseJWTSecret)
	if len(secret) == 0 && cfg.Dev {
		secret = make([]byte, 32)
		_, _ = rand.Read(secret)
		secret = []byte(base64.RawURLEncoding.EncodeToString(secret))
	}
	if len(secret) == 0 {
		return nil, nil
	}
	return NewRealtimeMinter(secret, now)
}

// setAuthenticator picks who verifies access tokens: an injected Authenticator, the dev IdP, or
// WorkOS (whose JWKS refresher Close stops).
func (s *Server) setAuthenticator(o options) error {
	switch {
	case o.auth != nil:
		s.auth = o.auth
	case s.cfg.Dev:
		var err error
		if s.dev, s.auth, err = newDevIdP(o.now); err != nil {
			return err
		}
	default:
		a := newWorkOSAuth(s.cfg, o.client, o.logger, o.now)
		s.auth, s.cancel = a, a.set.Close
	}
	return nil
}

// MetricsHandler serves the Prometheus metrics. The issuer's own handler never serves them:
// mount this on a private listener (issuer -metrics-addr), never on the public one.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.m.reg, promhttp.HandlerOpts{})
}

// Close stops the WorkOS JWKS refresher.
func (s *Server) Close() error {
	s.cancel()
	return nil
}

// Minter is the handshake/publish token minter, for in-process use (tests, the dev stack).
func (s *Server) Minter() *Minter { return s.minter }

// PublicKeyPEM is the signing key's public half as PEM: what CONN_JWT_PUBLIC_KEY needs.
func (s *Server) PublicKeyPEM() []byte {
	b, _ := rsakey.EncodePublicKeyPEM(s.minter.PublicKey())
	return b
}

// buildJWKS publishes the signing key, then JWT_NEXT_PUBLIC_KEYS (trusted before their first
// token), then JWT_PREVIOUS_PUBLIC_KEYS (trusted until their last token expires). A key listed
// twice, e.g. the signing key still in JWT_NEXT_PUBLIC_KEYS right after a switch, is published once.
func (s *Server) buildJWKS() error {
	keys := []rsakey.JWK{rsakey.PublicJWK(s.minter.PublicKey())}
	seen := map[string]bool{keys[0].Kid: true}
	for _, src := range []struct{ name, pem string }{
		{"JWT_NEXT_PUBLIC_KEYS", s.cfg.NextPublicKeysPEM},
		{"JWT_PREVIOUS_PUBLIC_KEYS", s.cfg.PreviousPublicKeysPEM},
	} {
		if src.pem == "" {
			continue
		}
		pubs, err := rsakey.ParsePublicKeys(src.pem)
		if err != nil {
			return fmt.Errorf("%s: %w", src.name, err)
		}
		for _, p := range pubs {
			if jwk := rsakey.PublicJWK(p); !seen[jwk.Kid] {
				seen[jwk.Kid] = true
				keys = append(keys, jwk)
			}
		}
	}
	b, err := json.Marshal(map[string]any{"keys": keys})
	s.jwks = append(b, '\n')
	return err
}

// authenticate reads and verifies the caller's access token and drains a bounded body.
func (s *Server) authenticate(r *http.Request) (Identity, error) {
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return Identity{}, ErrBodyTooLarge
		}
	}
	tok, err := bearer(r)
	if err != nil {
		return Identity{}, err
	}
	return s.auth.Authenticate(r.Context(), tok)
}

// AccessResponse is the body of POST /api/v1/cloudflare/request-access.
type AccessResponse struct {
	Token     string `json:"token"`
	URL       string `json:"url"`
	ExpiresAt int64  `json:"expiresAt"` // Unix seconds
}

func (s *Server) handleRequestAccess(w http.ResponseWriter, r *http.Request) error {
	id, err := s.authenticateLimited(w, r)
	if err != nil {
		return err
	}
	if err := s.allowMint(w, id.UserID); err != nil {
		return err
	}
	tok, err := s.minter.MintHandshake(id)
	if err != nil {
		return err
	}
	s.m.minted.WithLabelValues("handshake").Inc()
	httpx.WriteJSON(w, http.StatusOK, AccessResponse{Token: tok.Token, URL: s.OrgURL(id.OrgID), ExpiresAt: tok.ExpiresAt.Unix()})
	return nil
}

// OrgURL is the WebSocket URL of an org's socket: WEBSOCKET_BASE_URL + /orgs/{orgId}/ws.
func (s *Server) OrgURL(orgID string) string {
	return s.cfg.WebSocketBaseURL + "/orgs/" + url.PathEscape(orgID) + "/ws"
}

// RealtimeResponse is the body of POST /api/v1/realtime/token.
type RealtimeResponse struct {
	Token     string `json:"token"`
	ExpiresAt int64  `json:"expiresAt"`
}

func (s *Server) handleRealtime(w http.ResponseWriter, r *http.Request) error {
	id, err := s.authenticateLimited(w, r)
	if err != nil {
		return err
	}
	if s.realtime == nil {
		return ErrRealtimeDisabled
	}
	if err := s.allowMint(w, id.UserID); err != nil {
		return err
	}
	tok, err := s.realtime.Mint(id.UserID)
	if err != nil {
		return err
	}
	s.m.minted.WithLabelValues("realtime").Inc()
	httpx.WriteJSON(w, http.StatusOK, RealtimeResponse{Token: tok.Token, ExpiresAt: tok.ExpiresAt.Unix()})
	return nil
}

func (s *Server) handleJWKS(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	// No longer than the routers' refresh interval: a cache in front must not delay a new key.
	w.Header().Set("Cache-Control", "public, max-age=60")
	_, _ = w.Write(s.jwks)
	return nil
}

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) error {
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) error {
	if !s.auth.Ready(r.Context()) {
		return ErrIdPUnavailable
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}
