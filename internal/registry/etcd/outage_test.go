package etcd

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/certtest"
	"github.com/webrouter/webrouter/internal/etcdtest"
)

// TestCompactionWhileDisconnected: a store whose only member is down
// misses changes that are then compacted away; when the member returns,
// the store lists again and ends equal to a store that saw everything.
func TestCompactionWhileDisconnected(t *testing.T) {
	c := etcdtest.StartT(t, 3)
	cut, rest := c.FollowerT(t)
	pfx := prefix(t)
	a := open(t, c.Endpoints(rest...), pfx, nil)
	lone := open(t, c.Endpoints(cut), pfx, nil)
	cx := ctx(t)
	if _, _, err := a.PutService(cx, svc(t, "demo", "demo.test")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if _, _, err := a.PutInstance(cx, "demo", inst(t, fmt.Sprintf("old-%d", i), 1000+i, "")); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 5*time.Second, "the lone store to catch up", func() bool { return dump(lone.State()) == dump(a.State()) })

	c.Members[cut].Kill()
	eventually(t, 5*time.Second, "the lone store to be degraded", func() bool { return lone.Status().State == "degraded" })
	for i := 0; i < 5; i++ {
		if _, err := a.DeleteInstance(cx, "demo", fmt.Sprintf("old-%d", i)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := a.PutInstance(cx, "demo", inst(t, fmt.Sprintf("new-%d", i), 2000+i, "")); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := a.PutService(cx, svc(t, "added", "added.test")); err != nil {
		t.Fatal(err)
	}
	cli := client(t, c, rest...)
	if _, err := cli.Compact(cx, int64(a.State().Rev()), clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	if err := c.Members[cut].Restart(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the lone store to converge", func() bool {
		return dump(lone.State()) == dump(a.State()) && lone.Status().State == "ok"
	})
	if n := lone.log.count("fell behind a compaction"); n != 1 {
		t.Errorf("re-list after compaction logged %d times, want 1\n%s", n, lone.log)
	}
	// And it keeps following.
	if _, err := a.DeleteService(cx, "added"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the next change", func() bool { _, ok := lone.State().Get("added"); return !ok })
}

// TestPartitionedStoreKeepsLeases: a store that cannot reach etcd never
// expires anything: the majority's stores see a dead host's instance go,
// the partitioned store keeps routing to it until it can see etcd again.
// The partition is simulated by killing the only member the store talks
// to, while the other two members keep a quorum.
func TestPartitionedStoreKeepsLeases(t *testing.T) {
	c := etcdtest.StartT(t, 3)
	m, rest := c.FollowerT(t)
	pfx := prefix(t)
	a := open(t, c.Endpoints(rest...), pfx, nil)
	cut := open(t, c.Endpoints(m), pfx, nil)
	cx := ctx(t)
	if _, _, err := a.PutService(cx, svc(t, "demo", "demo.test")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.PutInstance(cx, "demo", inst(t, "dying", 80, "2s")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the cut store to see the instance", func() bool { return hasInstance(cut.State(), "demo", "dying") })
	c.Members[m].Kill()
	eventually(t, 10*time.Second, "the lease to expire on the majority", func() bool { return !hasInstance(a.State(), "demo", "dying") })
	time.Sleep(time.Second) // the partition lasts on: nothing to poll for, the point is that nothing happens
	if !hasInstance(cut.State(), "demo", "dying") || cut.Status().State != "degraded" {
		t.Fatalf("partitioned store: instance kept %v, status %+v; want kept and degraded",
			hasInstance(cut.State(), "demo", "dying"), cut.Status())
	}
	if err := c.Members[m].Restart(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the partitioned store to catch up", func() bool {
		return !hasInstance(cut.State(), "demo", "dying") && cut.Status().State == "ok"
	})
}

// TestLeaderKilled: with the leader of three members killed, writes and
// reads through a store that knows all three keep working: a write that
// etcd drops with the old leader is retried once a new leader is elected.
func TestLeaderKilled(t *testing.T) {
	c := etcdtest.StartT(t, 3)
	st := open(t, c.Endpoints(), prefix(t), func(o *Options) { o.AttemptTimeout = 700 * time.Millisecond })
	cx := ctx(t)
	if _, _, err := st.PutService(cx, svc(t, "demo", "demo.test")); err != nil {
		t.Fatal(err)
	}
	leader, err := c.Leader()
	if err != nil {
		t.Fatal(err)
	}
	c.Members[leader].Kill()
	t0 := time.Now()
	for i := 0; i < 20; i++ {
		if _, _, err := st.PutInstance(cx, "demo", inst(t, fmt.Sprintf("i%d", i), 1000+i, "")); err != nil {
			t.Fatalf("write %d with the leader down: %v", i, err)
		}
		if i == 0 {
			t.Logf("first write after killing the leader took %s", time.Since(t0).Round(time.Millisecond))
		}
	}
	if e, _ := st.State().Get("demo"); len(e.Instances) != 20 {
		t.Errorf("%d instances, want 20", len(e.Instances))
	}
	if st.Status().State != "ok" {
		t.Errorf("status %+v with a quorum up", st.Status())
	}
}

// TestStartFromSnapshot: a router started while etcd is down serves the
// snapshot it wrote last time, degraded, and reconciles when etcd answers.
func TestStartFromSnapshot(t *testing.T) {
	c := etcdtest.StartT(t, 3)
	pfx, data := prefix(t), t.TempDir()
	first := open(t, c.Endpoints(), pfx, func(o *Options) { o.DataDir = data })
	cx := ctx(t)
	if _, _, err := first.PutService(cx, svc(t, "demo", "demo.test")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := first.PutInstance(cx, "demo", inst(t, "a", 80, "30s")); err != nil {
		t.Fatal(err)
	}
	leaf := certtest.MustCA("ca").MustIssue(certtest.Options{Names: []string{"demo.test"}})
	crt, _ := catalog.NewCertificate("demo", catalog.CertificateSpec{Cert: leaf.CertPEM, Key: leaf.KeyPEM}, time.Now())
	if _, _, err := first.PutCertificate(cx, crt); err != nil {
		t.Fatal(err)
	}
	want := dump(first.State())
	first.Close()
	snap, err := os.ReadFile(filepath.Join(data, SnapshotFile))
	if err != nil || !strings.Contains(string(snap), `"demo.test"`) {
		t.Fatalf("snapshot: %v\n%s", err, snap)
	}

	for _, m := range c.Members {
		m.Stop()
	}
	t0 := time.Now()
	second := open(t, c.Endpoints(), pfx, func(o *Options) { o.DataDir = data; o.StartTimeout = time.Second })
	if got := dump(second.State()); got != want {
		t.Fatalf("started from the snapshot with\n%s\nwant\n%s", got, want)
	}
	if got, ok := second.State().Certificate("demo"); !ok || !got.Equal(crt) {
		t.Errorf("the snapshot lost the certificate")
	}
	if fi, err := os.Stat(filepath.Join(data, SnapshotFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("snapshot mode %v %v, want 0600 (it holds keys)", fi.Mode(), err)
	}
	if st := second.Status(); st.State != "degraded" || !strings.Contains(st.Reason, "unreachable") || !strings.Contains(st.Reason, "snapshot") {
		t.Errorf("status = %+v", st)
	}
	t.Logf("opened from the snapshot in %s", time.Since(t0).Round(time.Millisecond))

	// While etcd is down another tool's change waits in etcd's future; when
	// etcd is back the store reconciles with it.
	for _, m := range c.Members {
		if err := m.Restart(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WaitReady(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := client(t, c).Delete(cx, second.keys.instance("demo", "a")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the store to reconcile", func() bool {
		e, ok := second.State().Get("demo")
		return ok && len(e.Instances) == 0 && second.Status().State == "ok"
	})
	second.Close() // it would write its snapshot over the bad one below
	// Bad snapshots are ignored, not fatal.
	os.WriteFile(filepath.Join(data, SnapshotFile), []byte("{"), 0o600)
	for _, m := range c.Members {
		m.Kill()
	}
	third := open(t, c.Endpoints(), pfx, func(o *Options) { o.DataDir = data; o.StartTimeout = 300 * time.Millisecond })
	if third.State().Len() != 0 || !strings.Contains(third.log.String(), "unusable") {
		t.Errorf("a bad snapshot: %d services, log %s", third.State().Len(), third.log)
	}
}
