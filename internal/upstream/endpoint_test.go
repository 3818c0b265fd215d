package upstream

import (
	"sync/atomic"
	"testing"
	"time"
)

type cutter struct{ cuts atomic.Int32 }

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
	e.Track(tracked)
	e.Track(untracked)
	e.Untrack(untracked)
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
	e.Track(late)
	if n := late.cuts.Load(); n != 1 {
		t.Fatalf("Track after the deadline: cut %d times before it returned, want 1", n)
	}

	// Ready again: the deadline is over, new work is not cut.
	s.Undrain(e)
	if e.Draining() || e.CutOff() {
		t.Fatalf("after Undrain: Draining %v CutOff %v, want false false", e.Draining(), e.CutOff())
	}
	fresh := &cutter{}
	e.Track(fresh)
	time.Sleep(40 * time.Millisecond)
	if n := fresh.cuts.Load(); n != 0 {
		t.Fatalf("tracked after Undrain: cut %d times", n)
	}
}

func TestUndrainStopsTheDeadline(t *testing.T) {
	s := NewSet(WithDrainTimeout(30 * time.Millisecond))
	e := s.AcquireEndpoint("svc/a")
	c := &cutter{}
	e.Track(c)
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
	e.Track(c)
	s.ReleaseEndpoint("svc/a") // gone from the registry
	waitCuts(t, c, 1)
}
