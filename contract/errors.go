package contract

import (
	"errors"
	"net/http"
)

// Error is a rejection with a stable reason code and the HTTP status a router answers it with:
// the public contract listed in docs/reason-codes.md. Match the sentinels below with errors.Is;
// detail added with fmt.Errorf("%w: ...") never contains token material.
type Error struct {
	Reason string
	// Status is the HTTP status a router answers with.
	Status int
}

func (e *Error) Error() string { return e.Reason }

func reason(code string, status int) *Error { return &Error{Reason: code, Status: status} }

// Handshake and publish token reasons, in the order the rules are checked. See docs/reason-codes.md.
var (
	ErrMissingToken     = reason("missing_token", http.StatusUnauthorized)
	ErrTokenTooLarge    = reason("token_too_large", http.StatusUnauthorized)
	ErrMalformed        = reason("malformed", http.StatusUnauthorized)
	ErrAlgNotAllowed    = reason("alg_not_allowed", http.StatusUnauthorized)
	ErrMissingKID       = reason("missing_kid", http.StatusUnauthorized)
	ErrUnknownKID       = reason("unknown_kid", http.StatusUnauthorized)
	ErrBadSignature     = reason("bad_signature", http.StatusUnauthorized)
	ErrExpired          = reason("expired", http.StatusUnauthorized)
	ErrNotYetValid      = reason("not_yet_valid", http.StatusUnauthorized)
	ErrIssuedInFuture   = reason("issued_in_future", http.StatusUnauthorized)
	ErrLifetimeExceeded = reason("lifetime_exceeded", http.StatusUnauthorized)
	ErrWrongIssuer      = reason("wrong_issuer", http.StatusUnauthorized)
	ErrWrongAudience    = reason("wrong_audience", http.StatusUnauthorized)
	ErrWrongScope       = reason("wrong_scope", http.StatusUnauthorized)
	ErrMissingClaim     = reason("missing_claim", http.StatusUnauthorized)
	ErrInvalidClaim     = reason("invalid_claim", http.StatusUnauthorized)
	ErrClaimMismatch    = reason("claim_mismatch", http.StatusUnauthorized)
	ErrReplayed         = reason("replayed", http.StatusUnauthorized)

	// ErrKeysUnavailable means a JWKS-backed verifier has no keys at all (the JWKS has never been
	// fetched): the service is not ready, the token may be fine.
	ErrKeysUnavailable = reason("keys_unavailable", http.StatusServiceUnavailable)
)

// Router reasons (not about the token itself), shared by the issuer and both routers.
var (
	ErrOriginNotAllowed = reason("origin_not_allowed", http.StatusForbidden)
	ErrOrgMismatch      = reason("org_mismatch", http.StatusForbidden)
	// ErrRevoked: the user is blocked in this org (POST /orgs/{orgId}/disconnect with
	// blockSeconds) until the block expires. Answered after the token is verified and spent.
	ErrRevoked            = reason("revoked", http.StatusForbidden)
	ErrNotFound           = reason("not_found", http.StatusNotFound)
	ErrMethodNotAllowed   = reason("method_not_allowed", http.StatusMethodNotAllowed)
	ErrBadHandshake       = reason("bad_handshake", http.StatusBadRequest)
	ErrUnsupportedVersion = reason("unsupported_websocket_version", http.StatusUpgradeRequired)
	ErrTooManyConnections = reason("too_many_connections", http.StatusTooManyRequests)
	ErrRateLimited        = reason("rate_limited", http.StatusTooManyRequests)
	ErrBadRequest         = reason("bad_request", http.StatusBadRequest)
	ErrBodyTooLarge       = reason("body_too_large", http.StatusRequestEntityTooLarge)
	ErrShuttingDown       = reason("shutting_down", http.StatusServiceUnavailable)
	ErrUpstream           = reason("upstream_unavailable", http.StatusBadGateway)
)

// Issuer reasons: about the caller's WorkOS access token and what the issuer can mint.
var (
	ErrInvalidToken   = reason("invalid_token", http.StatusUnauthorized)
	ErrTokenExpired   = reason("token_expired", http.StatusUnauthorized)
	ErrNoOrganization = reason("no_organization", http.StatusForbidden)
	// ErrInvalidIdentity means a user, org or role does not fit the handshake-token formats, so
	// no router would accept a token minted for it.
	ErrInvalidIdentity  = reason("invalid_identity", http.StatusForbidden)
	ErrIdPUnavailable   = reason("identity_provider_unavailable", http.StatusServiceUnavailable)
	ErrRealtimeDisabled = reason("realtime_not_configured", http.StatusServiceUnavailable)
)

// Reasons lists every token reason code, in rule order.
func Reasons() []string {
	all := []*Error{ErrMissingToken, ErrTokenTooLarge, ErrMalformed, ErrAlgNotAllowed, ErrMissingKID,
		ErrUnknownKID, ErrBadSignature, ErrExpired, ErrNotYetValid, ErrIssuedInFuture,
		ErrLifetimeExceeded, ErrWrongIssuer, ErrWrongAudience, ErrWrongScope, ErrMissingClaim,
		ErrInvalidClaim, ErrClaimMismatch, ErrReplayed}
	out := make([]string, len(all))
	for i, e := range all {
		out[i] = e.Reason
	}
	return out
}

// ReasonInternal is the reason code of an error that is not a rejection.
const ReasonInternal = "internal"

// Reason returns the reason code carried by err (the outermost *Error in its chain, so which
// one wins is fixed), or "internal" when err is not a rejection.
func Reason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ReasonInternal
}

// Status returns the HTTP status for err: the rejection's own, or 500.
func Status(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return http.StatusInternalServerError
}
