package issuer_test

import (
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"time"

	"github.com/qubital/office-router/issuer"
)

func ExampleMinter() {
	key, _ := rsa.GenerateKey(rand.Reader, 2048) // JWT_PRIVATE_KEY in production
	m, err := issuer.NewMinter(key, "https://issuer.example.com", "office-router", nil)
	if err != nil {
		panic(err)
	}
	tok, err := m.MintHandshake(issuer.Identity{UserID: "user_01H", OrgID: "org_01H", Role: "member"})
	if err != nil {
		panic(err)
	}
	fmt.Println(time.Until(tok.ExpiresAt).Round(time.Minute), len(tok.Token) > 0)
	// Output: 1m0s true
}
