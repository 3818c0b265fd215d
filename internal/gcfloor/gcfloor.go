// Package gcfloor keeps Go's garbage collector from running every few
// megabytes of allocation while the live heap is small.
//
// Go starts a collection when the heap has grown by GOGC percent (100)
// over what the last one left live, and at 4 MB at the least. A router's
// live heap is a megabyte or two, so under load it collected 5 to 10 times
// a second, each cycle marking for 4–6 ms on a one-core process: some 2–3 %
// of the CPU and 2.5–5 % of the time with the write barrier on and the
// mark worker taking turns with the requests.
//
// Start raises the GC percentage after each collection so that the next
// one comes at the floor (a heap size), not before, and leaves the
// operator's percentage alone once the live heap is large enough that it
// reaches the floor by itself. The cost is memory: the heap may grow to the
// floor before it is collected. An operator who sets GOGC (or GOMEMLIMIT
// with GOGC=off) keeps full control: Start does nothing then.
package gcfloor

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// DefaultFloor is the heap size below which the router does not collect.
const DefaultFloor = 32 << 20

// liveMetric is the heap the last collection left live.
const liveMetric = "/gc/heap/live:bytes"

// minHeap is the runtime's smallest heap goal at GOGC=100; it scales with
// the percentage (4 MiB × GOGC/100, see the Go GC guide), so a large
// percentage alone would put even an empty heap's goal far above the floor.
const minHeap = 4 << 20

// Start keeps the next collection from starting before the heap reaches
// floor bytes, adjusting the GC percentage after every collection, until
// stop is called; stop restores the percentage. With GOGC set in the
// environment it does nothing.
func Start(floor uint64) (stop func()) {
	if _, set := os.LookupEnv("GOGC"); set || floor == 0 {
		return func() {}
	}
	base := debug.SetGCPercent(100)
	debug.SetGCPercent(base)
	t := &tuner{floor: floor, base: base}
	t.sample = []metrics.Sample{{Name: liveMetric}}
	t.adjust()
	t.arm()
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if !t.stopped {
			t.stopped = true
			debug.SetGCPercent(t.base)
		}
	}
}

// tuner is one Start's state. It is reached from the finalizer of the
// sentinel that each collection frees (arm), and from stop.
type tuner struct {
	floor uint64
	base  int // the percentage before Start

	mu      sync.Mutex
	sample  []metrics.Sample
	stopped bool
}

// sentinel is an object no one refers to: the collection that frees it
// runs its finalizer, which arms the next. It holds a pointer so that it is
// not one of the tiny allocations whose finalizers may not run.
type sentinel struct{ t *tuner }

func (t *tuner) arm() {
	s := &sentinel{t: t}
	runtime.SetFinalizer(s, func(s *sentinel) {
		if s.t.adjust() {
			s.t.arm()
		}
	})
}

// adjust sets the percentage for the next collection from the live heap;
// it reports false once stopped.
func (t *tuner) adjust() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return false
	}
	metrics.Read(t.sample)
	live := uint64(0)
	if t.sample[0].Value.Kind() == metrics.KindUint64 {
		live = t.sample[0].Value.Uint64()
	}
	debug.SetGCPercent(percent(live, t.floor, t.base))
	return true
}

// percent is the GC percentage that puts the next collection at floor
// bytes for a live heap of live bytes, never below base. The runtime's goal
// is the larger of live × (1 + GOGC/100) and minHeap × GOGC/100: both are
// kept at or under the floor.
func percent(live, floor uint64, base int) int {
	if live >= floor {
		return base
	}
	p := float64(floor) * 100 / minHeap
	if live > 0 {
		p = math.Min(p, float64(floor-live)*100/float64(live))
	}
	return max(base, int(p))
}
