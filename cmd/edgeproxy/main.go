// Command edgeproxy runs the Go edge proxy (package proxy): the office-router Worker's twin in
// Go (hub mode, the default) or a validating forwarder (-upstream). Settings: docs/configuration.md.
package main

import (
	"context"
	"flag"
	"io"
	"net"
	"time"

	"github.com/qubital/office-router/internal/cli"
	"github.com/qubital/office-router/internal/serve"
	"github.com/qubital/office-router/issuer"
	"github.com/qubital/office-router/proxy"
	"github.com/qubital/office-router/verifier"
)

func main() { cli.Main("edgeproxy", run) }

var doc = cli.Doc{
	Synopsis: `usage: edgeproxy [flags]

The office-router Worker's twin in Go (hub mode, the default) or a validating forwarder in front
of another router (-upstream). Settings: the environment below and the flags
(docs/configuration.md). -healthcheck GETs /healthz of a running proxy (container HEALTHCHECK).`,
	Env: []cli.Env{
		{Name: "CONN_JWT_PUBLIC_KEY", Meaning: "the issuer's public key(s), PEM; or CONN_JWKS_URL"},
		{Name: "CONN_JWKS_URL", Meaning: "the issuer's JWKS (/.well-known/jwks.json) instead of a PEM"},
		cli.EnvIssuer,
		cli.EnvAudience,
		cli.EnvAllowedOrigins,
		{Name: "JWT_LEEWAY_SECONDS", Meaning: "clock skew allowed on exp/nbf/iat (default 5)"},
		{Name: "JWT_MAX_TTL_SECONDS", Meaning: "largest exp - iat accepted (default 60)"},
		{Name: "TRUSTED_PROXIES", Meaning: "CIDRs whose CF-Connecting-IP / X-Forwarded-For the failed-handshake limiter believes"},
	},
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("edgeproxy", flag.ContinueOnError)
	addr := fs.String("addr", ":8788", "listen address")
	upstream := fs.String("upstream", "", "forward mode: ws:// or wss:// origin of the upstream router")
	forwardToken := fs.Bool("forward-token", false, "forward mode: re-send the client's token upstream instead of identity headers")
	maxMsg := fs.Int64("max-message-bytes", proxy.DefaultMaxMessageBytes, "largest client message (larger: close 1009)")
	perOrg := fs.Int("max-conns-per-org", proxy.DefaultMaxConnsPerOrg, "connections per org (more: 429)")
	perUser := fs.Int("max-conns-per-user", proxy.DefaultMaxConnsPerUser, "connections per user (more: 429)")
	queue := fs.Int("send-queue", proxy.DefaultSendQueue, "per-connection send queue (overflow: close 4008)")
	failures := fs.Float64("failed-handshakes-per-sec", proxy.DefaultFailuresPerSec, "failed handshakes allowed per client IP per second")
	failureBurst := fs.Int("failed-handshakes-burst", proxy.DefaultFailureBurst, "burst of failed handshakes per client IP")
	metricsAddr := fs.String("metrics-addr", "127.0.0.1:9090", `serve /metrics here only (never on -addr); "off" serves none`)
	grace := fs.Duration("shutdown-grace", 10*time.Second, "how long SIGTERM waits for sockets to close")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	jwksRefresh := fs.Duration("jwks-refresh-interval", verifier.DefaultJWKSRefreshInterval, "CONN_JWKS_URL: how often the JWKS is fetched again (the lead a pre-published key needs)")
	jwksUnknown := fs.Duration("jwks-unknown-kid-interval", verifier.DefaultJWKSUnknownKIDInterval, "CONN_JWKS_URL: least time between two fetches caused by unknown kids")
	jwksTimeout := fs.Duration("jwks-timeout", verifier.DefaultJWKSTimeout, "CONN_JWKS_URL: bound of each fetch, and of a handshake waiting for one")
	maxSessionFlag := fs.String("max-session-seconds", "", "close a hub socket with 4001 after this many seconds ±10% (env MAX_SESSION_SECONDS; 0: off; 3600 recommended)")
	health := fs.Bool("healthcheck", false, "GET http://127.0.0.1<-addr>/healthz and exit 0 if it answers 200 (container health check)")
	if done, err := cli.Parse(fs, args, doc, stdout, stderr); done || err != nil {
		return err
	}
	if *health {
		return cli.HealthCheck(ctx, *addr)
	}
	if err := checkLimitFlags(fs); err != nil {
		return err
	}
	maxSession, err := maxSessionSeconds(*maxSessionFlag, getenv)
	if err != nil {
		return err
	}
	logger, err := serve.Logger(*logLevel)
	if err != nil {
		return err
	}
	vcfg, err := verifier.ConfigFromEnv(getenv)
	if err != nil {
		return err
	}
	vcfg.JWKSRefreshInterval, vcfg.JWKSUnknownKIDInterval, vcfg.JWKSTimeout = *jwksRefresh, *jwksUnknown, *jwksTimeout
	v, err := verifier.New(vcfg, verifier.WithLogger(logger))
	if err != nil {
		return err
	}
	defer v.Close()
	// SIGTERM stops JWKS fetches at once: a handshake waiting on one (a new or forged kid while
	// CONN_JWKS_URL hangs) is refused at once instead of holding the shutdown for up to
	// -jwks-timeout, past -shutdown-grace, after which every socket would be cut without 1001.
	// Known kids keep verifying from the cached keys while the shutdown answers what it accepted.
	stopClosing := context.AfterFunc(ctx, func() { _ = v.Close() })
	defer stopClosing()
	trusted, err := proxy.ParseTrustedProxies(getenv("TRUSTED_PROXIES"))
	if err != nil {
		return err
	}
	p, err := proxy.New(proxy.Config{
		AllowedOrigins: issuer.SplitList(getenv("ALLOWED_ORIGINS")), Upstream: *upstream, ForwardToken: *forwardToken,
		MaxMessageBytes: *maxMsg, MaxConnsPerOrg: *perOrg, MaxConnsPerUser: *perUser, SendQueue: *queue,
		FailuresPerSecond: *failures, FailureBurst: *failureBurst, TrustedProxies: trusted,
		MaxSessionSeconds: maxSession,
	}, v, proxy.WithLogger(logger))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	mode := "hub"
	if *upstream != "" {
		mode = "forward"
	}
	logger.Info("edgeproxy listening", "addr", ln.Addr().String(), "mode", mode, "upstream", *upstream)
	msrv, err := serve.Metrics(*metricsAddr, p.MetricsHandler(), logger)
	if err != nil {
		return err
	}
	if msrv != nil {
		defer msrv.Close()
	}
	return serve.HTTP(ctx, ln, p, logger, *grace, p.Shutdown)
}
