package verifier_test

import (
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qubital/office-router/internal/rsakey"
	"github.com/qubital/office-router/verifier"
)

// jwksServer serves the public halves of a changeable key list, as the issuer's
// /.well-known/jwks.json does, and counts the fetches.
type jwksServer struct {
	*httptest.Server
	keys    atomic.Value // []*rsa.PrivateKey
	fetches atomic.Int64
	hold    atomic.Value // chan struct{}: when set, each response waits for it to close
	down    atomic.Bool  // answer 502, as a JWKS behind a proxy whose issuer is restarting
}

func newJWKSServer(t *testing.T, keys ...*rsa.PrivateKey) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.keys.Store(keys)
	s.hold.Store((chan struct{})(nil))
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		if s.down.Load() {
			http.Error(w, "issuer restarting", http.StatusBadGateway)
			return
		}
		if h := s.hold.Load().(chan struct{}); h != nil {
			select {
			case <-h:
			case <-r.Context().Done():
				return
			}
		}
		var set struct {
			Keys []rsakey.JWK `json:"keys"`
		}
		for _, k := range s.keys.Load().([]*rsa.PrivateKey) {
			set.Keys = append(set.Keys, rsakey.PublicJWK(&k.PublicKey))
		}
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) publish(keys ...*rsa.PrivateKey) { s.keys.Store(keys) }

// fakeClock is a clock the test moves by hand: the unknown-kid budget reads it.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}
func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// TestJWKSPrePublishedKey runs the runbook's order against the periodic refresh alone (the
// unknown-kid budget is spent first by a forged kid, so it cannot help): a key published
// before it signs is trusted by the time the issuer switches, and not one token is refused.
func TestJWKSPrePublishedKey(t *testing.T) {
	current, next, forged := genKey(t), genKey(t), genKey(t)
	srv := newJWKSServer(t, current)
	clock := newFakeClock()
	v, err := verifier.New(verifier.Config{JWKSURL: srv.URL, Issuer: "iss", Audience: "aud",
		JWKSRefreshInterval: 20 * time.Millisecond, JWKSUnknownKIDInterval: time.Hour}, verifier.WithClock(clock.now))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if _, err := v.Verify(t.Context(), mint(t, forged, claimsAt(clock.now()))); !errors.Is(err, verifier.ErrUnknownKID) {
		t.Fatalf("forged kid: %v", err)
	}
	// Step 1: publish the next key. Step 2: wait for one periodic refresh that started after
	// it: fetches run one after another, so once two more have started, one holding the next
	// key has been installed.
	srv.publish(current, next)
	for from := srv.fetches.Load(); srv.fetches.Load() < from+2; {
		if _, err := v.Verify(t.Context(), mint(t, current, claimsAt(clock.now()))); err != nil {
			t.Fatalf("current key refused while the next one is published: %v", err)
		}
	}
	// Step 3: switch the signing key; the old one stays published.
	for i := range 50 {
		if _, err := v.Verify(t.Context(), mint(t, next, claimsAt(clock.now()))); err != nil {
			t.Fatalf("token %d of the pre-published key refused: %v", i, err)
		}
		if _, err := v.Verify(t.Context(), mint(t, current, claimsAt(clock.now()))); err != nil {
			t.Fatalf("token %d of the previous key refused before its removal: %v", i, err)
		}
	}
}

// TestJWKSNewKIDWaitsForOneFetch: a key the verifier has never seen is accepted on its first
// token when the budget allows a fetch; every handshake arriving while that fetch runs shares
// it (one fetch, no refusal), whatever its kid.
func TestJWKSNewKIDWaitsForOneFetch(t *testing.T) {
	const waiters = 20
	current, next, forged := genKey(t), genKey(t), genKey(t)
	srv := newJWKSServer(t, current)
	clock := newFakeClock()
	v, err := verifier.New(verifier.Config{JWKSURL: srv.URL, Issuer: "iss", Audience: "aud",
		JWKSRefreshInterval: time.Hour, JWKSUnknownKIDInterval: time.Hour}, verifier.WithClock(clock.now))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	waiting := make(chan struct{}, 2*waiters)
	verifier.SetJWKSWaitHook(v, func() { waiting <- struct{}{} })

	// The issuer switched without pre-publishing (the unannounced case); the JWKS answers
	// only once every handshake below waits for it.
	srv.publish(current, next)
	release := make(chan struct{})
	srv.hold.Store(release)
	before := srv.fetches.Load()
	var wg sync.WaitGroup
	errs := make(chan error, 2*waiters)
	for i := range 2 * waiters {
		key, want := next, error(nil)
		if i%2 == 1 {
			key, want = forged, verifier.ErrUnknownKID
		}
		tok := mint(t, key, claimsAt(clock.now()))
		wg.Go(func() {
			if _, err := v.Verify(t.Context(), tok); !errors.Is(err, want) {
				errs <- err
			}
		})
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	for n := 0; n < 2*waiters; { // all waiting, or (when they do not wait) all done
		select {
		case <-waiting:
			n++
		case <-finished:
			n = 2 * waiters
		}
	}
	srv.hold.Store((chan struct{})(nil))
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("handshake while the fetch ran: %v", err)
	}
	if d := srv.fetches.Load() - before; d != 1 {
		t.Fatalf("%d JWKS fetches for %d concurrent handshakes with unknown kids; want exactly 1", d, 2*waiters)
	}
	if _, err := v.Verify(t.Context(), mint(t, next, claimsAt(clock.now()))); err != nil {
		t.Fatalf("new key after its fetch: %v", err)
	}
}

