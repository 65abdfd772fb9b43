//go:build !linux

package stack

import (
	"syscall"
	"time"
)

func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// DieWithParent is Linux only; elsewhere stop the stack with Ctrl-C or SIGTERM.
func DieWithParent(sig syscall.Signal) error { return nil }

// AwaitParentSignal is Linux only (it reads /proc); elsewhere it returns at once.
func AwaitParentSignal(sig syscall.Signal, within time.Duration) {}
