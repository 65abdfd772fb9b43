package proxy_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/qubital/office-router/contract"
	"github.com/qubital/office-router/internal/vectors"
	"github.com/qubital/office-router/proxy"
)

// service mints a single-use service token for org with scope (a scope list).
func (e *env) service(org, scope string) http.Header {
	e.t.Helper()
	tok, err := e.minter.MintService(org, "backend", strings.Fields(scope)...)
	if err != nil {
		e.t.Fatal(err)
	}
	return http.Header{"Authorization": {"Bearer " + tok.Token}}
}

func (e *env) presence(org string) []any {
	e.t.Helper()
	status, hdr, m := e.get("/orgs/"+org+"/presence", e.service(org, "presence"))
	if status != 200 || hdr.Get("Cache-Control") != "no-store" {
		e.t.Fatalf("presence: %d %v (Cache-Control %q)", status, m, hdr.Get("Cache-Control"))
	}
	users, ok := m["users"].([]any)
	if !ok || len(m) != 1 {
		e.t.Fatalf("presence answer %v", m)
	}
	return users
}

func (e *env) disconnect(org, body string) float64 {
	e.t.Helper()
	status, _, m := e.do(http.MethodPost, "/orgs/"+org+"/disconnect", e.service(org, "disconnect"), body)
	if status != 200 || len(m) != 1 {
		e.t.Fatalf("disconnect %s: %d %v", body, status, m)
	}
	return m["disconnected"].(float64)
}

func (e *env) dialAs(user, org, role string) *wsClient {
	e.t.Helper()
	c, resp, err := e.dialWith(org, http.Header{"Authorization": {"Bearer " + e.token(user, org, role)}})
	if err != nil {
		e.t.Fatalf("dial %s/%s: %v (status %v)", org, user, err, statusOf(resp))
	}
	return c
}

// TestPresenceIsTheWelcomeRoster: GET presence lists who is online exactly as a new socket's
// welcome does (sorted by userId, the role of the user's oldest socket), with connection counts,
// across joins and leaves.
func TestPresenceIsTheWelcomeRoster(t *testing.T) {
	e := newEnv(t, proxy.Config{})
	if got := e.presence("acme"); len(got) != 0 {
		t.Fatalf("empty org: %v", got)
	}
	watcher := e.dialAs("zed", "acme", "member")
	watcher.next() // welcome
	bob := e.dialAs("bob", "acme", "member")
	watcher.next() // join bob
	alice1 := e.dialAs("alice", "acme", "admin")
	watcher.next() // join alice
	e.dialAs("alice", "acme", "member")
	e.dialAs("carol", "other", "member")
	want := []any{
		map[string]any{"userId": "alice", "role": "admin", "connections": 2.0},
		map[string]any{"userId": "bob", "role": "member", "connections": 1.0},
		map[string]any{"userId": "zed", "role": "member", "connections": 1.0},
	}
	if got := e.presence("acme"); !reflect.DeepEqual(got, want) {
		t.Fatalf("presence %v\nwant %v", got, want)
	}
	welcome := e.dialAs("yan", "acme", "member").next()
	roster := welcome["presence"].([]any)
	if len(roster) != 4 {
		t.Fatalf("welcome roster %v", roster)
	}
	got := e.presence("acme")
	for i, u := range got {
		u := u.(map[string]any)
		w := roster[i].(map[string]any)
		if u["userId"] != w["userId"] || u["role"] != w["role"] {
			t.Fatalf("presence %v differs from the welcome's %v", got, roster)
		}
	}
	watcher.next() // join yan
	// The oldest socket leaves: alice stays, with the role of the socket she has left.
	alice1.leave()
	bob.leave()
	want = []any{
		map[string]any{"userId": "alice", "role": "member", "connections": 1.0},
		map[string]any{"userId": "yan", "role": "member", "connections": 1.0},
		map[string]any{"userId": "zed", "role": "member", "connections": 1.0},
	}
	if got := e.presence("acme"); !reflect.DeepEqual(got, want) {
		t.Fatalf("after leaves %v\nwant %v", got, want)
	}
}

