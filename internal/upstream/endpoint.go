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
	timer   *time.Timer         // the running drain deadline; nil: none
	drains  uint64              // drains started, to tell a stale timer
	cut     bool                // the drain deadline passed (until ready again)
	tracked map[Cutter]struct{} // what the deadline cuts off
	refs    int                 // owned by Set.mu
}

// Cutter is something in flight on an endpoint — a request, a connection —
// that a passed drain deadline cuts off. Cut may be called from any
// goroutine, at most once per Track.
type Cutter interface{ Cut() }

func newEndpoint(key string) *Endpoint {
	return &Endpoint{Key: key, tracked: map[Cutter]struct{}{}}
}

// Begin records a request or connection starting on the endpoint.
func (e *Endpoint) Begin() { e.inflight.Add(1) }

// End records the end of something started with Begin.
func (e *Endpoint) End() { e.inflight.Add(-1) }

// InFlight returns the requests and connections under way.
func (e *Endpoint) InFlight() int64 { return e.inflight.Load() }

// Track arranges for c to be cut off when the endpoint's drain deadline
// passes; if it has passed, c is cut off at once (before Track returns).
// Untrack undoes it. Unlike a context registration, it allocates nothing.
func (e *Endpoint) Track(c Cutter) {
	e.mu.Lock()
	cut := e.cut
	if !cut {
		e.tracked[c] = struct{}{}
	}
	e.mu.Unlock()
	if cut {
		c.Cut()
	}
}

// Untrack ends what Track began; c is not cut off after it returns.
func (e *Endpoint) Untrack(c Cutter) {
	e.mu.Lock()
	delete(e.tracked, c)
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
	victims := make([]Cutter, 0, len(e.tracked))
	for c := range e.tracked {
		victims = append(victims, c)
	}
	clear(e.tracked)
	e.mu.Unlock()
	for _, c := range victims {
		c.Cut()
	}
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
