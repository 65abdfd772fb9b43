package verifier

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"

	"github.com/qubital/office-router/internal/jwksfresh"
	"github.com/qubital/office-router/internal/rsakey"
)

// KeySource finds the RSA public key for a kid. It returns ErrUnknownKID when there is none,
// or ErrKeysUnavailable when it has no keys at all.
type KeySource interface {
	Key(ctx context.Context, kid string) (*rsa.PublicKey, error)
}

// StaticKeys is a KeySource over fixed keys, indexed by their RFC 7638 thumbprints.
type StaticKeys map[string]*rsa.PublicKey

var _ KeySource = StaticKeys(nil)

// NewStaticKeys indexes keys by thumbprint. Keys under 2048 bits are refused.
func NewStaticKeys(keys ...*rsa.PublicKey) (StaticKeys, error) {
	s := make(StaticKeys, len(keys))
	for _, k := range keys {
		if err := rsakey.CheckSize(k); err != nil {
			return nil, err
		}
		s[rsakey.Thumbprint(k)] = k
	}
	return s, nil
}

// Key implements KeySource.
func (s StaticKeys) Key(_ context.Context, kid string) (*rsa.PublicKey, error) {
	if k, ok := s[kid]; ok {
		return k, nil
	}
	return nil, ErrUnknownKID
}

// jwksKeys reads keys from a remote JWKS (CONN_JWKS_URL) and keeps them fresh so that a key
// rotation refuses no one (docs/operations.md):
//
//   - Every JWKSRefreshInterval (60 s by default) the JWKS is fetched again, so a key the issuer
//     publishes before signing with it (JWT_NEXT_PUBLIC_KEYS) is known here within one interval.
//   - A token with a kid not in the cache starts one fetch if the unknown-kid budget allows it
//     (one per JWKSUnknownKIDInterval), and the handshake WAITS for that fetch, bounded by
//     JWKSTimeout, then looks the kid up once more: the first token after an unannounced
//     rotation is accepted, not refused.
//   - Handshakes that arrive while that fetch runs share it, whatever their kid (singleflight);
//     handshakes that find the budget spent and no fetch running are refused at once. So forged
//     kids cost at most one fetch per interval and never park a handshake for long.
//
// Every fetch parses into a fresh key set and replaces the cache only if it started after the
// set in use: a slow periodic fetch cannot undo a newer unknown-kid fetch.
type jwksKeys struct {
	url      string
	client   *http.Client
	fresh    *jwksfresh.Tracker
	now      func() time.Time
	log      *slog.Logger
	timeout  time.Duration // JWKSTimeout: bounds each fetch, hence each waiting handshake
	every    time.Duration // JWKSUnknownKIDInterval: the unknown-kid budget
	maxStale time.Duration

	life   context.Context // ends with close; every fetch derives from it
	cancel context.CancelFunc
	wg     sync.WaitGroup // the refresh loop and running unknown-kid fetches

	seq      atomic.Uint64 // numbers fetches in the order they start
	mu       sync.Mutex
	keys     jwkset.Storage // the key set in use; replaced whole by a newer fetch
	applied  uint64         // seq of the fetch that produced keys
	last     time.Time      // start of the last unknown-kid fetch; zero = budget available
	running  chan struct{}  // closed when the running unknown-kid fetch ends; nil = none
	waitHook func()         // tests: called by each handshake about to wait for a fetch
}

func newJWKSKeys(cfg Config, client *http.Client, logger *slog.Logger, now func() time.Time) *jwksKeys {
	if client == nil {
		client = &http.Client{Timeout: cfg.JWKSTimeout}
	}
	fresh := jwksfresh.New(now)
	life, cancel := context.WithCancel(context.Background())
	j := &jwksKeys{
		url: cfg.JWKSURL, client: fresh.Client(client), fresh: fresh, now: now, log: logger,
		timeout: cfg.JWKSTimeout, every: cfg.JWKSUnknownKIDInterval, maxStale: cfg.JWKSMaxStale,
		life: life, cancel: cancel, keys: jwkset.NewMemoryStorage(),
	}
	// A JWKS that is down at start-up must not stop the router: it answers keys_unavailable
	// until a fetch succeeds.
	j.fetch()
	j.wg.Add(1)
	go j.refreshLoop(cfg.JWKSRefreshInterval)
	return j
}

