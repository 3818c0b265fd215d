package balance

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/upstream"
)

// nginxSWRR is nginx's loop, written plainly, as the reference.
func nginxSWRR(weights []int, picks int) []int {
	cur := make([]int, len(weights))
	total := 0
	for _, w := range weights {
		total += w
	}
	out := make([]int, 0, picks)
	for range picks {
		best := -1
		for i, w := range weights {
			if w == 0 {
				continue
			}
			cur[i] += w
			if best < 0 || cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= total
		out = append(out, best)
	}
	return out
}

// modes builds round robin with a precomputed sequence and generated live.
func modes(ts []*upstream.Target) map[string]Picker {
	return map[string]Picker{"seq": newRoundRobinAt(ts, 0, maxSeq), "live": newRoundRobinAt(ts, 0, 0)}
}

func TestRoundRobinSequence(t *testing.T) {
	cases := []struct {
		weights []int
		want    string
	}{
		{[]int{5, 1, 1}, "aabacaa" + "aabacaa"}, // nginx's classic example
		{[]int{1, 1, 1}, "abcabc"},
		{[]int{10, 10, 10}, "abcabc"},
		{[]int{3, 2}, "ababa" + "ababa"},
		{[]int{4, 2}, "aba" + "aba"}, // the gcd changes only the period
		{[]int{0, 1, 2}, "cbc" + "cbc"},
		{[]int{1}, "aaa"},
	}
	for _, c := range cases {
		for mode, p := range modes(mkTargets(c.weights...)) {
			var got []*upstream.Target
			for range len(c.want) {
				got = append(got, p.Pick(now, "", nil))
			}
			if ids(got...) != c.want {
				t.Errorf("%v %s: got %s, want %s", c.weights, mode, ids(got...), c.want)
			}
		}
	}
}

// TestRoundRobinMatchesNginx compares both modes with nginx's loop over
// random weights for three periods.
func TestRoundRobinMatchesNginx(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for round := range 100 {
		weights := make([]int, 1+r.IntN(30))
		for i := range weights {
			weights[i] = r.IntN(50) * (1 + r.IntN(3))
		}
		weights[r.IntN(len(weights))] += 1 + r.IntN(5) // at least one positive
		ts := mkTargets(weights...)
		idx := map[*upstream.Target]int{}
		for i, tg := range ts {
			idx[tg] = i
		}
		total := 0
		for _, w := range weights {
			total += w
		}
		want := nginxSWRR(weights, 3*total)
		for mode, p := range modes(ts) {
			for i, w := range want {
				if got := idx[p.Pick(now, "", nil)]; got != w {
					t.Fatalf("round %d %s weights %v: pick %d is %d, want %d", round, mode, weights, i, got, w)
				}
			}
		}
	}
}

// TestRoundRobinCycle checks that every full period, from any start,
// gives each target exactly its weight's share.
func TestRoundRobinCycle(t *testing.T) {
	cases := []struct {
		weights []int
		period  int
		want    map[string]int // per period
	}{
		{[]int{5, 1, 1}, 7, map[string]int{"a": 5, "b": 1, "c": 1}},
		{[]int{30, 70, 0, 100}, 20, map[string]int{"a": 3, "b": 7, "d": 10}},
		{[]int{10, 10, 10, 10}, 4, map[string]int{"a": 1, "b": 1, "c": 1, "d": 1}},
		{[]int{1000, 999}, 1999, map[string]int{"a": 1000, "b": 999}},
	}
	for _, c := range cases {
		p, _ := New(catalog.RoundRobin, mkTargets(c.weights...))
		for k := 1; k <= 3; k++ {
			got := count(p, c.period, nil)
			for id, n := range c.want {
				if got[id] != n {
					t.Errorf("%v period %d: %s picked %d times, want %d (%v)", c.weights, k, id, got[id], n, got)
				}
			}
			if len(got) != len(c.want) {
				t.Errorf("%v: picked %v, want only %v", c.weights, got, c.want)
			}
		}
	}
}

// TestRoundRobinDown checks that the targets left share the traffic of
// down ones in proportion to their weights, not by handing it all to the
// next target in the sequence.
func TestRoundRobinDown(t *testing.T) {
	cases := []struct {
		weights []int
		down    []int // indices passively down
		active  []int // indices actively down
	}{
		{[]int{1, 1, 1, 1}, []int{1}, nil},
		{[]int{5, 1, 1}, []int{0}, nil},
		{[]int{5, 1, 1, 3}, nil, []int{0}},
		{[]int{2, 3, 5, 7, 11}, []int{2}, []int{4}},
		{[]int{100, 1, 3}, []int{0}, nil}, // long runs of a down target
		// Mostly down: the weighted choice after sharedSteps misses.
		{[]int{1000, 1, 3}, []int{0}, nil},
		{[]int{1000, 5, 5, 5}, []int{0}, nil},
		{[]int{500, 500, 1, 2, 3}, []int{0}, []int{1}},
		{[]int{10, 10, 10, 10, 10, 10, 10, 10, 10, 10}, []int{0, 1, 2, 3, 4, 5, 6}, nil},
	}
	for _, c := range cases {
		for _, mode := range []string{"seq", "live"} {
			ts := mkTargets(c.weights...)
			for _, i := range c.down {
				down(ts[i])
			}
			for _, i := range c.active {
				ts[i].Host.SetActiveDown(true)
			}
			p := modes(ts)[mode]
			usable := 0
			for _, tg := range ts {
				if tg.Usable(now) {
					usable += tg.Weight
				}
			}
			const picks = 20000
			got := count(p, picks, nil)
			for _, tg := range ts {
				want := 0.0
				if tg.Usable(now) {
					want = float64(picks) * float64(tg.Weight) / float64(usable)
				}
				if d := math.Abs(float64(got[tg.ID]) - want); d > 0.05*want+1 {
					t.Errorf("%v down %v%v %s: %s picked %d times, want %.0f (%v)", c.weights, c.down, c.active, mode, tg.ID, got[tg.ID], want, got)
				}
			}
		}
	}
}

func TestRoundRobinTried(t *testing.T) {
	ts := mkTargets(1, 1, 1)
	cases := []struct {
		tried []*upstream.Target
		want  string // over 6 picks
	}{
		{nil, "abcabc"},
		{ts[:1], "bcbcbc"},
		{ts[1:], "aaaaaa"},
		{[]*upstream.Target{ts[0], ts[2]}, "bbbbbb"},
		{ts, "------"},
	}
	for _, c := range cases {
		var tried Tried
		for _, tg := range c.tried {
			tried.Add(tg)
		}
		for mode, p := range modes(ts) {
			var got []*upstream.Target
			for range 6 {
				got = append(got, p.Pick(now, "", &tried))
			}
			if g := ids(got...); g != c.want {
				t.Errorf("tried %s %s: got %s, want %s", ids(c.tried...), mode, g, c.want)
			}
		}
	}
}

// TestRoundRobinConcurrentShares checks that concurrent pickers together
// still follow the weights exactly: each slot is taken once.
func TestRoundRobinConcurrentShares(t *testing.T) {
	const goroutines, per = 8, 7 * 500
	for mode, p := range modes(mkTargets(5, 1, 1)) {
		var mu sync.Mutex
		got := map[string]int{}
		var wg sync.WaitGroup
		for range goroutines {
			wg.Go(func() {
				local := count(p, per, nil)
				mu.Lock()
				for id, n := range local {
					got[id] += n
				}
				mu.Unlock()
			})
		}
		wg.Wait()
		const laps = goroutines * per / 7
		if got["a"] != 5*laps || got["b"] != laps || got["c"] != laps {
			t.Errorf("%s: got %v, want a:%d b:%d c:%d", mode, got, 5*laps, laps, laps)
		}
	}
}

// TestRoundRobinModes checks which representation each shape of weights
// gets.
func TestRoundRobinModes(t *testing.T) {
	equal := make([]int, 100000)
	for i := range equal {
		equal[i] = 10
	}
	mixed := make([]int, 200)
	for i := range mixed {
		mixed[i] = 1 + i%97 // period about 9 700: precomputed
	}
	primes := make([]int, 2000)
	for i := range primes {
		primes[i] = 1 + i%97 // period about 97 000: live
	}
	cases := []struct {
		name    string
		weights []int
		want    string
	}{
		{"equal", equal, "identity"},
		{"mixed", mixed, "seq"},
		{"long period", primes, "live"},
		{"one weighted", []int{0, 0, 7}, "identity"},
	}
	for _, c := range cases {
		got := "live"
		if p, ok := newRoundRobin(mkTargets(c.weights...)).(*rrSeq); ok {
			got = "seq"
			if p.seq == nil {
				got = "identity"
			}
		}
		if got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}
