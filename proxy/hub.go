package proxy

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/qubital/office-router/contract"
	"github.com/qubital/office-router/verifier"
)

// hub holds the connections of one organisation: the Go twin of the Worker's WebSocketServer
// Durable Object. It has no goroutine of its own; it exists while the org has connections
// (reservations included) and is dropped from Proxy.hubs when the last one leaves.
type hub struct {
	org string
	p   *Proxy

	// guarded by p.mu: admission counts, including handshakes not yet upgraded.
	total int
	users map[string]int

	mu      sync.RWMutex // guards clients and online
	clients map[*client]struct{}
	online  map[string][]*client // userId → connections, in join order
}

// reserve admits one connection of id before the upgrade, so limits answer 429 in HTTP.
func (p *Proxy) reserve(id verifier.Identity) (*hub, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return nil, ErrShuttingDown
	}
	h := p.hubs[id.OrgID]
	if h == nil {
		h = &hub{org: id.OrgID, p: p, users: map[string]int{}, clients: map[*client]struct{}{}, online: map[string][]*client{}}
		p.hubs[id.OrgID] = h
	}
	if h.total >= p.cfg.MaxConnsPerOrg || h.users[id.UserID] >= p.cfg.MaxConnsPerUser {
		if h.total == 0 {
			delete(p.hubs, id.OrgID)
		}
		return nil, ErrTooManyConnections
	}
	h.total++
	h.users[id.UserID]++
	p.m.conns.Inc()
	p.wg.Add(1) // under p.mu with closing checked: Shutdown's Wait never races this Add
	return h, nil
}

// release undoes reserve; the hub stops when nothing is left.
func (p *Proxy) release(h *hub, userID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	h.total--
	if h.users[userID]--; h.users[userID] <= 0 {
		delete(h.users, userID)
	}
	p.m.conns.Dec()
	if h.total == 0 {
		delete(p.hubs, h.org)
	}
}

type presenceEntry struct {
	UserID string `json:"userId"`
	Role   string `json:"role"`
}

type welcomeMsg struct {
	Type         string          `json:"type"`
	ConnectionID string          `json:"connectionId"`
	UserID       string          `json:"userId"`
	OrgID        string          `json:"orgId"`
	Role         string          `json:"role"`
	Presence     []presenceEntry `json:"presence"`
}

type presenceMsg struct {
	Type   string `json:"type"`
	Event  string `json:"event"`
	UserID string `json:"userId"`
	Role   string `json:"role"`
}

type chatMsg struct {
	Type   string          `json:"type"`
	From   string          `json:"from"`
	Data   json.RawMessage `json:"data"`
	Direct bool            `json:"direct,omitempty"`
}

type eventMsg struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only fixed message structs and already-valid RawMessage reach here
	}
	return b
}

// presenceUser is one entry of GET /orgs/{org}/presence.
type presenceUser struct {
	UserID      string `json:"userId"`
	Role        string `json:"role"`
	Connections int    `json:"connections"`
}

// rosterLocked is who is online, sorted by userId (byte order), each user with the role of
// their oldest open connection and how many they have: the one list behind a welcome's presence
// and GET /orgs/{org}/presence. Called with h.mu held.
func (h *hub) rosterLocked() []presenceUser {
	out := make([]presenceUser, 0, len(h.online))
	for u, cs := range h.online {
		out = append(out, presenceUser{UserID: u, Role: cs[0].id.Role, Connections: len(cs)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UserID < out[j].UserID })
	return out
}

// roster is rosterLocked for callers that do not hold h.mu.
func (h *hub) roster() []presenceUser {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.rosterLocked()
}

// disconnect closes every connection of userID with code (4001 or 4003) and its reason, takes
// them off the roster at once (one leave is announced now, not when the peers finish the close,
// as on the Worker), and returns how many were open: one already closing (its client leaving)
// is closed and unlisted but not counted.
func (h *hub) disconnect(userID string, code int) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	cs := slices.Clone(h.online[userID])
	n := 0
	for _, c := range cs {
		if !c.isClosed() {
			n++
		}
		c.closeGracefully(code, contract.CloseReason(code))
		h.unlistLocked(c)
	}
	return n
}

// join welcomes c and announces the user to the others if this is their first connection.
// Everything is queued under h.mu, so every member sees joins and leaves in one order. A user
// blocked in the org (POST /orgs/{org}/disconnect) is refused with ErrRevoked before anything
// is sent: checked under h.mu, after the block is recorded or before the disconnect lists the
// user's connections (hubBackend.disconnect), so no socket slips between the two.
func (h *hub) join(c *client) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.p.blocks.blocked(h.org, c.id.UserID, h.p.now()) {
		return ErrRevoked
	}
	first := len(h.online[c.id.UserID]) == 0
	h.clients[c] = struct{}{}
	h.online[c.id.UserID] = append(h.online[c.id.UserID], c)
	roster := h.rosterLocked()
	presence := make([]presenceEntry, len(roster))
	for i, u := range roster {
		presence[i] = presenceEntry{UserID: u.UserID, Role: u.Role}
	}
	c.enqueue(mustJSON(welcomeMsg{Type: "welcome", ConnectionID: c.connID, UserID: c.id.UserID, OrgID: h.org, Role: c.id.Role, Presence: presence}))
	if first {
		msg := mustJSON(presenceMsg{Type: "presence", Event: "join", UserID: c.id.UserID, Role: c.id.Role})
		for o := range h.clients {
			if o != c {
				o.enqueue(msg)
			}
		}
	}
	return nil
}

