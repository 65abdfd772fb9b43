package proxy

import (
	"net/http"
	"time"

	"github.com/qubital/office-router/contract"
	"github.com/qubital/office-router/internal/httpx"
	"github.com/qubital/office-router/verifier"
)

// orgBackend is where the edge (proxy.go: routing, CORS, origin, the failure limiter,
// verification) sends what it has admitted: the surface of the Worker's Durable Object. New picks
// one, once: the hub (hub mode) or the forwarder (Config.Upstream). A third backend, a hub over a
// broker, implements the same methods; the edge does not change.
type orgBackend interface {
	// spendsJTI reports whether the backend, not the edge, keeps the single-use record: a
	// forwarder that re-sends the token leaves replay to the upstream, whose store every
	// forwarder in front of it shares.
	spendsJTI() bool
	// preflight answers an authorised handshake that is not an upgrade (docs/protocol.md).
	preflight(w http.ResponseWriter, r *http.Request, id verifier.Identity, ext contract.Extracted, start time.Time)
	// connect upgrades an authorised handshake whose jti is spent (unless spendsJTI).
	connect(w http.ResponseWriter, r *http.Request, id verifier.Identity, ext contract.Extracted, start time.Time)
	// publish delivers a verified publish whose jti is spent (unless spendsJTI).
	publish(w http.ResponseWriter, r *http.Request, call serviceCall, body verifier.PublishBody)
	// presence answers who is online in call.org, as a welcome would list them.
	presence(w http.ResponseWriter, r *http.Request, call serviceCall)
	// disconnect records body's block, if any, then closes the user's sockets in call.org.
	disconnect(w http.ResponseWriter, r *http.Request, call serviceCall, body verifier.DisconnectBody)
}

var (
	_ orgBackend = hubBackend{}
	_ orgBackend = forwardBackend{}
)

// newBackend is the one place hub vs forward mode is decided.
func newBackend(p *Proxy) orgBackend {
	if p.cfg.Upstream != "" {
		return forwardBackend{p: p, token: p.cfg.ForwardToken}
	}
	return hubBackend{p: p}
}

// hubBackend keeps the org's sockets in this process (hub.go, client.go).
type hubBackend struct{ p *Proxy }

func (hubBackend) spendsJTI() bool { return false }

func (b hubBackend) preflight(w http.ResponseWriter, r *http.Request, id verifier.Identity, _ contract.Extracted, start time.Time) {
	// Read-only. The block before the jti, as on the Worker: a browser learns why its upgrade
	// was refused by asking the pre-flight with the same token, which that refusal has spent.
	if b.p.blocks.blocked(id.OrgID, id.UserID, b.p.now()) {
		b.p.reject(w, b.p.clientIP(r), ErrRevoked, start)
		return
	}
	b.p.localPreflight(w, r, id, start)
}

func (b hubBackend) connect(w http.ResponseWriter, r *http.Request, id verifier.Identity, ext contract.Extracted, start time.Time) {
	b.p.serveHub(w, r, id, ext, start)
}

func (b hubBackend) publish(w http.ResponseWriter, _ *http.Request, call serviceCall, body verifier.PublishBody) {
	n := 0
	if h := b.p.hub(call.org); h != nil {
		n = h.publish(body.To, body.Data)
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]int{"delivered": n})
}

func (b hubBackend) presence(w http.ResponseWriter, _ *http.Request, call serviceCall) {
	users := []presenceUser{}
	if h := b.p.hub(call.org); h != nil {
		users = h.roster()
	}
	httpx.WriteJSON(w, http.StatusOK, map[string][]presenceUser{"users": users})
}

func (b hubBackend) disconnect(w http.ResponseWriter, r *http.Request, call serviceCall, body verifier.DisconnectBody) {
	// The block first, then the listing (hub.disconnect), against a handshake's join then check
	// (hub.join): a socket of the user that joins meanwhile is either listed or refused.
	if body.BlockSeconds > 0 {
		now := b.p.now()
		b.p.blocks.add(call.org, body.UserID, now.Add(time.Duration(body.BlockSeconds)*time.Second), now)
	}
	n := 0
	if h := b.p.hub(call.org); h != nil {
		n = h.disconnect(body.UserID, body.Code)
	}
	// An administrative act: one line, who was closed and blocked where (ids only, no token).
	b.p.log.InfoContext(r.Context(), "disconnect", "org", call.org, "user", body.UserID, "code", body.Code,
		"blockSeconds", body.BlockSeconds, "disconnected", n)
	httpx.WriteJSON(w, http.StatusOK, map[string]int{"disconnected": n})
}

// forwardBackend relays to the upstream router (forward.go), with identity headers or, when
// token is set (Config.ForwardToken), the client's token.
type forwardBackend struct {
	p     *Proxy
	token bool
}

func (b forwardBackend) spendsJTI() bool { return b.token }

func (b forwardBackend) preflight(w http.ResponseWriter, r *http.Request, id verifier.Identity, ext contract.Extracted, start time.Time) {
	if b.token {
		b.p.forwardHTTP(w, r, http.MethodGet, ext.Token, nil) // the upstream knows which jtis are used
		return
	}
	b.p.localPreflight(w, r, id, start)
}

func (b forwardBackend) connect(w http.ResponseWriter, r *http.Request, id verifier.Identity, ext contract.Extracted, start time.Time) {
	b.p.forward(w, r, id, ext, start)
}

func (b forwardBackend) publish(w http.ResponseWriter, r *http.Request, call serviceCall, _ verifier.PublishBody) {
	b.p.forwardHTTP(w, r, http.MethodPost, call.token, call.raw)
}

func (b forwardBackend) presence(w http.ResponseWriter, r *http.Request, call serviceCall) {
	b.p.forwardHTTP(w, r, http.MethodGet, call.token, nil)
}

// disconnect leaves the block and the closes to the upstream, which holds the sockets (the
// relays close when it closes their upstream side, with its code: pipe passes 4001/4003 on).
func (b forwardBackend) disconnect(w http.ResponseWriter, r *http.Request, call serviceCall, _ verifier.DisconnectBody) {
	b.p.forwardHTTP(w, r, http.MethodPost, call.token, call.raw)
}
