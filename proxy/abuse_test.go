package proxy_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/qubital/office-router/internal/serve"
	"github.com/qubital/office-router/proxy"
	"github.com/qubital/office-router/verifier"
)

// rawHTTP sends raw bytes to the server and returns the status line.
func rawHTTP(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	return strings.TrimSpace(line)
}

// newServedEnv runs the proxy behind the same http.Server settings as cmd/edgeproxy.
func newServedEnv(t *testing.T, cfg proxy.Config, tweak func(*http.Server)) (*env, string) {
	e := newEnv(t, cfg)
	srv := serve.NewServer(e.p, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if tweak != nil {
		tweak(srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return e, ln.Addr().String()
}

func TestHTTPLevelAbuse(t *testing.T) {
	e, addr := newServedEnv(t, proxy.Config{FailureBurst: 1000}, nil)
	tok := e.token("alice", "acme", "member")
	upgrade := "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	tests := []struct {
		name, req, wantPrefix string
	}{
		{"HTTP/1.0 upgrade", "GET /orgs/acme/ws HTTP/1.0\r\nHost: x\r\n" + upgrade + "Authorization: Bearer " + tok + "\r\n\r\n", "HTTP/1.0 400"},
		{"header block over the limit", "GET /orgs/acme/ws HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 40<<10) + "\r\n\r\n", "HTTP/1.1 431"},
		{"POST upgrade", "POST /orgs/acme/ws HTTP/1.1\r\nHost: x\r\n" + upgrade + "Content-Length: 0\r\n\r\n", "HTTP/1.1 405"},
		{"no key", "GET /orgs/acme/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n", "HTTP/1.1 400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rawHTTP(t, addr, tt.req); !strings.HasPrefix(got, tt.wantPrefix) {
				t.Fatalf("got %q, want %s", got, tt.wantPrefix)
			}
		})
	}
	if s := e.p.Stats(); s.Hubs != 0 {
		t.Fatalf("an abusive request reached a hub: %+v", s)
	}
}

// TestSlowloris: a client that sends its headers one byte at a time is cut off at the header
// timeout instead of holding the connection.
func TestSlowloris(t *testing.T) {
	_, addr := newServedEnv(t, proxy.Config{}, func(s *http.Server) { s.ReadHeaderTimeout = 300 * time.Millisecond })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	req := "GET /orgs/acme/ws HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 1000)
	ticker := time.NewTicker(20 * time.Millisecond)
	defer ticker.Stop()
	for i := 0; i < len(req); i++ {
		<-ticker.C
		if _, err := c.Write([]byte{req[i]}); err != nil {
			break // cut off
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("slow client still connected after 5 s")
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(c)
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Fatalf("closed only after %v", elapsed)
	}
	if bytes.Contains(b, []byte("101")) {
		t.Fatal("slow client was upgraded")
	}
}

// frame builds a raw client frame.
func frame(fin bool, rsv, opcode byte, payload []byte, masked bool) []byte {
	b0 := rsv<<4 | opcode
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	mbit := byte(0)
	if masked {
		mbit = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		out = append(out, mbit|byte(n))
	case n < 1<<16:
		out = append(out, mbit|126, byte(n>>8), byte(n))
	default:
		out = append(out, mbit|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if masked {
		key := []byte{1, 2, 3, 4}
		out = append(out, key...)
		for i, c := range payload {
			out = append(out, c^key[i%4])
		}
		return out
	}
	return append(out, payload...)
}

// TestFrameLevelAbuse: protocol violations close the socket with 1002 (gorilla's checks), and
// the hub forgets the connection.
func TestFrameLevelAbuse(t *testing.T) {
	e := newEnv(t, proxy.Config{})
	tests := []struct {
		name string
		raw  []byte
		want int
	}{
		{"unmasked client frame", frame(true, 0, 1, []byte(`{"type":"broadcast"}`), false), websocket.CloseProtocolError},
		{"reserved bits", frame(true, 4, 1, []byte("x"), true), websocket.CloseProtocolError},
		{"reserved opcode", frame(true, 0, 3, []byte("x"), true), websocket.CloseProtocolError},
		{"oversized control frame", frame(true, 0, 9, bytes.Repeat([]byte("p"), 126), true), websocket.CloseProtocolError},
		{"fragmented control frame", frame(false, 0, 9, []byte("p"), true), websocket.CloseProtocolError},
		{"continuation without start", frame(true, 0, 0, []byte("x"), true), websocket.CloseProtocolError},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.dial(fmt.Sprintf("abuser%d", i), "acme")
			c.next()
			if _, err := c.conn.NetConn().Write(tt.raw); err != nil {
				t.Fatal(err)
			}
			if code := c.closeCode(); code != tt.want {
				t.Fatalf("close %d, want %d", code, tt.want)
			}
		})
	}
	waitFor(t, func() bool { return e.p.Stats().Connections == 0 }, "abusers still counted: %+v", e.p)
}

// waitFor polls cond (no fixed sleeps) until it holds or 10 s pass.
func waitFor(t *testing.T, cond func() bool, msg string, p *proxy.Proxy) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf(msg, p.Stats())
		}
		runtime.Gosched()
		time.Sleep(5 * time.Millisecond)
	}
}

