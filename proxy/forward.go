package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/qubital/office-router/contract"
	"github.com/qubital/office-router/internal/httpx"
	"github.com/qubital/office-router/verifier"
)

// Identity headers sent upstream in forward mode (unless ForwardToken), after removing any
// the client sent: the proxy builds the upstream request's headers from scratch.
const (
	HeaderUserID = "X-Office-User-Id"
	HeaderOrgID  = "X-Office-Org-Id"
	HeaderRole   = "X-Office-Role"
)

// relay is one forwarded socket: the client side and the upstream side. A relay is admitted
// like a hub connection (per-user and per-org caps, counted in its org's hub) and its client is
// held to the same message rate limit: forward mode is a second path to the same guarantees,
// not a way around them (docs/security.md).
type relay struct {
	client, upstream *websocket.Conn
	once             sync.Once
	limit            *rate.Limiter // client → upstream messages, as client.limit in hub mode
	// policyClosed: the client was closed with 1008; nothing more is relayed either way, the
	// pipes only wait for both close answers.
	policyClosed atomic.Bool
}

// forwardBackend relays to the upstream router: sockets (forward), service calls and pre-flights
// (forwardHTTP), with identity headers or, when token is set (Config.ForwardToken), the client's
// token. Its sockets are admitted and counted in reg like hub sockets.
type forwardBackend struct {
	cfg        *Config
	reg        *registry
	m          *metrics
	log        *slog.Logger
	dialer     *websocket.Dialer
	upgrader   *websocket.Upgrader
	httpClient *http.Client
	token      bool
	// localPreflight is the edge's answer to a pre-flight from its replay store
	// (Proxy.localPreflight), used unless token: then the upstream keeps the jtis.
	localPreflight func(http.ResponseWriter, *http.Request, admission)
	// fail charges the client's failed-address budget (Proxy.failures), as the edge does for
	// a token it refuses itself: for a refusal the upstream relays (chargeRefusal).
	fail func(*http.Request)
}

// chargeRefusal charges r's client for an upstream's refusal of what the edge let through: with
// ForwardToken a replayed token (socket, pre-flight or service call) is refused only upstream,
// and without the charge one captured token could be replayed through the forwarder without
// limit, each try an RSA verification here and there. The same statuses as Proxy.reject (every
// 4xx but 429); a 5xx is the upstream's fault, not the client's.
func (f *forwardBackend) chargeRefusal(r *http.Request, status int) {
	if status >= 400 && status < 500 && status != http.StatusTooManyRequests {
		f.fail(r)
	}
}

func (f *forwardBackend) spendsJTI() bool { return f.token }

func (f *forwardBackend) preflight(w http.ResponseWriter, r *http.Request, a admission) {
	if f.token {
		f.forwardHTTP(w, r, http.MethodGet, a.ext.Token, nil) // the upstream knows which jtis are used
		return
	}
	f.localPreflight(w, r, a)
}

func (f *forwardBackend) connect(w http.ResponseWriter, r *http.Request, a admission) {
	f.forward(w, r, a)
}

func (f *forwardBackend) publish(w http.ResponseWriter, r *http.Request, call serviceCall, _ verifier.PublishBody) {
	f.forwardHTTP(w, r, http.MethodPost, call.token, call.raw)
}

func (f *forwardBackend) presence(w http.ResponseWriter, r *http.Request, call serviceCall) {
	f.forwardHTTP(w, r, http.MethodGet, call.token, nil)
}

// disconnect leaves the block and the closes to the upstream, which holds the sockets (the
// relays close when it closes their upstream side, with its code: pipe passes 4001/4003 on).
func (f *forwardBackend) disconnect(w http.ResponseWriter, r *http.Request, call serviceCall, _ verifier.DisconnectBody) {
	f.forwardHTTP(w, r, http.MethodPost, call.token, call.raw)
}

// forward admits the socket, dials the upstream first, so an upstream refusal reaches the
// client as an HTTP answer (status and body relayed), then upgrades the client and copies
// frames both ways. The caller has already consumed the jti unless ForwardToken is set (the
// upstream then judges the token, replay included).
func (f *forwardBackend) forward(w http.ResponseWriter, r *http.Request, a admission) {
	id, ext := a.id, a.ext
	h, err := f.reg.reserve(id) // reg.wg.Add(1) for this handler goroutine
	if err != nil {
		f.m.handshakes.WithLabelValues("rejected", contract.Reason(err)).Inc()
		writeError(w, err)
		return
	}
	defer f.reg.wg.Done()
	defer f.reg.release(h, id.UserID)
	hdr := http.Header{}
	if f.cfg.ForwardToken {
		hdr.Set("Authorization", "Bearer "+ext.Token)
	} else {
		hdr.Set(HeaderUserID, id.UserID)
		hdr.Set(HeaderOrgID, id.OrgID)
		hdr.Set(HeaderRole, id.Role)
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	up, resp, err := f.dialer.DialContext(ctx, f.cfg.Upstream+r.URL.Path, hdr)
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			f.m.handshakes.WithLabelValues("rejected", "upstream_"+http.StatusText(resp.StatusCode)).Inc()
			f.chargeRefusal(r, resp.StatusCode)
			relayAnswer(w, resp, body)
			return
		}
		f.log.WarnContext(r.Context(), "upstream dial failed", "upstream", f.cfg.Upstream, "error", err)
		f.m.handshakes.WithLabelValues("rejected", ErrUpstream.Reason).Inc()
		writeError(w, ErrUpstream)
		return
	}
	var rh http.Header
	if ext.Select != "" {
		rh = http.Header{"Sec-Websocket-Protocol": {ext.Select}}
	}
	cl, err := f.upgrader.Upgrade(w, r, rh)
	if err != nil {
		up.Close()
		return
	}
	f.m.accepted.Inc()
	f.m.latency.Observe(time.Since(a.start).Seconds())
	rl := &relay{client: cl, upstream: up, limit: rate.NewLimiter(rate.Limit(f.cfg.MessagesPerSecond), f.cfg.MessageBurst)}
	// The upstream→client copier gets its own Add; reserve's covers this handler goroutine.
	if !f.reg.addRelay(rl) {
		rl.goingAway()
		rl.kill()
		return
	}
	cl.SetReadLimit(f.cfg.MaxMessageBytes)
	go func() {
		defer f.reg.wg.Done()
		f.pipe(up, cl, rl, false)
	}()
	f.pipe(cl, up, rl, true)
	rl.kill()
	f.reg.removeRelay(rl)
}

