package main

import (
	"errors"
	"testing"

	"github.com/qubital/office-router/internal/cli"
)

func TestMaxSessionSeconds(t *testing.T) {
	tests := []struct {
		name, flag, env string
		want            int
		wantErr         error
	}{
		{"off by default", "", "", 0, nil},
		{"env", "", "3600", 3600, nil},
		{"flag wins over env", "60", "3600", 60, nil},
		{"zero is off", "0", "", 0, nil},
		{"limit", "86400", "", 86400, nil},
		{"over the limit", "86401", "", 0, cli.ErrUsage},
		{"negative", "", "-1", 0, cli.ErrUsage},
		{"not an integer", "", "1h", 0, cli.ErrUsage},
		{"fraction", "1.5", "", 0, cli.ErrUsage},
		{"leading plus", "+60", "", 0, cli.ErrUsage},
		{"leading zero", "", "060", 0, cli.ErrUsage},
		{"space", "", " 60", 0, cli.ErrUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := maxSessionSeconds(tt.flag, func(k string) string {
				if k == "MAX_SESSION_SECONDS" {
					return tt.env
				}
				return ""
			})
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Fatalf("got %d, %v; want %d, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
