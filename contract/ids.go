package contract

// IsValidID reports whether s is a valid userId, orgId, sub or jti: 1–128 characters of
// [A-Za-z0-9_-]. Routers check the {org} path segment with it; the issuer checks identities
// before minting.
func IsValidID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// IsValidRole reports whether s is a valid role claim: 1–64 characters of [a-z0-9_-].
func IsValidRole(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
