package issuer_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/qubital/office-router/internal/rsakey"
	"github.com/qubital/office-router/issuer"
)

var (
	keyOnce  sync.Once
	keyCache []*rsa.PrivateKey
)

// testKeys returns RSA keys generated once per test binary (generation is slow; crypto is real).
func testKeys(t testing.TB) []*rsa.PrivateKey {
	t.Helper()
	keyOnce.Do(func() {
		for range 3 {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			keyCache = append(keyCache, k)
		}
	})
	return keyCache
}

// fakeWorkOS serves a JWKS like WorkOS's and signs access tokens with its own key.
type fakeWorkOS struct {
	key *rsa.PrivateKey
	srv *httptest.Server
}

func newFakeWorkOS(t testing.TB) *fakeWorkOS {
	t.Helper()
	f := &fakeWorkOS{key: testKeys(t)[1]}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []rsakey.JWK{rsakey.PublicJWK(&f.key.PublicKey)}})
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeWorkOS) token(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = rsakey.Thumbprint(&f.key.PublicKey)
	s, err := tok.SignedString(f.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *fakeWorkOS) userToken(t testing.TB) string {
	now := time.Now().Unix()
	return f.token(t, jwt.MapClaims{"iss": "https://api.workos.com", "sub": "user_01H", "org_id": "org_01H",
		"role": "admin", "iat": now, "exp": now + 300})
}

type testIssuer struct {
	srv    *issuer.Server
	http   *httptest.Server
	idp    *fakeWorkOS
	logs   *bytes.Buffer
	signer *rsa.PrivateKey
}

func baseConfig(t testing.TB, idp *fakeWorkOS) issuer.Config {
	pemKey, _ := rsakey.EncodePrivateKeyPEM(testKeys(t)[0])
	return issuer.Config{
		PrivateKeyPEM: string(pemKey), Issuer: "https://issuer.test", Audience: "office-router",
		WebSocketBaseURL: "wss://router.test", WorkOSJWKSURL: idp.srv.URL, WorkOSIssuer: "https://api.workos.com",
		SupabaseJWTSecret: strings.Repeat("s", 32), AllowedOrigins: []string{"https://app.test"},
	}
}

func newTestIssuer(t testing.TB, mutate func(*issuer.Config), opts ...issuer.Option) *testIssuer {
	t.Helper()
	idp := newFakeWorkOS(t)
	cfg := baseConfig(t, idp)
	if mutate != nil {
		mutate(&cfg)
	}
	logs := &bytes.Buffer{}
	opts = append([]issuer.Option{issuer.WithLogger(slog.New(slog.NewJSONHandler(lockedWriter{w: logs}, &slog.HandlerOptions{Level: slog.LevelDebug})))}, opts...)
	srv, err := issuer.New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &testIssuer{srv: srv, http: hs, idp: idp, logs: logs, signer: testKeys(t)[0]}
}

type lockedWriter struct{ w *bytes.Buffer }

var logMu sync.Mutex

func (l lockedWriter) Write(p []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	return l.w.Write(p)
}

func (ti *testIssuer) do(t testing.TB, method, path string, body io.Reader, hdr map[string]string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, ti.http.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: body %q is not JSON: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, resp.Header, out
}

func bearerHdr(tok string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok}
}

func bufCopy(dst *strings.Builder, resp *http.Response) (int64, error) {
	return io.Copy(dst, resp.Body)
}
