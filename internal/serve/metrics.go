package serve

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
)

// MetricsOff is the -metrics-addr value that serves no metrics at all.
const MetricsOff = "off"

// Metrics serves h (a Prometheus handler) at /metrics, and nothing else, on its own listener at
// addr, so that metrics never share the public port (docs/security.md). addr "off" serves
// nothing and returns a nil server. srv.Addr is the bound address. The caller owns the returned server: Close stops it, and
// the goroutine serving it ends then.
func Metrics(addr string, h http.Handler, logger *slog.Logger) (*http.Server, error) {
	if addr == MetricsOff {
		return nil, nil
	}
	if addr == "" {
		return nil, errors.New(`-metrics-addr: empty (use "off" to serve no metrics)`)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := NewServer(mux, logger)
	srv.Addr = ln.Addr().String() // for the caller; Serve uses ln
	go func() { _ = srv.Serve(ln) }()
	logger.Info("metrics listening", "addr", ln.Addr().String())
	return srv, nil
}
