//go:build linux

package proxy_test

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/qubital/office-router/proxy"
)

// TestIdleSocketsHoldNoGoroutine: on Linux an idle hub socket waits in the poller's epoll set,
// not in a goroutine of its own (poller_linux.go). After a message wakes every socket, each
// answers and goes back to the set: the goroutines come back down.
func TestIdleSocketsHoldNoGoroutine(t *testing.T) {
	const n = 200
	e := newEnv(t, proxy.Config{})
	before := runtime.NumGoroutine()
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		conns[i] = e.dial(fmt.Sprintf("u%d", i), fmt.Sprintf("org%d", i%7)).conn
	}
	settled := func(what string) { t.Helper(); waitNoGoroutinePerSocket(t, before, n, what) }
	settled("after the handshakes")
	for i, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			_, data, err := c.ReadMessage()
			if err != nil {
				t.Fatalf("client %d: %v", i, err)
			}
			if string(data) == "pong" {
				break
			}
			if len(data) > 0 && data[0] == '{' && c.WriteMessage(websocket.TextMessage, []byte("ping")) != nil {
				t.Fatalf("client %d: write failed", i)
			}
		}
	}
	settled("after a ping on every socket")
}

// waitNoGoroutinePerSocket waits (10 s at most) until the process has fewer than n/10
// goroutines more than before, with n idle sockets open.
func waitNoGoroutinePerSocket(t *testing.T, before, n int, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		g := runtime.NumGoroutine() - before
		if g < n/10 {
			t.Logf("%s: %d goroutines for %d sockets", what, g, n)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d goroutines for %d idle sockets, want none per socket", what, g, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFloodAfterCloseIsCut: a client that ignores our close frame and keeps sending is cut
// after closeGrace, however much it sends: nothing it sends moves the close deadline, and once
// cut the reader ends at the next message instead of draining for ever.
func TestFloodAfterCloseIsCut(t *testing.T) {
	e := newEnv(t, proxy.Config{MessagesPerSecond: 1, MessageBurst: 1})
	c := e.dial("flood", "acme")
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // never reads: never answers the 1008
		defer close(done)
		msg := []byte(`{"type":"broadcast","data":1}`)
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = c.conn.SetWriteDeadline(time.Now().Add(time.Second))
			if c.conn.WriteMessage(websocket.TextMessage, msg) != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	start := time.Now()
	waitFor(t, func() bool { return e.p.Stats().Connections == 0 }, "flooding client never cut: %+v", e.p)
	t.Logf("cut %v after the flood began", time.Since(start).Round(time.Millisecond))
}

// TestPongsAndMessagesInterleave: with a ping every few milliseconds, pongs (taken by the poller
// itself when alone, takePong) and text frames race each other on every socket; no text frame
// may be lost or wait for the next packet, and every socket stays alive.
func TestPongsAndMessagesInterleave(t *testing.T) {
	rounds := 3000
	if testing.Short() {
		rounds = 300
	}
	const clients = 8
	e := newEnv(t, proxy.Config{PingPeriod: 16 * time.Millisecond, WriteWait: time.Second,
		MessagesPerSecond: 1e9, MessageBurst: 1 << 30})
	errs := make(chan error, clients)
	for i := range clients {
		conn := e.dial(fmt.Sprintf("u%d", i), "pongs").conn
		go func() {
			var pings int
			conn.SetPingHandler(func(data string) error { // as gorilla's default, counted
				pings++
				return conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
			})
			for r := range rounds {
				if err := conn.WriteMessage(websocket.TextMessage, []byte("ping")); err != nil {
					errs <- fmt.Errorf("client %d round %d: write: %v", i, r, err)
					return
				}
				_ = conn.SetReadDeadline(time.Now().Add(stallLimit))
				for {
					_, data, err := conn.ReadMessage()
					if err != nil {
						errs <- fmt.Errorf("client %d round %d: no pong within %v: %v", i, r, stallLimit, err)
						return
					}
					if string(data) == "pong" {
						break
					}
				}
			}
			if pings == 0 {
				errs <- fmt.Errorf("client %d: no server ping in %d rounds", i, rounds)
				return
			}
			errs <- nil
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestReaderWithAndWithoutPoller: the same conversation through both readers, the poller's
// sessions and the goroutine per socket that other platforms use (readLoop): back-to-back
// frames, a message, a rate-limit close, a leave. (TestKeepAlive covers pongs with the poller.)
func TestReaderWithAndWithoutPoller(t *testing.T) {
	for _, poller := range []bool{true, false} {
		t.Run(fmt.Sprintf("poller=%v", poller), func(t *testing.T) {
			e := newEnv(t, proxy.Config{MessagesPerSecond: 1, MessageBurst: 3})
			if !poller {
				proxy.WithoutPoller(e.p)
			}
			a, b := e.dial("a", "acme"), e.dial("b", "acme")
			a.next() // welcome
			if m := a.next(); m["event"] != "join" {
				t.Fatalf("a: %v, want b's join", m)
			}
			b.next()
			a.send("ping")
			a.send("ping")
			for range 2 {
				if m := a.next(); m["raw"] != "pong" {
					t.Fatalf("a: %v, want pong", m)
				}
			}
			a.send(map[string]any{"type": "broadcast", "data": "hi"})
			if m := b.next(); m["type"] != "message" || m["from"] != "a" {
				t.Fatalf("b: %v, want a's message", m)
			}
			a.send("ping") // the fourth message in a burst of 3
			if code := a.closeCode(); code != proxy.ClosePolicy {
				t.Fatalf("a closed with %d, want %d", code, proxy.ClosePolicy)
			}
			if m := b.next(); m["event"] != "leave" || m["userId"] != "a" {
				t.Fatalf("b: %v, want a's leave", m)
			}
		})
	}
}

// TestControlFramesLeaveNoGoroutine: a client's own ping (native clients send them on a timer:
// Python's websockets every 20 s, OkHttp with pingInterval) and a pong that arrives in two
// pieces are read at the frame boundary like a whole pong, and the socket goes back to the
// poller. Left to gorilla, whose ReadMessage handles control frames and then waits for the next
// data frame, each such socket kept a session goroutine, deep in gorilla, and its read buffer
// for as long as it stayed idle and answered our pings.
func TestControlFramesLeaveNoGoroutine(t *testing.T) {
	const n = 60
	e := newEnv(t, proxy.Config{})
	before := runtime.NumGoroutine()
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		conn := e.dial(fmt.Sprintf("u%d", i), fmt.Sprintf("org%d", i)).conn // alone: nothing else arrives
		conns[i] = conn
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, _, err := conn.ReadMessage(); err != nil { // welcome
			t.Fatal(err)
		}
		raw := conn.NetConn()
		if i%2 == 0 { // a ping of our own, answered with its payload (read raw: gorilla's reader stays usable)
			payload := []byte(fmt.Sprintf("p%d", i))
			if err := conn.WriteControl(websocket.PingMessage, payload, time.Now().Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			want := append([]byte{0x80 | websocket.PongMessage, byte(len(payload))}, payload...)
			got := make([]byte, len(want))
			_ = raw.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.ReadFull(raw, got); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("client %d: answer to its ping % x, %v; want % x", i, got, err, want)
			}
		} else { // a pong in two TCP segments
			f := frame(true, 0, websocket.PongMessage, []byte("late"), true)
			if _, err := raw.Write(f[:3]); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond) // a stimulus (two segments), not a synchronisation
			if _, err := raw.Write(f[3:]); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitNoGoroutinePerSocket(t, before, n, "after a ping or a split pong on every socket")
	for i, conn := range conns { // and every socket still answers
		if err := conn.WriteMessage(websocket.TextMessage, []byte("ping")); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, data, err := conn.ReadMessage(); err != nil || string(data) != "pong" {
			t.Fatalf("client %d: %q, %v; want pong", i, data, err)
		}
	}
}
