package jwksfresh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
)

// Sentinel errors of Set.Lookup.
var (
	// ErrUnknownKID: the kid is not in the key set, even after the one fetch it may wait for.
	ErrUnknownKID = errors.New("kid not in the JWKS")
	// ErrNoKeys: no fetch has produced a usable key yet, even the one the lookup may wait for.
	ErrNoKeys = errors.New("no JWKS keys")
)

// Options configure a Set. Every duration must be positive: callers own the defaults
// (verifier.Config, issuer.Config) so that they are documented where they are set.
type Options struct {
	URL string
	// Name says which JWKS this is in log lines, e.g. "CONN_JWKS_URL".
	Name string
	// Refresh is the period of the background fetch.
	Refresh time.Duration
	// UnknownKIDInterval is the least time between two fetches caused by unknown kids.
	UnknownKIDInterval time.Duration
	// Timeout bounds each fetch, and so how long a lookup may wait for one.
	Timeout time.Duration
	// Client fetches the JWKS. This defaults to a client with Timeout.
	Client *http.Client
	// Now is the clock of the unknown-kid budget and of staleness. This defaults to time.Now.
	Now func() time.Time
	// Logger gets one warning per failed fetch. This defaults to slog.Default().
	Logger *slog.Logger
}

// Set is a remote JWKS kept fresh so that a key rotation refuses no one (docs/operations.md):
//
//   - Every Refresh the JWKS is fetched again, so a key published before it signs
//     (JWT_NEXT_PUBLIC_KEYS) is known within one period.
//   - A lookup of a kid not in the cache starts one fetch if the unknown-kid budget allows it
//     (one per UnknownKIDInterval), WAITS for that fetch (bounded by Timeout) and looks once
//     more: the first token after an unannounced rotation is accepted, not refused.
//   - A lookup that finds no key at all (the JWKS was unreachable when the Set started) does
//     the same, and so does Refresh, which callers use when the keys are stale: a JWKS that
//     comes back is used at once, not at the next periodic fetch.
//   - Lookups arriving while that fetch runs share it, whatever their kid (singleflight);
//     lookups that find the budget spent and no fetch running fail at once. So forged kids cost
//     at most one fetch per interval and never park a request for long.
//
// Every fetch parses into a fresh key set and replaces the cache only if it started after the
// set in use: a slow periodic fetch cannot undo a newer unknown-kid fetch. A failed fetch keeps
// the cached keys; Stale says how long that has lasted.
type Set struct {
	o     Options
	fresh *Tracker

	life   context.Context // ends with Close; every fetch derives from it
	cancel context.CancelFunc
	wg     sync.WaitGroup // the refresh loop and a running unknown-kid fetch

	seq      atomic.Uint64                       // numbers fetches in the order they start
	keys     atomic.Pointer[jwkset.MemoryJWKSet] // the key set in use; replaced whole by a newer fetch; read lock-free
	mu       sync.Mutex
	applied  uint64        // seq of the fetch that produced keys
	last     time.Time     // start of the last unknown-kid fetch; zero = budget available
	running  chan struct{} // closed when the running unknown-kid fetch ends; nil = none
	waitHook func()        // tests: called by each lookup about to wait for a fetch
}

// Start fetches the JWKS once (a failure does not stop it: lookups answer ErrNoKeys until a
// fetch succeeds) and starts the background refresh, which Close stops.
func Start(o Options) *Set {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: o.Timeout}
	}
	fresh := New(o.Now)
	o.Client = fresh.Client(o.Client)
	life, cancel := context.WithCancel(context.Background())
	s := &Set{o: o, fresh: fresh, life: life, cancel: cancel}
	s.keys.Store(jwkset.NewMemoryStorage())
	s.fetch()
	s.wg.Add(1)
	go s.refreshLoop()
	return s
}

// Close stops the refresh loop and waits for every fetch to end.
func (s *Set) Close() {
	s.mu.Lock()
	s.cancel() // under mu: awaitRefresh checks life and adds to wg under mu, so no Add follows Wait
	s.mu.Unlock()
	s.wg.Wait()
}

// Stale reports whether no good JWKS arrived within maxAge (or ever).
func (s *Set) Stale(maxAge time.Duration) bool { return s.fresh.Stale(maxAge) }

