package proxy_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// starvationMeter measures how long this test process could not run. A goroutine wants to run
// every period and adds up how late it ran: time it lost is time the process (or at least the
// Go scheduler's queue that every goroutine here shares) was busy elsewhere. The proxy and its
// test clients share the process, so a latency the clients measure includes that time, and
// lost tells it apart from a delay of the proxy's own making (a lost wake-up, a queue, a lock).
//
// It also samples the run-queue wait of the process's threads (/proc/self/task/*/schedstat,
// Linux; the kernel's own count of time runnable but not running) every 100 ms, as evidence in
// failure messages.
type starvationMeter struct {
	period time.Duration

	mu      sync.Mutex
	lost    time.Duration // late, in all, up to the last tick
	last    time.Time     // when the goroutine last ran
	samples []rqSample    // every 100 ms
}

type rqSample struct {
	at   time.Time
	wait time.Duration // summed over the process's threads; -1 where unknown
}

func startStarvationMeter(t *testing.T, period time.Duration) *starvationMeter {
	t.Helper()
	m := &starvationMeter{period: period, last: time.Now()}
	m.samples = append(m.samples, rqSample{m.last, runQueueWait()})
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			now := time.Now()
			m.mu.Lock()
			if late := now.Sub(m.last) - period; late > 0 {
				m.lost += late
			}
			m.last = now
			sample := now.Sub(m.samples[len(m.samples)-1].at) >= 100*time.Millisecond
			m.mu.Unlock()
			if sample {
				w := runQueueWait()
				m.mu.Lock()
				m.samples = append(m.samples, rqSample{now, w})
				m.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return m
}

// lostBy returns the time lost up to now, the stretch the goroutine is overdue now included.
func (m *starvationMeter) lostBy(now time.Time) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	lost := m.lost
	if late := now.Sub(m.last) - m.period; late > 0 {
		lost += late
	}
	return lost
}

// runQueueWaitAround returns the run-queue wait the process's threads saw between the sample
// before from and the sample after to (so a little more than [from, to]), and that stretch;
// zero where /proc is missing.
func (m *starvationMeter) runQueueWaitAround(from, to time.Time) (wait, over time.Duration) {
	a, ok := m.sampleAtOrBefore(from)
	m.mu.Lock()
	b := m.samples[len(m.samples)-1]
	for _, s := range m.samples {
		if !s.at.Before(to) {
			b = s
			break
		}
	}
	m.mu.Unlock()
	if !ok || b.wait < 0 || !b.at.After(a.at) {
		return 0, 0
	}
	return b.wait - a.wait, b.at.Sub(a.at)
}

// runQueueWaitSince returns the run-queue wait the process's threads saw from the sample at or
// before from until now, read now (a sample taken after a starved stretch may not exist yet);
// ok is false where /proc is missing.
func (m *starvationMeter) runQueueWaitSince(from time.Time) (wait time.Duration, ok bool) {
	a, ok := m.sampleAtOrBefore(from)
	now := runQueueWait()
	if !ok || now < 0 {
		return 0, false
	}
	return now - a.wait, true
}

// sampleAtOrBefore returns the last sample taken at or before t; ok is false when there is none
// or its reading is unknown.
func (m *starvationMeter) sampleAtOrBefore(t time.Time) (s rqSample, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, x := range m.samples {
		if x.at.After(t) {
			break
		}
		s, ok = x, true
	}
	return s, ok && s.wait >= 0
}

// runQueueWait sums the second field of /proc/self/task/*/schedstat: nanoseconds each thread
// spent runnable, waiting for a CPU. -1 where that is not available.
func runQueueWait() time.Duration {
	tasks, err := filepath.Glob("/proc/self/task/*/schedstat")
	if err != nil || len(tasks) == 0 {
		return -1
	}
	var sum time.Duration
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // a thread that ended meanwhile
		}
		fields := bytes.Fields(b)
		if len(fields) < 2 {
			return -1
		}
		ns, err := strconv.ParseInt(string(fields[1]), 10, 64)
		if err != nil {
			return -1
		}
		sum += time.Duration(ns)
	}
	return sum
}
