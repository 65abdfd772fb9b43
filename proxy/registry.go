package proxy

import (
	"context"
	"sync"
	"time"

	"github.com/qubital/office-router/verifier"
)

// registry owns the org hubs of this process, as gorilla's chat hub owns its clients: admission
// (the per-org and per-user caps, counted before the upgrade so that they answer 429 in HTTP),
// the hub of each org while it has connections, the forwarded sockets, the wait group of every
// connection goroutine, the pinger, and shutdown. Both backends admit through it: a forwarded
// socket is counted in its org's hub like a hub socket (forward.go), so the caps hold on both
// paths. A hub and its clients know the registry (release), never the Proxy.
type registry struct {
	cfg *Config  // MaxConnsPerOrg, MaxConnsPerUser, PingPeriod
	m   *metrics // edgeproxy_connections

	mu      sync.Mutex
	hubs    map[string]*hub // org → hub, while the org has connections (reservations included)
	relays  map[*relay]struct{}
	closing bool

	wg       sync.WaitGroup // every connection goroutine: readers, writers, relays
	stop     chan struct{}  // ends the pinger
	stopOnce sync.Once
}

func newRegistry(cfg *Config, m *metrics) *registry {
	return &registry{cfg: cfg, m: m, hubs: make(map[string]*hub), relays: make(map[*relay]struct{}), stop: make(chan struct{})}
}

// reserve admits one connection of id before the upgrade, so limits answer 429 in HTTP. On
// success it has added one to wg for the caller's connection goroutine.
func (g *registry) reserve(id verifier.Identity) (*hub, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		return nil, ErrShuttingDown
	}
	h := g.hubs[id.OrgID]
	if h == nil {
		h = newHub(id.OrgID, g)
		g.hubs[id.OrgID] = h
	}
	if h.total >= g.cfg.MaxConnsPerOrg || h.users[id.UserID] >= g.cfg.MaxConnsPerUser {
		if h.total == 0 {
			delete(g.hubs, id.OrgID)
		}
		return nil, ErrTooManyConnections
	}
	h.total++
	h.users[id.UserID]++
	g.m.conns.Inc()
	g.wg.Add(1) // under g.mu with closing checked: shutdown's Wait never races this Add
	return h, nil
}

// release undoes reserve (not its wg.Add, which the connection goroutine's Done undoes); the
// hub is dropped when nothing is left.
func (g *registry) release(h *hub, userID string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	h.total--
	if h.users[userID]--; h.users[userID] <= 0 {
		delete(h.users, userID)
	}
	g.m.conns.Dec()
	if h.total == 0 {
		delete(g.hubs, h.org)
	}
}

// hub returns the live hub of org, or nil.
func (g *registry) hub(org string) *hub {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.hubs[org]
}

func (g *registry) isClosing() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closing
}

// allClients lists every hub connection now.
func (g *registry) allClients() []*client {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.clientsLocked()
}

func (g *registry) clientsLocked() []*client {
	var all []*client
	for _, h := range g.hubs {
		all = append(all, h.snapshot()...)
	}
	return all
}

// addRelay registers a forwarded socket and adds one to wg for its second pipe; it reports
// false, registering nothing, once shutdown has begun.
func (g *registry) addRelay(rl *relay) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		return false
	}
	g.relays[rl] = struct{}{}
	g.wg.Add(1)
	return true
}

func (g *registry) removeRelay(rl *relay) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.relays, rl)
}

// counts returns the hubs, admitted connections and relays now (Proxy.Stats).
func (g *registry) counts() (hubs, conns, relays int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, h := range g.hubs {
		conns += h.total
	}
	return len(g.hubs), conns, len(g.relays)
}

// shutdown refuses new connections, closes every socket with 1001 after flushing what its
// queue already holds, and waits for every connection goroutine until ctx ends; then it cuts
// what is left.
func (g *registry) shutdown(ctx context.Context) error {
	g.stopOnce.Do(func() { close(g.stop) })
	g.mu.Lock()
	g.closing = true
	clients := g.clientsLocked()
	relays := make([]*relay, 0, len(g.relays))
	for r := range g.relays {
		relays = append(relays, r)
	}
	g.mu.Unlock()
	for _, c := range clients {
		c.closeGracefully(CloseGoingAway, "server shutting down")
	}
	for _, r := range relays {
		r.goingAway()
	}
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, c := range g.allClients() { // listed again: some joined after the first list
			c.kill()
		}
		for _, r := range relays {
			r.kill()
		}
		<-done
		return ctx.Err()
	}
}

// pinger asks every hub connection's writer to send a ping each PingPeriod, until shutdown.
func (g *registry) pinger() {
	t := time.NewTicker(g.cfg.PingPeriod)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
			for _, c := range g.allClients() {
				c.ping()
			}
		}
	}
}
