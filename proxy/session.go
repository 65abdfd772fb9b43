package proxy

import (
	"math/rand/v2"
	"sync"
	"time"
)

// sessionTimers closes hub sockets at their session age (Config.MaxSessionSeconds). It exists
// only when the limit is on: off, the registry holds nil, and a socket costs nothing more than
// before (no field in client, whose idle size is counted: idle.go). On, each socket has a timer
// in this map from its 101 until it leaves its hub, so an ended socket is not held until its
// deadline.
type sessionTimers struct {
	max time.Duration
	mu  sync.Mutex
	t   map[*client]*time.Timer
}

func newSessionTimers(maxSeconds int) *sessionTimers {
	if maxSeconds == 0 {
		return nil
	}
	return &sessionTimers{max: time.Duration(maxSeconds) * time.Second, t: map[*client]*time.Timer{}}
}

// limit draws one socket's session age: max × uniform(0.9, 1.1). The jitter spreads the
// reconnects of sockets opened together, after a deploy say, instead of bringing them back in
// one burst.
func (s *sessionTimers) limit() time.Duration {
	return time.Duration(float64(s.max) * (0.9 + 0.2*rand.Float64()))
}

// start arms c's deadline: at it, c is closed with 4001 and leaves the roster at once.
func (s *sessionTimers) start(h *hub, c *client) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t[c] = time.AfterFunc(s.limit(), func() {
		s.stop(c)
		h.closeAndUnlist(c, CloseReauthRequired)
	})
}

// stop forgets c's deadline (it left its hub, or the deadline fired).
func (s *sessionTimers) stop(c *client) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.t[c]; ok {
		t.Stop()
		delete(s.t, c)
	}
}

// len is how many sockets have a deadline armed.
func (s *sessionTimers) len() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.t)
}
