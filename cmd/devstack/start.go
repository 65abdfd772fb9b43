package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/qubital/office-router/internal/httpx"
	"github.com/qubital/office-router/internal/rsakey"
	"github.com/qubital/office-router/internal/serve"
	"github.com/qubital/office-router/internal/stack"
	"github.com/qubital/office-router/issuer"
	"github.com/qubital/office-router/proxy"
	"github.com/qubital/office-router/verifier"
)

// devStack is what the stack's steps share once the flags are read.
type devStack struct {
	f        devFlags
	root     string   // the repository
	devDir   string   // -dir, absolute
	origins  []string // allowed browser origins, the same on the three servers
	logger   *slog.Logger
	refusals *refusalLog
	stderr   io.Writer
	wrangler io.Writer // where wrangler's output goes: its refusals, or all of it with -v
	keys     devKeys
}

// devKeys is the run's dev key pair, as PEM and as the files the stack writes.
type devKeys struct {
	privPEM, pubPEM   []byte
	privFile, pubFile string
}

// prepare does what comes before any server: the -dir, the origins, the ports, the logs and a
// fresh key pair.
func prepare(f devFlags, stderr io.Writer) (*devStack, error) {
	root, err := stack.RepoRoot()
	if err != nil {
		return nil, err
	}
	s := &devStack{f: f, root: root, devDir: f.dir, stderr: stderr}
	if !filepath.IsAbs(s.devDir) {
		s.devDir = filepath.Join(root, s.devDir)
	}
	if err := os.MkdirAll(s.devDir, 0o755); err != nil {
		return nil, err
	}
	// Dev mode only: any port of localhost, so an app on its own dev server (Vite's :5173) works.
	s.origins = []string{"http://" + f.issuerAddr, "http://localhost:*", "http://127.0.0.1:*"}
	extra := issuer.SplitList(f.extraOrigins)
	if _, err := httpx.ParseOrigins(extra); err != nil {
		return nil, fmt.Errorf("-origins: %w", err)
	}
	s.origins = append(s.origins, extra...)
	if err := f.checkPorts(); err != nil {
		return nil, err
	}
	logOut := io.Discard
	if f.verbose {
		logOut = stderr
	}
	s.logger = slog.New(slog.NewTextHandler(logOut, nil))
	s.refusals = &refusalLog{out: stderr}
	s.wrangler = &workerRefusals{log: s.refusals}
	if f.verbose {
		s.wrangler = stderr
	}
	if s.keys, err = writeKeys(s.devDir); err != nil {
		return nil, err
	}
	return s, nil
}

// checkPorts fails fast, naming the holder, when a port is taken: a stale Worker from a killed
// stack would answer /healthz and the stack would come up against it.
func (f devFlags) checkPorts() error {
	ports := []string{f.issuerAddr, f.proxyAddr}
	if !f.noWorker {
		ports = append(ports, fmt.Sprintf("127.0.0.1:%d", f.workerPort))
	}
	for _, a := range ports {
		if err := stack.CheckPortFree(a); err != nil {
			return fmt.Errorf("%w (another stack? stop it, or pick other ports: -issuer-addr, -proxy-addr, -worker-port)", err)
		}
	}
	return nil
}

// writeKeys makes a fresh dev key pair every run (nothing to fetch, nothing secret to keep) and
// writes it to dir, where wsharness check and a developer's own router find it.
func writeKeys(dir string) (devKeys, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return devKeys{}, err
	}
	k := devKeys{privFile: filepath.Join(dir, "dev-private.pem"), pubFile: filepath.Join(dir, "dev-public.pem")}
	k.privPEM, _ = rsakey.EncodePrivateKeyPEM(key)
	k.pubPEM, _ = rsakey.EncodePublicKeyPEM(&key.PublicKey)
	if err := os.WriteFile(k.privFile, k.privPEM, 0o600); err != nil {
		return devKeys{}, err
	}
	if err := os.WriteFile(k.pubFile, k.pubPEM, 0o644); err != nil {
		return devKeys{}, err
	}
	return k, nil
}

// newIssuer is the dev-mode issuer with the run's key, whose default router is the Worker (the
// Go proxy with -no-worker), serving the demo page too.
func (s *devStack) newIssuer() (*issuer.Server, error) {
	wsBase := fmt.Sprintf("ws://127.0.0.1:%d", s.f.workerPort)
	if s.f.noWorker {
		wsBase = "ws://" + s.f.proxyAddr
	}
	iss, err := issuer.New(issuer.Config{Dev: true, DevPrivateKeyPEM: string(s.keys.privPEM), WebSocketBaseURL: wsBase, AllowedOrigins: s.origins},
		issuer.WithLogger(s.logger))
	if err != nil {
		return nil, err
	}
	for path, h := range demoRoutes(s.root, s.f.issuerAddr, s.f.workerPort, s.f.proxyAddr, s.f.noWorker) {
		iss.Handle(http.MethodGet, path, h)
	}
	return iss, nil
}

