package embedded

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/registry"
)

func svc(t testing.TB, name string, mountpoints ...string) catalog.Service {
	t.Helper()
	s, err := catalog.NewService(name, catalog.ServiceSpec{Mountpoints: mountpoints})
	if err != nil {
		t.Fatalf("NewService(%q): %v", name, err)
	}
	return s
}

func inst(t testing.TB, id, addr string, port int) catalog.Instance {
	t.Helper()
	in, err := catalog.NewInstance(id, catalog.InstanceSpec{Address: addr, Port: port})
	if err != nil {
		t.Fatalf("NewInstance(%q): %v", id, err)
	}
	return in
}

// open opens dir and closes the store when the test ends.
func open(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	st, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// reopen closes st and opens its directory again.
func reopen(t testing.TB, st *Store) *Store {
	t.Helper()
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return open(t, st.dir, Options{})
}

// dump renders a state as text, so that states can be compared across
// reopen (where an empty instance list may come back nil).
func dump(s *catalog.State) string {
	var b strings.Builder
	fmt.Fprintf(&b, "rev %d\n", s.Rev())
	for _, e := range s.List() {
		fmt.Fprintf(&b, "%+v\n", e.Service)
		for _, in := range e.Instances {
			fmt.Fprintf(&b, "  %+v\n", in)
		}
	}
	return b.String()
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	st := open(t, t.TempDir(), Options{})
	if st.Kind() != "embedded" {
		t.Errorf("Kind() = %q", st.Kind())
	}
	var lastRev uint64
	step := func(what string, created, wantCreated bool, rev uint64, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if created != wantCreated {
			t.Errorf("%s: created = %v, want %v", what, created, wantCreated)
		}
		if rev != lastRev+1 || st.State().Rev() != rev {
			t.Errorf("%s: rev = %d, State().Rev() = %d, want %d", what, rev, st.State().Rev(), lastRev+1)
		}
		lastRev = rev
	}

	c, rev, err := st.PutService(ctx, svc(t, "demo.web", "demo.lain.local"))
	step("create service", c, true, rev, err)
	c, rev, err = st.PutInstance(ctx, "demo.web", inst(t, "b", "10.0.0.2", 80))
	step("create instance b", c, true, rev, err)
	c, rev, err = st.PutInstance(ctx, "demo.web", inst(t, "a", "10.0.0.1", 80))
	step("create instance a", c, true, rev, err)
	c, rev, err = st.PutInstance(ctx, "demo.web", inst(t, "a", "10.0.0.1", 8080))
	step("replace instance a", c, false, rev, err)
	c, rev, err = st.PutService(ctx, svc(t, "demo.web", "demo.lain.local", "*.demo.com"))
	step("replace service", c, false, rev, err)
	c, rev, err = st.PutService(ctx, svc(t, "other", "other.lain.local"))
	step("create other", c, true, rev, err)
	rev, err = st.DeleteInstance(ctx, "demo.web", "b")
	step("delete instance b", false, false, rev, err)

	e, ok := st.State().Get("demo.web")
	if !ok {
		t.Fatal("demo.web missing")
	}
	if got := e.Service.Mountpoints; len(got) != 2 || got[1] != "*.demo.com" {
		t.Errorf("mountpoints = %v; want the replaced service", got)
	}
	if len(e.Instances) != 1 || e.Instances[0].Port != 8080 {
		t.Errorf("instances = %+v; want only a on 8080 (kept across service replace)", e.Instances)
	}
	before := dump(st.State())
	st = reopen(t, st)
	if after := dump(st.State()); after != before {
		t.Errorf("after reopen:\n%s\nwant:\n%s", after, before)
	}

	rev, err = st.DeleteService(ctx, "demo.web")
	step("delete service", false, false, rev, err)
	if _, ok := st.State().Get("demo.web"); ok {
		t.Error("demo.web still in State after delete")
	}
	// Re-create: the deleted service's instances must not come back.
	c, rev, err = st.PutService(ctx, svc(t, "demo.web", "demo.lain.local"))
	step("re-create service", c, true, rev, err)
	st = reopen(t, st)
	if e, ok := st.State().Get("demo.web"); !ok || len(e.Instances) != 0 {
		t.Errorf("after delete, re-create and reopen: entry = %+v, %v; want no instances", e, ok)
	}
	if st.State().Rev() != lastRev || st.State().Len() != 2 {
		t.Errorf("after reopen: rev %d, %d services; want rev %d, 2 services", st.State().Rev(), st.State().Len(), lastRev)
	}
}

func TestRejectedWritesChangeNothing(t *testing.T) {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	cases := []struct {
		name         string
		write        func(t *testing.T, st *Store) error
		wantIs       error
		wantConflict *catalog.ConflictError
	}{
		{
			name: "conflicting mountpoint",
			write: func(t *testing.T, st *Store) error {
				_, _, err := st.PutService(ctx, svc(t, "b", "Demo.COM/api/", "b.lain.local"))
				return err
			},
			wantConflict: &catalog.ConflictError{Mountpoint: "demo.com/api", Owner: "a"},
		},
		{
			name: "instance of missing service",
			write: func(t *testing.T, st *Store) error {
				_, _, err := st.PutInstance(ctx, "ghost", inst(t, "x", "10.0.0.9", 80))
				return err
			},
			wantIs: catalog.ErrNotFound,
		},
		{
			name: "delete missing service",
			write: func(t *testing.T, st *Store) error {
				_, err := st.DeleteService(ctx, "ghost")
				return err
			},
			wantIs: catalog.ErrNotFound,
		},
		{
			name: "delete instance of missing service",
			write: func(t *testing.T, st *Store) error {
				_, err := st.DeleteInstance(ctx, "ghost", "a1")
				return err
			},
			wantIs: catalog.ErrNotFound,
		},
		{
			name: "delete missing instance",
			write: func(t *testing.T, st *Store) error {
				_, err := st.DeleteInstance(ctx, "a", "nope")
				return err
			},
			wantIs: catalog.ErrNotFound,
		},
		{
			name: "cancelled context",
			write: func(t *testing.T, st *Store) error {
				_, _, err := st.PutService(cancelled, svc(t, "c", "c.lain.local"))
				return err
			},
			wantIs: context.Canceled,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := open(t, t.TempDir(), Options{})
			if _, _, err := st.PutService(ctx, svc(t, "a", "demo.com/api")); err != nil {
				t.Fatal(err)
			}
			if _, _, err := st.PutInstance(ctx, "a", inst(t, "a1", "10.0.0.1", 80)); err != nil {
				t.Fatal(err)
			}
			before := dump(st.State())

			err := tc.write(t, st)
			if tc.wantConflict != nil {
				var got *catalog.ConflictError
				if !errors.As(err, &got) || *got != *tc.wantConflict {
					t.Fatalf("err = %v; want conflict %+v", err, tc.wantConflict)
				}
			} else if !errors.Is(err, tc.wantIs) {
				t.Fatalf("err = %v; want one wrapping %v", err, tc.wantIs)
			}
			if got := dump(st.State()); got != before {
				t.Errorf("State changed:\n%s\nwant:\n%s", got, before)
			}
			st = reopen(t, st)
			if got := dump(st.State()); got != before {
				t.Errorf("disk changed (after reopen):\n%s\nwant:\n%s", got, before)
			}
		})
	}
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	st := open(t, t.TempDir(), Options{})
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	_, _, err := st.PutService(context.Background(), svc(t, "a", "a.lain.local"))
	if !errors.Is(err, registry.ErrUnavailable) {
		t.Errorf("PutService after Close: %v; want ErrUnavailable", err)
	}
}

