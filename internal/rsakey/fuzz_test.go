package rsakey

import (
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"
)

// FuzzParse: PEM loading never panics on any input, and never returns a weak key.
func FuzzParse(f *testing.F) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	pub, _ := EncodePublicKeyPEM(&k.PublicKey)
	priv, _ := EncodePrivateKeyPEM(k)
	f.Add(string(pub))
	f.Add(string(priv))
	f.Add(strings.ReplaceAll(string(pub), "\n", `\n`))
	f.Add("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
	f.Fuzz(func(t *testing.T, s string) {
		if keys, err := ParsePublicKeys(s); err == nil {
			for _, k := range keys {
				if k.N.BitLen() < MinBits {
					t.Fatal("weak public key accepted")
				}
			}
		}
		if k, err := ParsePrivateKey(s); err == nil && k.N.BitLen() < MinBits {
			t.Fatal("weak private key accepted")
		}
	})
}

func TestThumbprintRFC7638(t *testing.T) {
	// RFC 7638 §3.1 example key and its thumbprint.
	n := "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	e := "AQAB"
	_ = e // 65537, below
	key := &rsa.PublicKey{N: mustB64Int(t, n), E: 65537}
	if got := Thumbprint(key); got != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
		t.Fatalf("thumbprint %s", got)
	}
}
