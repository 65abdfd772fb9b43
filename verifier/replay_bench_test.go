package verifier_test

import (
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/qubital/office-router/verifier"
)

// fullSweepCache is the replay store before issue 13 (item 10), kept as the reference: every
// 64th insert walks the whole map under the lock.
type fullSweepCache struct {
	mu      sync.Mutex
	seen    map[string]time.Time
	inserts int
}

func (c *fullSweepCache) Use(jti string, until, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.seen[jti]; ok && now.Before(t) {
		return verifier.ErrReplayed
	}
	c.seen[jti] = until
	c.inserts++
	if c.inserts%64 == 0 {
		for k, t := range c.seen {
			if !now.Before(t) {
				delete(c.seen, k)
			}
		}
	}
	return nil
}

// BenchmarkReplayCache5000PerSecond: a reconnect storm of 5,000 new tokens per second on a
// virtual clock, each remembered for 65 s (60 s lifetime + 5 s leeway), so about 325,000 jtis
// are live. ns/op is the mean cost of one handshake's Use; p99-µs and max-µs are single calls,
// which every other handshake waits for while one holds the lock (max includes GC pauses and
// the scheduler of a loaded machine; p99 is the stable figure).
func BenchmarkReplayCache5000PerSecond(b *testing.B) {
	const perSecond, ttl = 5000, 65 * time.Second
	step := time.Second / perSecond
	for _, impl := range []struct {
		name string
		use  func() func(string, time.Time, time.Time) error
	}{
		{"heap", func() func(string, time.Time, time.Time) error { return verifier.NewReplayCache().Use }},
		{"full-sweep-reference", func() func(string, time.Time, time.Time) error {
			return (&fullSweepCache{seen: map[string]time.Time{}}).Use
		}},
	} {
		b.Run(impl.name, func(b *testing.B) {
			use := impl.use()
			now := time.Unix(1_767_225_600, 0)
			n := 0
			next := func() string { n++; return "jti-" + strconv.Itoa(n) }
			for range int(ttl / step) { // reach the steady state first
				now = now.Add(step)
				if err := use(next(), now.Add(ttl), now); err != nil {
					b.Fatal(err)
				}
			}
			lat := make([]time.Duration, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				now = now.Add(step)
				jti := next()
				start := time.Now()
				err := use(jti, now.Add(ttl), now)
				lat[i] = time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
			b.ReportMetric(float64(lat[len(lat)-1].Nanoseconds())/1e3, "max-µs")
		})
	}
}
