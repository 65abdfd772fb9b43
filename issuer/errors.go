package issuer

import "github.com/qubital/office-router/contract"

// Caller-facing errors. Each is a *contract.Error carrying its HTTP status and JSON reason code,
// so contract.Status and contract.Reason map any of them (errorStatus); the table is in
// docs/reason-codes.md.
var (
	ErrMissingToken     = contract.ErrMissingToken
	ErrInvalidToken     = contract.ErrInvalidToken
	ErrTokenExpired     = contract.ErrTokenExpired
	ErrNoOrganization   = contract.ErrNoOrganization
	ErrIdPUnavailable   = contract.ErrIdPUnavailable
	ErrRealtimeDisabled = contract.ErrRealtimeDisabled
	ErrBadRequest       = contract.ErrBadRequest
	ErrBodyTooLarge     = contract.ErrBodyTooLarge
	ErrNotFound         = contract.ErrNotFound
	ErrMethodNotAllowed = contract.ErrMethodNotAllowed
	ErrOriginNotAllowed = contract.ErrOriginNotAllowed
	// ErrInvalidIdentity means a user, org or role does not fit the handshake-token formats, so
	// no router would accept a token minted for it.
	ErrInvalidIdentity = contract.ErrInvalidIdentity
	// ErrRateLimited: the caller has minted too many tokens; 429 with Retry-After.
	ErrRateLimited = contract.ErrRateLimited
)

// errorStatus is the one place that maps an error to its HTTP status and reason code.
func errorStatus(err error) (int, string) { return contract.Status(err), contract.Reason(err) }
