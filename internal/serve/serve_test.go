package serve_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/qubital/office-router/internal/serve"
)

// signalListener reports each connection it accepts.
type signalListener struct {
	net.Listener
	accepted chan struct{}
}

func (l signalListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted <- struct{}{}
	}
	return c, err
}

// TestShutdownAnswersAcceptedConnections: a connection the server accepted before shutdown
// began, whose request arrives after it began (a WebSocket handshake between connect and GET
// when SIGTERM lands), gets an answer. net/http drops a request read once Server.Shutdown has
// begun, closing the connection with no answer: the client saw EOF (edgeproxy on SIGTERM).
func TestShutdownAnswersAcceptedConnections(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := signalListener{Listener: inner, accepted: make(chan struct{}, 16)}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "answered") })
	done := make(chan error, 1)
	go func() { done <- serve.HTTP(ctx, ln, h, slog.New(slog.DiscardHandler), 5*time.Second) }()

	c, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	<-ln.accepted
	cancel()
	// Shutdown has begun once the listener refuses connections.
	deadline := time.Now().Add(5 * time.Second)
	for {
		probe, err := net.DialTimeout("tcp", inner.Addr().String(), time.Second)
		if err != nil {
			break
		}
		_ = probe.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listener still accepts after shutdown began")
		}
		select {
		case <-ln.accepted:
		case <-time.After(time.Millisecond):
		}
	}
	if _, err := fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("request of a connection accepted before shutdown: %v, want an answer", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != "answered" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	if err := <-done; err != nil {
		t.Fatalf("serve.HTTP: %v", err)
	}
}
