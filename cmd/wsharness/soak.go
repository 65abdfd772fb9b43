package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/qubital/office-router/internal/harness"
	"github.com/qubital/office-router/internal/rsakey"
	"github.com/qubital/office-router/internal/stack"
)

// soakCmd is `wsharness soak`: a steady population, churn and a message stream for a fixed
// time; it fails (errFailed) unless every message reached every member connected for the whole
// run exactly once and in order, nothing took over 1 s, and RSS and goroutines drifted ≤ 5%
// after warm-up.
//
//	wsharness soak -edgeproxy bin/edgeproxy [-duration 10m]   # starts that binary, default settings
//	wsharness soak -router URL -key FILE -pid N [-iss I -aud A] # a router already running
func soakCmd(ctx context.Context, inv *invocation) error {
	fs, stdout, stderr := inv.fs, inv.stdout, inv.stderr
	bin := fs.String("edgeproxy", "", "start this edgeproxy binary (default settings, fresh key) and soak it")
	router := fs.String("router", "", "soak a router already running at this base URL instead")
	keyFile := fs.String("key", "", "with -router: the issuer's signing key")
	pid := fs.Int("pid", 0, "with -router: the server's process ID, for its RSS")
	metrics := fs.String("metrics", "", "with -router: its private metrics URL (edgeproxy -metrics-addr), for goroutines")
	iss := fs.String("iss", "office-router-soak", "with -router: the token issuer it accepts")
	aud := fs.String("aud", "office-router", "with -router: the token audience it accepts")
	conns := fs.Int("conns", 5000, "steady sockets")
	orgs := fs.Int("orgs", 50, "organisations")
	churn := fs.Float64("churn", 50, "connects (and as many disconnects) per second")
	rate := fs.Float64("rate", 2000, "messages per second (direct, broadcast, publish)")
	duration := fs.Duration("duration", 10*time.Minute, "how long")
	warmup := fs.Duration("warmup", 0, "excluded from the drift figures (default a quarter of -duration)")
	asJSON := fs.Bool("json", false, "machine-readable output")
	inv.doc.Synopsis = "usage: wsharness soak -edgeproxy BIN | -router URL -key FILE -pid N [flags]"
	if done, err := inv.parse(); done || err != nil {
		return err
	}
	cfg := harness.SoakConfig{Conns: *conns, Orgs: *orgs, ChurnPerSec: *churn, MessagesPerSec: *rate,
		Duration: *duration, Warmup: *warmup, Progress: stderr, PID: *pid,
		Claims: map[string]any{"iss": *iss, "aud": *aud}}
	switch {
	case *bin != "" && *router == "":
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return err
		}
		p, url, murl, err := startEdgeproxy(ctx, *bin, key, *iss, *aud)
		if err != nil {
			return err
		}
		defer func() { _ = p.Stop(10 * time.Second) }()
		cfg.Router, cfg.Key, cfg.PID, cfg.MetricsURL = url, key, p.PID(), murl
	case *router != "" && *bin == "":
		key, err := readKey(*keyFile)
		if err != nil {
			return err
		}
		cfg.Router, cfg.Key, cfg.MetricsURL = *router, key, *metrics
	default:
		return errors.New("soak needs exactly one of -edgeproxy or -router")
	}
	res, err := harness.Soak(ctx, cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		_ = json.NewEncoder(stdout).Encode(res)
	} else {
		fmt.Fprintf(stdout, "soak %s: %d sockets over %d orgs, %d churned; sent %v (%.0f/s of %.0f/s offered); %d deliveries\n",
			res.Duration, res.Conns, res.Orgs, res.Churned, res.Sent, res.SentPerSec, res.OfferedPerSec, res.Deliveries)
		fmt.Fprintf(stdout, "to members connected throughout: %d missing, %d duplicated, %d out of order, %d unexpected\n",
			res.Missing, res.Duplicates, res.OutOfOrder, res.Unexpected)
		fmt.Fprintf(stdout, "replies and deliveries over 1 s: %d (max %.1f ms; the harness's own longest stall %.0f ms)\n",
			res.LateOver1s, res.MaxLatencyMs, res.HarnessStallMs)
		fmt.Fprintf(stdout, "after warm-up: RSS %v KiB (drift %+.1f%%), goroutines %v (drift %+.1f%%)\n",
			res.RSSKiB, 100*res.RSSDrift, res.Goroutines, 100*res.GorDrift)
		fmt.Fprintf(stdout, "handshakes that failed or took over 1 s: %d\n", res.SlowHandshakes)
		for _, t := range res.HandshakeTraces {
			fmt.Fprintln(stdout, "  handshake", t)
		}
		for _, f := range res.Failures {
			fmt.Fprintln(stdout, "FAIL:", f)
		}
	}
	if !res.Pass {
		return errFailed
	}
	return nil
}

// startEdgeproxy runs bin as users do (default settings; only the key, issuer and audience it
// must be given, and its private metrics listener) on free ports and waits for /healthz.
func startEdgeproxy(ctx context.Context, bin string, key *rsa.PrivateKey, iss, aud string) (*stack.Proc, string, string, error) {
	port, err := stack.FreePort()
	if err != nil {
		return nil, "", "", err
	}
	mport, err := stack.FreePort()
	if err != nil {
		return nil, "", "", err
	}
	addr, maddr := fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("127.0.0.1:%d", mport)
	pub, err := rsakey.EncodePublicKeyPEM(&key.PublicKey)
	if err != nil {
		return nil, "", "", err
	}
	cmd := exec.Command(bin, "-addr", addr, "-metrics-addr", maddr, "-log-level", "warn")
	cmd.Env = append(os.Environ(), "CONN_JWT_PUBLIC_KEY="+string(pub), "JWT_ISSUER="+iss, "JWT_AUDIENCE="+aud)
	p, err := stack.Start("edgeproxy", cmd, os.Stderr)
	if err != nil {
		return nil, "", "", err
	}
	url := "http://" + addr
	if err := stack.WaitHealthy(ctx, url+"/healthz", p); err != nil {
		_ = p.Stop(time.Second)
		return nil, "", "", err
	}
	return p, url, "http://" + maddr + "/metrics", nil
}
