package proxy

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/qubital/office-router/verifier"
)

// registry owns the org hubs of this process, as gorilla's chat hub owns its clients: admission
// (the per-org and per-user caps, counted before the upgrade so that they answer 429 in HTTP),
// the hub of each org while it has connections, the forwarded sockets, the wait group of every
// connection goroutine, the pinger, the poller of idle hub sockets
// (poller_linux.go), and shutdown. Both backends admit through it: a forwarded
// socket is counted in its org's hub like a hub socket (forward.go), so the caps hold on both
// paths. A hub and its clients know the registry (release), never the Proxy.
type registry struct {
	cfg *Config  // MaxConnsPerOrg, MaxConnsPerUser, PingPeriod
	m   *metrics // edgeproxy_connections
	now func() time.Time
	// blocks are the users refused as revoked in an org (blocks.go): here, not in a hub, so
	// that they outlive the hub torn down when its org's last socket leaves.
	blocks *blockList
	// sessions arms the sockets' MaxSessionSeconds deadlines; nil when off (session.go).
	sessions *sessionTimers

	mu      sync.Mutex
	hubs    map[string]*hub // org → hub, while the org has connections (reservations included)
	relays  map[*relay]struct{}
	closing bool

	wg       sync.WaitGroup // every connection goroutine: readers, writers, relays
	stop     chan struct{}  // ends the pinger
	stopOnce sync.Once

	poll *poller // hub mode where the platform has one (poller_linux.go), else nil
}

func newRegistry(cfg *Config, m *metrics, now func() time.Time) *registry {
	return &registry{cfg: cfg, m: m, now: now, blocks: newBlockList(), sessions: newSessionTimers(cfg.MaxSessionSeconds),
		hubs: make(map[string]*hub), relays: make(map[*relay]struct{}), stop: make(chan struct{})}
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
		g.stopPoller()
		return nil
	case <-ctx.Done():
		for _, c := range g.allClients() { // listed again: some joined after the first list
			c.kill()
		}
		for _, r := range relays {
			r.kill()
		}
		<-done
		g.stopPoller()
		return ctx.Err()
	}
}

// startPoller starts the poller of idle hub sockets where the platform has one; without it,
// each hub socket has a reader goroutine of its own.
func (g *registry) startPoller(log *slog.Logger) {
	pl, err := newPoller()
	if err != nil {
		log.Debug("no poller: one reader goroutine per socket", "err", err)
		return
	}
	g.poll = pl
	go pl.run(g.dispatch)
}

// stopPoller stops the poller once no connection is left for it to watch.
func (g *registry) stopPoller() {
	if g.poll != nil {
		g.poll.close()
	}
}

// dispatch starts a session for a socket the poller found readable. The connection's own count
// (from reserve) is held until its last session ends, so this Add never races shutdown's Wait.
func (g *registry) dispatch(c *client) {
	g.wg.Add(1)
	go g.session(c)
}

// session reads what c's socket has, on the poller's word that it is readable, then either
// hands the socket back to the poller or, when it ended, ends the client.
func (g *registry) session(c *client) {
	defer g.wg.Done() // added by dispatch
	c.unparkReader()
	if c.readAvailable(c.peek) {
		c.parkReader() // nothing is buffered: the buffer waits in the pool, not in c
		if g.poll.rearm(c) == nil {
			return
		}
	}
	g.poll.remove(c)
	c.end()
	g.wg.Done() // added by reserve
}

// pingSlots spreads the pings over the period: each tick of PingPeriod/pingSlots pings the
// connections of one slot (client.slot), so each is still pinged every PingPeriod. All at once,
// every idle socket would start a writer, and then a reader for the pong, in the same instant:
// thousands of goroutines whose descriptors and stacks the runtime keeps after they end.
const pingSlots = 16

// pinger asks every hub connection's writer to send a ping each PingPeriod, until shutdown. A
// busy machine drops ticks, so the slots due are counted from the clock, not from the ticks: a
// late tick pings every slot it missed (each at most once), and no connection goes a period
// without its ping.
func (g *registry) pinger() {
	slotLen := g.cfg.PingPeriod / pingSlots
	t := time.NewTicker(slotLen)
	defer t.Stop()
	start := time.Now()
	var done int64 // slots pinged since start
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
			due := int64(time.Since(start) / slotLen)
			if due <= done {
				continue
			}
			var ping [pingSlots]bool
			for k := max(done, due-pingSlots) + 1; k <= due; k++ {
				ping[k%pingSlots] = true
			}
			done = due
			for _, c := range g.allClients() {
				if ping[c.slot] {
					c.ping()
				}
			}
		}
	}
}
