//go:build unix

package proxy

import "syscall"

const canPeek = true

// peekReadable is waitReadable's RawConn.Read callback: true (stop waiting) when the socket has
// input, is at EOF or has an error, all of which the next read reports; false when a read would
// block. MSG_PEEK leaves the byte for that read; MSG_DONTWAIT never blocks, whatever the socket's
// mode. It runs on every wake-up, so a spurious wake-up goes back to sleep.
func peekReadable(fd uintptr) bool {
	var b [1]byte
	for {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		default: // nil (data, or 0 bytes: EOF) or a socket error
			return true
		}
	}
}
