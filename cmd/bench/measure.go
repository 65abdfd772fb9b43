package main

import (
	"bufio"
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/qubital/office-router/contract"
	"github.com/qubital/office-router/internal/harness"
	"github.com/qubital/office-router/internal/rsakey"
	"github.com/qubital/office-router/internal/stack"
)

const (
	benchIssuer   = "office-router-bench"
	benchAudience = "office-router"
)

type child struct {
	cmd        *exec.Cmd
	addr       string
	url        string
	metricsURL string // the shipped edgeproxy's private metrics listener
}

// startChild runs this binary as a server of the given kind on a free port.
func startChild(kind, upstream string, key *rsa.PrivateKey) (*child, error) {
	port, err := stack.FreePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	pub, _ := rsakey.EncodePublicKeyPEM(&key.PublicKey)
	cmd := exec.Command(self, "-child", kind, "-child-addr", addr, "-child-upstream", upstream)
	cmd.Env = append(os.Environ(), "CONN_JWT_PUBLIC_KEY="+string(pub))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	_ = stdin // closing it (or our exit) ends the child
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("child %s did not start: %q %v", kind, line, err)
	}
	return &child{cmd: cmd, addr: addr, url: "http://" + addr}, nil
}

func (c *child) stop() {
	_ = c.cmd.Process.Kill() // the server side closes first: TIME_WAIT stays off our client ports
	_ = c.cmd.Wait()
}

func (c *child) rssKiB() int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

type childStats struct {
	Goroutines int     `json:"goroutines"`
	HeapInuse  float64 `json:"heapInuse"`
	StackInuse float64 `json:"stackInuse"`
}

// stats forces a GC in the child and returns its goroutines and Go memory in use.
func (c *child) stats() childStats {
	var s childStats
	resp, err := http.Get(c.url + "/debug/stats")
	if err != nil {
		return s
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(&s)
	return s
}

// tokenFor crafts a valid handshake token for user in org.
func tokenFor(key *rsa.PrivateKey, user, org string, n int) string {
	now := time.Now().Unix()
	c := contract.HandshakeClaims{Issuer: benchIssuer, Audience: benchAudience, UserID: user, OrgID: org, Role: "member",
		JTI: fmt.Sprintf("bench-%d-%d-%s", time.Now().UnixNano(), n, user), IssuedAt: now, NotBefore: now, ExpiresAt: now + 60}
	return harness.Craft(key, harness.RS256Header(key), c.Map())
}

// openMany opens n sockets (tokens prepared first) with the given concurrency; returns them, the
// handshake rate and latencies.
func openMany(ctx context.Context, base string, toks []string, orgs []string, conc int) ([]*websocket.Conn, float64, []time.Duration, int) {
	conns := make([]*websocket.Conn, len(toks))
	lat := make([]time.Duration, len(toks))
	work := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	d := websocket.Dialer{HandshakeTimeout: 30 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 1024}
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				h := http.Header{}
				if toks[i] != "" {
					h.Set("Authorization", "Bearer "+toks[i])
				}
				t0 := time.Now()
				c, _, err := d.DialContext(ctx, harness.OrgURL(base, orgs[i]), h)
				if err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
					continue
				}
				// Count the handshake once the welcome frame (both servers send one) arrived.
				_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
				if _, _, err := c.ReadMessage(); err != nil {
					c.Close()
					mu.Lock()
					failed++
					mu.Unlock()
					continue
				}
				_ = c.SetReadDeadline(time.Time{})
				lat[i] = time.Since(t0)
				conns[i] = c
				// Drain what the server sends (welcome, presence) so nobody is a slow consumer.
				go func() {
					for {
						if _, _, err := c.ReadMessage(); err != nil {
							return
						}
					}
				}()
			}
		}()
	}
	for i := range toks {
		work <- i
	}
	close(work)
	wg.Wait()
	el := time.Since(start)
	var ok []time.Duration
	for i, c := range conns {
		if c != nil {
			ok = append(ok, lat[i])
		}
	}
	return conns, float64(len(ok)) / el.Seconds(), ok, failed
}

