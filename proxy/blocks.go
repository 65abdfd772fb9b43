package proxy

import (
	"sync"
	"time"
)

// blockList is the hub mode's record of POST /orgs/{org}/disconnect blocks: user → until when
// their handshakes in that org are refused with 403 revoked. It belongs to the registry, not to an
// org's hub, so a block outlives the hub that is torn down when the org's last socket leaves
// (the Worker keeps its blocks in the Durable Object's SQLite for the same reason). It is in
// memory: a restart forgets the blocks, as it forgets the sockets (docs/security.md).
//
// Its size is what authenticated backends asked for, each entry at most an hour: expired
// entries are dropped when looked up, and swept whenever the map has doubled since the last
// sweep, so a stream of blocks for different users costs amortised O(1) each.
type blockList struct {
	mu    sync.Mutex
	until map[blockKey]time.Time
	sweep int // sweep expired entries when len(until) reaches this
}

type blockKey struct{ org, user string }

const minBlockSweep = 1024

func newBlockList() *blockList {
	return &blockList{until: map[blockKey]time.Time{}, sweep: minBlockSweep}
}

// add blocks user in org until until, or later if a block already ends later: a block is never
// shortened by a later call.
func (b *blockList) add(org, user string, until, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := blockKey{org, user}
	if old, ok := b.until[k]; ok && old.After(until) {
		return
	}
	b.until[k] = until
	if len(b.until) >= b.sweep {
		for k, t := range b.until {
			if !now.Before(t) {
				delete(b.until, k)
			}
		}
		b.sweep = max(minBlockSweep, 2*len(b.until))
	}
}

// blocked reports whether user is blocked in org at now.
func (b *blockList) blocked(org, user string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := blockKey{org, user}
	t, ok := b.until[k]
	if ok && !now.Before(t) {
		delete(b.until, k)
		return false
	}
	return ok
}

// len is the number of entries held, expired ones not yet dropped included.
func (b *blockList) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.until)
}
