package proxy

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/qubital/office-router/contract"
	"github.com/qubital/office-router/internal/httpx"
	"github.com/qubital/office-router/verifier"
)

// hub holds the connections of one organisation: the Go twin of the Worker's WebSocketServer
// Durable Object. It has no goroutine of its own; it exists while the org has connections
// (reservations included) and is dropped from its registry when the last one leaves.
type hub struct {
	org string
	reg *registry

	// guarded by reg.mu: admission counts, including handshakes not yet upgraded.
	total int
	users map[string]int

	mu      sync.RWMutex // guards clients and online
	clients map[*client]struct{}
	online  map[string][]*client // userId → connections, in join order
}

func newHub(org string, g *registry) *hub {
	return &hub{org: org, reg: g, users: map[string]int{}, clients: map[*client]struct{}{}, online: map[string][]*client{}}
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
	if h.reg.blocks.blocked(h.org, c.id.UserID, h.reg.now()) {
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
	h.reg.sessions.stop(c)
	h.mu.Lock()
	delete(h.clients, c)
	h.unlistLocked(c)
	h.mu.Unlock()
	h.reg.release(h, c.id.UserID)
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

func (h *hub) snapshot() []*client {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		out = append(out, c)
	}
	return out
}

// hubBackend keeps the org's sockets in this process: admission and the org hubs in reg, one
// hub per org (this file), one client per socket (client.go).
type hubBackend struct {
	reg      *registry
	env      *clientEnv // what every client of every hub sees: limits, metrics, reg's wait group
	upgrader *websocket.Upgrader
	m        *metrics
	log      *slog.Logger
	// localPreflight is the edge's answer to a pre-flight from its replay store
	// (Proxy.localPreflight): in hub mode the edge keeps the jtis.
	localPreflight func(http.ResponseWriter, *http.Request, admission)
	// refuse is the edge's answer to a refused handshake (Proxy.reject: the metrics and the
	// failed-address budget), for a user blocked in the org.
	refuse func(http.ResponseWriter, *http.Request, admission, error)
}

func (hubBackend) spendsJTI() bool { return false }

func (b hubBackend) preflight(w http.ResponseWriter, r *http.Request, a admission) {
	// Read-only. The block before the jti, as on the Worker: a browser learns why its upgrade
	// was refused by asking the pre-flight with the same token, which that refusal has spent.
	if b.reg.blocks.blocked(a.id.OrgID, a.id.UserID, b.reg.now()) {
		b.refuse(w, r, a, ErrRevoked)
		return
	}
	b.localPreflight(w, r, a)
}

func (b hubBackend) publish(w http.ResponseWriter, _ *http.Request, call serviceCall, body verifier.PublishBody) {
	n := 0
	if h := b.reg.hub(call.org); h != nil {
		n = h.publish(body.To, body.Data)
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]int{"delivered": n})
}

func (b hubBackend) presence(w http.ResponseWriter, _ *http.Request, call serviceCall) {
	users := []presenceUser{}
	if h := b.reg.hub(call.org); h != nil {
		users = h.roster()
	}
	httpx.WriteJSON(w, http.StatusOK, map[string][]presenceUser{"users": users})
}

func (b hubBackend) disconnect(w http.ResponseWriter, r *http.Request, call serviceCall, body verifier.DisconnectBody) {
	// The block first, then the listing (hub.disconnect), against a handshake's join then check
	// (hub.join): a socket of the user that joins meanwhile is either listed or refused.
	if body.BlockSeconds > 0 {
		now := b.reg.now()
		b.reg.blocks.add(call.org, body.UserID, now.Add(time.Duration(body.BlockSeconds)*time.Second), now)
	}
	n := 0
	if h := b.reg.hub(call.org); h != nil {
		n = h.disconnect(body.UserID, body.Code)
	}
	// An administrative act: one line, who was closed and blocked where (ids only, no token).
	b.log.InfoContext(r.Context(), "disconnect", "org", call.org, "user", body.UserID, "code", body.Code,
		"blockSeconds", body.BlockSeconds, "disconnected", n)
	httpx.WriteJSON(w, http.StatusOK, map[string]int{"disconnected": n})
}

// connect admits an authorised handshake in its org's hub, upgrades it and hands the connection
// to the poller (or, where there is none, to its own read goroutine), so that the HTTP handler
// returns and net/http frees its per-request buffers and deep stack.
func (b hubBackend) connect(w http.ResponseWriter, r *http.Request, a admission) {
	// The block before the caps (docs/protocol.md's order, the Worker's): a blocked user whose
	// cap is full of the sockets the disconnect is still closing learns revoked, not 429. join
	// checks it again under the hub's lock, against a disconnect that lands in between.
	if b.reg.blocks.blocked(a.id.OrgID, a.id.UserID, b.reg.now()) {
		b.refuse(w, r, a, ErrRevoked)
		return
	}
	h, err := b.reg.reserve(a.id)
	if err != nil {
		b.m.handshakes.WithLabelValues("rejected", contract.Reason(err)).Inc()
		writeError(w, err)
		return
	}
	var hdr http.Header
	if a.ext.Select != "" {
		hdr = http.Header{"Sec-Websocket-Protocol": {a.ext.Select}}
	}
	// Join before the 101, as the Worker's Durable Object does: a client that has its 101 is
	// already a member, and what is sent to the org meanwhile waits in its queue.
	c := newClient(b.env, h, a.id)
	if err := h.join(c); err != nil { // blocked in the org
		c.finish()
		b.reg.release(h, a.id.UserID)
		b.reg.wg.Done() // added by reserve
		b.refuse(w, r, a, err)
		return
	}
	if b.reg.isClosing() {
		// Reserved before shutdown, joined after shutdown listed the members: nobody else will
		// tell this socket to close (join then this check, against closing then the listing).
		c.closeGracefully(CloseGoingAway, "server shutting down")
	}
	hw := &hijackWriter{ResponseWriter: w}
	conn, err := b.upgrader.Upgrade(hw, r, hdr)
	if err != nil {
		c.finish()
		h.leave(c)
		b.reg.wg.Done() // added by reserve
		return
	}
	b.m.accepted.Inc()
	b.m.latency.Observe(time.Since(a.start).Seconds())
	c.attach(conn, hw.br)
	b.reg.sessions.start(h, c) // MaxSessionSeconds; nothing when off
	// From here the connection's reader owns the wait group count added by reserve: its
	// sessions (registry.session, poller_linux.go), or one goroutine where no poller runs.
	if pl := b.reg.poll; pl != nil {
		c.startReading()
		c.parkReader()
		if pl.add(c) == nil {
			return
		}
		c.unparkReader()
	}
	go func() {
		defer b.reg.wg.Done()
		c.readLoop()
		c.end()
	}()
}
