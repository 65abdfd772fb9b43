package main

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/qubital/office-router/internal/stack"
)

// TestMakeDevStopsOnSIGTERM: a SIGTERM to `make dev-go` (a supervisor, an IDE's stop button, a
// `kill` of make's pid) stops the stack, so its ports are free again once make has exited.
func TestMakeDevStopsOnSIGTERM(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make on this machine")
	}
	root, err := stack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	issuerPort, err := stack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	proxyPort, err := stack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	proxyAddr := fmt.Sprintf("127.0.0.1:%d", proxyPort)
	out := &upWriter{up: make(chan struct{})}
	cmd := exec.Command("make", "--no-print-directory", "dev-go",
		fmt.Sprintf("ARGS=-issuer-addr 127.0.0.1:%d -proxy-addr %s -dir %s", issuerPort, proxyAddr, filepath.Join(t.TempDir(), "dev")))
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // so the cleanup reaches an orphaned stack
	cmd.WaitDelay = 5 * time.Second                       // an orphan holding the output pipe must not hang Wait
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()

	select {
	case <-out.up:
	case <-done:
		t.Fatalf("make dev-go exited before the stack was up:\n%s", out)
	case <-time.After(3 * time.Minute):
		t.Fatalf("make dev-go did not come up:\n%s", out)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil { // make alone, not its group
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("make did not exit after SIGTERM:\n%s", out)
	}
	if c, err := net.DialTimeout("tcp", proxyAddr, time.Second); err == nil {
		c.Close()
		t.Fatalf("make has exited but the dev stack still listens on %s:\n%s", proxyAddr, out)
	}
}

// upWriter collects output and closes up once the dev stack says it is up.
type upWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	up   chan struct{}
	seen bool
}

func (w *upWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.seen && bytes.Contains(w.buf.Bytes(), []byte("stack is up")) {
		w.seen = true
		close(w.up)
	}
	return len(p), nil
}

func (w *upWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
