package harness

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/qubital/office-router/contract"
)

// SoakConfig describes a soak run: a steady population of sockets, a stream of connects and
// disconnects, and a stream of messages, for a fixed time. Every loop is bounded in time.
type SoakConfig struct {
	Router string          // router base URL
	Key    *rsa.PrivateKey // signs handshake and publish tokens
	Claims map[string]any  // iss and aud of crafted tokens
	// PID is the server process: its RSS is read from /proc/<PID>/status. 0 skips RSS.
	PID int
	// MetricsURL is the server's private Prometheus endpoint, for go_goroutines (edgeproxy
	// -metrics-addr). Empty skips goroutines.
	MetricsURL string
	// Conns is the steady population (default 5000) over Orgs orgs (default 50); each org also
	// has churning sockets (ChurnPerSec connects and as many disconnects per second, default 50).
	Conns, Orgs int
	ChurnPerSec float64
	// MessagesPerSec is the total send rate (default 2000): 85% direct, 10% broadcast,
	// 5% publish (half to the org, half to one user); a sender also pings (at most every 10 s)
	// and times the pong.
	MessagesPerSec float64
	Duration       time.Duration // default 10 min
	// Warmup is excluded from the drift figures; it defaults to a quarter of Duration.
	Warmup   time.Duration
	Progress io.Writer // nil: quiet
}

// SoakResult is what a soak run observed. Pass says whether every property held.
type SoakResult struct {
	Conns, Orgs int
	Duration    string
	Sent        map[string]int64 // by kind
	// SentPerSec is the message rate the harness reached (pings aside), against MessagesPerSec:
	// a loaded machine makes it fall short, and the run then tested less than it was asked to.
	SentPerSec, OfferedPerSec float64
	Deliveries                int64
	Churned                   int64
	Missing, Duplicates       int64 // to members connected for the whole run
	Unexpected                int64 // deliveries beyond what a stable member was sent
	OutOfOrder                int64
	LateOver1s                int64 // replies (pongs) and deliveries slower than 1 s
	MaxLatencyMs              float64
	HarnessStallMs            float64 // the longest time the harness itself did not run (watchStalls)
	RSSKiB                    []int   // samples after warm-up
	Goroutines                []int   // samples after warm-up
	RSSDrift, GorDrift        float64
	Errors                    map[string]int
	// SlowHandshakes counts the handshakes (population and churn) that failed or took over 1 s;
	// HandshakeTraces holds the first ones' client-side phases.
	SlowHandshakes  int64
	HandshakeTraces []string
	Pass            bool
	Failures        []string
}

// soakMsg is what a receiver needs from a frame.
type soakMsg struct {
	Type   string          `json:"type"`
	From   string          `json:"from"`
	Data   json.RawMessage `json:"data"`
	UserID string          `json:"userId"`
}

type soakPayload struct {
	S string `json:"s"` // stream: the sender's user ID, or "pub-<org>" for publishes
	N int64  `json:"n"` // sequence number in the stream
	T int64  `json:"t"` // send time, Unix ns
}

type soakConn struct {
	user   string
	org    int
	stable bool
	conn   *websocket.Conn
	wmu    sync.Mutex // one writer at a time
	pings  chan time.Time

	mu       sync.Mutex
	last     map[string]int64 // stream → last sequence seen
	received int64
	expected atomic.Int64 // stable members only
}

type soak struct {
	cfg                       SoakConfig
	run                       string
	deliveries, late, missing atomic.Int64
	dups, ooo, churned, extra atomic.Int64
	ending                    atomic.Bool  // the harness is closing the population itself
	stall                     atomic.Int64 // the harness's longest stall (watchStalls)
	maxLat                    atomic.Int64
	errMu                     sync.Mutex
	errs                      map[string]int
	slowHS                    int64    // handshakes that failed or took over 1 s (errMu)
	slowTraces                []string // the first ones' traces (errMu)
	readers                   sync.WaitGroup
	orgMembers                [][]*soakConn // stable members by org
	sent                      [4]atomic.Int64
	httpc                     *http.Client
}

