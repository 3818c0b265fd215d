package balance

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/webrouter/webrouter/internal/upstream"
)

// pad keeps a hot atomic counter on a cache line of its own, so that
// writing it does not slow down readers of the picker's immutable fields.
type pad [64]byte

// live returns the targets that can ever take traffic in this generation:
// Ready and Weight are immutable, so a target without them is left out at
// construction instead of being skipped on every Pick. Health is dynamic
// and is still checked by every Pick.
func live(targets []*upstream.Target) []*upstream.Target {
	out := make([]*upstream.Target, 0, len(targets))
	for _, t := range targets {
		if t.Ready && t.Weight > 0 {
			out = append(out, t)
		}
	}
	return out
}

// eligible reports whether t may be returned by Pick.
func eligible(t *upstream.Target, now time.Time, tried *Tried) bool {
	return t.Usable(now) && !tried.Has(t)
}

// weighted returns an eligible target of ts, or nil if there is none. It is
// the last resort of the policies: one pass over all targets, with a
// health check each, that never misses one. The choice is weighted
// rendezvous hashing: target i scores w/−ln(u), u uniform in (0,1) hashed
// from seed and salts[i] (i itself if salts is nil), and the highest score
// wins. A random seed picks each target with probability proportional to
// its weight among the eligible ones; a fixed seed (a client's hash) always
// picks the same target, and only the seeds of a target that goes away
// move.
func weighted(ts []*upstream.Target, salts []uint64, seed uint64, now time.Time, tried *Tried) *upstream.Target {
	var best *upstream.Target
	bestCost := math.Inf(1) // −ln(u)/w: the lowest cost is the highest score
	for i, t := range ts {
		if !eligible(t, now, tried) {
			continue
		}
		salt := uint64(i)
		if salts != nil {
			salt = salts[i]
		}
		x := mix(seed ^ mix(salt+0x9e3779b97f4a7c15))
		u := (float64(x>>11) + 0.5) / (1 << 53)
		if cost := -math.Log(u) / float64(t.Weight); cost < bestCost {
			best, bestCost = t, cost
		}
	}
	return best
}

// randomStart is where a new picker's rotation begins. Pickers are rebuilt
// on every table generation of their service; starting each at the same
// place would send the first requests after every rebuild to the same
// target.
func randomStart() uint64 { return rand.Uint64() }
