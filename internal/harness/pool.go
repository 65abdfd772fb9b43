package harness

import (
	"context"
	"sync"
)

// forEach calls f(i) for every i in [0, n) on workers goroutines and returns once every call
// has returned. Once ctx is done an index may be skipped instead of handed out: f sees the
// same ctx and fails fast on it, so a dead context does not wait for n slow calls.
func forEach(ctx context.Context, n, workers int, f func(i int)) {
	work := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				f(i)
			}
		}()
	}
	for i := range n {
		select {
		case work <- i:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
}
