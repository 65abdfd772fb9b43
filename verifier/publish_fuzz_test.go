package verifier_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/qubital/office-router/contract"
	"github.com/qubital/office-router/verifier"
)

// FuzzParsePublishBody: no input panics, and whatever is accepted is a valid recipient (or
// none) and one valid JSON value to deliver.
func FuzzParsePublishBody(f *testing.F) {
	for _, s := range []string{`{"data":1}`, `{"to":"u_carol","data":{"a":[1,2]}}`, `{"to":null,"data":1}`,
		`{"TO":"x","DATA":1}`, `{"data":1,"d\u0061ta":2}`, "\ufeff{\"data\":1}", `{"data":"\ud800"}`, `[]`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		body, err := verifier.ParsePublishBody(b)
		if err != nil {
			return
		}
		if body.To != "" && !contract.IsValidID(body.To) {
			t.Fatalf("accepted recipient %q", body.To)
		}
		if !json.Valid(body.Data) {
			t.Fatalf("accepted data %q is not JSON", body.Data)
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(b, &m) != nil || len(m) == 0 || len(m) > 2 {
			t.Fatalf("accepted %q, which is not an object of one or two members", b)
		}
	})
}

// TestPublishBodyOfManyKeysIsLinear: the duplicate-key check of a 64 KiB body of distinct keys
// (some 8,000) is not pairwise. Compared pairwise it took seconds of CPU per request on a Go
// router, and a refused body does not spend its publish token, so one token could repeat it for
// its whole lifetime. The bound is two orders of magnitude above today's cost and one below the
// pairwise one, -race included.
func TestPublishBodyOfManyKeysIsLinear(t *testing.T) {
	for _, tc := range []struct {
		name, open, close string
		wantErr           bool
	}{
		{"inside data", `{"data":{`, `}}`, false},
		{"top level", `{"data":1,`, `}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			b.WriteString(tc.open)
			for i := 0; b.Len() < 64<<10-32; i++ {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, `"%x":0`, i)
			}
			b.WriteString(tc.close)
			start := time.Now()
			_, err := verifier.ParsePublishBody([]byte(b.String()))
			if took := time.Since(start); took > 400*time.Millisecond {
				t.Fatalf("%d bytes of distinct keys took %v", b.Len(), took)
			}
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}
