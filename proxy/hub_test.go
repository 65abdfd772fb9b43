package proxy_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/qubital/office-router/proxy"
)

func TestProtocol(t *testing.T) {
	e := newEnv(t, proxy.Config{})
	a := e.dial("alice", "acme")
	if w := a.next(); w["type"] != "welcome" || w["orgId"] != "acme" || w["connectionId"] == "" || len(w["presence"].([]any)) != 1 {
		t.Fatalf("welcome %v", w)
	}
	b := e.dial("bob", "acme")
	if w := b.next(); len(w["presence"].([]any)) != 2 {
		t.Fatalf("bob's welcome lacks alice: %v", w)
	}
	if j := a.next(); j["type"] != "presence" || j["event"] != "join" || j["userId"] != "bob" || j["role"] != "member" {
		t.Fatalf("join %v", j)
	}
	b2 := e.dial("bob", "acme") // a second connection of bob: no second join
	b2.next()
	x := e.dial("eve", "other")
	x.next()

	a.send(map[string]any{"type": "broadcast", "data": map[string]int{"n": 1}})
	for _, c := range []*wsClient{b, b2} {
		if m := c.next(); m["type"] != "message" || m["from"] != "alice" || m["data"].(map[string]any)["n"] != 1.0 || m["direct"] != nil {
			t.Fatalf("broadcast %v", m)
		}
	}
	b.send(map[string]any{"type": "direct", "to": "alice", "data": "psst"})
	if m := a.next(); m["type"] != "message" || m["data"] != "psst" || m["direct"] != true {
		t.Fatalf("direct %v", m)
	}
	// The sender does not get its own broadcast, and the other org saw nothing: the next frame
	// each receives is the answer to its own request.
	for _, c := range []*wsClient{b, x} {
		c.send("ping")
		if m := c.next(); m["raw"] != "pong" {
			t.Fatalf("expected only pong, got %v", m)
		}
	}
	for _, bad := range []string{"not json", `[1]`, `{"type":"nope"}`, `{"TYPE":"broadcast"}`, `{"type":"direct"}`, `null`} {
		a.send(bad)
		if m := a.next(); m["type"] != "error" || m["code"] != "bad_message" {
			t.Fatalf("%s: %v", bad, m)
		}
	}
	if err := a.conn.WriteMessage(websocket.BinaryMessage, []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	if m := a.next(); m["code"] != "bad_message" {
		t.Fatalf("binary: %v", m)
	}
	b.conn.Close()
	b2.send(map[string]any{"type": "broadcast"}) // bob still online through b2
	if m := a.next(); m["type"] != "message" || m["data"] != nil {
		t.Fatalf("no leave while bob has a connection; got %v", m)
	}
	b2.conn.Close()
	if m := a.next(); m["event"] != "leave" || m["userId"] != "bob" {
		t.Fatalf("leave %v", m)
	}
}

func TestPublish(t *testing.T) {
	e := newEnv(t, proxy.Config{})
	// Each client reads its welcome before the next dials: until then it may not have joined,
	// and would see the newcomer in its welcome's presence list instead of as a join event.
	a := e.dial("alice", "acme")
	a.next()
	b := e.dial("bob", "acme")
	b.next()
	a.next() // bob's join
	publish := func(org, body string, tok string) (int, map[string]any) {
		status, _, m := e.do("POST", "/orgs/"+org+"/publish", http.Header{"Authorization": {"Bearer " + tok}}, body)
		return status, m
	}
	pt, _ := e.minter.MintPublish("acme", "backend")
	if status, m := publish("acme", `{"data":{"k":"v"}}`, pt.Token); status != 200 || m["delivered"] != 2.0 {
		t.Fatalf("%d %v", status, m)
	}
	for _, c := range []*wsClient{a, b} {
		if m := c.next(); m["type"] != "event" || m["data"].(map[string]any)["k"] != "v" {
			t.Fatalf("event %v", m)
		}
	}
	pt2, _ := e.minter.MintPublish("acme", "backend")
	if status, m := publish("acme", `{"to":"bob","data":1}`, pt2.Token); status != 200 || m["delivered"] != 1.0 {
		t.Fatalf("%d %v", status, m)
	}
	if m := b.next(); m["data"] != 1.0 {
		t.Fatalf("%v", m)
	}
	other, _ := e.minter.MintPublish("other", "backend")
	cases := []struct {
		name, org, body, tok string
		wantStatus           int
		wantCode             string
	}{
		{"handshake token", "acme", `{"data":1}`, e.token("alice", "acme", "member"), 401, "wrong_scope"},
		{"other org's token", "acme", `{"data":1}`, other.Token, 403, "org_mismatch"},
		{"no data", "acme", `{"to":"bob"}`, pt.Token, 400, "bad_request"},
		{"bad to", "acme", `{"to":"a/b","data":1}`, pt.Token, 400, "bad_request"},
		{"too large", "acme", `{"data":"` + strings.Repeat("x", 70<<10) + `"}`, pt.Token, 413, "body_too_large"},
	}
	for _, c := range cases {
		if status, m := publish(c.org, c.body, c.tok); status != c.wantStatus || m["error"] != c.wantCode {
			t.Fatalf("%s: %d %v", c.name, status, m)
		}
	}
	if status, _, m := e.do("POST", "/orgs/acme/publish", nil, `{"data":1}`); status != 401 || m["error"] != "missing_token" {
		t.Fatalf("no token: %d %v", status, m)
	}
	if status, m := publish("nobody", `{"data":1}`, mustPublish(t, e, "nobody")); status != 200 || m["delivered"] != 0.0 {
		t.Fatalf("empty org: %d %v", status, m)
	}
}

func mustPublish(t *testing.T, e *env, org string) string {
	tok, err := e.minter.MintPublish(org, "backend")
	if err != nil {
		t.Fatal(err)
	}
	return tok.Token
}

func TestFrameAbuse(t *testing.T) {
	e := newEnv(t, proxy.Config{MessageBurst: 5, MessagesPerSecond: 0.001})
	big := e.dial("big", "acme")
	big.next()
	_ = big.conn.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("x", 70<<10))) // the server may stop reading midway
	if code := big.closeCode(); code != proxy.CloseTooBig {
		t.Fatalf("oversized message: close %d, want 1009", code)
	}
	utf := e.dial("utf", "acme")
	utf.next()
	if err := utf.conn.WriteMessage(websocket.TextMessage, []byte{'"', 0xff, 0xfe, '"'}); err != nil {
		t.Fatal(err)
	}
	if code := utf.closeCode(); code != proxy.CloseInvalidUTF8 {
		t.Fatalf("invalid UTF-8: close %d, want 1007", code)
	}
	// A flood of text pings: the hub counts "ping" against the message rate, since each costs a
	// pong write (docs/protocol.md#liveness; the Worker's runtime answers it uncounted).
	flood := e.dial("flood", "acme")
	flood.next()
	for range 10 {
		if err := flood.conn.WriteMessage(websocket.TextMessage, []byte("ping")); err != nil {
			break
		}
	}
	if code := flood.closeCode(); code != proxy.ClosePolicy {
		t.Fatalf("flood: close %d, want 1008", code)
	}
}

