package proxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/qubital/office-router/contract"
	"github.com/qubital/office-router/internal/httpx"
	"github.com/qubital/office-router/verifier"
)

// Proxy is the edge proxy's http.Handler. Create it with New; stop it with Shutdown.
type Proxy struct {
	cfg        Config
	v          *verifier.Verifier
	origins    httpx.Origins
	log        *slog.Logger
	now        func() time.Time
	m          *metrics
	metrics    http.Handler
	upgrader   websocket.Upgrader
	dialer     *websocket.Dialer
	httpClient *http.Client
	replay     *verifier.ReplayCache
	failures   *ipLimiter
	reg        *registry      // the org hubs, admission, connection goroutines, shutdown (registry.go)
	backend    orgBackend     // hub or forwarder, chosen once by newBackend
	mux        *http.ServeMux // the route table (routes.go)
}

// Option injects dependencies.
type Option func(*Proxy)

// WithLogger sets the logger. This defaults to slog.Default().
func WithLogger(l *slog.Logger) Option { return func(p *Proxy) { p.log = l } }

// WithClock replaces time.Now for rate limits and replay windows, for tests.
func WithClock(now func() time.Time) Option { return func(p *Proxy) { p.now = now } }

// New validates cfg and builds a Proxy that checks tokens with v. In hub mode it starts the
// pinger and, on Linux, the poller of idle sockets (newBackend), which Shutdown stops.
func New(cfg Config, v *verifier.Verifier, opts ...Option) (*Proxy, error) {
	if v == nil {
		return nil, errors.New("proxy: nil verifier")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	p := &Proxy{
		cfg: cfg, v: v, origins: httpx.NewOrigins(cfg.AllowedOrigins), log: slog.Default(), now: time.Now,
		m: newMetrics(), replay: verifier.NewReplayCache(),
		dialer:     &websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: readBufferSize, WriteBufferSize: writeBufferSize},
		httpClient: &http.Client{Timeout: 10 * time.Second},
	}
	for _, o := range opts {
		o(p)
	}
	p.failures = newIPLimiter(cfg.FailuresPerSecond, cfg.FailureBurst, p.now)
	p.metrics = promhttp.HandlerFor(p.m.reg, promhttp.HandlerOpts{})
	p.upgrader = websocket.Upgrader{
		ReadBufferSize:  0, // read through the hijacked reader hijackWriter supplies (idle.go)
		WriteBufferSize: writeBufferSize,
		WriteBufferPool: &sync.Pool{},                             // idle connections hold no write buffer
		CheckOrigin:     func(*http.Request) bool { return true }, // checked before, with JSON answers
		Error:           func(w http.ResponseWriter, _ *http.Request, _ int, _ error) { writeError(w, ErrBadHandshake) },
	}
	p.reg = newRegistry(&p.cfg, p.m, p.now)
	p.mux = p.newMux()
	p.backend = newBackend(p)
	return p, nil
}

// Stats is a snapshot of what the proxy holds, for tests and diagnostics.
type Stats struct {
	Hubs        int // organisations with at least one connection (forwarded ones included)
	Connections int // admitted connections, hub and forwarded (reservations included)
	Relays      int // forwarded connections
	ReplayJTIs  int // remembered jtis
	Blocks      int // users blocked in an org (hub mode), expired ones not yet dropped included
	// SessionTimers is how many sockets have a MaxSessionSeconds deadline armed (0 when off).
	SessionTimers int
}

// Stats returns the current counts.
func (p *Proxy) Stats() Stats {
	s := Stats{ReplayJTIs: p.replay.Len(), Blocks: p.reg.blocks.len(), SessionTimers: p.reg.sessions.len()}
	s.Hubs, s.Connections, s.Relays = p.reg.counts()
	return s
}

// MetricsHandler serves the Prometheus metrics. The proxy itself never serves them: mount this
// on a private listener (edgeproxy -metrics-addr), never on the public one.
func (p *Proxy) MetricsHandler() http.Handler { return p.metrics }

