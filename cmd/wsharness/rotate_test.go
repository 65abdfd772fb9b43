package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qubital/office-router/internal/rsakey"
	"github.com/qubital/office-router/proxy"
	"github.com/qubital/office-router/verifier"
)

// TestRotateCheck runs rotate-check against a real Go proxy (in process, real HTTP and
// WebSockets) that trusts one key of two.
func TestRotateCheck(t *testing.T) {
	dir := t.TempDir()
	keyFile := func(name string) (string, *rsa.PrivateKey) {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := rsakey.EncodePrivateKeyPEM(k)
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p, k
	}
	live, liveKey := keyFile("live.pem")
	gone, _ := keyFile("gone.pem")
	pub, _ := rsakey.EncodePublicKeyPEM(&liveKey.PublicKey)
	v, err := verifier.New(verifier.Config{PublicKeysPEM: string(pub), Issuer: "iss", Audience: "aud"})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	p, err := proxy.New(proxy.Config{}, v)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()
	defer p.Shutdown(t.Context())

	tests := []struct {
		name             string
		trusted, retired string
		wantErr          error
		wantOut          string
	}{
		{"live trusted, gone retired", live, gone, nil, "ok"},
		{"gone still expected", gone, "", errFailed, "401 unknown_kid"},
		{"live expected refused", "", live, errFailed, "NOT YET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(t.Context(), []string{"rotate-check", "-router", srv.URL, "-trusted", tt.trusted, "-retired", tt.retired,
				"-iss", "iss", "-aud", "aud"}, strings.NewReader(""), &out, &out)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v\n%s", err, tt.wantErr, out.String())
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Fatalf("output lacks %q:\n%s", tt.wantOut, out.String())
			}
		})
	}
}
