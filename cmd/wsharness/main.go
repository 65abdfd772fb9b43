// Command wsharness is the developer's and CI's WebSocket harness for office-router:
//
//	wsharness token   -issuer URL [-user U -org O -role R | -access-token A] [-quiet]
//	wsharness connect -issuer URL [-router URL] [-user U -org O] [-auth header|subprotocol] [-token T | -access-token A]
//	wsharness check   -issuer URL -router URL -key .dev/dev-private.pem [-origin O] [-json]
//	wsharness load    -issuer URL -router URL [-key FILE] -conns N -orgs K [-messages M] [-rate R] [-json]
//	wsharness publish -router URL -org O [-to USER] -key FILE DATA
//	wsharness rotate-check -router URL -trusted next.pem [-retired old.pem] -iss I -aud A [-wait 2m]
//	wsharness soak    -edgeproxy BIN | -router URL -key FILE -pid N   [-duration 10m] [-json]   (soak.go)
//
// It works against the Worker under wrangler dev, the Go edge proxy, or any ws(s):// router.
package main

import (
	"bufio"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/gorilla/websocket"

	"github.com/qubital/office-router/internal/cli"
	"github.com/qubital/office-router/internal/harness"
	"github.com/qubital/office-router/internal/rsakey"
	"github.com/qubital/office-router/issuer"
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

const usage = `usage: wsharness <command> [flags]      (wsharness <command> -h: that command's flags)

commands:
  token     get a handshake token from an issuer (dev mode, or -access-token for a real one)
  connect   open a socket; stdin lines are broadcast, "/to USER TEXT" is direct, "/raw FRAME" is sent as is
  check     the handshake conformance suite against a router (needs the issuer's signing key)
  load      open many sockets and measure handshakes and fan-out; exits 1 if any fail
  publish   send a backend event to an org (or one user) with a publish token minted from -key
  rotate-check  which keys a router accepts and refuses, during a key rotation (docs/operations.md)
  soak      a steady population, churn and messages for a fixed time: nothing lost, stalled or growing
  help      this text; -version prints the version`

// commonFlags are the flags most commands share; each command registers only those it reads
// (ownFlags), so its -h lists only its own. A command missing from ownFlags gets them all.
var ownFlags = map[string][]string{
	"token":        {"issuer", "user", "org", "role", "access-token"},
	"connect":      {"issuer", "router", "user", "org", "role", "token", "access-token"},
	"check":        {"issuer", "router", "key", "json"},
	"load":         {"issuer", "router", "key", "json"},
	"publish":      {"router", "org", "key", "json"},
	"rotate-check": {"router", "org", "user", "role"},
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("%w: no command", cli.ErrUsage)
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	case "-version", "--version", "version":
		fmt.Fprintln(stdout, "wsharness", cli.Version())
		return nil
	}
	cmd, args := args[0], args[1:]
	if cmd == "soak" {
		return soakCmd(ctx, args, stdout, stderr)
	}
	fs := flag.NewFlagSet("wsharness "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		issuerURL   = new(string)
		router      = new(string)
		user        = new(string)
		org         = new(string)
		role        = new(string)
		keyFile     = new(string)
		asJSON      = new(bool)
		token       = new(string)
		accessToken = new(string)
	)
	common := map[string]func(){
		"issuer": func() { fs.StringVar(issuerURL, "issuer", "http://127.0.0.1:8080", "issuer URL") },
		"router": func() {
			fs.StringVar(router, "router", "", "router base URL, e.g. http://127.0.0.1:8787 (Worker) or :8788 (Go proxy)")
		},
		"user": func() { fs.StringVar(user, "user", "alice", "user ID (dev mode)") },
		"org":  func() { fs.StringVar(org, "org", "acme", "organisation ID") },
		"role": func() { fs.StringVar(role, "role", "member", "role (dev mode)") },
		"key": func() {
			fs.StringVar(keyFile, "key", ".dev/dev-private.pem", "the issuer's signing key (PEM), to craft or mint tokens")
		},
		"json": func() { fs.BoolVar(asJSON, "json", false, "machine-readable output") },
		"token": func() {
			fs.StringVar(token, "token", "", "a ready handshake token: skip the issuer (needs -router)")
		},
		"access-token": func() {
			fs.StringVar(accessToken, "access-token", "", "a WorkOS access token for a real issuer's request-access, instead of a dev session")
		},
	}
	names, known := ownFlags[cmd]
	if !known {
		names = []string{"issuer", "router", "user", "org", "role", "key", "json"}
	}
	for _, n := range names {
		common[n]()
	}

	doc := cli.Doc{Synopsis: "usage: wsharness " + cmd + " [flags]"}
	parse := func() (bool, error) { return cli.Parse(fs, args, doc, stdout, stderr) }
	iss := func() harness.Issuer { return harness.Issuer{URL: *issuerURL} }
	// access gets a handshake token: from a real issuer with -access-token, else a dev session.
	access := func() (string, harness.Access, error) {
		i := iss()
		at := *accessToken
		if at == "" {
			var err error
			if at, err = i.DevSession(ctx, *user, *org, *role); err != nil {
				return "", harness.Access{}, fmt.Errorf("%w (a real issuer has no dev sessions: pass -access-token)", err)
			}
		}
		a, err := i.RequestAccess(ctx, at)
		return at, a, err
	}
	switch cmd {
	case "token":
		quiet := fs.Bool("quiet", false, "print only the handshake token")
		if done, err := parse(); done || err != nil {
			return err
		}
		at, a, err := access()
		if err != nil {
			return err
		}
		if *quiet {
			fmt.Fprintln(stdout, a.Token)
			return nil
		}
		return json.NewEncoder(stdout).Encode(map[string]any{"accessToken": at, "token": a.Token, "url": a.URL, "expiresAt": a.ExpiresAt})
	case "rotate-check":
		return rotateCheck(ctx, fs, args, router, org, user, role, stdout, stderr)
	case "connect":
		auth := fs.String("auth", "subprotocol", "token position: header or subprotocol")
		if done, err := parse(); done || err != nil {
			return err
		}
		a := harness.Access{Token: *token}
		if *token == "" {
			var err error
			if _, a, err = access(); err != nil {
				return err
			}
		} else if *router == "" {
			return fmt.Errorf("%w: -token needs -router", cli.ErrUsage)
		}
		if *router != "" {
			a.URL = harness.OrgURL(*router, *org)
		}
		return connect(ctx, a, *auth, stdin, stdout, stderr)
	case "check":
		origin := fs.String("origin", "http://127.0.0.1:8080", "an origin the router allows (\"\" to skip that case)")
		if done, err := parse(); done || err != nil {
			return err
		}
		if *router == "" {
			return errors.New("check needs -router")
		}
		key, err := readKey(*keyFile)
		if err != nil {
			return err
		}
		results, err := harness.Check(ctx, harness.CheckConfig{Router: *router, Issuer: *issuerURL, Key: key, Origin: *origin})
		if err != nil {
			return err
		}
		failed := 0
		for _, r := range results {
			if !r.Pass {
				failed++
			}
		}
		if *asJSON {
			_ = json.NewEncoder(stdout).Encode(map[string]any{"router": *router, "results": results, "failed": failed})
		} else {
			tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "CASE\tEXPECTED\tGOT\t")
			for _, r := range results {
				mark := "ok"
				if !r.Pass {
					mark = "MISMATCH"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.Expected, r.Got, mark)
			}
			_ = tw.Flush()
			fmt.Fprintf(stdout, "%d passed, %d failed\n", len(results)-failed, failed)
			if hint := keyMismatchHint(results); hint != "" {
				fmt.Fprintln(stdout, hint)
			}
		}
		if failed > 0 {
			return errFailed
		}
		return nil
	case "load":
		conns := fs.Int("conns", 100, "connections")
		orgs := fs.Int("orgs", 1, "organisations")
		messages := fs.Int("messages", 20, "broadcasts per org")
		rate := fs.Float64("rate", 0, "paced deliveries per second (0: burst)")
		conc := fs.Int("concurrency", 32, "handshakes in flight")
		timeout := fs.Duration("timeout", time.Minute, "bound on each phase")
		if done, err := parse(); done || err != nil {
			return err
		}
		if *router == "" {
			return errors.New("load needs -router")
		}
		var key *rsa.PrivateKey
		if _, err := os.Stat(*keyFile); err == nil {
			if key, err = readKey(*keyFile); err != nil {
				return err
			}
		}
		res, err := harness.Load(ctx, harness.LoadConfig{Router: *router, Issuer: *issuerURL, Key: key, Conns: *conns, Orgs: *orgs,
			Messages: *messages, Rate: *rate, Concurrency: *conc, Timeout: *timeout, Progress: stderr})
		if err != nil {
			return err
		}
		// A load run that lost connections or deliveries fails, so a CI load job cannot pass
		// against a dead router ("0/5 opened" used to exit 0).
		failed := res.Opened < res.Conns || res.Deliveries < res.Expected
		if *asJSON {
			if err := json.NewEncoder(stdout).Encode(res); err != nil {
				return err
			}
			if failed {
				return errFailed
			}
			return nil
		}
		defer func() {
			if failed {
				fmt.Fprintf(stderr, "load failed: %d/%d connections opened, %d/%d deliveries\n", res.Opened, res.Conns, res.Deliveries, res.Expected)
			}
		}()
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "connections\t%d/%d opened\n", res.Opened, res.Conns)
		fmt.Fprintf(tw, "handshakes/s\t%.0f\n", res.HandshakesPerSec)
		fmt.Fprintf(tw, "handshake latency ms\tp50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", res.Handshake.P50, res.Handshake.P90, res.Handshake.P99, res.Handshake.Max)
		fmt.Fprintf(tw, "deliveries\t%d/%d\n", res.Deliveries, res.Expected)
		fmt.Fprintf(tw, "deliveries/s\t%.0f\n", res.DeliveriesPerSec)
		fmt.Fprintf(tw, "delivery latency ms\tp50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", res.Delivery.P50, res.Delivery.P90, res.Delivery.P99, res.Delivery.Max)
		for k, v := range res.Errors {
			fmt.Fprintf(tw, "errors\t%d × %s\n", v, k)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if failed {
			return errFailed
		}
		return nil
	case "publish":
		pf := publishFlags{
			to:      fs.String("to", "", "only this user's sockets (default: the whole org)"),
			iss:     fs.String("iss", issuer.DevIssuer, "iss of the publish token: the router's JWT_ISSUER"),
			aud:     fs.String("aud", issuer.DevAudience, "aud of the publish token: the router's JWT_AUDIENCE"),
			subject: fs.String("subject", "wsharness", "sub of the publish token: names the publishing service"),
		}
		doc.Synopsis = "usage: wsharness publish -router URL -org ORG [-to USER] -key FILE DATA   (DATA: JSON, else a string)"
		if done, err := parse(); done || err != nil {
			return err
		}
		return publish(ctx, fs, pf, *router, *org, *keyFile, *asJSON, stdout)
	}
	fmt.Fprintln(stderr, usage)
	return fmt.Errorf("%w: unknown command %q", cli.ErrUsage, cmd)
}

