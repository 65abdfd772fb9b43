package main

import (
	"bufio"
	"context"
	"crypto/rsa"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/qubital/office-router/internal/rsakey"
	"github.com/qubital/office-router/internal/stack"
)

// The headline memory figure (docs/performance.md) is taken from the binary users run: cmd/edgeproxy
// built by scripts/build.sh (static, stripped), started with its default settings, nothing forced
// inside it (no runtime.GC, no debug.FreeOSMemory, no special build). Its clients answer pings, so
// the sample after two ping periods includes what keep-alive costs. The reference, bare gorilla
// (cmd/bench -child bare), is measured the same way in the same run.

// shippedMem is what one server holds per idle connection at each sample.
type shippedMem struct {
	early, steady float64            // RSS delta / N in KiB, at earlyAfter and steadyAfter
	goroutines    float64            // per connection, from the server's own /metrics (edgeproxy only)
	perConn       map[string]float64 // memMetrics deltas per connection at steady state, bytes (edgeproxy only)
}

// buildShipped runs scripts/build.sh into a temporary directory and returns the edgeproxy path.
func buildShipped(ctx context.Context, root string) (string, func(), error) {
	dir, err := os.MkdirTemp("", "bench-shipped-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { _ = os.RemoveAll(dir) }
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "build.sh"), dir)
	cmd.Dir, cmd.Stderr = root, os.Stderr
	if err := cmd.Run(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("scripts/build.sh: %w", err)
	}
	return filepath.Join(dir, "edgeproxy"), cleanup, nil
}

// startShipped runs the shipped edgeproxy with default settings on a free port.
func startShipped(ctx context.Context, bin string, key *rsa.PrivateKey) (*child, error) {
	port, err := stack.FreePort()
	if err != nil {
		return nil, err
	}
	mport, err := stack.FreePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	pub, _ := rsakey.EncodePublicKeyPEM(&key.PublicKey)
	// Metrics live on their own listener (never the public one), as users deploy it.
	cmd := exec.Command(bin, "-addr", addr, "-metrics-addr", fmt.Sprintf("127.0.0.1:%d", mport), "-log-level", "warn")
	cmd.Env = []string{"CONN_JWT_PUBLIC_KEY=" + string(pub), "JWT_ISSUER=" + benchIssuer, "JWT_AUDIENCE=" + benchAudience}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, addr: addr, url: "http://" + addr, metricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", mport)}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(c.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			c.stop()
			return nil, fmt.Errorf("edgeproxy did not become healthy: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// memMetrics are the Go runtime figures the edgeproxy's /metrics exports (runtime.ReadMemStats,
// which forces nothing), to say where its RSS goes.
var memMetrics = []string{"go_goroutines", "go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes",
	"go_memstats_heap_idle_bytes", "go_memstats_heap_released_bytes", "go_memstats_next_gc_bytes",
	"go_memstats_mspan_inuse_bytes", "go_memstats_gc_sys_bytes", "go_memstats_other_sys_bytes", "go_memstats_sys_bytes"}

// metrics reads memMetrics from the server's /metrics.
func (c *child) metrics() (map[string]float64, error) {
	resp, err := http.Get(c.metricsURL)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		for _, want := range memMetrics {
			if name == want {
				out[name], _ = strconv.ParseFloat(v, 64)
			}
		}
	}
	if _, ok := out["go_goroutines"]; !ok {
		return nil, fmt.Errorf("no go_goroutines in /metrics")
	}
	return out, nil
}

// shippedIdle opens n idle authenticated sockets over orgs organisations against c (the shipped
// edgeproxy, or the bare reference when tokens are not needed) and samples the server's RSS
// earlyAfter and steadyAfter the last socket opened. Clients keep reading, so they answer pings.
func shippedIdle(ctx context.Context, c *child, key *rsa.PrivateKey, n, orgs int, bare bool, earlyAfter, steadyAfter time.Duration) (shippedMem, error) {
	var m shippedMem
	var m0 map[string]float64
	if !bare {
		var err error
		if m0, err = c.metrics(); err != nil {
			return m, err
		}
	}
	r0 := c.rssKiB()
	// Tokens live 60 s: craft them per batch, so a slow machine never dials with an expired one.
	var conns []*websocket.Conn
	defer func() { closeAll(conns) }()
	const batch = 1000
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		toks, orgIDs := make([]string, hi-lo), make([]string, hi-lo)
		for i := range toks {
			orgIDs[i] = fmt.Sprintf("idle-%d", (lo+i)%orgs)
			if !bare {
				toks[i] = tokenFor(key, fmt.Sprintf("u%d", lo+i), orgIDs[i], lo+i)
			}
		}
		cs, _, _, failed := openMany(ctx, c.url, toks, orgIDs, 64)
		conns = append(conns, cs...)
		if failed > 0 {
			return m, fmt.Errorf("%d of %d connections failed", failed, hi-lo)
		}
	}
	opened := time.Now()
	wait := func(d time.Duration) error {
		select {
		case <-time.After(time.Until(opened.Add(d))):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	fn := float64(n)
	if err := wait(earlyAfter); err != nil {
		return m, err
	}
	m.early = float64(c.rssKiB()-r0) / fn
	if err := wait(steadyAfter); err != nil {
		return m, err
	}
	m.steady = float64(c.rssKiB()-r0) / fn
	if !bare {
		m1, err := c.metrics()
		if err != nil {
			return m, err
		}
		m.perConn = map[string]float64{}
		for k, v := range m1 {
			m.perConn[k] = (v - m0[k]) / fn
		}
		m.goroutines = m.perConn["go_goroutines"]
	}
	return m, nil
}

// shippedMemory measures the shipped edgeproxy, then bare gorilla, in the same run.
func shippedMemory(ctx context.Context, bin string, key *rsa.PrivateKey, sz sizes, s sample) error {
	early, steady := min(5*time.Second, sz.memSteady), sz.memSteady
	ep, err := startShipped(ctx, bin, key)
	if err != nil {
		return err
	}
	pm, err := shippedIdle(ctx, ep, key, sz.memConns, sz.memOrgs, false, early, steady)
	ep.stop()
	if err != nil {
		return fmt.Errorf("shipped edgeproxy: %w", err)
	}
	bc, err := startChild("bare", "", key)
	if err != nil {
		return err
	}
	bm, err := shippedIdle(ctx, bc, key, sz.memConns, sz.memOrgs, true, early, steady)
	bc.stop()
	if err != nil {
		return fmt.Errorf("bare: %w", err)
	}
	s["shipped_kib_early"], s["shipped_kib_steady"], s["shipped_goroutines_per_conn"] = pm.early, pm.steady, pm.goroutines
	s["shipped_bare_kib_early"], s["shipped_bare_kib_steady"] = bm.early, bm.steady
	for k, v := range pm.perConn {
		s["shipped_per_conn_"+k] = v
	}
	return nil
}
