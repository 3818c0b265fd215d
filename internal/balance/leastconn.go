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
	ts := live(targets)
	p := &leastConn{live: ts, hosts: make([]*upstream.Host, len(ts)), weights: make([]int64, len(ts))}
	for i, t := range ts {
		p.hosts[i], p.weights[i] = t.Host, int64(t.Weight)
	}
	p.next.Store(randomStart())
	return p
}

type leastConn struct {
	live    []*upstream.Target
	hosts   []*upstream.Host // live[i].Host, read without touching live[i]
	weights []int64          // live[i].Weight
	_       pad
	next    atomic.Uint64 // where the next pick starts looking
	_       pad
}

// Pick implements Picker. A target's health is checked only when its load
// would make it the best so far: most targets cost one counter load.
func (p *leastConn) Pick(now time.Time, _ string, tried *Tried) *upstream.Target {
	n := uint64(len(p.live))
	if n == 0 {
		return nil
	}
	i := (p.next.Add(1) - 1) % n
	best := -1
	var bestIn, bestW int64
	for range n {
		j := i
		if i++; i == n {
			i = 0
		}
		in, w := max(p.hosts[j].InFlight(), 0), p.weights[j]
		if best >= 0 && in*bestW >= bestIn*w {
			continue
		}
		if t := p.live[j]; !eligible(t, now, tried) {
			continue
		}
		if in == 0 {
			return p.live[j] // idle: nothing can be better
		}
		best, bestIn, bestW = int(j), in, w
	}
	if best < 0 {
		return nil
	}
	return p.live[best]
}
