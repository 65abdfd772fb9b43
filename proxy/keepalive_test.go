package proxy_test

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/qubital/office-router/proxy"
)

// TestKeepAlive: a client that answers pings stays connected across many pong-wait periods (its
// pongs are consumed on the idle path), and a client that does not is dropped.
func TestKeepAlive(t *testing.T) {
	// Generous periods: CI runs this under -race beside other packages.
	e := newEnv(t, proxy.Config{PingPeriod: 150 * time.Millisecond, WriteWait: 300 * time.Millisecond})
	alive := e.dial("alive", "acme")
	alive.next()
	var pings atomic.Int32
	alive.conn.SetPingHandler(func(data string) error {
		pings.Add(1)
		return alive.conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	frames := make(chan []byte, 16)
	go func() {
		for {
			_, data, err := alive.conn.ReadMessage()
			if err != nil {
				close(frames)
				return
			}
			frames <- data
		}
	}()
	// 8 pings span more than 2 pong-wait periods (2 × 150 ms + 300 ms).
	waitFor(t, func() bool { return pings.Load() >= 8 }, "too few pings: %+v", e.p)
	if err := alive.conn.WriteMessage(websocket.TextMessage, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	select {
	case f, ok := <-frames:
		if !ok || string(f) != "pong" {
			t.Fatalf("after keep-alive: %q %v", f, ok)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no pong")
	}

	silent := e.dial("silent", "acme") // never reads, so never answers a ping
	_ = silent
	waitFor(t, func() bool { return e.p.Stats().Connections == 1 }, "silent client not dropped: %+v", e.p)
	alive.conn.Close()
	for range frames {
	}
}

// TestPingPeriodTooShortIsRefused: the pinger ticks PingPeriod/16 (pingSlots); below that a
// ticker of zero panicked in the pinger's goroutine and took the process down. New names the
// setting instead, as it does for every other bad one.
func TestPingPeriodTooShortIsRefused(t *testing.T) {
	for _, d := range []time.Duration{time.Nanosecond, 15, time.Millisecond - 1} {
		if _, err := proxy.New(proxy.Config{PingPeriod: d}, newVerifier(t)); err == nil || !strings.Contains(err.Error(), "PingPeriod") {
			t.Fatalf("PingPeriod %v: err %v, want one naming PingPeriod", d, err)
		}
	}
	p, err := proxy.New(proxy.Config{PingPeriod: time.Millisecond}, newVerifier(t))
	if err != nil {
		t.Fatalf("PingPeriod 1ms: %v", err)
	}
	_ = p.Shutdown(t.Context())
}

// TestStallInsideAFrameIsCut: a client that sends part of a frame and stops (a slowloris inside
// the socket) holds a reader waiting for the rest: inside gorilla for a data frame, in
// controlFrame for a ping or pong. The idle deadline still cuts it, and the hub forgets it.
func TestStallInsideAFrameIsCut(t *testing.T) {
	e := newEnv(t, proxy.Config{PingPeriod: 150 * time.Millisecond, WriteWait: 300 * time.Millisecond})
	text := frame(true, 0, websocket.TextMessage, []byte(`{"type":"broadcast","data":"x"}`), true)
	ping := frame(true, 0, websocket.PingMessage, []byte("abc"), true)
	pong := frame(true, 0, websocket.PongMessage, []byte("abc"), true)
	parts := map[string][]byte{
		"first byte of a text frame": text[:1],
		"text frame without its end": text[:len(text)-1],
		"first byte of a ping":       ping[:1],
		"ping without its end":       ping[:len(ping)-1],
		"pong header only":           pong[:2],
	}
	i := 0
	for _, part := range parts {
		i++
		c := e.dial(fmt.Sprintf("s%d", i), "stall")
		c.next()
		if _, err := c.conn.NetConn().Write(part); err != nil { // and never anything else
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { return e.p.Stats().Connections == 0 }, "a client stalled inside a frame was not cut: %+v", e.p)
}

// TestFramesSplitAnywhere: a text frame, a pong, a ping of the client's own and another text
// frame, sent in pieces of 1 to 7 bytes (each its own write, so frames and their headers split
// at every offset), through both readers: every text "ping" gets its "pong" and the ping its
// pong with the same payload, round after round. Control frames are read at the frame boundary
// by the proxy itself (controlFrame), data frames by gorilla: a piece that ends inside a header
// must be waited for, not misread.
func TestFramesSplitAnywhere(t *testing.T) {
	var seq []byte
	seq = append(seq, frame(true, 0, websocket.TextMessage, []byte("ping"), true)...)
	seq = append(seq, frame(true, 0, websocket.PongMessage, []byte("zz"), true)...)
	seq = append(seq, frame(true, 0, websocket.PingMessage, []byte("xyz12"), true)...)
	seq = append(seq, frame(true, 0, websocket.TextMessage, []byte("ping"), true)...)
	for _, poller := range []bool{true, false} {
		t.Run(fmt.Sprintf("poller=%v", poller), func(t *testing.T) {
			e := newEnv(t, proxy.Config{MessagesPerSecond: 1e9, MessageBurst: 1 << 30})
			if !poller {
				proxy.WithoutPoller(e.p)
			}
			c := e.dial("u", "split")
			c.next() // welcome
			pongs, texts := make(chan string, 8), make(chan string, 8)
			c.conn.SetPongHandler(func(s string) error { pongs <- s; return nil })
			go func() {
				defer close(texts)
				for {
					_, d, err := c.conn.ReadMessage()
					if err != nil {
						return
					}
					texts <- string(d)
				}
			}()
			next := func(ch chan string, round int, want string) {
				t.Helper()
				select {
				case s, ok := <-ch:
					if !ok || s != want {
						t.Fatalf("round %d: got %q (open %v), want %q", round, s, ok, want)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("round %d: no %q within 5 s", round, want)
				}
			}
			raw := c.conn.NetConn()
			for round := range 140 {
				step := 1 + round%7
				for i := 0; i < len(seq); i += step {
					if _, err := raw.Write(seq[i:min(i+step, len(seq))]); err != nil {
						t.Fatal(err)
					}
				}
				next(texts, round, "pong")
				next(pongs, round, "xyz12")
				next(texts, round, "pong")
			}
			c.conn.Close()
			for range texts {
			}
		})
	}
}

// TestControlFrameCompletedByALaterRead: a pong whose end comes in a later read than its
// header, right after a text frame of the same length. The read that completes it moves the
// buffered bytes to the front of the buffer, so a slice taken before it shows, at the pong's
// old offset, the frame after the pong: read from there, the pong was taken for that frame, a
// ping, and answered with the pong's own payload. Waiting for the text's answer before sending
// the rest makes the split certain.
func TestControlFrameCompletedByALaterRead(t *testing.T) {
	text := frame(true, 0, websocket.TextMessage, []byte("ping"), true)
	pong := frame(true, 0, websocket.PongMessage, []byte("zzzz"), true) // as long as text
	ping := frame(true, 0, websocket.PingMessage, []byte("xyz12"), true)
	for _, poller := range []bool{true, false} {
		t.Run(fmt.Sprintf("poller=%v", poller), func(t *testing.T) {
			e := newEnv(t, proxy.Config{})
			if !poller {
				proxy.WithoutPoller(e.p)
			}
			c := e.dial("u", "split")
			c.next() // welcome
			var got []string
			c.conn.SetPongHandler(func(s string) error { got = append(got, s); return nil })
			raw := c.conn.NetConn()
			if _, err := raw.Write(append(slices.Clone(text), pong[:4]...)); err != nil {
				t.Fatal(err)
			}
			if m := c.next(); m["raw"] != "pong" { // the text is read: the pong's start waits in the buffer
				t.Fatalf("got %v, want pong", m)
			}
			if _, err := raw.Write(append(slices.Clone(pong[4:]), append(ping, text...)...)); err != nil {
				t.Fatal(err)
			}
			if m := c.next(); m["raw"] != "pong" { // the pongs the client received were handled meanwhile
				t.Fatalf("got %v, want pong", m)
			}
			if len(got) != 1 || got[0] != "xyz12" {
				t.Fatalf("pongs received %q, want one answering the ping, \"xyz12\"", got)
			}
		})
	}
}
