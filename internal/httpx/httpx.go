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
	WriteRawJSON(w, status, append(b, '\n'))
}

// WriteRawJSON writes body, already JSON, with status and the headers of every JSON answer
// (never cached: an answer can name its user; never sniffed). The proxy relays an upstream's
// answer with it, so that a relayed answer has the headers of the proxy's own.
func WriteRawJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// ErrorBody is the body of every error answer: docs/reason-codes.md.
type ErrorBody struct {
	Error string `json:"error"`
}

// WriteError writes {"error": code} with status.
func WriteError(w http.ResponseWriter, status int, code string) {
	WriteJSON(w, status, ErrorBody{Error: code})
}
