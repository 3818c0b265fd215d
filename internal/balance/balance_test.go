package balance

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/upstream"
)

var now = time.Now()

// mkTargets returns ready targets with the given weights, named a, b, c, …
// (or t0, t1, … beyond 26), each with its own Host.
func mkTargets(weights ...int) []*upstream.Target {
	set := upstream.NewSet()
	ts := make([]*upstream.Target, len(weights))
	for i, w := range weights {
		id := fmt.Sprintf("t%d", i)
		if len(weights) <= 26 {
			id = string(rune('a' + i))
		}
		addr := fmt.Sprintf("10.1.%d.%d:80", i/256, i%256)
		ts[i] = &upstream.Target{ID: id, Addr: addr, Weight: w, Ready: true, Host: set.Acquire(addr, nil)}
	}
	return ts
}

// down takes t out by passive health until a minute after now.
func down(t *upstream.Target) { t.Host.Failure(now, 1, time.Minute) }

// ids turns picks into a string of IDs ("-" for nil), for one-letter IDs.
func ids(ts ...*upstream.Target) string {
	var b strings.Builder
	for _, t := range ts {
		if t == nil {
			b.WriteString("-")
		} else {
			b.WriteString(t.ID)
		}
	}
	return b.String()
}

// count picks n times and counts the picks per ID.
func count(p Picker, n int, key func(int) string) map[string]int {
	got := map[string]int{}
	for i := range n {
		k := ""
		if key != nil {
			k = key(i)
		}
		if t := p.Pick(now, k, nil); t != nil {
			got[t.ID]++
		} else {
			got["<nil>"]++
		}
	}
	return got
}

// pickers builds every policy, and round robin's live mode, over ts.
func pickers(ts []*upstream.Target) map[string]Picker {
	return map[string]Picker{
		catalog.RoundRobin:           newRoundRobin(ts),
		catalog.RoundRobin + "/live": newRoundRobinAt(ts, 0, 0),
		catalog.LeastConn:            newLeastConn(ts),
		catalog.IPHash:               newIPHash(ts),
	}
}

func TestNew(t *testing.T) {
	ts := mkTargets(1, 2)
	for _, policy := range []string{"", catalog.RoundRobin, catalog.LeastConn, catalog.IPHash} {
		p, err := New(policy, ts)
		if err != nil || p == nil {
			t.Errorf("New(%q) = %v, %v; want a picker", policy, p, err)
			continue
		}
		if got := p.Pick(now, "10.0.0.1", nil); got == nil {
			t.Errorf("New(%q).Pick = nil; want a target", policy)
		}
	}
	if _, err := New("random", ts); err == nil {
		t.Errorf("New(random): no error")
	}
}

func TestPickNone(t *testing.T) {
	notReady := mkTargets(1, 1)
	notReady[0].Ready, notReady[1].Ready = false, false
	allDown := mkTargets(1, 2, 3)
	down(allDown[0])
	allDown[1].Host.SetActiveDown(true)
	down(allDown[2])
	bigDown := mkTargets(make([]int, 3000)...)
	for i, tg := range bigDown {
		tg.Weight = 1 + i%7
		down(tg)
	}
	cases := []struct {
		name string
		ts   []*upstream.Target
	}{
		{"empty", nil},
		{"zero weights", mkTargets(0, 0, 0)},
		{"not ready", notReady},
		{"all down", allDown},
		{"3000 all down", bigDown},
	}
	for _, c := range cases {
		for name, p := range pickers(c.ts) {
			for i := range 20 {
				if got := p.Pick(now, fmt.Sprint("10.0.0.", i), nil); got != nil {
					t.Errorf("%s/%s: Pick = %s; want nil", c.name, name, got.ID)
				}
			}
		}
	}
}

// TestPickEligible checks, for every policy, that Pick returns only usable,
// untried targets, and nil only when there is none, over random weights,
// health and tried sets.
func TestPickEligible(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 150 {
		n := 1 + r.IntN(40)
		maxW := 300
		if round%50 == 0 {
			n, maxW = 1500+r.IntN(1000), 20 // more targets than the local scans cover
		}
		weights := make([]int, n)
		for i := range weights {
			weights[i] = r.IntN(4) * r.IntN(maxW)
		}
		ts := mkTargets(weights...)
		downP := r.Float64()
		for _, tg := range ts {
			tg.Ready = r.IntN(10) > 0
			if r.Float64() < downP {
				if r.IntN(2) == 0 {
					down(tg)
				} else {
					tg.Host.SetActiveDown(true)
				}
			}
		}
		var tried Tried
		for range r.IntN(MaxTries + 1) {
			tried.Add(ts[r.IntN(n)])
		}
		some := false
		for _, tg := range ts {
			some = some || tg.Usable(now) && !tried.Has(tg)
		}
		for name, p := range pickers(ts) {
			for i := range 50 {
				got := p.Pick(now, fmt.Sprint("192.168.", i, ".1"), &tried)
				switch {
				case got == nil && some:
					t.Fatalf("round %d %s: Pick = nil with an eligible target", round, name)
				case got != nil && (!got.Usable(now) || tried.Has(got)):
					t.Fatalf("round %d %s: Pick = %s, unusable or tried", round, name, got.ID)
				}
			}
		}
	}
}

