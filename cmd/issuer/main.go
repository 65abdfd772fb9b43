// Command issuer serves the office-router token service (package issuer).
//
//	issuer -addr :8080            # production: settings from the environment (docs/configuration.md)
//	issuer -dev -write-public-key .dev/public.pem   # local: no WorkOS, ephemeral keys
//	issuer -dev -dev-key-file .dev/dev-private.pem  # local, with a dev key shared with the routers
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/qubital/office-router/internal/serve"
	"github.com/qubital/office-router/issuer"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "issuer:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet("issuer", flag.ContinueOnError)
	addr := fs.String("addr", ":8080", "listen address")
	dev := fs.Bool("dev", false, "dev mode: local identity provider, generated keys and defaults (never in production)")
	pubOut := fs.String("write-public-key", "", "write the signing public key as PEM to this file (for CONN_JWT_PUBLIC_KEY)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	metricsAddr := fs.String("metrics-addr", "127.0.0.1:9091", `serve /metrics here only (never on -addr); "off" serves none`)
	devKeyFile := fs.String("dev-key-file", "", "-dev only: sign with this PEM key instead of a generated one (the dev stack shares it with its routers)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger, err := serve.Logger(*logLevel)
	if err != nil {
		return err
	}
	cfg := issuer.ConfigFromEnv(getenv)
	cfg.Dev = *dev
	if *devKeyFile != "" {
		b, err := os.ReadFile(*devKeyFile)
		if err != nil {
			return fmt.Errorf("-dev-key-file: %w", err)
		}
		cfg.DevPrivateKeyPEM = string(b)
	}
	srv, err := issuer.New(cfg, issuer.WithLogger(logger))
	if err != nil {
		return err
	}
	defer srv.Close()
	// SIGTERM stops WorkOS JWKS fetches at once, so that a caller waiting on one (a new kid while
	// WorkOS hangs) does not hold the shutdown for the fetch's 10 s, the whole grace.
	stopClosing := context.AfterFunc(ctx, func() { _ = srv.Close() })
	defer stopClosing()
	if *dev {
		fmt.Fprintln(os.Stderr, issuer.DevBanner)
	}
	if *pubOut != "" {
		if err := os.WriteFile(*pubOut, srv.PublicKeyPEM(), 0o644); err != nil {
			return fmt.Errorf("-write-public-key: %w", err)
		}
	}
	msrv, err := serve.Metrics(*metricsAddr, srv.MetricsHandler(), logger)
	if err != nil {
		return err
	}
	if msrv != nil {
		defer msrv.Close()
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	logger.Info("issuer listening", "addr", ln.Addr().String(), "dev", *dev)
	return serve.HTTP(ctx, ln, srv, logger, 10*time.Second)
}