// slowHandshake keeps the trace of a handshake that failed or took over 1 s (the first 20).
func (s *soak) slowHandshake(t *handshakeTrace, err error) {
	line := t.String()
	if err != nil {
		line += ": " + err.Error()
	}
	s.errMu.Lock()
	defer s.errMu.Unlock()
	s.slowHS++
	if len(s.slowTraces) < 20 {
		s.slowTraces = append(s.slowTraces, line)
	}
}

func (s *soak) err(k string) {
	s.errMu.Lock()
	s.errs[k]++
	s.errMu.Unlock()
}

func (s *soak) observe(d time.Duration) {
	if d > time.Second {
		s.late.Add(1)
	}
	for {
		old := s.maxLat.Load()
		if int64(d) <= old || s.maxLat.CompareAndSwap(old, int64(d)) {
			return
		}
	}
}

func (s *soak) orgID(i int) string { return fmt.Sprintf("soak-%s-o%d", s.run, i) }

// handshakeToken and publishToken sign a valid 60-second token of the run's issuer and audience.
func (s *soak) handshakeToken(user, org string) string {
	iss, aud, now := s.stamp()
	return Craft(s.cfg.Key, RS256Header(s.cfg.Key), contract.HandshakeClaims{Issuer: iss, Audience: aud,
		UserID: user, OrgID: org, Role: "member", JTI: randHex(16), IssuedAt: now, NotBefore: now, ExpiresAt: now + 60}.Map())
}

func (s *soak) publishToken(org string) string {
	iss, aud, now := s.stamp()
	return Craft(s.cfg.Key, RS256Header(s.cfg.Key), contract.PublishClaims{Issuer: iss, Audience: aud,
		Subject: "soak", OrgID: org, JTI: randHex(16), IssuedAt: now, NotBefore: now, ExpiresAt: now + 60}.Map())
}

func (s *soak) stamp() (iss, aud string, now int64) {
	iss, _ = s.cfg.Claims["iss"].(string)
	aud, _ = s.cfg.Claims["aud"].(string)
	return iss, aud, time.Now().Unix()
}

// handshakeTrace times the client's phases of one handshake, so that a slow or failed one says
// where its time went: the TCP connect, the request written, the first byte of the answer, the
// answer read, the welcome. local is the client's address, which the server logs too.
type handshakeTrace struct {
	start time.Time
	mu    sync.Mutex
	local string
	marks []string
}

func (t *handshakeTrace) mark(phase string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.marks = append(t.marks, fmt.Sprintf("%s +%dms", phase, time.Since(t.start).Milliseconds()))
}

func (t *handshakeTrace) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return fmt.Sprintf("from %s at %s: %s", t.local, t.start.UTC().Format("15:04:05.000"), strings.Join(t.marks, ", "))
}

func (t *handshakeTrace) context(ctx context.Context) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		ConnectStart: func(string, string) { t.mark("connect") },
		ConnectDone:  func(string, string, error) { t.mark("connected") },
		GotConn: func(i httptrace.GotConnInfo) {
			t.mu.Lock()
			t.local = i.Conn.LocalAddr().String()
			t.mu.Unlock()
		},
		WroteHeaders:         func() { t.mark("wrote request") }, // into its buffer; the flush follows
		GotFirstResponseByte: func() { t.mark("first response byte") },
	})
}

