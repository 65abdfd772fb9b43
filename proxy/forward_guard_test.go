package proxy_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/qubital/office-router/proxy"
)

// TestForwardKeepsHubGuarantees: a forwarder admits sockets under the hub's rules. With
// identity headers it spends the jti itself (the upstream never sees the token); with
// ForwardToken it leaves the jti to the upstream. Caps and the message rate limit hold in both.
func TestForwardKeepsHubGuarantees(t *testing.T) {
	for _, tc := range []struct {
		name         string
		forwardToken bool
		wantJTIs     int // jtis the forwarder remembers after one socket
	}{
		{"identity headers", false, 1},
		{"forward token", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newEchoUpstream(t)
			fw := newEnv(t, proxy.Config{
				Upstream: "ws" + strings.TrimPrefix(up.srv.URL, "http"), ForwardToken: tc.forwardToken,
				MaxConnsPerUser: 2, MaxConnsPerOrg: 3, MessageBurst: 5, MessagesPerSecond: 0.001,
			})
			auth := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

			tok := fw.token("alice", "acme", "member")
			if _, resp, err := fw.dialWith("acme", auth(tok)); err != nil {
				t.Fatalf("first socket: %v %d", err, statusOf(resp))
			}
			if got := fw.p.Stats().ReplayJTIs; got != tc.wantJTIs {
				t.Fatalf("forwarder remembers %d jtis, want %d", got, tc.wantJTIs)
			}
			_, resp, err := fw.dialWith("acme", auth(tok))
			if tc.forwardToken {
				if err != nil { // the echo upstream does not check tokens: the forwarder let it judge
					t.Fatalf("forward token: the forwarder judged the replay itself: %v %d", err, statusOf(resp))
				}
			} else {
				if err == nil || statusOf(resp) != http.StatusUnauthorized {
					t.Fatalf("replayed token through the forwarder: %v %d", err, statusOf(resp))
				}
				if status, _, m := fw.get("/orgs/acme/ws", auth(tok)); status != 401 || m["error"] != "replayed" {
					t.Fatalf("pre-flight of a spent token: %d %v", status, m)
				}
				fw.dial("alice", "acme") // alice's second socket, with a fresh token
			}

			// alice has 2 sockets: the third is refused, before the upstream is dialled.
			if _, resp, err := fw.dialWith("acme", auth(fw.token("alice", "acme", "member"))); err == nil || statusOf(resp) != 429 {
				t.Fatalf("third socket of one user: %v %d, want 429", err, statusOf(resp))
			}
			// The org has room for one more socket, not two.
			bob := fw.dial("bob", "acme")
			if _, resp, err := fw.dialWith("acme", auth(fw.token("carol", "acme", "member"))); err == nil || statusOf(resp) != 429 {
				t.Fatalf("socket over the org cap: %v %d, want 429", err, statusOf(resp))
			}
			if got := fw.p.Stats().Connections; got != 3 {
				t.Fatalf("forwarder counts %d connections, want 3", got)
			}

			// A flood closes the client with 1008; at most the burst reaches the upstream (and
			// comes back as echoes).
			echoes := 0
			for i := 0; i < 400; i++ {
				if bob.conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"broadcast","data":1}`)) != nil {
					break
				}
			}
			code := 0
			_ = bob.conn.SetReadDeadline(time.Now().Add(10 * time.Second)) // a missing close fails, not hangs
			for code == 0 {
				_, _, err := bob.conn.ReadMessage()
				if err == nil {
					echoes++
					continue
				}
				var ce *websocket.CloseError
				if !errors.As(err, &ce) {
					t.Fatalf("no close frame after a flood: %v", err)
				}
				code = ce.Code
			}
			if code != proxy.ClosePolicy || echoes > 5 {
				t.Fatalf("flood: close %d after %d relayed messages, want 1008 after at most 5", code, echoes)
			}
		})
	}
}

// TestForwardTokenPreflight: with ForwardToken the pre-flight is answered by the upstream, which
// must get the token wherever the client put it. A browser can only offer it in the subprotocol
// list; the upstream then saw no Authorization and answered missing_token, while the Worker and
// the hub answer 200 to the same request.
func TestForwardTokenPreflight(t *testing.T) {
	hub := newEnv(t, proxy.Config{}) // the upstream: a real router that checks the token
	fw := newEnv(t, proxy.Config{Upstream: hub.wsURL, ForwardToken: true})
	for _, tc := range []struct {
		name string
		hdr  func(tok string) http.Header
	}{
		{"Authorization", func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }},
		{"subprotocol", func(tok string) http.Header {
			return http.Header{"Sec-Websocket-Protocol": {"office-router.v1, bearer." + tok}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := fw.token("alice", "acme", "member")
			if status, _, m := fw.get("/orgs/acme/ws", tc.hdr(tok)); status != 200 || m["userId"] != "alice" {
				t.Fatalf("pre-flight through the forwarder: %d %v, want 200 as on the upstream", status, m)
			}
		})
	}
}