// Empty reports whether the key set in use holds no key.
func (s *Set) Empty(ctx context.Context) bool {
	all, err := s.current().KeyReadAll(ctx)
	return err == nil && len(all) == 0
}

// SetWaitHook makes each lookup about to wait for a fetch call f. For tests.
func (s *Set) SetWaitHook(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waitHook = f
}

// Lookup returns the key with this kid, waiting for at most one fetch as described on Set.
func (s *Set) Lookup(ctx context.Context, kid string) (jwkset.JWK, error) {
	jwk, err := s.lookup(ctx, kid)
	if !errors.Is(err, ErrUnknownKID) && !errors.Is(err, ErrNoKeys) {
		return jwk, err
	}
	s.awaitRefresh(ctx)
	// Look again even when no fetch was awaited: a fetch may have installed the key between the
	// first look and the budget check.
	return s.lookup(ctx, kid)
}

func (s *Set) lookup(ctx context.Context, kid string) (jwkset.JWK, error) {
	keys := s.current()
	jwk, err := keys.KeyRead(ctx, kid)
	if err == nil {
		return jwk, nil
	}
	if all, aerr := keys.KeyReadAll(ctx); aerr == nil && len(all) == 0 {
		return jwkset.JWK{}, ErrNoKeys
	}
	if errors.Is(err, jwkset.ErrKeyNotFound) {
		return jwkset.JWK{}, ErrUnknownKID
	}
	return jwkset.JWK{}, fmt.Errorf("%w: %v", ErrUnknownKID, err)
}

// Refresh joins the running unknown-kid fetch, or starts one if the unknown-kid budget allows,
// and waits for it (bounded by Timeout) or for ctx. It returns at once when the budget is spent
// and no fetch is running. For callers whose keys are stale (Stale): one shared, rate-limited
// fetch decides, instead of the next periodic one.
func (s *Set) Refresh(ctx context.Context) { s.awaitRefresh(ctx) }

// awaitRefresh joins the running unknown-kid fetch, or starts one if the budget allows, and
// waits for it or for ctx. It returns at once when the budget is spent and no fetch is running.
func (s *Set) awaitRefresh(ctx context.Context) {
	s.mu.Lock()
	done, hook := s.running, s.waitHook
	if done == nil {
		now := s.o.Now()
		if (!s.last.IsZero() && now.Sub(s.last) < s.o.UnknownKIDInterval) || s.life.Err() != nil {
			s.mu.Unlock()
			return
		}
		s.last = now
		done = make(chan struct{})
		s.running = done
		s.wg.Add(1)
		go func() { // owned by s: bounded by Timeout, cut short by Close
			defer s.wg.Done()
			s.fetch()
			s.mu.Lock()
			s.running = nil
			s.mu.Unlock()
			close(done)
		}()
	}
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}

func (s *Set) refreshLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.o.Refresh)
	defer t.Stop()
	for {
		select {
		case <-s.life.Done():
			return
		case <-t.C:
			s.fetch()
		}
	}
}

// fetch gets the JWKS once, bounded by Timeout, and installs it unless a fetch that started
// later has already been installed.
func (s *Set) fetch() {
	seq := s.seq.Add(1)
	ctx, cancel := context.WithTimeout(s.life, s.o.Timeout)
	defer cancel()
	store := jwkset.NewMemoryStorage()
	// With no RefreshInterval, NewStorageFromHTTP fetches once into store and starts nothing.
	_, err := jwkset.NewStorageFromHTTP(s.o.URL, jwkset.HTTPClientStorageOptions{
		Client: s.o.Client, Ctx: ctx, HTTPTimeout: s.o.Timeout, Storage: store,
	})
	if err != nil {
		if s.life.Err() == nil {
			s.o.Logger.WarnContext(ctx, "JWKS refresh failed; serving cached keys", "jwks", s.o.Name, "url", s.o.URL, "error", err)
		}
		return
	}
	if all, err := store.KeyReadAll(ctx); err == nil && len(all) > 0 {
		s.fresh.Mark()
	}
	s.mu.Lock()
	if seq > s.applied {
		s.keys.Store(store)
		s.applied = seq
	}
	s.mu.Unlock()
}

func (s *Set) current() *jwkset.MemoryJWKSet { return s.keys.Load() }
