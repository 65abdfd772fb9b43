package issuer_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qubital/office-router/issuer"
)

// TestFailedAccessTokenLimit: refused access tokens (each an RSA verification) spend a budget per
// client address; over it every request from that address gets 429 rate_limited with
// Retry-After, valid tokens included, until it refills. Valid tokens spend nothing. Behind
// TRUSTED_PROXIES the address is the one the proxy names, as at the Go proxy.
func TestFailedAccessTokenLimit(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	ti := newTestIssuer(t, func(c *issuer.Config) {
		c.FailedAuthPerSecond, c.FailedAuthBurst, c.TrustedProxies = 0.5, 3, "127.0.0.0/8,::1"
	}, issuer.WithClock(func() time.Time { return time.Unix(0, now.Load()) }))
	good := ti.idp.userToken(t)
	bad := good[:len(good)-4] + "AAAA" // a bad signature: a full RSA verification
	hdr := func(tok, client string) map[string]string {
		h := map[string]string{"CF-Connecting-IP": client}
		if tok != "" {
			h["Authorization"] = "Bearer " + tok
		}
		return h
	}
	const path = "/api/v1/cloudflare/request-access"
	for i := range 5 { // valid tokens never spend the budget
		if status, _, body := ti.do(t, "POST", path, nil, hdr(good, "2001:db8:1:1::1")); status != 200 {
			t.Fatalf("valid %d: %d %v", i, status, body)
		}
		now.Add(int64(time.Second)) // keep clear of the per-user mint limit
	}
	for i, tok := range []string{bad, "", bad} {
		if status, _, body := ti.do(t, "POST", path, nil, hdr(tok, "2001:db8:1:1::"+string(rune('a'+i)))); status != 401 {
			t.Fatalf("failure %d: %d %v", i, status, body)
		}
	}
	for _, p := range []string{path, "/api/v1/realtime/token"} {
		status, h, body := ti.do(t, "POST", p, nil, hdr(good, "2001:db8:1:1:ffff::1"))
		if status != 429 || body["error"] != "rate_limited" || h.Get("Retry-After") != "2" {
			t.Fatalf("%s: same /64 after 3 failures: %d %v Retry-After %q", p, status, body, h.Get("Retry-After"))
		}
	}
	if status, _, body := ti.do(t, "POST", path, nil, hdr(good, "2001:db8:1:2::1")); status != 200 {
		t.Fatalf("another /64: %d %v", status, body)
	}
	if status, _, body := ti.do(t, "POST", path, nil, map[string]string{"Authorization": "Bearer " + good}); status != 200 {
		t.Fatalf("the trusted proxy itself: %d %v", status, body)
	}
	now.Add(int64(2 * time.Second))
	if status, _, body := ti.do(t, "POST", path, nil, hdr(good, "2001:db8:1:1::1")); status != 200 {
		t.Fatalf("after the refill: %d %v", status, body)
	}
}

func TestTrustedProxiesRefused(t *testing.T) {
	cfg := baseConfig(t, newFakeWorkOS(t))
	cfg.TrustedProxies = "10.0.0.0/8;192.0.2.0/24"
	if _, err := issuer.New(cfg); err == nil || !strings.Contains(err.Error(), "TRUSTED_PROXIES") {
		t.Fatalf("bad TRUSTED_PROXIES: %v", err)
	}
}
