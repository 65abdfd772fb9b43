package proxy_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/qubital/office-router/internal/vectors"
	"github.com/qubital/office-router/proxy"
	"github.com/qubital/office-router/verifier"
)

func TestHandshakeRejections(t *testing.T) {
	e := newEnv(t, proxy.Config{AllowedOrigins: []string{"https://app.test"}, FailureBurst: 1000})
	_, foreign := keys(t)
	fm, _ := newMinterFor(t, foreign)
	valid := func() string { return "Bearer " + e.token("alice", "acme", "member") }
	publish, _ := e.minter.MintPublish("acme", "backend")
	tests := []struct {
		name       string
		method     string
		path       string
		hdr        map[string]string
		wantStatus int
		wantCode   string
	}{
		{"unknown route", "GET", "/nope", nil, 404, "not_found"},
		{"org outside the ID format", "GET", "/orgs/a.b/ws", nil, 404, "not_found"},
		{"no token", "GET", "/orgs/acme/ws", nil, 401, "missing_token"},
		{"basic auth", "GET", "/orgs/acme/ws", map[string]string{"Authorization": "Basic x"}, 401, "malformed"},
		{"garbage token", "GET", "/orgs/acme/ws", map[string]string{"Authorization": "Bearer a.b.c"}, 401, "malformed"},
		{"foreign key", "GET", "/orgs/acme/ws", map[string]string{"Authorization": "Bearer " + fm}, 401, "unknown_kid"},
		{"publish token opens no socket", "GET", "/orgs/acme/ws", map[string]string{"Authorization": "Bearer " + publish.Token}, 401, "wrong_scope"},
		{"org mismatch", "GET", "/orgs/other/ws", map[string]string{"Authorization": valid()}, 403, "org_mismatch"},
		{"origin not allowed", "GET", "/orgs/acme/ws", map[string]string{"Authorization": valid(), "Origin": "https://evil.test"}, 403, "origin_not_allowed"},
		{"origin look-alike", "GET", "/orgs/acme/ws", map[string]string{"Authorization": valid(), "Origin": "https://app.test.evil.test"}, 403, "origin_not_allowed"},
		{"origin other scheme", "GET", "/orgs/acme/ws", map[string]string{"Authorization": valid(), "Origin": "http://app.test"}, 403, "origin_not_allowed"},
		{"origin null", "GET", "/orgs/acme/ws", map[string]string{"Authorization": valid(), "Origin": "null"}, 403, "origin_not_allowed"},
		{"POST pre-flight", "POST", "/orgs/acme/ws", map[string]string{"Authorization": valid()}, 405, "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, upgrade := range []bool{false, true} {
				hdr := http.Header{}
				if upgrade {
					if tt.method != "GET" {
						continue
					}
					hdr = upgradeHeader(nil)
				}
				for k, v := range tt.hdr {
					hdr.Set(k, v)
				}
				status, _, body := e.do(tt.method, tt.path, hdr, "")
				if status != tt.wantStatus || body["error"] != tt.wantCode {
					t.Fatalf("upgrade=%v: got %d %v, want %d %s", upgrade, status, body, tt.wantStatus, tt.wantCode)
				}
			}
		})
	}
	upgradeCases := []struct {
		name       string
		hdr        map[string]string
		wantStatus int
		wantCode   string
	}{
		{"websocket version 8", map[string]string{"Sec-WebSocket-Version": "8"}, 426, "unsupported_websocket_version"},
		{"short key", map[string]string{"Sec-WebSocket-Key": "abc"}, 400, "bad_handshake"},
		{"no Connection: upgrade", map[string]string{"Connection": "keep-alive"}, 400, "bad_handshake"},
	}
	for _, tt := range upgradeCases {
		t.Run(tt.name, func(t *testing.T) {
			hdr := upgradeHeader(tt.hdr)
			hdr.Set("Authorization", valid())
			status, h, body := e.do("GET", "/orgs/acme/ws", hdr, "")
			if status != tt.wantStatus || body["error"] != tt.wantCode {
				t.Fatalf("got %d %v", status, body)
			}
			if status == 426 && h.Get("Sec-WebSocket-Version") != "13" {
				t.Fatal("426 without Sec-WebSocket-Version: 13")
			}
		})
	}
}

func TestPreflightAndReplay(t *testing.T) {
	e := newEnv(t, proxy.Config{AllowedOrigins: []string{"https://app.test"}})
	tok := e.token("carol", "acme", "admin")
	status, h, body := e.get("/orgs/acme/ws", http.Header{"Authorization": {"Bearer " + tok}, "Origin": {"https://app.test"}})
	if status != 200 || body["ok"] != true || body["userId"] != "carol" || body["role"] != "admin" || h.Get("Access-Control-Allow-Origin") != "https://app.test" {
		t.Fatalf("pre-flight: %d %v %v", status, body, h)
	}
	// The pre-flight did not consume the jti: the socket opens, once.
	c, _, err := e.dialWith("acme", http.Header{"Sec-WebSocket-Protocol": {"office-router.v1, bearer." + tok}})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.resp.Header.Get("Sec-WebSocket-Protocol"); got != "office-router.v1" {
		t.Fatalf("selected subprotocol %q", got)
	}
	if w := c.next(); w["type"] != "welcome" || w["userId"] != "carol" {
		t.Fatalf("welcome %v", w)
	}
	_, resp, err := e.dialWith("acme", http.Header{"Authorization": {"Bearer " + tok}})
	if err == nil || statusOf(resp) != 401 {
		t.Fatalf("replay accepted: %v %d", err, statusOf(resp))
	}
	// The pre-flight now explains the refusal.
	if status, _, body := e.get("/orgs/acme/ws", http.Header{"Authorization": {"Bearer " + tok}}); status != 401 || body["error"] != "replayed" {
		t.Fatalf("pre-flight after use: %d %v", status, body)
	}
	status, _, _ = e.do("OPTIONS", "/orgs/acme/ws", http.Header{"Origin": {"https://app.test"}, "Access-Control-Request-Method": {"GET"}}, "")
	if status != 204 {
		t.Fatalf("CORS pre-flight %d", status)
	}
}

