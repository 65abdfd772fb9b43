package proxy

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"syscall"

	"github.com/gorilla/websocket"
)

// Idle connections are the common case (thousands of sockets, a message now and then), so an
// idle socket must cost little: no goroutine blocked inside the WebSocket reader, and no read
// buffer while nothing is buffered.
//
// On Linux an idle socket has no goroutine at all: it waits in the poller's epoll set
// (poller_linux.go), and its read buffer waits in readBuffers. Elsewhere its read goroutine
// waits for readability in a shallow frame (waitReadable), so the runtime can shrink its stack
// to the minimum while it is idle, and only then calls into gorilla.
// To know whether gorilla has bytes buffered (then it must not wait), the proxy supplies the
// bufio.Reader itself: gorilla's Upgrader, with ReadBufferSize 0, documents that it reads through
// the buffer returned by Hijack, and hijackWriter returns ours. Pong frames, the one thing an idle
// socket receives every ping period, and the client's own pings are consumed here (controlFrame),
// so that gorilla is not entered (it would then block, deep, waiting for the next data frame).

// hijackWriter hands gorilla a bufio.Reader the proxy can inspect.
type hijackWriter struct {
	http.ResponseWriter
	br *bufio.Reader
}

var errEarlyData = errors.New("client sent data before the handshake completed")

func (h *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if brw.Reader.Buffered() > 0 {
		conn.Close()
		return nil, nil, errEarlyData
	}
	// Larger than 256 bytes, so that gorilla reuses it (see Upgrader.ReadBufferSize).
	h.br = readBuffers.Get().(*bufio.Reader)
	h.br.Reset(conn)
	return conn, bufio.NewReadWriter(h.br, brw.Writer), nil
}

// readBuffers holds the read buffers of idle sockets. A socket that waits in the poller has
// nothing buffered, so its buffer goes back here until the socket has input again: the buffers
// in use scale with the sockets being read, not with the sockets open. A buffer travels as a
// bufio.Reader that owns it, since bufio has no other way to hand a buffer over.
var readBuffers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferSize) }}

// parkReader lends c's read buffer back to readBuffers; c.br is left empty (zero) and no read
// may run until unparkReader. Only when nothing is buffered, by c's reader.
func (c *client) parkReader() {
	spare := new(bufio.Reader)
	*spare = *c.br
	*c.br = bufio.Reader{}
	readBuffers.Put(spare)
}

// unparkReader gives c.br a buffer again, if parked. Gorilla keeps the pointer c.br, so the
// reader is refilled in place.
func (c *client) unparkReader() {
	if c.br.Size() > 0 {
		return
	}
	r := readBuffers.Get().(*bufio.Reader)
	r.Reset(c.conn.NetConn())
	*c.br = *r
}

// waitReadable blocks, in a shallow frame, until conn has input or EOF (or its read deadline
// passes, or it is closed).
//
// It must look at the socket before it sleeps. RawConn.Read first resets the poller's
// "readable" flag (pollDesc.prepareRead), and the poller is edge-triggered: input that arrived
// after gorilla's last read(2) set that flag and raised its one edge already, so a wait that
// trusted the poller alone would sleep until the next packet (the pong after the next ping) or
// the read deadline. So every call of f first peeks without blocking (peekReadable): data, EOF
// or an error end the wait; only "would block" waits, and the poller then reports any later edge.
func waitReadable(rc syscall.RawConn) error {
	return rc.Read(peekReadable)
}

func rawConn(c net.Conn) syscall.RawConn {
	if !canPeek {
		return nil // no idle wait: the reader blocks inside gorilla, correct but deeper
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// controlFrame looks at the start of buffered input (at least one byte): when it is a masked,
// final ping or pong frame, it waits for the rest of that frame (at most 131 bytes, so it fits
// the buffer) and returns its opcode and length; anything else, gorilla's to read or reject,
// returns 0. An error means the socket ended before the frame did.
//
// Gorilla's ReadMessage handles control frames and then waits for the next data frame, deep in
// its reader: a client that pings us (native clients do, on a timer) or whose pong arrived in
// pieces would keep its reading goroutine, and its buffer, for as long as it stayed idle.
func controlFrame(br *bufio.Reader) (op, n int, err error) {
	// Bytes are copied out of each Peek before the next: a Peek that has to read may slide the
	// buffered bytes to the front of the buffer, and an earlier slice then shows other bytes.
	b, _ := br.Peek(1)
	const fin, maskBit = 0x80, 0x80
	b0 := b[0]
	if b0 != fin|websocket.PingMessage && b0 != fin|websocket.PongMessage {
		return 0, 0, nil
	}
	if b, err = br.Peek(2); err != nil {
		return 0, 0, err
	}
	if b[1]&maskBit == 0 || b[1]&0x7f > 125 {
		return 0, 0, nil // gorilla closes with 1002
	}
	n = 2 + 4 + int(b[1]&0x7f)
	if _, err = br.Peek(n); err != nil {
		return 0, 0, err
	}
	return int(b0 &^ fin), n, nil
}

// controlPayload returns a copy of the unmasked payload of the complete control frame of
// length n at the start of br.
func controlPayload(br *bufio.Reader, n int) []byte {
	b, _ := br.Peek(n)
	key, p := b[2:6], make([]byte, n-6)
	for i := range p {
		p[i] = b[6+i] ^ key[i%4]
	}
	return p
}
