// Command issuer serves the office-router token service (package issuer).
//
//	issuer -addr :8080            # production: settings from the environment (docs/configuration.md)
//	issuer -dev -write-public-key .dev/public.pem   # local: no WorkOS, ephemeral keys
//	issuer -dev -dev-key-file .dev/dev-private.pem  # local, with a dev key shared with the routers
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/qubital/office-router/internal/cli"
	"github.com/qubital/office-router/internal/serve"
	"github.com/qubital/office-router/issuer"
)

func main() { cli.Main("issuer", run, cli.ListJoinedErrors) }

var doc = cli.Doc{
	Synopsis: `usage: issuer [flags]

Serves the office-router token service: POST /api/v1/cloudflare/request-access (handshake
tokens), /api/v1/realtime/token, /.well-known/jwks.json, /healthz. Settings come from the
environment (docs/configuration.md); every missing or bad variable is reported at once.
-healthcheck GETs /healthz of a running issuer (for a container HEALTHCHECK).`,
	Env: []cli.Env{
		{Name: "JWT_PRIVATE_KEY", Meaning: "RSA >= 2048 signing key, PEM (or JWT_PRIVATE_KEY_FILE); required unless -dev"},
		{Name: "JWT_PRIVATE_KEY_FILE", Meaning: "path of the signing key, instead of JWT_PRIVATE_KEY"},
		{Name: "JWT_PREVIOUS_PUBLIC_KEYS", Meaning: "retired public keys kept in the JWKS after a rotation"},
		{Name: "JWT_NEXT_PUBLIC_KEYS", Meaning: "the next signing keys, published in the JWKS before the switch (docs/operations.md)"},
		cli.EnvIssuer,
		cli.EnvAudience,
		{Name: "WEBSOCKET_BASE_URL", Meaning: "ws:// or wss:// base of the router; the org URL is {base}/orgs/{orgId}/ws"},
		{Name: "WORKOS_JWKS_URL", Meaning: "JWKS of your WorkOS environment; required unless -dev"},
		{Name: "WORKOS_ISSUER", Meaning: "iss of your WorkOS access tokens; required unless -dev"},
		{Name: "WORKOS_CLIENT_ID", Meaning: "when set, an access token's aud and client_id, where present, must name it"},
		{Name: "MINTS_PER_SECOND", Meaning: "per-user token budget (default 2); over it 429 rate_limited"},
		{Name: "MINT_BURST", Meaning: "per-user burst (default 20)"},
		{Name: "TRUSTED_PROXIES", Meaning: "CIDRs whose CF-Connecting-IP / X-Forwarded-For the failed-access-token limiter believes"},
		{Name: "SUPABASE_JWT_SECRET", Meaning: ">= 32 bytes, for /api/v1/realtime/token (optional)"},
		cli.EnvAllowedOrigins,
	},
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("issuer", flag.ContinueOnError)
	addr := fs.String("addr", ":8080", "listen address")
	dev := fs.Bool("dev", false, "dev mode: local identity provider, generated keys and defaults (never in production)")
	pubOut := fs.String("write-public-key", "", "write the signing public key as PEM to this file (for CONN_JWT_PUBLIC_KEY)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	metricsAddr := fs.String("metrics-addr", "127.0.0.1:9091", `serve /metrics here only (never on -addr); "off" serves none`)
	devKeyFile := fs.String("dev-key-file", "", "-dev only: sign with this PEM key instead of a generated one (the dev stack shares it with its routers)")
	health := fs.Bool("healthcheck", false, "GET http://127.0.0.1<-addr>/healthz and exit 0 if it answers 200 (container health check)")
	if done, err := cli.Parse(fs, args, doc, stdout, stderr); done || err != nil {
		return err
	}
	if *health {
		return cli.HealthCheck(ctx, *addr)
	}
	logger, err := serve.Logger(*logLevel)
	if err != nil {
		return err
	}
	cfg := issuer.ConfigFromEnv(getenv)
	cfg.Dev = *dev
	if *devKeyFile != "" && !*dev {
		return errors.New("-dev-key-file is only for -dev") // the flags' names; issuer.New names Config fields
	}
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
		fmt.Fprintln(stderr, issuer.DevBanner)
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
