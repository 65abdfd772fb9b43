package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/qubital/office-router/issuer"
)

// -h lists every variable the issuer reads: they are its real configuration.
func TestHelpListsEveryVariableRead(t *testing.T) {
	read := map[string]bool{}
	issuer.ConfigFromEnv(func(k string) string { read[k] = true; return "" })
	if len(read) < 10 {
		t.Fatalf("recorded only %v", read)
	}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"-h"}, func(string) string { return "" }, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	for k := range read {
		if !strings.Contains(out.String(), "\n  "+k+" ") {
			t.Errorf("-h does not list %s:\n%s", k, out.String())
		}
	}
}

// Every missing variable at once, under one run, not one per restart.
func TestEveryMissingVariableAtOnce(t *testing.T) {
	err := run(t.Context(), nil, func(string) string { return "" }, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil {
		t.Fatal("started with no configuration")
	}
	for _, want := range []string{"JWT_PRIVATE_KEY", "JWT_ISSUER", "JWT_AUDIENCE", "WEBSOCKET_BASE_URL", "WORKOS_JWKS_URL", "WORKOS_ISSUER"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
}
