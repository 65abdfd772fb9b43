//go:build !linux

package stack

import "syscall"

func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// DieWithParent is Linux only; elsewhere stop the stack with Ctrl-C or SIGTERM.
func DieWithParent(sig syscall.Signal) error { return nil }