func TestPickAllocs(t *testing.T) {
	for _, n := range []int{4, 100, 10000} {
		for _, health := range []string{"some down", "all but one down"} {
			weights := make([]int, n)
			for i := range weights {
				weights[i] = 10 + 10*(i%3)
			}
			ts := mkTargets(weights...)
			for i, tg := range ts {
				if health == "some down" && i%3 == 0 || health != "some down" && i < n-1 {
					down(tg)
				}
				if i%5 == 1 {
					tg.Host.Begin()
				}
			}
			var tried Tried
			tried.Add(ts[1])
			for name, p := range pickers(ts) {
				keys := []string{"10.0.0.1", "10.0.0.2", "", "2001:db8::1"}
				i := 0
				got := testing.AllocsPerRun(50, func() {
					i++
					if p.Pick(now, keys[i%len(keys)], &tried) == nil {
						t.Fatalf("%s/%d/%s: Pick = nil", name, n, health)
					}
				})
				if got != 0 {
					t.Errorf("%s/%d/%s: Pick allocates %v times; want 0", name, n, health, got)
				}
			}
		}
	}
}

func TestPickConcurrent(t *testing.T) {
	ts := mkTargets(5, 1, 1, 3, 0)
	down(ts[3])
	for name, p := range pickers(ts) {
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				var tried Tried
				for i := range 2000 {
					tg := p.Pick(now, fmt.Sprint("10.0.", g, ".", i%256), &tried)
					if tg == nil || !tg.Usable(now) || tried.Has(tg) {
						t.Errorf("%s: Pick = %v", name, tg)
						return
					}
					tg.Host.Begin()
					tg.Host.End()
				}
			})
		}
		wg.Wait()
	}
}

func BenchmarkPick(b *testing.B) {
	for _, policy := range []string{catalog.RoundRobin, catalog.LeastConn, catalog.IPHash} {
		for _, n := range []int{4, 100, 10000} {
			weights := make([]int, n)
			for i := range weights {
				weights[i] = 10 + 10*(i%3)
			}
			ts := mkTargets(weights...)
			for i, tg := range ts {
				for range 1 + i%4 { // busy targets: least_conn scans them all
					tg.Host.Begin()
				}
			}
			p, err := New(policy, ts)
			if err != nil {
				b.Fatal(err)
			}
			keys := make([]string, 1024)
			for i := range keys {
				keys[i] = fmt.Sprintf("10.0.%d.%d", i/256, i%256)
			}
			b.Run(fmt.Sprintf("%s/%dtargets", policy, n), func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if p.Pick(now, keys[i&1023], nil) == nil {
						b.Fatal("nil")
					}
					i++
				}
			})
		}
	}
}

// BenchmarkPickSWRRLive measures round robin when the sequence is too long
// to precompute (weights 1, 2, …, 97 repeating: about 50 distinct).
func BenchmarkPickSWRRLive(b *testing.B) {
	for _, n := range []int{2000, 10000} {
		weights := make([]int, n)
		for i := range weights {
			weights[i] = 1 + i%97
		}
		p := newRoundRobinAt(mkTargets(weights...), 0, maxSeq)
		if _, ok := p.(*rrLive); !ok {
			b.Fatalf("%d targets: %T, want *rrLive", n, p)
		}
		b.Run(fmt.Sprintf("%dtargets", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.Pick(now, "", nil)
			}
		})
	}
}

// BenchmarkNew measures compiling a policy, done per service per table
// generation.
func BenchmarkNew(b *testing.B) {
	for _, policy := range []string{catalog.RoundRobin, catalog.LeastConn, catalog.IPHash} {
		for _, n := range []int{4, 100, 10000} {
			weights := make([]int, n)
			for i := range weights {
				weights[i] = 10 + 10*(i%3)
			}
			ts := mkTargets(weights...)
			b.Run(fmt.Sprintf("%s/%dtargets", policy, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					New(policy, ts)
				}
			})
		}
	}
}