// open dials one member and starts its reader.
func (s *soak) open(ctx context.Context, user string, org int, stable bool) (*soakConn, error) {
	tok := s.handshakeToken(user, s.orgID(org))
	tr := &handshakeTrace{start: time.Now()}
	r, err := Dial(tr.context(ctx), OrgURL(s.cfg.Router, s.orgID(org)), tok, InHeader, nil)
	tr.mark("response read")
	if err != nil {
		s.slowHandshake(tr, err)
		return nil, err
	}
	if r.Conn == nil {
		return nil, fmt.Errorf("handshake refused: %d %s", r.Status, r.Reason)
	}
	w, err := ReadJSON(r.Conn, 30*time.Second)
	tr.mark("welcome")
	if err != nil || w["type"] != "welcome" {
		r.Conn.Close()
		s.slowHandshake(tr, err)
		return nil, fmt.Errorf("no welcome: %v", err)
	}
	if time.Since(tr.start) > time.Second {
		s.slowHandshake(tr, nil)
	}
	_ = r.Conn.SetReadDeadline(time.Time{})
	c := &soakConn{user: user, org: org, stable: stable, conn: r.Conn, last: map[string]int64{}, pings: make(chan time.Time, 64)}
	s.readers.Add(1)
	go s.read(c)
	return c, nil
}

// read checks every frame: per stream, sequence numbers only increase (no duplicate, no
// reordering); pongs and deliveries are timed.
func (s *soak) read(c *soakConn) {
	defer s.readers.Done()
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			if c.stable && !s.ending.Load() { // the server closed it: say why (4008, 1008, ...)
				s.err("stable member lost: " + shortErr(err))
			}
			return
		}
		now := time.Now()
		if string(data) == "pong" {
			select {
			case t := <-c.pings:
				s.observe(now.Sub(t))
			default:
				s.err("pong without ping")
			}
			continue
		}
		var m soakMsg
		if json.Unmarshal(data, &m) != nil {
			s.err("unparsable frame")
			continue
		}
		if m.Type != "message" && m.Type != "event" {
			if m.Type == "error" {
				s.err("error frame: " + string(data))
			}
			continue // presence
		}
		var p soakPayload
		if json.Unmarshal(m.Data, &p) != nil {
			s.err("unparsable payload")
			continue
		}
		s.deliveries.Add(1)
		s.observe(now.Sub(time.Unix(0, p.T)))
		c.mu.Lock()
		switch last := c.last[p.S]; {
		case p.N == last:
			s.dups.Add(1)
		case p.N < last:
			s.ooo.Add(1)
		}
		c.last[p.S] = max(c.last[p.S], p.N)
		c.received++
		c.mu.Unlock()
	}
}

func (c *soakConn) write(data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.conn.WriteMessage(websocket.TextMessage, data)
}

