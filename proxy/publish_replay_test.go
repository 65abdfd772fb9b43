package proxy_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/qubital/office-router/proxy"
)

// TestPublishTokenSingleUse: a publish token delivers once, as on the Worker; a body refused
// with 400 does not spend it.
func TestPublishTokenSingleUse(t *testing.T) {
	e := newEnv(t, proxy.Config{})
	auth := http.Header{"Authorization": {"Bearer " + mustPublish(t, e, "acme")}}
	for _, step := range []struct {
		name, body string
		want       int
		wantErr    string
	}{
		{"refused body", `{"to":null,"data":1}`, 400, "bad_request"},
		{"first use", `{"data":1}`, 200, ""},
		{"replay", `{"data":1}`, 401, "replayed"},
		{"replay with a bad body", `{"DATA":1}`, 400, "bad_request"},
	} {
		status, _, m := e.do("POST", "/orgs/acme/publish", auth, step.body)
		if status != step.want || (step.wantErr != "" && m["error"] != step.wantErr) {
			t.Fatalf("%s: %d %v, want %d %s", step.name, status, m, step.want, step.wantErr)
		}
	}
}

// TestPublishFailuresAreRateLimited: refused publish tokens spend the per-address budget of
// failed handshakes, so the publish route is not a way around that limit; other addresses and
// refused bodies (400) are not charged.
func TestPublishFailuresAreRateLimited(t *testing.T) {
	e := newEnv(t, proxy.Config{FailuresPerSecond: 0.001, FailureBurst: 3})
	good := func() http.Header { return http.Header{"Authorization": {"Bearer " + mustPublish(t, e, "acme")}} }
	for i := range 5 {
		if status, _, m := e.do("POST", "/orgs/acme/publish", good(), `{"TO":1}`); status != 400 || m["error"] != "bad_request" {
			t.Fatalf("refused body %d: %d %v", i, status, m)
		}
	}
	for i := range 3 {
		if status, _, _ := e.do("POST", "/orgs/acme/publish", http.Header{"Authorization": {"Bearer x.y.z"}}, `{"data":1}`); status != 401 {
			t.Fatalf("bad token %d: %d", i, status)
		}
	}
	status, h, m := e.do("POST", "/orgs/acme/publish", good(), `{"data":1}`)
	if status != 429 || m["error"] != "rate_limited" || h.Get("Retry-After") == "" {
		t.Fatalf("publish after the failure burst: %d %v retry-after %q", status, m, h.Get("Retry-After"))
	}
	if status, _, _ := e.get("/orgs/acme/ws", http.Header{"Authorization": {"Bearer " + e.token("a", "acme", "member")}}); status != 429 {
		t.Fatalf("handshake from the same address: %d, want 429 (one budget)", status)
	}
	req := httptest.NewRequestWithContext(t.Context(), "POST", "/orgs/acme/publish", strings.NewReader(`{"data":1}`))
	req.RemoteAddr = "10.9.8.7:1234"
	req.Header = good()
	rec := &statusRecorder{header: http.Header{}}
	e.p.ServeHTTP(rec, req)
	if rec.status != 200 {
		t.Fatalf("other address: %d", rec.status)
	}
}
