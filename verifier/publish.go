package verifier

import "errors"

// ErrBadPublishBody: a publish body that breaks the contract of docs/protocol.md. Routers
// answer it with 400 bad_request.
var ErrBadPublishBody = errors.New("publish body is not {\"to\"?: <user id>, \"data\": <any>}")

// PublishBody is an accepted publish body.
type PublishBody struct {
	To   string // the recipient user; empty means the whole org
	Data []byte // the raw JSON value of "data" ("null" included), as it appeared in the body
}

// ParsePublishBody reads a backend publish body with the strict reader that reads tokens, so
// that both twins agree on every body (testdata/vectors/publish.json): exactly one JSON object
// whose keys, after unescaping, are "data" (required, any JSON value, null included) and
// optionally "to" (a string that is a valid user id). Anything else is ErrBadPublishBody:
// another key or a case variant, a duplicate key at any depth, "to" null or not a string,
// invalid UTF-8, a BOM, trailing bytes. encoding/json would take {"to":null} for an absent
// "to" (a broadcast to the whole org) and {"TO":…} for "to".
func ParsePublishBody(b []byte) (PublishBody, error) {
	var o object
	if parseTopObject(b, &o) != nil {
		return PublishBody{}, ErrBadPublishBody
	}
	var out PublishBody
	hasData := false
	for _, m := range o.m {
		switch {
		case keyEquals(m.key, "data"):
			out.Data, hasData = m.val, true
		case keyEquals(m.key, "to"):
			if m.k != kindString {
				return PublishBody{}, ErrBadPublishBody
			}
			to, ok := decodeString(m.val[1 : len(m.val)-1])
			if !ok || !isID(to) {
				return PublishBody{}, ErrBadPublishBody
			}
			out.To = to
		default:
			return PublishBody{}, ErrBadPublishBody
		}
	}
	if !hasData {
		return PublishBody{}, ErrBadPublishBody
	}
	return out, nil
}
