package issuer_test

import (
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qubital/office-router/internal/rsakey"
	"github.com/qubital/office-router/issuer"
)

// TestJWKSRotationSteps walks the runbook of docs/operations.md through the issuer's settings
// and checks what the JWKS publishes at each step: the next key before it signs, the
// previous key until it is removed, each key once.
func TestJWKSRotationSteps(t *testing.T) {
	keys := testKeys(t)
	pemOf := func(ks ...*rsa.PrivateKey) string {
		var b strings.Builder
		for _, k := range ks {
			p, err := rsakey.EncodePublicKeyPEM(&k.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(p)
		}
		return b.String()
	}
	privPEM := func(k *rsa.PrivateKey) string {
		p, err := rsakey.EncodePrivateKeyPEM(k)
		if err != nil {
			t.Fatal(err)
		}
		return string(p)
	}
	old, next := keys[0], keys[2]
	tests := []struct {
		name          string
		signing       *rsa.PrivateKey
		next, prev    string
		wantPublished []*rsa.PrivateKey
	}{
		{"before", old, "", "", []*rsa.PrivateKey{old}},
		{"1 publish the next key", old, pemOf(next), "", []*rsa.PrivateKey{old, next}},
		{"3 switch, old key previous", next, "", pemOf(old), []*rsa.PrivateKey{next, old}},
		{"3 switch, next list not yet emptied", next, pemOf(next), pemOf(old), []*rsa.PrivateKey{next, old}},
		{"4 old key removed", next, "", "", []*rsa.PrivateKey{next}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ti := newTestIssuer(t, func(c *issuer.Config) {
				c.PrivateKeyPEM, c.NextPublicKeysPEM, c.PreviousPublicKeysPEM = privPEM(tt.signing), tt.next, tt.prev
			})
			status, _, body := ti.do(t, http.MethodGet, "/.well-known/jwks.json", nil, nil)
			if status != http.StatusOK {
				t.Fatalf("status %d", status)
			}
			got := body["keys"].([]any)
			if len(got) != len(tt.wantPublished) {
				t.Fatalf("%d keys published, want %d: %v", len(got), len(tt.wantPublished), got)
			}
			for i, want := range tt.wantPublished {
				if kid := got[i].(map[string]any)["kid"]; kid != rsakey.Thumbprint(&want.PublicKey) {
					t.Fatalf("key %d: kid %v, want %s", i, kid, rsakey.Thumbprint(&want.PublicKey))
				}
			}
			if kid := rsakey.Thumbprint(ti.srv.Minter().PublicKey()); kid != rsakey.Thumbprint(&tt.signing.PublicKey) {
				t.Fatalf("signing with %s, want %s", kid, rsakey.Thumbprint(&tt.signing.PublicKey))
			}
		})
	}
}

func TestNextPublicKeysConfig(t *testing.T) {
	env := map[string]string{"JWT_NEXT_PUBLIC_KEYS": "pem"}
	if got := issuer.ConfigFromEnv(func(k string) string { return env[k] }).NextPublicKeysPEM; got != "pem" {
		t.Fatalf("JWT_NEXT_PUBLIC_KEYS read as %q", got)
	}
	idp := newFakeWorkOS(t)
	for _, bad := range []string{"nope", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"} {
		cfg := baseConfig(t, idp)
		cfg.NextPublicKeysPEM = bad
		_, err := issuer.New(cfg)
		if err == nil || !strings.Contains(err.Error(), "JWT_NEXT_PUBLIC_KEYS") || strings.Contains(err.Error(), "AAAA") {
			t.Fatalf("err = %v, want one naming JWT_NEXT_PUBLIC_KEYS without its value", err)
		}
	}
}

// TestWorkOSKeyRotation: when WorkOS starts signing with a key the issuer has not fetched yet,
// the first caller waits for one JWKS fetch and is served (keyfunc's 1 ms wait refused them);
// forged kids after it cost no further fetch within the 30 s budget.
func TestWorkOSKeyRotation(t *testing.T) {
	oldKey, newKey, forged := testKeys(t)[1], testKeys(t)[2], testKeys(t)[0]
	var serving atomic.Pointer[rsa.PrivateKey]
	serving.Store(oldKey)
	var fetches atomic.Int64
	const latency = 20 * time.Millisecond // a real IdP is an internet round trip away
	workos := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		time.Sleep(latency)
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []rsakey.JWK{rsakey.PublicJWK(&serving.Load().PublicKey)}})
	}))
	defer workos.Close()
	ti := newTestIssuer(t, func(c *issuer.Config) { c.WorkOSJWKSURL = workos.URL })
	tokenBy := func(k *rsa.PrivateKey) string {
		ti.idp.key = k
		return ti.idp.userToken(t)
	}
	if status, _, body := ti.do(t, "POST", "/api/v1/cloudflare/request-access", nil, bearerHdr(tokenBy(oldKey))); status != 200 {
		t.Fatalf("before the rotation: %d %v", status, body)
	}
	serving.Store(newKey)
	before := fetches.Load()
	if status, _, body := ti.do(t, "POST", "/api/v1/cloudflare/request-access", nil, bearerHdr(tokenBy(newKey))); status != 200 {
		t.Fatalf("first caller after WorkOS rotated: %d %v", status, body)
	}
	for range 10 {
		if status, _, body := ti.do(t, "POST", "/api/v1/cloudflare/request-access", nil, bearerHdr(tokenBy(forged))); status != 401 {
			t.Fatalf("forged kid: %d %v", status, body)
		}
	}
	if d := fetches.Load() - before; d != 1 {
		t.Fatalf("%d WorkOS JWKS fetches for one rotation and 10 forged kids; want 1", d)
	}
}

// TestWorkOSDownAtStart: WorkOS unreachable when the issuer starts must not refuse callers
// until the next periodic fetch (10 min) once it is back: the first caller, or /readyz, waits
// for one rate-limited fetch instead.
func TestWorkOSDownAtStart(t *testing.T) {
	key := testKeys(t)[1]
	for _, first := range []string{"/readyz", "/api/v1/cloudflare/request-access"} {
		t.Run(first, func(t *testing.T) {
			var up atomic.Bool
			workos := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if !up.Load() {
					http.Error(w, "down", http.StatusBadGateway)
					return
				}
				_ = json.NewEncoder(w).Encode(map[string]any{"keys": []rsakey.JWK{rsakey.PublicJWK(&key.PublicKey)}})
			}))
			defer workos.Close()
			ti := newTestIssuer(t, func(c *issuer.Config) { c.WorkOSJWKSURL = workos.URL })
			ti.idp.key = key
			up.Store(true)
			for _, path := range []string{first, "/readyz", "/api/v1/cloudflare/request-access"} {
				method, hdr := "GET", map[string]string(nil)
				if path != "/readyz" {
					method, hdr = "POST", bearerHdr(ti.idp.userToken(t))
				}
				if status, _, body := ti.do(t, method, path, nil, hdr); status != 200 {
					t.Fatalf("%s once WorkOS is back: %d %v", path, status, body)
				}
			}
		})
	}
}
