package proxy

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/qubital/office-router/verifier"
)

// client is one socket in a hub. Its input is read by sessions (poller_linux.go: a goroutine only
// while the socket has input) or, where there is no poller, by one goroutine (readLoop); a writer
// goroutine exists only while the queue has something to send. So an idle connection costs no
// goroutine at all where the poller runs, one elsewhere.
type client struct {
	env    *clientEnv
	h      *hub
	conn   *websocket.Conn
	br     *bufio.Reader // gorilla reads through it; see idle.go
	id     member
	connID string
	limit  *rate.Limiter // nil until the first message; only the reader touches it
	fd     int32         // the socket's descriptor while the poller watches it; only its sessions use it
	slot   uint8         // which of the pinger's slots pings it (pingSlots)

	// deadline cuts the socket (kill) when the peer has sent nothing, pongs included, for
	// 2×PingPeriod + WriteWait, or has not answered our close frame within closeGrace. A timer,
	// not the socket's read deadline: no goroutine sits in a read for that deadline to wake.
	deadline *time.Timer

	mu    sync.Mutex
	queue []outgoing
	state connState // changed only by setState
	// writing: a writer goroutine runs (or, while connecting, is held back until attach).
	writing bool
	// killed: kill cut the socket; the reader ends at the next message instead of draining.
	killed bool

	writeDeadline time.Time // the socket's write deadline; only the (single) writer touches it
}

// member is what a client keeps of its token's identity: what the hub shows and routes by. The
// rest (org, subject, jti, times) was used at the handshake; kept, it would cost every idle
// socket about 200 bytes.
type member struct{ UserID, Role string }

// connState is where a client is in its life: connecting → open → closing → closed. Moves are
// forward only and may skip a state (a socket whose upgrade fails goes from connecting to
// closed; a Shutdown during the upgrade goes from connecting to closing).
type connState uint8

const (
	// stateConnecting: joined its hub before the 101; messages queue, nothing is written.
	stateConnecting connState = iota
	// stateOpen: the socket is attached; messages are accepted and written.
	stateOpen
	// stateClosing: a close is queued; nothing more is accepted, what is queued (the close frame
	// last) is still written.
	stateClosing
	// stateClosed: nothing more is accepted or written; the writer stops after its current write.
	stateClosed
)

// setState moves the client to next if that is a legal move (forward only) and reports whether
// it did. Called with c.mu held.
func (c *client) setState(next connState) bool {
	if next <= c.state {
		return false
	}
	c.state = next
	return true
}

type outgoing struct {
	data   []byte
	ping   bool
	close  int
	reason string
}

// newClient returns a connecting client, not yet attached to a socket: it can join its hub and
// queue messages, but no writer runs (writing is held true) until attach.
func newClient(env *clientEnv, h *hub, id verifier.Identity) *client {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &client{env: env, h: h, id: member{UserID: id.UserID, Role: id.Role}, connID: hex.EncodeToString(b[:]), writing: true,
		slot: b[0] % pingSlots}
}

// clientEnv is what a hub's clients need from the process, instead of a pointer back to the
// Proxy: the validated limits, the metrics, and the wait group that Shutdown waits on (every
// reader, writer and close goroutine is counted in it).
type clientEnv struct {
	cfg *Config
	m   *metrics
	wg  *sync.WaitGroup
}

// attach gives the client its upgraded socket and starts writing what was queued meanwhile.
func (c *client) attach(conn *websocket.Conn, br *bufio.Reader) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn, c.br = conn, br
	c.deadline = time.AfterFunc(c.idleWait(), c.kill)
	if c.killed { // Shutdown gave up on it while it was connecting: nothing else will cut it
		cut(conn.NetConn())
	}
	c.setState(stateOpen) // unless a close came first: then it stays closing or closed
	c.writing = false
	if len(c.queue) > 0 {
		c.writing = true
		c.env.wg.Add(1)
		go c.writeLoop()
	}
}

// enqueue queues a text message without blocking. A full queue means the client cannot keep
// up: it is closed with 4008 and the message is dropped for it alone.
func (c *client) enqueue(data []byte) bool {
	c.mu.Lock()
	if c.state >= stateClosing {
		c.mu.Unlock()
		return false
	}
	if len(c.queue) >= c.env.cfg.SendQueue {
		attached := c.state == stateOpen
		c.setState(stateClosed)
		c.queue = nil
		conn := c.conn
		c.mu.Unlock()
		c.env.m.slow.Inc()
		if attached {
			c.abort(conn, CloseSlowConsumer, "slow consumer")
		}
		return false
	}
	c.push(outgoing{data: data})
	c.mu.Unlock()
	c.env.m.out.Inc()
	return true
}

