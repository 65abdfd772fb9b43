package verifier_test

import (
	"encoding/json"
	"testing"

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
