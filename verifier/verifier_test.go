package verifier_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qubital/office-router/internal/rsakey"
	"github.com/qubital/office-router/verifier"
)

func genKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mint(t testing.TB, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": rsakey.Thumbprint(&key.PublicKey)})
	p, _ := json.Marshal(claims)
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	d := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func claimsAt(now time.Time) map[string]any {
	return map[string]any{"iss": "iss", "aud": "aud", "sub": "u1", "userId": "u1", "orgId": "o1",
		"role": "member", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": "j1"}
}

func pemOf(t testing.TB, keys ...*rsa.PrivateKey) string {
	t.Helper()
	var s string
	for _, k := range keys {
		b, err := rsakey.EncodePublicKeyPEM(&k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		s += string(b)
	}
	return s
}

func TestNewConfigErrors(t *testing.T) {
	key := genKey(t)
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	weakDER, _ := rsakey.EncodePublicKeyPEM(&weak.PublicKey)
	good := verifier.Config{PublicKeysPEM: pemOf(t, key), Issuer: "i", Audience: "a"}
	tests := []struct {
		name    string
		mutate  func(*verifier.Config)
		wantSub string
	}{
		{"no keys", func(c *verifier.Config) { c.PublicKeysPEM = "" }, "CONN_JWT_PUBLIC_KEY or CONN_JWKS_URL"},
		{"both key sources", func(c *verifier.Config) { c.JWKSURL = "http://x" }, "only one"},
		{"no issuer", func(c *verifier.Config) { c.Issuer = "" }, "JWT_ISSUER"},
		{"no audience", func(c *verifier.Config) { c.Audience = "" }, "JWT_AUDIENCE"},
		{"garbage PEM", func(c *verifier.Config) { c.PublicKeysPEM = "not a pem" }, "CONN_JWT_PUBLIC_KEY"},
		{"weak key", func(c *verifier.Config) { c.PublicKeysPEM = string(weakDER) }, "2048"},
		{"private key given", func(c *verifier.Config) {
			b, _ := rsakey.EncodePrivateKeyPEM(key)
			c.PublicKeysPEM = string(b)
		}, "PUBLIC KEY"},
		{"jwks not http", func(c *verifier.Config) { c.PublicKeysPEM = ""; c.JWKSURL = "file:///etc/passwd" }, "CONN_JWKS_URL"},
		{"fractional leeway", func(c *verifier.Config) { c.Leeway = 1500 * time.Millisecond }, "JWT_LEEWAY_SECONDS"},
		{"negative ttl", func(c *verifier.Config) { c.MaxTTL = -time.Second }, "JWT_MAX_TTL_SECONDS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.mutate(&cfg)
			_, err := verifier.New(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantSub) {
				t.Fatalf("err = %v, want mention of %q", err, tt.wantSub)
			}
			if strings.Contains(err.Error(), "BEGIN") {
				t.Fatalf("error leaks key material: %v", err)
			}
		})
	}
	if _, err := verifier.New(good); err != nil {
		t.Fatal(err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string
		wantErr    bool
		wantLeeway time.Duration
		wantTTL    time.Duration
	}{
		{"defaults", map[string]string{}, false, 0, 0},
		{"zero leeway means none", map[string]string{"JWT_LEEWAY_SECONDS": "0"}, false, verifier.NoLeeway, 0},
		{"values", map[string]string{"JWT_LEEWAY_SECONDS": "2", "JWT_MAX_TTL_SECONDS": "30"}, false, 2 * time.Second, 30 * time.Second},
		{"not a number", map[string]string{"JWT_LEEWAY_SECONDS": "five"}, true, 0, 0},
		{"negative", map[string]string{"JWT_MAX_TTL_SECONDS": "-1"}, true, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := verifier.ConfigFromEnv(func(k string) string { return tt.env[k] })
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err == nil && (cfg.Leeway != tt.wantLeeway || cfg.MaxTTL != tt.wantTTL) {
				t.Fatalf("leeway %v ttl %v", cfg.Leeway, cfg.MaxTTL)
			}
		})
	}
}

func TestNoLeeway(t *testing.T) {
	key := genKey(t)
	now := time.Unix(1_800_000_000, 0)
	v, err := verifier.New(verifier.Config{PublicKeysPEM: pemOf(t, key), Issuer: "iss", Audience: "aud", Leeway: verifier.NoLeeway},
		verifier.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	c := claimsAt(now)
	c["iat"] = now.Unix() + 1
	if _, err := v.Verify(t.Context(), mint(t, key, c)); !errors.Is(err, verifier.ErrIssuedInFuture) {
		t.Fatalf("err = %v, want issued_in_future with zero leeway", err)
	}
}

func TestReplayCache(t *testing.T) {
	c := verifier.NewReplayCache()
	now := time.Unix(1000, 0)
	if err := c.Use("a", now.Add(time.Minute), now); err != nil {
		t.Fatal(err)
	}
	if err := c.Use("a", now.Add(time.Minute), now.Add(30*time.Second)); !errors.Is(err, verifier.ErrReplayed) {
		t.Fatalf("second use: %v", err)
	}
	if err := c.Use("a", now.Add(3*time.Minute), now.Add(2*time.Minute)); err != nil {
		t.Fatalf("after expiry the jti is forgotten: %v", err)
	}
	for i := range 200 {
		_ = c.Use(string(rune('A'+i%26))+time.Duration(i).String(), now.Add(time.Second), now)
	}
	_ = c.Use("late", now.Add(time.Hour), now.Add(time.Minute))
	for i := range 64 {
		_ = c.Use("sweep"+time.Duration(i).String(), now.Add(time.Hour), now.Add(time.Minute))
	}
	if n := c.Len(); n > 70 {
		t.Fatalf("expired entries not swept: %d", n)
	}
}

// TestJWKS serves the keys from an httptest server, as the issuer's /.well-known/jwks.json does.
func TestJWKS(t *testing.T) {
	key, rotated := genKey(t), genKey(t)
	var serving atomic.Value
	serving.Store([]*rsa.PrivateKey{key})
	var hits atomic.Int32
	var down atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		var set struct {
			Keys []rsakey.JWK `json:"keys"`
		}
		for _, k := range serving.Load().([]*rsa.PrivateKey) {
			set.Keys = append(set.Keys, rsakey.PublicJWK(&k.PublicKey))
		}
		_ = json.NewEncoder(w).Encode(set)
	}))
	defer srv.Close()
	now := time.Now()
	v, err := verifier.New(verifier.Config{JWKSURL: srv.URL, Issuer: "iss", Audience: "aud", JWKSUnknownKIDInterval: time.Hour},
		verifier.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if _, err := v.Verify(t.Context(), mint(t, key, claimsAt(now))); err != nil {
		t.Fatalf("valid token: %v", err)
	}
	// A new key appears: the first unknown kid triggers one refresh.
	serving.Store([]*rsa.PrivateKey{key, rotated})
	if _, err := v.Verify(t.Context(), mint(t, rotated, claimsAt(now))); err != nil {
		t.Fatalf("rotated key after unknown-kid refresh: %v", err)
	}
	// Forged kids cannot cause a refresh storm: the limiter allows one refresh per interval.
	before := hits.Load()
	for range 20 {
		if _, err := v.Verify(t.Context(), mint(t, genKeyCached(t), claimsAt(now))); !errors.Is(err, verifier.ErrUnknownKID) {
			t.Fatalf("foreign key: %v", err)
		}
	}
	if d := hits.Load() - before; d > 1 {
		t.Fatalf("%d JWKS fetches for 20 unknown kids; want at most 1", d)
	}
	// The JWKS going down does not drop cached keys.
	down.Store(true)
	if _, err := v.Verify(t.Context(), mint(t, key, claimsAt(now))); err != nil {
		t.Fatalf("cached key while JWKS is down: %v", err)
	}
}

var cachedForeign *rsa.PrivateKey

func genKeyCached(t testing.TB) *rsa.PrivateKey {
	if cachedForeign == nil {
		cachedForeign = genKey(t)
	}
	return cachedForeign
}

func TestJWKSUnavailableAtStart(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nope", http.StatusInternalServerError)
	}))
	defer srv.Close()
	v, err := verifier.New(verifier.Config{JWKSURL: srv.URL, Issuer: "iss", Audience: "aud"})
	if err != nil {
		t.Fatalf("a JWKS that is down must not stop start-up: %v", err)
	}
	defer v.Close()
	key := genKey(t)
	_, err = v.Verify(context.Background(), mint(t, key, claimsAt(time.Now())))
	if !errors.Is(err, verifier.ErrKeysUnavailable) || verifier.Status(err) != http.StatusServiceUnavailable {
		t.Fatalf("err = %v (status %d), want keys_unavailable / 503", err, verifier.Status(err))
	}
}

