package proxy

import (
	"net/http"

	"github.com/qubital/office-router/verifier"
)

// Router-level rejections. Token reasons come from package verifier; all of them are
// *verifier.Error, so verifier.Reason and verifier.Status map any of them to the answer in one
// place (writeError). Table: docs/reason-codes.md.
var (
	ErrNotFound           = &verifier.Error{Reason: "not_found", Status: http.StatusNotFound}
	ErrMethodNotAllowed   = &verifier.Error{Reason: "method_not_allowed", Status: http.StatusMethodNotAllowed}
	ErrBadHandshake       = &verifier.Error{Reason: "bad_handshake", Status: http.StatusBadRequest}
	ErrUnsupportedVersion = &verifier.Error{Reason: "unsupported_websocket_version", Status: http.StatusUpgradeRequired}
	ErrTooManyConnections = &verifier.Error{Reason: "too_many_connections", Status: http.StatusTooManyRequests}
	ErrRateLimited        = &verifier.Error{Reason: "rate_limited", Status: http.StatusTooManyRequests}
	ErrBadRequest         = &verifier.Error{Reason: "bad_request", Status: http.StatusBadRequest}
	ErrBodyTooLarge       = &verifier.Error{Reason: "body_too_large", Status: http.StatusRequestEntityTooLarge}
	ErrShuttingDown       = &verifier.Error{Reason: "shutting_down", Status: http.StatusServiceUnavailable}
	ErrUpstream           = &verifier.Error{Reason: "upstream_unavailable", Status: http.StatusBadGateway}
)

// WebSocket close codes (docs/protocol.md#close-codes).
const (
	CloseNormal       = 1000
	CloseGoingAway    = 1001
	CloseInvalidUTF8  = 1007
	ClosePolicy       = 1008
	CloseTooBig       = 1009
	CloseInternal     = 1011
	CloseSlowConsumer = 4008
)
