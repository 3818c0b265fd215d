package upstream

import (
	"testing"
	"time"
)

func TestPassiveHealth(t *testing.T) {
	s := NewSet()
	h := s.Acquire("10.0.0.1:80", nil)
	t0 := time.Now()
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	const maxFails, window = 3, 10 * time.Second

	steps := []struct {
		at      time.Duration
		fail    bool // else success
		tripped bool
		upAfter bool
	}{
		{0, true, false, true},
		{time.Second, true, false, true},
		{2 * time.Second, true, true, false},   // third failure in the window: down
		{3 * time.Second, true, false, false},  // failures while down change nothing
		{13 * time.Second, true, true, false},  // back after fail_timeout, on probation: one failure re-trips
		{24 * time.Second, false, false, true}, // success after the period clears it
		{25 * time.Second, true, false, true},  // counting starts again from zero
		{40 * time.Second, true, false, true},  // the old failure fell out of the window
		{41 * time.Second, true, false, true},  // two in the window
		{42 * time.Second, true, true, false},  // three
	}
	for i, st := range steps {
		var tripped bool
		if st.fail {
			tripped = h.Failure(at(st.at), maxFails, window)
		} else {
			h.Success()
		}
		if tripped != st.tripped || h.Up(at(st.at)) != st.upAfter {
			t.Fatalf("step %d (t=%s fail=%v): tripped=%v up=%v, want %v %v", i, st.at, st.fail, tripped, h.Up(at(st.at)), st.tripped, st.upAfter)
		}
	}
	if until := h.PassiveDownUntil(at(43 * time.Second)); !until.Equal(at(52 * time.Second)) {
		t.Errorf("down until %v, want t+52s", until.Sub(t0))
	}
	if h.Health(at(43*time.Second)) != "down (passive)" {
		t.Errorf("health = %q", h.Health(at(43*time.Second)))
	}
}

func TestPassiveHealthOff(t *testing.T) {
	h := NewSet().Acquire("a:1", nil)
	for i := 0; i < 100; i++ {
		if h.Failure(time.Now(), 0, time.Minute) {
			t.Fatal("max_fails 0 took the address down")
		}
	}
	if !h.Up(time.Now()) {
		t.Error("down with passive health off")
	}
}

func TestActiveDownWins(t *testing.T) {
	h := NewSet().Acquire("a:1", nil)
	h.SetActiveDown(true)
	if h.Up(time.Now()) || h.Health(time.Now()) != "down (active)" {
		t.Error("an actively failed address is up")
	}
	tg := &Target{Ready: true, Weight: 10, Host: h}
	if tg.Usable(time.Now()) {
		t.Error("target usable while its address is down")
	}
	h.SetActiveDown(false)
	if !tg.Usable(time.Now()) {
		t.Error("target not usable once up")
	}
	for _, bad := range []*Target{{Ready: false, Weight: 10, Host: h}, {Ready: true, Weight: 0, Host: h}} {
		if bad.Usable(time.Now()) {
			t.Errorf("target %+v usable", bad)
		}
	}
}

func TestSetReferenceCounts(t *testing.T) {
	s := NewSet()
	a := s.Acquire("a:1", nil)
	a.Begin()
	if s.Acquire("a:1", nil) != a {
		t.Fatal("second Acquire returned another Host")
	}
	s.Release("a:1", nil)
	if h, ok := s.Get("a:1"); !ok || h.InFlight() != 1 {
		t.Fatal("state dropped while still referenced")
	}
	s.Release("a:1", nil)
	if _, ok := s.Get("a:1"); ok || s.Len() != 0 {
		t.Error("state kept after the last reference")
	}
	s.Release("never", nil)
}