// leave closes the socket and returns once the server has removed it from its hub: the server
// answers the close frame, leaves the hub, then closes the TCP connection once the client has
// half-closed its side (client.linger), so reading to EOF comes after the leave.
func (c *wsClient) leave() {
	c.t.Helper()
	_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := c.conn.ReadMessage(); err != nil {
			break
		}
	}
	nc := c.conn.NetConn()
	_ = nc.(*net.TCPConn).CloseWrite()
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, nc); err != nil {
		c.t.Fatalf("the server did not close the connection: %v", err)
	}
}

// TestServiceScopes: each service route takes a token whose scope list names it, and refuses
// every other token with its reason, before reading a body; every token is single-use.
func TestServiceScopes(t *testing.T) {
	e := newEnv(t, proxy.Config{})
	routes := []struct{ method, route, body string }{
		{http.MethodPost, "publish", `{"data":1}`},
		{http.MethodGet, "presence", ""},
		{http.MethodPost, "disconnect", `{"userId":"nobody","code":4001}`},
	}
	for _, rt := range routes {
		t.Run(rt.route, func(t *testing.T) {
			path := "/orgs/acme/" + rt.route
			bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
			reused := e.service("acme", rt.route)
			if status, _, m := e.do(rt.method, path, reused, rt.body); status != 200 {
				t.Fatalf("own scope: %d %v", status, m)
			}
			tests := []struct {
				name       string
				hdr        http.Header
				wantStatus int
				wantReason string
			}{
				{"scope list naming the route", e.service("acme", "publish presence disconnect"), 200, ""},
				{"unknown names and duplicates", e.service("acme", "future "+rt.route+" "+rt.route), 200, ""},
				{"other routes only", e.service("acme", otherScopes(rt.route)), 401, "wrong_scope"},
				{"handshake token", bearer(e.token("alice", "acme", "admin")), 401, "wrong_scope"},
				{"other org", e.service("other", rt.route), 403, "org_mismatch"},
				{"replayed", reused, 401, "replayed"},
				{"no token", http.Header{}, 401, "missing_token"},
			}
			for _, tt := range tests {
				status, _, m := e.do(rt.method, path, tt.hdr, rt.body)
				if status != tt.wantStatus || (tt.wantReason != "" && m["error"] != tt.wantReason) {
					t.Errorf("%s: %d %v, want %d %s", tt.name, status, m, tt.wantStatus, tt.wantReason)
				}
			}
		})
	}
	for _, tt := range []struct{ method, path, allow string }{
		{http.MethodPost, "/orgs/acme/presence", "GET"},
		{http.MethodHead, "/orgs/acme/presence", "GET"},
		{http.MethodGet, "/orgs/acme/disconnect", "POST"},
		{http.MethodPut, "/orgs/acme/disconnect", "POST"},
	} {
		status, hdr, _ := e.do(tt.method, tt.path, e.service("acme", "presence disconnect"), "")
		if status != 405 || hdr.Get("Allow") != tt.allow {
			t.Errorf("%s %s: %d Allow %q, want 405 Allow %s", tt.method, tt.path, status, hdr.Get("Allow"), tt.allow)
		}
	}
}

func otherScopes(route string) string {
	var out []string
	for _, s := range []string{contract.ScopePublish, contract.ScopePresence, contract.ScopeDisconnect} {
		if s != route {
			out = append(out, s)
		}
	}
	return strings.Join(out, " ")
}

