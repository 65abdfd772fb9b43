// Command bench is office-router's reproducible benchmark suite (docs/performance.md):
// the issuer against bare RSA signing, the verifier against bare RSA verification, the edge proxy
// (handshakes, idle memory per connection, fan-out) against a bare gorilla server built from the
// same libraries, forward-mode overhead, and the Worker under wrangler dev. Every load loop is
// bounded and talks to 127.0.0.1 only.
//
//	go run ./cmd/bench                 # full run, writes docs/performance.md and docs/fanout-latency.svg
//	go run ./cmd/bench -short -out DIR # quick run (CI keeps it working), writes into DIR
package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/qubital/office-router/internal/stack"
	"github.com/qubital/office-router/proxy"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type sizes struct {
	handshakes, memConns, fanClients, fanMessages int
	memOrgs                                       int           // the shipped-binary memory figure spreads memConns over memOrgs
	memSteady                                     time.Duration // its steady-state sample, after the last socket opened
	paced                                         []float64
	workerHandshakes, workerClients, workerMsgs   int
	workerPaced                                   []float64
	fwdHandshakes, fwdRoundTrips                  int
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	short := fs.Bool("short", false, "quick mode with small sizes (CI)")
	runs := fs.Int("runs", 3, "repetitions; the report gives median and spread")
	out := fs.String("out", "docs", "directory for performance.md and fanout-latency.svg")
	noWorker := fs.Bool("no-worker", false, "skip the Worker under wrangler dev")
	only := fs.String("only", "", "comma list of sections to run: micro,shipped,handshakes,memory,fanout,forward,worker (default all)")
	kind := fs.String("child", "", "internal: serve as a child process of this kind")
	childAddr := fs.String("child-addr", "", "internal")
	childUp := fs.String("child-upstream", "", "internal")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *kind != "" {
		return runChild(*kind, *childAddr, *childUp)
	}
	raiseNoFile()
	sz := sizes{handshakes: 2000, memConns: 10000, memOrgs: 100, memSteady: 2*proxy.DefaultPingPeriod + 15*time.Second, fanClients: 1000, fanMessages: 50, paced: []float64{5000, 10000, 25000, 50000},
		workerHandshakes: 300, workerClients: 200, workerMsgs: 20, workerPaced: []float64{1000, 2500, 5000},
		fwdHandshakes: 300, fwdRoundTrips: 2000}
	if *short {
		*runs = 1
		sz = sizes{handshakes: 100, memConns: 300, memOrgs: 10, memSteady: 2 * time.Second, fanClients: 50, fanMessages: 5, paced: []float64{5000},
			workerHandshakes: 20, workerClients: 10, workerMsgs: 3, workerPaced: []float64{500},
			fwdHandshakes: 10, fwdRoundTrips: 50}
	}
	root, err := stack.RepoRoot()
	if err != nil {
		return err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	rep := &report{short: *short, runs: *runs, sizes: sz, started: time.Now()}
	sec := sections(*only, *noWorker)
	for r := range *runs {
		fmt.Fprintf(os.Stderr, "run %d/%d\n", r+1, *runs)
		s, err := oneRun(ctx, root, key, sz, sec)
		if err != nil {
			return err
		}
		if sec["shipped"] {
			step("shipped edgeproxy vs bare gorilla: idle memory, no forced GC")
			if err := func() error {
				bin, cleanup, err := buildShipped(ctx, root)
				if err != nil {
					return err
				}
				defer cleanup()
				return shippedMemory(ctx, bin, key, sz, s)
			}(); err != nil {
				return err
			}
		}
		rep.samples = append(rep.samples, s)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	md := filepath.Join(*out, "performance.md")
	svg := filepath.Join(*out, "fanout-latency.svg")
	if err := os.WriteFile(svg, rep.chart(), 0o644); err != nil {
		return err
	}
	old, _ := os.ReadFile(md) // its soak section (wsharness soak, not this suite) is kept
	rep.soak = soakSection(old)
	if err := os.WriteFile(md, rep.markdown(filepath.Base(svg), args), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s and %s\n", md, svg)
	return nil
}

func raiseNoFile() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

func step(name string) { fmt.Fprintf(os.Stderr, "  %s\n", name) }

func sections(only string, noWorker bool) map[string]bool {
	all := map[string]bool{"micro": true, "shipped": true, "handshakes": true, "memory": true, "fanout": true, "forward": true, "worker": !noWorker}
	if only == "" {
		return all
	}
	sel := map[string]bool{}
	for _, s := range strings.Split(only, ",") {
		sel[strings.TrimSpace(s)] = true
	}
	return sel
}

// oneRun measures everything once; each measurement gets fresh server processes.
func oneRun(ctx context.Context, root string, key *rsa.PrivateKey, sz sizes, sec map[string]bool) (sample, error) {
	s := sample{}
	if sec["micro"] {
		step("issuer and verifier micro-benchmarks")
		h, raw, err := issuerBench()
		if err != nil {
			return nil, err
		}
		s["issuer_tokens_per_s"], s["issuer_raw_sign_per_s"] = 1e9/h.nsPerOp, 1e9/raw.nsPerOp
		v, rv, err := verifierBench(root)
		if err != nil {
			return nil, err
		}
		s["verify_ns"], s["verify_allocs"], s["verify_bytes"] = v.nsPerOp, float64(v.allocs), float64(v.bytes)
		s["raw_verify_ns"], s["raw_verify_allocs"] = rv.nsPerOp, float64(rv.allocs)
	}
	for _, kind := range []string{"proxy", "bare"} {
		if sec["handshakes"] {
			step(kind + ": handshakes")
			rate, p50, err := handshakeRate(ctx, kind, key, sz.handshakes)
			if err != nil {
				return nil, err
			}
			s[kind+"_handshakes_per_s"], s[kind+"_handshake_p50_ms"] = rate, p50
		}
		if sec["memory"] {
			step(kind + ": idle memory")
			mem, err := idleMemory(ctx, kind, key, sz.memConns)
			if err != nil {
				return nil, err
			}
			s[kind+"_kib_per_conn"], s[kind+"_goroutines_per_conn"] = mem.rssKiB, mem.goroutines
			s[kind+"_heap_kib_per_conn"], s[kind+"_stack_kib_per_conn"] = mem.heapKiB, mem.stackKiB
		}
		if !sec["fanout"] {
			continue
		}
		step(kind + ": fan-out")
		c, err := startChild(kind, "", key)
		if err != nil {
			return nil, err
		}
		res, err := fanout(ctx, c.url, key, sz.fanClients, sz.fanMessages, 0)
		if err == nil && res.Deliveries != res.Expected {
			err = fmt.Errorf("%s fan-out: %d of %d delivered (%v)", kind, res.Deliveries, res.Expected, res.Errors)
		}
		c.stop()
		if err != nil {
			return nil, err
		}
		s[kind+"_burst_dps"], s[kind+"_burst_p50_ms"], s[kind+"_burst_p99_ms"] = res.DeliveriesPerSec, res.Delivery.P50, res.Delivery.P99
		{
			for _, rate := range sz.paced {
				if kind == "bare" && rate != sz.paced[len(sz.paced)-1] {
					continue // the reference at the top rate only
				}
				c, err := startChild(kind, "", key)
				if err != nil {
					return nil, err
				}
				res, err := fanout(ctx, c.url, key, sz.fanClients, sz.fanMessages, rate)
				c.stop()
				if err != nil {
					return nil, err
				}
				s[fmt.Sprintf("%s_paced_%.0f_p50_ms", kind, rate)], s[fmt.Sprintf("%s_paced_%.0f_p99_ms", kind, rate)] = res.Delivery.P50, res.Delivery.P99
				s[fmt.Sprintf("%s_paced_%.0f_dps", kind, rate)] = res.DeliveriesPerSec
			}
		}
	}
	if sec["forward"] {
		step("forward mode overhead")
		fo, err := forwardOverhead(ctx, key, sz.fwdHandshakes, sz.fwdRoundTrips)
		if err != nil {
			return nil, err
		}
		for k, v := range fo {
			s["fwd_"+k] = v
		}
	}
	if sec["worker"] {
		if err := workerRun(ctx, root, key, sz, s); err != nil {
			return nil, err
		}
	}
	return s, nil
}
