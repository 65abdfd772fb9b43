package proxy_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/qubital/office-router/proxy"
)

func TestParseTrustedProxies(t *testing.T) {
	for _, c := range []struct {
		in      string
		want    int
		wantErr bool
	}{
		{"", 0, false},
		{" 10.0.0.0/8 , 2001:db8::/32,192.0.2.1", 3, false},
		{"10.0.0.0/8,", 1, false},
		{"10.0.0.0/33", 0, true},
		{"example.com", 0, true},
		{"10.0.0.0/8;192.0.2.0/24", 0, true},
	} {
		got, err := proxy.ParseTrustedProxies(c.in)
		if (err != nil) != c.wantErr || len(got) != c.want {
			t.Errorf("%q: %v %v, want %d prefixes, error %v", c.in, got, err, c.want, c.wantErr)
		}
	}
}

// TestTrustedProxiesForFailedHandshakes: behind a trusted proxy the limiter counts the address
// the proxy names, so one abusive client does not lock out the others behind it; a peer that
// is not trusted cannot choose its address with those headers (issue 13, item 4).
func TestTrustedProxiesForFailedHandshakes(t *testing.T) {
	trusted, err := proxy.ParseTrustedProxies("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, proxy.Config{FailuresPerSecond: 0.001, FailureBurst: 3, TrustedProxies: trusted})
	try := func(peer string, hdr map[string]string, valid bool) int {
		t.Helper()
		req := httpRequestFrom(t, e, peer)
		if !valid {
			req.Header.Set("Authorization", "Bearer x.y.z")
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		rec := &statusRecorder{header: http.Header{}}
		e.p.ServeHTTP(rec, req)
		return rec.status
	}
	const lb, lb2, stranger = "10.0.0.1:443", "10.1.2.3:443", "192.0.2.1:5555"
	cf := func(ip string) map[string]string { return map[string]string{"CF-Connecting-IP": ip} }

	steps := []struct {
		name  string
		peer  string
		hdr   map[string]string
		valid bool
		want  int
	}{
		// A flood from 203.0.113.7 through a trusted peer blocks that address only.
		{"abuser 1", lb, cf("203.0.113.7"), false, 401},
		{"abuser 2", lb, cf("203.0.113.7"), false, 401},
		{"abuser 3", lb, cf("203.0.113.7"), false, 401},
		{"abuser blocked", lb, cf("203.0.113.7"), true, 429},
		{"abuser blocked via another trusted peer", lb2, cf("203.0.113.7"), true, 429},
		{"neighbour behind the same peer", lb, cf("198.51.100.9"), true, 200},
		{"the peer's own address is not blocked", lb, nil, true, 200},
		// X-Forwarded-For: the right-most untrusted entry; what the client wrote to its left is ignored.
		{"xff 1", lb, map[string]string{"X-Forwarded-For": "1.1.1.1, 203.0.113.8, 10.0.0.9"}, false, 401},
		{"xff 2", lb, map[string]string{"X-Forwarded-For": "2.2.2.2, 203.0.113.8"}, false, 401},
		{"xff 3", lb, map[string]string{"X-Forwarded-For": "203.0.113.8"}, false, 401},
		{"xff spoofed left part does not escape", lb, map[string]string{"X-Forwarded-For": "3.3.3.3, 203.0.113.8, 10.0.0.9"}, true, 429},
		{"xff neighbour", lb, map[string]string{"X-Forwarded-For": "203.0.113.8, 198.51.100.10"}, true, 200},
		// A peer that is not trusted is counted as itself, whatever it claims.
		{"stranger 1", stranger, cf("198.51.100.9"), false, 401},
		{"stranger 2", stranger, map[string]string{"X-Forwarded-For": "198.51.100.9"}, false, 401},
		{"stranger 3", stranger, cf("198.51.100.11"), false, 401},
		{"stranger cannot escape with a new header", stranger, cf("198.51.100.12"), true, 429},
		{"stranger cannot escape with X-Forwarded-For", stranger, map[string]string{"X-Forwarded-For": "198.51.100.13"}, true, 429},
		{"stranger did not block whom it named", lb, cf("198.51.100.9"), true, 200},
	}
	for _, s := range steps {
		if got := try(s.peer, s.hdr, s.valid); got != s.want {
			t.Fatalf("%s: %d, want %d", s.name, got, s.want)
		}
	}
}

// TestTrustedProxiesMappedAndZoned: a TRUSTED_PROXIES entry written in IPv4-mapped IPv6 form
// (as some balancers log their addresses) trusts the IPv4 peers it names, and a zone on a
// forwarded IPv6 address does not make it a new address with a fresh failure budget.
func TestTrustedProxiesMappedAndZoned(t *testing.T) {
	for _, tc := range []struct {
		name, trusted string
		client        func(i int) string // the forwarded client address of the i-th request
		neighbour     string
		want          int // the neighbour's valid handshake after three failures of the client
		wantAbuser    int // the client's own valid handshake after its three failures
	}{
		{"IPv4-mapped CIDR", "::ffff:10.0.0.0/104", func(int) string { return "203.0.113.7" }, "198.51.100.9", 200, 429},
		{"IPv4-mapped address", "::ffff:10.0.0.1", func(int) string { return "203.0.113.7" }, "198.51.100.9", 200, 429},
		{"zones do not split an address", "10.0.0.0/8", func(i int) string { return "2001:db8::7%z" + strconv.Itoa(i) }, "2001:db8:0:1::9", 200, 429},
	} {
		t.Run(tc.name, func(t *testing.T) {
			trusted, err := proxy.ParseTrustedProxies(tc.trusted)
			if err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, proxy.Config{FailuresPerSecond: 0.001, FailureBurst: 3, TrustedProxies: trusted})
			try := func(client string, valid bool) int {
				req := httpRequestFrom(t, e, "10.0.0.1:443")
				if !valid {
					req.Header.Set("Authorization", "Bearer x.y.z")
				}
				req.Header.Set("CF-Connecting-IP", client)
				rec := &statusRecorder{header: http.Header{}}
				e.p.ServeHTTP(rec, req)
				return rec.status
			}
			for i := range 3 {
				if got := try(tc.client(i), false); got != 401 {
					t.Fatalf("failure %d: %d", i, got)
				}
			}
			if got := try(tc.client(3), true); got != tc.wantAbuser {
				t.Errorf("the client after its failures: %d, want %d", got, tc.wantAbuser)
			}
			if got := try(tc.neighbour, true); got != tc.want {
				t.Errorf("a neighbour behind the same trusted peer: %d, want %d", got, tc.want)
			}
		})
	}
}
