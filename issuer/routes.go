package issuer

import (
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/qubital/office-router/internal/httpx"
)

// route is one route of the issuer (docs/protocol.md). Adding one is a line in apiRoutes (or a
// Handle call, for a page that is no API); route gives every route the same treatment:
//
//   - "{method} {path}" runs handle after CORS and the body limit;
//   - a CORS pre-flight (OPTIONS with Access-Control-Request-Method) is answered on any path, a
//     route's or not: 204 for an allowed Origin, else 403;
//   - "{path}" for every other method answers 405 with Allow: the path's methods, sorted;
//   - every other path is 404.
type route struct {
	method string // http.MethodGet, http.MethodPost
	path   string // an exact path, no wildcard: "/healthz"
	handle handlerFunc
}

type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// apiRoutes is the issuer's route table (docs/protocol.md); /dev/session only in dev mode.
func (s *Server) apiRoutes() []route {
	routes := []route{
		{http.MethodPost, "/api/v1/cloudflare/request-access", s.handleRequestAccess},
		{http.MethodPost, "/api/v1/realtime/token", s.handleRealtime},
		{http.MethodGet, "/.well-known/jwks.json", s.handleJWKS},
		{http.MethodGet, "/healthz", s.handleHealth},
		{http.MethodGet, "/readyz", s.handleReady},
	}
	if s.dev != nil {
		routes = append(routes, route{http.MethodPost, "/dev/session", s.handleDevSession})
	}
	return routes
}

// Handle adds a route (used by the dev stack to serve the demo page). Not for API routes: a
// method and path routed already get h instead of their handler. path is exact and has no "{"
// (ServeMux would read a wildcard).
func (s *Server) Handle(method, path string, h http.HandlerFunc) {
	s.addRoute(route{method, path, func(w http.ResponseWriter, r *http.Request) error { h(w, r); return nil }})
}

// endpoint is what a ServeMux pattern of the issuer leads to. ServeHTTP looks it up with
// ServeMux.Handler and serves it itself, so anything else ServeMux would answer (its text/plain
// 404 and 405, its redirects of unclean paths) is the issuer's own 404 instead.
type endpoint struct {
	s      *Server
	path   string                      // the route's path, its metric label; "" on no route (404)
	method string                      // the one method handle answers; "" for the path's other methods (405)
	handle atomic.Pointer[handlerFunc] // swapped by a second Handle of the method and path
}

// addRoute registers rt's "{method} {path}" pattern and, on its path's first route, the
// method-less "{path}" pattern that answers every other method. A method and path registered
// already keep their pattern and get rt's handler (ServeMux refuses a pattern twice).
func (s *Server) addRoute(rt route) {
	// A path's pattern is exact: a trailing "/" names itself only, as "/" does in the table.
	pattern := rt.path
	if strings.HasSuffix(pattern, "/") {
		pattern += "{$}"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.endpoints[rt.method+" "+rt.path]; ok {
		e.handle.Store(&rt.handle)
		return
	}
	e := &endpoint{s: s, path: rt.path, method: rt.method}
	e.handle.Store(&rt.handle)
	s.endpoints[rt.method+" "+rt.path] = e
	s.mux.Handle(rt.method+" "+pattern, e)
	if _, known := s.methods[rt.path]; !known {
		s.mux.Handle(pattern, &endpoint{s: s, path: rt.path})
	}
	s.methods[rt.path] = append(s.methods[rt.path], rt.method)
	sort.Strings(s.methods[rt.path])
}

// ServeHTTP routes r on its decoded path, as the issuer always has: /heal%74hz is /healthz and
// /api/v1/realtime%2Ftoken is /api/v1/realtime/token (ServeMux alone matches encoded segments).
// Paths are exact: a trailing or double slash or a dot segment is no route (ServeMux would
// redirect them).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	lookup := r
	if r.URL.RawPath != "" {
		decoded := *r.URL
		decoded.RawPath = ""
		copied := *r
		copied.URL = &decoded
		lookup = &copied
	}
	h, _ := s.mux.Handler(lookup)
	e, ok := h.(*endpoint)
	if !ok {
		e = s.unknown
	}
	e.ServeHTTP(w, r)
}

// ServeHTTP is the one place requests become responses: CORS, the method, body limits, errors.
func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s, start := e.s, time.Now()
	allowed := s.origins.AllowOrigin(w.Header(), r.Header.Get("Origin"))
	route := e.path
	if route == "" {
		route = "unknown"
	}
	err := func() error {
		if httpx.IsPreflight(r) {
			if !allowed {
				return ErrOriginNotAllowed
			}
			httpx.WritePreflight(w)
			return nil
		}
		if e.path == "" {
			return ErrNotFound
		}
		// A HEAD reaches the GET pattern too (ServeMux's rule); only the route's own method runs.
		if r.Method != e.method {
			w.Header().Set("Allow", s.allow(e.path))
			return ErrMethodNotAllowed
		}
		if r.ContentLength > s.cfg.MaxBodyBytes {
			return ErrBodyTooLarge
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		return (*e.handle.Load())(w, r)
	}()
	status := http.StatusOK
	if err != nil {
		var code string
		status, code = errorStatus(err)
		if status == http.StatusInternalServerError {
			s.log.ErrorContext(r.Context(), "request failed", "route", route, "error", err)
		}
		if status == http.StatusUnauthorized || status == http.StatusForbidden {
			s.m.authFailures.WithLabelValues(code).Inc()
		}
		httpx.WriteError(w, status, code)
	}
	s.m.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	s.log.DebugContext(r.Context(), "request", "method", r.Method, "route", route, "status", status)
}

// allow is the Allow header of path: its methods, sorted.
func (s *Server) allow(path string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return strings.Join(s.methods[path], ", ")
}
