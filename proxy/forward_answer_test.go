package proxy_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/qubital/office-router/proxy"
)

// TestForwardRelaysAnswerHeaders: an upstream refusal reaches the client through a forwarder with
// the headers it has on the upstream and on a hub: Retry-After on a 429 (the client's back-off
// depends on it), Cache-Control: no-store and nosniff on every JSON answer (a pre-flight answer
// names its user). The forwarder relayed the status and the body only.
func TestForwardRelaysAnswerHeaders(t *testing.T) {
	// The upstream, a real hub, blocks the forwarder's address after one failure it sees.
	up := newEnv(t, proxy.Config{FailureBurst: 1, FailuresPerSecond: 0.001})
	fw := newEnv(t, proxy.Config{Upstream: up.wsURL, ForwardToken: true})
	tok := fw.token("alice", "acme", "member")
	if _, _, err := fw.dialWith("acme", http.Header{"Authorization": {"Bearer " + tok}}); err != nil {
		t.Fatal(err)
	}
	// The replay is judged upstream (ForwardToken) and spends the forwarder's one failure there.
	if _, resp, _ := fw.dialWith("acme", http.Header{"Authorization": {"Bearer " + tok}}); statusOf(resp) != http.StatusUnauthorized {
		t.Fatalf("replay through the forwarder: %d, want 401", statusOf(resp))
	}
	check := func(what string, status int, h http.Header, m map[string]any) {
		t.Helper()
		if status != http.StatusTooManyRequests || m["error"] != "rate_limited" {
			t.Fatalf("%s: %d %v, want 429 rate_limited from the upstream", what, status, m)
		}
		if h.Get("Retry-After") == "" {
			t.Errorf("%s: no Retry-After; the upstream sent one", what)
		}
		if h.Get("Cache-Control") != "no-store" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: Cache-Control %q, X-Content-Type-Options %q; want no-store, nosniff as every JSON answer",
				what, h.Get("Cache-Control"), h.Get("X-Content-Type-Options"))
		}
	}
	_, resp, err := fw.dialWith("acme", http.Header{"Authorization": {"Bearer " + fw.token("bob", "acme", "member")}})
	if err == nil {
		t.Fatal("socket: upgraded, want the upstream's 429")
	}
	m := map[string]any{}
	if resp != nil {
		m = decodeBody(t, resp)
	}
	check("socket", statusOf(resp), headerOf(resp), m)
	status, h, m := fw.get("/orgs/acme/ws", http.Header{"Authorization": {"Bearer " + fw.token("carol", "acme", "member")}})
	check("pre-flight", status, h, m)
	pt, err := fw.minter.MintPublish("acme", "backend")
	if err != nil {
		t.Fatal(err)
	}
	status, h, m = fw.do(http.MethodPost, "/orgs/acme/publish", http.Header{"Authorization": {"Bearer " + pt.Token}}, `{"data":"e"}`)
	check("publish", status, h, m)
}

func headerOf(r *http.Response) http.Header {
	if r == nil {
		return http.Header{}
	}
	return r.Header
}

func decodeBody(t *testing.T, r *http.Response) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		t.Fatalf("answer body: %v", err)
	}
	return m
}
