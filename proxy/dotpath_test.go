package proxy_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/qubital/office-router/proxy"
)

// TestDotSegmentsAsTheWorker: the Workers runtime resolves "." and ".." (also %2e-encoded) in the
// URL before the Worker sees it; the Go proxy routes the same paths the same way, so one client
// gets one answer from both twins (internal/harness pins it against wrangler dev too).
func TestDotSegmentsAsTheWorker(t *testing.T) {
	e := newEnv(t, proxy.Config{})
	for path, want := range map[string]int{
		"/orgs/x/../acme/ws":      200,
		"/orgs/x/%2e%2E/acme/ws":  200,
		"/orgs/x/.%2e/acme/ws":    200,
		"/orgs/./acme/./ws":       200,
		"/../../orgs/acme/ws":     200,
		"/orgs/acme/x/../ws":      200,
		"/orgs/acme/ws/..":        404,
		"/orgs/acme/ws/.":         404,
		"/orgs/acme/ws/%2e%2e/ws": 200,
		"/orgs/acme/ws":           200,
		"/orgs/ac.me/ws":          404, // a dot inside a segment is not a dot segment
	} {
		req := httpRequestFrom(t, e, "192.0.2.1:1")
		u, err := url.Parse(path)
		if err != nil {
			t.Fatal(err)
		}
		req.URL = u
		rec := &statusRecorder{header: http.Header{}}
		e.p.ServeHTTP(rec, req)
		if rec.status != want {
			t.Errorf("%s: %d, want %d", path, rec.status, want)
		}
	}
}
