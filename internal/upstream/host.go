package upstream

import (
	"sync"
	"sync/atomic"
	"time"
)

// Host is the runtime state of one backend address.
type Host struct {
	Addr string    // "ip:port"
	base time.Time // the Set's monotonic origin; times below are offsets from it

	inflight atomic.Int64
	total    atomic.Uint64 // requests started

	// Passive health. downUntil is read on every pick; the rest is written
	// only on failure or on the first success after one, under mu.
	downUntil atomic.Int64 // offset from base in ns; 0 = not marked down
	failing   atomic.Bool  // fails > 0 or on probation: Success must clear it
	mu        sync.Mutex
	fails     int
	window    time.Duration // start of the current counting window (offset)
	probation bool          // back from a down period: one failure re-trips

	// Active health, written by a checker. pending: a new address waiting
	// for its first rise.
	activeDown atomic.Bool
	pending    atomic.Bool

	refs   int           // owned by Set.mu
	checks map[Check]int // probes wanted by the referring services; owned by Set.mu
	check  *Check        // the effective probe; owned by Set.mu

	// Local is a data plane's own state for the address (the proxy's idle
	// connections to it).
	Local Slot
}

// Begin records the start of a request or connection to this address.
func (h *Host) Begin() {
	h.inflight.Add(1)
	h.total.Add(1)
}

// End records the end of something started with Begin.
func (h *Host) End() { h.inflight.Add(-1) }

// InFlight returns the number of requests and connections under way.
func (h *Host) InFlight() int64 { return h.inflight.Load() }

// Total returns the number of requests ever started.
func (h *Host) Total() uint64 { return h.total.Load() }

// Up reports whether neither passive nor active health has taken the
// address out at time now.
func (h *Host) Up(now time.Time) bool {
	if h.activeDown.Load() {
		return false
	}
	d := h.downUntil.Load()
	return d == 0 || int64(now.Sub(h.base)) >= d
}

// PassiveDownUntil returns when the passive down period ends, or the zero
// time if the address is not passively down at now.
func (h *Host) PassiveDownUntil(now time.Time) time.Time {
	d := h.downUntil.Load()
	if d == 0 || int64(now.Sub(h.base)) >= d {
		return time.Time{}
	}
	return h.base.Add(time.Duration(d))
}

// Failure records a failed attempt (connect error, reset, timeout). After
// maxFails failures within failTimeout the address is down for failTimeout;
// when it comes back it is on probation and the next failure takes it down
// again at once. maxFails 0 turns passive health off. It reports whether
// this failure took the address down.
func (h *Host) Failure(now time.Time, maxFails int, failTimeout time.Duration) bool {
	if maxFails <= 0 {
		return false
	}
	t := now.Sub(h.base)
	h.mu.Lock()
	defer h.mu.Unlock()
	if d := h.downUntil.Load(); d != 0 && int64(t) < d {
		return false // already down
	}
	h.failing.Store(true)
	if h.downUntil.Load() != 0 {
		// The previous down period has ended: this is the retry after it.
		h.probation = true
		h.downUntil.Store(0)
	}
	if h.fails == 0 || t-h.window > failTimeout {
		h.fails, h.window = 0, t
	}
	h.fails++
	if h.fails >= maxFails || h.probation {
		h.fails = 0
		h.probation = false
		h.downUntil.Store(int64(t + failTimeout))
		return true
	}
	return false
}

// Success records a good response: failures are forgotten and probation
// ends. It costs one atomic load when there was no failure.
func (h *Host) Success() {
	if !h.failing.Load() {
		return
	}
	h.mu.Lock()
	h.fails, h.probation = 0, false
	if d := h.downUntil.Load(); d != 0 {
		// A success can only come from an attempt made after the period
		// ended (no new requests are sent while down).
		h.downUntil.Store(0)
	}
	h.failing.Store(false)
	h.mu.Unlock()
}

// Fails returns the failures counted in the current window.
func (h *Host) Fails() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.fails
}

// SetActiveDown records the verdict of an active health checker; either
// verdict ends the pending state.
func (h *Host) SetActiveDown(down bool) {
	h.activeDown.Store(down)
	h.pending.Store(false)
}

// Pending reports whether the address is new and not yet seen healthy.
func (h *Host) Pending() bool { return h.pending.Load() }

// SetPending takes a new address out until its checker sees it rise.
func (h *Host) SetPending() {
	h.pending.Store(true)
	h.activeDown.Store(true)
}

// ActiveDown reports whether an active checker has taken the address out.
func (h *Host) ActiveDown() bool { return h.activeDown.Load() }

// Health describes the address for people: "up", "pending" (new, not yet
// seen healthy), "down (passive)" or "down (active)".
func (h *Host) Health(now time.Time) string {
	switch {
	case h.pending.Load():
		return "pending"
	case h.activeDown.Load():
		return "down (active)"
	case !h.Up(now):
		return "down (passive)"
	}
	return "up"
}
