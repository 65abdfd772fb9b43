package verifier_test

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/qubital/office-router/internal/rsakey"
	"github.com/qubital/office-router/verifier"
)

// FuzzVerify: Verify never panics, always returns a known reason, and never accepts a token whose
// signature does not check out with a configured key.
func FuzzVerify(f *testing.F) {
	vf := loadVectors(f)
	for _, c := range vf.Cases {
		f.Add(c.Token, c.Now)
	}
	pubs, err := rsakey.ParsePublicKeys(vf.Config.PublicKeys)
	if err != nil {
		f.Fatal(err)
	}
	known := map[string]bool{"ok": true}
	for _, r := range verifier.Reasons() {
		known[r] = true
	}
	f.Fuzz(func(t *testing.T, token string, now int64) {
		v := vectorVerifier(t, vf, now)
		_, err := v.Verify(t.Context(), token)
		_, perr := v.VerifyPublish(t.Context(), token)
		for _, e := range []error{err, perr} {
			if got := reasonOrOK(e); !known[got] {
				t.Fatalf("unknown outcome %q", got)
			}
		}
		if err != nil && perr != nil {
			return
		}
		parts := strings.Split(token, ".")
		sig, derr := base64.RawURLEncoding.DecodeString(parts[2])
		if derr != nil {
			t.Fatal("accepted a token with an undecodable signature")
		}
		d := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		for _, p := range pubs {
			if rsa.VerifyPKCS1v15(p, crypto.SHA256, d[:], sig) == nil {
				return
			}
		}
		t.Fatal("accepted a token that no configured key signed")
	})
}

func publicKeyA(t testing.TB, pems string) *rsa.PublicKey {
	t.Helper()
	pubs, err := rsakey.ParsePublicKeys(pems)
	if err != nil {
		t.Fatal(err)
	}
	return pubs[0]
}
