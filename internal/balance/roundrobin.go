package balance

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/webrouter/webrouter/internal/upstream"
)

// Round robin is nginx's smooth weighted round robin (SWRR): at each step
// every target's current weight grows by its weight, the target with the
// largest current weight is chosen (the earlier one on a tie) and its
// current weight drops by the sum of all weights. Over every W picks
// (W = sum of weights / their gcd) each target is chosen exactly
// weight/gcd times, spread out as evenly as possible: weights {5,1,1}
// give a a b a c a a.
//
// The sequence is periodic, so it is computed once at construction and Pick
// is one atomic increment and an index: lock-free and allocation-free. A
// target that is down, or already tried by this request, is skipped by
// taking the next slot from the shared counter, not the next entry after
// the skipped one: the skipped slot is consumed, so each slot still serves
// at most one request and the remaining targets keep exactly their
// weight-proportional share. (Moving on locally to the following entry would
// hand every request meant for a down target to the target after it.)
// Equal weights need no table: the sequence is the targets in order. A
// picker starts at a random slot, so that rebuilding it at every table
// generation does not favour the head of the sequence.
//
// If the period is longer than maxSeq entries (many targets with unequal,
// mutually prime weights), the sequence would cost too much memory and
// construction time, so it is generated live under a mutex instead (rrLive,
// the same sequence; a lock per Pick is the price of not storing it). Each
// step costs O(distinct weights), at most 1000, not O(targets), and one
// Pick takes the lock once.
//
// When sharedSteps consecutive slots are ineligible, most of the capacity
// is down (or the sequence has a long run of one down target): Pick then
// makes one weighted random choice among all eligible targets (see
// weighted). That keeps shares proportional to weights in expectation
// where scanning on from the last slot would favour whichever target
// follows the longest run of down ones, and it returns nil only if no
// target is usable and untried. The shared steps keep shares exact as
// long as the eligible targets hold more than about 1/sharedSteps of the
// sequence.

const (
	maxSeq      = 1 << 16 // longest precomputed sequence (256 KiB)
	sharedSteps = 64      // slots taken from the shared counter per Pick
	liveWork    = 8192    // bound on group comparisons under rrLive's lock
)

func newRoundRobin(targets []*upstream.Target) Picker {
	return newRoundRobinAt(targets, randomStart(), maxSeq)
}

// newRoundRobinAt builds the picker with its counter at start (ignored
// when the sequence is generated live) and sequences of at most maxLen
// entries.
func newRoundRobinAt(targets []*upstream.Target, start uint64, maxLen int) Picker {
	ts := live(targets)
	gen := newSWRR(ts)
	switch {
	case len(gen.groups) <= 1:
		// Equal weights: the sequence is the targets in order.
		p := &rrSeq{live: ts, n: uint64(len(ts))}
		p.next.Store(start)
		return p
	case gen.total <= int64(maxLen):
		seq := make([]int32, gen.total)
		for i := range seq {
			seq[i] = gen.next()
		}
		p := &rrSeq{live: ts, seq: seq, n: uint64(len(seq))}
		p.next.Store(start)
		return p
	}
	// Bound the work done under the lock when most targets are down.
	steps := min(max(liveWork/len(gen.groups), 8), sharedSteps)
	return &rrLive{live: ts, gen: gen, steps: steps}
}

// rrSeq picks from a precomputed SWRR sequence.
type rrSeq struct {
	live []*upstream.Target
	seq  []int32 // indices into live; nil means 0, 1, …, len(live)-1
	n    uint64  // period
	_    pad
	next atomic.Uint64
	_    pad
}

func (p *rrSeq) at(c uint64) *upstream.Target {
	i := c % p.n
	if p.seq != nil {
		return p.live[p.seq[i]]
	}
	return p.live[i]
}

// Pick implements Picker.
func (p *rrSeq) Pick(now time.Time, _ string, tried *Tried) *upstream.Target {
	if p.n == 0 {
		return nil
	}
	var c uint64
	for range min(p.n, sharedSteps) {
		c = p.next.Add(1) - 1
		if t := p.at(c); eligible(t, now, tried) {
			return t
		}
	}
	return weighted(p.live, nil, mix(c), now, tried)
}

// rrLive generates the SWRR sequence as it goes.
type rrLive struct {
	live   []*upstream.Target
	steps  int // entries generated per Pick before the weighted choice
	mu     sync.Mutex
	gen    *swrr
	misses uint64 // Picks that fell through to the weighted choice
}

// Pick implements Picker. It takes the lock once and generates entries
// until one is eligible, so skipped entries are consumed as in rrSeq.
func (p *rrLive) Pick(now time.Time, _ string, tried *Tried) *upstream.Target {
	p.mu.Lock()
	for range p.steps {
		if t := p.live[p.gen.next()]; eligible(t, now, tried) {
			p.mu.Unlock()
			return t
		}
	}
	p.misses++
	seed := p.misses
	p.mu.Unlock()
	return weighted(p.live, nil, mix(seed), now, tried)
}

// swrr generates nginx's SWRR sequence over targets with positive weights.
// Targets of equal weight are grouped: within a group the one with the
// fewest picks (the earliest on a tie) always has the largest current
// weight, so members are picked in turn and a group's state is one
// counter. After t steps a member picked k times has current weight
// t·w − W·k, so a step compares one candidate per group: O(distinct
// weights) instead of O(targets). Weights are divided by their gcd, which
// scales every current weight alike and so changes nothing but the period.
type swrr struct {
	groups []swrrGroup
	total  int64 // W: sum of scaled weights, the period
	t      int64 // steps taken in this period
}

type swrrGroup struct {
	w       int64   // scaled weight
	members []int32 // indices into the target list, ascending
	picks   int64   // picks from the group in this period
}

func newSWRR(ts []*upstream.Target) *swrr {
	g := 0
	for _, t := range ts {
		g = gcd(g, t.Weight)
	}
	s := &swrr{}
	byWeight := map[int]int{} // scaled weight → group index
	for i, t := range ts {
		w := t.Weight / g
		gi, ok := byWeight[w]
		if !ok {
			gi = len(s.groups)
			byWeight[w] = gi
			s.groups = append(s.groups, swrrGroup{w: int64(w)})
		}
		s.groups[gi].members = append(s.groups[gi].members, int32(i))
		s.total += int64(w)
	}
	return s
}

// next returns the index of the next target in the sequence. There must be
// at least one target.
func (s *swrr) next() int32 {
	s.t++
	best, bestIdx, bestV := 0, int32(-1), int64(0)
	for gi := range s.groups {
		g := &s.groups[gi]
		n := int64(len(g.members))
		idx := g.members[g.picks%n]
		v := s.t*g.w - s.total*(g.picks/n)
		if bestIdx < 0 || v > bestV || v == bestV && idx < bestIdx {
			best, bestIdx, bestV = gi, idx, v
		}
	}
	s.groups[best].picks++
	if s.t == s.total {
		// Every target has been picked exactly its weight times and every
		// current weight is back to zero: start the next period.
		s.t = 0
		for gi := range s.groups {
			s.groups[gi].picks = 0
		}
	}
	return bestIdx
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
