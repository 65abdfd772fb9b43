//go:build linux

package proxy_test

import (
	"fmt"
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
	settled := func(what string) {
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
