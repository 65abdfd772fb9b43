package proxy_test

import (
	"net/http"
	"testing"

	"github.com/qubital/office-router/proxy"
)

// Publish tokens are single-use, like handshake tokens (docs/protocol.md "Publish"), in the
// Worker and in both modes of the Go proxy. A refused body does not spend the token.
func TestPublishTokenSingleUse(t *testing.T) {
	up := newEnv(t, proxy.Config{})
	for _, tc := range []struct {
		name string
		e    *env
	}{
		{"hub", newEnv(t, proxy.Config{})},
		{"forward, identity headers", newEnv(t, proxy.Config{Upstream: up.wsURL})},
		{"forward, token forwarded", newEnv(t, proxy.Config{Upstream: up.wsURL, ForwardToken: true})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := mustPublish(t, tc.e, "acme")
			auth := http.Header{"Authorization": {"Bearer " + tok}}
			if status, _, m := tc.e.do("POST", "/orgs/acme/publish", auth, `{"data":1,"x":2}`); status != 400 || m["error"] != "bad_request" {
				t.Fatalf("bad body: %d %v", status, m)
			}
			if status, _, m := tc.e.do("POST", "/orgs/acme/publish", auth, `{"data":1}`); status != 200 {
				t.Fatalf("first use: %d %v", status, m)
			}
			if status, _, m := tc.e.do("POST", "/orgs/acme/publish", auth, `{"data":2}`); status != 401 || m["error"] != "replayed" {
				t.Fatalf("second use: %d %v, want 401 replayed", status, m)
			}
		})
	}
}
