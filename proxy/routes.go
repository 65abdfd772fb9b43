package proxy

import (
	"net/http"
	"strings"

	"github.com/qubital/office-router/contract"
	"github.com/qubital/office-router/internal/httpx"
)

// route is one route of the edge, the Go twin of a branch of worker/src/index.ts. Adding a route
// is one line in routes; newMux gives every route the same treatment:
//
//   - "{method} {path}" runs handle, after the org check and CORS (edge);
//   - "OPTIONS {path}" answers a CORS pre-flight (Access-Control-Request-Method present), else
//     falls through to the wrong-method answer;
//   - "{path}" for every other method: a service route answers 405 with Allow: {method} before
//     any other check; the socket route hands it to handle, whose handshake checks refuse it
//     (405 after the failed-address limiter, as a refused handshake).
type route struct {
	method string // http.MethodGet, http.MethodPost
	path   string // a ServeMux path with the {org} wildcard: "/orgs/{org}/ws"
	// scope is the scope a service token needs for this route ("publish"); empty for the socket
	// route, whose token is a handshake token. newMux only reads it to answer other methods 405:
	// the handler verifies the scope (handlePublish through verifier.VerifyPublish, which
	// requires "publish"), so a new service route needs a check of its own scope, else a publish
	// token would pass it.
	scope  string
	handle func(p *Proxy, w http.ResponseWriter, r *http.Request, org string)
}

// routes is the edge's route table (docs/protocol.md#routes); /healthz and the 404 for
// everything else are added by newMux.
var routes = []route{
	{http.MethodGet, "/orgs/{org}/ws", "", (*Proxy).handleSocket},
	{http.MethodPost, "/orgs/{org}/publish", contract.ScopePublish, (*Proxy).handlePublish},
	{http.MethodGet, "/orgs/{org}/presence", contract.ScopePresence, (*Proxy).handlePresence},
	{http.MethodPost, "/orgs/{org}/disconnect", contract.ScopeDisconnect, (*Proxy).handleDisconnect},
}

// newMux registers routes on a ServeMux. Every path it can reach has a method-less pattern and
// "/" catches the rest, so ServeMux never writes its own text/plain 404 or 405; ServeHTTP keeps
// it from redirecting.
func (p *Proxy) newMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { writeError(w, ErrNotFound) })
	for _, rt := range routes {
		other := rt.handle
		if rt.scope != "" {
			other = wrongMethod(rt.method)
		}
		mux.Handle(rt.method+" "+rt.path, p.edge(rt.handle))
		mux.Handle(http.MethodOptions+" "+rt.path, p.edge(func(p *Proxy, w http.ResponseWriter, r *http.Request, org string) {
			if httpx.IsPreflight(r) {
				p.corsPreflight(w, r)
				return
			}
			other(p, w, r, org)
		}))
		mux.Handle(rt.path, p.edge(other))
	}
	return mux
}

// ServeHTTP routes r as the Worker does: its path read as the WHATWG URL parser reads it (a "\" is a
// "/", a "#" ends it) and dot segments resolved first (dotpath.go), then the
// escaped path matched against routes, where only the org segment is percent-decoded (an org
// that decodes to something with a "/" is no org) and every other segment must be literal:
// /orgs/acme/%77s and /orgs/acme%2Fws are no route, as on the Worker, whose route pattern runs
// on the encoded pathname. A path that is not clean (an empty segment, a leftover dot segment) is 404 here:
// ServeMux would redirect it to its cleaned form, and the Worker routes it nowhere.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r = withDotSegmentsResolved(withWHATWGPath(r))
	if !isCleanPath(r.URL.Path) {
		writeError(w, ErrNotFound)
		return
	}
	if !literalSegments(r.URL.EscapedPath()) {
		writeError(w, ErrNotFound)
		return
	}
	p.mux.ServeHTTP(w, r)
}

// literalSegments reports whether every segment of the escaped path but the org's
// (/orgs/{org}/…) is written without percent-encoding, as the Worker's route pattern needs.
func literalSegments(escaped string) bool {
	if !strings.Contains(escaped, "%") {
		return true
	}
	segs := strings.Split(escaped, "/")
	for i, s := range segs {
		if i == 2 && segs[1] == "orgs" {
			continue
		}
		if strings.Contains(s, "%") {
			return false
		}
	}
	return true
}

// isCleanPath reports whether ServeMux routes p as it is (its cleanPath(p) == p): an absolute
// path with no empty segment but a trailing one, and no "." or ".." segment.
func isCleanPath(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.Contains(p, "//") {
		return false
	}
	for _, s := range strings.Split(p[1:], "/") {
		if s == "." || s == ".." {
			return false
		}
	}
	return true
}

// edge runs what every org route shares before its handler: the org segment must be an id (else
// 404, as an unknown route), and an allowed Origin is echoed for CORS.
func (p *Proxy) edge(handle func(p *Proxy, w http.ResponseWriter, r *http.Request, org string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		org := r.PathValue("org")
		if !contract.IsValidID(org) {
			writeError(w, ErrNotFound)
			return
		}
		p.origins.AllowOrigin(w.Header(), r.Header.Get("Origin"))
		handle(p, w, r, org)
	})
}

// corsPreflight answers a CORS pre-flight for any org route: 204 for an allowed Origin, else 403.
func (p *Proxy) corsPreflight(w http.ResponseWriter, r *http.Request) {
	if origin := r.Header.Get("Origin"); origin == "" || !p.origins.Allowed(origin) {
		writeError(w, contract.ErrOriginNotAllowed)
		return
	}
	httpx.WritePreflight(w)
}

// wrongMethod is a service route's answer to any method but its own, before any other check.
func wrongMethod(allow string) func(*Proxy, http.ResponseWriter, *http.Request, string) {
	return func(_ *Proxy, w http.ResponseWriter, _ *http.Request, _ string) {
		w.Header().Set("Allow", allow)
		httpx.WriteError(w, http.StatusMethodNotAllowed, ErrMethodNotAllowed.Reason)
	}
}
