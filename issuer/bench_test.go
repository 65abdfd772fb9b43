package issuer_test

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/qubital/office-router/issuer"
)

// BenchmarkRequestAccessHandler mints through the real handler, including WorkOS-token
// verification against a cached JWKS. Compare with BenchmarkRawRSASign from the same run
// (target ≥ 90%, docs/performance.md).
func BenchmarkRequestAccessHandler(b *testing.B) {
	ti := newTestIssuer(b, func(c *issuer.Config) { c.MintsPerSecond, c.MintBurst = 1e9, 1<<30 }) // one user, unthrottled: this measures minting
	access := ti.idp.userToken(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/api/v1/cloudflare/request-access", nil)
			req.Header.Set("Authorization", "Bearer "+access)
			w := httptest.NewRecorder()
			ti.srv.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d", w.Code)
			}
		}
	})
}

// BenchmarkRawRSASign is the floor: one RSA-2048 PKCS#1 v1.5 signature, on the same cores.
func BenchmarkRawRSASign(b *testing.B) {
	key := testKeys(b)[0]
	key.Precompute()
	d := sha256.Sum256([]byte("header.payload"))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, d[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
