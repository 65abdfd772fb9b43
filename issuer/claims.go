package issuer

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// readClaims are the access-token claims the issuer reads. Go's JSON decoding turns a null into
// the zero value, which is how an absent claim looks: `"client_id": null` would skip the
// WORKOS_CLIENT_ID check and `"role": null` would become DefaultRole. The house rule is no
// null-as-absent, so a null in any of them refuses the token.
var readClaims = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "org_id", "role", "client_id"}

// nullClaim names the first claim of readClaims that the token's payload sets to null; "" if none.
// It runs after the signature is verified, so the payload is well-formed JSON of the signer's.
func nullClaim(accessToken string) (string, error) {
	parts := strings.Split(accessToken, ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("%w: not a JWS", ErrInvalidToken)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", fmt.Errorf("%w: payload: %v", ErrInvalidToken, err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", fmt.Errorf("%w: payload: %v", ErrInvalidToken, err)
	}
	for _, k := range readClaims {
		if v, ok := m[k]; ok && string(v) == "null" {
			return k, nil
		}
	}
	return "", nil
}