// close stops the refresh loop and waits for every fetch to end.
func (j *jwksKeys) close() {
	j.cancel()
	j.wg.Wait()
}

func (j *jwksKeys) refreshLoop(every time.Duration) {
	defer j.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-j.life.Done():
			return
		case <-t.C:
			j.fetch()
		}
	}
}

// fetch gets the JWKS once, bounded by JWKSTimeout, and installs it unless a fetch that
// started later has already been installed. A failed fetch keeps the cached keys.
func (j *jwksKeys) fetch() {
	seq := j.seq.Add(1)
	ctx, cancel := context.WithTimeout(j.life, j.timeout)
	defer cancel()
	store := jwkset.NewMemoryStorage()
	// With no RefreshInterval, NewStorageFromHTTP fetches once into store and starts nothing.
	_, err := jwkset.NewStorageFromHTTP(j.url, jwkset.HTTPClientStorageOptions{
		Client: j.client, Ctx: ctx, HTTPTimeout: j.timeout, Storage: store,
	})
	if err != nil {
		if j.life.Err() == nil {
			j.log.WarnContext(ctx, "JWKS refresh failed; serving cached keys", "url", j.url, "error", err)
		}
		return
	}
	j.mu.Lock()
	if seq > j.applied {
		j.keys, j.applied = store, seq
	}
	j.mu.Unlock()
}

func (j *jwksKeys) current() jwkset.Storage {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.keys
}

func (j *jwksKeys) Key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	if j.fresh.Stale(j.maxStale) {
		return nil, fmt.Errorf("%w: no good JWKS fetch within %v", ErrKeysUnavailable, j.maxStale)
	}
	pub, err := j.lookup(ctx, kid)
	if !errors.Is(err, ErrUnknownKID) {
		return pub, err
	}
	j.awaitRefresh(ctx)
	// Look again even when no fetch was awaited: a fetch may have installed the key between the
	// first look and the budget check.
	return j.lookup(ctx, kid)
}

// awaitRefresh joins the running unknown-kid fetch, or starts one if the budget allows, and
// waits for it. It returns at once when the budget is spent and no fetch is running.
func (j *jwksKeys) awaitRefresh(ctx context.Context) {
	j.mu.Lock()
	done := j.running
	if done == nil {
		now := j.now()
		if (!j.last.IsZero() && now.Sub(j.last) < j.every) || j.life.Err() != nil {
			j.mu.Unlock()
			return
		}
		j.last = now
		done = make(chan struct{})
		j.running = done
		j.wg.Add(1)
		go func() { // owned by j: bounded by JWKSTimeout, cut short by close
			defer j.wg.Done()
			j.fetch()
			j.mu.Lock()
			j.running = nil
			j.mu.Unlock()
			close(done)
		}()
	}
	j.mu.Unlock()
	if j.waitHook != nil {
		j.waitHook()
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}

func (j *jwksKeys) lookup(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	keys := j.current()
	jwk, err := keys.KeyRead(ctx, kid)
	if err != nil {
		if all, aerr := keys.KeyReadAll(ctx); aerr == nil && len(all) == 0 {
			return nil, ErrKeysUnavailable
		}
		if errors.Is(err, jwkset.ErrKeyNotFound) || errors.Is(err, context.DeadlineExceeded) {
			return nil, ErrUnknownKID
		}
		return nil, fmt.Errorf("%w: %v", ErrUnknownKID, err)
	}
	pub, ok := jwk.Key().(*rsa.PublicKey)
	if !ok || rsakey.CheckSize(pub) != nil {
		return nil, ErrUnknownKID // non-RSA and weak keys in a JWKS are ignored
	}
	return pub, nil
}
