//go:build !linux

package proxy

import "errors"

// Without epoll there is no poller: each hub socket has its reader goroutine (readLoop), which
// waits in a shallow frame where the platform can peek (idle.go).
type poller struct{}

var errNoPoller = errors.New("proxy: no poller on this platform")

func newPoller() (*poller, error)   { return nil, errNoPoller }
func (*poller) run(func(*client))   {}
func (*poller) add(*client) error   { return errNoPoller }
func (*poller) rearm(*client) error { return errNoPoller }
func (*poller) remove(*client)      {}
func (*poller) close()              {}
func (c *client) peek() bool        { return true }
