// Package live holds the routing table that every reader uses.
//
// Exactly one goroutine (Run) swaps the table; readers call Table, an
// atomic load with no lock. Every reader therefore sees one whole
// generation. WaitRev lets a writer block until its change is routable.
package live

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/compile"
	"github.com/webrouter/webrouter/internal/route"
)

// Live is the current routing table.
type Live struct {
	cur atomic.Pointer[route.Table]

	mu      sync.Mutex
	swapped chan struct{} // closed and replaced at every swap

	onSwap func(*route.Table)
}

// New returns a Live holding an empty generation-0 table. onSwap, if not
// nil, is called from the swapping goroutine after each swap and before
// WaitRev's waiters are released, so that what it does (metrics, logs,
// opening and closing TCP ports) is done when a write returns; it must not
// block.
func New(onSwap func(*route.Table)) *Live {
	l := &Live{swapped: make(chan struct{}), onSwap: onSwap}
	l.cur.Store(route.New(0, 0, nil, nil, nil))
	return l
}

// Table returns the current table. It never returns nil.
func (l *Live) Table() *route.Table { return l.cur.Load() }

// Run compiles each batch from feed with c and swaps the result in, until
// ctx ends. It must be the only caller of swap: run it once (or RunLocal).
func (l *Live) Run(ctx context.Context, feed *catalog.Feed, c *compile.Compiler) {
	l.RunLocal(ctx, feed, c, nil)
}

// RunLocal is Run that also takes this router's own certificates (its cert
// dir): each value received on local is the whole set, by name, and is
// compiled into the next table at the current registry revision. A nil
// local is never ready.
func (l *Live) RunLocal(ctx context.Context, feed *catalog.Feed, c *compile.Compiler, local <-chan map[string]*catalog.Certificate) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-feed.Ready():
			l.swap(c.Apply(feed.Take()))
		case certs := <-local:
			l.swap(c.ApplyLocal(l.Table().Rev, certs))
		}
	}
}

// Seed swaps in t, a table compiled before Run starts (e.g. with the
// router's own certificates, which must be served even while the registry
// is empty). It must not be called once Run (or RunLocal) runs.
func (l *Live) Seed(t *route.Table) { l.swap(t) }

func (l *Live) swap(t *route.Table) {
	l.cur.Store(t)
	if l.onSwap != nil {
		l.onSwap(t)
	}
	l.mu.Lock()
	close(l.swapped)
	l.swapped = make(chan struct{})
	l.mu.Unlock()
}

// WaitRev blocks until the table has been compiled from registry revision
// rev or later, or ctx ends.
func (l *Live) WaitRev(ctx context.Context, rev uint64) error {
	for {
		l.mu.Lock()
		ch := l.swapped
		l.mu.Unlock()
		if l.Table().Rev >= rev {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
