package jwksfresh_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails on a goroutine a Set left behind after Close: the refresh loop, or an
// unknown-kid fetch still running. Idle keep-alive connections of the shared transport are
// not the Set's; they are matched anywhere in the stack, not by the frame they wait in
// (ignoring every goroutine parked in a network read would also hide a fetch nothing stopped).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"))
}
