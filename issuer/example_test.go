package issuer_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/qubital/office-router/contract"
	"github.com/qubital/office-router/internal/rsakey"
	"github.com/qubital/office-router/issuer"
	"github.com/qubital/office-router/proxy"
	"github.com/qubital/office-router/verifier"
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

// A backend and a router (here a Go hub; the Worker answers the same): who is online, an event
// to one user, and a demotion: the user's sockets are closed with 4001 and the client reconnects
// with a fresh token that carries the new role.
func ExamplePublisher() {
	key, _ := rsa.GenerateKey(rand.Reader, 2048) // JWT_PRIVATE_KEY in production
	m, _ := issuer.NewMinter(key, "https://issuer.example.com", "office-router", nil)
	router, stop := startHub(key)
	defer stop()
	alice := connect(router, m, "alice", "admin")

	ctx := context.Background()
	backend, err := issuer.NewPublisher(m, router, "billing-service", nil)
	if err != nil {
		panic(err)
	}
	users, _ := backend.Presence(ctx, "acme")
	fmt.Printf("online: %+v\n", users)
	n, _ := backend.Publish(ctx, "acme", "alice", map[string]string{"invoice": "paid"})
	fmt.Println("delivered:", n)

	// alice is demoted in the identity provider: close her sockets with 4001.
	n, _ = backend.Disconnect(ctx, "acme", issuer.Disconnect{UserID: "alice", Code: contract.CloseReauthRequired})
	fmt.Println("disconnected:", n)
	for {
		if _, _, err := alice.ReadMessage(); err != nil {
			fmt.Println("alice's socket:", err)
			break
		}
	}
	alice.Close()
	// Her client fetches a fresh token at once; the issuer mints it with her new role.
	alice = connect(router, m, "alice", "member")
	defer alice.Close()
	users, _ = backend.Presence(ctx, "acme")
	fmt.Printf("online: %+v\n", users)
	// Output:
	// online: [{UserID:alice Role:admin Connections:1}]
	// delivered: 1
	// disconnected: 1
	// alice's socket: websocket: close 4001: reauth_required
	// online: [{UserID:alice Role:member Connections:1}]
}

// startHub runs a Go hub that trusts key and returns its URL and how to stop it.
func startHub(key *rsa.PrivateKey) (string, func()) {
	pub, _ := rsakey.EncodePublicKeyPEM(&key.PublicKey)
	v, err := verifier.New(verifier.Config{PublicKeysPEM: string(pub), Issuer: "https://issuer.example.com", Audience: "office-router"})
	if err != nil {
		panic(err)
	}
	p, err := proxy.New(proxy.Config{}, v)
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(p)
	return srv.URL, func() {
		_ = p.Shutdown(context.Background())
		srv.Close()
		_ = v.Close()
	}
}

// connect opens a socket as the browser client would, and reads its welcome.
func connect(routerURL string, m *issuer.Minter, user, role string) *websocket.Conn {
	tok, _ := m.MintHandshake(issuer.Identity{UserID: user, OrgID: "acme", Role: role})
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(routerURL, "http")+"/orgs/acme/ws",
		http.Header{"Authorization": {"Bearer " + tok.Token}})
	if err != nil {
		panic(err)
	}
	if _, _, err := c.ReadMessage(); err != nil {
		panic(err)
	}
	return c
}
