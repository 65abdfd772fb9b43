package contract_test

import (
	"encoding/json"
	"testing"

	"github.com/qubital/office-router/contract"
)

// TestClaimsWire pins the wire form of both claim sets: the frozen vectors, the issuer and the
// Worker all read these exact members.
func TestClaimsWire(t *testing.T) {
	tests := []struct {
		name   string
		claims map[string]any
		want   string
	}{
		{"handshake", contract.HandshakeClaims{Issuer: "i", Audience: "a", UserID: "u", OrgID: "o", Role: "member",
			JTI: "j", IssuedAt: 1, NotBefore: 2, ExpiresAt: 61}.Map(),
			`{"aud":"a","exp":61,"iat":1,"iss":"i","jti":"j","nbf":2,"orgId":"o","role":"member","sub":"u","userId":"u"}`},
		{"publish", contract.PublishClaims{Issuer: "i", Audience: "a", Subject: "svc", OrgID: "o",
			JTI: "j", IssuedAt: 1, NotBefore: 1, ExpiresAt: 61}.Map(),
			`{"aud":"a","exp":61,"iat":1,"iss":"i","jti":"j","nbf":1,"orgId":"o","scope":"publish","sub":"svc"}`},
		{"service scope list", contract.ServiceClaims{Issuer: "i", Audience: "a", Subject: "svc", OrgID: "o", Scope: "presence disconnect",
			JTI: "j", IssuedAt: 1, NotBefore: 1, ExpiresAt: 61}.Map(),
			`{"aud":"a","exp":61,"iat":1,"iss":"i","jti":"j","nbf":1,"orgId":"o","scope":"presence disconnect","sub":"svc"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.claims)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Fatalf("got %s\nwant %s", b, tt.want)
			}
		})
	}
}
