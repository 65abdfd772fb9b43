package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/qubital/office-router/verifier"
)

// -h lists every variable the edge proxy reads: they are its real configuration.
func TestHelpListsEveryVariableRead(t *testing.T) {
	read := map[string]bool{"ALLOWED_ORIGINS": true, "TRUSTED_PROXIES": true} // read in run itself
	_, _ = verifier.ConfigFromEnv(func(k string) string { read[k] = true; return "" })
	var out bytes.Buffer
	if err := run(t.Context(), []string{"--help"}, func(string) string { return "" }, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	for k := range read {
		if !strings.Contains(out.String(), "\n  "+k+" ") {
			t.Errorf("-h does not list %s:\n%s", k, out.String())
		}
	}
}
