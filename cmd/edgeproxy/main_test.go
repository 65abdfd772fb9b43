package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qubital/office-router/internal/harness"
	"github.com/qubital/office-router/internal/rsakey"
	"github.com/qubital/office-router/internal/stack"
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

// TestSIGTERMWhileAHandshakeWaitsOnJWKS: SIGTERM with a handshake waiting on an unknown-kid
// fetch of a JWKS that hangs ends within moments and cleanly, not after -shutdown-grace with
// the grace exceeded (every socket then cut) because the fetch may take -jwks-timeout.
func TestSIGTERMWhileAHandshakeWaitsOnJWKS(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	var fetches atomic.Int64
	fetching := make(chan struct{})
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fetches.Add(1) == 1 {
			fmt.Fprintf(w, `{"keys":[%s]}`, mustJSON(rsakey.PublicJWK(&key.PublicKey)))
			return
		}
		close(fetching) // the unknown-kid fetch: hang
		<-r.Context().Done()
	}))
	defer jwks.Close()
	port, err := stack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"CONN_JWKS_URL": jwks.URL, "JWT_ISSUER": "iss", "JWT_AUDIENCE": "aud"}
	ctx, sigterm := context.WithCancel(t.Context())
	defer sigterm()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", fmt.Sprintf("127.0.0.1:%d", port), "-metrics-addr", "off", "-log-level", "error",
			"-jwks-timeout", "1m", "-shutdown-grace", "20s"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
	}()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	hctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := stack.WaitHealthy(hctx, base+"/healthz", nil); err != nil {
		t.Fatal(err)
	}
	forged, _ := rsa.GenerateKey(rand.Reader, 2048)
	now := time.Now()
	token := harness.Craft(forged, harness.RS256Header(forged), map[string]any{"iss": "iss", "aud": "aud", "sub": "u",
		"userId": "u", "orgId": "acme", "role": "member", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": "j1"})
	go func() { _, _ = harness.Dial(t.Context(), harness.OrgURL(base, "acme"), token, harness.InHeader, nil) }()
	<-fetching
	start := time.Now()
	sigterm()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("edgeproxy after SIGTERM: %v", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("shutdown took %v", d)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("edgeproxy still shutting down 15 s after SIGTERM: it waits for the JWKS fetch")
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
