package issuer_test

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"crypto/x509"
	"encoding/pem"

	"github.com/golang-jwt/jwt/v5"

	"github.com/qubital/office-router/internal/rsakey"
	"github.com/qubital/office-router/issuer"
	"github.com/qubital/office-router/verifier"
)

func TestRequestAccessClaimsAndHeader(t *testing.T) {
	ti := newTestIssuer(t, nil)
	before := time.Now().Unix()
	status, _, body := ti.do(t, http.MethodPost, "/api/v1/cloudflare/request-access", nil, bearerHdr(ti.idp.userToken(t)))
	if status != http.StatusOK {
		t.Fatalf("status %d body %v", status, body)
	}
	tok := body["token"].(string)
	if got := body["url"]; got != "wss://router.test/orgs/org_01H/ws" {
		t.Fatalf("url = %v", got)
	}
	parts := strings.Split(tok, ".")
	var hdr map[string]any
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	_ = json.Unmarshal(hb, &hdr)
	if hdr["alg"] != "RS256" || hdr["typ"] != "JWT" || hdr["kid"] != rsakey.Thumbprint(&ti.signer.PublicKey) {
		t.Fatalf("header %v", hdr)
	}
	var c map[string]any
	pb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	_ = json.Unmarshal(pb, &c)
	iat := int64(c["iat"].(float64))
	checks := []struct {
		claim string
		ok    bool
	}{
		{"iss", c["iss"] == "https://issuer.test"},
		{"aud is a string", c["aud"] == "office-router"},
		{"sub", c["sub"] == "user_01H"},
		{"userId", c["userId"] == "user_01H"},
		{"orgId", c["orgId"] == "org_01H"},
		{"role", c["role"] == "admin"},
		{"iat now", iat >= before && iat <= time.Now().Unix()},
		{"nbf = iat", int64(c["nbf"].(float64)) == iat},
		{"exp = iat + 60", int64(c["exp"].(float64)) == iat+60},
		{"expiresAt = exp", int64(body["expiresAt"].(float64)) == iat+60},
		{"jti 128 bits hex", len(c["jti"].(string)) == 32},
		{"no scope", c["scope"] == nil},
	}
	for _, ch := range checks {
		if !ch.ok {
			t.Errorf("claim check failed: %s (claims %v)", ch.claim, c)
		}
	}
	if _, again, _ := ti.do(t, http.MethodPost, "/api/v1/cloudflare/request-access", nil, bearerHdr(ti.idp.userToken(t))); again == nil {
		t.Fatal("no headers")
	}
}

// TestIssuedTokenVerifiesWithJWKS: a router configured with only the issuer's JWKS URL accepts
// the token, with the verifier package the Go proxy uses.
func TestIssuedTokenVerifiesWithJWKS(t *testing.T) {
	ti := newTestIssuer(t, nil)
	_, _, body := ti.do(t, http.MethodPost, "/api/v1/cloudflare/request-access", nil, bearerHdr(ti.idp.userToken(t)))
	v, err := verifier.New(verifier.Config{JWKSURL: ti.http.URL + "/.well-known/jwks.json", Issuer: "https://issuer.test", Audience: "office-router"})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	id, err := v.Verify(t.Context(), body["token"].(string))
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if id.UserID != "user_01H" || id.OrgID != "org_01H" || id.Role != "admin" {
		t.Fatalf("identity %+v", id)
	}
}

func TestJWKSPublishesPreviousKeys(t *testing.T) {
	prev, _ := rsakey.EncodePublicKeyPEM(&testKeys(t)[2].PublicKey)
	ti := newTestIssuer(t, func(c *issuer.Config) { c.PreviousPublicKeysPEM = string(prev) })
	status, hdr, body := ti.do(t, http.MethodGet, "/.well-known/jwks.json", nil, nil)
	if status != 200 || !strings.Contains(hdr.Get("Cache-Control"), "max-age") {
		t.Fatalf("status %d cache %q", status, hdr.Get("Cache-Control"))
	}
	keys := body["keys"].([]any)
	if len(keys) != 2 {
		t.Fatalf("%d keys, want current + previous", len(keys))
	}
	for i, want := range []*rsa.PublicKey{&testKeys(t)[0].PublicKey, &testKeys(t)[2].PublicKey} {
		k := keys[i].(map[string]any)
		if k["kid"] != rsakey.Thumbprint(want) || k["alg"] != "RS256" || k["use"] != "sig" || k["kty"] != "RSA" {
			t.Fatalf("key %d: %v", i, k)
		}
		if _, ok := k["d"]; ok {
			t.Fatal("private exponent published")
		}
	}
}

