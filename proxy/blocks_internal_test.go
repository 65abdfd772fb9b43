package proxy

import (
	"fmt"
	"testing"
	"time"
)

func TestBlockList(t *testing.T) {
	now := time.Unix(1767225600, 0)
	b := newBlockList()
	b.add("acme", "alice", now.Add(100*time.Second), now)
	b.add("acme", "alice", now.Add(10*time.Second), now) // never shortened
	tests := []struct {
		name      string
		org, user string
		at        time.Duration
		want      bool
	}{
		{"blocked", "acme", "alice", 0, true},
		{"not shortened by the later call", "acme", "alice", 50 * time.Second, true},
		{"another user", "acme", "bob", 0, false},
		{"another org", "other", "alice", 0, false},
		{"last second", "acme", "alice", 99 * time.Second, true},
		{"at expiry", "acme", "alice", 100 * time.Second, false},
	}
	for _, tt := range tests {
		if got := b.blocked(tt.org, tt.user, now.Add(tt.at)); got != tt.want {
			t.Errorf("%s: blocked = %v, want %v", tt.name, got, tt.want)
		}
	}
	if b.len() != 0 {
		t.Fatalf("the expired block is still held: %d", b.len())
	}
}

// TestBlockListSweeps: blocks for ever new users do not pile up once expired; the map is swept
// when it has doubled, so it stays within twice what is live.
func TestBlockListSweeps(t *testing.T) {
	now := time.Unix(1767225600, 0)
	b := newBlockList()
	for i := range 100 * minBlockSweep {
		at := now.Add(time.Duration(i) * time.Second)
		b.add("acme", fmt.Sprint("user-", i), at.Add(10*time.Second), at) // 10 live at a time
	}
	if n := b.len(); n > 2*minBlockSweep {
		t.Fatalf("%d blocks held, at most 10 live", n)
	}
}
