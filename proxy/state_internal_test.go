package proxy

import "testing"

// TestConnStateMoves: setState moves forward only, may skip states, and never leaves closed.
func TestConnStateMoves(t *testing.T) {
	tests := []struct {
		name     string
		from, to connState
		want     bool
	}{
		{"connecting to open", stateConnecting, stateOpen, true},
		{"connecting to closing (shutdown during the upgrade)", stateConnecting, stateClosing, true},
		{"connecting to closed (upgrade failed)", stateConnecting, stateClosed, true},
		{"open to closing", stateOpen, stateClosing, true},
		{"open to closed (slow consumer)", stateOpen, stateClosed, true},
		{"closing to closed", stateClosing, stateClosed, true},
		{"closing back to open (attach after a shutdown close)", stateClosing, stateOpen, false},
		{"closing twice", stateClosing, stateClosing, false},
		{"closed to open", stateClosed, stateOpen, false},
		{"closed to closing", stateClosed, stateClosing, false},
		{"open to connecting", stateOpen, stateConnecting, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &client{state: tt.from}
			if got := c.setState(tt.to); got != tt.want {
				t.Fatalf("setState(%d→%d) = %v, want %v", tt.from, tt.to, got, tt.want)
			}
			want := tt.from
			if tt.want {
				want = tt.to
			}
			if c.state != want {
				t.Fatalf("state = %d, want %d", c.state, want)
			}
		})
	}
}
