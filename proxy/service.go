package proxy

import (
	"net/http"

	"github.com/qubital/office-router/contract"
	"github.com/qubital/office-router/verifier"
)

// The service routes (docs/protocol.md): a backend publishes, asks who is online, and closes one
// user's sockets. Each is admitted by admitService (proxy.go) with its own scope, then handed to
// the org backend.

// handlePresence serves GET /orgs/{org}/presence: {"users":[{"userId","role","connections"}]},
// sorted by userId, the roster a socket connecting now would get in its welcome.
func (p *Proxy) handlePresence(w http.ResponseWriter, r *http.Request, org string) {
	// ServeMux routes HEAD to a GET pattern; HEAD is not this route's method (a token spent on
	// an answer nobody reads).
	if r.Method != http.MethodGet {
		wrongMethod(http.MethodGet)(p, w, r, org)
		return
	}
	// Every answer, refusals and forwarded ones included: a roster must not sit in a cache.
	w.Header().Set("Cache-Control", "no-store")
	if call, ok := p.admitService(w, r, org, contract.ScopePresence, nil); ok {
		p.backend.presence(w, r, call)
	}
}

// handlePublish serves POST /orgs/{org}/publish (routes.go answers the other methods).
func (p *Proxy) handlePublish(w http.ResponseWriter, r *http.Request, org string) {
	if call, body, ok := admitBody(p, w, r, org, contract.ScopePublish, verifier.ParsePublishBody); ok {
		p.backend.publish(w, r, call, body)
	}
}

// handleDisconnect serves POST /orgs/{org}/disconnect {"userId","code","blockSeconds"?}: record
// the block (if any), then close every socket of userId in org with code, then answer
// {"disconnected": n}.
func (p *Proxy) handleDisconnect(w http.ResponseWriter, r *http.Request, org string) {
	if call, body, ok := admitBody(p, w, r, org, contract.ScopeDisconnect, verifier.ParseDisconnectBody); ok {
		p.backend.disconnect(w, r, call, body)
	}
}

// admitBody is admitService for a route whose body parse judges; it returns the parsed body.
func admitBody[T any](p *Proxy, w http.ResponseWriter, r *http.Request, org, scope string, parse func([]byte) (T, error)) (serviceCall, T, bool) {
	var body T
	call, ok := p.admitService(w, r, org, scope, func(raw []byte) (err error) {
		body, err = parse(raw)
		return err
	})
	return call, body, ok
}
