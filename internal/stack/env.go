package stack

import "os"

// ConfigVars are the environment variables that the issuer and the edge proxy read (the tables of
// docs/configuration.md; TestConfigVarsMatchDocs keeps the two together).
var ConfigVars = []string{
	// issuer
	"JWT_PRIVATE_KEY", "JWT_PRIVATE_KEY_FILE", "JWT_PREVIOUS_PUBLIC_KEYS", "JWT_NEXT_PUBLIC_KEYS",
	"JWT_ISSUER", "JWT_AUDIENCE", "WEBSOCKET_BASE_URL", "WORKOS_JWKS_URL", "WORKOS_ISSUER",
	"WORKOS_CLIENT_ID", "MINTS_PER_SECOND", "MINT_BURST", "SUPABASE_JWT_SECRET", "ALLOWED_ORIGINS",
	// routers
	"CONN_JWT_PUBLIC_KEY", "CONN_JWKS_URL", "JWT_LEEWAY_SECONDS", "JWT_MAX_TTL_SECONDS", "TRUSTED_PROXIES",
	"MAX_SESSION_SECONDS",
	// the Worker's limits (the Go proxy takes flags; Wrangler clears wrangler.jsonc's names itself)
	"MAX_CONNS_PER_USER", "MAX_CONNS_PER_ORG", "MESSAGES_PER_SECOND", "MESSAGE_BURST",
}

// ServerEnv is the environment for an issuer or edge proxy that a test or the dev stack starts:
// this process's environment without ConfigVars, then extra ("NAME=value"). A developer's shell
// that exports JWT_ISSUER, CONN_JWKS_URL or JWT_PRIVATE_KEY (say, to run a real issuer) would
// otherwise reach the child: a dev issuer minting for the wrong `iss`, a proxy refusing a PEM and
// a JWKS URL at once, and every e2e case failing for a reason that is not in the code.
func ServerEnv(extra ...string) []string {
	return append(withoutVars(os.Environ(), ConfigVars), extra...)
}