func TestRequestAccessErrors(t *testing.T) {
	ti := newTestIssuer(t, nil)
	now := time.Now().Unix()
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "u", "org_id": "o", "exp": now + 60})
	pubPEM, _ := rsakey.EncodePublicKeyPEM(&ti.idp.key.PublicKey)
	confused, _ := hs.SignedString(pubPEM)
	tests := []struct {
		name       string
		hdr        map[string]string
		wantStatus int
		wantCode   string
	}{
		{"no token", nil, 401, "missing_token"},
		{"basic auth", map[string]string{"Authorization": "Basic dTpw"}, 401, "invalid_token"},
		{"garbage", bearerHdr("abc.def.ghi"), 401, "invalid_token"},
		{"expired", bearerHdr(ti.idp.token(t, jwt.MapClaims{"iss": "https://api.workos.com", "sub": "u", "org_id": "o", "iat": now - 600, "exp": now - 300})), 401, "token_expired"},
		{"no exp", bearerHdr(ti.idp.token(t, jwt.MapClaims{"iss": "https://api.workos.com", "sub": "u", "org_id": "o"})), 401, "invalid_token"},
		{"wrong issuer", bearerHdr(ti.idp.token(t, jwt.MapClaims{"iss": "https://evil", "sub": "u", "org_id": "o", "exp": now + 60})), 401, "invalid_token"},
		{"no org", bearerHdr(ti.idp.token(t, jwt.MapClaims{"iss": "https://api.workos.com", "sub": "u", "exp": now + 60})), 403, "no_organization"},
		{"bad org format", bearerHdr(ti.idp.token(t, jwt.MapClaims{"iss": "https://api.workos.com", "sub": "u", "org_id": "org/../x", "exp": now + 60})), 403, "invalid_identity"},
		{"HS256 keyed with the public key", bearerHdr(confused), 401, "invalid_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, body := ti.do(t, http.MethodPost, "/api/v1/cloudflare/request-access", nil, tt.hdr)
			if status != tt.wantStatus || body["error"] != tt.wantCode {
				t.Fatalf("got %d %v, want %d %s", status, body, tt.wantStatus, tt.wantCode)
			}
			if hdr.Get("Content-Type") != "application/json" {
				t.Fatalf("content type %q", hdr.Get("Content-Type"))
			}
		})
	}
}

func TestServiceErrors(t *testing.T) {
	ti := newTestIssuer(t, nil)
	tests := []struct {
		name, method, path string
		body               string
		hdr                map[string]string
		wantStatus         int
		wantCode           string
	}{
		{"unknown route", "GET", "/nope", "", nil, 404, "not_found"},
		{"wrong method", "GET", "/api/v1/cloudflare/request-access", "", nil, 405, "method_not_allowed"},
		{"oversized body", "POST", "/api/v1/cloudflare/request-access", strings.Repeat("x", 70<<10), bearerHdr(ti.idp.userToken(t)), 413, "body_too_large"},
		{"dev route absent outside dev", "POST", "/dev/session", `{}`, nil, 404, "not_found"},
		{"preflight from unknown origin", "OPTIONS", "/api/v1/cloudflare/request-access", "", map[string]string{"Origin": "https://evil.test", "Access-Control-Request-Method": "POST"}, 403, "origin_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, body := ti.do(t, tt.method, tt.path, strings.NewReader(tt.body), tt.hdr)
			if status != tt.wantStatus || body["error"] != tt.wantCode {
				t.Fatalf("got %d %v", status, body)
			}
			if hdr.Get("Access-Control-Allow-Origin") != "" {
				t.Fatal("CORS header for a disallowed origin")
			}
		})
	}
	if _, hdr, _ := ti.do(t, "GET", "/api/v1/realtime/token", nil, nil); hdr.Get("Allow") != "POST" {
		t.Fatalf("Allow = %q", hdr.Get("Allow"))
	}
}