// pipe copies messages from src to dst until src closes, then passes the close code on:
// a clean close keeps its code, a lost connection becomes 1011 for the other side. fromClient
// marks the client → upstream direction, where the message rate limit applies.
func (f *forwardBackend) pipe(src, dst *websocket.Conn, rl *relay, fromClient bool) {
	for {
		mt, data, err := src.ReadMessage()
		if err != nil {
			if rl.policyClosed.Load() {
				return // both sides already have their close frame; this is the answer or the grace
			}
			code, reason := CloseInternal, "upstream lost"
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				code, reason = ce.Code, ce.Text
				if code == websocket.CloseNoStatusReceived {
					code = CloseNormal
				}
				if code == websocket.CloseAbnormalClosure {
					code = CloseInternal
				}
			}
			_ = dst.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
			// The other pipe reads dst's close answer, or gives up after closeGrace.
			_ = dst.SetReadDeadline(time.Now().Add(closeGrace))
			return
		}
		if rl.policyClosed.Load() {
			continue // draining until the close answers arrive
		}
		if fromClient && !rl.limit.Allow() {
			rl.policyClose()
			continue
		}
		f.m.relayed.Inc()
		_ = dst.SetWriteDeadline(time.Now().Add(f.cfg.WriteWait))
		if err := dst.WriteMessage(mt, data); err != nil {
			rl.kill()
			return
		}
	}
}

// policyClose ends a flooding client's relay as the hub ends a flooding client: 1008 to both
// sides, once.
func (r *relay) policyClose() {
	if r.policyClosed.Swap(true) {
		return
	}
	r.closeBoth(ClosePolicy, "message rate limit")
}

func (r *relay) goingAway() { r.closeBoth(CloseGoingAway, "server shutting down") }

// closeBoth sends code to both sides, then gives each closeGrace to answer while the pipes drain,
// as in hub mode: the client reads its close frame instead of a reset, and a silent peer cannot
// hold Shutdown until its context ends.
func (r *relay) closeBoth(code int, reason string) {
	msg := websocket.FormatCloseMessage(code, reason)
	deadline := time.Now().Add(time.Second)
	_ = r.client.WriteControl(websocket.CloseMessage, msg, deadline)
	_ = r.upstream.WriteControl(websocket.CloseMessage, msg, deadline)
	_ = r.client.SetReadDeadline(time.Now().Add(closeGrace))
	_ = r.upstream.SetReadDeadline(time.Now().Add(closeGrace))
}

func (r *relay) kill() {
	r.once.Do(func() {
		_ = r.client.NetConn().Close()
		_ = r.upstream.NetConn().Close()
	})
}

// maxForwardedAnswerBytes bounds an upstream's answer that forwardHTTP relays. The longest is a
// presence roster of a full org: DefaultMaxConnsPerOrg users of some 240 bytes each (128-byte
// ids, 64-byte roles).
const maxForwardedAnswerBytes = 4 << 20

// forwardHTTP relays a request the edge has validated (a service call, a pre-flight) to the
// upstream's HTTP origin with the token as `Authorization: Bearer`, and relays the answer. The
// token is passed, not the client's header: a pre-flight may carry it in the subprotocol list.
func (f *forwardBackend) forwardHTTP(w http.ResponseWriter, r *http.Request, method, token string, body []byte) {
	target := "http" + strings.TrimPrefix(f.cfg.Upstream, "ws") + r.URL.Path
	req, err := http.NewRequestWithContext(r.Context(), method, target, bytes.NewReader(body))
	if err != nil {
		writeError(w, ErrUpstream)
		return
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := f.httpClient.Do(req)
	if err != nil {
		f.log.WarnContext(r.Context(), "upstream request failed", "upstream", f.cfg.Upstream, "error", err)
		writeError(w, ErrUpstream)
		return
	}
	defer resp.Body.Close()
	// Whole or not at all: a cut presence roster would be invalid JSON with a 200.
	out, err := io.ReadAll(io.LimitReader(resp.Body, maxForwardedAnswerBytes+1))
	if err != nil || len(out) > maxForwardedAnswerBytes {
		f.log.WarnContext(r.Context(), "upstream answer unreadable or too large", "upstream", f.cfg.Upstream, "bytes", len(out), "error", err)
		writeError(w, ErrUpstream)
		return
	}
	f.chargeRefusal(r, resp.StatusCode)
	relayAnswer(w, resp, out)
}

// relayAnswer writes an upstream's HTTP answer (a refusal, a pre-flight, a publish result) as the
// edge writes its own: the status and JSON body, the headers of every JSON answer, and the
// upstream's Retry-After, on which a refused client's back-off depends (a 429, the Worker's 503).
func relayAnswer(w http.ResponseWriter, resp *http.Response, body []byte) {
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		w.Header().Set("Retry-After", ra)
	}
	httpx.WriteRawJSON(w, resp.StatusCode, body)
}
