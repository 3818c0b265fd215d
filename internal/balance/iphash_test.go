package balance

import (
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"testing"

	"github.com/webrouter/webrouter/internal/upstream"
)

// clientKey is the i-th test client address.
func clientKey(i int) string { return fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255) }

// mapping returns the ID each of n client keys is sent to.
func mapping(p Picker, n int, tried *Tried) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = ids(p.Pick(now, clientKey(i), tried))
	}
	return out
}

// instances returns n targets of weight 10 with instance IDs id0, id1, ….
func instances(names ...string) []*upstream.Target {
	ts := mkTargets(make([]int, len(names))...)
	for i, t := range ts {
		t.ID, t.Weight = names[i], 10
	}
	return ts
}

func idList(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("web-%d", i))
	}
	return out
}

// TestIPHashGolden pins the mapping, which every router process (and
// every version) must compute alike.
func TestIPHashGolden(t *testing.T) {
	p := newIPHash(instances(idList(0, 5)...))
	cases := []struct{ key, want string }{
		{"10.0.0.1", "web-3"},
		{"10.0.0.2", "web-4"},
		{"192.168.1.77", "web-3"},
		{"2001:db8::1", "web-0"},
		{"", "web-1"},
	}
	for _, c := range cases {
		if got := ids(p.Pick(now, c.key, nil)); got != c.want {
			t.Errorf("key %q: got %s, want %s", c.key, got, c.want)
		}
	}
}

// TestHashes checks the hashes against hash/fnv and splitmix64's
// reference output for seed 1234567.
func TestHashes(t *testing.T) {
	for _, s := range []string{"", "a", "10.0.0.1", "web-1", "2001:db8::1"} {
		h := fnv.New64a()
		h.Write([]byte(s))
		if got, want := fnv1a(s), h.Sum64(); got != want {
			t.Errorf("fnv1a(%q) = %x, want %x", s, got, want)
		}
	}
	want := []uint64{6457827717110365317, 3203168211198807973, 9817491932198370423}
	for v, w := range want {
		if got := pointHash(1234567, v); got != w {
			t.Errorf("pointHash(1234567, %d) = %d, want %d", v, got, w)
		}
	}
}

// TestIPHashDeterministic builds two pickers independently, from targets
// in different orders with different addresses, and compares them.
func TestIPHashDeterministic(t *testing.T) {
	a := instances(idList(0, 20)...)
	b := instances(idList(0, 20)...)
	slices.Reverse(b)
	for i, tg := range b {
		tg.Addr = fmt.Sprintf("10.9.9.%d:8080", i)
	}
	pa, pb := newIPHash(a), newIPHash(b)
	ma, mb := mapping(pa, 5000, nil), mapping(pb, 5000, nil)
	if !slices.Equal(ma, mb) {
		t.Errorf("two pickers over the same instances map keys differently")
	}
	if again := mapping(pa, 5000, nil); !slices.Equal(ma, again) {
		t.Errorf("one picker maps keys differently on a second pass")
	}
}

func TestIPHashDistribution(t *testing.T) {
	cases := [][]int{{10, 10, 10, 10}, {10, 20, 30, 40}, {1, 1000}, {100, 0, 50}}
	const keys = 1 << 16
	for _, weights := range cases {
		ts := mkTargets(weights...)
		got := count(newIPHash(ts), keys, clientKey)
		total := 0
		for _, w := range weights {
			total += w
		}
		for _, tg := range ts {
			want := float64(keys) * float64(tg.Weight) / float64(total)
			if d := math.Abs(float64(got[tg.ID]) - want); d > 0.15*want+100 {
				t.Errorf("%v: %s has %d keys, want about %.0f (%v)", weights, tg.ID, got[tg.ID], want, got)
			}
		}
	}
}

