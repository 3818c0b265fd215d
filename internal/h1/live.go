package h1

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/webrouter/webrouter/internal/hangup"
)

// live is a server's list of open connections, for four things: when
// BaseContext ends, their contexts are cancelled and what their handlers
// named with CutOnGone is cut off (cutAll); the client watch starts for
// requests that have run for watchAfter, once their client hangs up where
// the connection is registered for it (register), after looks first
// (maxLooks) where it can only be peeked at; a connection waiting for its
// next request is looked at once for what came before the wait began
// (recheck; both by sweep); and a drain closes the idle ones (closeIf).
// One context.AfterFunc on
// BaseContext and one goroutine ticking while connections are open serve
// every connection: a connection joins and leaves the list with a lock and
// two pointers, and arms and disarms its watch with a store, without
// allocating and without a timer per connection or per request.
type live struct {
	mu      sync.Mutex
	head    conn // sentinel of a circular list; made on first use
	once    sync.Once
	base    context.Context // BaseContext without its cancellation; made on first use
	ticking bool            // under mu: sweep runs

	// tick is the watch's clock, advanced by sweep every watchTick.
	tick atomic.Uint64

	// The connections registered for their client's hang-up (package
	// hangup; see register). hups, noHups, lastKey and found are the
	// sweep's; keyed is under mu. hups is made at the first registration
	// and closed when the sweep ends.
	hups    *hangup.Set
	noHups  bool // hangup.New failed: every connection is looked at
	lastKey uint32
	keyed   map[uint32]*conn // by registration key; a conn's key is under mu
	found   []uint64         // the keys the last poll reported
	foundFn func(key uint64) // appends to found, made once

	// The table of watch states, under mu: its pages, the conn of each
	// state (nil: free or dead), how many states of each page are taken
	// (by a conn, or dead), and the free states' places, the last freed
	// last (taken first: the table stays dense).
	chunks []*stateChunk
	conns  []*conn
	taken  []int32
	free   []int32
}

// watchState is what the sweep reads of one connection every tick. It is
// kept apart from the conn, in a table of the live list's, so that the
// sweep's walk reads memory in order, one cache line a connection,
// instead of chasing the list through three of each conn's lines: with
// 10 000 idle connections the walk took 2 % of a core. Each state has a
// cache line of its own, so that connections served on other cores do not
// share one with their stores.
type watchState struct {
	// The watch's tick (live) from which the armed request is watched;
	// 0: none. Written by the connection and the sweep.
	due atomic.Uint64
	// 1 + the watch tick at which flushAwait's wait began; 0: not
	// waiting; or checking, checked (see recheck).
	waitFrom atomic.Uint64
	idx      int32 // its place in the table: page × 64 + place on the page
	dead     bool  // under live.mu: its conn was removed; the sweep frees it
	_        [43]byte
}

// stateChunk is a page of the table: 64 states of 64 bytes. Holding no
// pointer, it is allocated 4 KiB-aligned (no malloc header before it), so
// each state is a cache line; the conns are in a table of their own.
type stateChunk [statesPerPage]watchState

// statesPerPage is how many watch states a page of the table holds.
const statesPerPage = 64

// watchTick is the period of the watch's clock. A request is watched once
// the clock has advanced three times since it was armed: after 2 to 3
// ticks, watchAfter at the least.
const (
	watchTick  = watchAfter / 2
	watchTicks = 3
)

// due is the tick from which a request armed now is to be watched.
func (l *live) due() uint64 { return l.tick.Load() + watchTicks }

// add makes c's context and puts c on the list; parent is BaseContext,
// whose end cancels c's context and cuts c. If parent has already ended,
// that is done at once: whatever order add and cutAll run in, c is
// cancelled and cut.
//
// c's context has parent's values but not its cancellation: a child of a
// cancellable context costs a registration with it (a lock, a map entry
// and its removal) per connection, where the list cancels them all with
// one AfterFunc per server.
func (l *live) add(c *conn, parent context.Context) {
	l.once.Do(func() {
		l.head.prev, l.head.next = &l.head, &l.head
		l.base = context.WithoutCancel(parent)
		if parent.Done() != nil {
			context.AfterFunc(parent, l.cutAll)
		}
	})
	c.ctx, c.cancel = context.WithCancel(l.base)
	l.mu.Lock()
	c.ws = l.takeState(c)
	c.prev, c.next = l.head.prev, &l.head
	l.head.prev.next = c
	l.head.prev = c
	if !l.ticking {
		l.ticking = true
		go l.sweep()
	}
	l.mu.Unlock()
	if parent.Err() != nil {
		c.cancel()
		c.cutNow()
	}
}

