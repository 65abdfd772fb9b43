package stack_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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
