package upstream

import (
	"sync"
	"sync/atomic"
	"time"
)

// Endpoint is the runtime state of one instance of one service
// ("service/id"): its requests and connections in flight, and its drain.
//
// While the instance is draining (not ready, or removed from the registry)
// what is in flight continues; when the drain timeout passes, everything
// tracked on the endpoint is cut off (its Cut method is called once).
// Becoming ready again before then stops the drain.
type Endpoint struct {
	Key string // "service/id"

	inflight atomic.Int64

	mu      sync.Mutex
	timer   *time.Timer // the running drain deadline; nil: none
	drains  uint64      // drains started, to tell a stale timer
	cut     bool        // the drain deadline passed (until ready again)
	tracked Tracked     // what the deadline cuts off: the sentinel of a circular list
	refs    int         // owned by Set.mu
}

// Cutter is something in flight on an endpoint — a request, a connection —
// that a passed drain deadline cuts off. Cut may be called from any
// goroutine, at most once per Track, and with the endpoint's lock held:
// it must not block, nor Track or Untrack.
type Cutter interface{ Cut() }

// Tracked is an endpoint's hold on one Cutter between Track and Untrack: a
// link of the endpoint's list, kept in what is tracked (a field of it), so
// that tracking allocates and hashes nothing — a lock and a few pointers.
// The zero Tracked is ready for use; it is on one endpoint at a time.
type Tracked struct {
	prev, next *Tracked
	c          Cutter // nil: not tracked
}

func newEndpoint(key string) *Endpoint {
	e := &Endpoint{Key: key}
	e.tracked.prev, e.tracked.next = &e.tracked, &e.tracked
	return e
}

// Begin records a request or connection starting on the endpoint.
func (e *Endpoint) Begin() { e.inflight.Add(1) }

// End records the end of something started with Begin.
func (e *Endpoint) End() { e.inflight.Add(-1) }

// InFlight returns the requests and connections under way.
func (e *Endpoint) InFlight() int64 { return e.inflight.Load() }

// Track arranges for c to be cut off when the endpoint's drain deadline
// passes, t being c's hold (see Tracked); if it has passed, c is cut off at
// once (before Track returns). Untrack(t) undoes it.
func (e *Endpoint) Track(t *Tracked, c Cutter) {
	e.mu.Lock()
	if e.cut {
		e.mu.Unlock()
		c.Cut()
		return
	}
	t.c = c
	t.prev, t.next = &e.tracked, e.tracked.next
	t.next.prev, e.tracked.next = t, t
	e.mu.Unlock()
}

// Untrack ends what Track began; the Cutter is not cut off after it
// returns (the deadline cuts under the endpoint's lock).
func (e *Endpoint) Untrack(t *Tracked) {
	e.mu.Lock()
	if t.c != nil {
		t.prev.next, t.next.prev = t.next, t.prev
		*t = Tracked{}
	}
	e.mu.Unlock()
}

// CutOff reports whether the drain deadline has passed.
func (e *Endpoint) CutOff() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cut
}

// drain starts the drain deadline, unless one is running or has passed.
func (e *Endpoint) drain(timeout time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.timer == nil && !e.cut {
		e.drains++
		n := e.drains
		e.timer = time.AfterFunc(timeout, func() { e.deadlinePassed(n) })
	}
}

// deadlinePassed cuts off everything tracked when drain n's deadline
// passes.
func (e *Endpoint) deadlinePassed(n uint64) {
	e.mu.Lock()
	if e.timer == nil || e.drains != n { // undrain stopped it as it fired
		e.mu.Unlock()
		return
	}
	e.cut = true
	// Cut under the lock, so that nothing is cut after its Untrack
	// returned (Cut does not block).
	for t := e.tracked.next; t != &e.tracked; {
		next, c := t.next, t.c
		*t = Tracked{}
		c.Cut()
		t = next
	}
	e.tracked.prev, e.tracked.next = &e.tracked, &e.tracked
	e.mu.Unlock()
}

// undrain stops a running drain deadline, and ends a passed one so that
// new requests are not cut off.
func (e *Endpoint) undrain() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
	e.cut = false
}

// Draining reports whether a drain deadline is running or has passed.
func (e *Endpoint) Draining() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.timer != nil || e.cut
}
