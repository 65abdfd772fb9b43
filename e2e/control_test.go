package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/qubital/office-router/contract"
	"github.com/qubital/office-router/internal/harness"
	"github.com/qubital/office-router/internal/stack"
	"github.com/qubital/office-router/internal/vectors"
	"github.com/qubital/office-router/issuer"
)

// The backend's control routes (issue 16) against the Worker under wrangler dev, the Go proxy in
// hub mode and the Go proxy forwarding to the Worker: the same cases, the same answers.

// controlRouters is the shared stack's routers (a function: TestMain sets their URLs).
func controlRouters() []struct{ name, url string } {
	return []struct{ name, url string }{{"worker", workerURL}, {"proxy-hub", hubURL}, {"proxy-forward", fwdURL}}
}

// ctl is one router under test, with a minter of the dev key.
type ctl struct {
	t      *testing.T
	router string
	m      *issuer.Minter
}

func newCtl(t *testing.T, router string) *ctl {
	m, err := issuer.NewMinter(devKey, jwtIssuer, jwtAudience, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &ctl{t: t, router: router, m: m}
}

func (c *ctl) handshake(user, org, role string) string {
	c.t.Helper()
	tok, err := c.m.MintHandshake(issuer.Identity{UserID: user, OrgID: org, Role: role})
	if err != nil {
		c.t.Fatal(err)
	}
	return tok.Token
}

func (c *ctl) service(org string, scopes ...string) string {
	c.t.Helper()
	tok, err := c.m.MintService(org, "e2e-backend", scopes...)
	if err != nil {
		c.t.Fatal(err)
	}
	return tok.Token
}

// dialToken opens a socket with token; the result says why when it is refused.
func (c *ctl) dialToken(org, token string) harness.DialResult {
	c.t.Helper()
	r, err := harness.Dial(c.t.Context(), harness.OrgURL(c.router, org), token, harness.InHeader, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	if r.Conn != nil {
		c.t.Cleanup(func() { r.Conn.Close() })
	}
	return r
}

// open opens a socket and reads its welcome.
func (c *ctl) open(user, org, role string) (*websocket.Conn, map[string]any) {
	c.t.Helper()
	r := c.dialToken(org, c.handshake(user, org, role))
	if r.Conn == nil {
		c.t.Fatalf("%s/%s: %d %s", org, user, r.Status, r.Reason)
	}
	w, err := harness.ReadJSON(r.Conn, 10*time.Second)
	if err != nil || w["type"] != "welcome" {
		c.t.Fatalf("%s/%s welcome: %v %v", org, user, w, err)
	}
	return r.Conn, w
}

// call sends one HTTP request to the router and returns the status, a header and the JSON answer.
func (c *ctl) call(method, path, token, body string) (int, http.Header, map[string]any) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.t.Context(), method, harness.HTTPBase(c.router)+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("%s %s: %d, not JSON: %q", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode, resp.Header, m
}

func (c *ctl) presence(org string) []any {
	c.t.Helper()
	status, hdr, m := c.call(http.MethodGet, "/orgs/"+org+"/presence", c.service(org, contract.ScopePresence), "")
	users, ok := m["users"].([]any)
	if status != 200 || !ok || len(m) != 1 || hdr.Get("Cache-Control") != "no-store" {
		c.t.Fatalf("presence of %s: %d %v (Cache-Control %q)", org, status, m, hdr.Get("Cache-Control"))
	}
	return users
}

func (c *ctl) disconnect(org, body string) float64 {
	c.t.Helper()
	status, _, m := c.call(http.MethodPost, "/orgs/"+org+"/disconnect", c.service(org, contract.ScopeDisconnect), body)
	n, ok := m["disconnected"].(float64)
	if status != 200 || !ok || len(m) != 1 {
		c.t.Fatalf("disconnect %s in %s: %d %v", body, org, status, m)
	}
	return n
}

// untilEvent reads conn until a frame for which match is true.
func untilEvent(t *testing.T, conn *websocket.Conn, match func(map[string]any) bool) {
	t.Helper()
	for {
		m, err := harness.ReadJSON(conn, 10*time.Second)
		if err != nil {
			t.Fatalf("waiting for an event: %v", err)
		}
		if match(m) {
			return
		}
	}
}

// closeOf reads conn until the server closes it and returns the code and reason.
func closeOf(t *testing.T, conn *websocket.Conn, within time.Duration) (int, string) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(within))
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			if ce, ok := err.(*websocket.CloseError); ok {
				return ce.Code, ce.Text
			}
			t.Fatalf("no close frame: %v", err)
		}
	}
}

