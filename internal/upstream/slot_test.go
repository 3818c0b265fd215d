package upstream

import "testing"

// TestSlot: a slot keeps the first owner's value; each owner finds only
// its own; setting again changes nothing, and costs no allocation once the
// slot is taken.
func TestSlot(t *testing.T) {
	var s Slot
	a, b := new(int), new(int)
	if v := s.Get(a); v != nil {
		t.Fatalf("an empty slot keeps %v", v)
	}
	s.Set(a, "a's")
	s.Set(b, "b's")
	s.Set(a, "a's again")
	if v := s.Get(a); v != "a's" {
		t.Fatalf("Get(a) = %v, want a's first value", v)
	}
	if v := s.Get(b); v != nil {
		t.Fatalf("Get(b) = %v, want nothing: the slot is a's", v)
	}
	var value any = "b's"
	if n := testing.AllocsPerRun(100, func() { s.Set(b, value) }); n != 0 {
		t.Fatalf("Set on a taken slot allocated %v times", n)
	}
}
