package harness

import (
	"crypto/rand"
	"crypto/rsa"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/qubital/office-router/internal/rsakey"
	"github.com/qubital/office-router/proxy"
	"github.com/qubital/office-router/verifier"
)

// TestLoadAgainstProxy: the load test opens every connection and counts every delivery.
func TestLoadAgainstProxy(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := rsakey.EncodePublicKeyPEM(&key.PublicKey)
	v, err := verifier.New(verifier.Config{PublicKeysPEM: string(pub), Issuer: "iss", Audience: "aud"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := proxy.New(proxy.Config{MaxConnsPerOrg: 1 << 20, MessagesPerSecond: 1e9, MessageBurst: 1 << 30, FailureBurst: 1 << 30}, v, proxy.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()
	defer p.Shutdown(t.Context())
	// Correctness sizes only. Each join is announced to every member before the 101, so one org
	// of n members costs O(n²) frames; at 1,000 members under -race on a shared 2-core machine
	// that measured ~11 handshakes/s, i.e. the race detector's throughput, not the harness's
	// correctness. The 1,000-client fan-out is measured where figures belong: cmd/bench, which
	// CI runs in -short mode without -race.
	for _, tc := range []struct{ conns, orgs, messages int }{{50, 2, 5}, {300, 1, 10}, {600, 4, 10}} {
		res, err := Load(t.Context(), LoadConfig{Router: srv.URL, Key: key, IssuerClaims: map[string]any{"iss": "iss", "aud": "aud"},
			Conns: tc.conns, Orgs: tc.orgs, Messages: tc.messages})
		if err != nil {
			t.Fatal(err)
		}
		if res.Opened != tc.conns || res.Deliveries != res.Expected || len(res.Errors) > 0 {
			t.Fatalf("%+v", res)
		}
	}
}
