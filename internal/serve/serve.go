// Package serve runs an HTTP server with the timeouts and graceful shutdown every office-router
// binary uses.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// Server timeouts. ReadHeaderTimeout closes slowloris clients; WriteTimeout is left to the
// handlers because WebSocket connections are long-lived.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 15 * time.Second
	IdleTimeout       = 60 * time.Second
	MaxHeaderBytes    = 16 << 10
)

// NewServer returns an http.Server with office-router's limits.
func NewServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
}

// HTTP serves h on ln until ctx ends, then stops accepting and, within grace, waits for
// requests in flight and runs each drain (e.g. closing hijacked WebSockets with 1001).
//
// Shutdown closes the listener first and lets every connection already accepted send its first
// request before http.Server.Shutdown begins: net/http drops, without an answer, any request it
// reads once Shutdown has begun (so that a keep-alive client retries it), which would cut a
// WebSocket handshake whose TCP connection the server had accepted but whose GET had not been
// read yet (the client sees EOF before any answer; browsers do not retry a handshake).
func HTTP(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger, grace time.Duration, drains ...func(context.Context) error) error {
	srv := NewServer(h, logger)
	fresh := newFreshConns()
	srv.ConnState = fresh.track
	ln = &closeOnceListener{Listener: ln}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down", "grace", grace.String())
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	lerr := ln.Close()
	serr := <-errc // Serve has returned: every accepted connection is tracked by now
	if errors.Is(serr, net.ErrClosed) {
		serr = nil
	}
	fresh.wait(sctx) // each ends within ReadHeaderTimeout: its request is read, or it is closed
	err := srv.Shutdown(sctx)
	for _, drain := range drains {
		if derr := drain(sctx); derr != nil && !errors.Is(derr, context.DeadlineExceeded) {
			err = errors.Join(err, derr)
		}
	}
	if serr != nil {
		return serr
	}
	if lerr != nil && !errors.Is(lerr, net.ErrClosed) {
		err = errors.Join(err, lerr)
	}
	return err
}

// closeOnceListener lets HTTP close the listener that Serve also closes when it returns.
type closeOnceListener struct {
	net.Listener
	once sync.Once
	err  error
}

func (l *closeOnceListener) Close() error {
	l.once.Do(func() { l.err = l.Listener.Close() })
	return l.err
}

// freshConns is the set of connections accepted whose first request has not been read yet
// (http.StateNew), fed by http.Server.ConnState.
type freshConns struct {
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	changed chan struct{} // closed and replaced whenever a connection leaves the set
}

func newFreshConns() *freshConns {
	return &freshConns{conns: map[net.Conn]struct{}{}, changed: make(chan struct{})}
}

func (f *freshConns) track(c net.Conn, st http.ConnState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st == http.StateNew {
		f.conns[c] = struct{}{}
		return
	}
	if _, ok := f.conns[c]; ok {
		delete(f.conns, c)
		close(f.changed)
		f.changed = make(chan struct{})
	}
}

// wait returns once no connection is fresh, or when ctx ends.
func (f *freshConns) wait(ctx context.Context) {
	for {
		f.mu.Lock()
		n, changed := len(f.conns), f.changed
		f.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}

// Logger builds the JSON slog logger of every binary.
func Logger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}
