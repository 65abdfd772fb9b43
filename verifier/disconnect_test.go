package verifier_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/qubital/office-router/contract"
	"github.com/qubital/office-router/internal/vectors"
	"github.com/qubital/office-router/verifier"
)

// TestDisconnectVectors judges every shared disconnect body (the Worker reads the same file; the
// proxy runs it through real sockets).
func TestDisconnectVectors(t *testing.T) {
	f, err := vectors.LoadDisconnect("../testdata/vectors/disconnect.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) < 40 {
		t.Fatalf("only %d disconnect vectors", len(f.Cases))
	}
	seen := map[string]bool{}
	for _, c := range f.Cases {
		t.Run(c.Name, func(t *testing.T) {
			if seen[c.Name] {
				t.Fatalf("duplicate vector name %q", c.Name)
			}
			seen[c.Name] = true
			b, err := c.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			got, err := verifier.ParseDisconnectBody(b)
			switch c.Want.Status {
			case 200:
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				want := verifier.DisconnectBody{UserID: c.Want.UserID, Code: c.Want.Code, BlockSeconds: c.Want.BlockSeconds}
				if got != want {
					t.Fatalf("got %+v, want %+v", got, want)
				}
			case 400:
				if !errors.Is(err, verifier.ErrBadDisconnectBody) || c.Want.Error != "bad_request" {
					t.Fatalf("got %+v, %v; want bad_request", got, err)
				}
			default:
				t.Fatalf("want.status %d is not 200 or 400", c.Want.Status)
			}
		})
	}
}

// FuzzParseDisconnectBody: no input panics, and whatever is accepted is a valid user, one of
// the two close codes and a block within bounds, from an object of two or three members.
func FuzzParseDisconnectBody(f *testing.F) {
	for _, s := range []string{`{"userId":"u","code":4001}`, `{"userId":"u","code":4003,"blockSeconds":60}`,
		`{"userId":null,"code":4001}`, `{"userId":"u","code":4.001e3}`, `{"userId":"u","code":4001,"blockSeconds":-0}`,
		`{"userId":"u","code":4001,"blockSeconds":1e400}`, `{"userId":"u","code":4001,"c\u006fde":4003}`, "\ufeff{}", ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		body, err := verifier.ParseDisconnectBody(b)
		if err != nil {
			return
		}
		if !contract.IsValidID(body.UserID) || (body.Code != 4001 && body.Code != 4003) ||
			body.BlockSeconds < 0 || body.BlockSeconds > verifier.MaxBlockSeconds {
			t.Fatalf("accepted %+v", body)
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(b, &m) != nil || len(m) < 2 || len(m) > 3 {
			t.Fatalf("accepted %q, which is not an object of two or three members", b)
		}
	})
}
