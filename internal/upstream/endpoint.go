package upstream

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Endpoint is the runtime state of one instance of one service
// ("service/id"): its requests and connections in flight, and its drain.
//
// While the instance is draining (not ready, or removed from the registry)
// what is in flight continues; when the drain timeout passes, Context is
// cancelled, which cuts off whatever is still running on the endpoint.
// Becoming ready again before then stops the drain.
type Endpoint struct {
	Key string // "service/id"

	inflight atomic.Int64
	deadline atomic.Pointer[drainDeadline]

	mu    sync.Mutex
	timer *time.Timer
	refs  int // owned by Set.mu
}

// drainDeadline is one drain's context; a spent one is replaced when the
// endpoint is ready again.
type drainDeadline struct {
	ctx    context.Context
	cancel context.CancelFunc
}

func newDeadline() *drainDeadline {
	ctx, cancel := context.WithCancel(context.Background())
	return &drainDeadline{ctx: ctx, cancel: cancel}
}

func newEndpoint(key string) *Endpoint {
	e := &Endpoint{Key: key}
	e.deadline.Store(newDeadline())
	return e
}

// Begin records a request or connection starting on the endpoint.
func (e *Endpoint) Begin() { e.inflight.Add(1) }

// End records the end of something started with Begin.
func (e *Endpoint) End() { e.inflight.Add(-1) }

// InFlight returns the requests and connections under way.
func (e *Endpoint) InFlight() int64 { return e.inflight.Load() }

// Context is cancelled when the endpoint's current drain deadline passes.
func (e *Endpoint) Context() context.Context { return e.deadline.Load().ctx }

// drain starts the drain deadline, unless one is running or has passed.
func (e *Endpoint) drain(timeout time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if d := e.deadline.Load(); e.timer == nil && d.ctx.Err() == nil {
		e.timer = time.AfterFunc(timeout, d.cancel)
	}
}

// undrain stops a running drain deadline, and replaces a spent one so that
// new requests are not cut off.
func (e *Endpoint) undrain() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
	if e.deadline.Load().ctx.Err() != nil {
		e.deadline.Store(newDeadline())
	}
}

// Draining reports whether a drain deadline is running or has passed.
func (e *Endpoint) Draining() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.timer != nil || e.deadline.Load().ctx.Err() != nil
}
