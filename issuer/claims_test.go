package issuer_test

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/qubital/office-router/issuer"
)

// TestNullClaimsRefused: a null claim is not an absent one (no null-as-absent). "client_id": null
// and "aud": null used to skip the WORKOS_CLIENT_ID check, "role": null became the default role.
func TestNullClaimsRefused(t *testing.T) {
	for _, clientID := range []string{"client_ours", ""} {
		ti := newTestIssuer(t, func(c *issuer.Config) { c.WorkOSClientID = clientID })
		now := time.Now().Unix()
		for _, k := range []string{"client_id", "aud", "role", "org_id", "sub", "iss", "nbf", "iat", "exp"} {
			t.Run(clientID+"/"+k, func(t *testing.T) {
				c := jwt.MapClaims{"iss": "https://api.workos.com", "sub": "user_01H", "org_id": "org_01H", "iat": now, "exp": now + 300}
				c[k] = nil
				status, _, body := ti.do(t, "POST", "/api/v1/cloudflare/request-access", nil, bearerHdr(ti.idp.token(t, c)))
				if status != 401 || body["error"] != "invalid_token" {
					t.Fatalf("%s: null: %d %v, want 401 invalid_token", k, status, body["error"])
				}
			})
		}
	}
}
