package verifier

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/qubital/office-router/contract"
	"github.com/qubital/office-router/internal/rsakey"
)

// Verifier checks handshake and service tokens with the rules of docs/reason-codes.md, the same
// rules as the Worker (worker/src/verify.ts). It is safe for concurrent use.
type Verifier struct {
	cfg    Config
	keys   KeySource
	now    func() time.Time
	cancel func() // stops the JWKS refresher and waits for its fetches
}

// Identity is what a verified handshake token says about its holder.
type Identity struct {
	UserID    string
	OrgID     string
	Role      string
	Subject   string
	JTI       string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// ServiceIdentity is what a verified service token says: Subject (the calling backend) may use
// the route it was verified for on OrgID.
type ServiceIdentity struct {
	Subject   string
	OrgID     string
	JTI       string
	ExpiresAt time.Time
}

// PublishIdentity is the name ServiceIdentity had when publish was the only service route.
type PublishIdentity = ServiceIdentity

// New validates cfg once and builds a Verifier. With CONN_JWKS_URL it starts a background JWKS
// refresher that Close stops.
func New(cfg Config, opts ...Option) (*Verifier, error) {
	o := options{now: time.Now, logger: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	v := &Verifier{cfg: cfg, now: o.now, cancel: func() {}}
	if cfg.PublicKeysPEM != "" {
		pubs, err := rsakey.ParsePublicKeys(cfg.PublicKeysPEM)
		if err != nil {
			return nil, fmt.Errorf("%w: CONN_JWT_PUBLIC_KEY: %v", errConfig, err)
		}
		v.keys, _ = NewStaticKeys(pubs...)
		return v, nil
	}
	if u, err := url.ParseRequestURI(cfg.JWKSURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: CONN_JWKS_URL must be an http(s) URL", errConfig)
	}
	keys := newJWKSKeys(cfg, o.client, o.logger, o.now)
	v.keys, v.cancel = keys, keys.set.Close
	return v, nil
}

// Close stops the JWKS refresher, if any.
func (v *Verifier) Close() error {
	v.cancel()
	return nil
}

// Leeway is the effective clock-skew allowance (after defaults).
func (v *Verifier) Leeway() time.Duration { return v.cfg.Leeway }

// Verify checks a handshake token. Replay (reason `replayed`) is checked by whoever holds the
// connection, with Identity.JTI and Identity.ExpiresAt; see ReplayCache.
func (v *Verifier) Verify(ctx context.Context, token string) (Identity, error) {
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	if err := v.verify(ctx, token, s); err != nil {
		return Identity{}, err
	}
	payload := &s.payload
	c, err := v.timeAndAudience(payload)
	if err != nil {
		return Identity{}, err
	}
	if _, ok := payload.present("scope"); ok {
		return Identity{}, ErrWrongScope
	}
	vals, err := idClaims(payload, "sub", "userId", "orgId", "role", "jti")
	if err != nil {
		return Identity{}, err
	}
	sub, user, org, role, jti := vals[0], vals[1], vals[2], vals[3], vals[4]
	if !isID(sub) || !isID(user) || !isID(org) || !isRole(role) || !isID(jti) {
		return Identity{}, ErrInvalidClaim
	}
	if sub != user {
		return Identity{}, ErrClaimMismatch
	}
	return Identity{UserID: user, OrgID: org, Role: role, Subject: sub, JTI: jti,
		IssuedAt: time.Unix(c.iat, 0), ExpiresAt: time.Unix(c.exp, 0)}, nil
}

// VerifyPublish is VerifyService for POST /orgs/{orgId}/publish (scope "publish").
func (v *Verifier) VerifyPublish(ctx context.Context, token string) (ServiceIdentity, error) {
	return v.VerifyService(ctx, token, contract.ScopePublish)
}

// VerifyService checks a backend service token for the route whose scope name is scope
// (contract.ScopePublish, ScopePresence, ScopeDisconnect): the handshake rules, then `scope` must
// be a well-formed scope list (contract.ScopeList) that names scope, else wrong_scope; `sub`,
// `orgId` and `jti` are required in the id format, `userId`/`role` are not read. Replay
// (`replayed`) is the caller's, as for Verify: every service token is single-use.
func (v *Verifier) VerifyService(ctx context.Context, token, scope string) (ServiceIdentity, error) {
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	if err := v.verify(ctx, token, s); err != nil {
		return ServiceIdentity{}, err
	}
	payload := &s.payload
	c, err := v.timeAndAudience(payload)
	if err != nil {
		return ServiceIdentity{}, err
	}
	m, ok := payload.present("scope")
	if !ok || m.k != kindString {
		return ServiceIdentity{}, ErrWrongScope
	}
	if list := stringValue(m); !contract.ScopeList(list) || !contract.HasScope(list, scope) {
		return ServiceIdentity{}, ErrWrongScope
	}
	vals, err := idClaims(payload, "sub", "orgId", "jti")
	if err != nil {
		return ServiceIdentity{}, err
	}
	for _, s := range vals {
		if !isID(s) {
			return ServiceIdentity{}, ErrInvalidClaim
		}
	}
	return ServiceIdentity{Subject: vals[0], OrgID: vals[1], JTI: vals[2], ExpiresAt: time.Unix(c.exp, 0)}, nil
}

var b64 = base64.RawURLEncoding.Strict()

// scratch holds one verification's buffers. Pooled, so the hot path does not allocate them;
// nothing returned to callers points into it (claims are copied out as strings).
type scratch struct {
	tok             [MaxTokenBytes]byte
	buf             [MaxTokenBytes]byte
	header, payload object
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// verify runs rules 1–4 (size, shape, header, signature) and parses the payload into s.payload.
func (v *Verifier) verify(ctx context.Context, token string, s *scratch) error {
	if token == "" {
		return ErrMissingToken
	}
	if len(token) > MaxTokenBytes {
		return ErrTokenTooLarge
	}
	d1 := strings.IndexByte(token, '.')
	if d1 < 0 {
		return ErrMalformed
	}
	d2 := strings.IndexByte(token[d1+1:], '.')
	if d2 < 0 {
		return ErrMalformed
	}
	d2 += d1 + 1
	if strings.IndexByte(token[d2+1:], '.') >= 0 {
		return ErrMalformed
	}
	tok := append(s.tok[:0], token...)
	hdr, err := decodeSegment(tok[:d1], s.buf[:])
	if err != nil {
		return err
	}
	body, err := decodeSegment(tok[d1+1:d2], s.buf[len(hdr):])
	if err != nil {
		return err
	}
	sig, err := decodeSegment(tok[d2+1:], s.buf[len(hdr)+len(body):])
	if err != nil {
		return err
	}
	header := &s.header
	if parseTopObject(hdr, header) != nil || parseTopObject(body, &s.payload) != nil {
		return ErrMalformed
	}

	if alg, ok := header.present("alg"); !ok || stringValue(alg) != "RS256" {
		return ErrAlgNotAllowed
	}
	if typ, ok := header.present("typ"); ok && stringValue(typ) != "JWT" {
		return fmt.Errorf("%w: typ", ErrMalformed)
	}
	// Presence is the rule, null included: {"crit":null} is as refused as {"crit":["exp"]}.
	for _, name := range [...]string{"crit", "jku", "x5u", "jwk", "x5c"} {
		if _, ok := header.get(name); ok {
			return fmt.Errorf("%w: header %q is not accepted", ErrMalformed, name)
		}
	}
	kidm, ok := header.present("kid")
	kid := stringValue(kidm)
	if !ok || kid == "" {
		return ErrMissingKID
	}
	pub, err := v.keys.Key(ctx, kid)
	if err != nil {
		return err
	}
	digest := sha256.Sum256(tok[:d2])
	if rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) != nil {
		return ErrBadSignature
	}
	return nil
}

// decodeSegment decodes strict, unpadded, canonical base64url. Go's decoder skips \r and \n,
// so the alphabet is checked first.
func decodeSegment(seg, dst []byte) ([]byte, error) {
	if len(seg) == 0 {
		return nil, ErrMalformed
	}
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return nil, ErrMalformed
		}
	}
	n, err := b64.Decode(dst, seg)
	if err != nil {
		return nil, ErrMalformed
	}
	return dst[:n:n], nil
}