// remove takes c off the list (once closed, there is nothing to cut).
func (l *live) remove(c *conn) {
	l.mu.Lock()
	if c.next != nil {
		c.prev.next, c.next.prev = c.next, c.prev
		c.prev, c.next = nil, nil
	}
	if c.key != 0 {
		delete(l.keyed, c.key)
	}
	if i := c.ws.idx; l.conns[i] == c {
		// Let go, not freed: the sweep may be handling c still, and
		// store to its state; its next walk frees it.
		l.conns[i], c.ws.dead = nil, true
	}
	l.mu.Unlock()
}

// takeState gives c a free watch state, adding a page when none is free;
// under mu.
func (l *live) takeState(c *conn) *watchState {
	if len(l.free) == 0 {
		ch := new(stateChunk)
		base := int32(len(l.conns))
		for i := len(ch) - 1; i >= 0; i-- {
			ch[i].idx = base + int32(i)
			l.free = append(l.free, base+int32(i))
		}
		l.chunks, l.taken = append(l.chunks, ch), append(l.taken, 0)
		l.conns = append(l.conns, make([]*conn, len(ch))...)
	}
	i := l.free[len(l.free)-1]
	l.free = l.free[:len(l.free)-1]
	l.conns[i] = c
	l.taken[i/statesPerPage]++
	return &l.chunks[i/statesPerPage][i%statesPerPage]
}

// freeState frees st, a dead state; under mu, on the sweep's goroutine,
// at a walk (see remove).
func (l *live) freeState(st *watchState) {
	st.due.Store(0)
	st.waitFrom.Store(0)
	st.dead = false
	l.taken[st.idx/statesPerPage]--
	l.free = append(l.free, st.idx)
}

// register registers c for its client's hang-up (package hangup), once:
// from then on the sweep hears of the client's leaving from its poll
// and neither looks at c's requests nor starts a watcher until it does.
// It runs on the sweep's goroutine; a connection that cannot be
// registered (a set not made, a failed epoll_ctl, c closed meanwhile) is
// looked at as before.
func (l *live) register(c *conn) {
	if c.key != 0 || c.noKey {
		return
	}
	c.noKey = true // until it succeeds: tried once
	if l.hups == nil {
		if l.noHups {
			return
		}
		s, err := hangup.New()
		if err != nil {
			l.noHups = true
			return
		}
		l.hups, l.keyed = s, make(map[uint32]*conn)
	}
	l.mu.Lock()
	l.lastKey++
	for l.lastKey == 0 || l.keyed[l.lastKey] != nil { // wrapped around
		l.lastKey++
	}
	key, set := l.lastKey, l.hups
	l.mu.Unlock()
	var err error
	if !c.control(func(fd uintptr) { err = set.Add(fd, uint64(key)) }) || err != nil {
		return
	}
	l.mu.Lock()
	if c.next != nil { // not removed meanwhile (a closed one's registration ended with it)
		l.keyed[key], c.key, c.noKey = c, key, false
	}
	l.mu.Unlock()
}

// poll gathers into found the keys of the registered connections whose
// client hung up since the last poll. A failed poll (it should not fail)
// ends the set: each connection is registered anew, in a new set, when a
// request of its is next due.
func (l *live) poll() {
	l.found = l.found[:0]
	if l.hups == nil {
		return
	}
	if l.foundFn == nil {
		l.foundFn = func(key uint64) { l.found = append(l.found, key) }
	}
	if err := l.hups.Poll(l.foundFn); err != nil {
		l.mu.Lock()
		l.dropHups()
		l.mu.Unlock()
	}
}

