package proxy

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/qubital/office-router/verifier"
)

// client is one socket in a hub. The handler goroutine reads (readLoop); a writer goroutine
// exists only while the queue has something to send, so an idle connection costs one goroutine.
type client struct {
	env    *clientEnv
	h      *hub
	conn   *websocket.Conn
	br     *bufio.Reader // gorilla reads through it; see idle.go
	id     verifier.Identity
	connID string
	limit  *rate.Limiter

	mu    sync.Mutex
	queue []outgoing
	state connState // changed only by setState
	// writing: a writer goroutine runs (or, while connecting, is held back until attach).
	writing bool

	writeDeadline time.Time // the socket's write deadline; only the (single) writer touches it
}

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
	return &client{env: env, h: h, id: id, connID: hex.EncodeToString(b[:]), writing: true,
		limit: rate.NewLimiter(rate.Limit(env.cfg.MessagesPerSecond), env.cfg.MessageBurst)}
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
			_ = conn.NetConn().Close()
			return
		}
		c.closeDeadline()
	}()
}

// The socket's read deadline has two writers: the reader, which moves it to the idle wait
// (2×PingPeriod + WriteWait) whenever the peer sends something (alive), and whoever sent our close
// frame, which gives the peer closeGrace to answer (closeDeadline). Both move it under c.mu, and
// alive checks the state in the same step: checked, then moved outside the lock, a reader that
// saw the socket open just before a close could move the deadline after the close deadline was
// set, and a peer that kept sending would hold its socket, and Shutdown, for the idle wait
// (70 s by default) instead of closeGrace (TestShutdownCutsAPeerThatKeepsSending).

// alive moves the read deadline to the idle wait from now: the peer sent something. Not once a
// close is under way: then the close deadline stands.
func (c *client) alive() {
	if h := testHookDeadline.Load(); h != nil {
		(*h)(false)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state < stateClosing {
		_ = c.conn.SetReadDeadline(time.Now().Add(2*c.env.cfg.PingPeriod + c.env.cfg.WriteWait))
	}
}

// closeDeadline gives the peer closeGrace to answer our close frame, which has been written.
func (c *client) closeDeadline() {
	c.mu.Lock()
	_ = c.conn.SetReadDeadline(time.Now().Add(closeGrace))
	c.mu.Unlock()
	if h := testHookDeadline.Load(); h != nil {
		(*h)(true)
	}
}

// testHookDeadline, when set (export_test.go), runs as the reader is about to move the read
// deadline (false) and after a close deadline was set (true), so that a test can put a close in
// the one place a reader could undo it. Nil outside tests.
var testHookDeadline atomic.Pointer[func(closing bool)]

// kill cuts the TCP connection; the read loop then ends and the hub forgets the client.
func (c *client) kill() {
	c.mu.Lock()
	conn := c.conn
	c.mu.Unlock()
	if conn != nil {
		_ = conn.NetConn().Close()
	}
}

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
				// Give the peer a moment to answer the close, then the read loop ends.
				c.closeDeadline()
			default:
				err = c.conn.WriteMessage(websocket.TextMessage, m.data)
			}
			if err != nil {
				c.mu.Lock()
				c.setState(stateClosed)
				c.queue, c.writing = nil, false
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

// readLoop runs in the connection's read goroutine until the socket closes or fails; the
// caller then leaves the hub and lingers.
func (c *client) readLoop() {
	c.conn.SetReadLimit(c.env.cfg.MaxMessageBytes) // gorilla answers oversize with 1009
	// Through alive, as every move is: a close queued before attach (Shutdown during the upgrade)
	// may already have set its deadline.
	c.alive()
	c.conn.SetPongHandler(func(string) error {
		c.alive()
		return nil
	})
	rc := rawConn(c.conn.NetConn())
	for {
		if c.br != nil && rc != nil && c.br.Buffered() == 0 {
			if waitReadable(rc) != nil {
				return
			}
			if _, err := c.br.Peek(1); err != nil {
				return
			}
		}
		if c.br != nil {
			if n := pongFrameLen(c.br); n > 0 {
				_, _ = c.br.Discard(n)
				c.alive()
				continue
			}
		}
		mt, data, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		c.env.m.in.Inc()
		if c.isClosed() {
			continue // draining until the peer answers our close
		}
		c.alive()
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
