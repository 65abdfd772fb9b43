package verifier_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/qubital/office-router/verifier"
)

// TestReplayCacheBoundary: at and after `until` a jti is refused, never accepted again because
// its entry has expired; and the lookup happens before garbage collection (issue 13, item 5).
func TestReplayCacheBoundary(t *testing.T) {
	t0 := time.Unix(1_767_225_600, 0)
	until := t0.Add(65 * time.Second)
	for _, c := range []struct {
		name    string
		prepare func(*verifier.ReplayCache)
		now     time.Time
		wantErr error
	}{
		{"fresh, 1 ns before until", nil, until.Add(-time.Nanosecond), nil},
		{"fresh, exactly at until", nil, until, verifier.ErrExpired},
		{"fresh, after until", nil, until.Add(time.Second), verifier.ErrExpired},
		{"used, 1 ns before until", func(c *verifier.ReplayCache) { _ = c.Use("j", until, t0) }, until.Add(-time.Nanosecond), verifier.ErrReplayed},
		{"used, exactly at until", func(c *verifier.ReplayCache) { _ = c.Use("j", until, t0) }, until, verifier.ErrExpired},
		{"used, entry already collected", func(c *verifier.ReplayCache) {
			_ = c.Use("j", until, t0)
			_ = c.Use("other", until.Add(time.Hour), until) // collects j
		}, until, verifier.ErrExpired},
	} {
		t.Run(c.name, func(t *testing.T) {
			rc := verifier.NewReplayCache()
			if c.prepare != nil {
				c.prepare(rc)
			}
			if err := rc.Use("j", until, c.now); !errors.Is(err, c.wantErr) {
				t.Fatalf("Use: %v, want %v", err, c.wantErr)
			}
		})
	}
}

// TestReplayCacheCollectsOnlyExpired: collection removes exactly the expired entries, and an
// entry replaced by a later expiry survives its old expiry.
func TestReplayCacheCollectsOnlyExpired(t *testing.T) {
	t0 := time.Unix(1_767_225_600, 0)
	rc := verifier.NewReplayCache()
	for i := range 1000 {
		if err := rc.Use("j"+strconv.Itoa(i), t0.Add(time.Duration(i+1)*time.Millisecond), t0); err != nil {
			t.Fatal(err)
		}
	}
	_ = rc.Use("probe", t0.Add(time.Hour), t0.Add(500*time.Millisecond)) // j0..j499 expire at ≤ 500 ms
	if n := rc.Len(); n != 501 {
		t.Fatalf("%d remembered, want 500 live + probe", n)
	}
	if !rc.Seen("j500", t0.Add(500*time.Millisecond)) || rc.Seen("j499", t0.Add(500*time.Millisecond)) {
		t.Fatal("wrong entries collected")
	}
	// j600 expires at 601 ms; reused after that with a later until, it must outlive its old expiry.
	if err := rc.Use("j600", t0.Add(time.Hour), t0.Add(700*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_ = rc.Use("probe2", t0.Add(time.Hour), t0.Add(2*time.Second))
	if !rc.Seen("j600", t0.Add(2*time.Second)) {
		t.Fatal("a re-used jti was collected at its old expiry")
	}
}

// TestReplayCacheClockReadsOutOfOrder: callers read the clock before they take the cache's
// lock, so under contention a call can arrive with an older `now` than one that already
// collected. A jti collected at `until` by a later reader must not be accepted again by an
// earlier one that still sees it alive: the token is dead for the cache as soon as any caller
// has seen `until` pass.
func TestReplayCacheClockReadsOutOfOrder(t *testing.T) {
	t0 := time.Unix(1_767_225_600, 0)
	until := t0.Add(65 * time.Second)
	rc := verifier.NewReplayCache()
	if err := rc.Use("j", until, t0); err != nil {
		t.Fatal(err)
	}
	// Goroutine B read the clock just after until and took the lock first: it collects j.
	if err := rc.Use("other", until.Add(time.Hour), until.Add(time.Microsecond)); err != nil {
		t.Fatal(err)
	}
	// Goroutine A read the clock just before until and replays j.
	early := until.Add(-time.Microsecond)
	if err := rc.Use("j", until, early); err == nil {
		t.Fatal("Use: a spent jti was accepted again by a caller whose clock read is older than the collection")
	}
}