// writeError is the one place errors become HTTP answers.
func writeError(w http.ResponseWriter, err error) {
	status, code := contract.Status(err), contract.Reason(err)
	switch {
	case errors.Is(err, ErrMethodNotAllowed):
		w.Header().Set("Allow", "GET, OPTIONS")
	case errors.Is(err, ErrUnsupportedVersion):
		w.Header().Set("Sec-WebSocket-Version", "13")
	}
	httpx.WriteError(w, status, code)
}

// checkUpgrade: a request that asks for a WebSocket must be a well-formed handshake before
// any token work (docs/protocol.md).
func checkUpgrade(r *http.Request) error {
	if r.Method != http.MethodGet {
		return ErrMethodNotAllowed
	}
	if !r.ProtoAtLeast(1, 1) {
		return ErrBadHandshake // RFC 6455 §4.1: HTTP/1.1 or later
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		return ErrUnsupportedVersion
	}
	if !headerHasToken(r.Header, "Connection", "upgrade") || !validKey(r.Header.Get("Sec-WebSocket-Key")) {
		return ErrBadHandshake
	}
	return nil
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// validKey: 16 bytes in standard base64, as the Worker checks.
func validKey(k string) bool {
	if len(k) != 24 || !strings.HasSuffix(k, "==") {
		return false
	}
	for _, c := range k[:22] {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}

// authorize runs the handshake checks shared by hub and forward mode and by the pre-flight, and
// says what it admitted.
func (p *Proxy) authorize(r *http.Request, org string, start time.Time) (admission, error) {
	a := admission{upgrade: headerHasToken(r.Header, "Upgrade", "websocket"), start: start}
	if a.upgrade {
		if err := checkUpgrade(r); err != nil {
			return a, err
		}
	} else if r.Method != http.MethodGet {
		return a, ErrMethodNotAllowed
	}
	if origin := r.Header.Get("Origin"); origin != "" && !p.origins.Allowed(origin) {
		return a, contract.ErrOriginNotAllowed
	}
	var err error
	if a.ext, err = contract.Extract(r); err != nil {
		return a, err
	}
	if a.id, err = p.v.Verify(r.Context(), a.ext.Token); err != nil {
		return a, err
	}
	if a.id.OrgID != org {
		return a, contract.ErrOrgMismatch
	}
	return a, nil
}

func (p *Proxy) reject(w http.ResponseWriter, ip string, err error, start time.Time) {
	p.m.latency.Observe(time.Since(start).Seconds())
	if contract.Status(err) != http.StatusTooManyRequests && contract.Status(err) != http.StatusServiceUnavailable {
		p.failures.fail(ip)
	}
	p.m.handshakes.WithLabelValues("rejected", contract.Reason(err)).Inc()
	writeError(w, err)
}

func (p *Proxy) handleSocket(w http.ResponseWriter, r *http.Request, org string) {
	start := time.Now()
	ip := p.clientIP(r)
	if blocked, wait := p.failures.blocked(ip); blocked {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)))
		p.m.handshakes.WithLabelValues("rejected", ErrRateLimited.Reason).Inc()
		writeError(w, ErrRateLimited)
		return
	}
	a, err := p.authorize(r, org, start)
	if err != nil {
		p.reject(w, ip, err, start)
		return
	}
	if !a.upgrade {
		p.backend.preflight(w, r, a)
		return
	}
	// The jti is spent here in hub mode and in forward mode with identity headers (the upstream
	// never sees the token). With ForwardToken the upstream judges the token, replay included,
	// in the one store that every forwarder in front of it shares; a forwarder's own store would
	// know only the sockets that happened to pass through it.
	if !p.backend.spendsJTI() {
		if err := p.replay.Use(a.id.JTI, a.id.ExpiresAt.Add(p.v.Leeway()), p.now()); err != nil {
			p.reject(w, ip, err, start)
			return
		}
	}
	p.backend.connect(w, r, a)
}

