package proxy_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/qubital/office-router/internal/rsakey"
	"github.com/qubital/office-router/issuer"
	"github.com/qubital/office-router/proxy"
	"github.com/qubital/office-router/verifier"
)

// TestReplayAtTheExpiryEdge: the verifier reads the clock before the replay store does. When
// the second read lands at exp + leeway, the store must refuse the token, not take the used jti
// for an expired entry and accept it again (issue 13, item 5).
func TestReplayAtTheExpiryEdge(t *testing.T) {
	a, _ := keys(t)
	t0 := time.Unix(1_767_225_600, 0)
	minter, err := issuer.NewMinter(a, testIssuer, testAudience, func() time.Time { return t0 })
	if err != nil {
		t.Fatal(err)
	}
	tok, err := minter.MintHandshake(identity("alice", "acme"))
	if err != nil {
		t.Fatal(err)
	}
	until := tok.ExpiresAt.Add(verifier.DefaultLeeway)
	var verifierNow, proxyNow atomic.Int64 // the two clock reads, in ns
	clock := func(v *atomic.Int64) func() time.Time { return func() time.Time { return time.Unix(0, v.Load()) } }
	pemA, _ := rsakey.EncodePublicKeyPEM(&a.PublicKey)
	v, err := verifier.New(verifier.Config{PublicKeysPEM: string(pemA), Issuer: testIssuer, Audience: testAudience}, verifier.WithClock(clock(&verifierNow)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := proxy.New(proxy.Config{}, v, proxy.WithClock(clock(&proxyNow)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = p.Shutdown(t.Context()) })
	dial := func() int {
		d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
		c, resp, err := d.DialContext(t.Context(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/orgs/acme/ws", http.Header{"Authorization": {"Bearer " + tok.Token}})
		if err == nil {
			t.Cleanup(func() { c.Close() })
		}
		return statusOf(resp)
	}

	verifierNow.Store(until.Add(-time.Second).UnixNano()) // the token is valid for the verifier
	proxyNow.Store(t0.UnixNano())
	if got := dial(); got != http.StatusSwitchingProtocols {
		t.Fatalf("first use: %d", got)
	}
	proxyNow.Store(until.UnixNano()) // the store's read lands exactly at the edge
	if got := dial(); got != http.StatusUnauthorized {
		t.Fatalf("replay at exp + leeway: %d, want 401", got)
	}
}
