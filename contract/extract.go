package contract

import (
	"fmt"
	"net/http"
	"strings"
)

// Subprotocol is the WebSocket subprotocol of the office-router protocol. A browser, which cannot
// set Authorization on an upgrade, offers ["office-router.v1", "bearer.<jwt>"]; the server then
// selects Subprotocol, never the token entry.
const Subprotocol = "office-router.v1"

// BearerSubprotocolPrefix starts the subprotocol entry that carries the token: "bearer.<jwt>".
const BearerSubprotocolPrefix = "bearer."

const (
	bearerProtocolPrefix = BearerSubprotocolPrefix
	// maxSubprotocols bounds the offered list; longer lists are refused as malformed.
	maxSubprotocols = 16
)

// Extracted is a handshake token and where it came from.
type Extracted struct {
	Token string
	// Select is the subprotocol the server must select in its 101 response ("" for none).
	Select string
	// FromSubprotocol is true when the token came from the subprotocol list.
	FromSubprotocol bool
}

// Extract finds the handshake token of r: `Authorization: Bearer <jwt>`, or the
// Sec-WebSocket-Protocol list `office-router.v1, bearer.<jwt>`. Never the query string.
// The rules (one token only, list size) are in docs/protocol.md.
func Extract(r *http.Request) (Extracted, error) {
	return ExtractFrom(r.Header.Values("Authorization"), r.Header.Values("Sec-WebSocket-Protocol"))
}

// ExtractFrom is Extract over raw header values, for callers without an *http.Request.
func ExtractFrom(authorization, protocols []string) (Extracted, error) {
	var out Extracted
	var offered []string
	for _, h := range protocols {
		for _, p := range strings.Split(h, ",") {
			offered = append(offered, strings.TrimSpace(p))
		}
	}
	if len(offered) > maxSubprotocols {
		return out, fmt.Errorf("%w: too many subprotocols", ErrMalformed)
	}
	var bearer []string
	for _, p := range offered {
		switch {
		case p == Subprotocol:
			out.Select = Subprotocol
		case len(p) >= len(bearerProtocolPrefix) && strings.EqualFold(p[:len(bearerProtocolPrefix)], bearerProtocolPrefix):
			bearer = append(bearer, p[len(bearerProtocolPrefix):])
		}
	}
	if len(bearer) > 1 {
		return out, fmt.Errorf("%w: more than one bearer subprotocol", ErrMalformed)
	}
	if len(authorization) > 1 {
		return out, fmt.Errorf("%w: more than one Authorization header", ErrMalformed)
	}
	if len(authorization) == 1 {
		if len(bearer) == 1 {
			return out, fmt.Errorf("%w: token in both Authorization and subprotocol", ErrMalformed)
		}
		tok, ok := cutBearer(authorization[0])
		if !ok {
			return out, errNotBearer
		}
		if out.Token = tok; out.Token == "" {
			return out, ErrMissingToken
		}
		return out, nil
	}
	if len(bearer) == 0 || bearer[0] == "" {
		return out, ErrMissingToken
	}
	if out.Select == "" {
		return out, fmt.Errorf("%w: bearer subprotocol without %s", ErrMalformed, Subprotocol)
	}
	out.Token, out.FromSubprotocol = bearer[0], true
	return out, nil
}

var errNotBearer = fmt.Errorf("%w: Authorization is not a Bearer token", ErrMalformed)

// ParseBearer returns the token of one `Authorization: Bearer <token>` header value:
// ErrMissingToken when the value or the token is empty, ErrMalformed when the scheme is not
// Bearer. The publish route and the issuer use it; a handshake uses Extract.
func ParseBearer(authorization string) (string, error) {
	if authorization == "" {
		return "", ErrMissingToken
	}
	tok, ok := cutBearer(authorization)
	switch {
	case !ok:
		return "", errNotBearer
	case tok == "":
		return "", ErrMissingToken
	}
	return tok, nil
}

// cutBearer splits "Bearer <token>" (scheme case-insensitive, spaces trimmed).
func cutBearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(tok), true
}