// newProxy is the Go edge proxy in hub mode trusting the run's key, and its verifier (the
// caller closes it).
func (s *devStack) newProxy() (*verifier.Verifier, *proxy.Proxy, error) {
	v, err := verifier.New(verifier.Config{PublicKeysPEM: string(s.keys.pubPEM), Issuer: issuer.DevIssuer, Audience: issuer.DevAudience}, verifier.WithLogger(s.logger))
	if err != nil {
		return nil, nil, err
	}
	px, err := proxy.New(proxy.Config{AllowedOrigins: s.origins}, v, proxy.WithLogger(s.logger))
	if err != nil {
		_ = v.Close()
		return nil, nil, err
	}
	return v, px, nil
}

// serveOn serves h on addr until ctx ends, logging its refusals; the server's end goes to errc.
func (s *devStack) serveOn(ctx context.Context, errc chan<- error, addr, name string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s: %w (is another stack running? see -%s)", name, err, name+"-addr")
	}
	go func() { errc <- serve.HTTP(ctx, ln, s.refusals.wrap(name, h), s.logger, 5*time.Second) }()
	return nil
}

// startWorker starts wrangler dev with the run's key and origins (unless -no-worker) and waits
// for its /healthz. It returns the process whenever it started, also with an error: the
// caller stops it.
func (s *devStack) startWorker(ctx context.Context) (*stack.Proc, error) {
	if s.f.noWorker {
		return nil, nil
	}
	fmt.Fprintln(s.stderr, "starting wrangler dev (first run installs the Worker's npm dependencies)…")
	if err := stack.EnsureNodeModules(ctx, s.root, s.stderr); err != nil {
		return nil, err
	}
	state := filepath.Join(s.devDir, "wrangler-state")
	_ = os.RemoveAll(state)
	// LogLevel "log": the Worker's console.log events, from which s.wrangler picks the refusals.
	wr, err := stack.Wrangler(stack.WranglerOptions{Root: s.root, Port: s.f.workerPort, PersistTo: state, LogLevel: "log", Vars: map[string]string{
		"CONN_JWT_PUBLIC_KEY": string(s.keys.pubPEM), "JWT_ISSUER": issuer.DevIssuer, "JWT_AUDIENCE": issuer.DevAudience,
		"ALLOWED_ORIGINS": strings.Join(s.origins, ","),
	}}, s.wrangler)
	if err != nil {
		return nil, err
	}
	wctx, wcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer wcancel()
	return wr, stack.WaitHealthy(wctx, fmt.Sprintf("http://127.0.0.1:%d/healthz", s.f.workerPort), wr)
}

// waitGoHealthy waits for the issuer's and the proxy's /healthz.
func (s *devStack) waitGoHealthy(ctx context.Context) error {
	for _, u := range []string{"http://" + s.f.issuerAddr + "/healthz", "http://" + s.f.proxyAddr + "/healthz"} {
		hctx, hcancel := context.WithTimeout(ctx, 10*time.Second)
		err := stack.WaitHealthy(hctx, u, nil)
		hcancel()
		if err != nil {
			return err
		}
	}
	return nil
}

// printBanner tells what runs where and what to try.
func (s *devStack) printBanner(stdout io.Writer) {
	f := s.f
	rel := func(p string) string {
		if r, err := filepath.Rel(s.root, p); err == nil {
			return r
		}
		return p
	}
	fmt.Fprintf(stdout, "\noffice-router local stack is up (Ctrl-C stops everything)\n\n")
	fmt.Fprintf(stdout, "  issuer       http://%s      dev mode: POST /dev/session, demo page at /\n", f.issuerAddr)
	if !f.noWorker {
		fmt.Fprintf(stdout, "  worker       ws://127.0.0.1:%d      wrangler dev (workerd), the issuer's default router\n", f.workerPort)
	}
	fmt.Fprintf(stdout, "  edge proxy   ws://%s      Go, hub mode\n", f.proxyAddr)
	fmt.Fprintf(stdout, "  dev keys     %s, %s (fresh each run)\n", rel(s.keys.privFile), rel(s.keys.pubFile))
	fmt.Fprintf(stdout, "  origins      %s\n", strings.Join(s.origins, ", "))
	fmt.Fprintf(stdout, "  logs         one line per refused request; -v (make dev V=1) for every server log\n\n")
	router := fmt.Sprintf("http://127.0.0.1:%d", f.workerPort)
	if f.noWorker {
		router = "http://" + f.proxyAddr
	}
	fmt.Fprintf(stdout, "Try:\n  go run ./cmd/wsharness connect -issuer http://%s -user alice -org acme\n", f.issuerAddr)
	fmt.Fprintf(stdout, "  go run ./cmd/wsharness check -issuer http://%s -router %s -key %s\n", f.issuerAddr, router, rel(s.keys.privFile))
	fmt.Fprintf(stdout, "  open http://%s/ in two tabs\n\n", f.issuerAddr)
}

// wait runs until Ctrl-C, a server's failure or wrangler's exit.
func (s *devStack) wait(ctx context.Context, errc <-chan error, wr *stack.Proc) error {
	var exited <-chan struct{}
	if wr != nil {
		exited = wr.Exited()
	}
	select {
	case <-ctx.Done():
		fmt.Fprintln(s.stderr, "\nshutting down…")
		return nil // Ctrl-C is how a dev stack ends: exit 0, so make prints no error
	case err := <-errc:
		return err
	case <-exited:
		return errors.New("wrangler dev exited:\n" + wr.Output())
	}
}