func user(id, role string, n int) map[string]any {
	return map[string]any{"userId": id, "role": role, "connections": float64(n)}
}

// TestControlPresence: presence is exact across joins and leaves, and is the roster a new
// socket's welcome shows (a user's role is their oldest socket's).
func TestControlPresence(t *testing.T) {
	for _, r := range controlRouters() {
		t.Run(r.name, func(t *testing.T) {
			c := newCtl(t, r.url)
			org := "presence-" + r.name
			if got := c.presence(org); len(got) != 0 {
				t.Fatalf("empty org: %v", got)
			}
			watcher, _ := c.open("zed", org, "member")
			c.open("alice", org, "admin")
			untilEvent(t, watcher, func(m map[string]any) bool { return m["event"] == "join" && m["userId"] == "alice" })
			c.open("alice", org, "member")
			bob, _ := c.open("bob", org, "member")
			untilEvent(t, watcher, func(m map[string]any) bool { return m["event"] == "join" && m["userId"] == "bob" })
			c.open("alice", "elsewhere-"+r.name, "member")
			want := []any{user("alice", "admin", 2), user("bob", "member", 1), user("zed", "member", 1)}
			if got := c.presence(org); !reflect.DeepEqual(got, want) {
				t.Fatalf("presence %v\nwant %v", got, want)
			}
			_, welcome := c.open("yan", org, "member")
			untilEvent(t, watcher, func(m map[string]any) bool { return m["event"] == "join" && m["userId"] == "yan" })
			want = []any{user("alice", "admin", 2), user("bob", "member", 1), user("yan", "member", 1), user("zed", "member", 1)}
			got := c.presence(org)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("presence %v\nwant %v", got, want)
			}
			var roster []any
			for _, u := range got {
				u := u.(map[string]any)
				roster = append(roster, map[string]any{"userId": u["userId"], "role": u["role"]})
			}
			if !reflect.DeepEqual(welcome["presence"], roster) {
				t.Fatalf("welcome roster %v, presence %v", welcome["presence"], roster)
			}
			bob.Close()
			untilEvent(t, watcher, func(m map[string]any) bool { return m["event"] == "leave" && m["userId"] == "bob" })
			want = []any{user("alice", "admin", 2), user("yan", "member", 1), user("zed", "member", 1)}
			if got := c.presence(org); !reflect.DeepEqual(got, want) {
				t.Fatalf("after bob left %v\nwant %v", got, want)
			}
		})
	}
}

