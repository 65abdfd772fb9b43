package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/qubital/office-router/verifier"
)

// Identity headers sent upstream in forward mode (unless ForwardToken), after removing any
// the client sent: the proxy builds the upstream request's headers from scratch.
const (
	HeaderUserID = "X-Office-User-Id"
	HeaderOrgID  = "X-Office-Org-Id"
	HeaderRole   = "X-Office-Role"
)

// relay is one forwarded socket: the client side and the upstream side.
type relay struct {
	client, upstream *websocket.Conn
	once             sync.Once
}

// forward dials the upstream first, so an upstream refusal reaches the client as an HTTP answer
// (status and body relayed), then upgrades the client and copies frames both ways.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, id verifier.Identity, ext verifier.Extracted, start time.Time) {
	hdr := http.Header{}
	if p.cfg.ForwardToken {
		hdr.Set("Authorization", "Bearer "+ext.Token)
	} else {
		hdr.Set(HeaderUserID, id.UserID)
		hdr.Set(HeaderOrgID, id.OrgID)
		hdr.Set(HeaderRole, id.Role)
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	up, resp, err := p.dialer.DialContext(ctx, p.cfg.Upstream+r.URL.Path, hdr)
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			p.m.handshakes.WithLabelValues("rejected", "upstream_"+http.StatusText(resp.StatusCode)).Inc()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(resp.StatusCode)
			_, _ = w.Write(body)
			return
		}
		p.log.WarnContext(r.Context(), "upstream dial failed", "upstream", p.cfg.Upstream, "error", err)
		p.m.handshakes.WithLabelValues("rejected", ErrUpstream.Reason).Inc()
		writeError(w, ErrUpstream)
		return
	}
	var rh http.Header
	if ext.Select != "" {
		rh = http.Header{"Sec-Websocket-Protocol": {ext.Select}}
	}
	cl, err := p.upgrader.Upgrade(w, r, rh)
	if err != nil {
		up.Close()
		return
	}
	p.m.accepted.Inc()
	p.m.latency.Observe(time.Since(start).Seconds())
	rl := &relay{client: cl, upstream: up}
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		rl.goingAway()
		rl.kill()
		return
	}
	p.relays[rl] = struct{}{}
	p.wg.Add(2) // this handler goroutine and the upstream→client copier
	p.mu.Unlock()
	cl.SetReadLimit(p.cfg.MaxMessageBytes)
	go func() {
		defer p.wg.Done()
		p.pipe(up, cl, rl)
	}()
	p.pipe(cl, up, rl)
	rl.kill()
	p.mu.Lock()
	delete(p.relays, rl)
	p.mu.Unlock()
	p.wg.Done()
}

// pipe copies messages from src to dst until src closes, then passes the close code on:
// a clean close keeps its code, a lost connection becomes 1011 for the other side.
func (p *Proxy) pipe(src, dst *websocket.Conn, rl *relay) {
	for {
		mt, data, err := src.ReadMessage()
		if err != nil {
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
		p.m.relayed.Inc()
		_ = dst.SetWriteDeadline(time.Now().Add(p.cfg.WriteWait))
		if err := dst.WriteMessage(mt, data); err != nil {
			rl.kill()
			return
		}
	}
}

func (r *relay) goingAway() {
	msg := websocket.FormatCloseMessage(CloseGoingAway, "server shutting down")
	deadline := time.Now().Add(time.Second)
	_ = r.client.WriteControl(websocket.CloseMessage, msg, deadline)
	_ = r.upstream.WriteControl(websocket.CloseMessage, msg, deadline)
	// As in hub mode: each side has closeGrace to answer, then its pipe ends; a silent peer
	// must not hold Shutdown until its context ends.
	_ = r.client.SetReadDeadline(time.Now().Add(closeGrace))
	_ = r.upstream.SetReadDeadline(time.Now().Add(closeGrace))
}

func (r *relay) kill() {
	r.once.Do(func() {
		_ = r.client.NetConn().Close()
		_ = r.upstream.NetConn().Close()
	})
}

// forwardHTTP relays a request the edge has validated (publish, pre-flight) to the upstream's
// HTTP origin, with the client's Authorization, and relays the answer.
func (p *Proxy) forwardHTTP(w http.ResponseWriter, r *http.Request, method string, body []byte) {
	target := "http" + strings.TrimPrefix(p.cfg.Upstream, "ws") + r.URL.Path
	req, err := http.NewRequestWithContext(r.Context(), method, target, bytes.NewReader(body))
	if err != nil {
		writeError(w, ErrUpstream)
		return
	}
	req.Header.Set("Authorization", r.Header.Get("Authorization"))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.httpClient.Do(req)
	if err != nil {
		p.log.WarnContext(r.Context(), "upstream request failed", "upstream", p.cfg.Upstream, "error", err)
		writeError(w, ErrUpstream)
		return
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(out)
}
