package issuer_test

import (
	"strings"
	"testing"

	"github.com/qubital/office-router/issuer"
)

// TestLimitVariablesRefused: a limit variable that is set but not a positive number (an integer
// for MINT_BURST) stops start-up naming it. MINT_BURST=0.5 used to truncate to 0, the default.
func TestLimitVariablesRefused(t *testing.T) {
	for _, tt := range []struct{ name, value string }{
		{"MINT_BURST", "0.5"}, {"MINT_BURST", "2.0"}, {"MINT_BURST", "0"}, {"MINT_BURST", "-3"},
		{"MINT_BURST", "ten"}, {"MINT_BURST", "99999999999999999999"},
		{"MINTS_PER_SECOND", "0"}, {"MINTS_PER_SECOND", "-1"}, {"MINTS_PER_SECOND", "NaN"},
		{"MINTS_PER_SECOND", "Inf"}, {"MINTS_PER_SECOND", "two"},
	} {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			env := issuer.ConfigFromEnv(func(k string) string {
				if k == tt.name {
					return tt.value
				}
				return ""
			})
			cfg := baseConfig(t, newFakeWorkOS(t))
			cfg.MintsPerSecond, cfg.MintBurst = env.MintsPerSecond, env.MintBurst
			_, err := issuer.New(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.name) || strings.Contains(err.Error(), tt.value) {
				t.Fatalf("%s=%s: %v, want an error naming the variable (not its value)", tt.name, tt.value, err)
			}
		})
	}
	for _, ok := range []struct{ rate, burst string }{{"0.5", "3"}, {"", ""}, {"10", "1"}} {
		env := issuer.ConfigFromEnv(func(k string) string {
			return map[string]string{"MINTS_PER_SECOND": ok.rate, "MINT_BURST": ok.burst}[k]
		})
		cfg := baseConfig(t, newFakeWorkOS(t))
		cfg.MintsPerSecond, cfg.MintBurst = env.MintsPerSecond, env.MintBurst
		s, err := issuer.New(cfg)
		if err != nil {
			t.Fatalf("%+v: %v", ok, err)
		}
		_ = s.Close()
	}
}