// localPreflight answers a pre-flight where this process keeps the jtis: refused if the token
// was used, else who it is for.
func (p *Proxy) localPreflight(w http.ResponseWriter, r *http.Request, a admission) {
	id := a.id
	if p.replay.Seen(id.JTI, p.now()) {
		p.reject(w, p.clientIP(r), contract.ErrReplayed, a.start)
		return
	}
	p.m.handshakes.WithLabelValues("preflight", "ok").Inc()
	p.m.latency.Observe(time.Since(a.start).Seconds())
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"ok": true, "userId": id.UserID, "orgId": id.OrgID,
		"role": id.Role, "expiresAt": id.ExpiresAt.Unix()})
}

// serviceCall is a service request the edge has admitted (admitService).
type serviceCall struct {
	org   string
	token string // the service token, for a forwarder to re-send
	raw   []byte // the body as received (nil for GET)
}

// admitService runs the edge's checks of every service route, in this order: the failed-address
// limiter; the bearer token, verified for scope (wrong_scope otherwise) and org (org_mismatch);
// for a POST, the body read (64 KiB, else 413) and judged by parse (400 bad_request); then the
// jti spent, unless the backend leaves that to its upstream. A refused body does not spend the
// token. Refused tokens charge the client's failure budget, as failed handshakes do: each costs
// an RSA verification, and the socket route's limit is no limit if a service route has none.
func (p *Proxy) admitService(w http.ResponseWriter, r *http.Request, org, scope string, parse func([]byte) error) (serviceCall, bool) {
	ip := p.clientIP(r)
	if blocked, wait := p.failures.blocked(ip); blocked {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)))
		writeError(w, ErrRateLimited)
		return serviceCall{}, false
	}
	tok, err := contract.ParseBearer(r.Header.Get("Authorization"))
	var id verifier.ServiceIdentity
	if err == nil {
		id, err = p.v.VerifyService(r.Context(), tok, scope)
	}
	if err == nil && id.OrgID != org {
		err = contract.ErrOrgMismatch
	}
	if err != nil {
		p.serviceFailed(w, ip, err)
		return serviceCall{}, false
	}
	call := serviceCall{org: org, token: tok}
	if parse != nil {
		if r.ContentLength > maxPublishBodyBytes {
			writeError(w, ErrBodyTooLarge)
			return serviceCall{}, false
		}
		raw, rerr := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPublishBodyBytes))
		if tooLarge := (*http.MaxBytesError)(nil); errors.As(rerr, &tooLarge) {
			writeError(w, ErrBodyTooLarge)
			return serviceCall{}, false
		} else if rerr != nil {
			// Bad chunked framing, a body cut short, the server's read timeout: not a size problem.
			writeError(w, ErrBadRequest)
			return serviceCall{}, false
		}
		if parse(raw) != nil {
			writeError(w, ErrBadRequest)
			return serviceCall{}, false
		}
		call.raw = raw
	}
	// Service tokens are single-use, as on the Worker: spent once the request is accepted. The
	// same rule as sockets says where: here, unless ForwardToken leaves the token to the upstream.
	if !p.backend.spendsJTI() {
		if err := p.replay.Use(id.JTI, id.ExpiresAt.Add(p.v.Leeway()), p.now()); err != nil {
			p.serviceFailed(w, ip, err)
			return serviceCall{}, false
		}
	}
	return call, true
}

// serviceFailed answers a refused service token and charges ip's failure budget, as reject does
// for handshakes.
func (p *Proxy) serviceFailed(w http.ResponseWriter, ip string, err error) {
	if s := contract.Status(err); s != http.StatusTooManyRequests && s != http.StatusServiceUnavailable {
		p.failures.fail(ip)
	}
	writeError(w, err)
}

// Shutdown stops accepting sockets, closes every socket with 1001 after flushing what its
// queue already holds, and waits for every connection goroutine until ctx ends; then it cuts
// what is left.
func (p *Proxy) Shutdown(ctx context.Context) error { return p.reg.shutdown(ctx) }
