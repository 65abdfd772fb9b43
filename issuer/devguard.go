package issuer

import (
	"errors"
	"fmt"
)

// DevBanner is what issuer -dev prints to stderr at start, next to the WARN line New logs: a dev
// issuer must never be mistaken for a production one.
const DevBanner = `
  ###################################################################
  #  ISSUER IN DEV MODE: POST /dev/session mints tokens for ANY     #
  #  user, org and role, signed with a dev key. Never expose it     #
  #  beyond this machine; never run it next to production keys.    #
  ###################################################################`

// checkDevIsolation keeps dev mode and production settings apart (issue 13, item 8). In dev
// mode /dev/session lets anyone mint tokens for any org and role, so it must never sign them
// with a production key or secret, nor sit next to a real identity provider; the dev stack
// passes its key through DevPrivateKeyPEM (issuer -dev-key-file) instead. SUPABASE_JWT_SECRET
// is a signing key too: with it, /dev/session plus /api/v1/realtime/token mint Realtime tokens
// that production Supabase accepts, for any user. Each error names the variable.
func (c *Config) checkDevIsolation() error {
	if !c.Dev {
		if c.DevPrivateKeyPEM != "" {
			return errors.New("DevPrivateKeyPEM is only for Dev mode")
		}
		return nil
	}
	for _, v := range []struct{ name, value string }{
		{"JWT_PRIVATE_KEY", c.PrivateKeyPEM},
		{"JWT_PRIVATE_KEY_FILE", c.PrivateKeyFile},
		{"WORKOS_JWKS_URL", c.WorkOSJWKSURL},
		{"SUPABASE_JWT_SECRET", c.SupabaseJWTSecret},
	} {
		if v.value != "" {
			return fmt.Errorf("Dev mode refuses to start with %s set: dev mode mints tokens for anyone; unset it (a dev key goes in DevPrivateKeyPEM)", v.name)
		}
	}
	return nil
}
