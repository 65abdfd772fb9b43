package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/qubital/office-router/internal/cli"
)

// A limit flag set to zero, a negative number or NaN stops start-up naming the flag; it used to
// become the default silently. (Non-integers of integer flags are refused by the flag package.)
func TestLimitFlagsRefused(t *testing.T) {
	for _, arg := range []string{
		"-failed-handshakes-burst=0", "-failed-handshakes-burst=-1", "-failed-handshakes-burst=0.5",
		"-failed-handshakes-per-sec=0", "-failed-handshakes-per-sec=NaN", "-failed-handshakes-per-sec=-2",
		"-failed-handshakes-per-sec=Inf", "-max-conns-per-user=0", "-max-conns-per-org=-5",
		"-send-queue=0", "-max-message-bytes=-1",
	} {
		name := strings.TrimPrefix(strings.SplitN(arg, "=", 2)[0], "-")
		err := run(t.Context(), []string{arg, "-addr", "127.0.0.1:0", "-metrics-addr", "off"}, func(string) string { return "" }, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), "-"+name) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want one usage line naming -%s", arg, err, name)
		}
	}
}