// Soak runs the soak and checks its properties.
func Soak(ctx context.Context, cfg SoakConfig) (SoakResult, error) {
	if cfg.Conns <= 0 {
		cfg.Conns = 5000
	}
	if cfg.Orgs <= 0 {
		cfg.Orgs = 50
	}
	if cfg.ChurnPerSec <= 0 {
		cfg.ChurnPerSec = 50
	}
	if cfg.MessagesPerSec <= 0 {
		cfg.MessagesPerSec = 2000
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 10 * time.Minute
	}
	if cfg.Warmup <= 0 {
		cfg.Warmup = cfg.Duration / 4
	}
	if cfg.Key == nil {
		return SoakResult{}, errors.New("soak needs the signing key")
	}
	s := &soak{cfg: cfg, run: randHex(4), errs: map[string]int{}, orgMembers: make([][]*soakConn, cfg.Orgs),
		// Keep-alive for every publisher loop: a new TCP connection per publish would measure
		// the kernel's TIME_WAIT handling, not the router.
		httpc: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2 * cfg.Orgs}}}
	res := SoakResult{Conns: cfg.Conns, Orgs: cfg.Orgs, Duration: cfg.Duration.String(), Sent: map[string]int64{}}
	progress := func(f string, a ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, f+"\n", a...)
		}
	}

	// The stable population: connected before the first message, until after the last.
	progress("soak: opening %d sockets over %d orgs", cfg.Conns, cfg.Orgs)
	var all []*soakConn
	var amu sync.Mutex
	var openErr atomic.Value
	forEach(ctx, cfg.Conns, 32, func(i int) {
		c, err := s.open(ctx, fmt.Sprintf("s%s-u%d", s.run, i), i%cfg.Orgs, true)
		if err != nil {
			openErr.Store(err)
			return
		}
		amu.Lock()
		all = append(all, c)
		s.orgMembers[c.org] = append(s.orgMembers[c.org], c)
		amu.Unlock()
	})
	defer func() {
		s.ending.Store(true)
		for _, c := range all {
			c.conn.Close()
		}
		s.readers.Wait()
	}()
	if err, _ := openErr.Load().(error); err != nil {
		return res, fmt.Errorf("opening the population: %w", err)
	}

	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var bg sync.WaitGroup
	bg.Add(2 + cfg.Orgs)
	go func() { defer bg.Done(); s.churn(runCtx) }()
	for org := range cfg.Orgs { // one sender loop per org: per-org order, and the rate holds
		go func() { defer bg.Done(); s.send(runCtx, org) }()
	}
	var samples []soakSample
	bg.Add(1)
	go func() { defer bg.Done(); s.watchStalls(runCtx) }()
	go func() {
		defer bg.Done()
		samples = s.sample(runCtx, min(10*time.Second, max(time.Second, cfg.Duration/60)), progress)
	}()
	bg.Wait()

	// Quiesce: every stable member must reach its expected count (or the deadline passes).
	deadline := time.Now().Add(10 * time.Second)
	for _, c := range all {
		for {
			c.mu.Lock()
			got := c.received
			c.mu.Unlock()
			want := c.expected.Load()
			if got >= want || time.Now().After(deadline) {
				if got < want {
					s.missing.Add(want - got)
				}
				if got > want {
					s.extra.Add(got - want)
				}
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	for k := range s.sent {
		res.Sent[[]string{"direct", "broadcast", "publish", "ping"}[k]] = s.sent[k].Load()
	}
	res.Deliveries, res.Churned = s.deliveries.Load(), s.churned.Load()
	res.OfferedPerSec = cfg.MessagesPerSec
	res.SentPerSec = float64(res.Sent["direct"]+res.Sent["broadcast"]+res.Sent["publish"]) / cfg.Duration.Seconds()
	res.Missing, res.Duplicates, res.OutOfOrder = s.missing.Load(), s.dups.Load(), s.ooo.Load()
	res.LateOver1s, res.MaxLatencyMs = s.late.Load(), float64(s.maxLat.Load())/1e6
	res.Unexpected = s.extra.Load()
	res.HarnessStallMs = float64(s.stall.Load()) / 1e6
	res.Errors = map[string]int{}
	s.errMu.Lock()
	for k, v := range s.errs {
		res.Errors[k] = v
	}
	res.SlowHandshakes, res.HandshakeTraces = s.slowHS, s.slowTraces
	s.errMu.Unlock()
	for _, x := range samples {
		res.RSSKiB = append(res.RSSKiB, x.rss)
		res.Goroutines = append(res.Goroutines, x.gor)
	}
	// Goroutines: the floor of each third, since writer goroutines come and go with the traffic
	// (a leak raises the floor). RSS: the median of each third, since RSS follows the GC's
	// sawtooth and the scavenger (at 1,000 sockets one sample to the next swung by up to 8 MB,
	// so means of thirds drifted ±10% with nothing leaking, and a floor moved with one low
	// sample); a leak raises the median. Goroutine
	// drift is relative to the population as well as to the floor: with idle sockets in one
	// epoll set the floor is about 20 goroutines, so one goroutine more read as 5%, while a leak
	// that matters (one per socket or per churned connection) grows with the population, as
	// it did when each socket had a goroutine and the floor was the population.
	res.RSSDrift = drift(res.RSSKiB, median, 0)
	res.GorDrift = drift(res.Goroutines, floor, cfg.Conns)
	fail := func(f string, a ...any) { res.Failures = append(res.Failures, fmt.Sprintf(f, a...)) }
	if res.Missing+res.Duplicates+res.OutOfOrder+res.Unexpected > 0 {
		fail("delivery: %d missing, %d duplicated, %d out of order, %d unexpected", res.Missing, res.Duplicates, res.OutOfOrder, res.Unexpected)
	}
	if res.LateOver1s > 0 {
		fail("%d replies or deliveries over 1 s (max %.0f ms)", res.LateOver1s, res.MaxLatencyMs)
	}
	if len(samples) < 3 {
		fail("only %d samples after warm-up", len(samples))
	} else {
		if cfg.PID != 0 && res.RSSDrift > 0.05 {
			fail("RSS drift %.1f%% > 5%%", 100*res.RSSDrift)
		}
		if cfg.MetricsURL != "" && res.GorDrift > 0.05 {
			fail("goroutine drift %.1f%% > 5%%", 100*res.GorDrift)
		}
	}
	if len(res.Errors) > 0 {
		fail("errors: %v", res.Errors)
	}
	res.Pass = len(res.Failures) == 0
	return res, nil
}

// soakSample is one sample of the server: its RSS, and its fewest goroutines since the last.
type soakSample struct{ rss, gor int }

// goroutineReadEvery is how often the goroutine count is read between two samples. Writer
// goroutines come and go with the fan-out, so one read per sample often lands in a burst: a CI
// run's last third read 63, 222, 422, 121 and 507 with nothing leaking, a floor 44 over the
// first third's, +4.4% of the 5% a 1,000-socket run allows. The fewest of twenty reads finds the
// idle floor; a leak raises every read.
const goroutineReadEvery = 100 * time.Millisecond

// sample takes a sample every period until ctx ends, keeping those after the warm-up.
func (s *soak) sample(ctx context.Context, every time.Duration, progress func(string, ...any)) []soakSample {
	var samples []soakSample
	t := time.NewTicker(every)
	defer t.Stop()
	reads := time.NewTicker(goroutineReadEvery)
	defer reads.Stop()
	start, fewest := time.Now(), -1
	for {
		select {
		case <-ctx.Done():
			return samples
		case <-reads.C:
			if g := s.goroutines(); fewest < 0 || g < fewest {
				fewest = g
			}
			continue
		case <-t.C:
		}
		rss, gor := s.rssKiB(), s.goroutines()
		if fewest >= 0 {
			gor = min(gor, fewest)
		}
		fewest = -1
		phase := "warm-up"
		if time.Since(start) >= s.cfg.Warmup {
			samples = append(samples, soakSample{rss, gor})
			phase = "sampled"
		}
		progress("soak: %s %s  deliveries %d  late %d  churned %d  rss %d KiB  goroutines %d", time.Since(start).Round(time.Second),
			phase, s.deliveries.Load(), s.late.Load(), s.churned.Load(), rss, gor)
	}
}

// watchStalls records the longest time the harness itself did not run: a 50 ms ticker that
// fires late. A delivery measured late while the harness stalled as long says more about the
// machine than about the server.
func (s *soak) watchStalls(ctx context.Context) {
	const every = 50 * time.Millisecond
	t := time.NewTicker(every)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		if d := now.Sub(last) - every; d > time.Duration(s.stall.Load()) {
			s.stall.Store(int64(d))
		}
		last = now
	}
}

// drift compares the last third of the samples with the first third, each summarised by f,
// relative to the first third's figure or atLeast, whichever is larger.
func drift(v []int, f func([]int) float64, atLeast int) float64 {
	if len(v) < 3 {
		return 0
	}
	k := len(v) / 3
	a, b := f(v[:k]), f(v[len(v)-k:])
	base := max(a, float64(atLeast))
	if base == 0 {
		return 0
	}
	return (b - a) / base
}

func median(x []int) float64 {
	y := slices.Clone(x)
	slices.Sort(y)
	n := len(y)
	if n%2 == 1 {
		return float64(y[n/2])
	}
	return float64(y[n/2-1]+y[n/2]) / 2
}

func floor(x []int) float64 {
	m := x[0]
	for _, y := range x {
		m = min(m, y)
	}
	return float64(m)
}

// churn opens and closes sockets at ChurnPerSec until ctx's deadline (the run's end): it starts
// the handshakes due by the clock, each in its own goroutine (churnOne), so that a slow handshake
// does not lower the offered rate.
//
// The end is read from the clock, not from ctx.Err: a context's error is set by a timer, which
// under load fires some milliseconds after the deadline, and a handshake started in that window
// fails at once with "i/o timeout" (net.Dialer checks the deadline itself). That was the churn
// handshake "timing out" in about half the runs (issue 12). No handshake is cut short by the end
// either: each runs to its own 10 s timeout, so one that hangs is reported, not hidden by the end.
func (s *soak) churn(ctx context.Context) {
	dialCtx := context.WithoutCancel(ctx)
	t := time.NewTicker(time.Duration(float64(time.Second) / s.cfg.ChurnPerSec))
	defer t.Stop()
	var p churnPool
	defer p.close()
	start, started := time.Now(), 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !running(ctx) {
			return
		}
		// As many as are due by the clock: a ticker drops the ticks a starved loop misses.
		for due := int(time.Since(start).Seconds() * s.cfg.ChurnPerSec); started < due; started++ {
			p.wg.Add(1)
			go s.churnOne(dialCtx, started, &p)
		}
	}
}

