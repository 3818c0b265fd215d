package upstream

import (
	"sync/atomic"
	"testing"
	"time"
)

type cutter struct {
	cuts atomic.Int32
	t    Tracked
}

func (c *cutter) Cut() { c.cuts.Add(1) }

// waitCuts waits up to a second for c to have been cut n times.
func waitCuts(t *testing.T, c *cutter, n int32) {
	t.Helper()
	for end := time.Now().Add(time.Second); c.cuts.Load() != n && time.Now().Before(end); {
		time.Sleep(time.Millisecond)
	}
	if got := c.cuts.Load(); got != n {
		t.Fatalf("cut %d times, want %d", got, n)
	}
}

func TestDrainDeadlineCutsWhatIsTracked(t *testing.T) {
	s := NewSet(WithDrainTimeout(20 * time.Millisecond))
	e := s.AcquireEndpoint("svc/a")
	tracked, untracked := &cutter{}, &cutter{}
	e.Track(&tracked.t, tracked)
	e.Track(&untracked.t, untracked)
	e.Untrack(&untracked.t)
	s.Drain(e)
	if !e.Draining() || e.CutOff() {
		t.Fatalf("after Drain: Draining %v CutOff %v, want true false", e.Draining(), e.CutOff())
	}
	waitCuts(t, tracked, 1)
	if !e.CutOff() {
		t.Fatal("CutOff is false after the deadline passed")
	}
	time.Sleep(30 * time.Millisecond)
	if n := untracked.cuts.Load(); n != 0 {
		t.Fatalf("an untracked Cutter was cut %d times", n)
	}
	if n := tracked.cuts.Load(); n != 1 {
		t.Fatalf("cut %d times, want once", n)
	}

	// Past the deadline, what starts on the endpoint is cut at once.
	late := &cutter{}
	e.Track(&late.t, late)
	if n := late.cuts.Load(); n != 1 {
		t.Fatalf("Track after the deadline: cut %d times before it returned, want 1", n)
	}

	// Ready again: the deadline is over, new work is not cut.
	s.Undrain(e)
	if e.Draining() || e.CutOff() {
		t.Fatalf("after Undrain: Draining %v CutOff %v, want false false", e.Draining(), e.CutOff())
	}
	fresh := &cutter{}
	e.Track(&fresh.t, fresh)
	time.Sleep(40 * time.Millisecond)
	if n := fresh.cuts.Load(); n != 0 {
		t.Fatalf("tracked after Undrain: cut %d times", n)
	}
}

func TestUndrainStopsTheDeadline(t *testing.T) {
	s := NewSet(WithDrainTimeout(30 * time.Millisecond))
	e := s.AcquireEndpoint("svc/a")
	c := &cutter{}
	e.Track(&c.t, c)
	s.Drain(e)
	s.Undrain(e)
	s.Drain(e) // a second drain runs its own full deadline
	time.Sleep(10 * time.Millisecond)
	if n := c.cuts.Load(); n != 0 {
		t.Fatalf("cut %d times before the second drain's deadline", n)
	}
	waitCuts(t, c, 1)
}

func TestReleasedEndpointDrains(t *testing.T) {
	s := NewSet(WithDrainTimeout(10 * time.Millisecond))
	e := s.AcquireEndpoint("svc/a")
	c := &cutter{}
	e.Track(&c.t, c)
	s.ReleaseEndpoint("svc/a") // gone from the registry
	waitCuts(t, c, 1)
}

// The list of what is tracked keeps its order whatever is untracked, and
// the deadline cuts each of what remains once; a hold cut by the deadline
// is free again (Untrack of it is a no-op, Track of it works).
func TestTrackedList(t *testing.T) {
	s := NewSet(WithDrainTimeout(10 * time.Millisecond))
	e := s.AcquireEndpoint("svc/a")
	cs := make([]*cutter, 5)
	for i := range cs {
		cs[i] = &cutter{}
		e.Track(&cs[i].t, cs[i])
	}
	e.Untrack(&cs[1].t)
	e.Untrack(&cs[4].t)
	e.Untrack(&cs[4].t) // twice: a no-op
	s.Drain(e)
	for _, i := range []int{0, 2, 3} {
		waitCuts(t, cs[i], 1)
	}
	for _, i := range []int{1, 4} {
		if n := cs[i].cuts.Load(); n != 0 {
			t.Errorf("untracked cutter %d cut %d times", i, n)
		}
	}
	e.Untrack(&cs[0].t) // cut already: a no-op
	s.Undrain(e)
	e.Track(&cs[0].t, cs[0])
	s.Drain(e)
	waitCuts(t, cs[0], 2)
	if n := cs[2].cuts.Load(); n != 1 {
		t.Errorf("a cutter cut by the first deadline was cut again: %d", n)
	}
}

// Nothing is cut after its Untrack returned, however the deadline and the
// untracking interleave.
func TestNoCutAfterUntrack(t *testing.T) {
	for round := 0; round < 50; round++ {
		s := NewSet(WithDrainTimeout(time.Millisecond))
		e := s.AcquireEndpoint("svc/a")
		var late atomic.Int32
		done := make(chan struct{})
		const n = 8
		for i := 0; i < n; i++ {
			go func() {
				defer func() { done <- struct{}{} }()
				for j := 0; j < 200 || !e.CutOff(); j++ { // until past the deadline
					c := &lateCutter{late: &late}
					e.Track(&c.t, c)
					e.Untrack(&c.t)
					c.untracked.Store(true)
				}
			}()
		}
		s.Drain(e)
		for i := 0; i < n; i++ {
			<-done
		}
		if k := late.Load(); k != 0 {
			t.Fatalf("round %d: %d cuts after Untrack returned", round, k)
		}
	}
}

type lateCutter struct {
	t         Tracked
	untracked atomic.Bool
	late      *atomic.Int32
}

func (c *lateCutter) Cut() {
	if c.untracked.Load() {
		c.late.Add(1)
	}
}
