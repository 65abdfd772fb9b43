package issuer_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/qubital/office-router/internal/harness"
	"github.com/qubital/office-router/issuer"
)

func TestMintService(t *testing.T) {
	m, err := issuer.NewMinter(testKeys(t)[0], "iss", "aud", nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		org       string
		scopes    []string
		wantScope string
		wantErr   error
	}{
		{"one scope", "acme", []string{"presence"}, "presence", nil},
		{"a list", "acme", []string{"publish", "presence", "disconnect"}, "publish presence disconnect", nil},
		{"no scope", "acme", nil, "", issuer.ErrInvalidIdentity},
		{"upper case", "acme", []string{"Presence"}, "", issuer.ErrInvalidIdentity},
		{"a name with a space", "acme", []string{"presence "}, "", issuer.ErrInvalidIdentity},
		{"17 names", "acme", strings.Fields(strings.Repeat("x ", 17)), "", issuer.ErrInvalidIdentity},
		{"bad org", "acme/x", []string{"presence"}, "", issuer.ErrInvalidIdentity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := m.MintService(tt.org, "backend", tt.scopes...)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			c, err := harness.Claims(tok.Token)
			if err != nil || c["scope"] != tt.wantScope || c["orgId"] != tt.org {
				t.Fatalf("claims %v, %v", c, err)
			}
		})
	}
	pub, err := m.MintPublish("acme", "backend")
	if c, _ := harness.Claims(pub.Token); err != nil || c["scope"] != "publish" {
		t.Fatalf("MintPublish: %v %v", c, err)
	}
}
