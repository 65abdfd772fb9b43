package httpx_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/qubital/office-router/internal/httpx"
)

func TestAllowOrigin(t *testing.T) {
	o := httpx.NewOrigins([]string{"https://app.test"})
	for _, tt := range []struct {
		name, origin string
		want         bool
	}{
		{"allowed", "https://app.test", true},
		{"other", "https://evil.test", false},
		{"none", "", false},
		{"null", "null", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if got := o.AllowOrigin(h, tt.origin); got != tt.want {
				t.Fatalf("AllowOrigin(%q) = %v, want %v", tt.origin, got, tt.want)
			}
			wantACAO, wantVary, wantLen := "", "", 0
			if tt.want {
				wantACAO, wantVary, wantLen = tt.origin, "Origin", 2
			}
			if h.Get("Access-Control-Allow-Origin") != wantACAO || h.Get("Vary") != wantVary || len(h) != wantLen {
				t.Fatalf("headers %v", h)
			}
		})
	}
}

func TestPreflight(t *testing.T) {
	for _, tt := range []struct {
		name, method, acrm string
		want               bool
	}{
		{"pre-flight", http.MethodOptions, "POST", true},
		{"OPTIONS without a requested method", http.MethodOptions, "", false},
		{"GET with a requested method", http.MethodGet, "POST", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/", nil)
			if tt.acrm != "" {
				r.Header.Set("Access-Control-Request-Method", tt.acrm)
			}
			if got := httpx.IsPreflight(r); got != tt.want {
				t.Fatalf("IsPreflight = %v, want %v", got, tt.want)
			}
		})
	}
	rec := httptest.NewRecorder()
	httpx.WritePreflight(rec)
	if rec.Code != http.StatusNoContent || rec.Body.Len() != 0 ||
		rec.Header().Get("Access-Control-Allow-Methods") != "GET, POST, OPTIONS" ||
		rec.Header().Get("Access-Control-Allow-Headers") != "Authorization, Content-Type" ||
		rec.Header().Get("Access-Control-Max-Age") != "600" {
		t.Fatalf("WritePreflight: %d %v %q", rec.Code, rec.Header(), rec.Body.String())
	}
}
