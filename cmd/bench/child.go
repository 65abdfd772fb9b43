package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"

	httppprof "net/http/pprof"
	"sync"

	"github.com/gorilla/websocket"

	"github.com/qubital/office-router/internal/serve"
	"github.com/qubital/office-router/proxy"
	"github.com/qubital/office-router/verifier"
)

// runChild serves one kind of server in this (child) process until stdin closes, so that the
// parent can measure its RSS and goroutines alone:
//
//	proxy    the edge proxy in hub mode (limits raised for load)
//	bare     the reference: a bare gorilla server, no auth, one room, same libraries
//	echo     a bare gorilla echo server (forward-mode upstream)
//	forward  the edge proxy in forward mode in front of -upstream
func runChild(kind, addr, upstream string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	var h http.Handler
	switch kind {
	case "proxy", "forward":
		v, err := verifier.New(verifier.Config{PublicKeysPEM: os.Getenv("CONN_JWT_PUBLIC_KEY"), Issuer: benchIssuer, Audience: benchAudience})
		if err != nil {
			return err
		}
		p, err := proxy.New(proxy.Config{Upstream: upstream, ForwardToken: true, MaxConnsPerOrg: 1 << 20,
			MessagesPerSecond: 1e9, MessageBurst: 1 << 30, FailureBurst: 1 << 30}, v,
			proxy.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		if err != nil {
			return err
		}
		h = p
	case "bare":
		h = newBareRoom()
	case "echo":
		h = http.HandlerFunc(echo)
	default:
		return fmt.Errorf("unknown child %q", kind)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/stats", func(w http.ResponseWriter, r *http.Request) {
		runtime.GC()
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		_ = json.NewEncoder(w).Encode(map[string]any{"goroutines": runtime.NumGoroutine(), "heapInuse": ms.HeapInuse, "stackInuse": ms.StackInuse})
	})
	mux.HandleFunc("/debug/heap", func(w http.ResponseWriter, r *http.Request) {
		runtime.GC()
		_ = pprof.Lookup("heap").WriteTo(w, 0)
	})
	mux.HandleFunc("/debug/pprof/profile", httppprof.Profile) // for profiling a figure by hand
	mux.Handle("/", h)
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); os.Exit(0) }() // parent gone: exit
	fmt.Println("ready")
	return serve.NewServer(mux, slog.New(slog.NewTextHandler(io.Discard, nil))).Serve(ln)
}

var bareWelcome = []byte(`{"type":"welcome"}`)

var benchUpgrader = websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 1024, CheckOrigin: func(*http.Request) bool { return true }}

// bareRoom is gorilla's chat example reduced to one room: one reader and one writer goroutine
// per connection, a buffered send channel, JSON in and out like the proxy.
type bareRoom struct {
	mu      sync.RWMutex
	clients map[*bareClient]struct{}
}

type bareClient struct {
	conn *websocket.Conn
	send chan []byte
}

func newBareRoom() *bareRoom { return &bareRoom{clients: map[*bareClient]struct{}{}} }

func (b *bareRoom) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn, err := benchUpgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &bareClient{conn: conn, send: make(chan []byte, 256)}
	b.mu.Lock()
	b.clients[c] = struct{}{}
	b.mu.Unlock()
	c.send <- bareWelcome // the membership signal, as the office-router welcome frame is
	go func() {
		for m := range c.send {
			if c.conn.WriteMessage(websocket.TextMessage, m) != nil {
				break
			}
		}
		c.conn.Close()
	}()
	defer func() {
		b.mu.Lock()
		delete(b.clients, c)
		b.mu.Unlock()
		close(c.send)
	}()
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		var in map[string]json.RawMessage
		if json.Unmarshal(data, &in) != nil {
			continue
		}
		out, _ := json.Marshal(map[string]any{"type": "message", "from": "x", "data": in["data"]})
		b.mu.RLock()
		for o := range b.clients {
			if o != c {
				select {
				case o.send <- out:
				default: // drop for a slow client, as the proxy does (it also closes it)
				}
			}
		}
		b.mu.RUnlock()
	}
}

func echo(w http.ResponseWriter, r *http.Request) {
	conn, err := benchUpgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	for {
		mt, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		if conn.WriteMessage(mt, data) != nil {
			return
		}
	}
}
