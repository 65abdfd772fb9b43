package stack

import (
	"os"
	"path/filepath"
	"testing"
)

// TestNpmForFetched: on a machine with no npm, the npm that scripts/node.sh fetched next to its
// Node is the one EnsureNodeModules finds (it used to look on PATH only, and refused to start).
func TestNpmForFetched(t *testing.T) {
	nodeDir := t.TempDir()
	t.Setenv("PATH", t.TempDir()) // no npm
	if _, err := npmFor(nodeDir); err == nil {
		t.Fatal("found an npm in an empty folder and an empty PATH")
	}
	npm := filepath.Join(nodeDir, "npm")
	if err := os.WriteFile(npm, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := npmFor(nodeDir); err != nil || got != npm {
		t.Errorf("npmFor = %q, %v; want %q", got, err, npm)
	}
}
