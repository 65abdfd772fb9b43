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
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/qubital/office-router/internal/rsakey"
	"github.com/qubital/office-router/internal/serve"
	"github.com/qubital/office-router/internal/stack"
	"github.com/qubital/office-router/issuer"
	"github.com/qubital/office-router/proxy"
	"github.com/qubital/office-router/verifier"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "devstack:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("devstack", flag.ContinueOnError)
	issuerAddr := fs.String("issuer-addr", "127.0.0.1:8080", "issuer listen address (also serves the demo page)")
	workerPort := fs.Int("worker-port", 8787, "wrangler dev port")
	proxyAddr := fs.String("proxy-addr", "127.0.0.1:8788", "Go edge proxy listen address")
	noWorker := fs.Bool("no-worker", false, "run without Node: issuer + Go edge proxy only")
	dir := fs.String("dir", ".dev", "where the dev keys and wrangler state go")
	verbose := fs.Bool("v", false, "show the servers' logs")
	if err := fs.Parse(args); err != nil {
		return err
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
	logOut := io.Discard
	if *verbose {
		logOut = stderr
	}
	logger := slog.New(slog.NewTextHandler(logOut, nil))

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

	origins := []string{"http://" + *issuerAddr, fmt.Sprintf("http://localhost:%s", portOf(*issuerAddr))}
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
		go func() { errc <- serve.HTTP(ctx, ln, h, logger, 5*time.Second) }()
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
		wr, err = stack.Wrangler(stack.WranglerOptions{Root: root, Port: *workerPort, PersistTo: state, Vars: map[string]string{
			"CONN_JWT_PUBLIC_KEY": string(pubPEM), "JWT_ISSUER": issuer.DevIssuer, "JWT_AUDIENCE": issuer.DevAudience,
			"ALLOWED_ORIGINS": origins[0] + "," + origins[1],
		}}, logOut)
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
	fmt.Fprintf(stdout, "  dev keys     %s, %s (fresh each run)\n\n", rel(privFile), rel(pubFile))
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
		return nil
	case err := <-errc:
		return err
	case <-exited:
		return errors.New("wrangler dev exited:\n" + wr.Output())
	}
}

func portOf(addr string) string {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return p
}
