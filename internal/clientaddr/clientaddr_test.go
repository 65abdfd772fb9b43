package clientaddr

import (
	"net/http"
	"net/netip"
	"strconv"
	"testing"
	"time"
)

func TestKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":            "192.0.2.1",
		"::ffff:192.0.2.1":     "192.0.2.1",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2::1%eth0": "2001:db8:1:2::/64",
		"fe80::1%1":            "fe80::/64",
		"::1":                  "::/64",
		"2001:db8:1:3:ffff::":  "2001:db8:1:3::/64",
	} {
		if got := Key(netip.MustParseAddr(in)); got != want {
			t.Errorf("Key(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestRequestKey(t *testing.T) {
	trusted, err := ParseTrusted("10.0.0.0/8, ::ffff:172.16.0.0/108")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ peer, cf, xff, want string }{
		{"[2001:db8::1]:1", "", "", "2001:db8::/64"},
		{"[::ffff:192.0.2.1]:1", "", "", "192.0.2.1"},
		{"192.0.2.1:1", "203.0.113.9", "", "192.0.2.1"}, // untrusted: the header is ignored
		{"10.0.0.1:1", "2001:db8:5:6::7", "", "2001:db8:5:6::/64"},
		{"10.0.0.1:1", "", "1.1.1.1, 2001:db8:5:6::7, 10.0.0.2", "2001:db8:5:6::/64"},
		{"172.16.0.1:1", "::ffff:198.51.100.1", "", "198.51.100.1"},
		{"10.0.0.1:1", "", "junk, 10.0.0.2", "10.0.0.1"},
		{"pipe", "", "", "pipe"},
	} {
		r, _ := http.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		if c.cf != "" {
			r.Header.Set("CF-Connecting-IP", c.cf)
		}
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := RequestKey(r, trusted); got != c.want {
			t.Errorf("%+v: %s", c, got)
		}
	}
}

// TestLimiterBounded: however many keys fail, the limiter tracks at most its bound; a new key
// when full evicts the one whose last failure is the oldest, so the most recent abusers stay
// blocked. (Before, past 100k keys only refilled entries were dropped and the map kept growing.)
func TestLimiterBounded(t *testing.T) {
	now := time.Unix(0, 0)
	l := NewLimiter(0.001, 2, 100, func() time.Time { return now })
	for i := range 1000 {
		k := "k" + strconv.Itoa(i)
		l.Fail(k)
		l.Fail(k)
		if n := l.Len(); n > 100 {
			t.Fatalf("after %d keys: %d tracked, bound 100", i+1, n)
		}
	}
	if b, _ := l.Blocked("k999"); !b {
		t.Fatal("the latest abuser was evicted")
	}
	if b, _ := l.Blocked("k900"); !b {
		t.Fatal("the 100th latest abuser was evicted")
	}
	if b, _ := l.Blocked("k899"); b {
		t.Fatal("the 101st latest is still tracked")
	}
	// A failure refreshes a key's place: k900 fails again, then one new key evicts k901, not k900.
	l.Fail("k900")
	l.Fail("new")
	if b, _ := l.Blocked("k900"); !b {
		t.Fatal("a key that failed again was evicted first")
	}
	if b, _ := l.Blocked("k901"); b {
		t.Fatal("the oldest key was not the one evicted")
	}
}

// TestLimiterForgetsRefilled: once budgets are full again the table shrinks without a scan.
func TestLimiterForgetsRefilled(t *testing.T) {
	now := time.Unix(0, 0)
	l := NewLimiter(1, 1, 100, func() time.Time { return now })
	for i := range 50 {
		l.Fail("k" + strconv.Itoa(i))
	}
	now = now.Add(time.Minute)
	for i := range 50 {
		l.Fail("n" + strconv.Itoa(i))
	}
	if n := l.Len(); n != 50 {
		t.Fatalf("%d tracked after the first 50 refilled, want 50", n)
	}
	if b, wait := l.Blocked("n0"); !b || wait != time.Second {
		t.Fatalf("n0: %v %v", b, wait)
	}
}

// TestLimiterAllow: Allow spends a token when there is one and nothing when there is none, and
// its wait is the issuer's mint Retry-After as it was before the mint budget became a Limiter:
// ceil((1 - tokens) / rate) seconds, at least 1.
func TestLimiterAllow(t *testing.T) {
	type allowStep struct {
		after time.Duration // clock advance before the call
		ok    bool
		wait  time.Duration
	}
	tests := []struct {
		name  string
		rate  float64
		burst int
		steps []allowStep
	}{
		{"half per second", 0.5, 3, []allowStep{{0, true, 0}, {0, true, 0}, {0, true, 0}, {0, false, 2 * time.Second}, {0, false, 2 * time.Second},
			{time.Second, false, time.Second}, {time.Second, true, 0}, {0, false, 2 * time.Second}}},
		{"fast refill waits one second at least", 20, 1, []allowStep{{0, true, 0}, {0, false, time.Second}, {50 * time.Millisecond, true, 0}}},
		{"a third per second", 0.3, 1, []allowStep{{0, true, 0}, {0, false, 4 * time.Second}, {3 * time.Second, false, time.Second}, {400 * time.Millisecond, true, 0}}},
		{"a near-zero rate stays a positive duration", 1e-15, 1, []allowStep{{0, true, 0}, {0, false, maxWait}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Unix(1000, 0)
			l := NewLimiter(tt.rate, tt.burst, 0, func() time.Time { return now })
			for i, s := range tt.steps {
				now = now.Add(s.after)
				ok, wait := l.Allow("user")
				if ok != s.ok || wait != s.wait {
					t.Fatalf("step %d: Allow = %v, %v; want %v, %v", i, ok, wait, s.ok, s.wait)
				}
				if blocked, bwait := l.Blocked("user"); !ok && (!blocked || bwait != wait) {
					t.Fatalf("step %d: Blocked = %v, %v after a refused Allow waiting %v", i, blocked, bwait, wait)
				}
			}
			if ok, _ := l.Allow("other"); !ok {
				t.Fatal("another key was refused")
			}
		})
	}
}

func TestSetRetryAfter(t *testing.T) {
	h := http.Header{}
	SetRetryAfter(h, 2*time.Second)
	if got := h.Get("Retry-After"); got != "2" {
		t.Fatalf("Retry-After %q, want 2", got)
	}
}