func TestIPHashRemove(t *testing.T) {
	const keys = 20000
	before := mapping(newIPHash(instances(idList(0, 10)...)), keys, nil)
	for _, gone := range []int{0, 3, 9} {
		after := mapping(newIPHash(instances(slices.Delete(idList(0, 10), gone, gone+1)...)), keys, nil)
		goneID, moved := fmt.Sprintf("web-%d", gone), 0
		for i := range keys {
			switch {
			case before[i] == goneID && after[i] == goneID:
				t.Fatalf("key %d still on removed %s", i, goneID)
			case before[i] == goneID:
				moved++
			case after[i] != before[i]:
				t.Fatalf("remove %s: key %d moved from %s to %s", goneID, i, before[i], after[i])
			}
		}
		if moved == 0 {
			t.Errorf("remove %s: no key was on it", goneID)
		}
	}
}

func TestIPHashAdd(t *testing.T) {
	const keys = 20000
	before := mapping(newIPHash(instances(idList(0, 10)...)), keys, nil)
	after := mapping(newIPHash(instances(idList(0, 11)...)), keys, nil)
	moved := 0
	for i := range keys {
		if after[i] != before[i] {
			moved++
			if after[i] != "web-10" {
				t.Fatalf("key %d moved from %s to %s, not to the new web-10", i, before[i], after[i])
			}
		}
	}
	if want := keys / 11; moved < want/2 || moved > want*3/2 {
		t.Errorf("%d keys moved, want about %d", moved, want)
	}
}

// TestIPHashWeightChange: raising one target's weight only moves keys to it.
func TestIPHashWeightChange(t *testing.T) {
	const keys = 20000
	ts := instances(idList(0, 10)...)
	before := mapping(newIPHash(ts), keys, nil)
	ts[4] = &upstream.Target{ID: ts[4].ID, Addr: ts[4].Addr, Weight: 20, Ready: true, Host: ts[4].Host}
	after := mapping(newIPHash(ts), keys, nil)
	for i := range keys {
		if after[i] != before[i] && after[i] != "web-4" {
			t.Fatalf("key %d moved from %s to %s", i, before[i], after[i])
		}
	}
}

// TestIPHashUnusable: a down or tried target's keys go where they would go
// without it, and come back when it is up again.
func TestIPHashUnusable(t *testing.T) {
	const keys = 20000
	ts := instances(idList(0, 10)...)
	p := newIPHash(ts)
	before := mapping(p, keys, nil)
	without := mapping(newIPHash(slices.Delete(slices.Clone(ts), 6, 7)), keys, nil)

	ts[6].Host.SetActiveDown(true)
	if got := mapping(p, keys, nil); !slices.Equal(got, without) {
		t.Errorf("web-6 actively down: mapping differs from the one without web-6")
	}
	ts[6].Host.SetActiveDown(false)
	down(ts[6])
	if got := mapping(p, keys, nil); !slices.Equal(got, without) {
		t.Errorf("web-6 passively down: mapping differs from the one without web-6")
	}
	ts[6].Host.Success()
	if got := mapping(p, keys, nil); !slices.Equal(got, before) {
		t.Errorf("web-6 up again: mapping differs from the first one")
	}
	var tried Tried
	tried.Add(ts[6])
	if got := mapping(p, keys, &tried); !slices.Equal(got, without) {
		t.Errorf("web-6 tried: mapping differs from the one without web-6")
	}
}

// TestIPHashMostlyDown: when the ring walk gives up, keys still map
// consistently and only to usable targets.
func TestIPHashMostlyDown(t *testing.T) {
	ts := instances(idList(0, 300)...)
	for _, tg := range ts[:298] {
		tg.Host.SetActiveDown(true)
	}
	a, b := newIPHash(ts), newIPHash(slices.Clone(ts))
	got := count(a, 4000, clientKey)
	if len(got) != 2 || got["web-298"] < 1500 || got["web-299"] < 1500 {
		t.Errorf("got %v, want about 2000 each on web-298 and web-299", got)
	}
	if !slices.Equal(mapping(a, 4000, nil), mapping(b, 4000, nil)) {
		t.Errorf("mapping is not deterministic")
	}
}