func closeAll(conns []*websocket.Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

func pct(d []time.Duration, q float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return float64(s[int(q*float64(len(s)-1))].Microseconds()) / 1000
}

// handshakeRate: n handshakes against a fresh child of kind.
func handshakeRate(ctx context.Context, kind string, key *rsa.PrivateKey, n int) (float64, float64, error) {
	c, err := startChild(kind, "", key)
	if err != nil {
		return 0, 0, err
	}
	defer c.stop()
	// One org per socket: the handshake alone (welcome included), without presence fan-out,
	// which the fan-out figures measure.
	toks, orgs := make([]string, n), make([]string, n)
	for i := range toks {
		orgs[i] = fmt.Sprintf("hs-%d", i)
		if kind != "bare" {
			toks[i] = tokenFor(key, fmt.Sprintf("u%d", i), orgs[i], i)
		}
	}
	conns, rate, lat, failed := openMany(ctx, c.url, toks, orgs, 32)
	defer closeAll(conns)
	if failed > 0 {
		return 0, 0, fmt.Errorf("%s: %d handshakes failed", kind, failed)
	}
	return rate, pct(lat, .5), nil
}

type memResult struct {
	rssKiB, goroutines, heapKiB, stackKiB float64 // per connection
}

// idleMemory: RSS delta, goroutines, Go heap and stacks per idle connection, n connections in
// orgs of 10.
func idleMemory(ctx context.Context, kind string, key *rsa.PrivateKey, n int) (memResult, error) {
	c, err := startChild(kind, "", key)
	if err != nil {
		return memResult{}, err
	}
	defer c.stop()
	s0 := c.stats()
	r0 := c.rssKiB()
	toks, orgs := make([]string, n), make([]string, n)
	for i := range toks {
		orgs[i] = fmt.Sprintf("mem-%d", i/10)
		if kind != "bare" {
			toks[i] = tokenFor(key, fmt.Sprintf("u%d", i), orgs[i], i)
		}
	}
	conns, _, _, failed := openMany(ctx, c.url, toks, orgs, 64)
	defer closeAll(conns)
	if failed > 0 {
		return memResult{}, fmt.Errorf("%s: %d connections failed", kind, failed)
	}
	c.stats() // a first GC lets idle goroutine stacks shrink; the second reads the result
	if dir := os.Getenv("BENCH_HEAP_PROFILE_DIR"); dir != "" {
		if resp, err := http.Get(c.url + "/debug/heap"); err == nil {
			f, _ := os.Create(filepath.Join(dir, kind+".heap"))
			_, _ = io.Copy(f, resp.Body)
			f.Close()
			resp.Body.Close()
		}
	}
	s1 := c.stats()
	r1 := c.rssKiB()
	fn := float64(n)
	return memResult{rssKiB: float64(r1-r0) / fn, goroutines: float64(s1.Goroutines-s0.Goroutines) / fn,
		heapKiB: (s1.HeapInuse - s0.HeapInuse) / 1024 / fn, stackKiB: (s1.StackInuse - s0.StackInuse) / 1024 / fn}, nil
}

// fanout: clients in one org, messages broadcast by one of them, burst or paced.
func fanout(ctx context.Context, base string, key *rsa.PrivateKey, clients, messages int, rate float64) (harness.LoadResult, error) {
	return harness.Load(ctx, harness.LoadConfig{Router: base, Key: key, IssuerClaims: map[string]any{"iss": benchIssuer, "aud": benchAudience},
		Conns: clients, Orgs: 1, Concurrency: 32, Messages: messages, Rate: rate, Timeout: 2 * time.Minute})
}

// forwardOverhead: handshake and message round-trip latency to an echo server, directly and
// through the proxy in forward mode.
func forwardOverhead(ctx context.Context, key *rsa.PrivateKey, handshakes, roundTrips int) (map[string]float64, error) {
	up, err := startChild("echo", "", key)
	if err != nil {
		return nil, err
	}
	defer up.stop()
	fw, err := startChild("forward", "ws://"+up.addr, key)
	if err != nil {
		return nil, err
	}
	defer fw.stop()
	out := map[string]float64{}
	for _, target := range []struct{ name, base string }{{"direct", up.url}, {"forward", fw.url}} {
		var hs []time.Duration
		d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
		var keep *websocket.Conn
		for i := range handshakes {
			h := http.Header{"Authorization": {"Bearer " + tokenFor(key, fmt.Sprintf("f%d", i), "fwd", i)}}
			t0 := time.Now()
			c, _, err := d.DialContext(ctx, harness.OrgURL(target.base, "fwd"), h)
			if err != nil {
				return nil, fmt.Errorf("%s dial: %w", target.name, err)
			}
			hs = append(hs, time.Since(t0))
			if keep == nil {
				keep = c
			} else {
				c.Close()
			}
		}
		var rt []time.Duration
		msg := []byte(`{"type":"broadcast","data":"ping"}`)
		for range roundTrips {
			t0 := time.Now()
			if err := keep.WriteMessage(websocket.TextMessage, msg); err != nil {
				return nil, err
			}
			if _, _, err := keep.ReadMessage(); err != nil {
				return nil, err
			}
			rt = append(rt, time.Since(t0))
		}
		keep.Close()
		out[target.name+"_handshake_p50"] = pct(hs, .5)
		out[target.name+"_rtt_p50"] = pct(rt, .5)
		out[target.name+"_rtt_p99"] = pct(rt, .99)
	}
	return out, nil
}