// leave removes c when its reader has ended, and announces the user's departure when it was
// their last listed connection (unlistLocked).
func (h *hub) leave(c *client) {
	h.p.sessions.stop(c)
	h.mu.Lock()
	delete(h.clients, c)
	h.unlistLocked(c)
	h.mu.Unlock()
	h.p.release(h, c.id.UserID)
}

// unlistLocked takes c off the roster (online), announcing the user's leave when c was their
// last listed connection, and reports whether c was listed. c stays in clients (Shutdown and
// the pinger still reach it) until leave. Called with h.mu held.
func (h *hub) unlistLocked(c *client) bool {
	cs := h.online[c.id.UserID]
	i := slices.Index(cs, c)
	if i < 0 {
		return false
	}
	if len(cs) == 1 {
		delete(h.online, c.id.UserID)
		msg := mustJSON(presenceMsg{Type: "presence", Event: "leave", UserID: c.id.UserID, Role: c.id.Role})
		for o := range h.clients {
			o.enqueue(msg) // c itself is closing and takes nothing more
		}
		return true
	}
	h.online[c.id.UserID] = slices.Delete(cs, i, i+1)
	return true
}

// closeAndUnlist closes c with a server-side control code (4001 for the session age) and takes
// it off the roster at once, as the Worker does: its leave is announced now, not when its peer
// finishes the close.
func (h *hub) closeAndUnlist(c *client, code int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c.closeGracefully(code, contract.CloseReason(code))
	h.unlistLocked(c)
}

// broadcast queues msg to every connection but from; it never blocks.
func (h *hub) broadcast(from *client, msg []byte) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	for c := range h.clients {
		if c != from && c.enqueue(msg) {
			n++
		}
	}
	return n
}

// direct queues msg to every connection of userID.
func (h *hub) direct(userID string, msg []byte) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	for _, c := range h.online[userID] {
		if c.enqueue(msg) {
			n++
		}
	}
	return n
}

// publish delivers a backend event to the org, or to one user.
func (h *hub) publish(to string, data json.RawMessage) int {
	msg := mustJSON(eventMsg{Type: "event", Data: data})
	if to != "" {
		return h.direct(to, msg)
	}
	return h.broadcast(nil, msg)
}

func (p *Proxy) isClosing() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closing
}

// allClients lists every hub connection now.
func (p *Proxy) allClients() []*client {
	p.mu.Lock()
	defer p.mu.Unlock()
	var all []*client
	for _, h := range p.hubs {
		all = append(all, h.snapshot()...)
	}
	return all
}

func (h *hub) snapshot() []*client {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		out = append(out, c)
	}
	return out
}

// serveHub upgrades an authorised handshake and hands the connection to its own read goroutine,
// so that the HTTP handler returns and net/http frees its per-request buffers and deep stack.
func (p *Proxy) serveHub(w http.ResponseWriter, r *http.Request, id verifier.Identity, ext contract.Extracted, start time.Time) {
	h, err := p.reserve(id)
	if err != nil {
		p.m.handshakes.WithLabelValues("rejected", contract.Reason(err)).Inc()
		writeError(w, err)
		return
	}
	var hdr http.Header
	if ext.Select != "" {
		hdr = http.Header{"Sec-Websocket-Protocol": {ext.Select}}
	}
	// Join before the 101, as the Worker's Durable Object does: a client that has its 101 is
	// already a member, and what is sent to the org meanwhile waits in its queue.
	c := newClient(&p.env, h, id)
	if err := h.join(c); err != nil {
		c.finish()
		p.release(h, id.UserID)
		p.wg.Done() // added by reserve
		p.reject(w, p.clientIP(r), err, start)
		return
	}
	if p.isClosing() {
		// Reserved before Shutdown, joined after Shutdown listed the members: nobody else will
		// tell this socket to close (join then this check, against closing then the listing).
		c.closeGracefully(CloseGoingAway, "server shutting down")
	}
	hw := &hijackWriter{ResponseWriter: w}
	conn, err := p.upgrader.Upgrade(hw, r, hdr)
	if err != nil {
		c.finish()
		h.leave(c)
		p.wg.Done() // added by reserve
		return
	}
	p.m.accepted.Inc()
	p.m.latency.Observe(time.Since(start).Seconds())
	c.attach(conn, hw.br)
	p.sessions.start(h, c) // MaxSessionSeconds; nothing when off
	go func() {
		defer p.wg.Done() // added by reserve: the connection's reader owns it from here
		c.readLoop()
		c.finish() // nothing is queued (so no writer is started) once the reader is gone
		h.leave(c) // at once: the others see the leave without waiting for the linger
		c.linger()
	}()
}
