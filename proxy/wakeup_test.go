package proxy_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/qubital/office-router/proxy"
)

// Regression tests for issue 12: input that arrived between gorilla's last read(2) and the idle
// wait (idle.go) was forgotten by the edge-triggered poller, so a reader slept until the next
// packet (the pong after the next ping, up to PingPeriod) or its read deadline (up to
// 2×PingPeriod + WriteWait). Both tests fail on the first lost wake-up: no answer may take the
// proxy more than stallLimit, and each tells a stall of the proxy's own from a busy machine.

const stallLimit = time.Second

// TestBackToBackFramesNeverStall: many clients each send two frames back to back and wait for
// both answers, for at least rounds rounds in all; no round may take the proxy over stallLimit.
//
// The clients and the proxy share this process, so a round's time is the proxy's time plus the
// time the whole process could not run (scripts/test.sh runs this beside CPU-heavy tests, on
// machines shared with other jobs). A lost wake-up is the proxy's own: the process runs, the
// socket has input, and the reader sleeps until the next packet, which here never comes (the
// client waits for its pongs; pings come every 30 s). So a round is judged on its time minus the
// time the process lost meanwhile (starvationMeter): over stallLimit fails, at any load. The
// time lost is excused only as far as the kernel's run-queue wait for the process's threads
// (/proc/self/task/*/schedstat) confirms it, so the proxy's own goroutines holding the CPU are
// never excused (without /proc nothing is). The read deadline, stallHorizon, is only how long a
// round is watched: a lost wake-up outlasts it, starvation of the process does not, and a round
// that reaches it says how much of it the process lost. Measured with -short, 20 runs at -cpu=1,2 beside three CPU hogs and a loop of
// TestShutdownUnderLoad (load average 13–20 on 2 cores): 201 rounds took over 0.5 s, the slowest
// 1.05 s (over the old limit: "no pong within 1s"). In every one all 16 clients stalled at once
// and the meter saw at least 96% of the round lost (the slowest: 1.03 s lost, and the process's
// threads waited 1.32 s on the kernel's run queue in the 1.04 s around it); no round was more
// than 28 ms slower than what the process lost, and the proxy's share of any round stayed under
// 0.25 s.
func TestBackToBackFramesNeverStall(t *testing.T) {
	rounds := int64(100_000)
	if testing.Short() {
		rounds = 20_000
	}
	const clients = 16
	const stallHorizon = 10 * stallLimit
	e := newEnv(t, proxy.Config{MessagesPerSecond: 1e9, MessageBurst: 1 << 30})
	var (
		done         atomic.Int64
		slowest      atomic.Int64 // a round's time
		slowestProxy atomic.Int64 // a round's time minus what the process lost meanwhile
		wg           sync.WaitGroup
	)
	setMax := func(v *atomic.Int64, d int64) {
		for old := v.Load(); d > old && !v.CompareAndSwap(old, d); old = v.Load() {
		}
	}
	errs := make(chan error, clients)
	conns := make([]*websocket.Conn, clients)
	for i := range conns {
		conns[i] = e.dial(fmt.Sprintf("u%d", i), fmt.Sprintf("org%d", i)).conn
		_ = conns[i].SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := conns[i].ReadMessage(); err != nil { // welcome
			t.Fatal(err)
		}
	}
	meter := startStarvationMeter(t, 5*time.Millisecond)
	explain := func(start, end time.Time, lost time.Duration) string {
		s := fmt.Sprintf("the process lost %v of it", lost.Round(time.Millisecond))
		if wait, over := meter.runQueueWaitAround(start, end); over > 0 {
			s += fmt.Sprintf("; its threads waited %v for a CPU in the %v around it", wait.Round(time.Millisecond), over.Round(time.Millisecond))
		}
		return s
	}
	ping := []byte("ping")
	for i, conn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done.Add(1) <= rounds {
				start := time.Now()
				lost0 := meter.lostBy(start)
				_ = conn.SetReadDeadline(start.Add(stallHorizon))
				// Two writes, two packets: the second lands while the proxy handles the first.
				if conn.WriteMessage(websocket.TextMessage, ping) != nil || conn.WriteMessage(websocket.TextMessage, ping) != nil {
					errs <- fmt.Errorf("client %d: write failed", i)
					return
				}
				for range 2 {
					_, data, err := conn.ReadMessage()
					if err != nil {
						end := time.Now()
						errs <- fmt.Errorf("client %d, round at %d: no pong within %v (a lost wake-up): %v; %s", i, done.Load(), end.Sub(start).Round(time.Millisecond), err, explain(start, end, meter.lostBy(end)-lost0))
						return
					}
					if string(data) != "pong" {
						errs <- fmt.Errorf("client %d: got %q, want pong", i, data)
						return
					}
				}
				end := time.Now()
				d, lost := end.Sub(start), meter.lostBy(end)-lost0
				if d > stallLimit {
					// Excuse only what the kernel confirms: time this process's threads
					// waited for a CPU. At -cpu=1 the meter is also late while the proxy's
					// own goroutines hold the one P, and that is no excuse.
					wait, _ := meter.runQueueWaitSince(start)
					lost = min(lost, wait)
				}
				setMax(&slowest, int64(d))
				setMax(&slowestProxy, int64(d-lost))
				if d-lost > stallLimit {
					errs <- fmt.Errorf("client %d, round at %d: pongs after %v, %v more than the process lost waiting for a CPU (a stall of the proxy's own); %s", i, done.Load(), d.Round(time.Millisecond), (d - lost).Round(time.Millisecond), explain(start, end, lost))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d rounds over %d clients, slowest round %v, the proxy's slowest share of a round %v", rounds, clients, time.Duration(slowest.Load()), time.Duration(slowestProxy.Load()))
}

// TestLeaveAfterCloseRightAfterWelcome: clients that close as soon as their welcome arrives
// (half with a close frame, half by cutting TCP) leave their hub at once: the observer in the
// org sees every leave within stallLimit of the close.
func TestLeaveAfterCloseRightAfterWelcome(t *testing.T) {
	n := 600
	if testing.Short() {
		n = 200
	}
	const workers = 8
	e := newEnv(t, proxy.Config{})
	obs := e.dial("observer", "quick")
	obs.next() // welcome

	var mu sync.Mutex
	closedAt := map[string]time.Time{}
	leaves := make(chan string, n)
	obsErr := make(chan error, 1)
	go func() {
		defer close(leaves)
		for {
			_ = obs.conn.SetReadDeadline(time.Now().Add(30 * time.Second)) // the per-leave check is below
			var m map[string]any
			if err := obs.conn.ReadJSON(&m); err != nil {
				obsErr <- err
				return
			}
			if m["type"] == "presence" && m["event"] == "leave" {
				leaves <- m["userId"].(string)
			}
		}
	}()

	// Tokens first: RSA signing in the workers would compete for the CPU with the proxy they
	// measure (in the same process, at -cpu=1).
	toks := make([]string, n)
	for i := range toks {
		toks[i] = e.token(fmt.Sprintf("q%d", i), "quick", "member")
	}
	work := make(chan int)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				user := fmt.Sprintf("q%d", i)
				conn, _, err := websocket.DefaultDialer.DialContext(t.Context(), e.wsURL+"/orgs/quick/ws",
					http.Header{"Authorization": {"Bearer " + toks[i]}})
				if err != nil {
					errs <- err
					return
				}
				_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, _, err := conn.ReadMessage(); err != nil {
					errs <- err
					return
				}
				if i%2 == 0 {
					_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
				}
				mu.Lock()
				closedAt[user] = time.Now()
				mu.Unlock()
				conn.Close()
			}
		}()
	}
	go func() {
		defer close(work)
		for i := range n {
			select {
			case work <- i:
			case <-t.Context().Done():
				return
			}
		}
	}()

	// Every closed user must leave within stallLimit of its close; checked on every leave and
	// every 100 ms. After the first late one, the test waits (at most 10 s) for the leaves still
	// missing, so its message tells a slow leave (a starved machine) from a lost one (a socket
	// asleep until its read deadline).
	seen := map[string]time.Duration{}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var worst time.Duration
	var lateUser string
	var lateAt time.Time
	for len(seen) < n && (lateUser == "" || time.Since(lateAt) < 10*time.Second) {
		select {
		case u, ok := <-leaves:
			if !ok {
				t.Fatalf("observer stopped after %d leaves: %v", len(seen), <-obsErr)
			}
			mu.Lock()
			at := closedAt[u] // always known: the close is noted before it happens
			mu.Unlock()
			seen[u] = time.Since(at)
			worst = max(worst, seen[u])
		case err := <-errs:
			t.Fatal(err)
		case <-tick.C:
		}
		if lateUser != "" {
			continue
		}
		mu.Lock()
		for u, at := range closedAt {
			if _, ok := seen[u]; !ok && time.Since(at) > stallLimit {
				lateUser, lateAt = u, time.Now()
			}
		}
		mu.Unlock()
	}
	if lateUser != "" {
		d, ok := seen[lateUser]
		missing := 0
		mu.Lock()
		for u := range closedAt {
			if _, ok := seen[u]; !ok {
				missing++
			}
		}
		mu.Unlock()
		if !ok {
			t.Fatalf("%s left no trace 10 s after passing %v (a lost wake-up); %d leaves missing", lateUser, stallLimit, missing)
		}
		t.Fatalf("%s's leave took %v, over %v (slowest %v; %d of %d seen, %d missing 10 s later)", lateUser, d.Round(time.Millisecond), stallLimit, worst.Round(time.Millisecond), len(seen), n, missing)
	}
	wg.Wait()
	obs.conn.Close()
	for range leaves {
	}
	t.Logf("%d leaves, slowest %v after the close", n, worst)
}

