package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
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

// dropFirstListener closes the first connection it accepts, as a router restarting would.
type dropFirstListener struct {
	net.Listener
	dropped atomic.Bool
}

func (l *dropFirstListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil || l.dropped.Swap(true) {
			return c, err
		}
		_ = c.Close()
	}
}

// TestRotateCheckWaitsThroughRestart: with -wait, a router that cannot be reached for a moment
// (redeployed between the runbook's steps) is retried, not the end of the check.
func TestRotateCheckWaitsThroughRestart(t *testing.T) {
	dir := t.TempDir()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := rsakey.EncodePrivateKeyPEM(k)
	keyFile := filepath.Join(dir, "k.pem")
	if err := os.WriteFile(keyFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	pub, _ := rsakey.EncodePublicKeyPEM(&k.PublicKey)
	v, err := verifier.New(verifier.Config{PublicKeysPEM: string(pub), Issuer: "iss", Audience: "aud"})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	p, err := proxy.New(proxy.Config{}, v)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(p)
	srv.Listener = &dropFirstListener{Listener: srv.Listener}
	srv.Start()
	defer srv.Close()
	defer p.Shutdown(t.Context())
	var out bytes.Buffer
	if err := run(t.Context(), []string{"rotate-check", "-router", srv.URL, "-trusted", keyFile, "-iss", "iss", "-aud", "aud",
		"-wait", "30s"}, strings.NewReader(""), &out, &out); err != nil {
		t.Fatalf("rotate-check -wait through a restart: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "unreachable") || !strings.Contains(out.String(), " ok") {
		t.Fatalf("want one unreachable round, then ok:\n%s", out.String())
	}
}