// TestJWKSForgedKIDsOneFetchPerInterval: forged kids cost at most one fetch per
// JWKSUnknownKIDInterval, and once the budget is spent they are refused without waiting.
func TestJWKSForgedKIDsOneFetchPerInterval(t *testing.T) {
	const every = 30 * time.Second
	current, forged := genKey(t), genKey(t)
	srv := newJWKSServer(t, current)
	clock := newFakeClock()
	v, err := verifier.New(verifier.Config{JWKSURL: srv.URL, Issuer: "iss", Audience: "aud",
		JWKSRefreshInterval: time.Hour, JWKSUnknownKIDInterval: every}, verifier.WithClock(clock.now))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	waits := atomic.Int64{}
	verifier.SetJWKSWaitHook(v, func() { waits.Add(1) })
	for _, step := range []struct {
		name        string
		advance     time.Duration
		wantFetches int64
	}{
		{"first probe spends the budget", 0, 1},
		{"within the interval", every - time.Second, 0},
		{"interval over", time.Second, 1},
		{"just after", time.Millisecond, 0},
		{"two intervals later", 2 * every, 1},
	} {
		clock.advance(step.advance)
		before, waitsBefore := srv.fetches.Load(), waits.Load()
		for range 50 {
			if _, err := v.Verify(t.Context(), mint(t, forged, claimsAt(clock.now()))); !errors.Is(err, verifier.ErrUnknownKID) {
				t.Fatalf("%s: forged kid: %v", step.name, err)
			}
		}
		if d := srv.fetches.Load() - before; d != step.wantFetches {
			t.Fatalf("%s: %d fetches for 50 forged kids, want %d", step.name, d, step.wantFetches)
		}
		if w := waits.Load() - waitsBefore; w != step.wantFetches {
			t.Fatalf("%s: %d handshakes waited, want %d (the rest are refused at once)", step.name, w, step.wantFetches)
		}
		if _, err := v.Verify(t.Context(), mint(t, current, claimsAt(clock.now()))); err != nil {
			t.Fatalf("%s: the real key: %v", step.name, err)
		}
	}
}

// TestJWKSNewKIDWaitIsBounded: a JWKS that hangs holds a handshake with a new kid for at most
// JWKSTimeout; it is then refused with unknown_kid and the cached keys keep working.
//
// The fetch at start has the same JWKSTimeout and must succeed (the keys it caches are the
// premise). At 100 ms it timed out on a loaded machine, the verifier started with no keys, and
// the new kid was keys_unavailable, not unknown_kid: the test's set-up failed, not the bound.
// So the budget is one a loopback fetch meets under load, and the premise is checked first.
func TestJWKSNewKIDWaitIsBounded(t *testing.T) {
	current, next := genKey(t), genKey(t)
	srv := newJWKSServer(t, current)
	v, err := verifier.New(verifier.Config{JWKSURL: srv.URL, Issuer: "iss", Audience: "aud",
		JWKSRefreshInterval: time.Hour, JWKSTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if _, err := v.Verify(t.Context(), mint(t, current, claimsAt(time.Now()))); err != nil {
		t.Fatalf("premise: the fetch at start cached the current key: %v", err)
	}
	hang := make(chan struct{})
	defer close(hang)
	srv.hold.Store(hang)
	srv.publish(current, next)
	if _, err := v.Verify(t.Context(), mint(t, next, claimsAt(time.Now()))); !errors.Is(err, verifier.ErrUnknownKID) {
		t.Fatalf("new kid while the JWKS hangs: %v", err)
	}
	if _, err := v.Verify(t.Context(), mint(t, current, claimsAt(time.Now()))); err != nil {
		t.Fatalf("cached key after a timed-out fetch: %v", err)
	}
}

// TestJWKSDownAtStart: a router started while its JWKS is unreachable (the issuer restarting
// in the same deploy) must trust the JWKS as soon as it answers, not at the next periodic
// fetch (60 s) with every handshake refused keys_unavailable meanwhile: the first handshake
// waits for one rate-limited fetch, as for a new kid.
func TestJWKSDownAtStart(t *testing.T) {
	key := genKey(t)
	srv := newJWKSServer(t, key)
	srv.down.Store(true) // the fetch at start fails
	v, err := verifier.New(verifier.Config{JWKSURL: srv.URL, Issuer: "iss", Audience: "aud", JWKSRefreshInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	srv.down.Store(false)
	if _, err := v.Verify(t.Context(), mint(t, key, claimsAt(time.Now()))); err != nil {
		t.Fatalf("first handshake once the JWKS is back: %v", err)
	}
}
