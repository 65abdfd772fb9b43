package keyrate

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	now := start
	clock := func() time.Time { return now }
	tests := []struct {
		name      string
		perSec    float64
		burst     int
		spend     int           // spends of key "a" before the check
		advance   time.Duration // clock moved after the spends
		wantOK    bool          // the next Spend of "a"
		wantWait  time.Duration
		wantBlock bool // Blocked("a") before that Spend
	}{
		{"within burst", 1, 3, 2, 0, true, 0, false},
		{"burst spent", 1, 3, 3, 0, false, time.Second, true},
		{"slow refill rounds up", 0.25, 1, 1, time.Second, false, 3 * time.Second, true},
		{"refilled", 1, 2, 2, time.Second, true, 0, false},
		{"wait at least a second", 10, 1, 1, 0, false, time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now = start
			l := New(tt.perSec, tt.burst, 100, clock)
			for range tt.spend {
				l.Spend("a")
			}
			now = now.Add(tt.advance)
			if blocked, _ := l.Blocked("a"); blocked != tt.wantBlock {
				t.Fatalf("Blocked = %v, want %v", blocked, tt.wantBlock)
			}
			ok, wait := l.Spend("a")
			if ok != tt.wantOK || wait != tt.wantWait {
				t.Fatalf("Spend = %v, %v; want %v, %v", ok, wait, tt.wantOK, tt.wantWait)
			}
			if blocked, _ := l.Blocked("other"); blocked {
				t.Fatal("a key that never spent is blocked")
			}
		})
	}
}

// TestLimiterForgetsFullBuckets: at maxKeys, keys whose bucket refilled are dropped; a key still
// owing tokens is kept, so a flood of new keys cannot wipe a blocked one.
func TestLimiterForgetsFullBuckets(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := New(1, 1, 2, func() time.Time { return now })
	l.Spend("blocked")
	now = now.Add(500 * time.Millisecond)
	l.Spend("refilling")
	now = now.Add(600 * time.Millisecond) // "blocked" is full again, "refilling" is not
	l.Spend("new")
	if l.Len() != 2 {
		t.Fatalf("Len = %d, want 2", l.Len())
	}
	if blocked, _ := l.Blocked("refilling"); !blocked {
		t.Fatal("a key still owing tokens was forgotten")
	}
}
