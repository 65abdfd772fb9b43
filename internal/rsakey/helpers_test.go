package rsakey

import (
	"encoding/base64"
	"math/big"
	"testing"
)

func mustB64Int(t *testing.T, s string) *big.Int {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return new(big.Int).SetBytes(b)
}
