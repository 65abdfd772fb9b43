package proxy

import (
	"net/http"

	"github.com/qubital/office-router/contract"
	"github.com/qubital/office-router/verifier"
)

// The backend's control routes of issue 16 (docs/protocol.md): who is online, and closing one
// user's sockets. Both are service routes, admitted as publish is (admitService), each with its
// own scope.

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

// handleDisconnect serves POST /orgs/{org}/disconnect {"userId","code","blockSeconds"?}: record
// the block (if any), then close every socket of userId in org with code, then answer
// {"disconnected": n}.
func (p *Proxy) handleDisconnect(w http.ResponseWriter, r *http.Request, org string) {
	var body verifier.DisconnectBody
	call, ok := p.admitService(w, r, org, contract.ScopeDisconnect, func(raw []byte) (err error) {
		body, err = verifier.ParseDisconnectBody(raw)
		return err
	})
	if ok {
		p.backend.disconnect(w, r, call, body)
	}
}
