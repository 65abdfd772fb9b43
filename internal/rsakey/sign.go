package rsakey

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
)

// SignRS256 returns the base64url RS256 signature of a JWT signing input ("header.payload"),
// whatever the header says. Tests, vectors and the harness craft tokens with it, including
// tokens that break a rule on purpose; the issuer signs through golang-jwt.
func SignRS256(key *rsa.PrivateKey, signingInput string) (string, error) {
	d := sha256.Sum256([]byte(signingInput))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, d[:])
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sig), nil
}
