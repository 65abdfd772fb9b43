package issuer_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/qubital/office-router/internal/rsakey"
	"github.com/qubital/office-router/issuer"
)

// TestDevRefusesProductionSettings: -dev never runs next to a production key or identity
// provider, names the variable in one line, and announces itself (issue 13, item 8).
func TestDevRefusesProductionSettings(t *testing.T) {
	keyPEM, _ := rsakey.EncodePrivateKeyPEM(testKeys(t)[0])
	dev := func(c *issuer.Config) { *c = issuer.Config{Dev: true} }
	for _, tt := range []struct {
		name    string
		mutate  func(*issuer.Config)
		wantSub string // "" means New succeeds
	}{
		{"JWT_PRIVATE_KEY", func(c *issuer.Config) { dev(c); c.PrivateKeyPEM = string(keyPEM) }, "JWT_PRIVATE_KEY set"},
		{"JWT_PRIVATE_KEY_FILE", func(c *issuer.Config) { dev(c); c.PrivateKeyFile = "/etc/prod.pem" }, "JWT_PRIVATE_KEY_FILE set"},
		{"WORKOS_JWKS_URL", func(c *issuer.Config) { dev(c); c.WorkOSJWKSURL = "https://api.workos.com/sso/jwks/x" }, "WORKOS_JWKS_URL set"},
		// The Realtime secret signs tokens too: /dev/session + /api/v1/realtime/token would mint
		// production-valid Supabase tokens for any user.
		{"SUPABASE_JWT_SECRET", func(c *issuer.Config) { dev(c); c.SupabaseJWTSecret = strings.Repeat("s", 40) }, "SUPABASE_JWT_SECRET set"},
		{"dev key without dev", func(c *issuer.Config) {
			*c = baseConfig(t, newFakeWorkOS(t))
			c.DevPrivateKeyPEM = string(keyPEM)
		}, "DevPrivateKeyPEM"},
		{"dev key", func(c *issuer.Config) { dev(c); c.DevPrivateKeyPEM = string(keyPEM) }, ""},
		{"generated key", dev, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var cfg issuer.Config
			tt.mutate(&cfg)
			var logs bytes.Buffer
			s, err := issuer.New(cfg, issuer.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			if tt.wantSub != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantSub) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err = %v, want one line naming %s", err, tt.wantSub)
				}
				if strings.Contains(err.Error(), "BEGIN") || strings.Contains(err.Error(), "/etc/prod.pem") {
					t.Fatalf("error leaks a value: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "DEV MODE") {
				t.Fatalf("no dev-mode warning logged: %q", logs.String())
			}
			if cfg.DevPrivateKeyPEM != "" && s.Minter().KeyID() != rsakey.Thumbprint(&testKeys(t)[0].PublicKey) {
				t.Fatal("-dev-key-file key not used")
			}
		})
	}
}

// TestWorkOSIssuerAndClientID: outside -dev WORKOS_ISSUER is required, and WORKOS_CLIENT_ID,
// when set, must match the token's aud or client_id where the token has them (issue 13, item 11).
func TestWorkOSIssuerAndClientID(t *testing.T) {
	cfg := baseConfig(t, newFakeWorkOS(t))
	cfg.WorkOSIssuer = ""
	if _, err := issuer.New(cfg); err == nil || !strings.Contains(err.Error(), "WORKOS_ISSUER") {
		t.Fatalf("no WORKOS_ISSUER: %v", err)
	}

	ti := newTestIssuer(t, func(c *issuer.Config) { c.WorkOSClientID = "client_ours" })
	now := time.Now().Unix()
	claims := func(extra jwt.MapClaims) jwt.MapClaims {
		c := jwt.MapClaims{"iss": "https://api.workos.com", "sub": "user_01H", "org_id": "org_01H", "iat": now, "exp": now + 300}
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	for _, tt := range []struct {
		name  string
		extra jwt.MapClaims
		want  int
	}{
		{"neither claim", nil, 200},
		{"client_id ours", jwt.MapClaims{"client_id": "client_ours"}, 200},
		{"aud ours", jwt.MapClaims{"aud": "client_ours"}, 200},
		{"aud list with ours", jwt.MapClaims{"aud": []string{"other", "client_ours"}}, 200},
		{"client_id theirs", jwt.MapClaims{"client_id": "client_theirs"}, 401},
		{"aud theirs", jwt.MapClaims{"aud": "client_theirs"}, 401},
		{"aud ours, client_id theirs", jwt.MapClaims{"aud": "client_ours", "client_id": "client_theirs"}, 401},
		{"wrong iss", jwt.MapClaims{"iss": "https://evil.example"}, 401},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := ti.do(t, "POST", "/api/v1/cloudflare/request-access", nil, bearerHdr(ti.idp.token(t, claims(tt.extra))))
			if status != tt.want {
				t.Fatalf("%d %v, want %d", status, body, tt.want)
			}
		})
	}
}

// TestMintRateLimit: one user gets MintBurst tokens at once across request-access and
// realtime/token, then 429 rate_limited with Retry-After; other users are not affected; the
// budget refills with time (issue 13, item 9).
func TestMintRateLimit(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	ti := newTestIssuer(t, func(c *issuer.Config) { c.MintsPerSecond, c.MintBurst = 0.5, 3 },
		issuer.WithClock(func() time.Time { return time.Unix(0, now.Load()) }))
	alice := ti.idp.userToken(t)
	bob := ti.idp.token(t, jwt.MapClaims{"iss": "https://api.workos.com", "sub": "user_bob", "org_id": "org_01H",
		"iat": time.Now().Unix(), "exp": time.Now().Unix() + 300})
	for i, path := range []string{"/api/v1/cloudflare/request-access", "/api/v1/realtime/token", "/api/v1/cloudflare/request-access"} {
		if status, _, body := ti.do(t, "POST", path, nil, bearerHdr(alice)); status != 200 {
			t.Fatalf("mint %d: %d %v", i, status, body)
		}
	}
	for _, path := range []string{"/api/v1/cloudflare/request-access", "/api/v1/realtime/token"} {
		status, h, body := ti.do(t, "POST", path, nil, bearerHdr(alice))
		if status != 429 || body["error"] != "rate_limited" || h.Get("Retry-After") != "2" {
			t.Fatalf("%s over the burst: %d %v Retry-After %q", path, status, body, h.Get("Retry-After"))
		}
	}
	if status, _, _ := ti.do(t, "POST", "/api/v1/cloudflare/request-access", nil, bearerHdr(bob)); status != 200 {
		t.Fatalf("another user: %d", status)
	}
	now.Add(int64(2 * time.Second))
	if status, _, _ := ti.do(t, "POST", "/api/v1/cloudflare/request-access", nil, bearerHdr(alice)); status != 200 {
		t.Fatalf("after the refill: %d", status)
	}
}
