package httpx_test

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/qubital/office-router/internal/httpx"
)

// originVectors is testdata/vectors/origins.json, which worker/test/origins.test.ts reads too.
type originVectors struct {
	Valid         []string `json:"valid"`
	SocketInvalid []string `json:"socketInvalid"`
	Invalid       []string `json:"invalid"`
	Cases         []struct {
		Allowed []string `json:"allowed"`
		Origin  string   `json:"origin"`
		Want    bool     `json:"want"`
	} `json:"cases"`
}

func readOriginVectors(t *testing.T) originVectors {
	t.Helper()
	b, err := os.ReadFile("../../testdata/vectors/origins.json")
	if err != nil {
		t.Fatal(err)
	}
	var v originVectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Valid) < 5 || len(v.Invalid) < 5 || len(v.Cases) < 20 {
		t.Fatalf("vectors look truncated: %d valid, %d invalid, %d cases", len(v.Valid), len(v.Invalid), len(v.Cases))
	}
	return v
}

func TestOriginPatternsFromSharedVectors(t *testing.T) {
	v := readOriginVectors(t)
	for _, p := range v.Valid {
		if _, err := httpx.ParseOrigins([]string{p}); err != nil {
			t.Errorf("ParseOrigins(%q) = %v, want ok", p, err)
		}
	}
	for _, p := range v.Invalid {
		if _, err := httpx.ParseOrigins([]string{p}); !errors.Is(err, httpx.ErrBadOrigin) {
			t.Errorf("ParseOrigins(%q) = %v, want ErrBadOrigin", p, err)
		}
	}
}

func TestRoutersRefuseAnyOrigin(t *testing.T) {
	v := readOriginVectors(t)
	if len(v.SocketInvalid) == 0 {
		t.Fatal("no socketInvalid vectors")
	}
	for _, list := range v.SocketInvalid {
		entries := strings.Split(list, ",")
		if _, err := httpx.ParseOrigins(entries); err != nil {
			t.Errorf("ParseOrigins(%q) = %v: valid for CORS", list, err)
		}
		if _, err := httpx.ParseSocketOrigins(entries); !errors.Is(err, httpx.ErrAnyOriginForSockets) {
			t.Errorf("ParseSocketOrigins(%q) = %v, want ErrAnyOriginForSockets", list, err)
		}
	}
	if _, err := httpx.ParseSocketOrigins([]string{"https://*.example.com", "http://localhost:*"}); err != nil {
		t.Errorf("patterns refused for sockets: %v", err)
	}
}

func TestOriginMatchingFromSharedVectors(t *testing.T) {
	for _, c := range readOriginVectors(t).Cases {
		o, err := httpx.ParseOrigins(c.Allowed)
		if err != nil {
			t.Fatalf("%v: %v", c.Allowed, err)
		}
		if got := o.Allowed(c.Origin); got != c.Want {
			t.Errorf("%v allows %q = %v, want %v", c.Allowed, c.Origin, got, c.Want)
		}
	}
}