// TestControlDisconnect: a disconnect closes only that user's sockets in that org, with its code
// and reason; a block refuses the user's handshakes there with revoked (its token spent: a
// replay is replayed; the pre-flight says revoked) until it expires, then the user connects.
func TestControlDisconnect(t *testing.T) {
	for _, r := range controlRouters() {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel() // each waits for its block to expire; their orgs are their own
			c := newCtl(t, r.url)
			org, other := "disconnect-"+r.name, "disconnect-other-"+r.name
			a1, _ := c.open("alice", org, "admin")
			a2, _ := c.open("alice", org, "admin")
			elsewhere, _ := c.open("alice", other, "admin")
			bob, _ := c.open("bob", org, "member")
			if n := c.disconnect(org, `{"userId":"alice","code":4001}`); n != 2 {
				t.Fatalf("disconnected %v, want 2", n)
			}
			// They leave presence with the answer, not when their peers finish the close.
			if got, want := c.presence(org), []any{user("bob", "member", 1)}; !reflect.DeepEqual(got, want) {
				t.Fatalf("presence right after the disconnect %v, want %v", got, want)
			}
			for _, conn := range []*websocket.Conn{a1, a2} {
				if code, reason := closeOf(t, conn, 10*time.Second); code != 4001 || reason != "reauth_required" {
					t.Fatalf("close %d %q, want 4001 reauth_required", code, reason)
				}
			}
			// The others are still open: each receives an event published after the disconnect.
			for _, o := range []string{org, other} {
				if status, _, m := c.call(http.MethodPost, "/orgs/"+o+"/publish", c.service(o, contract.ScopePublish), `{"data":"after"}`); status != 200 {
					t.Fatalf("publish: %d %v", status, m)
				}
			}
			for _, conn := range []*websocket.Conn{elsewhere, bob} {
				untilEvent(t, conn, func(m map[string]any) bool { return m["type"] == "event" && m["data"] == "after" })
			}
			// 4001 blocks nothing: a fresh token connects at once, with its new role.
			if _, w := c.open("alice", org, "member"); w["role"] != "member" {
				t.Fatalf("welcome after reauth %v", w)
			}

			const block = 5 // long enough for the checks below on a loaded machine
			called := time.Now()
			if n := c.disconnect(org, fmt.Sprintf(`{"userId":"alice","code":4003,"blockSeconds":%d}`, block)); n != 1 {
				t.Fatalf("disconnected %v, want 1", n)
			}
			tok := c.handshake("alice", org, "member")
			if status, _, m := c.call(http.MethodGet, "/orgs/"+org+"/ws", tok, ""); status != 403 || m["error"] != "revoked" {
				t.Fatalf("pre-flight while blocked: %d %v", status, m)
			}
			if res := c.dialToken(org, tok); res.Status != 403 || res.Reason != "revoked" {
				t.Fatalf("handshake while blocked: %d %s", res.Status, res.Reason)
			}
			if res := c.dialToken(org, tok); res.Status != 401 || res.Reason != "replayed" {
				t.Fatalf("the refused token again: %d %s, want 401 replayed", res.Status, res.Reason)
			}
			c.open("alice", other, "admin")
			c.open("bob", org, "member")
			// The block's expiry is a time, so this waits for it: until a second past it, for the
			// Worker's whole-second clock.
			time.Sleep(time.Until(called.Add((block + 1) * time.Second)))
			c.open("alice", org, "member")
		})
	}
}

// TestControlScopes: each control route takes only a token whose scope list names it.
func TestControlScopes(t *testing.T) {
	for _, r := range controlRouters() {
		t.Run(r.name, func(t *testing.T) {
			c := newCtl(t, r.url)
			org := "scopes-" + r.name
			routes := []struct{ method, route, body string }{
				{http.MethodPost, contract.ScopePublish, `{"data":1}`},
				{http.MethodGet, contract.ScopePresence, ""},
				{http.MethodPost, contract.ScopeDisconnect, `{"userId":"nobody","code":4001}`},
			}
			for _, rt := range routes {
				path := "/orgs/" + org + "/" + rt.route
				var others []string
				for _, o := range routes {
					if o.route != rt.route {
						others = append(others, o.route)
					}
				}
				reused := c.service(org, rt.route)
				tests := []struct {
					name, token string
					wantStatus  int
					wantReason  string
				}{
					{"its own scope", reused, 200, ""},
					{"a list naming it", c.service(org, "future_scope", rt.route), 200, ""},
					{"the other routes' scopes", c.service(org, others...), 401, "wrong_scope"},
					{"a handshake token", c.handshake("alice", org, "admin"), 401, "wrong_scope"},
					{"another org's token", c.service("not-"+org, rt.route), 403, "org_mismatch"},
					{"a spent token", reused, 401, "replayed"},
				}
				for _, tt := range tests {
					status, _, m := c.call(rt.method, path, tt.token, rt.body)
					if status != tt.wantStatus || (tt.wantReason != "" && m["error"] != tt.wantReason) {
						t.Errorf("%s with %s: %d %v, want %d %s", rt.route, tt.name, status, m, tt.wantStatus, tt.wantReason)
					}
				}
			}
		})
	}
}

// sessionSeconds is the short MAX_SESSION_SECONDS of TestControlMaxSession.
const sessionSeconds = 2