// running reports whether ctx is live and its deadline, read from the clock, not passed (see churn).
func running(ctx context.Context) bool {
	end, bounded := ctx.Deadline()
	return ctx.Err() == nil && (!bounded || time.Now().Before(end))
}

// churnPool holds the churning members that are open, oldest first.
type churnPool struct {
	wg    sync.WaitGroup // the handshakes in flight
	mu    sync.Mutex
	conns []*soakConn
}

// close waits for the handshakes in flight and closes every member.
func (p *churnPool) close() {
	p.wg.Wait()
	for _, c := range p.conns {
		c.conn.Close()
	}
}

// churnOne opens churning member i; once open, it replaces the oldest one, closed half the time
// with a close frame, half by cutting TCP.
func (s *soak) churnOne(ctx context.Context, i int, p *churnPool) {
	defer p.wg.Done()
	c, err := s.open(ctx, fmt.Sprintf("c%s-u%d", s.run, i), i%s.cfg.Orgs, false)
	if err != nil {
		s.err("churn open: " + shortErr(err))
		return
	}
	s.churned.Add(1)
	p.mu.Lock()
	p.conns = append(p.conns, c)
	var old *soakConn
	if len(p.conns) > s.cfg.Orgs { // about one churning socket per org at a time
		old, p.conns = p.conns[0], p.conns[1:]
	}
	p.mu.Unlock()
	if old == nil {
		return
	}
	if i%2 == 0 {
		_ = old.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	}
	old.conn.Close()
}

