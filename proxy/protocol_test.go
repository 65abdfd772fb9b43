package proxy

import (
	"encoding/json"
	"testing"
)

func TestParseInbound(t *testing.T) {
	tests := []struct {
		in     string
		wantOK bool
		typ    string
		to     string
		data   string
	}{
		{`{"type":"broadcast","data":{"a":1}}`, true, "broadcast", "", `{"a":1}`},
		{`{"type":"broadcast"}`, true, "broadcast", "", `null`},
		{` {"type":"direct","to":"bob","data":"x"} `, true, "direct", "bob", `"x"`},
		{`{"type":"direct","data":"x"}`, false, "", "", ""},
		{`{"type":"direct","to":5}`, false, "", "", ""},
		{`{"type":"direct","to":""}`, false, "", "", ""},
		{`{"TYPE":"broadcast"}`, false, "", "", ""},
		{`{"type":1}`, false, "", "", ""},
		{`null`, false, "", "", ""},
		{`[]`, false, "", "", ""},
		{`"broadcast"`, false, "", "", ""},
		{`{"type":"broadcast"`, false, "", "", ""},
	}
	for _, tt := range tests {
		got, ok := parseInbound([]byte(tt.in))
		if ok != tt.wantOK || (ok && (got.typ != tt.typ || got.to != tt.to || string(got.data) != tt.data)) {
			t.Errorf("%s: got %+v %v", tt.in, got, ok)
		}
	}
}

// FuzzParseInbound: decoding never panics, and whatever it accepts re-encodes into a valid
// outgoing frame.
func FuzzParseInbound(f *testing.F) {
	for _, s := range []string{`{"type":"broadcast","data":1}`, `{"type":"direct","to":"a","data":[1,{"b":null}]}`, `{}`, `null`, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in, ok := parseInbound(data)
		if !ok {
			return
		}
		out := mustJSON(chatMsg{Type: "message", From: "u", Data: in.data, Direct: in.typ == "direct"})
		if !json.Valid(out) {
			t.Fatalf("invalid frame %q from %q", out, data)
		}
		if in.typ == "direct" && in.to == "" {
			t.Fatal("direct without recipient accepted")
		}
	})
}