// waitUntil polls cond until it holds or 10 s pass (JWKS refreshes happen in the background).
func waitUntil(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestJWKSGarbageRecoveryAndStaleness: a JWKS serving garbage leaves the verifier answering
// keys_unavailable; it recovers by itself once the JWKS is good, and refuses to trust cached
// keys once no refresh has succeeded for JWKSMaxStale.
func TestJWKSGarbageRecoveryAndStaleness(t *testing.T) {
	key := genKey(t)
	var good atomic.Bool
	var garbage atomic.Int64 // answers served while !good
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !good.Load() {
			garbage.Add(1)
			_, _ = w.Write([]byte(`{"keys": "this is not a key set"`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []rsakey.JWK{rsakey.PublicJWK(&key.PublicKey)}})
	}))
	defer srv.Close()
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	v, err := verifier.New(verifier.Config{JWKSURL: srv.URL, Issuer: "iss", Audience: "aud", JWKSRefreshInterval: 20 * time.Millisecond,
		JWKSMaxStale: time.Hour}, verifier.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if _, err := v.Verify(t.Context(), mint(t, key, claimsAt(time.Now()))); !errors.Is(err, verifier.ErrKeysUnavailable) {
		t.Fatalf("garbage JWKS: %v", err)
	}
	good.Store(true)
	waitUntil(t, func() bool {
		_, err := v.Verify(t.Context(), mint(t, key, claimsAt(clock())))
		return err == nil
	}, "recovery after the JWKS came back")
	good.Store(false)
	// Fetches run one at a time, so once two have been served garbage, any fetch that read
	// good == true has finished and recorded its success at the present time. Moving the clock
	// before that let such a fetch record success two hours on, and the keys looked fresh.
	seen := garbage.Load()
	waitUntil(t, func() bool { return garbage.Load() >= seen+2 }, "two garbage fetches after the JWKS broke")
	offset.Store(int64(2 * time.Hour))
	if _, err := v.Verify(t.Context(), mint(t, key, claimsAt(clock()))); !errors.Is(err, verifier.ErrKeysUnavailable) {
		t.Fatalf("stale keys still trusted: %v", err)
	}
}
