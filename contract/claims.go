package contract

// ScopePublish is the scope claim of a publish (service) token; a handshake token has no scope.
const ScopePublish = "publish"

// HandshakeClaims is the claim set of a handshake token (docs/reason-codes.md): the issuer mints
// it, the vectors, the harness and the bench craft it. Times are Unix seconds. Subject and UserID
// are the same user; Map writes both from UserID.
type HandshakeClaims struct {
	Issuer    string
	Audience  string
	UserID    string
	OrgID     string
	Role      string
	JTI       string
	IssuedAt  int64
	NotBefore int64
	ExpiresAt int64
}

// Map is the claim set as JSON object members (keys as on the wire), to sign or to modify in a
// test. json.Marshal sorts a map's keys, so the encoding is stable.
func (c HandshakeClaims) Map() map[string]any {
	return map[string]any{"iss": c.Issuer, "aud": c.Audience, "sub": c.UserID, "userId": c.UserID,
		"orgId": c.OrgID, "role": c.Role, "iat": c.IssuedAt, "nbf": c.NotBefore, "exp": c.ExpiresAt, "jti": c.JTI}
}

// PublishClaims is the claim set of a publish token: Subject (the publishing service) may publish
// to OrgID's sockets; scope is always ScopePublish. Times are Unix seconds.
type PublishClaims struct {
	Issuer    string
	Audience  string
	Subject   string
	OrgID     string
	JTI       string
	IssuedAt  int64
	NotBefore int64
	ExpiresAt int64
}

// Map is the claim set as JSON object members, as HandshakeClaims.Map.
func (c PublishClaims) Map() map[string]any {
	return map[string]any{"iss": c.Issuer, "aud": c.Audience, "sub": c.Subject, "orgId": c.OrgID,
		"scope": ScopePublish, "iat": c.IssuedAt, "nbf": c.NotBefore, "exp": c.ExpiresAt, "jti": c.JTI}
}