// dropHups closes the set and forgets the registrations; under mu.
func (l *live) dropHups() {
	if l.hups == nil {
		return
	}
	l.hups.Close()
	l.hups = nil
	for _, c := range l.keyed {
		c.key = 0
	}
	l.keyed = nil
}

// cutAll cancels every live connection's context and cuts off its
// cutter; it runs once BaseContext has ended. (A connection's context is
// not BaseContext's child: see add.)
func (l *live) cutAll() {
	l.mu.Lock()
	var all []*conn
	for c := l.head.next; c != &l.head; c = c.next {
		all = append(all, c)
	}
	l.mu.Unlock()
	for _, c := range all {
		c.cancel()
		c.cutNow()
	}
}

// sweep advances the watch's clock every watchTick; registers each
// connection whose request is due (conn.due) for its client's hang-up
// (register), then polls for hang-ups; starts the watch of a request whose
// client hung up or, on a connection not registered, that is due (after
// looks where it can peek: conn.look); and rechecks each connection
// waiting since recheckTicks. It ends when no connection is left (add
// starts it again).
func (l *live) sweep() {
	t := time.NewTicker(watchTick)
	defer t.Stop()
	var due, hung []*conn
	var waiting []late
	for range t.C {
		now := l.tick.Add(1)
		l.mu.Lock()
		empty := l.head.next == &l.head
		due, waiting = l.walk(now, due, waiting)
		if empty {
			l.ticking = false
			l.dropHups()
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		for _, c := range due {
			l.register(c) // a hang-up before it is reported by the poll below
		}
		l.poll()
		if len(l.found) > 0 {
			l.mu.Lock()
			for _, k := range l.found {
				if c := l.keyed[uint32(k)]; k>>32 == 0 && c != nil {
					hung = append(hung, c)
				}
			}
			l.mu.Unlock()
		}
		for i, c := range hung {
			c.hup = true
			if c.look(now) {
				go c.watch()
			}
			hung[i] = nil
		}
		hung = hung[:0]
		for i, c := range due {
			// A TLS connection not registered cannot be looked at (a
			// close_notify alert is data): it is watched at once.
			if c.key == 0 && !c.rio.Ready() || c.look(now) {
				go c.watch()
			}
			due[i] = nil
		}
		due = due[:0]
		for i, x := range waiting {
			x.c.recheck(x.w)
			waiting[i] = late{}
		}
		waiting = waiting[:0]
	}
}

// late is a connection whose wait for its next request began at w-1 and
// is to be rechecked.
type late struct {
	c *conn
	w uint64
}

// walk appends to due the connections whose request is due at tick now
// (taking it: their due is cleared) and to waiting those to recheck, and
// frees the states of removed connections; under mu. It reads the table
// of watch states in order, a cache line a connection.
func (l *live) walk(now uint64, due []*conn, waiting []late) ([]*conn, []late) {
	for k, ch := range l.chunks {
		if l.taken[k] == 0 {
			continue
		}
		conns := l.conns[k*len(ch) : (k+1)*len(ch)]
		for i := range ch {
			st, c := &ch[i], conns[i]
			if c == nil {
				if st.dead {
					l.freeState(st)
				}
				continue
			}
			if d := st.due.Load(); d != 0 && now >= d && st.due.CompareAndSwap(d, 0) {
				due = append(due, c)
			}
			if w := st.waitFrom.Load(); w != 0 && w < checking && now >= w+recheckTicks {
				waiting = append(waiting, late{c, w})
			}
		}
	}
	return due, waiting
}

// closeIf closes the connection of each live conn that is not hijacked and
// for which close reports true (given the watch's clock), and returns how
// many others remain.
func (l *live) closeIf(close func(c *conn, now uint64) bool) (open int) {
	now := l.tick.Load()
	var shut []net.Conn
	l.mu.Lock()
	if l.head.next != nil {
		for c := l.head.next; c != &l.head; c = c.next {
			switch {
			case http.ConnState(c.state.Load()) == http.StateHijacked:
			case close(c, now):
				shut = append(shut, c.nc)
			default:
				open++
			}
		}
	}
	l.mu.Unlock()
	for _, nc := range shut {
		nc.Close()
	}
	return open
}
