package harness

import (
	"context"
	"sync"
	"testing"
)

func TestForEach(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name       string
		ctx        context.Context
		n, workers int
		wantAll    bool
	}{
		{"every index once", context.Background(), 1000, 7, true},
		{"more workers than work", context.Background(), 3, 32, true},
		{"none", context.Background(), 0, 4, true},
		{"a dead context returns, no index twice", cancelled, 1000, 4, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			seen := map[int]int{}
			forEach(tt.ctx, tt.n, tt.workers, func(i int) {
				mu.Lock()
				seen[i]++
				mu.Unlock()
			})
			for i, k := range seen {
				if i < 0 || i >= tt.n || k != 1 {
					t.Fatalf("index %d called %d times (n %d)", i, k, tt.n)
				}
			}
			if tt.wantAll && len(seen) != tt.n {
				t.Fatalf("%d of %d indexes called", len(seen), tt.n)
			}
		})
	}
}
