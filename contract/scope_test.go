package contract_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/qubital/office-router/contract"
)

// scopeRule is the contract's regexp (docs/reason-codes.md#scopes); ScopeList must agree with it.
var scopeRule = regexp.MustCompile(`^[a-z_]{1,32}( [a-z_]{1,32}){0,15}$`)

func TestScopeList(t *testing.T) {
	name32, names16 := strings.Repeat("a", 32), strings.TrimSpace(strings.Repeat("p ", 16))
	tests := []struct {
		name  string
		scope string
		want  bool
	}{
		{"one name", "publish", true},
		{"three names", "publish presence disconnect", true},
		{"unknown name", "future_thing", true},
		{"duplicates", "presence presence", true},
		{"name of 32", name32, true},
		{"16 names", names16, true},
		{"empty", "", false},
		{"name of 33", name32 + "a", false},
		{"17 names", names16 + " p", false},
		{"leading space", " publish", false},
		{"trailing space", "publish ", false},
		{"double space", "publish  presence", false},
		{"tab", "publish\tpresence", false},
		{"upper case", "Publish", false},
		{"digit", "publish2", false},
		{"comma", "publish,presence", false},
		{"hyphen", "pre-sence", false},
		{"non-ASCII", "présence", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := contract.ScopeList(tt.scope); got != tt.want {
				t.Fatalf("ScopeList(%q) = %v, want %v", tt.scope, got, tt.want)
			}
			if re := scopeRule.MatchString(tt.scope); re != tt.want {
				t.Fatalf("the contract's regexp says %v for %q: the table is wrong", re, tt.scope)
			}
		})
	}
}

func FuzzScopeList(f *testing.F) {
	for _, s := range []string{"publish", "a b", " a", "a  b", strings.Repeat("a ", 17)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := contract.ScopeList(s), scopeRule.MatchString(s); got != want {
			t.Fatalf("ScopeList(%q) = %v, the regexp says %v", s, got, want)
		}
	})
}

func TestHasScope(t *testing.T) {
	tests := []struct {
		scope, name string
		want        bool
	}{
		{"publish", "publish", true},
		{"publish presence disconnect", "disconnect", true},
		{"publish presence", "disconnect", false},
		{"presence_all", "presence", false},
		{"xpresence", "presence", false},
		{"future presence", "presence", true},
	}
	for _, tt := range tests {
		if got := contract.HasScope(tt.scope, tt.name); got != tt.want {
			t.Errorf("HasScope(%q, %q) = %v, want %v", tt.scope, tt.name, got, tt.want)
		}
	}
}

func TestCloseReason(t *testing.T) {
	for code, want := range map[int]string{contract.CloseReauthRequired: "reauth_required",
		contract.CloseRevoked: "revoked", contract.ClosePolicy: "", 4002: ""} {
		if got := contract.CloseReason(code); got != want {
			t.Errorf("CloseReason(%d) = %q, want %q", code, got, want)
		}
	}
	if contract.CloseReauthRequired != 4001 || contract.CloseRevoked != 4003 {
		t.Fatal("the disconnect close codes are 4001 and 4003 (docs/protocol.md)")
	}
	if contract.Status(contract.ErrRevoked) != 403 || contract.Reason(contract.ErrRevoked) != "revoked" {
		t.Fatal("revoked is 403")
	}
}