func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	open(t, dir, Options{})
	start := time.Now()
	st, err := Open(dir, Options{})
	if err == nil {
		st.Close()
		t.Fatal("second Open succeeded; want it locked")
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("second Open took %v; want it to fail fast", elapsed)
	}
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "locked") || !strings.Contains(err.Error(), dir) {
		t.Errorf("err = %v; want ErrLocked naming the directory", err)
	}
}

func TestFeedSeesWrites(t *testing.T) {
	ctx := context.Background()
	st := open(t, t.TempDir(), Options{})
	if _, _, err := st.PutService(ctx, svc(t, "gone", "gone.lain.local")); err != nil {
		t.Fatal(err)
	}
	f := st.State().Subscribe()
	defer st.State().Unsubscribe(f)
	take := func() catalog.Batch {
		t.Helper()
		select {
		case <-f.Ready():
		case <-time.After(5 * time.Second):
			t.Fatal("feed not ready")
		}
		return f.Take()
	}
	if b := take(); b.Rev != 1 || b.Changes["gone"] == nil {
		t.Fatalf("first batch = %+v; want the existing service at rev 1", b)
	}

	if _, _, err := st.PutService(ctx, svc(t, "demo", "demo.lain.local")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.PutInstance(ctx, "demo", inst(t, "i1", "10.0.0.1", 80)); err != nil {
		t.Fatal(err)
	}
	rev, err := st.DeleteService(ctx, "gone")
	if err != nil {
		t.Fatal(err)
	}
	b := take()
	if b.Rev != rev || b.Rev != 4 {
		t.Errorf("batch rev = %d; want %d (= 4)", b.Rev, rev)
	}
	if e := b.Changes["demo"]; e == nil || len(e.Instances) != 1 || e.Instances[0].ID != "i1" {
		t.Errorf("demo change = %+v; want the service with i1", e)
	}
	if e, ok := b.Changes["gone"]; !ok || e != nil {
		t.Errorf("gone change = %+v, %v; want a deletion (nil)", e, ok)
	}
}

func TestConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	st := open(t, t.TempDir(), Options{NoSync: true})
	if _, _, err := st.PutService(ctx, svc(t, "demo", "demo.lain.local")); err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 20
	var ins [workers][each]catalog.Instance
	for w := range workers {
		for i := range each {
			ins[w][i] = inst(t, fmt.Sprintf("w%d-%d", w, i), "10.0.0.1", 1000+i)
		}
	}
	errc := make(chan error, workers)
	for w := range workers {
		go func() {
			for _, in := range ins[w] {
				if _, _, err := st.PutInstance(ctx, "demo", in); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	for range workers {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	want := dump(st.State())
	if st.State().Rev() != 1+workers*each {
		t.Errorf("rev = %d; want %d", st.State().Rev(), 1+workers*each)
	}
	st = reopen(t, st)
	if got := dump(st.State()); got != want {
		t.Errorf("after reopen:\n%s\nwant:\n%s", got, want)
	}
}

func TestSetInstanceState(t *testing.T) {
	ctx := context.Background()
	st := open(t, t.TempDir(), Options{})
	st.PutService(ctx, svc(t, "a", "a.com"))
	in := inst(t, "i", "10.0.0.1", 80)
	in.Weight = 7
	st.PutInstance(ctx, "a", in)
	got, rev, err := st.SetInstanceState(ctx, "a", "i", catalog.Draining)
	if err != nil || got.State != catalog.Draining || got.Weight != 7 || rev != 3 {
		t.Fatalf("SetInstanceState = %+v, %d, %v", got, rev, err)
	}
	if _, _, err := st.SetInstanceState(ctx, "a", "nope", catalog.Ready); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("missing instance: %v", err)
	}
	st = reopen(t, st)
	e, _ := st.State().Get("a")
	if in, _ := e.Instance("i"); in.State != catalog.Draining || in.Weight != 7 {
		t.Errorf("after reopen: %+v", in)
	}
}
