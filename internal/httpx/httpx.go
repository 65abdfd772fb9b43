// Package httpx holds the small HTTP helpers the issuer and the edge proxy share: JSON bodies,
// the `{"error":"<reason_code>"}` shape of every error, and origin matching.
package httpx

import (
	"encoding/json"
	"net/http"
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
