package verifier

import "github.com/qubital/office-router/contract"

// The reason errors are part of the contract (package contract, docs/reason-codes.md); these
// names keep the verifier's API. They are the same values, so errors.Is matches either name.

// Error is contract.Error: a rejection with a stable reason code and its HTTP status.
type Error = contract.Error

// Handshake and publish token reasons, in the order the rules are checked.
var (
	ErrMissingToken     = contract.ErrMissingToken
	ErrTokenTooLarge    = contract.ErrTokenTooLarge
	ErrMalformed        = contract.ErrMalformed
	ErrAlgNotAllowed    = contract.ErrAlgNotAllowed
	ErrMissingKID       = contract.ErrMissingKID
	ErrUnknownKID       = contract.ErrUnknownKID
	ErrBadSignature     = contract.ErrBadSignature
	ErrExpired          = contract.ErrExpired
	ErrNotYetValid      = contract.ErrNotYetValid
	ErrIssuedInFuture   = contract.ErrIssuedInFuture
	ErrLifetimeExceeded = contract.ErrLifetimeExceeded
	ErrWrongIssuer      = contract.ErrWrongIssuer
	ErrWrongAudience    = contract.ErrWrongAudience
	ErrWrongScope       = contract.ErrWrongScope
	ErrMissingClaim     = contract.ErrMissingClaim
	ErrInvalidClaim     = contract.ErrInvalidClaim
	ErrClaimMismatch    = contract.ErrClaimMismatch
	ErrReplayed         = contract.ErrReplayed
	ErrKeysUnavailable  = contract.ErrKeysUnavailable
	ErrOriginNotAllowed = contract.ErrOriginNotAllowed
	ErrOrgMismatch      = contract.ErrOrgMismatch
	ErrRevoked          = contract.ErrRevoked
)

// Reasons is contract.Reasons: every token reason code, in rule order.
func Reasons() []string { return contract.Reasons() }

// Reason is contract.Reason: the reason code carried by err, or "internal".
func Reason(err error) string { return contract.Reason(err) }

// Status is contract.Status: the HTTP status for err, or 500.
func Status(err error) int { return contract.Status(err) }
