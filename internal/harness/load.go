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
	res := LoadResult{Conns: cfg.Conns, Errors: map[string]int{}}
	run := randHex(4)
	iss := Issuer{URL: cfg.Issuer}
	claims := cfg.IssuerClaims
	if cfg.Key != nil && claims == nil {
		a, err := iss.Handshake(ctx, "load-probe-"+run, "load-probe-"+run, "member")
		if err != nil {
			return res, err
		}
		if claims, err = Claims(a.Token); err != nil {
			return res, err
		}
	}
	token := func(i int) (string, string, error) {
		user := fmt.Sprintf("load-%s-u%d", run, i)
		org := fmt.Sprintf("load-%s-o%d", run, i%cfg.Orgs)
		if cfg.Key == nil {
			a, err := iss.Handshake(ctx, user, org, "member")
			return a.Token, org, err
		}
		now := time.Now().Unix()
		iss, _ := claims["iss"].(string)
		aud, _ := claims["aud"].(string)
		c := contract.HandshakeClaims{Issuer: iss, Audience: aud, UserID: user, OrgID: org, Role: "member",
			JTI: fmt.Sprintf("load-%s-%d", run, i), IssuedAt: now, NotBefore: now, ExpiresAt: now + 60}
		return Craft(cfg.Key, RS256Header(cfg.Key), c.Map()), org, nil
	}

	// Phase 1: handshakes. Tokens are prepared first so the rate measures the router alone.
	type prepared struct {
		tok, org string
	}
	toks := make([]prepared, cfg.Conns)
	for i := range toks {
		t, o, err := token(i)
		if err != nil {
			return res, err
		}
		toks[i] = prepared{t, o}
	}
	pctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	// Every connection gets a reader from the start: a client that does not read would be
	// dropped by the router as a slow consumer (presence frames arrive during phase 1 too).
	var delivered atomic.Int64
	var expected atomic.Int64
	expected.Store(-1)
	latCh := make(chan time.Duration, 4096)
	done := make(chan struct{})
	var closeDone sync.Once
	var rwg sync.WaitGroup
	reader := func(c *websocket.Conn) {
		defer rwg.Done()
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
			latCh <- time.Duration(time.Now().UnixNano() - msg.Data.T)
			if delivered.Add(1) == expected.Load() {
				closeDone.Do(func() { close(done) })
			}
		}
	}
	conns := make([]*loadConn, cfg.Conns)
	lat := make([]time.Duration, cfg.Conns)
	var mu sync.Mutex
	var opened atomic.Int64
	work := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				t0 := time.Now()
				r, err := Dial(pctx, OrgURL(cfg.Router, toks[i].org), toks[i].tok, InHeader, nil)
				switch {
				case err != nil:
					mu.Lock()
					res.Errors["dial: "+shortErr(err)]++
					mu.Unlock()
				case r.Conn == nil:
					mu.Lock()
					res.Errors[fmt.Sprintf("%d %s", r.Status, r.Reason)]++
					mu.Unlock()
				default:
					// The welcome frame means the router has made the socket a member of its org.
					_ = r.Conn.SetReadDeadline(time.Now().Add(cfg.Timeout))
					if w, err := ReadJSON(r.Conn, cfg.Timeout); err != nil || w["type"] != "welcome" {
						mu.Lock()
						res.Errors["no welcome frame"]++
						mu.Unlock()
						r.Conn.Close()
						continue
					}
					_ = r.Conn.SetReadDeadline(time.Time{})
					lat[i] = time.Since(t0)
					org, _ := strconv.Atoi(toks[i].org[strings.LastIndexByte(toks[i].org, 'o')+1:])
					conns[i] = &loadConn{conn: r.Conn, org: org}
					rwg.Add(1)
					go reader(r.Conn)
					if n := opened.Add(1); cfg.Progress != nil && (n%50 == 0 || int(n) == cfg.Conns) {
						fmt.Fprintf(cfg.Progress, "\r  opened %d/%d connections", n, cfg.Conns)
					}
				}
			}
		}()
	}
	for i := range cfg.Conns {
		select {
		case work <- i:
		case <-pctx.Done():
		}
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	if cfg.Progress != nil {
		fmt.Fprintln(cfg.Progress)
	}
	res.Opened = int(opened.Load())
	res.HandshakesPerSec = float64(res.Opened) / elapsed.Seconds()
	var okLat []time.Duration
	for i, c := range conns {
		if c != nil {
			okLat = append(okLat, lat[i])
		}
	}
	res.Handshake = percentiles(okLat)
	stopReaders := func() {
		for _, c := range conns {
			if c != nil {
				c.conn.Close()
			}
		}
		rwg.Wait()
	}

	// Phase 2: fan-out. In each org the first connection broadcasts; every other member records
	// the latency carried in the message.
	members := make([][]*loadConn, cfg.Orgs)
	for _, c := range conns {
		if c != nil {
			members[c.org] = append(members[c.org], c)
		}
	}
	for _, m := range members {
		if len(m) > 1 {
			res.Expected += int64(cfg.Messages) * int64(len(m)-1)
		}
	}
	if res.Expected == 0 {
		stopReaders()
		return res, nil
	}
	expected.Store(res.Expected)
	fctx, fcancel := context.WithTimeout(ctx, cfg.Timeout)
	defer fcancel()
	var dl []time.Duration
	collected := make(chan struct{})
	go func() {
		for d := range latCh {
			dl = append(dl, d)
		}
		close(collected)
	}()
	var interval time.Duration
	if cfg.Rate > 0 {
		perMsg := float64(res.Expected) / float64(cfg.Messages*cfg.Orgs) // deliveries per broadcast
		interval = time.Duration(float64(time.Second) * perMsg / cfg.Rate)
	}
	fstart := time.Now()
	for i := 0; i < cfg.Messages; i++ {
		for _, m := range members {
			if len(m) < 2 {
				continue
			}
			payload := fmt.Sprintf(`{"type":"broadcast","data":{"t":%d,"i":%d}}`, time.Now().UnixNano(), i)
			_ = m[0].conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := m[0].conn.WriteMessage(websocket.TextMessage, []byte(payload)); err != nil {
				res.Errors["send: "+shortErr(err)]++
			}
			if interval > 0 {
				select {
				case <-time.After(interval):
				case <-fctx.Done():
				}
			}
		}
	}
	select {
	case <-done:
	case <-fctx.Done():
		res.Errors["fan-out timed out"]++
	}
	felapsed := time.Since(fstart)
	res.Deliveries = delivered.Load()
	res.DeliveriesPerSec = float64(res.Deliveries) / felapsed.Seconds()
	stopReaders()
	close(latCh)
	<-collected
	res.Delivery = percentiles(dl)
	return res, nil
}

func shortErr(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return s
}
