// Command devstack runs the whole office-router stack locally with generated dev keys: the
// issuer in dev mode, the Worker under `wrangler dev` (npm dependencies installed on first run)
// and the Go edge proxy in hub mode. Ctrl-C stops everything, wrangler's workerd included.
//
//	go run ./cmd/devstack            # or: make dev
//	go run ./cmd/devstack -no-worker # without Node: issuer + Go proxy
package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/qubital/office-router/internal/cli"
	"github.com/qubital/office-router/internal/httpx"
	"github.com/qubital/office-router/internal/rsakey"
	"github.com/qubital/office-router/internal/serve"
	"github.com/qubital/office-router/internal/stack"
	"github.com/qubital/office-router/issuer"
	"github.com/qubital/office-router/proxy"
	"github.com/qubital/office-router/verifier"
)

func main() {
	// `go run` and an IDE's stop button SIGTERM the parent only: die with it.
	_ = stack.DieWithParent(syscall.SIGTERM)
	cli.Main("devstack", run)
}

var doc = cli.Doc{
	Synopsis: `usage: devstack [flags]        (make dev; make dev ORIGINS=http://localhost:5173 V=1)

Runs the whole office-router stack locally with fresh dev keys: the issuer in dev mode (demo page
at /), the Worker under wrangler dev and the Go edge proxy. Ctrl-C or SIGTERM stops everything,
wrangler's workerd included; so does the death of its parent (Linux).

Logs: one line per refused request of the issuer, the Worker and the Go proxy by default
(router, reason, user and org when known, never the token); -v shows every server's own log
instead, wrangler's included.`,
	Env: []cli.Env{
		{Name: "ALLOWED_ORIGINS", Meaning: "extra browser origins, as -origins (the flag wins)"},
	},
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("devstack", flag.ContinueOnError)
	issuerAddr := fs.String("issuer-addr", "127.0.0.1:8080", "issuer listen address (also serves the demo page)")
	workerPort := fs.Int("worker-port", 8787, "wrangler dev port")
	proxyAddr := fs.String("proxy-addr", "127.0.0.1:8788", "Go edge proxy listen address")
	noWorker := fs.Bool("no-worker", false, "run without Node: issuer + Go edge proxy only")
	dir := fs.String("dir", ".dev", "where the dev keys and wrangler state go")
	extraOrigins := fs.String("origins", getenv("ALLOWED_ORIGINS"), "extra allowed browser origins, comma list (e.g. http://app.test:3000, https://*.example.com); http://localhost:* and http://127.0.0.1:* are always allowed in dev")
	verbose := fs.Bool("v", false, "also show every server's own log (wrangler's included)")
	if done, err := cli.Parse(fs, args, doc, stdout, stderr); done || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		cli.PrintUsage(stderr, fs, doc)
		return fmt.Errorf("%w: unexpected argument %q", cli.ErrUsage, fs.Arg(0))
	}
	root, err := stack.RepoRoot()
	if err != nil {
		return err
	}
	devDir := *dir
	if !filepath.IsAbs(devDir) {
		devDir = filepath.Join(root, devDir)
	}
	if err := os.MkdirAll(devDir, 0o755); err != nil {
		return err
	}
	// Dev mode only: any port of localhost, so an app on its own dev server (Vite's :5173) works.
	origins := []string{"http://" + *issuerAddr, "http://localhost:*", "http://127.0.0.1:*"}
	extra := issuer.SplitList(*extraOrigins)
	if _, err := httpx.ParseOrigins(extra); err != nil {
		return fmt.Errorf("-origins: %w", err)
	}
	origins = append(origins, extra...)

	// Fail fast, naming the holder, when a port is taken: a stale Worker from a killed stack
	// would answer /healthz and the stack would come up against it.
	ports := []string{*issuerAddr, *proxyAddr}
	if !*noWorker {
		ports = append(ports, fmt.Sprintf("127.0.0.1:%d", *workerPort))
	}
	for _, a := range ports {
		if err := stack.CheckPortFree(a); err != nil {
			return fmt.Errorf("%w (another stack? stop it, or pick other ports: -issuer-addr, -proxy-addr, -worker-port)", err)
		}
	}
	logOut := io.Discard
	if *verbose {
		logOut = stderr
	}
	logger := slog.New(slog.NewTextHandler(logOut, nil))
	refusals := &refusalLog{out: stderr}
	var wranglerOut io.Writer = &workerRefusals{log: refusals}
	if *verbose {
		wranglerOut = stderr
	}

	// A fresh dev key pair every run: nothing to fetch, nothing secret to keep.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	privPEM, _ := rsakey.EncodePrivateKeyPEM(key)
	pubPEM, _ := rsakey.EncodePublicKeyPEM(&key.PublicKey)
	privFile, pubFile := filepath.Join(devDir, "dev-private.pem"), filepath.Join(devDir, "dev-public.pem")
	if err := os.WriteFile(privFile, privPEM, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(pubFile, pubPEM, 0o644); err != nil {
		return err
	}

	wsBase := fmt.Sprintf("ws://127.0.0.1:%d", *workerPort)
	if *noWorker {
		wsBase = "ws://" + *proxyAddr
	}
	iss, err := issuer.New(issuer.Config{Dev: true, DevPrivateKeyPEM: string(privPEM), WebSocketBaseURL: wsBase, AllowedOrigins: origins},
		issuer.WithLogger(logger))
	if err != nil {
		return err
	}
	defer iss.Close()
	routes := demoRoutes(root, *issuerAddr, *workerPort, *proxyAddr, *noWorker)
	for path, h := range routes {
		iss.Handle(http.MethodGet, path, h)
	}

	v, err := verifier.New(verifier.Config{PublicKeysPEM: string(pubPEM), Issuer: issuer.DevIssuer, Audience: issuer.DevAudience}, verifier.WithLogger(logger))
	if err != nil {
		return err
	}
	defer v.Close()
	px, err := proxy.New(proxy.Config{AllowedOrigins: origins}, v, proxy.WithLogger(logger))
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 3)
	serveOn := func(addr, name string, h http.Handler) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s: %w (is another stack running? see -%s)", name, err, name+"-addr")
		}
		go func() { errc <- serve.HTTP(ctx, ln, refusals.wrap(name, h), logger, 5*time.Second) }()
		return nil
	}
	if err := serveOn(*issuerAddr, "issuer", iss); err != nil {
		return err
	}
	if err := serveOn(*proxyAddr, "proxy", px); err != nil {
		return err
	}
	defer func() {
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		_ = px.Shutdown(sctx)
	}()

	var wr *stack.Proc
	if !*noWorker {
		fmt.Fprintln(stderr, "starting wrangler dev (first run installs the Worker's npm dependencies)…")
		if err := stack.EnsureNodeModules(ctx, root, stderr); err != nil {
			return err
		}
		state := filepath.Join(devDir, "wrangler-state")
		_ = os.RemoveAll(state)
		// LogLevel "log": the Worker's console.log events, from which wranglerOut picks the refusals.
		wr, err = stack.Wrangler(stack.WranglerOptions{Root: root, Port: *workerPort, PersistTo: state, LogLevel: "log", Vars: map[string]string{
			"CONN_JWT_PUBLIC_KEY": string(pubPEM), "JWT_ISSUER": issuer.DevIssuer, "JWT_AUDIENCE": issuer.DevAudience,
			"ALLOWED_ORIGINS": strings.Join(origins, ","),
		}}, wranglerOut)
		if err != nil {
			return err
		}
		defer func() {
			fmt.Fprintln(stderr, "stopping wrangler dev…")
			_ = wr.Stop(10 * time.Second)
		}()
		wctx, wcancel := context.WithTimeout(ctx, 2*time.Minute)
		err := stack.WaitHealthy(wctx, fmt.Sprintf("http://127.0.0.1:%d/healthz", *workerPort), wr)
		wcancel()
		if err != nil {
			return err
		}
	}
	for _, u := range []string{"http://" + *issuerAddr + "/healthz", "http://" + *proxyAddr + "/healthz"} {
		hctx, hcancel := context.WithTimeout(ctx, 10*time.Second)
		err := stack.WaitHealthy(hctx, u, nil)
		hcancel()
		if err != nil {
			return err
		}
	}

	rel := func(p string) string {
		if r, err := filepath.Rel(root, p); err == nil {
			return r
		}
		return p
	}
	fmt.Fprintf(stdout, "\noffice-router local stack is up (Ctrl-C stops everything)\n\n")
	fmt.Fprintf(stdout, "  issuer       http://%s      dev mode: POST /dev/session, demo page at /\n", *issuerAddr)
	if !*noWorker {
		fmt.Fprintf(stdout, "  worker       ws://127.0.0.1:%d      wrangler dev (workerd), the issuer's default router\n", *workerPort)
	}
	fmt.Fprintf(stdout, "  edge proxy   ws://%s      Go, hub mode\n", *proxyAddr)
	fmt.Fprintf(stdout, "  dev keys     %s, %s (fresh each run)\n", rel(privFile), rel(pubFile))
	fmt.Fprintf(stdout, "  origins      %s\n", strings.Join(origins, ", "))
	fmt.Fprintf(stdout, "  logs         one line per refused request; -v (make dev V=1) for every server log\n\n")
	router := fmt.Sprintf("http://127.0.0.1:%d", *workerPort)
	if *noWorker {
		router = "http://" + *proxyAddr
	}
	fmt.Fprintf(stdout, "Try:\n  go run ./cmd/wsharness connect -issuer http://%s -user alice -org acme\n", *issuerAddr)
	fmt.Fprintf(stdout, "  go run ./cmd/wsharness check -issuer http://%s -router %s -key %s\n", *issuerAddr, router, rel(privFile))
	fmt.Fprintf(stdout, "  open http://%s/ in two tabs\n\n", *issuerAddr)

	var exited <-chan struct{}
	if wr != nil {
		exited = wr.Exited()
	}
	select {
	case <-ctx.Done():
		fmt.Fprintln(stderr, "\nshutting down…")
		return nil // Ctrl-C is how a dev stack ends: exit 0, so make prints no error
	case err := <-errc:
		return err
	case <-exited:
		return errors.New("wrangler dev exited:\n" + wr.Output())
	}
}