// TestShutdownWhileConnecting: Shutdown during a stream of handshakes closes every socket with
// 1001, including one that reserved its place before Shutdown and joined its hub after
// Shutdown listed the members: no socket waits out its read deadline, so Shutdown returns nil
// well within its context.
func TestShutdownWhileConnecting(t *testing.T) {
	// The read deadline (2×PingPeriod + WriteWait = 30 s) is far beyond Shutdown's 10 s budget:
	// a socket Shutdown missed makes it fail.
	e := newEnv(t, proxy.Config{PingPeriod: 10 * time.Second, WriteWait: 10 * time.Second})
	const workers = 8
	var wg sync.WaitGroup
	var connected atomic.Int64
	started := make(chan struct{})
	var once sync.Once
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				user := fmt.Sprintf("w%d-%d", w, i)
				conn, _, err := websocket.DefaultDialer.DialContext(t.Context(), e.wsURL+"/orgs/late/ws",
					http.Header{"Authorization": {"Bearer " + e.token(user, "late", "member")}})
				if err != nil {
					return // refused: the proxy is shutting down
				}
				connected.Add(1)
				if connected.Load() >= 50 {
					once.Do(func() { close(started) })
				}
				wg.Add(1)
				go func() { // read (and so answer the close) until the server closes
					defer wg.Done()
					defer conn.Close()
					_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
					for {
						if _, _, err := conn.ReadMessage(); err != nil {
							return
						}
					}
				}()
			}
		}()
	}
	<-started
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := e.p.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown after %v: %v (%d sockets opened; a socket was not told to close)", time.Since(start), err, connected.Load())
	}
	wg.Wait()
	t.Logf("%d sockets, Shutdown took %v", connected.Load(), time.Since(start))
}

