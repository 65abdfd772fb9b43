package stack

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// AwaitParentSignal returns once sig is no longer pending in this process's parent, or after
// within. Ctrl-C signals the whole process group, so the parent (make) and the stack both get
// SIGINT. GNU make 4.3 waits for its child inside its SIGINT handler; if the stack has already
// exited and make's main loop reaped it before the handler ran (make got no CPU until then, as
// on a busy machine), the handler's wait finds no child and make prints
// "make: *** wait: No child processes.  Stop.". Exiting only after make has taken its SIGINT
// closes that window: the handler then reaps the stack itself.
func AwaitParentSignal(sig syscall.Signal, within time.Duration) {
	deadline := time.Now().Add(within)
	path := "/proc/" + strconv.Itoa(os.Getppid()) + "/status"
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(path)
		if err != nil || !signalPending(string(b), sig) {
			return
		}
		// Polling the kernel's view of another process: there is nothing to wait on.
		time.Sleep(2 * time.Millisecond)
	}
}

// signalPending reports whether sig is pending in a /proc/<pid>/status text, for one thread
// (SigPnd) or the whole process (ShdPnd).
func signalPending(status string, sig syscall.Signal) bool {
	bit := uint64(1) << (uint(sig) - 1)
	for _, line := range strings.Split(status, "\n") {
		name, val, ok := strings.Cut(line, ":")
		if !ok || (name != "SigPnd" && name != "ShdPnd") {
			continue
		}
		mask, err := strconv.ParseUint(strings.TrimSpace(val), 16, 64)
		if err == nil && mask&bit != 0 {
			return true
		}
	}
	return false
}
