package balance

import (
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/webrouter/webrouter/internal/upstream"
)

// IP hash is consistent hashing on the client key (ketama style): each
// target owns pointsPerWeight·Weight points on a 64-bit ring, and a key
// goes to the owner of the first point at or after the key's hash. Points
// are hashed from the target's instance ID and the point's index, so a
// target keeps its points across table generations and address changes,
// and adding or removing a target moves only the keys of that target's
// points: removed, its keys go to the following points' owners; added, it
// takes keys only from others. A weight change adds or removes points of
// that target alone (its points for weight w are a prefix of those for
// any larger weight).
//
// The hashes are FNV-1a 64 finished with splitmix64's mix, with no seed,
// so every router process maps every key alike. An empty key (client
// unknown) is hashed like any other.
//
// A key whose target is unusable or already tried walks on clockwise to
// the next owner, which is where it would go if that target were removed,
// and returns once the target is usable again. If maxWalk points or
// maxChecks owners are not enough (most of the service down), Pick falls
// back to weighted rendezvous hashing of the key over all eligible targets
// (see weighted), salted with the targets' ID hashes: still the same in
// every process, still consistent and weighted, and nil only if no target
// is usable and untried.
//
// The ring holds at most maxPoints points (12 bytes each). Beyond that
// every target's point count is halved until it fits (keeping at least
// one); while the halving stays the same, movement stays minimal.

const (
	pointsPerWeight = 16
	maxPoints       = 1 << 20
	maxWalk         = 512
	maxChecks       = 64
)

func newIPHash(targets []*upstream.Target) Picker {
	ts := live(targets)
	slices.SortFunc(ts, func(a, b *upstream.Target) int { return strings.Compare(a.ID, b.ID) })
	p := &ipHash{live: ts}
	if len(ts) == 0 {
		return p
	}
	shift, total := 0, 0
	for ; ; shift++ {
		total = 0
		for _, t := range ts {
			total += points(t.Weight, shift)
		}
		if total <= maxPoints {
			break
		}
	}
	p.salts = make([]uint64, len(ts))
	hs := make([]uint64, 0, total)
	owners := make([]int32, 0, total)
	for i, t := range ts {
		base := fnv1a(t.ID)
		p.salts[i] = base
		for v := range points(t.Weight, shift) {
			hs = append(hs, pointHash(base, v))
			owners = append(owners, int32(i))
		}
	}
	p.hashes, p.owners, p.buckets, p.k = sortRing(hs, owners)
	return p
}

// sortRing returns the points (hs[i], owners[i]) sorted by hash, equal hashes
// in their given order, so that every process builds the same ring. The
// hashes are uniform, so one stable scatter into buckets by their top bits
// leaves buckets of a few points, finished by insertion sort: linear time,
// several times faster than a comparison sort on a million points. The
// bucket boundaries are kept: Pick searches only the key's bucket.
func sortRing(hs []uint64, owners []int32) ([]uint64, []int32, []int32, uint) {
	n := len(hs)
	k := uint(max(bits.Len(uint(n))-2, 1)) // 2^k buckets: about 4 points each
	start := make([]int32, 1<<k+1)
	for _, h := range hs {
		start[h>>(64-k)+1]++
	}
	for b := 1; b < len(start); b++ {
		start[b] += start[b-1]
	}
	outH, outO := make([]uint64, n), make([]int32, n)
	next := slices.Clone(start[:len(start)-1])
	for i, h := range hs {
		b := h >> (64 - k)
		outH[next[b]], outO[next[b]] = h, owners[i]
		next[b]++
	}
	for b := 0; b < len(start)-1; b++ {
		for i := start[b] + 1; i < start[b+1]; i++ {
			h, o := outH[i], outO[i]
			j := i
			for ; j > start[b] && outH[j-1] > h; j-- {
				outH[j], outO[j] = outH[j-1], outO[j-1]
			}
			outH[j], outO[j] = h, o
		}
	}
	return outH, outO, start, k
}

// points returns how many ring points a target of weight w owns.
func points(w, shift int) int {
	return max(pointsPerWeight*w>>shift, 1)
}

type ipHash struct {
	live   []*upstream.Target // sorted by ID, which breaks ties on the ring
	salts  []uint64           // fnv1a(live[i].ID)
	hashes []uint64           // the ring, ascending
	owners []int32            // owners[i] owns hashes[i]; index into live
	// Points with hashes whose top k bits are b are hashes[buckets[b]:buckets[b+1]].
	buckets []int32
	k       uint
}

// Pick implements Picker.
func (p *ipHash) Pick(now time.Time, key string, tried *Tried) *upstream.Target {
	n := len(p.hashes)
	if n == 0 {
		return nil
	}
	h := mix(fnv1a(key))
	b := h >> (64 - p.k)
	lo, hi := int(p.buckets[b]), int(p.buckets[b+1])
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if p.hashes[m] < h {
			lo = m + 1
		} else {
			hi = m
		}
	}
	i, last, checks := lo, int32(-1), 0
	for range min(n, maxWalk) {
		if i == n {
			i = 0
		}
		if o := p.owners[i]; o != last {
			if t := p.live[o]; eligible(t, now, tried) {
				return t
			}
			if checks++; checks == maxChecks {
				break
			}
			last = o
		}
		i++
	}
	if n <= maxWalk && checks < maxChecks {
		return nil // the whole ring was walked
	}
	return weighted(p.live, p.salts, h, now, tried)
}

// fnv1a returns the 64-bit FNV-1a hash of s.
func fnv1a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// mix is splitmix64's finaliser: it spreads FNV's weak high bits, which
// matter here because the ring is searched by order.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// pointHash is the hash of point v of the target whose ID hashes to base:
// element v+1 of splitmix64's sequence seeded with base.
func pointHash(base uint64, v int) uint64 {
	return mix(base + uint64(v+1)*0x9e3779b97f4a7c15)
}
