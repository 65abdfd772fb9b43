package main

import (
	"io"
	"strings"
	"testing"
)

// TestDevRefusesProductionVariables: issuer -dev stops before listening when a production key
// or identity variable is set, with one line naming it (issue 13, item 8).
func TestDevRefusesProductionVariables(t *testing.T) {
	for _, name := range []string{"JWT_PRIVATE_KEY", "JWT_PRIVATE_KEY_FILE", "WORKOS_JWKS_URL"} {
		t.Run(name, func(t *testing.T) {
			env := map[string]string{name: "set-by-the-operator"}
			err := run(t.Context(), []string{"-dev", "-addr", "127.0.0.1:0", "-metrics-addr", "off"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), name+" set") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v, want one line naming %s", err, name)
			}
			if strings.Contains(err.Error(), "set-by-the-operator") {
				t.Fatalf("error shows the value: %v", err)
			}
		})
	}
	if err := run(t.Context(), []string{"-dev-key-file", "/nonexistent", "-addr", "127.0.0.1:0", "-metrics-addr", "off"}, func(string) string { return "" }, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "-dev-key-file is only for -dev") {
		t.Fatalf("-dev-key-file without -dev: err = %v, want the flags named", err)
	}
}
