package contract_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/qubital/office-router/contract"
)

func TestExtract(t *testing.T) {
	tests := []struct {
		name       string
		auth       []string
		protos     []string
		wantToken  string
		wantSelect string
		wantErr    error
	}{
		{"authorization", []string{"Bearer abc"}, nil, "abc", "", nil},
		{"authorization lower-case scheme", []string{"bearer abc"}, nil, "abc", "", nil},
		{"authorization with protocol offered", []string{"Bearer abc"}, []string{"office-router.v1"}, "abc", "office-router.v1", nil},
		{"subprotocol", nil, []string{"office-router.v1, bearer.abc"}, "abc", "office-router.v1", nil},
		{"subprotocol split headers", nil, []string{"office-router.v1", " bearer.abc "}, "abc", "office-router.v1", nil},
		{"nothing", nil, nil, "", "", contract.ErrMissingToken},
		{"basic auth", []string{"Basic dXNlcjpwYXNz"}, nil, "", "", contract.ErrMalformed},
		{"empty bearer", []string{"Bearer "}, nil, "", "", contract.ErrMalformed},
		{"empty subprotocol token", nil, []string{"office-router.v1, bearer."}, "", "", contract.ErrMissingToken},
		{"two bearer entries", nil, []string{"office-router.v1, bearer.a, bearer.b"}, "", "", contract.ErrMalformed},
		{"both positions", []string{"Bearer a"}, []string{"office-router.v1, bearer.b"}, "", "", contract.ErrMalformed},
		{"two authorization headers", []string{"Bearer a", "Bearer b"}, nil, "", "", contract.ErrMalformed},
		{"bearer without protocol", nil, []string{"bearer.abc"}, "", "", contract.ErrMalformed},
		{"too many subprotocols", nil, []string{strings.Repeat("x,", 40) + "office-router.v1, bearer.abc"}, "", "", contract.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := contract.ExtractFrom(tt.auth, tt.protos)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (got.Token != tt.wantToken || got.Select != tt.wantSelect) {
				t.Fatalf("got %+v", got)
			}
		})
	}
	r := httptest.NewRequest(http.MethodGet, "/orgs/o/ws?token=abc", nil)
	if _, err := contract.Extract(r); !errors.Is(err, contract.ErrMissingToken) {
		t.Fatalf("query-string token must be ignored, got %v", err)
	}
}

func TestReasonAndStatus(t *testing.T) {
	if got := contract.Reason(errors.New("x")); got != "internal" {
		t.Fatal(got)
	}
	wrapped := errors.Join(errors.New("ctx"), contract.ErrExpired)
	if contract.Reason(wrapped) != "expired" || contract.Status(wrapped) != http.StatusUnauthorized {
		t.Fatal("wrapped reason lost")
	}
	if contract.Status(contract.ErrOrgMismatch) != http.StatusForbidden {
		t.Fatal("org_mismatch must be 403")
	}
}

func TestParseBearer(t *testing.T) {
	tests := []struct {
		name    string
		header  string
		want    string
		wantErr error
	}{
		{"bearer", "Bearer abc", "abc", nil},
		{"lower-case scheme", "bearer abc", "abc", nil},
		{"spaces around", "  Bearer   abc  ", "abc", nil},
		{"absent", "", "", contract.ErrMissingToken},
		{"empty token", "Bearer  ", "", contract.ErrMalformed},
		{"scheme only", "Bearer", "", contract.ErrMalformed},
		{"basic", "Basic dXNlcjpwYXNz", "", contract.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := contract.ParseBearer(tt.header)
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Fatalf("ParseBearer(%q) = %q, %v; want %q, %v", tt.header, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// FuzzExtract: extraction never panics and never returns a token and an error together.
func FuzzExtract(f *testing.F) {
	f.Add("Bearer abc", "office-router.v1, bearer.abc")
	f.Add("", "office-router.v1, bearer.x, bearer.y")
	f.Add("Basic x", "")
	f.Fuzz(func(t *testing.T, auth, protos string) {
		var a, p []string
		if auth != "" {
			a = []string{auth}
		}
		if protos != "" {
			p = []string{protos}
		}
		got, err := contract.ExtractFrom(a, p)
		if err != nil {
			if !errors.Is(err, contract.ErrMalformed) && !errors.Is(err, contract.ErrMissingToken) {
				t.Fatalf("unexpected error kind %v", err)
			}
			return
		}
		if got.Token == "" {
			t.Fatal("no error and no token")
		}
		if got.FromSubprotocol && got.Select != contract.Subprotocol {
			t.Fatal("a subprotocol token must come with office-router.v1 selected")
		}
	})
}