// TestSlowConsumer: a client that stops reading is closed with 4008 and does not hold up the
// others in its org.
func TestSlowConsumer(t *testing.T) {
	e := newEnv(t, proxy.Config{SendQueue: 8})
	slow := e.dial("slow", "acme")
	slow.next()
	fast := e.dial("fast", "acme")
	fast.next()
	slow.next() // fast's join
	payload := strings.Repeat("y", 60<<10)
	const n = 400
	got := make(chan int, 1)
	go func() {
		count := 0
		for count < n {
			_ = fast.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, _, err := fast.conn.ReadMessage(); err != nil {
				break
			}
			count++
		}
		got <- count
	}()
	// Publish until the proxy has given up on slow, then let slow read at once. The 4008 close
	// frame queues behind frames slow never read, so it only gets out if slow starts reading
	// within WriteWait of that decision; waiting for all n publishes first made the outcome
	// depend on how fast this loop ran (1006 under load).
	body, _ := json.Marshal(map[string]string{"data": payload})
	sent := 0
	for sent < n && slowConsumers(t, e) == 0 {
		tok, _ := e.minter.MintPublish("acme", "backend")
		if status, _, _ := e.do("POST", "/orgs/acme/publish", http.Header{"Authorization": {"Bearer " + tok.Token}}, string(body)); status != 200 {
			t.Fatalf("publish %d", status)
		}
		sent++
	}
	if sent == n {
		t.Fatalf("%d publishes of 60 KiB never overflowed a queue of 8", n)
	}
	code := slow.closeCode()
	// The rest of n, so the fast client's count shows it lost nothing meanwhile.
	for ; sent < n; sent++ {
		tok, _ := e.minter.MintPublish("acme", "backend")
		if status, _, _ := e.do("POST", "/orgs/acme/publish", http.Header{"Authorization": {"Bearer " + tok.Token}}, string(body)); status != 200 {
			t.Fatalf("publish %d", status)
		}
	}
	if c := <-got; c != n {
		t.Fatalf("fast client got %d of %d events", c, n)
	}
	if code != proxy.CloseSlowConsumer {
		t.Fatalf("slow consumer closed with %d, want 4008", code)
	}
}

// TestShutdown: every client receives what was queued before the signal, then 1001.
func TestShutdown(t *testing.T) {
	e := newEnv(t, proxy.Config{})
	a := e.dial("alice", "acme")
	a.next()
	b := e.dial("bob", "acme")
	b.next()
	a.next()
	a.send(map[string]any{"type": "broadcast", "data": "last words"})
	// Wait until the broadcast is in the hub (its echo-free delivery to b proves it).
	if m := b.next(); m["data"] != "last words" {
		t.Fatalf("%v", m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- e.p.Shutdown(ctx) }()
	for _, c := range []*wsClient{a, b} {
		if code := c.closeCode(); code != proxy.CloseGoingAway {
			t.Fatalf("close %d, want 1001", code)
		}
	}
	if err := <-errc; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if status, _, m := e.get("/orgs/acme/ws", upgradeHeader(map[string]string{"Authorization": "Bearer " + e.token("c", "acme", "member")})); status != 503 || m["error"] != "shutting_down" {
		t.Fatalf("after shutdown: %d %v", status, m)
	}
}

// slowConsumers reads edgeproxy_slow_consumers_total from the proxy's metrics.
func slowConsumers(t *testing.T, e *env) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	e.p.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for line := range strings.SplitSeq(rec.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "edgeproxy_slow_consumers_total "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatal("no edgeproxy_slow_consumers_total in the metrics")
	return 0
}
