package main

import (
	"context"
	"crypto/rsa"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/qubital/office-router/internal/rsakey"
	"github.com/qubital/office-router/internal/stack"
)

// workerRun measures the Worker under a local `wrangler dev` (workerd on this machine, not
// Cloudflare's edge).
func workerRun(ctx context.Context, root string, key *rsa.PrivateKey, sz sizes, s sample) error {
	step("worker (wrangler dev): starting")
	if err := stack.EnsureNodeModules(ctx, root, os.Stderr); err != nil {
		return err
	}
	pub, _ := rsakey.EncodePublicKeyPEM(&key.PublicKey)
	start := func() (*stack.Proc, string, func(), error) {
		port, err := stack.FreePort()
		if err != nil {
			return nil, "", nil, err
		}
		dir, err := os.MkdirTemp("", "bench-wrangler-")
		if err != nil {
			return nil, "", nil, err
		}
		p, err := stack.Wrangler(stack.WranglerOptions{Root: root, Port: port, PersistTo: filepath.Join(dir, "state"), Vars: map[string]string{
			"CONN_JWT_PUBLIC_KEY": string(pub), "JWT_ISSUER": benchIssuer, "JWT_AUDIENCE": benchAudience}}, nil)
		if err != nil {
			return nil, "", nil, err
		}
		url := fmt.Sprintf("http://127.0.0.1:%d", port)
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		if err := stack.WaitHealthy(wctx, url+"/healthz", p); err != nil {
			_ = p.Stop(10 * time.Second)
			return nil, "", nil, err
		}
		return p, url, func() { _ = p.Stop(10 * time.Second); _ = os.RemoveAll(dir) }, nil
	}
	_, url, stop, err := start()
	if err != nil {
		return err
	}
	defer stop()
	step("worker: handshakes")
	toks, orgs := make([]string, sz.workerHandshakes), make([]string, sz.workerHandshakes)
	for i := range toks {
		orgs[i] = fmt.Sprintf("whs-%d", i%10)
		toks[i] = tokenFor(key, fmt.Sprintf("w%d", i), orgs[i], i)
	}
	conns, rate, lat, failed := openMany(ctx, url, toks, orgs, 16)
	closeAll(conns)
	if failed > 0 {
		return fmt.Errorf("worker: %d handshakes failed", failed)
	}
	s["worker_handshakes_per_s"], s["worker_handshake_p50_ms"] = rate, pct(lat, .5)
	step("worker: fan-out")
	res, err := fanout(ctx, url, key, sz.workerClients, sz.workerMsgs, 0)
	if err != nil {
		return err
	}
	if res.Deliveries != res.Expected {
		return fmt.Errorf("worker fan-out: %d of %d delivered (%v)", res.Deliveries, res.Expected, res.Errors)
	}
	s["worker_burst_dps"], s["worker_burst_p50_ms"], s["worker_burst_p99_ms"] = res.DeliveriesPerSec, res.Delivery.P50, res.Delivery.P99
	for _, r := range sz.workerPaced {
		res, err := fanout(ctx, url, key, sz.workerClients, sz.workerMsgs, r)
		if err != nil {
			return err
		}
		s[fmt.Sprintf("worker_paced_%.0f_p50_ms", r)], s[fmt.Sprintf("worker_paced_%.0f_p99_ms", r)] = res.Delivery.P50, res.Delivery.P99
		s[fmt.Sprintf("worker_paced_%.0f_dps", r)] = res.DeliveriesPerSec
	}
	return nil
}
