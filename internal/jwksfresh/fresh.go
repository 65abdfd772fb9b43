// Package jwksfresh keeps a remote JWKS fresh for the verifier (CONN_JWKS_URL) and the issuer
// (WorkOS keys): Set refreshes it periodically and, rate limited, when a kid is unknown, with
// the caller waiting for that one fetch; Tracker records when a fetch last succeeded, so that
// callers can bound how stale the keys they serve from cache may get while fetches fail.
package jwksfresh

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// Tracker wraps an http.Client's transport and notes each response that is a usable JWKS.
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

// Client returns a copy of base (http.DefaultClient when nil) whose responses are tracked.
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

func (rt roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rt.next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if json.Unmarshal(body, &set) == nil && len(set.Keys) > 0 {
		rt.t.last.Store(rt.t.now().UnixNano())
	}
	return resp, nil
}
