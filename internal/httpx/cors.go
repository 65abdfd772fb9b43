package httpx

import "net/http"

// CORS as both Go servers answer it, the issuer and the edge proxy (the Worker's twin is
// corsHeaders and the pre-flight branch in worker/src/index.ts): an allowed Origin is echoed on
// every answer, and a pre-flight from it gets 204 with the methods and headers every route takes.

// AllowOrigin echoes origin in Access-Control-Allow-Origin, with Vary: Origin, when o allows it,
// and reports whether it did. An empty origin (not a browser's cross-origin request) is not.
func (o Origins) AllowOrigin(h http.Header, origin string) bool {
	if origin == "" || !o.Allowed(origin) {
		return false
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	return true
}

// IsPreflight reports whether r is a CORS pre-flight: OPTIONS with Access-Control-Request-Method.
// Any other OPTIONS is an ordinary request with a method the route may refuse.
func IsPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
}

// WritePreflight answers a pre-flight whose origin is allowed: 204, no body.
func WritePreflight(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}
