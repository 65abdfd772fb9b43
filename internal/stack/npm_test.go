package stack_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/qubital/office-router/internal/stack"
)

// TestEnsureNodeModulesRegistryDown: when npm cannot reach the registry, make dev (and
// scripts/test.sh, through the same scripts/npm-ci.sh) says so in one line that names npm's error
// code, and prints no stack trace.
func TestEnsureNodeModulesRegistryDown(t *testing.T) {
	root, err := stack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	// The Node that runs npm: fetched now if this machine needs one, so that only npm ci meets
	// the dead registry below.
	if _, err := stack.NodeBinDir(t.Context(), root, nil); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	for _, f := range []string{"scripts/node.sh", "scripts/npm-ci.sh", "worker/package.json", "worker/package-lock.json"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(tmp, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, f), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("OFFICE_ROUTER_TOOLS", filepath.Join(root, ".tools"))
	t.Setenv("npm_config_registry", "http://127.0.0.1:9/") // the discard port: connection refused
	t.Setenv("npm_config_cache", t.TempDir())              // nothing to fall back on
	t.Setenv("npm_config_fetch_retries", "0")

	var out strings.Builder
	err = stack.EnsureNodeModules(t.Context(), tmp, &out)
	if err == nil {
		t.Fatal("npm ci succeeded without a registry")
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "npm ci in worker/ failed: ") || !strings.Contains(msg, "ECONNREFUSED") {
		t.Errorf("error %q: want one line naming ECONNREFUSED", msg)
	}
	if all := msg + out.String(); strings.Contains(all, "    at ") {
		t.Errorf("a stack trace was printed:\n%s", all)
	}
}

// TestEnsureNodeModulesStopsNpmWithTheStack: a stack stopped during its first run's npm ci (a
// SIGTERM from an IDE cancels its context) stops npm too, not only the bash script above it; an
// orphaned npm would go on writing worker/node_modules under the next make dev's npm ci.
func TestEnsureNodeModulesStopsNpmWithTheStack(t *testing.T) {
	tmp := t.TempDir()
	pidFile := filepath.Join(tmp, "npm.pid")
	scripts := map[string]string{
		"scripts/node.sh": "echo /bin\n",
		// npm ci stands in as a grandchild that would outlive the script.
		"scripts/npm-ci.sh": "sleep 300 &\necho $! > " + pidFile + ".tmp && mv " + pidFile + ".tmp " + pidFile + "\nwait\n",
	}
	for f, body := range scripts {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(tmp, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, f), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- stack.EnsureNodeModules(ctx, tmp, io.Discard) }()
	var pid int
	for deadline := time.Now().Add(10 * time.Second); pid == 0; {
		if b, err := os.ReadFile(pidFile); err == nil {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		} else if time.Now().After(deadline) {
			t.Fatal("the script never started its child")
		} else {
			runtime.Gosched()
		}
	}
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a cancelled npm ci reported success")
		}
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("EnsureNodeModules still waits for npm ci 10 s after the stack was cancelled")
	}
	// Killed (gone, or a zombie waiting for init to reap it), not sleeping on.
	for deadline := time.Now().Add(5 * time.Second); ; {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || strings.Contains(string(stat), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("npm ci's child %d outlived the cancelled stack", pid)
		}
		runtime.Gosched()
	}
}