// TestNoTokenMaterialInLogsOrBodies runs every rejection path and scans what the proxy logged and
// answered for the token or its signature.
func TestNoTokenMaterialInLogsOrBodies(t *testing.T) {
	var logs lockedBuf
	a, _ := keys(t)
	_ = a
	v := newVerifier(t)
	p, err := proxy.New(proxy.Config{AllowedOrigins: []string{"https://app.test"}, FailureBurst: 1000},
		v, proxy.WithLogger(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()
	defer p.Shutdown(context.Background())
	e := &env{t: t, p: p, srv: srv, wsURL: "ws" + strings.TrimPrefix(srv.URL, "http")}
	e.minter = newEnv(t, proxy.Config{}).minter
	good := e.token("alice", "acme", "member")
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + parts[1] + "x." + parts[2]
	var bodies []string
	for _, h := range []http.Header{
		{"Authorization": {"Bearer " + tampered}},
		{"Authorization": {"Bearer " + good}, "Origin": {"https://evil.test"}},
		{"Authorization": {"Basic " + good}},
		{"Sec-WebSocket-Protocol": {"office-router.v1, bearer." + tampered}},
		{"Sec-WebSocket-Protocol": {"bearer." + good}},
	} {
		for _, path := range []string{"/orgs/acme/ws", "/orgs/other/ws", "/orgs/acme/publish"} {
			status, _, body := e.do("GET", path, h, "")
			b, _ := json.Marshal(body)
			bodies = append(bodies, fmt.Sprint(status, string(b)))
		}
	}
	e.dialWith("acme", http.Header{"Authorization": {"Bearer " + good}})
	e.dialWith("acme", http.Header{"Authorization": {"Bearer " + good}}) // replayed
	all := logs.String() + strings.Join(bodies, "\n")
	for _, secret := range []string{good, tampered, parts[2], parts[2][:40]} {
		if strings.Contains(all, secret) {
			t.Fatalf("token material leaked:\n%s", all)
		}
	}
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestChurn: thousands of connect/disconnect cycles across many orgs leave no hub, connection
// or goroutine behind.
func TestChurn(t *testing.T) {
	e := newEnv(t, proxy.Config{})
	before := runtime.NumGoroutine()
	const orgs, workers = 50, 16
	cycles := 2000
	if testing.Short() {
		cycles = 400 // scripts/test.sh runs it 40 times under contention
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < cycles; i += workers {
				org := fmt.Sprintf("churn-%d", i%orgs)
				tok, err := e.minter.MintHandshake(identity(fmt.Sprintf("u%d", i), org))
				if err != nil {
					errs <- err
					return
				}
				conn, _, err := websocket.DefaultDialer.DialContext(t.Context(), e.wsURL+"/orgs/"+org+"/ws", http.Header{"Authorization": {"Bearer " + tok.Token}})
				if err != nil {
					errs <- err
					return
				}
				_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, _, err := conn.ReadMessage(); err != nil {
					errs <- err
					return
				}
				if i%2 == 0 {
					_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
				}
				conn.Close() // half close cleanly, half just vanish
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	waitFor(t, func() bool { s := e.p.Stats(); return s.Hubs == 0 && s.Connections == 0 }, "hubs left after churn: %+v", e.p)
	waitFor(t, func() bool { return runtime.NumGoroutine() <= before+2 }, "goroutines leaked after churn (stats %+v)", e.p)
}

// TestShutdownUnderLoad: while a sender floods its org, Shutdown closes every socket with 1001
// and every receiver got a gap-free prefix of what was sent: nothing the hub accepted is lost.
//
// Shutdown takes closeGrace twice (nobody answers the close; the linger), and nothing that grows
// with load: the receivers read only after it, but what they were sent before it (at most about
// 1,000 messages, beside three CPU hogs) fits in their sockets' buffers (some 84,000 frames of
// this size on loopback), so no writer waits on a full socket. Its one failure under load was
// the flooding sender's reader moving the read deadline past the close deadline
// (TestShutdownCutsAPeerThatKeepsSending makes that certain).
func TestShutdownUnderLoad(t *testing.T) {
	e := newEnv(t, proxy.Config{MessagesPerSecond: 1e6, MessageBurst: 1e6, SendQueue: 100000})
	sender := e.dial("sender", "load")
	sender.next()
	var receivers []*wsClient
	for i := range 5 {
		r := e.dial(fmt.Sprintf("r%d", i), "load")
		r.next()
		receivers = append(receivers, r)
		sender.next() // join
		for _, o := range receivers[:i] {
			o.next() // join
		}
	}
	stopSending := make(chan struct{})
	sent := make(chan int, 1)
	go func() {
		n := 0
		defer func() { sent <- n }()
		for {
			select {
			case <-stopSending:
				return
			default:
			}
			if sender.conn.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"type":"broadcast","data":%d}`, n))) != nil {
				return
			}
			n++
		}
	}()
	// Shut down once the receivers are busy.
	first := receivers[0].next()
	if first["type"] != "message" {
		t.Fatalf("%v", first)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.p.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	close(stopSending)
	<-sent
	for i, r := range receivers {
		want := 0.0
		if i == 0 {
			want = 1
		}
		_ = r.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			_, data, err := r.conn.ReadMessage()
			if err != nil {
				var ce *websocket.CloseError
				if !errors.As(err, &ce) || ce.Code != proxy.CloseGoingAway {
					t.Fatalf("receiver %d: %v, want 1001", i, err)
				}
				break
			}
			var m map[string]any
			_ = json.Unmarshal(data, &m)
			if m["data"] != want {
				t.Fatalf("receiver %d: got message %v, want %v (a gap)", i, m["data"], want)
			}
			want++
		}
	}
	_ = verifier.ErrReplayed
}