func TestCORS(t *testing.T) {
	ti := newTestIssuer(t, nil)
	status, hdr, _ := ti.do(t, "OPTIONS", "/api/v1/cloudflare/request-access", nil, map[string]string{"Origin": "https://app.test", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"})
	if status != http.StatusNoContent || hdr.Get("Access-Control-Allow-Origin") != "https://app.test" ||
		!strings.Contains(hdr.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("preflight: %d %v", status, hdr)
	}
	status, hdr, _ = ti.do(t, "POST", "/api/v1/cloudflare/request-access", nil, map[string]string{"Origin": "https://app.test", "Authorization": "Bearer " + ti.idp.userToken(t)})
	if status != 200 || hdr.Get("Access-Control-Allow-Origin") != "https://app.test" || !strings.Contains(hdr.Get("Vary"), "Origin") {
		t.Fatalf("actual request: %d %v", status, hdr)
	}
}

func TestRealtimeToken(t *testing.T) {
	secret := strings.Repeat("k", 40)
	ti := newTestIssuer(t, func(c *issuer.Config) { c.SupabaseJWTSecret = secret })
	status, _, body := ti.do(t, "POST", "/api/v1/realtime/token", nil, bearerHdr(ti.idp.userToken(t)))
	if status != 200 {
		t.Fatalf("%d %v", status, body)
	}
	var c jwt.MapClaims
	tok, err := jwt.ParseWithClaims(body["token"].(string), &c, func(*jwt.Token) (any, error) { return []byte(secret), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer("qubital-backend"), jwt.WithAudience("authenticated"), jwt.WithIssuedAt(), jwt.WithExpirationRequired())
	if err != nil || !tok.Valid {
		t.Fatalf("parse: %v", err)
	}
	iat, _ := c["iat"].(float64)
	exp, _ := c["exp"].(float64)
	if c["role"] != "authenticated" || c["sub"] != "user_01H" || exp-iat != 3600 || int64(body["expiresAt"].(float64)) != int64(exp) {
		t.Fatalf("claims %v", c)
	}

	off := newTestIssuer(t, func(c *issuer.Config) { c.SupabaseJWTSecret = "" })
	if status, _, body := off.do(t, "POST", "/api/v1/realtime/token", nil, bearerHdr(off.idp.userToken(t))); status != 503 || body["error"] != "realtime_not_configured" {
		t.Fatalf("unconfigured realtime: %d %v", status, body)
	}
}

func TestConfigErrors(t *testing.T) {
	idp := newFakeWorkOS(t)
	weak, _ := rsa.GenerateKey(nilReader{}, 1024)
	weakPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(weak)})
	tests := []struct {
		name    string
		mutate  func(*issuer.Config)
		wantSub string
	}{
		{"no key", func(c *issuer.Config) { c.PrivateKeyPEM = "" }, "JWT_PRIVATE_KEY"},
		{"both key settings", func(c *issuer.Config) { c.PrivateKeyFile = "/x" }, "only one"},
		{"bad key", func(c *issuer.Config) {
			c.PrivateKeyPEM = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
		}, "JWT_PRIVATE_KEY"},
		{"weak key", func(c *issuer.Config) { c.PrivateKeyPEM = string(weakPEM) }, "2048"},
		{"missing key file", func(c *issuer.Config) { c.PrivateKeyPEM = ""; c.PrivateKeyFile = "/does/not/exist" }, "JWT_PRIVATE_KEY_FILE"},
		{"no issuer", func(c *issuer.Config) { c.Issuer = "" }, "JWT_ISSUER"},
		{"no audience", func(c *issuer.Config) { c.Audience = "" }, "JWT_AUDIENCE"},
		{"no ws base", func(c *issuer.Config) { c.WebSocketBaseURL = "" }, "WEBSOCKET_BASE_URL"},
		{"http ws base", func(c *issuer.Config) { c.WebSocketBaseURL = "https://x" }, "WEBSOCKET_BASE_URL"},
		{"no workos", func(c *issuer.Config) { c.WorkOSJWKSURL = "" }, "WORKOS_JWKS_URL"},
		{"short supabase secret", func(c *issuer.Config) { c.SupabaseJWTSecret = "short-secret" }, "SUPABASE_JWT_SECRET"},
		{"bad origin", func(c *issuer.Config) { c.AllowedOrigins = []string{"app.test"} }, "ALLOWED_ORIGINS"},
		{"previous keys garbage", func(c *issuer.Config) { c.PreviousPublicKeysPEM = "nope" }, "JWT_PREVIOUS_PUBLIC_KEYS"},
		{"dev with workos", func(c *issuer.Config) { c.Dev = true; c.PrivateKeyPEM = "" }, "WORKOS_JWKS_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseConfig(t, idp)
			tt.mutate(&cfg)
			_, err := issuer.New(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantSub) {
				t.Fatalf("err = %v, want mention of %s", err, tt.wantSub)
			}
			for _, secret := range []string{"BEGIN", "short-secret", "AAAA"} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error leaks a secret: %v", err)
				}
			}
		})
	}
}

