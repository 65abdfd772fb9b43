package proxy

import (
	"encoding/json"
	"net/http"
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

// join welcomes c and announces the user to the others if this is their first connection.
// Everything is queued under h.mu, so every member sees joins and leaves in one order.
func (h *hub) join(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	first := len(h.online[c.id.UserID]) == 0
	h.clients[c] = struct{}{}
	h.online[c.id.UserID] = append(h.online[c.id.UserID], c)
	presence := make([]presenceEntry, 0, len(h.online))
	for u, cs := range h.online {
		presence = append(presence, presenceEntry{UserID: u, Role: cs[0].id.Role})
	}
	sort.Slice(presence, func(i, j int) bool { return presence[i].UserID < presence[j].UserID })
	c.enqueue(mustJSON(welcomeMsg{Type: "welcome", ConnectionID: c.connID, UserID: c.id.UserID, OrgID: h.org, Role: c.id.Role, Presence: presence}))
	if first {
		msg := mustJSON(presenceMsg{Type: "presence", Event: "join", UserID: c.id.UserID, Role: c.id.Role})
		for o := range h.clients {
			if o != c {
				o.enqueue(msg)
			}
		}
	}
}

// leave removes c and announces the user's departure when it was their last connection.
func (h *hub) leave(c *client) {
	h.mu.Lock()
	if _, ok := h.clients[c]; ok {
		delete(h.clients, c)
		cs := h.online[c.id.UserID]
		for i, o := range cs {
			if o == c {
				cs = append(cs[:i], cs[i+1:]...)
				break
			}
		}
		if len(cs) == 0 {
			delete(h.online, c.id.UserID)
			msg := mustJSON(presenceMsg{Type: "presence", Event: "leave", UserID: c.id.UserID, Role: c.id.Role})
			for o := range h.clients {
				o.enqueue(msg)
			}
		} else {
			h.online[c.id.UserID] = cs
		}
	}
	h.mu.Unlock()
	h.reg.release(h, c.id.UserID)
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
	// localPreflight is the edge's answer to a pre-flight from its replay store
	// (Proxy.localPreflight): in hub mode the edge keeps the jtis.
	localPreflight func(http.ResponseWriter, *http.Request, admission)
}

func (hubBackend) spendsJTI() bool { return false }

func (b hubBackend) preflight(w http.ResponseWriter, r *http.Request, a admission) {
	b.localPreflight(w, r, a)
}

func (b hubBackend) publish(w http.ResponseWriter, _ *http.Request, org, _ string, _ []byte, body verifier.PublishBody) {
	n := 0
	if h := b.reg.hub(org); h != nil {
		n = h.publish(body.To, body.Data)
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]int{"delivered": n})
}

// connect admits an authorised handshake in its org's hub, upgrades it and hands the connection
// to the poller (or, where there is none, to its own read goroutine), so that the HTTP handler
// returns and net/http frees its per-request buffers and deep stack.
func (b hubBackend) connect(w http.ResponseWriter, r *http.Request, a admission) {
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
	h.join(c)
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
