package main

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/qubital/office-router/internal/harness"
)

// loadCmd is `wsharness load`: harness.Load against -router, as a table or JSON. A run that lost
// connections or deliveries fails (errFailed), so a CI load job cannot pass against a dead
// router ("0/5 opened" used to exit 0).
func loadCmd(ctx context.Context, inv *invocation) error {
	fs := inv.fs
	conns := fs.Int("conns", 100, "connections")
	orgs := fs.Int("orgs", 1, "organisations")
	messages := fs.Int("messages", 20, "broadcasts per org")
	rate := fs.Float64("rate", 0, "paced deliveries per second (0: burst)")
	conc := fs.Int("concurrency", 32, "handshakes in flight")
	timeout := fs.Duration("timeout", time.Minute, "bound on each phase")
	if done, err := inv.parse(); done || err != nil {
		return err
	}
	if inv.router == "" {
		return errors.New("load needs -router")
	}
	var key *rsa.PrivateKey
	if _, err := os.Stat(inv.keyFile); err == nil {
		if key, err = readKey(inv.keyFile); err != nil {
			return err
		}
	}
	res, err := harness.Load(ctx, harness.LoadConfig{Router: inv.router, Issuer: inv.issuerURL, Key: key, Conns: *conns, Orgs: *orgs,
		Messages: *messages, Rate: *rate, Concurrency: *conc, Timeout: *timeout, Progress: inv.stderr})
	if err != nil {
		return err
	}
	failed := res.Opened < res.Conns || res.Deliveries < res.Expected
	if inv.asJSON {
		if err := json.NewEncoder(inv.stdout).Encode(res); err != nil {
			return err
		}
	} else {
		err := printLoad(inv, res)
		if failed {
			fmt.Fprintf(inv.stderr, "load failed: %d/%d connections opened, %d/%d deliveries\n", res.Opened, res.Conns, res.Deliveries, res.Expected)
		}
		if err != nil {
			return err
		}
	}
	if failed {
		return errFailed
	}
	return nil
}

// printLoad writes load's table.
func printLoad(inv *invocation, res harness.LoadResult) error {
	tw := tabwriter.NewWriter(inv.stdout, 0, 0, 2, ' ', 0)
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
