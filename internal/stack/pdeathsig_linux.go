package stack

import "syscall"

// childAttr puts a child in its own process group (so Stop reaches wrangler's workerd) and asks
// the kernel to SIGTERM it when its parent dies, even by SIGKILL: a killed stack leaves no
// wrangler holding ports.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// DieWithParent asks the kernel to send sig to this process when its parent exits: `go run`
// and IDE stop buttons SIGTERM the parent only, and it does not forward the signal.
func DieWithParent(sig syscall.Signal) error {
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(sig), 0); e != 0 {
		return e
	}
	return nil
}