// TestDisconnectClosesOnlyThatUserInThatOrg: every socket of the user in the org gets the code
// and its reason; the user's sockets in other orgs and the other users' sockets stay open.
func TestDisconnectClosesOnlyThatUserInThatOrg(t *testing.T) {
	for _, code := range []int{contract.CloseReauthRequired, contract.CloseRevoked} {
		t.Run(contract.CloseReason(code), func(t *testing.T) {
			e := newEnv(t, proxy.Config{})
			a1, a2 := e.dialAs("alice", "acme", "admin"), e.dialAs("alice", "acme", "admin")
			elsewhere, bob := e.dialAs("alice", "other", "admin"), e.dialAs("bob", "acme", "member")
			for _, c := range []*wsClient{a1, a2, elsewhere, bob} {
				c.next() // welcome
			}
			if n := e.disconnect("acme", `{"userId":"alice","code":`+strconv.Itoa(code)+`}`); n != 2 {
				t.Fatalf("disconnected %v, want 2", n)
			}
			// They leave the roster with the answer, not when their peers finish the close.
			if got, want := e.presence("acme"), []any{map[string]any{"userId": "bob", "role": "member", "connections": 1.0}}; !reflect.DeepEqual(got, want) {
				t.Fatalf("presence right after the disconnect %v, want %v", got, want)
			}
			for _, c := range []*wsClient{a1, a2} {
				if got, reason := c.closeCodeReason(); got != code || reason != contract.CloseReason(code) {
					t.Fatalf("close %d %q, want %d %q", got, reason, code, contract.CloseReason(code))
				}
			}
			// Still open: each gets an event published after the disconnect.
			for _, org := range []string{"acme", "other"} {
				if status, _, m := e.do(http.MethodPost, "/orgs/"+org+"/publish", e.service(org, "publish"), `{"data":"after"}`); status != 200 {
					t.Fatalf("publish: %d %v", status, m)
				}
			}
			for _, c := range []*wsClient{elsewhere, bob} {
				for {
					m := c.next()
					if m["type"] == "event" {
						break
					}
				}
			}
			// A 4001 blocks nothing: alice reconnects at once with a fresh token.
			if code == contract.CloseReauthRequired {
				e.dialAs("alice", "acme", "member").next()
			}
		})
	}
}

// fakeClock is a clock a test steps (newEnvAt).
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// TestBlockRefusesUntilExpiry: after a disconnect with blockSeconds, the user's handshakes in
// that org get 403 revoked (the token spent first, so its replay is `replayed`), the pre-flight
// says revoked too, other users and orgs are unaffected, the block outlives the org's hub, a
// later shorter block does not shorten it, and at expiry the user connects.
func TestBlockRefusesUntilExpiry(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	e := newEnvAt(t, proxy.Config{}, clock.Now)
	a := e.dialAs("alice", "acme", "admin")
	a.next()
	if n := e.disconnect("acme", `{"userId":"alice","code":4003,"blockSeconds":100}`); n != 1 {
		t.Fatalf("disconnected %v", n)
	}
	if code, _ := a.closeCodeReason(); code != contract.CloseRevoked {
		t.Fatalf("close %d", code)
	}
	a.leave()
	if s := e.p.Stats(); s.Hubs != 0 {
		t.Fatalf("the org's hub should be gone, %+v", s)
	}
	// A shorter block later never shortens the first.
	if n := e.disconnect("acme", `{"userId":"alice","code":4001,"blockSeconds":10}`); n != 0 {
		t.Fatalf("disconnected %v", n)
	}
	refused := func(when string) {
		t.Helper()
		tok := e.token("alice", "acme", "admin")
		hdr := func() http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
		if status, _, m := e.get("/orgs/acme/ws", hdr()); status != 403 || m["error"] != "revoked" {
			t.Fatalf("%s: pre-flight %d %v, want 403 revoked", when, status, m)
		}
		_, resp, err := e.dialWith("acme", hdr())
		if err == nil || statusOf(resp) != 403 || errorOf(resp) != "revoked" {
			t.Fatalf("%s: handshake %v %d, want 403 revoked", when, err, statusOf(resp))
		}
		if _, resp, _ := e.dialWith("acme", hdr()); statusOf(resp) != 401 || errorOf(resp) != "replayed" {
			t.Fatalf("%s: the refused token again: %d, want 401 replayed", when, statusOf(resp))
		}
		// The browser's way to learn why its upgrade failed: the pre-flight with the spent token.
		if status, _, m := e.get("/orgs/acme/ws", hdr()); status != 403 || m["error"] != "revoked" {
			t.Fatalf("%s: pre-flight of the spent token %d %v, want 403 revoked", when, status, m)
		}
	}
	refused("at once")
	e.dialAs("bob", "acme", "member").next()
	e.dialAs("alice", "other", "admin").next()
	clock.advance(99 * time.Second)
	refused("after 99 s of 100")
	clock.advance(time.Second)
	e.dialAs("alice", "acme", "admin").next()
}