// nilReader makes rsa.GenerateKey fall back to crypto/rand (Go ignores custom readers).
type nilReader struct{}

func (nilReader) Read(p []byte) (int, error) { return len(p), nil }

func TestKeyFormats(t *testing.T) {
	idp := newFakeWorkOS(t)
	key := testKeys(t)[0]
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	file := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(file, pkcs1, 0o600); err != nil {
		t.Fatal(err)
	}
	oneLine := strings.ReplaceAll(string(pkcs1), "\n", `\n`)
	for name, mutate := range map[string]func(*issuer.Config){
		"pkcs1":          func(c *issuer.Config) { c.PrivateKeyPEM = string(pkcs1) },
		"pkcs1 one line": func(c *issuer.Config) { c.PrivateKeyPEM = oneLine },
		"file":           func(c *issuer.Config) { c.PrivateKeyPEM = ""; c.PrivateKeyFile = file },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := baseConfig(t, idp)
			mutate(&cfg)
			s, err := issuer.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Minter().KeyID() != rsakey.Thumbprint(&key.PublicKey) {
				t.Fatal("wrong key loaded")
			}
		})
	}
}

func TestDevMode(t *testing.T) {
	s, err := issuer.New(issuer.Config{Dev: true, AllowedOrigins: []string{"http://127.0.0.1:8080"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hs := httptest.NewServer(s)
	defer hs.Close()
	ti := &testIssuer{srv: s, http: hs}
	status, _, body := ti.do(t, "POST", "/dev/session", strings.NewReader(`{"userId":"alice","orgId":"acme","role":"member"}`), nil)
	if status != 200 {
		t.Fatalf("dev session: %d %v", status, body)
	}
	status, _, access := ti.do(t, "POST", "/api/v1/cloudflare/request-access", nil, bearerHdr(body["accessToken"].(string)))
	if status != 200 || access["url"] != "ws://127.0.0.1:8787/orgs/acme/ws" {
		t.Fatalf("request-access in dev: %d %v", status, access)
	}
	v, err := verifier.New(verifier.Config{PublicKeysPEM: string(s.PublicKeyPEM()), Issuer: issuer.DevIssuer, Audience: issuer.DevAudience})
	if err != nil {
		t.Fatal(err)
	}
	if id, err := v.Verify(context.Background(), access["token"].(string)); err != nil || id.UserID != "alice" {
		t.Fatalf("dev token does not verify with the dev public key: %v", err)
	}
	if status, _, _ := ti.do(t, "POST", "/api/v1/realtime/token", nil, bearerHdr(body["accessToken"].(string))); status != 200 {
		t.Fatalf("dev realtime: %d", status)
	}
	for _, bad := range []string{`{"userId":"a/b","orgId":"acme"}`, `not json`, `{"userId":"a","orgId":"b","extra":1}`, `{"userId":"a","orgId":"b","role":"Admin"}`} {
		if status, _, body := ti.do(t, "POST", "/dev/session", strings.NewReader(bad), nil); status != 400 || body["error"] != "bad_request" {
			t.Fatalf("%s: %d %v", bad, status, body)
		}
	}
}

func TestIdPUnavailable(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "x", 502) }))
	defer down.Close()
	ti := newTestIssuer(t, func(c *issuer.Config) { c.WorkOSJWKSURL = down.URL })
	if status, _, body := ti.do(t, "POST", "/api/v1/cloudflare/request-access", nil, bearerHdr(ti.idp.userToken(t))); status != 503 || body["error"] != "identity_provider_unavailable" {
		t.Fatalf("%d %v", status, body)
	}
	if status, _, _ := ti.do(t, "GET", "/readyz", nil, nil); status != 503 {
		t.Fatalf("readyz %d", status)
	}
	if status, _, _ := ti.do(t, "GET", "/healthz", nil, nil); status != 200 {
		t.Fatalf("healthz %d", status)
	}
}