type times struct{ exp, iat int64 }

// timeAndAudience runs rule 5 up to and including aud.
func (v *Verifier) timeAndAudience(p *object) (times, error) {
	now := v.now().Unix()
	leeway := int64(v.cfg.Leeway / time.Second)
	exp, err := numericDate(p, "exp")
	if err != nil {
		return times{}, err
	}
	if now >= exp+leeway {
		return times{}, ErrExpired
	}
	if _, ok := p.present("nbf"); ok {
		nbf, err := numericDate(p, "nbf")
		if err != nil {
			return times{}, err
		}
		if now+leeway < nbf {
			return times{}, ErrNotYetValid
		}
	}
	iat, err := numericDate(p, "iat")
	if err != nil {
		return times{}, err
	}
	if iat > now+leeway {
		return times{}, ErrIssuedInFuture
	}
	if exp-iat > int64(v.cfg.MaxTTL/time.Second) {
		return times{}, ErrLifetimeExceeded
	}
	if iss, ok := p.present("iss"); !ok || stringValue(iss) != v.cfg.Issuer {
		return times{}, ErrWrongIssuer
	}
	aud, ok := p.present("aud")
	if !ok || !audienceMatches(aud, v.cfg.Audience) {
		return times{}, ErrWrongAudience
	}
	return times{exp: exp, iat: iat}, nil
}

