package proxy_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/qubital/office-router/contract"
	"github.com/qubital/office-router/proxy"
)

// TestBlockRacesHandshakes: handshakes of a user race a disconnect that blocks them. Each one is
// either refused with 403 revoked or gets a socket that the disconnect closes with 4003: no
// socket of the blocked user survives, and presence no longer lists them. The hub records the
// block before it lists the user's sockets and checks it in join under the hub's lock; a check
// outside that lock (or the block recorded after the listing) lets a socket slip between.
func TestBlockRacesHandshakes(t *testing.T) {
	e := newEnv(t, proxy.Config{MaxConnsPerUser: 1000})
	e.dialAs("bob", "acme", "member").next() // keeps the org's hub alive throughout
	const dialers, perDialer = 8, 6
	tokens := make([][]string, dialers)
	for i := range tokens {
		for range perDialer {
			tokens[i] = append(tokens[i], e.token("mallory", "acme", "member"))
		}
	}
	start := make(chan struct{})
	var mu sync.Mutex
	var opened []*wsClient
	var refused, others int
	var wg sync.WaitGroup
	for i := range dialers {
		wg.Go(func() {
			<-start
			for _, tok := range tokens[i] {
				c, resp, err := e.dialWith("acme", http.Header{"Authorization": {"Bearer " + tok}})
				mu.Lock()
				switch {
				case err == nil:
					opened = append(opened, c)
				case statusOf(resp) == http.StatusForbidden && errorOf(resp) == "revoked":
					refused++
				default:
					others++
				}
				mu.Unlock()
			}
		})
	}
	close(start)
	n := e.disconnect("acme", `{"userId":"mallory","code":4003,"blockSeconds":600}`)
	wg.Wait()
	if others != 0 {
		t.Fatalf("%d handshakes neither opened nor refused with revoked", others)
	}
	for _, c := range opened {
		if code, _ := c.closeCodeReason(); code != contract.CloseRevoked {
			t.Fatalf("a socket of the blocked user closed with %d, want %d", code, contract.CloseRevoked)
		}
	}
	if len(opened) > int(n) {
		t.Fatalf("%d sockets opened, the disconnect closed %v", len(opened), n)
	}
	for _, u := range e.presence("acme") {
		if u.(map[string]any)["userId"] == "mallory" {
			t.Fatalf("presence still lists the blocked user: %v", u)
		}
	}
	t.Logf("%d opened and closed, %d refused", len(opened), refused)
}

// TestBlockBeforeLimits: a blocked user's handshake is 403 revoked even when a cap is full, as
// docs/protocol.md orders the checks (jti, block, limits) and as the Worker's Durable Object
// answers; the hub reserved the cap slot first and answered 429 too_many_connections. The user
// cap is the common case: the disconnect's own closes count until their peers answer them.
func TestBlockBeforeLimits(t *testing.T) {
	for _, tc := range []struct {
		name, holder string // holder's socket fills the cap
		cfg          proxy.Config
	}{
		{"org cap full", "bob", proxy.Config{MaxConnsPerOrg: 1}},
		{"user cap full of sockets the disconnect is closing", "mallory", proxy.Config{MaxConnsPerUser: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.cfg)
			e.dialAs(tc.holder, "acme", "member").next() // never answers a close
			e.disconnect("acme", `{"userId":"mallory","code":4003,"blockSeconds":600}`)
			_, resp, err := e.dialWith("acme", http.Header{"Authorization": {"Bearer " + e.token("mallory", "acme", "member")}})
			if err == nil || statusOf(resp) != http.StatusForbidden || errorOf(resp) != "revoked" {
				t.Fatalf("blocked user with the cap full: %v %d %s, want 403 revoked", err, statusOf(resp), errorOf(resp))
			}
		})
	}
}
