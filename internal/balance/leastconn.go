package balance

import (
	"sync/atomic"
	"time"

	"github.com/webrouter/webrouter/internal/upstream"
)

// Least connections picks the usable, untried target with the fewest
// in-flight requests per unit of weight (Host.InFlight / Weight), so a
// target of weight 2 is given twice the concurrent requests of one of
// weight 1. Ratios are compared as cross products, a.inflight·b.weight <
// b.inflight·a.weight, in integers. Among equal targets the first one in a
// rotating order wins, so idle or equally loaded targets share the load
// instead of the first one taking it all. Zero-weight and not-ready targets
// are never picked.
//
// Pick reads every target's counter (as nginx does), except that it stops
// at the first eligible idle target, which is always a best choice: under
// light load a pick costs a few targets, under heavy load one pass.

func newLeastConn(targets []*upstream.Target) Picker {
	p := &leastConn{live: live(targets)}
	p.next.Store(randomStart())
	return p
}

type leastConn struct {
	live []*upstream.Target
	_    pad
	next atomic.Uint64 // where the next pick starts looking
	_    pad
}

// Pick implements Picker.
func (p *leastConn) Pick(now time.Time, _ string, tried *Tried) *upstream.Target {
	n := uint64(len(p.live))
	if n == 0 {
		return nil
	}
	i := (p.next.Add(1) - 1) % n
	var best *upstream.Target
	var bestIn, bestW int64
	for range n {
		t := p.live[i]
		if i++; i == n {
			i = 0
		}
		if !eligible(t, now, tried) {
			continue
		}
		in := max(t.Host.InFlight(), 0)
		w := int64(t.Weight)
		if in == 0 {
			return t
		}
		if best == nil || in*bestW < bestIn*w {
			best, bestIn, bestW = t, in, w
		}
	}
	return best
}
