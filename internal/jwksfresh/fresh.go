// Package jwksfresh keeps a remote JWKS fresh for the verifier (CONN_JWKS_URL) and the issuer
// (WorkOS keys): Set refreshes it periodically and, rate limited, when a kid is unknown or no
// key is held, with the caller waiting for that one fetch; Tracker records when a fetch last
// produced keys, so that callers can bound how stale the keys they serve from cache may get
// while fetches fail.
package jwksfresh

import (
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// Tracker records when a JWKS fetch last produced keys (Mark), and caps the size of what its
// client reads (maxJWKSBytes).
type Tracker struct {
	now  func() time.Time
	last atomic.Int64 // Unix nanoseconds of the last good fetch; 0 = never
}

// New returns a Tracker reading time from now (time.Now when nil).
func New(now func() time.Time) *Tracker {
	if now == nil {
		now = time.Now
	}
	return &Tracker{now: now}
}

// Mark records a fetch whose JWKS parsed and held at least one key.
func (t *Tracker) Mark() { t.last.Store(t.now().UnixNano()) }

// maxJWKSBytes caps a JWKS body; a larger one is cut, fails to parse, and counts as a failed fetch.
const maxJWKSBytes = 1 << 20

// Client returns a copy of base (http.DefaultClient when nil) whose response bodies are capped.
func (t *Tracker) Client(base *http.Client) *http.Client {
	if base == nil {
		base = http.DefaultClient
	}
	c := *base
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.Transport = roundTripper{t: t, next: next}
	return &c
}

// Stale reports whether no good JWKS arrived within maxAge (or ever).
func (t *Tracker) Stale(maxAge time.Duration) bool {
	last := t.last.Load()
	return last == 0 || t.now().Sub(time.Unix(0, last)) > maxAge
}

type roundTripper struct {
	t    *Tracker
	next http.RoundTripper
}

// RoundTrip caps the body. It does not judge it: a 200 whose keys the parser refuses is no
// fresher than an error, which only the Set, after parsing, can tell (Mark).
func (rt roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rt.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	resp.Body = limitedBody{Reader: io.LimitReader(resp.Body, maxJWKSBytes), Closer: resp.Body}
	return resp, nil
}

type limitedBody struct {
	io.Reader
	io.Closer
}
