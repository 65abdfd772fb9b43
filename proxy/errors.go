package proxy

import "github.com/qubital/office-router/contract"

// Router-level rejections. Token reasons come from package contract too; all of them are
// *contract.Error, so contract.Reason and contract.Status map any of them to the answer in one
// place (writeError). Table: docs/reason-codes.md.
var (
	ErrNotFound           = contract.ErrNotFound
	ErrMethodNotAllowed   = contract.ErrMethodNotAllowed
	ErrBadHandshake       = contract.ErrBadHandshake
	ErrUnsupportedVersion = contract.ErrUnsupportedVersion
	ErrTooManyConnections = contract.ErrTooManyConnections
	ErrRateLimited        = contract.ErrRateLimited
	ErrBadRequest         = contract.ErrBadRequest
	ErrBodyTooLarge       = contract.ErrBodyTooLarge
	ErrShuttingDown       = contract.ErrShuttingDown
	ErrUpstream           = contract.ErrUpstream
	ErrRevoked            = contract.ErrRevoked
)

// WebSocket close codes (docs/protocol.md#close-codes), from package contract.
const (
	CloseNormal       = contract.CloseNormal
	CloseGoingAway    = contract.CloseGoingAway
	CloseInvalidUTF8  = contract.CloseInvalidUTF8
	ClosePolicy       = contract.ClosePolicy
	CloseTooBig       = contract.CloseTooBig
	CloseInternal     = contract.CloseInternal
	CloseSlowConsumer = contract.CloseSlowConsumer

	CloseReauthRequired = contract.CloseReauthRequired
	CloseRevoked        = contract.CloseRevoked
)
