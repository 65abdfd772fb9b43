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
func HTTP(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger, grace time.Duration, drains ...func(context.Context) error) error {
	srv := NewServer(h, logger)
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
	err := srv.Shutdown(sctx)
	for _, drain := range drains {
		if derr := drain(sctx); derr != nil && !errors.Is(derr, context.DeadlineExceeded) {
			err = errors.Join(err, derr)
		}
	}
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) && e != nil {
		return e
	}
	return err
}

// Logger builds the JSON slog logger of every binary.
func Logger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}
