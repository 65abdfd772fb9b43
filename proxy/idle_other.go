//go:build !unix

package proxy

// Without a non-blocking peek the idle wait cannot be made safe (idle.go): readers block inside
// gorilla instead, which costs a deeper stack per idle socket.
const canPeek = false

func peekReadable(uintptr) bool { return true }
