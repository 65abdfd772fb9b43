// Package contract is the office-router contract written once in Go: the reason errors with
// their HTTP status, the WebSocket close codes, where a handshake token is found (Authorization
// or subprotocol) and how a bearer header is parsed, the id and role formats, the subprotocol
// names, and the typed handshake and publish claim sets.
//
// The issuer mints with it, the verifier and the Go proxy check with it, and the test vectors,
// the harness and the bench craft tokens with it, so none of them spells the contract again.
// The prose is in docs/protocol.md and docs/reason-codes.md; the Worker implements the same
// contract in TypeScript (worker/src).
//
// It lives at the root, not under internal/, because it is part of the public API of issuer,
// verifier and proxy: their errors are *contract.Error values that callers match with
// errors.Is, and a backend that mints its own tokens can use HandshakeClaims.
//
// Start with Reason and Status, which turn any error into the JSON reason code and HTTP status
// of an answer:
//
//	httpx.WriteError(w, contract.Status(err), contract.Reason(err))
package contract
