package upstream

import "testing"

// TestSlot: a slot keeps the first owner's value; each owner finds only
// its own; setting again changes nothing, and costs no allocation once the
// slot is taken; only the owner replaces its value, and only the value it
// found.
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
	if s.Swap(b, "b's", "b's new") || s.Swap(a, "a's again", "a's new") || s.Get(a) != "a's" {
		t.Fatalf("swapped by another owner, or for a value not kept: %v", s.Get(a))
	}
	if !s.Swap(a, "a's", "a's new") || s.Get(a) != "a's new" {
		t.Fatalf("Swap by its owner: %v", s.Get(a))
	}
}
