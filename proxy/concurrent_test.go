package proxy_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/qubital/office-router/proxy"
)

// TestConcurrentHandshakes: single use and the per-user cap hold when the handshakes race, in
// hub mode and in forward mode with identity headers (where the forwarder is the one store):
// twenty handshakes at once with one token open one socket, and twenty of one user with
// MaxConnsPerUser 2 open two.
func TestConcurrentHandshakes(t *testing.T) {
	for _, mode := range []string{"hub", "forward"} {
		t.Run(mode, func(t *testing.T) {
			cfg := proxy.Config{MaxConnsPerUser: 2}
			if mode == "forward" {
				cfg.Upstream = "ws" + strings.TrimPrefix(newEchoUpstream(t).srv.URL, "http")
			}
			e := newEnv(t, cfg)
			race := func(toks []string) map[int]int {
				var mu sync.Mutex
				var wg sync.WaitGroup
				got := map[int]int{}
				start := make(chan struct{})
				for _, tok := range toks {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						_, resp, _ := e.dialWith("acme", http.Header{"Authorization": {"Bearer " + tok}})
						mu.Lock()
						got[statusOf(resp)]++
						mu.Unlock()
					}()
				}
				close(start)
				wg.Wait()
				return got
			}
			one := e.token("alice", "acme", "member")
			same := make([]string, 20)
			for i := range same {
				same[i] = one
			}
			if got := race(same); got[101] != 1 || got[401] != 19 {
				t.Fatalf("one token, 20 handshakes at once: %v, want one 101 and 19 401", got)
			}
			distinct := make([]string, 20)
			for i := range distinct {
				distinct[i] = e.token("bob", "acme", "member")
			}
			if got := race(distinct); got[101] != 2 || got[429] != 18 {
				t.Fatalf("one user, 20 handshakes at once, cap 2: %v, want two 101 and 18 429", got)
			}
		})
	}
}