// send paces org's share of MessagesPerSec over its stable members, round robin, and the
// senders' pings. Expected counts are raised before the send, so a fast delivery never looks
// like an extra one. All its state is its own: one loop per org.
func (s *soak) send(ctx context.Context, org int) {
	const tick = 10 * time.Millisecond
	perSec := s.cfg.MessagesPerSec / float64(s.cfg.Orgs)
	t := time.NewTicker(tick)
	defer t.Stop()
	members := s.orgMembers[org]
	if len(members) < 2 {
		return
	}
	seq := map[string]int64{}
	lastPing := map[*soakConn]time.Time{}
	var budget float64
	var k int
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !running(ctx) {
			return
		}
		// By the clock, not per tick: a ticker drops the ticks a starved loop misses, and the
		// offered rate would fall with them, unseen. At most a tenth of a second behind, though:
		// a loop that cannot keep up sends less (SentPerSec says so) rather than a backlog that
		// grows, bursts when the loop runs again, and runs on past the end.
		now := time.Now()
		budget = min(budget+perSec*now.Sub(last).Seconds(), max(perSec/10, 1))
		last = now
		for ; budget >= 1 && running(ctx); budget-- {
			k++
			from := members[k%len(members)]
			if now := time.Now(); now.Sub(lastPing[from]) >= 10*time.Second {
				lastPing[from] = now
				select {
				case from.pings <- now:
					if from.write([]byte("ping")) != nil {
						s.err("ping write failed")
					}
					s.sent[3].Add(1)
				default:
				}
			}
			switch kind := k % 20; {
			case kind < 17: // direct to another stable member of the org
				to := members[(k+1+k%7)%len(members)]
				if to == from {
					continue
				}
				seq[from.user]++
				to.expected.Add(1)
				if from.write(s.payload("direct", from.user, seq[from.user], to.user)) != nil {
					s.err("direct write failed")
				}
				s.sent[0].Add(1)
			case kind < 19: // broadcast
				seq[from.user]++
				for _, m := range members {
					if m != from {
						m.expected.Add(1)
					}
				}
				if from.write(s.payload("broadcast", from.user, seq[from.user], "")) != nil {
					s.err("broadcast write failed")
				}
				s.sent[1].Add(1)
			default: // publish, in order per org: one request at a time
				stream := "pub-" + s.orgID(org)
				seq[stream]++
				to := ""
				if k%40 == 19 {
					target := members[(k/20)%len(members)]
					to = target.user
					target.expected.Add(1)
				} else {
					for _, m := range members {
						m.expected.Add(1)
					}
				}
				// Not ctx: a publish cut off at the end would count as missing deliveries.
				if err := s.publish(context.WithoutCancel(ctx), org, to, stream, seq[stream]); err != nil {
					s.err("publish: " + shortErr(err))
				}
				s.sent[2].Add(1)
			}
		}
	}
}

