package stack_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/qubital/office-router/internal/stack"
)

func TestServerEnv(t *testing.T) {
	for _, name := range stack.ConfigVars {
		t.Setenv(name, "from-the-shell")
	}
	t.Setenv("OFFICE_ROUTER_UNRELATED", "kept")
	env := stack.ServerEnv("JWT_ISSUER=from-the-test")
	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		if slices.Contains(stack.ConfigVars, name) && value == "from-the-shell" {
			t.Errorf("%s from the shell reached the child", name)
		}
	}
	if !slices.Contains(env, "JWT_ISSUER=from-the-test") || !slices.Contains(env, "OFFICE_ROUTER_UNRELATED=kept") {
		t.Errorf("extra or unrelated variables lost: %q", env)
	}
}

// TestConfigVarsMatchDocs: every variable in the tables of docs/configuration.md is one that
// ServerEnv clears, and the other way round.
func TestConfigVarsMatchDocs(t *testing.T) {
	root, err := stack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(root, "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	// A variable row starts "| `NAME` |" or "| `A`, `B` |"; flag rows start with "| `-".
	row := regexp.MustCompile("(?m)^\\| (`[A-Z][A-Z0-9_]*`(?:, `[A-Z][A-Z0-9_]*`)*) \\|")
	var documented []string
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		for _, n := range strings.Split(m[1], ", ") {
			documented = append(documented, strings.Trim(n, "`"))
		}
	}
	slices.Sort(documented)
	documented = slices.Compact(documented)
	got := slices.Sorted(slices.Values(stack.ConfigVars))
	if !slices.Equal(got, documented) {
		t.Errorf("stack.ConfigVars = %q\ndocs/configuration.md names %q", got, documented)
	}
}
