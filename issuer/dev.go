package issuer

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/qubital/office-router/contract"
	"github.com/qubital/office-router/internal/httpx"
	"github.com/qubital/office-router/internal/rsakey"
)

// DevIdPIssuer is the `iss` of dev-mode access tokens.
const DevIdPIssuer = "office-router-dev-idp"

// devIdP stands in for WorkOS in dev mode: it signs WorkOS-shaped access tokens with an
// ephemeral key, and the normal authenticator verifies them like real ones.
type devIdP struct {
	key *rsa.PrivateKey
	kid string
	now func() time.Time
}

func newDevIdP(now func() time.Time) (*devIdP, Authenticator, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	d := &devIdP{key: key, kid: rsakey.Thumbprint(&key.PublicKey), now: now}
	jwk, err := jwkset.NewJWKFromKey(&key.PublicKey, jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{KID: d.kid, ALG: jwkset.AlgRS256, USE: jwkset.UseSig},
	})
	if err != nil {
		return nil, nil, err
	}
	store := jwkset.NewMemoryStorage()
	if err := store.KeyWrite(context.Background(), jwk); err != nil {
		return nil, nil, err
	}
	return d, newKeysAuth(localKeys{store}, DevIdPIssuer), nil
}

// accessToken mints a one-hour WorkOS-shaped access token.
func (d *devIdP) accessToken(id Identity) (string, error) {
	now := d.now().Unix()
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": DevIdPIssuer, "sub": id.UserID, "org_id": id.OrgID, "role": id.Role,
		"sid": "dev_" + newJTI(), "jti": newJTI(), "iat": now, "exp": now + 3600,
	})
	t.Header["kid"] = d.kid
	return t.SignedString(d.key)
}

type devSessionRequest struct {
	UserID string `json:"userId"`
	OrgID  string `json:"orgId"`
	Role   string `json:"role"`
}

// handleDevSession is POST /dev/session: {"userId","orgId","role"} → {"accessToken"}.
func (s *Server) handleDevSession(w http.ResponseWriter, r *http.Request) error {
	var req devSessionRequest
	if err := decodeJSONBody(r, &req); err != nil {
		return err
	}
	if req.Role == "" {
		req.Role = DefaultRole
	}
	if !contract.IsValidID(req.UserID) || !contract.IsValidID(req.OrgID) || !contract.IsValidRole(req.Role) {
		return fmt.Errorf("%w: userId and orgId must be 1-128 of [A-Za-z0-9_-], role 1-64 of [a-z0-9_-]", ErrBadRequest)
	}
	tok, err := s.dev.accessToken(Identity(req))
	if err != nil {
		return err
	}
	s.m.minted.WithLabelValues("dev_session").Inc()
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"accessToken": tok})
	return nil
}

func decodeJSONBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if _, ok := err.(*http.MaxBytesError); ok {
			return ErrBodyTooLarge
		}
		return fmt.Errorf("%w: body must be a JSON object", ErrBadRequest)
	}
	if dec.More() {
		return fmt.Errorf("%w: one JSON object only", ErrBadRequest)
	}
	return nil
}
