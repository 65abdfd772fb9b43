package verifier_test

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
)

// BenchmarkVerify is the handshake verification path; compare with BenchmarkRawRSAVerify from the
// same run (target: ≥ 80% of the raw rate, docs/performance.md).
func BenchmarkVerify(b *testing.B) {
	f := loadVectors(b)
	c := f.Cases[0]
	v := vectorVerifier(b, f, c.Now)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(b.Context(), c.Token); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawRSAVerify is the physical floor: one RSA-2048 PKCS#1 v1.5 verification.
func BenchmarkRawRSAVerify(b *testing.B) {
	f := loadVectors(b)
	c := f.Cases[0]
	pub := publicKeyA(b, f.Config.PublicKeys)
	parts := strings.Split(c.Token, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	b.ReportAllocs()
	for b.Loop() {
		d := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}
