package compile

import (
	"fmt"
	"testing"

	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/upstream"
)

func svc(t testing.TB, name string, mps ...string) catalog.Service {
	t.Helper()
	s, err := catalog.NewService(name, catalog.ServiceSpec{Mountpoints: mps})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func inst(t testing.TB, id, addr string, port int) catalog.Instance {
	t.Helper()
	in, err := catalog.NewInstance(id, catalog.InstanceSpec{Address: addr, Port: port})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func TestApplyRoutesAndReuses(t *testing.T) {
	st := catalog.NewState()
	hosts := upstream.NewSet()
	c := New(hosts)
	f := st.Subscribe()

	st.PutService(1, svc(t, "demo", "demo.lain.local", "lain.demo.com/hello"))
	st.PutInstance(2, "demo", inst(t, "web-1", "10.0.0.1", 8000))
	st.PutInstance(3, "demo", inst(t, "web-2", "10.0.0.2", 8000))
	t1 := c.Apply(f.Take())
	if t1.Gen != 1 || t1.Rev != 3 {
		t.Errorf("gen, rev = %d, %d; want 1, 3", t1.Gen, t1.Rev)
	}
	r, s := t1.Lookup("lain.demo.com", "/hello/x")
	if s == nil || s.Name != "demo" || r.Path != "/hello" || len(s.Targets) != 2 {
		t.Fatalf("lookup = %+v %+v", r, s)
	}
	if hosts.Len() != 2 {
		t.Errorf("addresses = %d, want 2", hosts.Len())
	}
	web1 := s.Targets[0]

	// An instance change keeps the index and the unchanged target.
	st.PutInstance(4, "demo", inst(t, "web-2", "10.0.0.3", 8000))
	t2 := c.Apply(f.Take())
	if t2.Index() != t1.Index() {
		t.Error("an instance change rebuilt the host index")
	}
	_, s2 := t2.Lookup("demo.lain.local", "/")
	if s2.Targets[0] != web1 {
		t.Error("the unchanged target was rebuilt")
	}
	if s2.Targets[1].Addr != "10.0.0.3:8000" {
		t.Errorf("changed target = %s", s2.Targets[1].Addr)
	}
	if _, ok := hosts.Get("10.0.0.2:8000"); ok {
		t.Error("the replaced address's state was not released")
	}
	// The old generation is untouched.
	if _, s1 := t1.Lookup("demo.lain.local", "/"); s1.Targets[1].Addr != "10.0.0.2:8000" {
		t.Error("compiling a new generation modified the previous one")
	}

	// A mountpoint change rebuilds the index; deleting frees everything.
	st.PutService(5, svc(t, "demo", "new.demo.com"))
	t3 := c.Apply(f.Take())
	if _, s := t3.Lookup("demo.lain.local", "/"); s != nil {
		t.Error("old mountpoint still routed")
	}
	if _, s := t3.Lookup("NEW.demo.com", "/"); s == nil || len(s.Targets) != 2 {
		t.Error("new mountpoint not routed with its instances")
	}
	st.DeleteService(6, "demo")
	t4 := c.Apply(f.Take())
	if _, s := t4.Lookup("new.demo.com", "/"); s != nil {
		t.Error("deleted service still routed")
	}
	if hosts.Len() != 0 {
		t.Errorf("addresses after delete = %d, want 0", hosts.Len())
	}
}

func TestSharedAddressSurvivesOneService(t *testing.T) {
	st := catalog.NewState()
	hosts := upstream.NewSet()
	c := New(hosts)
	f := st.Subscribe()
	st.PutService(1, svc(t, "a", "a.com"))
	st.PutService(2, svc(t, "b", "b.com"))
	st.PutInstance(3, "a", inst(t, "x", "10.0.0.1", 80))
	st.PutInstance(4, "b", inst(t, "y", "10.0.0.1", 80))
	tbl := c.Apply(f.Take())
	_, a := tbl.Lookup("a.com", "/")
	_, b := tbl.Lookup("b.com", "/")
	if a.Targets[0].Host != b.Targets[0].Host {
		t.Fatal("two services on one address do not share its runtime state")
	}
	st.DeleteService(5, "a")
	c.Apply(f.Take())
	if h, ok := hosts.Get("10.0.0.1:80"); !ok || h != b.Targets[0].Host {
		t.Error("deleting one service dropped the state another still uses")
	}
}

func TestConflictingRegistryIsReported(t *testing.T) {
	st := catalog.NewState()
	c := New(upstream.NewSet())
	f := st.Subscribe()
	// State mirrors whatever a registry holds, even a clash written around
	// the API's checks.
	st.PutService(1, svc(t, "zeta", "x.com/api"))
	st.PutService(2, svc(t, "alpha", "x.com/api"))
	tbl := c.Apply(f.Take())
	if _, s := tbl.Lookup("x.com", "/api"); s == nil || s.Name != "alpha" {
		t.Errorf("clash resolved to %v, want alpha", s)
	}
	if len(tbl.Problems) != 1 {
		t.Errorf("problems = %q, want one", tbl.Problems)
	}
}

func BenchmarkInstanceChange(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("%dinstances", n), func(b *testing.B) {
			st := catalog.NewState()
			c := New(upstream.NewSet())
			f := st.Subscribe()
			rev := uint64(0)
			services := n / 10
			for i := 0; i < services; i++ {
				rev++
				name := fmt.Sprintf("svc%d", i)
				st.PutService(rev, svc(b, name, name+".demo.com"))
				for j := 0; j < 10; j++ {
					rev++
					st.PutInstance(rev, name, inst(b, fmt.Sprint("i", j), fmt.Sprintf("10.%d.%d.%d", i>>8&255, i&255, j), 8000))
				}
			}
			c.Apply(f.Take())
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rev++
				st.PutInstance(rev, "svc7", inst(b, "i3", "10.9.9.9", 1000+i%1000))
				c.Apply(f.Take())
			}
		})
	}
}