func TestConnectionLimits(t *testing.T) {
	e := newEnv(t, proxy.Config{MaxConnsPerUser: 2, MaxConnsPerOrg: 3})
	e.dial("u1", "acme")
	e.dial("u1", "acme")
	if _, resp, err := e.dialWith("acme", http.Header{"Authorization": {"Bearer " + e.token("u1", "acme", "member")}}); err == nil || statusOf(resp) != 429 {
		t.Fatalf("third connection of a user: %v %d", err, statusOf(resp))
	}
	e.dial("u2", "acme")
	if _, resp, err := e.dialWith("acme", http.Header{"Authorization": {"Bearer " + e.token("u3", "acme", "member")}}); err == nil || statusOf(resp) != 429 {
		t.Fatalf("fourth connection of an org: %d", statusOf(resp))
	}
	e.dial("u3", "other") // other orgs are not affected
}

// TestFailedHandshakeRateLimit: an address that keeps failing gets 429 with Retry-After, while
// another address, and successful handshakes, are unaffected.
func TestFailedHandshakeRateLimit(t *testing.T) {
	e := newEnv(t, proxy.Config{FailuresPerSecond: 0.01, FailureBurst: 3})
	bad := http.Header{"Authorization": {"Bearer x.y.z"}}
	for i := range 3 {
		if status, _, _ := e.get("/orgs/acme/ws", bad); status != 401 {
			t.Fatalf("failure %d: %d", i, status)
		}
	}
	status, h, body := e.get("/orgs/acme/ws", http.Header{"Authorization": {"Bearer " + e.token("a", "acme", "member")}})
	if status != 429 || body["error"] != "rate_limited" || h.Get("Retry-After") == "" {
		t.Fatalf("after the burst: %d %v retry-after %q", status, body, h.Get("Retry-After"))
	}
	// A different client address is not limited.
	req := httpRequestFrom(t, e, "10.9.8.7:1234")
	rec := &statusRecorder{header: http.Header{}}
	e.p.ServeHTTP(rec, req)
	if rec.status != 200 {
		t.Fatalf("other address: %d", rec.status)
	}
}

// TestVectorsThroughProxy runs every shared vector through the proxy's handshake path (the
// pre-flight, which runs the full check without consuming the jti).
func TestVectorsThroughProxy(t *testing.T) {
	f, err := vectors.Load("../testdata/vectors/handshake.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range f.Cases {
		if c.Kind != "handshake" {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			now := time.Unix(c.Now, 0)
			v, err := verifier.New(verifier.Config{PublicKeysPEM: f.Config.PublicKeys, Issuer: f.Config.Issuer, Audience: f.Config.Audience,
				Leeway: time.Duration(f.Config.LeewaySeconds) * time.Second}, verifier.WithClock(func() time.Time { return now }))
			if err != nil {
				t.Fatal(err)
			}
			p, err := proxy.New(proxy.Config{FailureBurst: 1000}, v)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Shutdown(t.Context())
			org := "org_01"
			if c.Identity != nil {
				org = c.Identity.OrgID
			}
			req, _ := http.NewRequestWithContext(t.Context(), "GET", "/orgs/"+org+"/ws", nil)
			req.RemoteAddr = "127.0.0.1:1"
			if c.Token != "" {
				req.Header.Set("Authorization", "Bearer "+c.Token)
			}
			rec := &statusRecorder{header: http.Header{}}
			p.ServeHTTP(rec, req)
			got := "ok"
			if rec.status != 200 {
				got = rec.errorCode()
			}
			if got != c.Want {
				t.Fatalf("got %q (%d), want %q", got, rec.status, c.Want)
			}
		})
	}
}

func TestNewConfigErrors(t *testing.T) {
	v := newVerifier(t)
	for _, cfg := range []proxy.Config{
		{Upstream: "http://x"}, {Upstream: "ws://x/path"}, {AllowedOrigins: []string{"app.test"}},
	} {
		if p, err := proxy.New(cfg, v); err == nil {
			_ = p.Shutdown(t.Context())
			t.Fatalf("accepted %+v", cfg)
		}
	}
	if _, err := proxy.New(proxy.Config{}, nil); err == nil {
		t.Fatal("nil verifier accepted")
	}
}

func TestSubprotocolAbuse(t *testing.T) {
	e := newEnv(t, proxy.Config{FailureBurst: 1000})
	many := strings.Repeat("x, ", 300) + "office-router.v1, bearer." + e.token("a", "acme", "member")
	status, _, body := e.get("/orgs/acme/ws", upgradeHeader(map[string]string{"Sec-WebSocket-Protocol": many}))
	if status != 401 || body["error"] != "malformed" {
		t.Fatalf("hundreds of subprotocols: %d %v", status, body)
	}
	huge := "Bearer " + strings.Repeat("a", 5000)
	if status, _, body := e.get("/orgs/acme/ws", http.Header{"Authorization": {huge}}); status != 401 || body["error"] != "token_too_large" {
		t.Fatalf("5 KB token: %d %v", status, body)
	}
}
