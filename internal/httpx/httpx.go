// Package httpx holds the small HTTP helpers the issuer and the edge proxy share: JSON bodies,
// the `{"error":"<reason_code>"}` shape of every error, and origin matching.
package httpx

import (
	"encoding/json"
	"net/http"
	"strings"
)

// WriteJSON writes v as a JSON body with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// ErrorBody is the body of every error answer: docs/reason-codes.md.
type ErrorBody struct {
	Error string `json:"error"`
}

// WriteError writes {"error": code} with status.
func WriteError(w http.ResponseWriter, status int, code string) {
	WriteJSON(w, status, ErrorBody{Error: code})
}

// Origins is an ALLOWED_ORIGINS list. Entries match exactly (scheme, host and port), after
// trimming a trailing slash; "*" matches any origin.
type Origins []string

// NewOrigins normalises a list.
func NewOrigins(list []string) Origins {
	out := make(Origins, 0, len(list))
	for _, o := range list {
		out = append(out, strings.TrimRight(strings.TrimSpace(o), "/"))
	}
	return out
}

// Allowed reports whether origin is in the list. "null" and the empty string are never allowed
// unless listed literally.
func (o Origins) Allowed(origin string) bool {
	for _, a := range o {
		if a == origin || (a == "*" && origin != "" && origin != "null") {
			return true
		}
	}
	return false
}
