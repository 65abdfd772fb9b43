package issuer

import (
	"errors"
	"net/http"
)

// Caller-facing errors. Each maps to one HTTP status and one JSON reason code in errorStatus;
// the table is in docs/reason-codes.md.
var (
	ErrMissingToken     = errors.New("missing_token")
	ErrInvalidToken     = errors.New("invalid_token")
	ErrTokenExpired     = errors.New("token_expired")
	ErrNoOrganization   = errors.New("no_organization")
	ErrIdPUnavailable   = errors.New("identity_provider_unavailable")
	ErrRealtimeDisabled = errors.New("realtime_not_configured")
	ErrBadRequest       = errors.New("bad_request")
	ErrBodyTooLarge     = errors.New("body_too_large")
	ErrNotFound         = errors.New("not_found")
	ErrMethodNotAllowed = errors.New("method_not_allowed")
	ErrOriginNotAllowed = errors.New("origin_not_allowed")
	errInternal         = errors.New("internal")
)

var statusOf = map[error]int{
	ErrMissingToken:     http.StatusUnauthorized,
	ErrInvalidToken:     http.StatusUnauthorized,
	ErrTokenExpired:     http.StatusUnauthorized,
	ErrNoOrganization:   http.StatusForbidden,
	ErrInvalidIdentity:  http.StatusForbidden,
	ErrIdPUnavailable:   http.StatusServiceUnavailable,
	ErrRealtimeDisabled: http.StatusServiceUnavailable,
	ErrBadRequest:       http.StatusBadRequest,
	ErrBodyTooLarge:     http.StatusRequestEntityTooLarge,
	ErrNotFound:         http.StatusNotFound,
	ErrMethodNotAllowed: http.StatusMethodNotAllowed,
	ErrOriginNotAllowed: http.StatusForbidden,
	ErrRateLimited:      http.StatusTooManyRequests,
}

// errorStatus is the one place that maps an error to its HTTP status and reason code.
func errorStatus(err error) (int, string) {
	for e, st := range statusOf {
		if errors.Is(err, e) {
			return st, e.Error()
		}
	}
	return http.StatusInternalServerError, errInternal.Error()
}
