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
// broker, implements the same four methods; the edge does not change.
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
	publish(w http.ResponseWriter, r *http.Request, org, token string, raw []byte, body verifier.PublishBody)
}

var (
	_ orgBackend = hubBackend{}
	_ orgBackend = forwardBackend{}
)

// admission is what the edge's handshake checks (Proxy.authorize) established about a request,
// handed to the backend whole.
type admission struct {
	id      verifier.Identity
	ext     contract.Extracted // the token, where it was, and the subprotocol to select
	upgrade bool               // a WebSocket upgrade; else a pre-flight (docs/protocol.md)
	start   time.Time          // when the request arrived: the handshake latency metric
}

// newBackend is the one place hub vs forward mode is decided.
func newBackend(p *Proxy) orgBackend {
	if p.cfg.Upstream != "" {
		return forwardBackend{p: p, token: p.cfg.ForwardToken}
	}
	return hubBackend{
		reg: p.reg, env: &clientEnv{cfg: &p.cfg, m: p.m, wg: &p.reg.wg}, upgrader: &p.upgrader, m: p.m,
		localPreflight: p.localPreflight,
	}
}

// forwardBackend relays to the upstream router (forward.go), with identity headers or, when
// token is set (Config.ForwardToken), the client's token.
type forwardBackend struct {
	p     *Proxy
	token bool
}

func (b forwardBackend) spendsJTI() bool { return b.token }

func (b forwardBackend) preflight(w http.ResponseWriter, r *http.Request, a admission) {
	if b.token {
		b.p.forwardHTTP(w, r, http.MethodGet, a.ext.Token, nil) // the upstream knows which jtis are used
		return
	}
	b.p.localPreflight(w, r, a)
}

func (b forwardBackend) connect(w http.ResponseWriter, r *http.Request, a admission) {
	b.p.forward(w, r, a)
}

func (b forwardBackend) publish(w http.ResponseWriter, r *http.Request, _, token string, raw []byte, _ verifier.PublishBody) {
	b.p.forwardHTTP(w, r, http.MethodPost, token, raw)
}