func readKey(path string) (*rsa.PrivateKey, error) {
	k, err := rsakey.ReadPrivateKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("-key %s: %w (the dev stack writes .dev/dev-private.pem)", path, err)
	}
	return k, nil
}

func connect(ctx context.Context, a harness.Access, auth string, stdin io.Reader, stdout, stderr io.Writer) error {
	pos := harness.InSubprotocol
	if auth == "header" {
		pos = harness.InHeader
	}
	url := a.URL
	r, err := harness.Dial(ctx, url, a.Token, pos, nil)
	if err != nil {
		return err
	}
	if r.Conn == nil {
		return fmt.Errorf("handshake refused by %s: %d %s", url, r.Status, r.Reason)
	}
	defer r.Conn.Close()
	fmt.Fprintf(stderr, "connected to %s; a line is broadcast, \"/to USER TEXT\" is direct, \"/raw FRAME\" is sent as is; Ctrl-D quits\n", url)
	done := make(chan error, 1)
	go func() {
		for {
			_, data, err := r.Conn.ReadMessage()
			if err != nil {
				done <- err
				return
			}
			fmt.Fprintf(stdout, "< %s\n", data)
		}
	}()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-done:
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				fmt.Fprintf(stderr, "closed by server: %d %s\n", ce.Code, ce.Text)
				return nil
			}
			return err
		case line, ok := <-lines:
			if !ok {
				// Close politely and print what arrives until the router's close answers ours.
				_ = r.Conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
				select {
				case <-done:
				case <-time.After(2 * time.Second):
				case <-ctx.Done():
				}
				return nil
			}
			frame, err := frameOf(line)
			if err != nil {
				fmt.Fprintln(stderr, err)
				continue
			}
			if frame == nil {
				continue
			}
			if err := r.Conn.WriteMessage(websocket.TextMessage, frame); err != nil {
				return err
			}
		}
	}
}

