package issuer

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/qubital/office-router/contract"
	"github.com/qubital/office-router/internal/rsakey"
)

// Token lifetimes fixed by the contract (docs/protocol.md).
const (
	HandshakeTTL = 60 * time.Second
	PublishTTL   = 60 * time.Second
	RealtimeTTL  = 3600 * time.Second

	// Supabase Realtime expects these values (docs/configuration.md).
	RealtimeIssuer   = "qubital-backend"
	RealtimeAudience = "authenticated"
	RealtimeRole     = "authenticated"
	minSecretBytes   = 32
)

// Identity is who a token is for.
type Identity struct {
	UserID string
	OrgID  string
	Role   string
}

// Token is a signed token and its expiry.
type Token struct {
	Token     string
	ExpiresAt time.Time
}

// Minter signs handshake and publish tokens with an RSA key (RS256, kid = RFC 7638 thumbprint).
type Minter struct {
	key      *rsa.PrivateKey
	kid      string
	issuer   string
	audience string
	now      func() time.Time
}

// NewMinter returns a Minter. The key must be RSA ≥ 2048 bits.
func NewMinter(key *rsa.PrivateKey, issuer, audience string, now func() time.Time) (*Minter, error) {
	if key == nil {
		return nil, errors.New("issuer: nil signing key")
	}
	if err := rsakey.CheckSize(&key.PublicKey); err != nil {
		return nil, err
	}
	if issuer == "" || audience == "" {
		return nil, errors.New("issuer: JWT_ISSUER and JWT_AUDIENCE are required")
	}
	if now == nil {
		now = time.Now
	}
	key.Precompute()
	return &Minter{key: key, kid: rsakey.Thumbprint(&key.PublicKey), issuer: issuer, audience: audience, now: now}, nil
}

// KeyID is the kid of the signing key.
func (m *Minter) KeyID() string { return m.kid }

// PublicKey is the signing key's public half.
func (m *Minter) PublicKey() *rsa.PublicKey { return &m.key.PublicKey }

// MintHandshake signs a 60-second handshake token for id.
func (m *Minter) MintHandshake(id Identity) (Token, error) {
	if !contract.IsValidID(id.UserID) || !contract.IsValidID(id.OrgID) || !contract.IsValidRole(id.Role) {
		return Token{}, ErrInvalidIdentity
	}
	iat, exp := m.window(HandshakeTTL)
	return m.sign(contract.HandshakeClaims{Issuer: m.issuer, Audience: m.audience, UserID: id.UserID, OrgID: id.OrgID,
		Role: id.Role, JTI: newJTI(), IssuedAt: iat, NotBefore: iat, ExpiresAt: exp}.Map(), exp)
}

// MintPublish signs a 60-second service token that lets subject publish to org's sockets
// (POST /orgs/{orgId}/publish). It can never open a socket.
func (m *Minter) MintPublish(orgID, subject string) (Token, error) {
	return m.MintService(orgID, subject, contract.ScopePublish)
}

// MintService signs a 60-second, single-use service token that lets subject call the service
// routes named by scopes (contract.ScopePublish, ScopePresence, ScopeDisconnect) on org. Mint
// one per call with only the scope that call needs. It can never open a socket.
func (m *Minter) MintService(orgID, subject string, scopes ...string) (Token, error) {
	if !contract.IsValidID(orgID) || !contract.IsValidID(subject) {
		return Token{}, ErrInvalidIdentity
	}
	scope := strings.Join(scopes, " ")
	if !contract.ScopeList(scope) {
		return Token{}, fmt.Errorf("%w: scope %q is not a list of 1-%d names of [a-z_]", ErrInvalidIdentity, scope, contract.MaxScopeNames)
	}
	iat, exp := m.window(PublishTTL)
	return m.sign(contract.ServiceClaims{Issuer: m.issuer, Audience: m.audience, Subject: subject, OrgID: orgID,
		Scope: scope, JTI: newJTI(), IssuedAt: iat, NotBefore: iat, ExpiresAt: exp}.Map(), exp)
}

// window is a token's iat (now) and exp (now + ttl), in Unix seconds.
func (m *Minter) window(ttl time.Duration) (iat, exp int64) {
	now := m.now().Unix()
	return now, now + int64(ttl/time.Second)
}

func (m *Minter) sign(c map[string]any, exp int64) (Token, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims(c))
	t.Header["kid"] = m.kid
	s, err := t.SignedString(m.key)
	if err != nil {
		return Token{}, fmt.Errorf("sign: %w", err)
	}
	return Token{Token: s, ExpiresAt: time.Unix(exp, 0)}, nil
}

// newJTI is 128 random bits, hex: within the jti format of docs/reason-codes.md.
func newJTI() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// RealtimeMinter signs Supabase Realtime tokens (HS256).
type RealtimeMinter struct {
	secret []byte
	now    func() time.Time
}

// NewRealtimeMinter refuses secrets under 32 bytes.
func NewRealtimeMinter(secret []byte, now func() time.Time) (*RealtimeMinter, error) {
	if len(secret) < minSecretBytes {
		return nil, fmt.Errorf("SUPABASE_JWT_SECRET must be at least %d bytes", minSecretBytes)
	}
	if now == nil {
		now = time.Now
	}
	return &RealtimeMinter{secret: secret, now: now}, nil
}

// Mint signs a one-hour Realtime token for userID.
func (r *RealtimeMinter) Mint(userID string) (Token, error) {
	now := r.now().Unix()
	exp := now + int64(RealtimeTTL/time.Second)
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": RealtimeIssuer, "aud": RealtimeAudience, "role": RealtimeRole,
		"sub": userID, "iat": now, "exp": exp,
	})
	s, err := t.SignedString(r.secret)
	if err != nil {
		return Token{}, err
	}
	return Token{Token: s, ExpiresAt: time.Unix(exp, 0)}, nil
}
