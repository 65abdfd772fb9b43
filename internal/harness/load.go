package harness

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/qubital/office-router/contract"
)

// LoadConfig describes a load run. Every loop is bounded in count and time.
type LoadConfig struct {
	Router string
	// Key signs the connection tokens (the issuer's key); with no key, tokens come from Issuer.
	Key    *rsa.PrivateKey
	Issuer string
	// IssuerClaims supplies iss/aud for crafted tokens; read from one issuer token when nil.
	IssuerClaims map[string]any
	Conns        int           // connections to open (default 100)
	Orgs         int           // spread over this many orgs (default 1)
	Concurrency  int           // handshakes in flight (default 32)
	Messages     int           // broadcasts per org in the fan-out phase (default 20)
	Rate         float64       // target deliveries per second in total; 0 = as fast as possible
	Timeout      time.Duration // bound on each phase (default 60 s)
	Progress     io.Writer     // live progress line; nil for none
}

// LoadResult is what a load run measured.
type LoadResult struct {
	Conns            int            `json:"conns"`
	Opened           int            `json:"opened"`
	HandshakesPerSec float64        `json:"handshakesPerSec"`
	Handshake        Percentiles    `json:"handshakeLatencyMs"`
	Deliveries       int64          `json:"deliveries"`
	Expected         int64          `json:"expectedDeliveries"`
	DeliveriesPerSec float64        `json:"deliveriesPerSec"`
	Delivery         Percentiles    `json:"deliveryLatencyMs"`
	Errors           map[string]int `json:"errors"`
}

// Percentiles in milliseconds.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func percentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	at := func(q float64) float64 {
		i := int(q * float64(len(d)-1))
		return float64(d[i].Microseconds()) / 1000
	}
	return Percentiles{P50: at(.5), P90: at(.9), P99: at(.99), Max: at(1)}
}

type loadConn struct {
	conn *websocket.Conn
	org  int
}

// Load opens the connections, then measures fan-out inside each org.
func Load(ctx context.Context, cfg LoadConfig) (LoadResult, error) {
	cfg.defaults()
	l := &loadRun{cfg: cfg, run: randHex(4), res: LoadResult{Conns: cfg.Conns, Errors: map[string]int{}},
		conns: make([]*loadConn, cfg.Conns), latCh: make(chan time.Duration, 4096), done: make(chan struct{})}
	l.expected.Store(-1)
	toks, err := l.tokens(ctx)
	if err != nil {
		return l.res, err
	}
	l.handshakes(ctx, toks)
	l.fanOut(ctx)
	return l.res, nil
}

func (cfg *LoadConfig) defaults() {
	if cfg.Conns <= 0 {
		cfg.Conns = 100
	}
	if cfg.Orgs <= 0 {
		cfg.Orgs = 1
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 32
	}
	if cfg.Messages <= 0 {
		cfg.Messages = 20
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
}

// loadRun is one load run's state: the connections opened, their readers and what they counted.
type loadRun struct {
	cfg LoadConfig
	run string // names this run's users, orgs and jtis

	mu  sync.Mutex // res.Errors, from the dialers
	res LoadResult

	conns   []*loadConn // by index; nil where the handshake failed
	readers sync.WaitGroup

	// Every connection gets a reader from the start: a client that does not read would be
	// dropped by the router as a slow consumer (presence frames arrive during the handshakes
	// too). The readers count fan-out deliveries and close done at the expected count.
	delivered, expected atomic.Int64 // expected is -1 until the fan-out knows it
	latCh               chan time.Duration
	done                chan struct{}
	closeDone           sync.Once
}

// loadToken is a prepared handshake: its token and its org.
type loadToken struct {
	tok, org string
}

// tokens prepares every connection's token first, so the handshake rate measures the router
// alone: crafted with Key (iss and aud from IssuerClaims, or from one issuer token), or from
// the issuer.
func (l *loadRun) tokens(ctx context.Context) ([]loadToken, error) {
	cfg := l.cfg
	iss := Issuer{URL: cfg.Issuer}
	claims := cfg.IssuerClaims
	if cfg.Key != nil && claims == nil {
		a, err := iss.Handshake(ctx, "load-probe-"+l.run, "load-probe-"+l.run, "member")
		if err != nil {
			return nil, err
		}
		if claims, err = Claims(a.Token); err != nil {
			return nil, err
		}
	}
	toks := make([]loadToken, cfg.Conns)
	for i := range toks {
		user := fmt.Sprintf("load-%s-u%d", l.run, i)
		org := fmt.Sprintf("load-%s-o%d", l.run, i%cfg.Orgs)
		if cfg.Key == nil {
			a, err := iss.Handshake(ctx, user, org, "member")
			if err != nil {
				return nil, err
			}
			toks[i] = loadToken{a.Token, org}
			continue
		}
		now := time.Now().Unix()
		iss, _ := claims["iss"].(string)
		aud, _ := claims["aud"].(string)
		c := contract.HandshakeClaims{Issuer: iss, Audience: aud, UserID: user, OrgID: org, Role: "member",
			JTI: fmt.Sprintf("load-%s-%d", l.run, i), IssuedAt: now, NotBefore: now, ExpiresAt: now + 60}
		toks[i] = loadToken{Craft(cfg.Key, RS256Header(cfg.Key), c.Map()), org}
	}
	return toks, nil
}

// fail counts one error of a kind.
func (l *loadRun) fail(kind string) {
	l.mu.Lock()
	l.res.Errors[kind]++
	l.mu.Unlock()
}

// handshakes is phase 1: Concurrency dialers open every connection within Timeout; a
// connection counts once its welcome frame has come (the router has made it a member of its
// org), and gets its reader then.
func (l *loadRun) handshakes(ctx context.Context, toks []loadToken) {
	cfg := l.cfg
	pctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	lat := make([]time.Duration, cfg.Conns)
	var opened atomic.Int64
	start := time.Now()
	forEach(pctx, cfg.Conns, cfg.Concurrency, func(i int) {
		t0 := time.Now()
		r, err := Dial(pctx, OrgURL(cfg.Router, toks[i].org), toks[i].tok, InHeader, nil)
		switch {
		case err != nil:
			l.fail("dial: " + shortErr(err))
		case r.Conn == nil:
			l.fail(fmt.Sprintf("%d %s", r.Status, r.Reason))
		default:
			_ = r.Conn.SetReadDeadline(time.Now().Add(cfg.Timeout))
			if w, err := ReadJSON(r.Conn, cfg.Timeout); err != nil || w["type"] != "welcome" {
				l.fail("no welcome frame")
				r.Conn.Close()
				return
			}
			_ = r.Conn.SetReadDeadline(time.Time{})
			lat[i] = time.Since(t0)
			org, _ := strconv.Atoi(toks[i].org[strings.LastIndexByte(toks[i].org, 'o')+1:])
			l.conns[i] = &loadConn{conn: r.Conn, org: org}
			l.readers.Add(1)
			go l.read(r.Conn)
			if n := opened.Add(1); cfg.Progress != nil && (n%50 == 0 || int(n) == cfg.Conns) {
				fmt.Fprintf(cfg.Progress, "\r  opened %d/%d connections", n, cfg.Conns)
			}
		}
	})
	elapsed := time.Since(start)
	if cfg.Progress != nil {
		fmt.Fprintln(cfg.Progress)
	}
	l.res.Opened = int(opened.Load())
	l.res.HandshakesPerSec = float64(l.res.Opened) / elapsed.Seconds()
	var okLat []time.Duration
	for i, c := range l.conns {
		if c != nil {
			okLat = append(okLat, lat[i])
		}
	}
	l.res.Handshake = percentiles(okLat)
}

// read is a connection's reader: it records the latency each fan-out message carries.
func (l *loadRun) read(c *websocket.Conn) {
	defer l.readers.Done()
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			return
		}
		var msg struct {
			Type string `json:"type"`
			Data struct {
				T int64 `json:"t"`
			} `json:"data"`
		}
		if json.Unmarshal(data, &msg) != nil || msg.Type != "message" {
			continue
		}
		l.latCh <- time.Duration(time.Now().UnixNano() - msg.Data.T)
		if l.delivered.Add(1) == l.expected.Load() {
			l.closeDone.Do(func() { close(l.done) })
		}
	}
}