func (s *soak) payload(typ, stream string, n int64, to string) []byte {
	p := soakPayload{S: stream, N: n, T: time.Now().UnixNano()}
	m := map[string]any{"type": typ, "data": p}
	if to != "" {
		m["to"] = to
	}
	b, _ := json.Marshal(m)
	return b
}

func (s *soak) publish(ctx context.Context, org int, to, stream string, n int64) error {
	body := map[string]any{"data": soakPayload{S: stream, N: n, T: time.Now().UnixNano()}}
	if to != "" {
		body["to"] = to
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, HTTPBase(s.cfg.Router)+"/orgs/"+s.orgID(org)+"/publish", bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.publishToken(s.orgID(org)))
	req.Header.Set("Content-Type", "application/json")
	// Single-use token: a retry can never deliver twice, so net/http may retry once when a pooled
	// connection was closed by the router's idle timeout as we reused it (a bare EOF otherwise;
	// one in 57,358 publishes of a 10-minute soak). issuer.Publisher does the same.
	req.Header.Set("Idempotency-Key", randHex(16))
	start := time.Now()
	resp, err := s.httpc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	s.observe(time.Since(start)) // a reply, timed as pongs are (issue 12: none over 1 s)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// goroutines reads go_goroutines from the router's /metrics (0 when it has none).
func (s *soak) goroutines() int {
	if s.cfg.MetricsURL == "" {
		return 0
	}
	resp, err := s.httpc.Get(s.cfg.MetricsURL)
	if err != nil {
		s.err("metrics: " + shortErr(err)) // a sample of 0 must not pass for a figure
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return int(f)
		}
	}
	s.err("metrics: no go_goroutines")
	return 0
}

// rssKiB reads the server's VmRSS (0 without a PID). A PID whose RSS cannot be read (the
// process gone, no /proc) is an error of the soak, as an unreadable goroutine count is: a 0
// sample must not pass for a figure, nor a row of them for a drift of 0%.
func (s *soak) rssKiB() int {
	if s.cfg.PID == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cfg.PID))
	if err != nil {
		s.err("rss: " + shortErr(err))
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			if f := strings.Fields(v); len(f) > 0 {
				if n, err := strconv.Atoi(f[0]); err == nil {
					return n
				}
			}
		}
	}
	s.err("rss: no VmRSS")
	return 0
}
