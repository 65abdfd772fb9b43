// Command wsharness is the developer's and CI's WebSocket harness for office-router:
//
//	wsharness token   -issuer URL [-user U -org O -role R] [-quiet]
//	wsharness connect -issuer URL [-router URL] [-user U -org O] [-auth header|subprotocol]
//	wsharness check   -issuer URL -router URL -key .dev/dev-private.pem [-origin O] [-json]
//	wsharness load    -issuer URL -router URL [-key FILE] -conns N -orgs K [-messages M] [-rate R] [-json]
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

	"github.com/qubital/office-router/internal/harness"
	"github.com/qubital/office-router/internal/rsakey"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errFailed) {
			fmt.Fprintln(os.Stderr, "wsharness:", err)
		}
		os.Exit(1)
	}
}

var errFailed = errors.New("check failed")

const usage = `usage: wsharness <token|connect|check|load|rotate-check|soak> [flags]   (wsharness <command> -h for flags)`

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	cmd, args := args[0], args[1:]
	if cmd == "soak" {
		return soakCmd(ctx, args, stdout, stderr)
	}
	fs := flag.NewFlagSet("wsharness "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	issuerURL := fs.String("issuer", "http://127.0.0.1:8080", "issuer URL (dev mode)")
	router := fs.String("router", "", "router base URL, e.g. http://127.0.0.1:8787 (Worker) or :8788 (Go proxy)")
	user := fs.String("user", "alice", "user ID")
	org := fs.String("org", "acme", "organisation ID")
	role := fs.String("role", "member", "role")
	keyFile := fs.String("key", ".dev/dev-private.pem", "the issuer's signing key, to craft test tokens")
	asJSON := fs.Bool("json", false, "machine-readable output")
	switch cmd {
	case "token":
		quiet := fs.Bool("quiet", false, "print only the handshake token")
		if err := fs.Parse(args); err != nil {
			return err
		}
		iss := harness.Issuer{URL: *issuerURL}
		at, err := iss.DevSession(ctx, *user, *org, *role)
		if err != nil {
			return err
		}
		a, err := iss.RequestAccess(ctx, at)
		if err != nil {
			return err
		}
		if *quiet {
			fmt.Fprintln(stdout, a.Token)
			return nil
		}
		return json.NewEncoder(stdout).Encode(map[string]any{"accessToken": at, "token": a.Token, "url": a.URL, "expiresAt": a.ExpiresAt})
	case "rotate-check":
		return rotateCheck(ctx, fs, args, router, org, user, role, stdout)
	case "connect":
		auth := fs.String("auth", "subprotocol", "token position: header or subprotocol")
		if err := fs.Parse(args); err != nil {
			return err
		}
		return connect(ctx, *issuerURL, *router, *user, *org, *role, *auth, stdin, stdout, stderr)
	case "check":
		origin := fs.String("origin", "http://127.0.0.1:8080", "an origin the router allows (\"\" to skip that case)")
		if err := fs.Parse(args); err != nil {
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
		if err := fs.Parse(args); err != nil {
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
		if *asJSON {
			return json.NewEncoder(stdout).Encode(res)
		}
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
		return tw.Flush()
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

func readKey(path string) (*rsa.PrivateKey, error) {
	k, err := rsakey.ReadPrivateKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("-key %s: %w (the dev stack writes .dev/dev-private.pem)", path, err)
	}
	return k, nil
}

func connect(ctx context.Context, issuerURL, router, user, org, role, auth string, stdin io.Reader, stdout, stderr io.Writer) error {
	iss := harness.Issuer{URL: issuerURL}
	a, err := iss.Handshake(ctx, user, org, role)
	if err != nil {
		return err
	}
	url := a.URL
	if router != "" {
		url = harness.OrgURL(router, org)
	}
	pos := harness.InSubprotocol
	if auth == "header" {
		pos = harness.InHeader
	}
	r, err := harness.Dial(ctx, url, a.Token, pos, nil)
	if err != nil {
		return err
	}
	if r.Conn == nil {
		return fmt.Errorf("handshake refused by %s: %d %s", url, r.Status, r.Reason)
	}
	defer r.Conn.Close()
	fmt.Fprintf(stderr, "connected to %s as %s (org %s); type a line to broadcast it, Ctrl-D to quit\n", url, user, org)
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
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
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
				_ = r.Conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
				return nil
			}
			msg, _ := json.Marshal(map[string]any{"type": "broadcast", "data": strings.TrimSpace(line)})
			if err := r.Conn.WriteMessage(websocket.TextMessage, msg); err != nil {
				return err
			}
		}
	}
}
