// Command devstack runs the whole office-router stack locally with generated dev keys: the
// issuer in dev mode, the Worker under `wrangler dev` (npm dependencies installed on first run)
// and the Go edge proxy in hub mode. Ctrl-C stops everything, wrangler's workerd included.
//
//	go run ./cmd/devstack            # or: make dev
//	go run ./cmd/devstack -no-worker # without Node: issuer + Go proxy
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"syscall"
	"time"

	"github.com/qubital/office-router/internal/cli"
	"github.com/qubital/office-router/internal/stack"
)

func main() {
	// `go run` and an IDE's stop button SIGTERM the parent only: die with it.
	_ = stack.DieWithParent(syscall.SIGTERM)
	cli.Main("devstack", func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
		err := run(ctx, args, getenv, stdout, stderr)
		// Ctrl-C reached make too: exit after make has taken it (GNU make 4.3 race, see there).
		stack.AwaitParentSignal(syscall.SIGINT, 2*time.Second)
		return err
	})
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
	f, done, err := parseFlags(args, getenv, stdout, stderr)
	if done || err != nil {
		return err
	}
	s, err := prepare(f, stderr)
	if err != nil {
		return err
	}
	iss, err := s.newIssuer()
	if err != nil {
		return err
	}
	defer iss.Close()
	v, px, err := s.newProxy()
	if err != nil {
		return err
	}
	defer v.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 3)
	if err := s.serveOn(ctx, errc, f.issuerAddr, "issuer", iss); err != nil {
		return err
	}
	if err := s.serveOn(ctx, errc, f.proxyAddr, "proxy", px); err != nil {
		return err
	}
	defer func() {
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		_ = px.Shutdown(sctx)
	}()
	wr, err := s.startWorker(ctx)
	if wr != nil {
		defer func() {
			fmt.Fprintln(stderr, "stopping wrangler dev…")
			_ = wr.Stop(10 * time.Second)
		}()
	}
	if err != nil {
		return err
	}
	if err := s.waitGoHealthy(ctx); err != nil {
		return err
	}
	s.printBanner(stdout)
	return s.wait(ctx, errc, wr)
}

// devFlags are devstack's flags.
type devFlags struct {
	issuerAddr, proxyAddr string
	workerPort            int
	noWorker, verbose     bool
	dir, extraOrigins     string
}

// parseFlags parses the command line; done means -h or -version was answered.
func parseFlags(args []string, getenv func(string) string, stdout, stderr io.Writer) (devFlags, bool, error) {
	var f devFlags
	fs := flag.NewFlagSet("devstack", flag.ContinueOnError)
	fs.StringVar(&f.issuerAddr, "issuer-addr", "127.0.0.1:8080", "issuer listen address (also serves the demo page)")
	fs.IntVar(&f.workerPort, "worker-port", 8787, "wrangler dev port")
	fs.StringVar(&f.proxyAddr, "proxy-addr", "127.0.0.1:8788", "Go edge proxy listen address")
	fs.BoolVar(&f.noWorker, "no-worker", false, "run without Node: issuer + Go edge proxy only")
	fs.StringVar(&f.dir, "dir", ".dev", "where the dev keys and wrangler state go")
	fs.StringVar(&f.extraOrigins, "origins", getenv("ALLOWED_ORIGINS"), "extra allowed browser origins, comma list (e.g. http://app.test:3000, https://*.example.com); http://localhost:* and http://127.0.0.1:* are always allowed in dev")
	fs.BoolVar(&f.verbose, "v", false, "also show every server's own log (wrangler's included)")
	if done, err := cli.Parse(fs, args, doc, stdout, stderr); done || err != nil {
		return f, done, err
	}
	if fs.NArg() > 0 {
		cli.PrintUsage(stderr, fs, doc)
		return f, false, fmt.Errorf("%w: unexpected argument %q", cli.ErrUsage, fs.Arg(0))
	}
	return f, false, nil
}
