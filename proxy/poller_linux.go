//go:build linux

package proxy

import (
	"errors"
	"os"
	"sync"
	"syscall"
)

// poller waits for input on every idle hub socket at once, so that an idle socket costs no
// goroutine (and no stack) at all: one epoll instance holds the sockets, each registered
// level-triggered and one-shot (EPOLLONESHOT). When a socket becomes readable the kernel reports
// it once and disarms it; the poller hands it to a new goroutine (session), which reads until a
// non-blocking peek says the socket would block, then re-arms it.
//
// No readiness can fall between that last read and the wait: re-arming a level-triggered entry
// (EPOLL_CTL_MOD) makes the kernel look at the socket again, so input that arrived after the
// peek is reported at once. One-shot means at most one goroutine reads a socket at a time.
//
// The epoll descriptor itself is waited on through the Go runtime's poller (it is readable
// while it holds events), so the poller's goroutine parks like any network read and stops when
// the descriptor is closed. Its callback drains with a zero timeout each time it is called, the
// same look-before-sleep rule as waitReadable (idle.go).
type poller struct {
	f  *os.File
	rc syscall.RawConn

	mu      sync.Mutex
	clients map[int32]*client // by socket descriptor; entries live from add to remove

	closeOnce sync.Once
	done      chan struct{} // closed when run returns
}

// Sockets are watched for input, EOF (EPOLLRDHUP) and, implicitly, errors and hang-ups.
const pollEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

func newPoller() (*poller, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		_ = syscall.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "epoll") // non-blocking: the runtime's poller watches it
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return &poller{f: f, rc: rc, clients: map[int32]*client{}, done: make(chan struct{})}, nil
}

// run hands every socket that becomes readable to dispatch, until close.
func (pl *poller) run(dispatch func(*client)) {
	defer close(pl.done)
	events := make([]syscall.EpollEvent, 256)
	ready := make([]*client, 0, len(events))
	for {
		var n int
		var werr error
		err := pl.rc.Read(func(fd uintptr) bool {
			for {
				n, werr = syscall.EpollWait(int(fd), events, 0)
				if werr != syscall.EINTR {
					return werr != nil || n > 0
				}
			}
		})
		if err != nil || werr != nil {
			return // closed
		}
		ready = ready[:0]
		pl.mu.Lock()
		for _, ev := range events[:n] {
			if c := pl.clients[ev.Fd]; c != nil {
				ready = append(ready, c)
			}
		}
		pl.mu.Unlock()
		for _, c := range ready {
			if !pl.takePong(c) {
				dispatch(c)
			}
		}
		clear(ready)
	}
}

var errNoPollFD = errors.New("proxy: socket has no descriptor to poll")

// add registers c's socket, armed: the first input (or EOF) is reported to dispatch.
func (pl *poller) add(c *client) error {
	rc := rawConn(c.conn.NetConn())
	if rc == nil {
		return errNoPollFD
	}
	var cerr error
	err := rc.Control(func(sfd uintptr) {
		c.fd = int32(sfd)
		pl.mu.Lock()
		pl.clients[c.fd] = c
		pl.mu.Unlock()
		cerr = pl.ctl(syscall.EPOLL_CTL_ADD, c.fd)
		if cerr != nil {
			pl.mu.Lock()
			delete(pl.clients, c.fd)
			pl.mu.Unlock()
		}
	})
	if err != nil {
		return err
	}
	return cerr
}

// rearm watches c's socket again after a session found it would block. Only the session that
// owns c calls it, while c's socket is open.
//
// It holds pl.mu across the re-arm, and run looks the client up under pl.mu before it starts
// the next session: so everything this session did happens before the next one starts (the
// epoll_ctl alone is no synchronisation the memory model knows of).
func (pl *poller) rearm(c *client) error {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return pl.ctl(syscall.EPOLL_CTL_MOD, c.fd)
}

// remove forgets c's socket; called by its last session before the socket is closed.
func (pl *poller) remove(c *client) {
	_ = pl.ctl(syscall.EPOLL_CTL_DEL, c.fd)
	pl.mu.Lock()
	delete(pl.clients, c.fd)
	pl.mu.Unlock()
}

func (pl *poller) ctl(op int, sfd int32) error {
	var err error
	cerr := pl.rc.Control(func(efd uintptr) { // holds the epoll descriptor open meanwhile
		ev := syscall.EpollEvent{Events: pollEvents, Fd: sfd}
		err = syscall.EpollCtl(int(efd), op, int(sfd), &ev)
	})
	if cerr != nil {
		return cerr
	}
	return err
}

// close stops run and waits for it. Sockets still registered are not closed.
func (pl *poller) close() {
	pl.closeOnce.Do(func() { _ = pl.f.Close() })
	<-pl.done
}

// peek is c's sessions' look before they hand the socket back: false when a read would block.
func (c *client) peek() bool { return peekReadable(uintptr(c.fd)) }

// takePong handles the one input an idle socket gets every ping period, a lone pong, without
// starting a session: when the socket holds exactly one complete pong frame (masked, final, as
// pongFrameLen wants), it is received and dropped here, the deadline moves, and the socket is
// re-armed. Anything else (more input, a partial frame, EOF, an error) is left for a session.
// c is armed-and-reported, so no session runs and the socket is open: its descriptor is safe to
// use, and gorilla's reader sits at a frame boundary with nothing buffered (parkReader).
func (pl *poller) takePong(c *client) bool {
	const maxPong = 2 + 4 + 125
	var b [maxPong + 1]byte
	n, _, err := syscall.Recvfrom(int(c.fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	if err != nil || n < 6 {
		return false
	}
	const finPong, maskBit = 0x80 | 0xA, 0x80
	if b[0] != finPong || b[1]&maskBit == 0 || b[1]&0x7f > 125 || n != 6+int(b[1]&0x7f) {
		return false
	}
	if m, _, err := syscall.Recvfrom(int(c.fd), b[:n], syscall.MSG_DONTWAIT); err != nil || m != n {
		return false // cannot happen (the bytes were there, and only we read); a session reads on
	}
	c.alive()
	return pl.rearm(c) == nil // else the session started instead ends the client
}
