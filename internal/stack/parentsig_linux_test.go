package stack

import (
	"syscall"
	"testing"
)

func TestSignalPending(t *testing.T) {
	tests := []struct {
		name   string
		status string
		sig    syscall.Signal
		want   bool
	}{
		{"none pending", "SigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\n", syscall.SIGINT, false},
		{"SIGINT pending for the process", "SigPnd:\t0000000000000000\nShdPnd:\t0000000000000002\n", syscall.SIGINT, true},
		{"SIGINT pending for the thread", "SigPnd:\t0000000000000002\nShdPnd:\t0000000000000000\n", syscall.SIGINT, true},
		{"another signal (SIGTERM) pending", "SigPnd:\t0000000000000000\nShdPnd:\t0000000000004000\n", syscall.SIGINT, false},
		{"SIGTERM asked, SIGTERM pending", "ShdPnd:\t0000000000004000\n", syscall.SIGTERM, true},
		{"blocked is not pending", "SigBlk:\t0000000000000002\nSigPnd:\t0000000000000000\n", syscall.SIGINT, false},
		{"garbage", "ShdPnd:\tzz\n", syscall.SIGINT, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := signalPending(tt.status, tt.sig); got != tt.want {
				t.Errorf("signalPending = %v, want %v", got, tt.want)
			}
		})
	}
}
