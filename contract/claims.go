package contract

// The scope names of service tokens, one per service route (docs/reason-codes.md#scopes). A
// handshake token has no scope claim; a service token's scope is a list of names (ScopeList).
const (
	ScopePublish    = "publish"    // POST /orgs/{orgId}/publish
	ScopePresence   = "presence"   // GET /orgs/{orgId}/presence
	ScopeDisconnect = "disconnect" // POST /orgs/{orgId}/disconnect
)

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

// ServiceClaims is the claim set of a service token: Subject (the calling backend) may use the
// service routes named in Scope on OrgID. Scope is the scope claim as sent, a space-separated list
// (ScopeList); empty means ScopePublish, which is what every service token was before scope lists,
// so a caller that never set it mints what it minted before. Times are Unix seconds.
type ServiceClaims struct {
	Issuer    string
	Audience  string
	Subject   string
	OrgID     string
	Scope     string
	JTI       string
	IssuedAt  int64
	NotBefore int64
	ExpiresAt int64
}

// PublishClaims is the name ServiceClaims had when publish was the only service route.
type PublishClaims = ServiceClaims

// Map is the claim set as JSON object members, as HandshakeClaims.Map.
func (c ServiceClaims) Map() map[string]any {
	scope := c.Scope
	if scope == "" {
		scope = ScopePublish
	}
	return map[string]any{"iss": c.Issuer, "aud": c.Audience, "sub": c.Subject, "orgId": c.OrgID,
		"scope": scope, "iat": c.IssuedAt, "nbf": c.NotBefore, "exp": c.ExpiresAt, "jti": c.JTI}
}
