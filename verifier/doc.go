// Package verifier checks office-router handshake tokens with exactly the rules of the
// office-router Worker, reason codes and all.
//
// A handshake token is a 60-second RS256 JWT minted by the issuer. The rules, checked in order
// with the first failure as the reason, are listed in docs/reason-codes.md; the shared
// conformance vectors in testdata/vectors/handshake.json hold this package and the Worker
// (worker/src/verify.ts) to them.
//
// Start with New and a Config (or ConfigFromEnv), then call Verify for each handshake:
//
//	v, err := verifier.New(verifier.Config{PublicKeysPEM: pem, Issuer: "qubital-backend", Audience: "office-router"})
//	id, err := v.Verify(ctx, token)
//	if err != nil {
//		reason := verifier.Reason(err) // e.g. "expired", sent as {"error":"expired"}
//	}
//
// contract.Extract takes the token from an HTTP upgrade request (Authorization or subprotocol),
// and ReplayCache rejects a token used twice. The reason errors are package contract's; the
// names here (ErrExpired, Reason, Status, …) are the same values. Keys come from CONN_JWT_PUBLIC_KEY (PEM, kid =
// RFC 7638 thumbprint) or CONN_JWKS_URL (refreshed every minute; a new kid waits for one
// rate-limited fetch, see keys.go and docs/operations.md).
package verifier