// stopReaders closes every connection and waits for the readers.
func (l *loadRun) stopReaders() {
	for _, c := range l.conns {
		if c != nil {
			c.conn.Close()
		}
	}
	l.readers.Wait()
}

// fanOut is phase 2: in each org the first connection broadcasts Messages times (paced to Rate);
// every other member records the latency carried in the message. It closes the connections.
func (l *loadRun) fanOut(ctx context.Context) {
	members := l.members()
	if l.res.Expected == 0 {
		l.stopReaders()
		return
	}
	l.expected.Store(l.res.Expected)
	fctx, fcancel := context.WithTimeout(ctx, l.cfg.Timeout)
	defer fcancel()
	var dl []time.Duration
	collected := make(chan struct{})
	go func() {
		for d := range l.latCh {
			dl = append(dl, d)
		}
		close(collected)
	}()
	fstart := time.Now()
	l.broadcast(fctx, members)
	select {
	case <-l.done:
	case <-fctx.Done():
		l.fail("fan-out timed out")
	}
	felapsed := time.Since(fstart)
	l.res.Deliveries = l.delivered.Load()
	l.res.DeliveriesPerSec = float64(l.res.Deliveries) / felapsed.Seconds()
	l.stopReaders()
	close(l.latCh)
	<-collected
	l.res.Delivery = percentiles(dl)
}

// members groups the open connections by org and sets res.Expected: every broadcast reaches
// the org's other members.
func (l *loadRun) members() [][]*loadConn {
	members := make([][]*loadConn, l.cfg.Orgs)
	for _, c := range l.conns {
		if c != nil {
			members[c.org] = append(members[c.org], c)
		}
	}
	for _, m := range members {
		if len(m) > 1 {
			l.res.Expected += int64(l.cfg.Messages) * int64(len(m)-1)
		}
	}
	return members
}

// broadcast sends Messages broadcasts from the first member of each org with others, stamped
// with the send time, paced so that deliveries come at Rate in total (0: as fast as possible).
func (l *loadRun) broadcast(ctx context.Context, members [][]*loadConn) {
	cfg := l.cfg
	var interval time.Duration
	if cfg.Rate > 0 {
		perMsg := float64(l.res.Expected) / float64(cfg.Messages*cfg.Orgs) // deliveries per broadcast
		interval = time.Duration(float64(time.Second) * perMsg / cfg.Rate)
	}
	for i := 0; i < cfg.Messages; i++ {
		for _, m := range members {
			if len(m) < 2 {
				continue
			}
			payload := fmt.Sprintf(`{"type":"broadcast","data":{"t":%d,"i":%d}}`, time.Now().UnixNano(), i)
			_ = m[0].conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := m[0].conn.WriteMessage(websocket.TextMessage, []byte(payload)); err != nil {
				l.fail("send: " + shortErr(err))
			}
			if interval > 0 {
				select {
				case <-time.After(interval):
				case <-ctx.Done():
				}
			}
		}
	}
}

func shortErr(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return s
}