// push appends to the queue and starts the writer if none runs. Called with c.mu held.
func (c *client) push(m outgoing) {
	c.queue = append(c.queue, m)
	if !c.writing {
		c.writing = true
		c.env.wg.Add(1)
		go c.writeLoop()
	}
}

func (c *client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state >= stateClosing
}

// finish marks the client closed and drops its queue: the reader has ended, the upgrade failed
// or a write failed. The writer, if one runs, stops after its current write.
func (c *client) finish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setState(stateClosed)
	c.queue = nil
}

func (c *client) ping() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state < stateClosing {
		c.push(outgoing{ping: true})
	}
}

// closeGracefully sends what is queued, then a close frame with code.
func (c *client) closeGracefully(code int, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.setState(stateClosing) {
		return // already closing or closed
	}
	c.push(outgoing{close: code, reason: reason})
}

// abort drops the queue and sends a close frame as soon as the writer lets go of the socket
// (gorilla's WriteControl waits for the frame in progress), at most WriteWait; the read loop
// then ends on the peer's answer or after closeGrace. Never called with locks that broadcast needs.
func (c *client) abort(conn *websocket.Conn, code int, reason string) {
	c.env.wg.Add(1)
	go func() {
		defer c.env.wg.Done()
		if conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(c.env.cfg.WriteWait)) != nil {
			c.kill()
			return
		}
		c.closeDeadline()
	}()
}

// kill cuts the TCP connection; the reader then ends and the hub forgets the client.
func (c *client) kill() {
	c.mu.Lock()
	conn := c.conn
	c.setState(stateClosed)
	c.queue, c.killed = nil, true
	c.mu.Unlock()
	if conn != nil {
		cut(conn.NetConn())
	}
}

// cut shuts a socket down both ways without closing it: a reader blocked in it, or the poller
// watching it, sees EOF, and the client's end closes it (closing would take it out of the
// poller's set without a word, and nobody would end the client).
func cut(nc net.Conn) {
	if s, ok := nc.(interface {
		CloseRead() error
		CloseWrite() error
	}); ok {
		_ = s.CloseRead()
		_ = s.CloseWrite()
		return
	}
	_ = nc.Close()
}

func (c *client) idleWait() time.Duration { return 2*c.env.cfg.PingPeriod + c.env.cfg.WriteWait }

// The deadline has two writers: the reader, which moves it to the idle wait whenever the peer
// sends something (alive), and whoever sent our close frame, which gives the peer closeGrace to
// answer (closeDeadline). Both move it under c.mu, and alive checks the state in the same step:
// checked, then moved outside the lock, a reader that saw the socket open just before a close
// could move the deadline after the close deadline was set, and a peer that kept sending would
// hold its socket, and Shutdown, for the idle wait (70 s by default) instead of closeGrace
// (TestShutdownCutsAPeerThatKeepsSending).

