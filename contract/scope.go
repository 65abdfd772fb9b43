package contract

import "strings"

// Scope-list limits (docs/reason-codes.md#scopes): the same in the Worker (worker/src).
const (
	MaxScopeNames   = 16 // names in one scope claim
	MaxScopeNameLen = 32 // bytes in one name
)

// ScopeList reports whether s is a well-formed scope claim: one or more names separated by single
// spaces, each 1–MaxScopeNameLen of [a-z_], at most MaxScopeNames of them; the regexp
// ^[a-z_]{1,32}( [a-z_]{1,32}){0,15}$. A token whose scope is not one is refused with
// wrong_scope on every service route, whatever names it holds.
func ScopeList(s string) bool {
	names, run := 1, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z' || c == '_':
			if run++; run > MaxScopeNameLen {
				return false
			}
		case c == ' ':
			if run == 0 {
				return false
			}
			if names++; names > MaxScopeNames {
				return false
			}
			run = 0
		default:
			return false
		}
	}
	return run > 0
}

// HasScope reports whether the well-formed scope claim s (ScopeList) names name. Unknown names
// are allowed (a token minted for a newer router still works here) and so are duplicates.
func HasScope(s, name string) bool {
	for s != "" {
		var n string
		n, s, _ = strings.Cut(s, " ")
		if n == name {
			return true
		}
	}
	return false
}
