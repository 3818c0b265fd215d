package catalog

import (
	"errors"
	"testing"
)

func mustService(t *testing.T, name string, mps ...string) Service {
	t.Helper()
	s, err := NewService(name, ServiceSpec{Mountpoints: mps})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustInstance(t *testing.T, id, addr string, port int) Instance {
	t.Helper()
	in, err := NewInstance(id, InstanceSpec{Address: addr, Port: port})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func TestStateConflicts(t *testing.T) {
	s := NewState()
	s.PutService(1, mustService(t, "a", "demo.com/x", "a.com"))
	var ce *ConflictError
	if err := s.CheckService(mustService(t, "b", "demo.com/x/")); !errors.As(err, &ce) || ce.Owner != "a" || ce.Mountpoint != "demo.com/x" {
		t.Errorf("CheckService = %v, want conflict with a on demo.com/x", err)
	}
	if err := s.CheckService(mustService(t, "a", "demo.com/x")); err != nil {
		t.Errorf("a service re-claiming its own mountpoint: %v", err)
	}
	if err := s.CheckService(mustService(t, "b", "demo.com/xy", "demo.com")); err != nil {
		t.Errorf("distinct mountpoints: %v", err)
	}
	// After a moves away, b may take the mountpoint.
	s.PutService(2, mustService(t, "a", "a.com"))
	if err := s.CheckService(mustService(t, "b", "demo.com/x")); err != nil {
		t.Errorf("after release: %v", err)
	}
	s.DeleteService(3, "a")
	if err := s.CheckService(mustService(t, "b", "a.com")); err != nil {
		t.Errorf("after delete: %v", err)
	}
}

func TestStateInstances(t *testing.T) {
	s := NewState()
	if _, err := s.PutInstance(1, "missing", mustInstance(t, "i", "10.0.0.1", 80)); !errors.Is(err, ErrNotFound) {
		t.Errorf("PutInstance on missing service = %v, want ErrNotFound", err)
	}
	s.PutService(1, mustService(t, "a", "a.com"))
	for i, id := range []string{"c", "a", "b"} {
		created, err := s.PutInstance(uint64(2+i), "a", mustInstance(t, id, "10.0.0.1", 80+i))
		if err != nil || !created {
			t.Fatalf("PutInstance(%s) = %v, %v", id, created, err)
		}
	}
	before, _ := s.Get("a")
	if created, _ := s.PutInstance(5, "a", mustInstance(t, "b", "10.0.0.9", 9)); created {
		t.Error("replacing an instance reported created")
	}
	e, _ := s.Get("a")
	var ids []string
	for _, in := range e.Instances {
		ids = append(ids, in.ID)
	}
	if got := ids; len(got) != 3 || got[0] != "a" || got[1] != "b" || got[2] != "c" {
		t.Errorf("instance order = %v, want [a b c]", got)
	}
	if in, _ := e.Instance("b"); in.Port != 9 {
		t.Errorf("replaced instance = %+v", in)
	}
	if in, _ := before.Instance("b"); in.Port != 82 {
		t.Errorf("an earlier entry changed after a write: %+v", in)
	}
	// Replacing the service keeps its instances.
	s.PutService(6, mustService(t, "a", "b.com"))
	if e, _ := s.Get("a"); len(e.Instances) != 3 {
		t.Errorf("instances after service replace = %d, want 3", len(e.Instances))
	}
	if !s.DeleteInstance(7, "a", "a") || s.DeleteInstance(8, "a", "a") {
		t.Error("DeleteInstance existence reporting is wrong")
	}
	if s.Rev() != 8 {
		t.Errorf("Rev = %d, want 8", s.Rev())
	}
}

func TestFeedCoalesces(t *testing.T) {
	s := NewState()
	s.PutService(1, mustService(t, "a", "a.com"))
	f := s.Subscribe()
	<-f.Ready()
	b := f.Take()
	if b.Rev != 1 || len(b.Changes) != 1 || b.Changes["a"] == nil {
		t.Fatalf("first batch = %+v, want the existing service at rev 1", b)
	}
	for i := 0; i < 100; i++ {
		s.PutInstance(uint64(2+i), "a", mustInstance(t, "i", "10.0.0.1", 1000+i))
	}
	s.PutService(102, mustService(t, "b", "b.com"))
	s.DeleteService(103, "b")
	<-f.Ready()
	b = f.Take()
	if b.Rev != 103 || len(b.Changes) != 2 {
		t.Fatalf("batch = rev %d, %d changes; want rev 103, 2 changes", b.Rev, len(b.Changes))
	}
	if in, _ := b.Changes["a"].Instance("i"); in.Port != 1099 {
		t.Errorf("coalesced entry has port %d, want the latest 1099", in.Port)
	}
	if e, ok := b.Changes["b"]; !ok || e != nil {
		t.Errorf("deleted service = %v, %v; want a nil entry", e, ok)
	}
	// A write that changes no entry still moves the revision on.
	s.DeleteInstance(104, "a", "nope")
	<-f.Ready()
	if b := f.Take(); b.Rev != 104 || len(b.Changes) != 0 {
		t.Errorf("rev-only batch = %+v", b)
	}
	select {
	case <-f.Ready():
		t.Error("Ready fired with nothing pending")
	default:
	}
}

func TestReplacePublishesOnlyDifferences(t *testing.T) {
	s := NewState()
	a, b := mustService(t, "a", "a.com"), mustService(t, "b", "b.com")
	s.Replace(1, []*Entry{{Service: a}, {Service: b}})
	f := s.Subscribe()
	f.Take()
	c := mustService(t, "c", "c.com")
	s.Replace(2, []*Entry{{Service: a}, {Service: c}})
	got := f.Take()
	if len(got.Changes) != 2 || got.Changes["b"] != nil || got.Changes["c"] == nil {
		t.Errorf("Replace published %v, want b deleted and c added", got.Changes)
	}
	if s.Len() != 2 {
		t.Errorf("Len = %d", s.Len())
	}
}