// alive moves the deadline to idleWait from now: the peer sent something. Not once a close is
// under way: then the close deadline stands.
func (c *client) alive() {
	if h := testHookDeadline.Load(); h != nil {
		(*h)(false)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state < stateClosing {
		c.deadline.Reset(c.idleWait())
	}
}

// closeDeadline gives the peer closeGrace to answer our close frame, which has been written.
func (c *client) closeDeadline() {
	c.mu.Lock()
	c.deadline.Reset(closeGrace)
	c.mu.Unlock()
	if h := testHookDeadline.Load(); h != nil {
		(*h)(true)
	}
}

// testHookDeadline, when set (export_deadline_test.go), runs as the reader is about to move the
// deadline (false) and after a close deadline was set (true), so that a test can put a close in
// the one place a reader could undo it. Nil outside tests.
var testHookDeadline atomic.Pointer[func(closing bool)]

func (c *client) writeLoop() {
	defer c.env.wg.Done()
	for {
		c.mu.Lock()
		batch := c.queue
		c.queue = nil
		if len(batch) == 0 {
			c.writing = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		for _, m := range batch {
			c.mu.Lock()
			stop := c.state == stateClosed
			if stop {
				c.writing = false
			}
			c.mu.Unlock()
			if stop {
				return
			}
			// One deadline per WriteWait/2 rather than per message: setting it re-arms a
			// runtime timer, a cost a broadcast pays once per recipient and message.
			if now := time.Now(); c.writeDeadline.Sub(now) < c.env.cfg.WriteWait/2 {
				c.writeDeadline = now.Add(c.env.cfg.WriteWait)
				_ = c.conn.SetWriteDeadline(c.writeDeadline)
			}
			deadline := c.writeDeadline
			var err error
			switch {
			case m.ping:
				err = c.conn.WriteControl(websocket.PingMessage, nil, deadline)
			case m.close != 0:
				err = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(m.close, m.reason), deadline)
				// Give the peer a moment to answer the close, then the reader ends.
				c.closeDeadline()
			default:
				err = c.conn.WriteMessage(websocket.TextMessage, m.data)
			}
			if err != nil {
				c.mu.Lock()
				c.writing = false
				c.mu.Unlock()
				c.kill()
				return
			}
		}
	}
}

var (
	pong       = []byte("pong")
	badMessage = []byte(`{"type":"error","code":"bad_message"}`)
	jsonNull   = json.RawMessage("null")
)

// readLoop is the reader where no poller runs: one goroutine per connection, which waits in a
// shallow frame (waitReadable) between messages, until the socket closes or fails; the caller
// then ends the client.
func (c *client) readLoop() {
	c.startReading()
	rc := rawConn(c.conn.NetConn())
	var peek func() bool
	if rc != nil {
		peek = func() bool {
			ready := true
			_ = rc.Control(func(fd uintptr) { ready = peekReadable(fd) })
			return ready
		}
	}
	for {
		if rc != nil && waitReadable(rc) != nil {
			return
		}
		if !c.readAvailable(peek) {
			return
		}
	}
}

// startReading sets the read limit and the pong handler; before the first read.
func (c *client) startReading() {
	c.conn.SetReadLimit(c.env.cfg.MaxMessageBytes) // gorilla answers oversize with 1009
	c.conn.SetPongHandler(func(string) error {
		c.alive()
		return nil
	})
}

// readAvailable reads and handles the socket's input until peek reports that a read would block
// (nil peek: never), and reports whether the socket is still open. A frame that has only partly
// arrived is waited for inside gorilla. It returns false once the socket has ended (EOF, an
// error, the peer's close frame, kill): the caller then ends the client.
func (c *client) readAvailable(peek func() bool) bool {
	for {
		if c.br.Buffered() == 0 {
			if peek != nil && !peek() {
				return true
			}
			if _, err := c.br.Peek(1); err != nil {
				return false
			}
		}
		if n := pongFrameLen(c.br); n > 0 {
			_, _ = c.br.Discard(n)
			c.alive()
			continue
		}
		mt, data, err := c.conn.ReadMessage()
		if err != nil {
			return false
		}
		c.env.m.in.Inc()
		if c.isClosed() {
			if c.isKilled() {
				return false
			}
			continue // draining until the peer answers our close
		}
		c.alive()
		if c.limit == nil { // made at the first message: most sockets idle, many never send
			c.limit = rate.NewLimiter(rate.Limit(c.env.cfg.MessagesPerSecond), c.env.cfg.MessageBurst)
		}
		if !c.limit.Allow() {
			c.closeGracefully(ClosePolicy, "message rate limit")
			continue
		}
		if mt != websocket.TextMessage {
			c.enqueue(badMessage)
			continue
		}
		if !utf8.Valid(data) {
			c.closeGracefully(CloseInvalidUTF8, "invalid UTF-8")
			continue
		}
		if string(data) == "ping" {
			c.enqueue(pong)
			continue
		}
		c.handle(data)
	}
}

func (c *client) isKilled() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.killed
}

// end is the client's last step, run by its reader once the socket ended: the hub forgets it
// (and the others see the leave at once), then the socket closes after the linger.
func (c *client) end() {
	c.finish() // nothing is queued (so no writer is started) once the reader is gone
	c.h.leave(c)
	c.deadline.Stop()
	c.linger()
}

// handle dispatches one protocol message (docs/protocol.md#messages).
func (c *client) handle(data []byte) {
	in, ok := parseInbound(data)
	switch {
	case !ok:
		c.enqueue(badMessage)
	case in.typ == "broadcast":
		c.h.broadcast(c, mustJSON(chatMsg{Type: "message", From: c.id.UserID, Data: in.data}))
	default: // direct
		c.h.direct(in.to, mustJSON(chatMsg{Type: "message", From: c.id.UserID, Data: in.data, Direct: true}))
	}
}

// linger closes the connection after reading what the peer still sends, for at most closeGrace:
// closing with unread input makes TCP reset the connection, and the peer would lose the close
// frame (1009, 1007) that explains why.
func (c *client) linger() {
	nc := c.conn.NetConn()
	_ = nc.SetReadDeadline(time.Now().Add(closeGrace))
	_, _ = io.Copy(io.Discard, nc)
	_ = nc.Close()
}