func errorOf(resp *http.Response) string {
	if resp == nil {
		return ""
	}
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	s, _ := m["error"].(string)
	return s
}

// TestDisconnectVectors runs every shared disconnect body (testdata/vectors/disconnect.json)
// through the hub and through a forwarder in front of a hub: the answer, and which sockets are
// closed with which code. Through the forwarder the upstream closes its side and the relay must
// pass 4001/4003 on unchanged.
func TestDisconnectVectors(t *testing.T) {
	vf, err := vectors.LoadDisconnect("../testdata/vectors/disconnect.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"hub", "forward"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, proxy.Config{})
			edge := e
			if mode == "forward" {
				edge = newEnv(t, proxy.Config{Upstream: e.wsURL, ForwardToken: true})
			}
			online := map[string]*wsClient{}
			open := func() {
				for _, u := range vf.Online {
					if online[u] == nil {
						online[u] = edge.dialAs(u, vf.Org, "member")
						online[u].next() // welcome; the others' join events are read by drain
					}
				}
			}
			sentinel := 0
			// drain reads every open socket up to a fresh sentinel event.
			drain := func() {
				t.Helper()
				sentinel++
				body := `{"data":` + strconv.Itoa(sentinel) + `}`
				if status, _, m := edge.do(http.MethodPost, "/orgs/"+vf.Org+"/publish", edge.service(vf.Org, "publish"), body); status != 200 {
					t.Fatalf("sentinel publish: %d %v", status, m)
				}
				for u, c := range online {
					for {
						m := c.next()
						if m["type"] == "event" && m["data"] == float64(sentinel) {
							break
						}
						if _, raw := m["raw"]; raw {
							t.Fatalf("%s: %v", u, m)
						}
					}
				}
			}
			for _, c := range vf.Cases {
				open()
				drain()
				b, err := c.Bytes()
				if err != nil {
					t.Fatal(err)
				}
				status, _, m := edge.do(http.MethodPost, "/orgs/"+vf.Org+"/disconnect", edge.service(vf.Org, "disconnect"), string(b))
				if status != c.Want.Status {
					t.Fatalf("%s: %d %v, want %d", c.Name, status, m, c.Want.Status)
				}
				if status != 200 {
					if m["error"] != c.Want.Error || len(m) != 1 {
						t.Fatalf("%s: %v, want error %s", c.Name, m, c.Want.Error)
					}
					continue
				}
				if m["disconnected"] != float64(c.Want.Disconnected) || len(m) != 1 {
					t.Fatalf("%s: %v, want disconnected %d", c.Name, m, c.Want.Disconnected)
				}
				if cl := online[c.Want.UserID]; cl != nil {
					if code, reason := cl.closeCodeReason(); code != c.Want.Code || reason != contract.CloseReason(code) {
						t.Fatalf("%s: close %d %q, want %d", c.Name, code, reason, c.Want.Code)
					}
					delete(online, c.Want.UserID)
				}
			}
			open() // none of the cases blocked an online user
			drain()
		})
	}
}

