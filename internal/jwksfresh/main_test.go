package jwksfresh_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails on a goroutine a Set left behind after Close: the refresh loop, or an
// unknown-kid fetch still running. Idle keep-alive connections of the shared transport are
// not the Set's.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}
