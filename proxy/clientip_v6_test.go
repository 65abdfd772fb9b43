package proxy_test

import (
	"net/http"
	"testing"

	"github.com/qubital/office-router/proxy"
)

// TestFailedHandshakesIPv6PerSlash64: an IPv6 client is counted per /64, whether it is the TCP
// peer or named by a trusted proxy: one host is routinely given a whole /64, and per-address keys
// gave it 2^64 failure budgets. IPv4 stays per address; an IPv4-mapped peer is its IPv4 address.
func TestFailedHandshakesIPv6PerSlash64(t *testing.T) {
	trusted, err := proxy.ParseTrustedProxies("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, proxy.Config{FailuresPerSecond: 0.001, FailureBurst: 3, TrustedProxies: trusted})
	try := func(peer, cf string, valid bool) int {
		t.Helper()
		req := httpRequestFrom(t, e, peer)
		if !valid {
			req.Header.Set("Authorization", "Bearer x.y.z")
		}
		if cf != "" {
			req.Header.Set("CF-Connecting-IP", cf)
		}
		rec := &statusRecorder{header: http.Header{}}
		e.p.ServeHTTP(rec, req)
		return rec.status
	}
	const lb = "10.0.0.1:443"
	steps := []struct {
		name, peer, cf string
		valid          bool
		want           int
	}{
		// Direct IPv6 peers: three addresses of one /64 share a budget.
		{"v6 1", "[2001:db8:1:2::1]:1000", "", false, 401},
		{"v6 2", "[2001:db8:1:2::2]:1000", "", false, 401},
		{"v6 3", "[2001:db8:1:2:ffff:ffff:ffff:ffff]:1000", "", false, 401},
		{"v6 same /64 blocked", "[2001:db8:1:2:abcd::9]:1000", "", true, 429},
		{"v6 next /64 not blocked", "[2001:db8:1:3::1]:1000", "", true, 200},
		// The same through a trusted proxy.
		{"cf v6 1", lb, "2001:db8:9:9::1", false, 401},
		{"cf v6 2", lb, "2001:db8:9:9::2", false, 401},
		{"cf v6 3", lb, "2001:db8:9:9::3", false, 401},
		{"cf v6 same /64 blocked", lb, "2001:db8:9:9:1:2:3:4", true, 429},
		{"cf v6 next /64 not blocked", lb, "2001:db8:9:a::1", true, 200},
		// IPv4 per address; the mapped spelling is the same address.
		{"v4 mapped 1", "[::ffff:192.0.2.1]:1000", "", false, 401},
		{"v4 2", "192.0.2.1:1000", "", false, 401},
		{"v4 mapped 3", "[::ffff:192.0.2.1]:1001", "", false, 401},
		{"v4 blocked", "192.0.2.1:1002", "", true, 429},
		{"v4 neighbour not blocked", "192.0.2.2:1000", "", true, 200},
	}
	for _, s := range steps {
		if got := try(s.peer, s.cf, s.valid); got != s.want {
			t.Fatalf("%s: %d, want %d", s.name, got, s.want)
		}
	}
}