// TestMaxSessionCloses4001: with MaxSessionSeconds a socket is closed with 4001 reauth_required
// between 0.9 and 1.1 times the limit after it opened; its client reconnects at once.
func TestMaxSessionCloses4001(t *testing.T) {
	e := newEnv(t, proxy.Config{MaxSessionSeconds: 1})
	start := time.Now()
	c := e.dialAs("alice", "acme", "member")
	code, reason := c.closeCodeReason()
	took := time.Since(start)
	if code != contract.CloseReauthRequired || reason != "reauth_required" {
		t.Fatalf("close %d %q, want 4001 reauth_required", code, reason)
	}
	// The lower bound is the jitter's (no socket is closed early); the upper one leaves room for
	// the handshake and a loaded machine, and is far below a missing close's 10 s read deadline.
	if took < 900*time.Millisecond || took > 5*time.Second {
		t.Fatalf("closed after %v, want 0.9-1.1 s", took)
	}
	again := e.dialAs("alice", "acme", "member") // reconnects at once
	again.next()
	// A socket that leaves before its deadline takes its timer with it.
	early := e.dialAs("bob", "acme", "member")
	early.next()
	if n := e.p.Stats().SessionTimers; n != 2 {
		t.Fatalf("%d session timers with alice and bob open, want 2", n)
	}
	early.leave()
	c.leave()
	if n := e.p.Stats().SessionTimers; n != 1 {
		t.Fatalf("%d session timers, want 1 (the reconnected alice's)", n)
	}
}

func TestMaxSessionConfig(t *testing.T) {
	v := newVerifier(t)
	for _, tt := range []struct {
		name    string
		cfg     proxy.Config
		wantErr bool
	}{
		{"off", proxy.Config{}, false},
		{"a day", proxy.Config{MaxSessionSeconds: proxy.MaxSessionSecondsLimit}, false},
		{"over a day", proxy.Config{MaxSessionSeconds: proxy.MaxSessionSecondsLimit + 1}, true},
		{"negative", proxy.Config{MaxSessionSeconds: -1}, true},
		{"forward mode", proxy.Config{MaxSessionSeconds: 3600, Upstream: "ws://127.0.0.1:1"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := proxy.New(tt.cfg, v)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if p != nil {
				_ = p.Shutdown(t.Context())
			}
		})
	}
}

// TestForwardRelaysAnswersWholeOrNotAtAll: a forwarded service answer (a large org's presence
// roster) is relayed whole, or refused as upstream_unavailable when it is over the bound; never
// cut into invalid JSON with a 200.
func TestForwardRelaysAnswersWholeOrNotAtAll(t *testing.T) {
	var size atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		size := int(size.Load())
		users := make([]map[string]any, 0, size/100)
		for i := 0; len(users) < size/100; i++ {
			users = append(users, map[string]any{"userId": fmt.Sprintf("user-%066d", i), "role": "member", "connections": 1})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"users": users})
	}))
	t.Cleanup(up.Close)
	fw := newEnv(t, proxy.Config{Upstream: "ws" + strings.TrimPrefix(up.URL, "http"), ForwardToken: true})
	for _, tc := range []struct {
		name       string
		size       int
		wantStatus int
	}{
		{"3 MB roster", 3 << 20, 200},
		{"5 MB roster", 5 << 20, 502},
	} {
		size.Store(int64(tc.size))
		status, _, m := fw.get("/orgs/acme/presence", fw.service("acme", "presence"))
		if status != tc.wantStatus {
			t.Fatalf("%s: %d", tc.name, status)
		}
		if users, _ := m["users"].([]any); status == 200 && len(users) != tc.size/100 {
			t.Fatalf("%s: %d users relayed, want %d", tc.name, len(users), tc.size/100)
		}
		if status == 502 && m["error"] != "upstream_unavailable" {
			t.Fatalf("%s: %v", tc.name, m)
		}
	}
}
