package proxy_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/qubital/office-router/proxy"
)

// TestForwardToHub: a forwarder in front of a hub-mode proxy behaves like the hub itself.
func TestForwardToHub(t *testing.T) {
	up := newEnv(t, proxy.Config{})
	fw := newEnv(t, proxy.Config{Upstream: up.wsURL, ForwardToken: true, AllowedOrigins: []string{"https://app.test"}})
	a := fw.dial("alice", "acme")
	if w := a.next(); w["type"] != "welcome" || w["userId"] != "alice" {
		t.Fatalf("welcome through the forwarder: %v", w)
	}
	b, _, err := fw.dialWith("acme", http.Header{"Sec-WebSocket-Protocol": {"office-router.v1, bearer." + fw.token("bob", "acme", "member")}})
	if err != nil {
		t.Fatal(err)
	}
	if got := b.resp.Header.Get("Sec-WebSocket-Protocol"); got != "office-router.v1" {
		t.Fatalf("subprotocol %q", got)
	}
	b.next()
	a.next() // join
	a.send(map[string]any{"type": "broadcast", "data": "hi"})
	if m := b.next(); m["data"] != "hi" || m["from"] != "alice" {
		t.Fatalf("relayed broadcast %v", m)
	}
	// The edge rejects before the upstream sees anything.
	if status, _, m := fw.get("/orgs/acme/ws", upgradeHeader(map[string]string{"Authorization": "Bearer x.y.z"})); status != 401 || m["error"] != "malformed" {
		t.Fatalf("edge rejection %d %v", status, m)
	}
	// The upstream's own refusal (replay) is relayed as its status and body.
	tok := fw.token("carol", "acme", "member")
	fw.dialWith("acme", http.Header{"Authorization": {"Bearer " + tok}})
	if _, resp, err := fw.dialWith("acme", http.Header{"Authorization": {"Bearer " + tok}}); err == nil || statusOf(resp) != 401 {
		t.Fatalf("replay through forwarder: %v %d", err, statusOf(resp))
	}
	// Close codes pass through: the upstream closes an oversized message with 1009.
	_ = a.conn.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("x", 70<<10)))
	if code := a.closeCode(); code != proxy.CloseTooBig {
		t.Fatalf("close %d, want 1009", code)
	}
	// Backend publish is validated at the edge and relayed.
	pt, _ := fw.minter.MintPublish("acme", "backend")
	if status, _, m := fw.do("POST", "/orgs/acme/publish", http.Header{"Authorization": {"Bearer " + pt.Token}}, `{"data":"e"}`); status != 200 || m["delivered"] == nil {
		t.Fatalf("publish through forwarder: %d %v", status, m)
	}
	// b also sees carol join and alice leave before the event, in some order.
	for m := b.next(); m["type"] != "event"; m = b.next() {
		if m["type"] != "presence" {
			t.Fatalf("unexpected %v", m)
		}
	}
}

// echoUpstream records the headers it was dialled with and echoes frames; kill drops every socket.
type echoUpstream struct {
	srv   *httptest.Server
	mu    sync.Mutex
	hdr   http.Header
	conns []*websocket.Conn
}

func newEchoUpstream(t *testing.T) *echoUpstream {
	u := &echoUpstream{}
	up := websocket.Upgrader{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		u.mu.Lock()
		u.hdr = r.Header.Clone()
		u.conns = append(u.conns, c)
		u.mu.Unlock()
		for {
			mt, data, err := c.ReadMessage()
			if err != nil {
				return
			}
			if string(data) == "close-4001" {
				_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "custom"), time.Now().Add(time.Second))
				continue
			}
			_ = c.WriteMessage(mt, data)
		}
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *echoUpstream) kill() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, c := range u.conns {
		_ = c.NetConn().Close()
	}
}

func TestForwardIdentityHeadersAndFaults(t *testing.T) {
	up := newEchoUpstream(t)
	fw := newEnv(t, proxy.Config{Upstream: "ws" + strings.TrimPrefix(up.srv.URL, "http")})
	c, _, err := fw.dialWith("acme", http.Header{
		"Authorization": {"Bearer " + fw.token("alice", "acme", "admin")}, "X-Office-User-Id": {"mallory"}, "X-Office-Role": {"owner"},
	})
	if err != nil {
		t.Fatal(err)
	}
	c.send(map[string]string{"echo": "1"})
	if m := c.next(); m["echo"] != "1" {
		t.Fatalf("echo %v", m)
	}
	up.mu.Lock()
	h := up.hdr
	up.mu.Unlock()
	if h.Get("X-Office-User-Id") != "alice" || h.Get("X-Office-Org-Id") != "acme" || h.Get("X-Office-Role") != "admin" || h.Get("Authorization") != "" {
		t.Fatalf("upstream headers: %v", h)
	}
	if len(h.Values("X-Office-User-Id")) != 1 {
		t.Fatal("client-supplied identity header reached the upstream")
	}
	// A custom close code from the upstream reaches the client unchanged.
	c.send("close-4001")
	if code := c.closeCode(); code != 4001 {
		t.Fatalf("close %d, want 4001", code)
	}
	// An upstream that dies mid-stream becomes 1011 for the client.
	d := fw.dial("bob", "acme")
	d.send(map[string]string{"x": "y"})
	d.next()
	up.kill()
	if code := d.closeCode(); code != proxy.CloseInternal {
		t.Fatalf("close %d, want 1011", code)
	}
	// An upstream that refuses connections: 502 before any upgrade, proxy stays healthy.
	up.srv.Close()
	if _, resp, err := fw.dialWith("acme", http.Header{"Authorization": {"Bearer " + fw.token("eve", "acme", "member")}}); err == nil || statusOf(resp) != 502 {
		t.Fatalf("dead upstream: %v %d", err, statusOf(resp))
	}
	if status, _, _ := fw.get("/healthz", nil); status != 200 {
		t.Fatal("unhealthy after upstream faults")
	}
	var body map[string]any
	_ = json.Unmarshal([]byte(`{}`), &body)
}
