// Package issuer is the office-router token service: it authenticates a user by their WorkOS
// access token and mints the 60-second RS256 handshake token that opens their organisation's
// WebSocket, plus a Supabase Realtime token.
//
// Routes (docs/protocol.md):
//
//	POST /api/v1/cloudflare/request-access  → {"token","url","expiresAt"}
//	POST /api/v1/realtime/token             → {"token","expiresAt"}
//	GET  /.well-known/jwks.json             → the public signing keys
//	GET  /healthz, /readyz, /metrics
//	POST /dev/session                       → {"accessToken"} (dev mode only)
//
// Start with New(ConfigFromEnv(os.Getenv)) and serve the Server as an http.Handler;
// cmd/issuer does exactly that. Errors are sentinels mapped to a status and a JSON reason
// code in one place (errors.go). Minter and Publisher are usable on their own, e.g. for a
// backend that pushes events to sockets.
package issuer
