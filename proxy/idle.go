package proxy

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"syscall"
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
// socket receives every ping period, are consumed here when complete in the buffer, so that
// gorilla is not entered (it would then block, deep, waiting for the next data frame).

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

// pongFrameLen returns the length of a complete, masked, final pong frame at the start of
// buffered input, or 0.
func pongFrameLen(br *bufio.Reader) int {
	if br.Buffered() < 2 {
		return 0
	}
	b, _ := br.Peek(2)
	const finPong, maskBit = 0x80 | 0xA, 0x80
	if b[0] != finPong || b[1]&maskBit == 0 || b[1]&0x7f > 125 {
		return 0
	}
	n := 2 + 4 + int(b[1]&0x7f)
	if br.Buffered() < n {
		return 0
	}
	return n
}