// frameOf turns a line typed into connect into the frame to send: "/to USER TEXT" is a direct
// message, "/raw FRAME" goes out byte for byte (to see how a router answers a bad frame), any
// other line is a broadcast of its text.
func frameOf(line string) ([]byte, error) {
	line = strings.TrimSpace(line)
	switch {
	case line == "":
		return nil, nil
	case strings.HasPrefix(line, "/raw "):
		return []byte(strings.TrimPrefix(line, "/raw ")), nil
	case strings.HasPrefix(line, "/to "):
		to, text, ok := strings.Cut(strings.TrimPrefix(line, "/to "), " ")
		if !ok || to == "" {
			return nil, errors.New(`usage: /to USER TEXT`)
		}
		return json.Marshal(map[string]any{"type": "direct", "to": to, "data": text})
	}
	return json.Marshal(map[string]any{"type": "broadcast", "data": line})
}

// keyMismatchHint explains the usual cause of a check where every crafted token is refused: -key
// is not the router's key (the dev stack writes a fresh one each run).
func keyMismatchHint(results []harness.Result) string {
	unknown := 0
	for _, r := range results {
		if !r.Pass && strings.Contains(r.Got, "unknown_kid") {
			unknown++
		}
	}
	if unknown < 2 {
		return ""
	}
	return fmt.Sprintf("hint: %d tokens signed with -key were refused as unknown_kid: -key is not the key of the router's\n"+
		"CONN_JWT_PUBLIC_KEY (the dev stack writes a fresh .dev/dev-private.pem each run; pass the one of the running stack)", unknown)
}
