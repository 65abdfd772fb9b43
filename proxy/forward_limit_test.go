package proxy_test

import (
	"net/http"
	"testing"

	"github.com/qubital/office-router/proxy"
)

// TestForwardTokenChargesUpstreamRefusals: with ForwardToken the upstream judges the jti, so a
// replayed token is refused there, not at the edge. The refusal must still charge the client's
// failed-address budget, as every refused token does at the edge (docs/security.md): else one
// captured token, service or handshake, could be replayed without limit through the forwarder,
// each try costing the forwarder and the upstream an RSA verification, where the hub and the
// identity-header forwarder answer 429 after the burst.
func TestForwardTokenChargesUpstreamRefusals(t *testing.T) {
	const burst = 5
	for _, tc := range []struct {
		name string
		try  func(fw *proxy.Proxy, e, hub *env, tok http.Header) int
		tok  func(hub *env) http.Header
	}{
		{"presence", func(_ *proxy.Proxy, e, _ *env, tok http.Header) int {
			status, _, _ := e.get("/orgs/acme/presence", tok.Clone())
			return status
		}, func(hub *env) http.Header { return hub.service("acme", "presence") }},
		{"disconnect", func(_ *proxy.Proxy, e, _ *env, tok http.Header) int {
			status, _, _ := e.do(http.MethodPost, "/orgs/acme/disconnect", tok.Clone(), `{"userId":"bob","code":4001}`)
			return status
		}, func(hub *env) http.Header { return hub.service("acme", "disconnect") }},
		{"handshake", func(_ *proxy.Proxy, e, _ *env, tok http.Header) int {
			_, resp, _ := e.dialWith("acme", tok.Clone())
			return statusOf(resp)
		}, func(hub *env) http.Header {
			return http.Header{"Authorization": {"Bearer " + hub.token("alice", "acme", "member")}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hub := newEnv(t, proxy.Config{}) // the upstream: a real router that spends the jtis
			fw := newEnv(t, proxy.Config{Upstream: hub.wsURL, ForwardToken: true, FailureBurst: burst, FailuresPerSecond: 0.001})
			tok := tc.tok(hub)
			if got := tc.try(fw.p, fw, hub, tok); got != http.StatusOK && got != http.StatusSwitchingProtocols {
				t.Fatalf("first use: %d", got)
			}
			var got []int
			for i := 0; i < burst+2; i++ {
				got = append(got, tc.try(fw.p, fw, hub, tok))
			}
			for i, s := range got {
				want := http.StatusUnauthorized
				if i >= burst {
					want = http.StatusTooManyRequests
				}
				if s != want {
					t.Fatalf("replays through the forwarder answered %v, want %d × 401 then 429", got, burst)
				}
			}
		})
	}
}
