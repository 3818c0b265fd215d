package catalog

import "testing"

func TestStateSet(t *testing.T) {
	s := NewState()
	s.Set(5, "a", &Entry{Service: mustService(t, "a", "a.test")})
	f := s.Subscribe()
	f.Take()
	s.Set(6, "a", &Entry{Service: mustService(t, "a", "a.test")})
	if b := f.Take(); b.Rev != 6 || len(b.Changes) != 0 {
		t.Errorf("an equal Set published %+v, want only the revision", b)
	}
	in := mustInstance(t, "i", "10.0.0.1", 80)
	s.Set(7, "a", &Entry{Service: mustService(t, "a", "a.test"), Instances: []Instance{in}})
	if b := f.Take(); len(b.Changes) != 1 || len(b.Changes["a"].Instances) != 1 {
		t.Errorf("a changed Set published %+v", b)
	}
	s.Set(8, "a", nil)
	s.Set(9, "b", nil)
	if b := f.Take(); b.Rev != 9 || len(b.Changes) != 1 || b.Changes["a"] != nil {
		t.Errorf("a removing Set published %+v, want a deleted at rev 9", b)
	}
	s.Advance(12)
	s.Advance(10)
	if s.Rev() != 12 {
		t.Errorf("Rev = %d after Advance(12), Advance(10); want 12", s.Rev())
	}
}
