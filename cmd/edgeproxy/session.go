package main

import (
	"fmt"
	"strconv"

	"github.com/qubital/office-router/internal/cli"
	"github.com/qubital/office-router/proxy"
)

// maxSessionSeconds is -max-session-seconds, else MAX_SESSION_SECONDS, else 0 (off): an integer
// 0-86400, as the Worker's var. Anything else refuses to start rather than run without the
// bound an operator asked for.
func maxSessionSeconds(flagValue string, getenv func(string) string) (int, error) {
	raw, from := flagValue, "-max-session-seconds"
	if raw == "" {
		raw, from = getenv("MAX_SESSION_SECONDS"), "MAX_SESSION_SECONDS"
	}
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 || n > proxy.MaxSessionSecondsLimit || strconv.Itoa(n) != raw {
		return 0, fmt.Errorf("%w: %s must be an integer 0-%d, got %q", cli.ErrUsage, from, proxy.MaxSessionSecondsLimit, raw)
	}
	return n, nil
}
