package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/qubital/office-router/internal/rsakey"
	"github.com/qubital/office-router/internal/vectors"
	"github.com/qubital/office-router/issuer"
	"github.com/qubital/office-router/verifier"
)

type micro struct {
	name    string
	nsPerOp float64
	allocs  int64
	bytes   int64
}

func fromResult(name string, r testing.BenchmarkResult) micro {
	return micro{name: name, nsPerOp: float64(r.T.Nanoseconds()) / float64(r.N), allocs: r.AllocsPerOp(), bytes: r.AllocedBytesPerOp()}
}

// issuerBench: tokens through the real request-access handler (WorkOS token verified against a
// cached JWKS) vs bare RSA-2048 signing, both on every core.
func issuerBench() (handler, raw micro, err error) {
	signKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return
	}
	idpKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return
	}
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []rsakey.JWK{rsakey.PublicJWK(&idpKey.PublicKey)}})
	}))
	defer jwks.Close()
	pemKey, _ := rsakey.EncodePrivateKeyPEM(signKey)
	srv, err := issuer.New(issuer.Config{PrivateKeyPEM: string(pemKey), Issuer: "iss", Audience: "aud",
		WebSocketBaseURL: "wss://router.example", WorkOSJWKSURL: jwks.URL, WorkOSIssuer: "https://idp.example",
		MintsPerSecond: 1e9, MintBurst: 1 << 30}, issuer.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		return
	}
	defer srv.Close()
	now := time.Now().Unix()
	at := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": "https://idp.example", "sub": "user_1", "org_id": "org_1", "role": "member", "iat": now, "exp": now + 3600})
	at.Header["kid"] = rsakey.Thumbprint(&idpKey.PublicKey)
	access, _ := at.SignedString(idpKey)
	handler = fromResult("issuer request-access handler", testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req := httptest.NewRequest(http.MethodPost, "/api/v1/cloudflare/request-access", nil)
				req.Header.Set("Authorization", "Bearer "+access)
				w := httptest.NewRecorder()
				srv.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}))
	d := sha256.Sum256([]byte("header.payload"))
	raw = fromResult("rsa.SignPKCS1v15 (2048)", testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := rsa.SignPKCS1v15(nil, signKey, crypto.SHA256, d[:]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}))
	return handler, raw, nil
}

// verifierBench: Verify on one core vs bare RSA-2048 verification of the same token.
func verifierBench(root string) (ver, raw micro, err error) {
	f, err := vectors.Load(root + "/testdata/vectors/handshake.json")
	if err != nil {
		return
	}
	c := f.Cases[0]
	v, err := verifier.New(verifier.Config{PublicKeysPEM: f.Config.PublicKeys, Issuer: f.Config.Issuer, Audience: f.Config.Audience},
		verifier.WithClock(func() time.Time { return time.Unix(c.Now, 0) }))
	if err != nil {
		return
	}
	ctx := context.Background()
	ver = fromResult("verifier.Verify", testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(ctx, c.Token); err != nil {
				b.Fatal(err)
			}
		}
	}))
	pubs, _ := rsakey.ParsePublicKeys(f.Config.PublicKeys)
	parts := strings.Split(c.Token, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	raw = fromResult("rsa.VerifyPKCS1v15 (2048)", testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			d := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
			if err := rsa.VerifyPKCS1v15(pubs[0], crypto.SHA256, d[:], sig); err != nil {
				b.Fatal(err)
			}
		}
	}))
	return ver, raw, nil
}
