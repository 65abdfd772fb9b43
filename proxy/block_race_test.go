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