func TestMetricsAndNoTokensInLogs(t *testing.T) {
	ti := newTestIssuer(t, nil)
	access := ti.idp.userToken(t)
	_, _, body := ti.do(t, "POST", "/api/v1/cloudflare/request-access", nil, bearerHdr(access))
	ti.do(t, "POST", "/api/v1/cloudflare/request-access", nil, bearerHdr("x.y.z"))
	ti.do(t, "POST", "/api/v1/realtime/token", nil, bearerHdr(access))
	// Metrics are never on the public listener (issue 13, item 3).
	if status, _, _ := ti.do(t, "GET", "/metrics", nil, nil); status != http.StatusNotFound {
		t.Fatalf("public /metrics answered %d, want 404", status)
	}
	private := httptest.NewServer(ti.srv.MetricsHandler())
	t.Cleanup(private.Close)
	req, _ := http.NewRequestWithContext(t.Context(), "GET", private.URL+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := new(strings.Builder)
	_, _ = bufCopy(buf, resp)
	m := buf.String()
	for _, want := range []string{`issuer_tokens_minted_total{kind="handshake"} 1`, `issuer_tokens_minted_total{kind="realtime"} 1`,
		`issuer_auth_failures_total{reason="invalid_token"} 1`, `issuer_request_duration_seconds_bucket{route="/api/v1/cloudflare/request-access"`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	logMu.Lock()
	logs := ti.logs.String()
	logMu.Unlock()
	if logs == "" {
		t.Fatal("no logs captured")
	}
	for _, secret := range []string{access, body["token"].(string), strings.Split(access, ".")[2]} {
		if strings.Contains(logs, secret) {
			t.Fatal("a token appears in the logs")
		}
	}
}

func TestPublisher(t *testing.T) {
	key := testKeys(t)[0]
	m, err := issuer.NewMinter(key, "iss", "aud", nil)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, _ := rsakey.EncodePublicKeyPEM(&key.PublicKey)
	v, _ := verifier.New(verifier.Config{PublicKeysPEM: string(pubPEM), Issuer: "iss", Audience: "aud"})
	router := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		id, err := v.VerifyPublish(r.Context(), tok)
		if err != nil || r.URL.Path != "/orgs/acme/publish" || id.OrgID != "acme" {
			w.WriteHeader(401)
			_, _ = w.Write([]byte(`{"error":"` + verifier.Reason(err) + `"}`))
			return
		}
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		if body["to"] != "alice" || body["data"].(map[string]any)["n"] != 1.0 {
			w.WriteHeader(400)
			return
		}
		_, _ = w.Write([]byte(`{"delivered":2}`))
	}))
	defer router.Close()
	p, err := issuer.NewPublisher(m, router.URL, "backend", nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := p.Publish(t.Context(), "acme", "alice", map[string]int{"n": 1})
	if err != nil || n != 2 {
		t.Fatalf("publish: %d %v", n, err)
	}
	_, err = p.Publish(t.Context(), "other", "alice", map[string]int{"n": 1})
	var pe *issuer.PublishError
	if !errors.As(err, &pe) || pe.Status != 401 {
		t.Fatalf("err = %v", err)
	}
	if _, err := issuer.NewPublisher(m, "ftp://x", "backend", nil); err == nil {
		t.Fatal("non-http router URL accepted")
	}
	if _, err := m.MintHandshake(issuer.Identity{UserID: "u", OrgID: "o", Role: "Bad Role"}); !errors.Is(err, issuer.ErrInvalidIdentity) {
		t.Fatalf("bad role minted: %v", err)
	}
}

// TestIdPRecoversAndBoundsStaleness: WorkOS serving garbage → 503 until it serves keys again;
// cached keys stop being trusted once no refresh has succeeded for WorkOSMaxStale.
func TestIdPRecoversAndBoundsStaleness(t *testing.T) {
	var good atomic.Bool
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	idpKey := testKeys(t)[1]
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !good.Load() {
			_, _ = w.Write([]byte("<html>maintenance</html>"))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []rsakey.JWK{rsakey.PublicJWK(&idpKey.PublicKey)}})
	}))
	defer flaky.Close()
	ti := newTestIssuer(t, func(c *issuer.Config) {
		c.WorkOSJWKSURL = flaky.URL
		c.WorkOSRefreshInterval = 20 * time.Millisecond
		c.WorkOSMaxStale = time.Hour
	}, issuer.WithClock(clock))
	access := ti.idp.userToken(t)
	if status, _, body := ti.do(t, "POST", "/api/v1/cloudflare/request-access", nil, bearerHdr(access)); status != 503 || body["error"] != "identity_provider_unavailable" {
		t.Fatalf("garbage JWKS: %d %v", status, body)
	}
	good.Store(true)
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, _, _ := ti.do(t, "POST", "/api/v1/cloudflare/request-access", nil, bearerHdr(access))
		if status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery: %d", status)
		}
		time.Sleep(10 * time.Millisecond)
	}
	good.Store(false)
	offset.Store(int64(2 * time.Hour))
	if status, _, _ := ti.do(t, "GET", "/readyz", nil, nil); status != 503 {
		t.Fatalf("readyz with stale keys: %d", status)
	}
}
