package proxy

import (
	"net/http"
	"time"

	"github.com/qubital/office-router/contract"
	"github.com/qubital/office-router/verifier"
)

// orgBackend is where the edge (routes.go and proxy.go: routing, CORS, origin, the failure limiter,
// verification) sends what it has admitted: the surface of the Worker's Durable Object. New picks
// one, once: the hub (hub mode) or the forwarder (Config.Upstream). A third backend, a hub over a
// broker, implements the same methods; the edge does not change.
type orgBackend interface {
	// spendsJTI reports whether the backend, not the edge, keeps the single-use record: a
	// forwarder that re-sends the token leaves replay to the upstream, whose store every
	// forwarder in front of it shares.
	spendsJTI() bool
	// preflight answers an authorised handshake that is not an upgrade (docs/protocol.md).
	preflight(w http.ResponseWriter, r *http.Request, a admission)
	// connect upgrades an authorised handshake whose jti is spent (unless spendsJTI).
	connect(w http.ResponseWriter, r *http.Request, a admission)
	// publish delivers a verified publish whose jti is spent (unless spendsJTI).
	publish(w http.ResponseWriter, r *http.Request, call serviceCall, body verifier.PublishBody)
	// presence answers who is online in call.org, as a welcome would list them.
	presence(w http.ResponseWriter, r *http.Request, call serviceCall)
	// disconnect records body's block, if any, then closes the user's sockets in call.org.
	disconnect(w http.ResponseWriter, r *http.Request, call serviceCall, body verifier.DisconnectBody)
}

var (
	_ orgBackend = hubBackend{}
	_ orgBackend = (*forwardBackend)(nil)
)

// admission is what the edge's handshake checks (Proxy.authorize) established about a request,
// handed to the backend whole.
type admission struct {
	id      verifier.Identity
	ext     contract.Extracted // the token, where it was, and the subprotocol to select
	upgrade bool               // a WebSocket upgrade; else a pre-flight (docs/protocol.md)
	start   time.Time          // when the request arrived: the handshake latency metric
}

// newBackend is the one place hub vs forward mode is decided. A backend that holds sockets here
// starts the registry's pinger and, on Linux, its poller of idle sockets (both stopped by
// shutdown); a forwarder's sockets are the upstream's to ping. A third backend makes the same choice here, and the edge (New included) does not change.
func newBackend(p *Proxy) orgBackend {
	if p.cfg.Upstream != "" {
		return &forwardBackend{
			cfg: &p.cfg, reg: p.reg, m: p.m, log: p.log, dialer: p.dialer, upgrader: &p.upgrader,
			httpClient: p.httpClient, token: p.cfg.ForwardToken, localPreflight: p.localPreflight,
			fail: func(r *http.Request) { p.failures.fail(p.clientIP(r)) },
		}
	}
	p.reg.startPoller(p.log)
	go p.reg.pinger()
	return hubBackend{
		reg: p.reg, env: &clientEnv{cfg: &p.cfg, m: p.m, wg: &p.reg.wg}, upgrader: &p.upgrader, m: p.m,
		log: p.log, localPreflight: p.localPreflight,
		refuse: func(w http.ResponseWriter, r *http.Request, a admission, err error) {
			p.reject(w, p.clientIP(r), err, a.start)
		},
	}
}
