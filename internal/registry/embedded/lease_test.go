package embedded

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/catalog"
)

func leased(t *testing.T, id string, port int, ttl string) catalog.Instance {
	t.Helper()
	in, err := catalog.NewInstance(id, catalog.InstanceSpec{Address: "10.0.0.1", Port: port, TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func has(st *Store, service, id string) bool {
	e, ok := st.State().Get(service)
	if !ok {
		return false
	}
	_, ok = e.Instance(id)
	return ok
}

// waitGone polls until the instance is gone and returns how long it took.
func waitGone(t *testing.T, st *Store, service, id string, within time.Duration) time.Duration {
	t.Helper()
	t0 := time.Now()
	for has(st, service, id) {
		if time.Since(t0) > within {
			t.Fatalf("instance %s/%s still there after %s", service, id, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(t0)
}

func TestLeaseExpiryAndHeartbeat(t *testing.T) {
	ctx := context.Background()
	st := open(t, t.TempDir(), Options{LeaseCheck: 20 * time.Millisecond})
	if _, _, err := st.PutService(ctx, svc(t, "demo", "demo.test")); err != nil {
		t.Fatal(err)
	}
	for _, in := range []catalog.Instance{leased(t, "leased", 80, "1s"), leased(t, "fixed", 81, "")} {
		if _, _, err := st.PutInstance(ctx, "demo", in); err != nil {
			t.Fatal(err)
		}
	}
	revBefore := st.State().Rev()
	// Heartbeats keep it well past its TTL.
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(300 * time.Millisecond) {
		if err := st.Heartbeat(ctx, "demo", "leased"); err != nil {
			t.Fatalf("heartbeat: %v", err)
		}
		if !has(st, "demo", "leased") {
			t.Fatal("a renewed instance expired")
		}
	}
	// A state change is not a heartbeat.
	if _, _, err := st.SetInstanceState(ctx, "demo", "leased", catalog.Draining); err != nil {
		t.Fatal(err)
	}
	took := waitGone(t, st, "demo", "leased", 2*time.Second)
	if took < 500*time.Millisecond {
		t.Errorf("expired %s after the last heartbeat; the TTL is 1s", took)
	}
	if !has(st, "demo", "fixed") {
		t.Error("the instance without a TTL expired")
	}
	if st.State().Rev() <= revBefore+1 {
		t.Errorf("the expiry did not go through a write: rev %d", st.State().Rev())
	}
	if err := st.Heartbeat(ctx, "demo", "leased"); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("heartbeat after expiry = %v, want ErrNotFound", err)
	}
	if err := st.Heartbeat(ctx, "demo", "fixed"); err != nil {
		t.Errorf("heartbeat of an instance without a TTL = %v", err)
	}
	// The expiry is on disk.
	st = reopen(t, st)
	if has(st, "demo", "leased") {
		t.Error("the expired instance came back after a reopen")
	}
}

// TestLeaseAfterRestart: deadlines are not persisted; after a reopen every
// leased instance gets a full TTL from the reopen.
func TestLeaseAfterRestart(t *testing.T) {
	ctx := context.Background()
	st := open(t, t.TempDir(), Options{LeaseCheck: 20 * time.Millisecond})
	if _, _, err := st.PutService(ctx, svc(t, "demo", "demo.test")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.PutInstance(ctx, "demo", leased(t, "leased", 80, "1s")); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1200 * time.Millisecond) // the router is down for longer than the TTL
	st = open(t, st.dir, Options{LeaseCheck: 20 * time.Millisecond})
	if !has(st, "demo", "leased") {
		t.Fatal("a leased instance expired while the router was down")
	}
	if took := waitGone(t, st, "demo", "leased", 2*time.Second); took < 700*time.Millisecond {
		t.Errorf("expired %s after the reopen; want a full TTL (1s)", took)
	}
	// Deleting a service forgets its deadlines: nothing fails later.
	if _, _, err := st.PutInstance(ctx, "demo", leased(t, "again", 80, "1s")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DeleteService(ctx, "demo"); err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.leases.deadlines) != 0 {
		t.Errorf("deadlines left after the service went: %v", st.leases.deadlines)
	}
}
