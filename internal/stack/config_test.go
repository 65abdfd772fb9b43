package stack

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestStripJSONComments(t *testing.T) {
	tests := []struct {
		name, in string
		want     map[string]string
	}{
		{name: "line comment", in: "// head\n{\"a\": \"b\" // tail\n}", want: map[string]string{"a": "b"}},
		{name: "block comment", in: "{/* x\n y */\"a\": \"b\"}", want: map[string]string{"a": "b"}},
		{name: "trailing commas", in: "{\"a\": \"b\", // last\n}", want: map[string]string{"a": "b"}},
		{name: "trailing comma in an array", in: `{"a": "b", "l": ["x", "y", /* x */ ]}`, want: map[string]string{"a": "b", "l": "[x y]"}},
		{name: "commas inside strings stay", in: `{"a": "x,}", "b": "y"}`, want: map[string]string{"a": "x,}", "b": "y"}},
		{name: "slashes inside strings stay", in: `{"a": "http://x/*y*/", "b": "q\"//"}`, want: map[string]string{"a": "http://x/*y*/", "b": `q"//`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got map[string]any
			if err := json.Unmarshal(stripJSONComments([]byte(tt.in)), &got); err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.want {
				if g := fmt.Sprint(got[k]); g != v {
					t.Errorf("%s = %q, want %q", k, g, v)
				}
			}
		})
	}
}

// TestWranglerConfigNames reads the repository's wrangler.jsonc: the key is a secret in every
// environment, and every var of every environment is a name the stack keeps out of wrangler's
// inherited environment.
func TestWranglerConfigNames(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	c, err := readWranglerConfig(root)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.secretNames(); !slices.Equal(got, []string{"CONN_JWT_PUBLIC_KEY"}) {
		t.Errorf("secrets = %q, want [CONN_JWT_PUBLIC_KEY]", got)
	}
	names := c.bindingNames()
	for _, want := range []string{"CONN_JWT_PUBLIC_KEY", "JWT_ISSUER", "JWT_AUDIENCE", "ALLOWED_ORIGINS"} {
		if !slices.Contains(names, want) {
			t.Errorf("bindingNames() = %q lacks %s", names, want)
		}
	}
	if _, ok := c.Vars["CONN_JWT_PUBLIC_KEY"]; ok {
		t.Error("CONN_JWT_PUBLIC_KEY is a top-level var")
	}
	for name, e := range c.Env {
		if _, ok := e.Vars["CONN_JWT_PUBLIC_KEY"]; ok {
			t.Errorf("CONN_JWT_PUBLIC_KEY is a var of env.%s", name)
		}
	}
	if _, err := readWranglerConfig(t.TempDir()); !os.IsNotExist(err) {
		t.Errorf("missing wrangler.jsonc: err = %v, want not-exist", err)
	}
}
