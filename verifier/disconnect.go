package verifier

import (
	"errors"
	"math"
	"strconv"

	"github.com/qubital/office-router/contract"
)

// ErrBadDisconnectBody: a disconnect body that breaks the contract of docs/protocol.md. Routers
// answer it with 400 bad_request.
var ErrBadDisconnectBody = errors.New(`disconnect body is not {"userId": <user id>, "code": 4001|4003, "blockSeconds"?: 0-3600}`)

// MaxBlockSeconds is the longest block one disconnect call may set.
const MaxBlockSeconds = 3600

// DisconnectBody is an accepted disconnect body.
type DisconnectBody struct {
	UserID string // the user whose sockets in the org are closed
	Code   int    // contract.CloseReauthRequired or contract.CloseRevoked
	// BlockSeconds refuses the user's new handshakes in the org for that long (0–MaxBlockSeconds;
	// 0, or absent, blocks nothing and lifts nothing).
	BlockSeconds int
}

// ParseDisconnectBody reads a POST /orgs/{orgId}/disconnect body with the strict reader that
// reads tokens and publish bodies (testdata/vectors/disconnect.json): exactly one JSON object
// whose keys, after unescaping, are "userId" (required, a string in the id format), "code"
// (required, a number whose value is 4001 or 4003) and optionally "blockSeconds" (a number whose
// value is an integer 0–3600). Numbers are judged by value, as JSON.parse reads them in the
// Worker: 4001.0 and 4.001e3 are 4001. Anything else is ErrBadDisconnectBody: another key or a
// case variant, null for any member, a duplicate key at any depth, invalid UTF-8, a BOM,
// trailing bytes.
func ParseDisconnectBody(b []byte) (DisconnectBody, error) {
	var o object
	if parseTopObject(b, &o) != nil {
		return DisconnectBody{}, ErrBadDisconnectBody
	}
	var out DisconnectBody
	var hasUser, hasCode bool
	for _, m := range o.m {
		switch {
		case keyEquals(m.key, "userId"):
			if m.k != kindString {
				return DisconnectBody{}, ErrBadDisconnectBody
			}
			u, ok := decodeString(m.val[1 : len(m.val)-1])
			if !ok || !isID(u) {
				return DisconnectBody{}, ErrBadDisconnectBody
			}
			out.UserID, hasUser = u, true
		case keyEquals(m.key, "code"):
			n, ok := integerValue(m, contract.CloseReauthRequired, contract.CloseRevoked)
			if !ok || (n != contract.CloseReauthRequired && n != contract.CloseRevoked) {
				return DisconnectBody{}, ErrBadDisconnectBody
			}
			out.Code, hasCode = n, true
		case keyEquals(m.key, "blockSeconds"):
			n, ok := integerValue(m, 0, MaxBlockSeconds)
			if !ok {
				return DisconnectBody{}, ErrBadDisconnectBody
			}
			out.BlockSeconds = n
		default:
			return DisconnectBody{}, ErrBadDisconnectBody
		}
	}
	if !hasUser || !hasCode {
		return DisconnectBody{}, ErrBadDisconnectBody
	}
	return out, nil
}

// integerValue reads a number member whose value (as an IEEE double, as JavaScript reads it) is
// an integer in [lo, hi]. -0 is 0.
func integerValue(m member, lo, hi int) (int, bool) {
	if m.k != kindNumber {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(m.val), 64)
	if err != nil || f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
		return 0, false
	}
	return int(f), true
}