// TestControlMaxSession: with MAX_SESSION_SECONDS a socket is closed with 4001 reauth_required
// between 0.9 and 1.1 times the limit after it opened, on a Worker (wrangler dev), a Go hub, and
// a Go forwarder in front of that Worker (which passes the Worker's 4001 on). These routers are
// their own: the shared stack's sockets must not be closed under the other tests.
func TestControlMaxSession(t *testing.T) {
	root, err := stack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	vars := map[string]string{"CONN_JWT_PUBLIC_KEY": string(pubPEM), "JWT_ISSUER": jwtIssuer, "JWT_AUDIENCE": jwtAudience,
		"ALLOWED_ORIGINS": allowedOrigin, "MAX_SESSION_SECONDS": fmt.Sprint(sessionSeconds)}
	workerBase := startWrangler(t, stack.WranglerOptions{Root: root, PersistTo: filepath.Join(tmp, "wrangler"), Vars: vars})
	routerEnv := stack.ServerEnv("CONN_JWT_PUBLIC_KEY="+string(pubPEM), "JWT_ISSUER="+jwtIssuer,
		"JWT_AUDIENCE="+jwtAudience, "ALLOWED_ORIGINS="+allowedOrigin)
	startProxy := func(name string, args ...string) (string, *stack.Proc) {
		port := freePort(t)
		cmd := exec.Command(filepath.Join(binDir, "edgeproxy"), append([]string{"-addr", fmt.Sprintf("127.0.0.1:%d", port), "-metrics-addr", "off"}, args...)...)
		cmd.Env = routerEnv
		p, err := stack.Start(name, cmd, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Stop(10 * time.Second) })
		return fmt.Sprintf("http://127.0.0.1:%d", port), p
	}
	hubBase, hubP := startProxy("edgeproxy (hub, max session)", "-max-session-seconds", fmt.Sprint(sessionSeconds))
	fwdBase, fwdP := startProxy("edgeproxy (forward, max session upstream)", "-upstream", "ws"+workerBase[4:], "-forward-token")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	for _, w := range []struct {
		url string
		p   *stack.Proc
	}{{hubBase, hubP}, {fwdBase, fwdP}} {
		if err := stack.WaitHealthy(ctx, w.url+"/healthz", w.p); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []struct{ name, url string }{{"worker", workerBase}, {"proxy-hub", hubBase}, {"proxy-forward", fwdBase}} {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			c := newCtl(t, r.url)
			start := time.Now()
			conn, _ := c.open("alice", "session", "member")
			code, reason := closeOf(t, conn, 4*sessionSeconds*time.Second)
			took := time.Since(start)
			if code != 4001 || reason != "reauth_required" {
				t.Fatalf("close %d %q, want 4001 reauth_required", code, reason)
			}
			// Never early (the jitter's lower bound); late only by what a loaded machine and the
			// Worker's alarm add, well below the read deadline of a missing close.
			if took < sessionSeconds*time.Second*9/10 || took > 3*sessionSeconds*time.Second {
				t.Fatalf("closed after %v, want %v ±10%%", took, sessionSeconds*time.Second)
			}
			c.open("alice", "session", "member") // it reconnects at once
		})
	}
}

// TestControlDisconnectBodies: every body of testdata/vectors/disconnect.json gets the same answer
// from each router (in an org with nobody online: every accepted body disconnects 0).
func TestControlDisconnectBodies(t *testing.T) {
	vf, err := vectors.LoadDisconnect("../testdata/vectors/disconnect.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range controlRouters() {
		t.Run(r.name, func(t *testing.T) {
			c := newCtl(t, r.url)
			org := "bodies-" + r.name
			for _, tc := range vf.Cases {
				b, err := tc.Bytes()
				if err != nil {
					t.Fatal(err)
				}
				status, _, m := c.call(http.MethodPost, "/orgs/"+org+"/disconnect", c.service(org, contract.ScopeDisconnect), string(b))
				want := map[string]any{"disconnected": 0.0}
				if tc.Want.Status != 200 {
					want = map[string]any{"error": tc.Want.Error}
				}
				if status != tc.Want.Status || !reflect.DeepEqual(m, want) {
					t.Errorf("%s: %d %v, want %d %v", tc.Name, status, m, tc.Want.Status, want)
				}
			}
		})
	}
}

// startWrangler runs a wrangler dev of its own on a free port (o.Port is set here), stopped when
// the test ends (its output logged if the test failed), and returns its base URL once healthy.
func startWrangler(t *testing.T, o stack.WranglerOptions) string {
	t.Helper()
	o.Port = freePort(t)
	wr, err := stack.Wrangler(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("wrangler dev output:\n%s", wr.Output())
		}
		_ = wr.Stop(10 * time.Second)
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", o.Port)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	if err := stack.WaitHealthy(ctx, base+"/healthz", wr); err != nil {
		t.Fatal(err)
	}
	return base
}
