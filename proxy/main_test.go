package proxy_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind: every connection goroutine,
// hub, pinger and poller must be owned and stopped. Only the HTTP client's idle keep-alive
// connections (net/http's persistConn, which the tests' clients pool) may outlive a test; they
// are matched anywhere in the stack, not by the frame they wait in: ignoring every goroutine
// parked in a network read (internal/poll.runtime_pollWait) also hid a poller, or a session
// or reader, that nothing stopped.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"))
}
