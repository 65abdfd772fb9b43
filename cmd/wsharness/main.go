// Command wsharness is the developer's and CI's WebSocket harness for office-router:
//
//	wsharness token   -issuer URL [-user U -org O -role R | -access-token A] [-quiet]
//	wsharness connect -issuer URL [-router URL] [-user U -org O] [-auth header|subprotocol] [-token T | -access-token A]
//	wsharness check   -issuer URL -router URL -key .dev/dev-private.pem [-origin O] [-json]
//	wsharness load    -issuer URL -router URL [-key FILE] -conns N -orgs K [-messages M] [-rate R] [-json]
//	wsharness publish -router URL -org O [-to USER] -key FILE DATA
//	wsharness presence -router URL -org O -key FILE [-json]
//	wsharness disconnect -router URL -org O -key FILE [-code 4001|4003] [-block S] USER
//	wsharness rotate-check -router URL -trusted next.pem [-retired old.pem] -iss I -aud A [-wait 2m]
//	wsharness soak    -edgeproxy BIN | -router URL -key FILE -pid N   [-duration 10m] [-json]   (soak.go)
//
// It works against the Worker under wrangler dev, the Go edge proxy, or any ws(s):// router.
package main

import (
	"context"
	"crypto/rsa"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/qubital/office-router/internal/cli"
	"github.com/qubital/office-router/internal/rsakey"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) { // a command that parses its own flags was asked for -h
			os.Exit(0)
		}
		if !errors.Is(err, errFailed) {
			fmt.Fprintln(os.Stderr, "wsharness:", err)
		}
		if errors.Is(err, cli.ErrUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// errFailed: the command ran and found failures it already printed (check mismatches, load
// connections or deliveries missing); the exit code is what CI reads.
var errFailed = errors.New("failed")

// commands are wsharness's subcommands, in the order the usage lists them. Adding one is one
// entry here and a file holding its run (publish.go, rotate.go, soak.go).
var commands = []command{
	{"token", "get a handshake token from an issuer (dev mode, or -access-token for a real one)",
		[]string{"issuer", "user", "org", "role", "access-token"}, tokenCmd},
	{"connect", `open a socket; stdin lines are broadcast, "/to USER TEXT" is direct, "/raw FRAME" is sent as is`,
		[]string{"issuer", "router", "user", "org", "role", "token", "access-token"}, connectCmd},
	{"check", "the handshake conformance suite against a router (needs the issuer's signing key)",
		[]string{"issuer", "router", "key", "json"}, checkCmd},
	{"load", "open many sockets and measure handshakes and fan-out; exits 1 if any fail",
		[]string{"issuer", "router", "key", "json"}, loadCmd},
	{"publish", "send a backend event to an org (or one user) with a publish token minted from -key",
		[]string{"router", "org", "key", "json"}, publishCmd},
	{"presence", "who is online in an org, as a backend asks it (a presence token minted from -key)",
		[]string{"router", "org", "key", "json"}, presenceCmd},
	{"disconnect", "close a user's sockets in an org with 4001 or 4003, optionally blocking them (a disconnect token from -key)",
		[]string{"router", "org", "key", "json"}, disconnectCmd},
	{"rotate-check", "which keys a router accepts and refuses, during a key rotation (docs/operations.md)",
		[]string{"router", "org", "user", "role"}, rotateCheck},
	{"soak", "a steady population, churn and messages for a fixed time: nothing lost, stalled or growing",
		nil, soakCmd},
}

// command is one subcommand.
type command struct {
	name    string
	summary string // its line in the usage
	// shared are the sharedFlags it reads; it registers its own flags on inv.fs in run, so its
	// -h lists only the flags it has.
	shared []string
	run    func(ctx context.Context, inv *invocation) error
}

// invocation is what a command's run is given: its flag set (shared flags registered, not yet
// parsed), its arguments, its streams and the shared flags' values.
type invocation struct {
	fs             *flag.FlagSet
	args           []string
	doc            cli.Doc
	stdin          io.Reader
	stdout, stderr io.Writer
	sharedValues
}

// sharedValues are the values of the flags several commands share (sharedFlags).
type sharedValues struct {
	issuerURL, router, user, org, role, keyFile, token, accessToken string
	asJSON                                                          bool
}

// sharedFlags register the shared flags by name.
var sharedFlags = map[string]func(fs *flag.FlagSet, v *sharedValues){
	"issuer": func(fs *flag.FlagSet, v *sharedValues) {
		fs.StringVar(&v.issuerURL, "issuer", "http://127.0.0.1:8080", "issuer URL")
	},
	"router": func(fs *flag.FlagSet, v *sharedValues) {
		fs.StringVar(&v.router, "router", "", "router base URL, e.g. http://127.0.0.1:8787 (Worker) or :8788 (Go proxy)")
	},
	"user": func(fs *flag.FlagSet, v *sharedValues) { fs.StringVar(&v.user, "user", "alice", "user ID (dev mode)") },
	"org":  func(fs *flag.FlagSet, v *sharedValues) { fs.StringVar(&v.org, "org", "acme", "organisation ID") },
	"role": func(fs *flag.FlagSet, v *sharedValues) { fs.StringVar(&v.role, "role", "member", "role (dev mode)") },
	"key": func(fs *flag.FlagSet, v *sharedValues) {
		fs.StringVar(&v.keyFile, "key", ".dev/dev-private.pem", "the issuer's signing key (PEM), to craft or mint tokens")
	},
	"json": func(fs *flag.FlagSet, v *sharedValues) {
		fs.BoolVar(&v.asJSON, "json", false, "machine-readable output")
	},
	"token": func(fs *flag.FlagSet, v *sharedValues) {
		fs.StringVar(&v.token, "token", "", "a ready handshake token: skip the issuer (needs -router)")
	},
	"access-token": func(fs *flag.FlagSet, v *sharedValues) {
		fs.StringVar(&v.accessToken, "access-token", "", "a WorkOS access token for a real issuer's request-access, instead of a dev session")
	},
}

// parse parses the command's flags; done means -h was answered.
func (inv *invocation) parse() (done bool, err error) {
	return cli.Parse(inv.fs, inv.args, inv.doc, inv.stdout, inv.stderr)
}

// usage is the top-level help, one line per command.
func usage() string {
	var b strings.Builder
	b.WriteString("usage: wsharness <command> [flags]      (wsharness <command> -h: that command's flags)\n\ncommands:\n")
	line := func(name, summary string) {
		fmt.Fprintf(&b, "  %-*s%s\n", max(10, len(name)+2), name, summary)
	}
	for _, c := range commands {
		line(c.name, c.summary)
	}
	line("help", "this text; -version prints the version")
	return strings.TrimSuffix(b.String(), "\n")
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage())
		return fmt.Errorf("%w: no command", cli.ErrUsage)
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, usage())
		return nil
	case "-version", "--version", "version":
		fmt.Fprintln(stdout, "wsharness", cli.Version())
		return nil
	}
	name := args[0]
	for _, c := range commands {
		if c.name != name {
			continue
		}
		inv := &invocation{fs: flag.NewFlagSet("wsharness "+name, flag.ContinueOnError), args: args[1:],
			doc: cli.Doc{Synopsis: "usage: wsharness " + name + " [flags]"}, stdin: stdin, stdout: stdout, stderr: stderr}
		inv.fs.SetOutput(stderr)
		for _, f := range c.shared {
			sharedFlags[f](inv.fs, &inv.sharedValues)
		}
		return c.run(ctx, inv)
	}
	fmt.Fprintln(stderr, usage())
	return fmt.Errorf("%w: unknown command %q", cli.ErrUsage, name)
}

func readKey(path string) (*rsa.PrivateKey, error) {
	k, err := rsakey.ReadPrivateKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("-key %s: %w (the dev stack writes .dev/dev-private.pem)", path, err)
	}
	return k, nil
}