// TestShutdownCutsAPeerThatKeepsSending: Shutdown's close frame gives a peer closeGrace to
// answer, and a peer that keeps sending instead does not move that deadline: its socket ends
// after closeGrace (and the linger), so Shutdown returns nil well within its 10 s, far below the
// idle deadline (2×PingPeriod + WriteWait = 70 s) that sending would otherwise keep extending.
//
// The hook puts the close in the one place where the reader could undo it: after the reader saw
// the socket open, before it moved the deadline. Before the fix it moved it anyway, after the
// close deadline, and Shutdown hit its context: TestShutdownUnderLoad's one failure under load
// (its flooding sender), made certain.
func TestShutdownCutsAPeerThatKeepsSending(t *testing.T) {
	e := newEnv(t, proxy.Config{MessagesPerSecond: 1e6, MessageBurst: 1e6})
	c := e.dial("flooder", "flood")
	c.next() // welcome

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	shutdown := make(chan error, 1)
	closeSet := make(chan struct{})
	var armed atomic.Bool
	var fired, closed sync.Once
	reset := proxy.SetDeadlineHook(func(closing bool) {
		switch {
		case closing:
			closed.Do(func() { close(closeSet) })
		case armed.Load():
			fired.Do(func() {
				go func() { shutdown <- e.p.Shutdown(ctx) }()
				<-closeSet // the close frame is written and its deadline set
			})
		}
	})
	defer reset()

	stop := make(chan struct{})
	flooding := make(chan struct{})
	go func() {
		defer close(flooding)
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			if c.conn.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"type":"broadcast","data":%d}`, n))) != nil {
				return // the proxy cut the socket
			}
		}
	}()
	armed.Store(true)
	start := time.Now()
	err := <-shutdown
	close(stop)
	<-flooding
	if err != nil {
		t.Fatalf("Shutdown after %v: %v (the peer kept sending, and its socket outlived the close deadline)", time.Since(start), err)
	}
	t.Logf("Shutdown took %v", time.Since(start))
}

// TestForwardShutdownWithSilentPeers: in forward mode, Shutdown's 1001 is not answered by a
// client that never reads nor by an upstream that never reads; each side still ends after
// closeGrace, as in hub mode, instead of holding Shutdown until its context ends.
func TestForwardShutdownWithSilentPeers(t *testing.T) {
	release := make(chan struct{})
	handlerDone := make(chan struct{}, 16)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { handlerDone <- struct{}{} }()
		conn, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		<-release // never reads: never answers a close
		conn.Close()
	}))
	t.Cleanup(func() {
		close(release)
		select { // the one upgrade handler (hijacked: httptest does not wait for it)
		case <-handlerDone:
		case <-time.After(10 * time.Second):
			t.Error("upstream handler did not return")
		}
		upstream.Close()
	})
	fw := newEnv(t, proxy.Config{Upstream: "ws" + strings.TrimPrefix(upstream.URL, "http")})
	c := fw.dial("alice", "acme") // never reads either
	_ = c
	waitFor(t, func() bool { return fw.p.Stats().Relays == 1 }, "relay not registered: %+v", fw.p)
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Second)
	defer cancel()
	start := time.Now()
	if err := fw.p.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown after %v: %v", time.Since(start), err)
	}
	t.Logf("Shutdown took %v", time.Since(start))
}
