package gcfloor

import (
	"os"
	"runtime"
	"runtime/debug"
	"testing"
)

func TestPercent(t *testing.T) {
	for _, c := range []struct {
		live, floor uint64
		base, want  int
	}{
		{0, 32 << 20, 100, 800},         // nothing live yet: the minimum goal (4 MiB × 8) is the floor
		{1 << 20, 32 << 20, 100, 800},   // 1 MiB live: 9 MiB < 32 MiB, the minimum decides
		{8 << 20, 32 << 20, 100, 300},   // 8 MiB live: 8 × 4 = 32 MiB
		{16 << 20, 32 << 20, 100, 100},  // the base already reaches the floor
		{64 << 20, 32 << 20, 100, 100},  // a large heap: the operator's value
		{8 << 20, 32 << 20, 400, 400},   // a higher base is kept
		{1 << 20, 256 << 20, 100, 6400}, // a higher floor
		{0, 2 << 20, 100, 100},          // a floor under Go's own minimum changes nothing
	} {
		if got := percent(c.live, c.floor, c.base); got != c.want {
			t.Errorf("percent(live %d, floor %d, base %d) = %d, want %d", c.live, c.floor, c.base, got, c.want)
		}
	}
}

// TestFloorSpacesCollections allocates 160 MiB of short-lived garbage with
// a small live heap: Go's own pacing collects every few MiB, the floor
// (64 MiB) every 64 MiB or so — not never, which would let the heap grow
// without bound — and stop restores the percentage.
func TestFloorSpacesCollections(t *testing.T) {
	if _, set := os.LookupEnv("GOGC"); set {
		t.Skip("GOGC is set: Start leaves the collector alone")
	}
	churn := func() (cycles uint32, peak uint64) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		before := ms.NumGC
		size := 64 << 10 // not a constant: the slices go to the heap
		var last []byte
		for i := 0; i < (160<<20)/size; i++ {
			last = make([]byte, size)
			last[0] = byte(i)
			if i%64 == 0 {
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			}
		}
		runtime.KeepAlive(last)
		runtime.ReadMemStats(&ms)
		return ms.NumGC - before, peak
	}
	without, _ := churn()
	if without < 15 {
		t.Fatalf("without the floor: %d collections for 160 MiB, want at least 15 (Go's pacing changed?)", without)
	}
	stop := Start(64 << 20)
	with, peak := churn()
	stop()
	if with < 1 || with > 4 {
		t.Errorf("with a 64 MiB floor: %d collections for 160 MiB, want 1–4 (%d without)", with, without)
	}
	if peak > 80<<20 {
		t.Errorf("with a 64 MiB floor the heap reached %d MiB", peak>>20)
	}
	if p := debug.SetGCPercent(100); p != 100 {
		t.Errorf("after stop the percentage is %d, want 100", p)
	}
	t.Logf("collections for 160 MiB of garbage: %d without the floor, %d with (heap peak %d MiB)", without, with, peak>>20)
}
