package stack

import (
	"slices"
	"strings"
	"testing"
)

func TestWithPath(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		dir  string
		want string
	}{
		{name: "fetched Node goes first", env: []string{"HOME=/root", "PATH=/usr/local/go/bin:/usr/bin"}, dir: "/repo/.tools/node/bin",
			want: "PATH=/repo/.tools/node/bin:/usr/local/go/bin:/usr/bin"},
		{name: "the machine's folder stays where it is", env: []string{"PATH=/usr/local/go/bin:/usr/bin"}, dir: "/usr/bin",
			want: "PATH=/usr/local/go/bin:/usr/bin"},
		{name: "no PATH at all", env: []string{"HOME=/root"}, dir: "/repo/.tools/node/bin", want: "PATH=/repo/.tools/node/bin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := withPath(tt.env, tt.dir)
			if !slices.Contains(got, tt.want) {
				t.Errorf("withPath = %q, want it to hold %q", got, tt.want)
			}
			n := 0
			for _, kv := range got {
				if strings.HasPrefix(kv, "PATH=") {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%d PATH entries in %q", n, got)
			}
		})
	}
}
