package jwksfresh_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qubital/office-router/internal/jwksfresh"
)

// TestSetStaleWhileFetchesAreUnusable: a JWKS that answers 200 with keys the parser refuses
// (or cannot read) is as stale as one that answers 500: the cache is never replaced, so
// Stale must say so once maxAge has passed, or callers serve its keys forever.
func TestSetStaleWhileFetchesAreUnusable(t *testing.T) {
	key := genKey(t)
	for _, bad := range []string{
		`{"keys":[{"kty":"RSA","kid":"x","n":"!!!","e":"AQAB"}]}`,
		`{"keys":[1]}`,
		`{"keys":[{"kty":"RSA"`,
	} {
		t.Run(bad, func(t *testing.T) {
			var broken atomic.Bool
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if broken.Load() {
					_, _ = w.Write([]byte(bad))
					return
				}
				_, _ = w.Write(jwksOf(key))
			}))
			defer srv.Close()
			var now atomic.Int64
			now.Store(time.Now().UnixNano())
			set := jwksfresh.Start(jwksfresh.Options{URL: srv.URL, Refresh: time.Hour, UnknownKIDInterval: time.Minute,
				Timeout: 10 * time.Second, Now: func() time.Time { return time.Unix(0, now.Load()) }})
			defer set.Close()
			if set.Stale(time.Hour) {
				t.Fatal("stale right after a good fetch")
			}
			broken.Store(true)
			now.Add(int64(2 * time.Hour))
			if _, err := set.Lookup(t.Context(), "unknown"); !errors.Is(err, jwksfresh.ErrUnknownKID) {
				t.Fatalf("unknown kid: %v", err) // and one fetch of the unusable body has ended
			}
			if !set.Stale(time.Hour) {
				t.Fatal("not stale two hours after the last usable JWKS")
			}
		})
	}
}

// TestSetCloseWhileWaiting: Close with a lookup waiting on a fetch that hangs ends the fetch,
// releases the lookup at once (not after Timeout), and leaves no goroutine (TestMain).
func TestSetCloseWhileWaiting(t *testing.T) {
	key := genKey(t)
	var hang atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hang.Load() {
			<-r.Context().Done()
			return
		}
		_, _ = w.Write(jwksOf(key))
	}))
	defer srv.Close()
	set := jwksfresh.Start(jwksfresh.Options{URL: srv.URL, Refresh: time.Hour, UnknownKIDInterval: time.Minute, Timeout: time.Hour})
	hang.Store(true)
	waiting := make(chan struct{})
	set.SetWaitHook(func() { close(waiting) })
	done := make(chan error, 1)
	go func() { _, err := set.Lookup(t.Context(), "new"); done <- err }()
	<-waiting
	set.Close()
	if err := <-done; !errors.Is(err, jwksfresh.ErrUnknownKID) {
		t.Fatalf("lookup released by Close: %v", err)
	}
}