const maxSafeInt = 1<<53 - 1

// numericDate reads an integer NumericDate: plain digits, no fraction or exponent, within
// JavaScript's safe-integer range so both implementations read the same number.
// A missing claim is missing_claim; callers check optional claims (nbf) for presence first.
func numericDate(p *object, name string) (int64, error) {
	m, ok := p.present(name)
	if !ok {
		return 0, fmt.Errorf("%w: %s", ErrMissingClaim, name)
	}
	if m.k != kindNumber {
		return 0, fmt.Errorf("%w: %s", ErrInvalidClaim, name)
	}
	s := string(m.val)
	digits := strings.TrimPrefix(s, "-")
	if len(digits) == 0 || len(digits) > 16 || strings.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' }) >= 0 ||
		(len(digits) > 1 && digits[0] == '0') {
		return 0, fmt.Errorf("%w: %s", ErrInvalidClaim, name)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > maxSafeInt || n < -maxSafeInt {
		return 0, fmt.Errorf("%w: %s", ErrInvalidClaim, name)
	}
	return n, nil
}

func audienceMatches(m member, want string) bool {
	switch m.k {
	case kindString:
		return stringValue(m) == want
	case kindArray:
		found := false
		p := parser{b: m.val}
		p.i = 1
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == ']' {
			return false
		}
		for {
			p.ws()
			start := p.i
			k, err := p.value(1)
			if err != nil || k != kindString {
				return false
			}
			if s, _ := decodeString(p.b[start+1 : p.i-1]); s == want {
				found = true
			}
			p.ws()
			if p.i >= len(p.b) {
				return false
			}
			if p.b[p.i] == ']' {
				return found
			}
			p.i++ // ','
		}
	}
	return false
}

// idClaims returns the named claims as strings: missing_claim for the first absent one, then
// invalid_claim for the first that is not a string.
func idClaims(p *object, names ...string) ([]string, error) {
	for _, n := range names {
		if _, ok := p.present(n); !ok {
			return nil, fmt.Errorf("%w: %s", ErrMissingClaim, n)
		}
	}
	out := make([]string, len(names))
	for i, n := range names {
		m, _ := p.present(n)
		if m.k != kindString {
			return nil, fmt.Errorf("%w: %s", ErrInvalidClaim, n)
		}
		out[i] = stringValue(m)
	}
	return out, nil
}

// stringValue decodes a string member; other kinds give "".
func stringValue(m member) string {
	if m.k != kindString {
		return ""
	}
	s, _ := decodeString(m.val[1 : len(m.val)-1])
	return s
}

// isID and isRole are the contract's id and role formats (docs/reason-codes.md).
var (
	isID   = contract.IsValidID
	isRole = contract.IsValidRole
)
