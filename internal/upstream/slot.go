package upstream

import "sync/atomic"

// Slot keeps one value for its first owner: state a data plane keeps with
// a shared object (an address's Host, a table's service) that it would
// otherwise look up by name on every request. Each owner finds only its
// own value; a second owner finds nothing, and looks up as it would
// without the slot. The zero Slot is empty; a Slot must not be copied.
type Slot struct {
	p atomic.Pointer[slotValue]
}

type slotValue struct {
	owner, value any
}

// Get returns the value owner keeps here (Set), or nil.
func (s *Slot) Get(owner any) any {
	if v := s.p.Load(); v != nil && v.owner == owner {
		return v.value
	}
	return nil
}

// Set keeps value as owner's, unless a value is kept already (its own or
// another owner's: that one stays). The slot does not know when a value
// stops being right: its owner replaces it then (Swap).
func (s *Slot) Set(owner, value any) {
	if s.p.Load() == nil {
		s.p.CompareAndSwap(nil, &slotValue{owner, value})
	}
}

// Swap replaces owner's value old (as Get returned it) by value, and
// reports whether it did: not when the slot keeps another value, or
// another owner's.
func (s *Slot) Swap(owner, old, value any) bool {
	v := s.p.Load()
	if v == nil || v.owner != owner || v.value != old {
		return false
	}
	return s.p.CompareAndSwap(v, &slotValue{owner, value})
}
