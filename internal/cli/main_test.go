package cli

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestExitCode(t *testing.T) {
	joined := errors.Join(errors.New("A is required"), errors.New("B must be a number"))
	tests := []struct {
		name       string
		err        error
		opts       []MainOption
		wantCode   int
		wantStderr string
	}{
		{"success", nil, nil, 0, ""},
		{"an error", errors.New("boom"), nil, 1, "cmd: boom\n"},
		{"a bad command line", fmt.Errorf("%w: flag provided but not defined: -x", ErrUsage), nil, 2, "cmd: usage: flag provided but not defined: -x\n"},
		{"joined, as is", joined, nil, 1, "cmd: A is required\nB must be a number\n"},
		{"joined, listed", joined, []MainOption{ListJoinedErrors}, 1, "cmd: configuration:\n  A is required\n  B must be a number\n"},
		{"one line, listed", errors.New("boom"), []MainOption{ListJoinedErrors}, 1, "cmd: boom\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr strings.Builder
			if code := exitCode(&stderr, "cmd", tt.err, tt.opts...); code != tt.wantCode {
				t.Errorf("code %d, want %d", code, tt.wantCode)
			}
			if stderr.String() != tt.wantStderr {
				t.Errorf("stderr %q, want %q", stderr.String(), tt.wantStderr)
			}
		})
	}
}
