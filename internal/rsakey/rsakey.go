// Package rsakey loads the RSA keys the office-router components share and names them.
//
// Every key's `kid` is its RFC 7638 JWK thumbprint, so a router only needs the public key PEM
// and the issuer and routers agree on kids without extra configuration. See docs/configuration.md.
package rsakey

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
)

// MinBits is the smallest RSA modulus accepted anywhere in office-router. Smaller keys are
// refused at start-up (PEM) or ignored (JWKS).
const MinBits = 2048

var (
	// ErrNoKey means the input held no PEM block of the expected type.
	ErrNoKey = errors.New("no PEM key found")
	// ErrNotRSA means a PEM block held a key of another type.
	ErrNotRSA = errors.New("key is not RSA")
	// ErrTooSmall means an RSA modulus is under MinBits.
	ErrTooSmall = fmt.Errorf("RSA key is smaller than %d bits", MinBits)
	// ErrUnsupportedBlock means a PEM block type this package does not read.
	ErrUnsupportedBlock = errors.New("unsupported PEM block type")
)

// CheckSize reports ErrTooSmall for keys under MinBits.
func CheckSize(pub *rsa.PublicKey) error {
	if pub == nil || pub.N == nil || pub.N.BitLen() < MinBits {
		return ErrTooSmall
	}
	return nil
}

// ParsePublicKeys reads one or more "PUBLIC KEY" (SPKI) PEM blocks. Literal "\n" sequences are
// accepted as newlines, because PEMs squeezed into one environment-variable line arrive that way.
// Keys under MinBits are an error: a router must not silently run with a weak key.
func ParsePublicKeys(data string) ([]*rsa.PublicKey, error) {
	rest := []byte(normalizePEM(data))
	var keys []*rsa.PublicKey
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("%w %q (want \"PUBLIC KEY\", e.g. `openssl rsa -pubout`)", ErrUnsupportedBlock, block.Type)
		}
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse public key %d: %w", len(keys)+1, err)
		}
		pub, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("public key %d: %w", len(keys)+1, ErrNotRSA)
		}
		if err := CheckSize(pub); err != nil {
			return nil, fmt.Errorf("public key %d (%d bits): %w", len(keys)+1, pub.N.BitLen(), err)
		}
		keys = append(keys, pub)
	}
	if len(keys) == 0 {
		return nil, ErrNoKey
	}
	return keys, nil
}

// ParsePrivateKey reads an RSA private key in PKCS#1 ("RSA PRIVATE KEY") or PKCS#8
// ("PRIVATE KEY") PEM form and refuses keys under MinBits.
func ParsePrivateKey(data string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(normalizePEM(data)))
	if block == nil {
		return nil, ErrNoKey
	}
	var key *rsa.PrivateKey
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse PKCS#1 private key: %w", err)
		}
		key = k
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse PKCS#8 private key: %w", err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, ErrNotRSA
		}
		key = rk
	default:
		return nil, fmt.Errorf("%w %q (want \"RSA PRIVATE KEY\" or \"PRIVATE KEY\")", ErrUnsupportedBlock, block.Type)
	}
	if err := CheckSize(&key.PublicKey); err != nil {
		return nil, fmt.Errorf("private key (%d bits): %w", key.N.BitLen(), err)
	}
	return key, nil
}

// ReadPrivateKeyFile reads ParsePrivateKey input from a file.
func ReadPrivateKeyFile(path string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParsePrivateKey(string(b))
}

// normalizePEM turns the two-character sequence `\n` into a newline so that a PEM written on one
// line (common in .env files and CI secrets) still parses.
func normalizePEM(s string) string {
	if !strings.Contains(s, "\n") && strings.Contains(s, `\n`) {
		return strings.ReplaceAll(s, `\n`, "\n")
	}
	return s
}

// EncodePublicKeyPEM returns pub as a "PUBLIC KEY" PEM block.
func EncodePublicKeyPEM(pub *rsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// EncodePrivateKeyPEM returns key as a PKCS#8 "PRIVATE KEY" PEM block.
func EncodePrivateKeyPEM(key *rsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// Thumbprint is the RFC 7638 SHA-256 JWK thumbprint of pub, base64url without padding: the
// `kid` of every key in office-router.
func Thumbprint(pub *rsa.PublicKey) string {
	// Members in lexicographic order, no whitespace (RFC 7638 §3.2).
	j := `{"e":"` + b64(big.NewInt(int64(pub.E)).Bytes()) + `","kty":"RSA","n":"` + b64(pub.N.Bytes()) + `"}`
	sum := sha256.Sum256([]byte(j))
	return b64(sum[:])
}

// JWK is the public JSON Web Key form of an RSA key, as published in a JWKS.
type JWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// PublicJWK returns pub as an RS256 signing JWK whose kid is its thumbprint.
func PublicJWK(pub *rsa.PublicKey) JWK {
	return JWK{Kty: "RSA", Kid: Thumbprint(pub), Use: "sig", Alg: "RS256",
		N: b64(pub.N.Bytes()), E: b64(big.NewInt(int64(pub.E)).Bytes())}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
