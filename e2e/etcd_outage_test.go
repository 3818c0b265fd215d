package e2e

// Scenarios 2, 3, 4 and 6 of issue #4: etcd members and whole clusters
// failing under routers that keep serving.

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/webrouter/webrouter/internal/etcdtest"
)

// TestEtcdMemberKilledUnderLoad (scenario 2): the etcd leader is killed
// (the worst member to lose) while two routers serve traffic: no request
// fails and writes through both routers keep working.
func TestEtcdMemberKilledUnderLoad(t *testing.T) {
	c := etcdtest.StartT(t, 3)
	a, b := etcdRouter(t, c, "/wr"), etcdRouter(t, c, "/wr")
	pool := backendPool(t, 3)
	serveOn(t, a, "load", "load.test", pool[:2])
	eventually(t, 5*time.Second, "B to route", func() bool { code, _ := b.hit(http.DefaultClient, "load.test"); return code == 200 })

	stop := loadOn("load.test", 8, a, b)
	leader, err := c.Leader()
	if err != nil {
		t.Fatal(err)
	}
	c.Members[leader].Kill()
	t0 := time.Now()
	for i := 0; i < 20; i++ {
		r := []*router{a, b}[i%2]
		body := fmt.Sprintf(`{"address":"127.0.0.1","port":%d,"weight":%d}`, pool[2].Port(), 1+i)
		if code, resp := r.api("PUT", "/v1/services/load/instances/extra", body); code/100 != 2 {
			t.Fatalf("write %d after the leader was killed: %d %s", i, code, resp)
		}
		if i == 0 {
			t.Logf("first write after killing the leader (member %d) took %s", leader, time.Since(t0).Round(time.Millisecond))
		}
	}
	eventually(t, 5*time.Second, "both routers to hold the last write", func() bool { return a.content() == b.content() })
	checkLoad(t, "two routers while the etcd leader was killed", stop(), 200)
	for _, r := range []*router{a, b} {
		if st := r.status(); st.State != "ok" {
			t.Errorf("status %+v with two members of three up", st)
		}
	}
}

// TestEtcdAllMembersStoppedUnderLoad (scenario 3): with every etcd member
// stopped the routers keep routing on their last table, report degraded
// (status, metric, one log line) and refuse writes with 503; when etcd is
// back, a change made with etcdctl reaches every router.
func TestEtcdAllMembersStoppedUnderLoad(t *testing.T) {
	c := etcdtest.StartT(t, 3)
	a, b := etcdRouter(t, c, "/wr"), etcdRouter(t, c, "/wr")
	pool := backendPool(t, 2)
	serveOn(t, a, "load", "load.test", pool)
	other := named(t, "other")
	a.mustAPI("PUT", "/v1/services/other", `{"mountpoints":["other.test"]}`)
	eventually(t, 5*time.Second, "B to route", func() bool { code, _ := b.hit(http.DefaultClient, "load.test"); return code == 200 })

	stop := loadOn("load.test", 8, a, b)
	for _, m := range c.Members {
		m.Stop()
	}
	t0 := time.Now()
	for _, r := range []*router{a, b} {
		eventually(t, 10*time.Second, "degraded", func() bool { return r.status().State == "degraded" })
	}
	t.Logf("both routers degraded %s after the last member stopped", time.Since(t0).Round(time.Millisecond))
	for _, r := range []*router{a, b} {
		st := r.status()
		if !strings.Contains(st.Reason, "etcd unreachable") {
			t.Errorf("reason %q", st.Reason)
		}
		if v := r.metric("webrouter_registry_degraded"); v != "1" {
			t.Errorf("webrouter_registry_degraded = %q, want 1", v)
		}
		code, body := r.api("PUT", "/v1/services/refused", `{"mountpoints":["refused.test"]}`)
		if code != 503 || !strings.Contains(string(body), "degraded") || !strings.Contains(string(body), "retry the write later") {
			t.Errorf("write while etcd is down: %d %s; want 503 saying degraded", code, body)
		}
		if code, _ := r.api("PUT", "/v1/services/load/instances/b0/heartbeat", ""); code != 503 {
			t.Errorf("heartbeat while etcd is down: %d, want 503", code)
		}
	}
	time.Sleep(500 * time.Millisecond) // routing on while etcd stays down: nothing to poll for
	checkLoad(t, "two routers while every etcd member was down", stop(), 200)

	for _, m := range c.Members {
		if err := m.Restart(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WaitReady(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	ctl := etcdClient(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := ctl.Put(ctx, "/wr/instances/other/o1", jsonInstance(t, "o1", other)); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*router{a, b} {
		eventually(t, 20*time.Second, "the etcdctl change routed and status ok", func() bool {
			code, body := r.hit(http.DefaultClient, "other.test")
			return code == 200 && strings.HasPrefix(body, "other ") && r.status().State == "ok"
		})
		if v := r.metric("webrouter_registry_degraded"); v != "0" {
			t.Errorf("webrouter_registry_degraded = %q after recovery", v)
		}
		if n := r.logCount("etcd registry degraded: routing on the last table, refusing writes"); n != 1 {
			t.Errorf("degraded logged %d times, want once", n)
		}
	}
	b.mustAPI("PUT", "/v1/services/after", `{"mountpoints":["after.test"]}`)
}

// TestEtcdCompactionWhileRouterDisconnected (scenario 4): router C talks
// only to one member (a follower), which is killed; the others change the
// registry and compact it; when the member returns, C lists again and
// converges.
func TestEtcdCompactionWhileRouterDisconnected(t *testing.T) {
	c := etcdtest.StartT(t, 3)
	m, rest := c.FollowerT(t)
	a := etcdRouter(t, c, "/wr", rest...)
	cr := etcdRouter(t, c, "/wr", m)
	web, gone, added := named(t, "web"), named(t, "gone"), named(t, "added")
	a.mustAPI("PUT", "/v1/services/web", `{"mountpoints":["web.test"]}`)
	a.mustAPI("PUT", "/v1/services/web/instances/w1", instanceJSON(web))
	a.mustAPI("PUT", "/v1/services/gone", `{"mountpoints":["gone.test"]}`)
	a.mustAPI("PUT", "/v1/services/gone/instances/g1", instanceJSON(gone))
	eventually(t, 5*time.Second, "C to converge", func() bool { return cr.content() == a.content() })

	c.Members[m].Kill()
	eventually(t, 10*time.Second, "C degraded", func() bool { return cr.status().State == "degraded" })
	a.mustAPI("DELETE", "/v1/services/gone", "")
	a.mustAPI("PUT", "/v1/services/added", `{"mountpoints":["added.test"]}`)
	a.mustAPI("PUT", "/v1/services/added/instances/a1", instanceJSON(added))
	webHost, webPort := addrOf(web)
	for i := 0; i < 20; i++ {
		a.mustAPI("PUT", "/v1/services/web/instances/w1", fmt.Sprintf(`{"address":%q,"port":%d,"weight":%d}`, webHost, webPort, 1+i))
	}
	rev := a.status().Revision
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := etcdClient(t, c, rest...).Compact(ctx, int64(rev), clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := cr.get("gone.test", "/"); code != 200 {
		t.Errorf("disconnected C stopped routing a service it last saw: %d", code)
	}
	if err := c.Members[m].Restart(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "C to converge after the compaction", func() bool { return cr.content() == a.content() })
	if code, body, _ := cr.get("added.test", "/"); code != 200 || !strings.HasPrefix(body, "added ") {
		t.Errorf("C: added.test = %d %q", code, body)
	}
	if code, _, _ := cr.get("gone.test", "/"); code != 404 {
		t.Errorf("C: gone.test = %d, want 404", code)
	}
	if n := cr.logCount("etcd registry: the watch fell behind a compaction; listing the registry again"); n != 1 {
		t.Errorf("C logged the re-list %d times, want once", n)
	}
}

// TestEtcdLeaseExpiry (scenario 6): an instance registered with a TTL
// stays while heartbeats renew it and disappears from the routers that see
// etcd once they stop (its host died). Router P is partitioned from etcd —
// simulated by killing the only member P talks to (a follower), while the
// other two keep a quorum for router A — and keeps routing to the instance.
func TestEtcdLeaseExpiry(t *testing.T) {
	c := etcdtest.StartT(t, 3)
	m, rest := c.FollowerT(t)
	a := etcdRouter(t, c, "/wr", rest...)
	p := etcdRouter(t, c, "/wr", m)
	host, fixed := named(t, "dying"), named(t, "fixed")
	a.mustAPI("PUT", "/v1/services/demo", `{"mountpoints":["demo.test"]}`)
	a.mustAPI("PUT", "/v1/services/demo/instances/fixed", instanceJSON(fixed))
	host0, port0 := addrOf(host)
	a.mustAPI("PUT", "/v1/services/demo/instances/dying", fmt.Sprintf(`{"address":%q,"port":%d,"ttl":"2s"}`, host0, port0))
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		for _, r := range []*router{a, p} {
			if code, body := r.api("PUT", "/v1/services/demo/instances/dying/heartbeat", ""); code != 204 {
				t.Fatalf("heartbeat: %d %s", code, body)
			}
		}
	}
	eventually(t, 5*time.Second, "P to route to the leased instance", func() bool { return strings.Contains(p.content(), "dying") })

	c.Members[m].Kill() // P is cut off; the host dies: no more heartbeats
	died := time.Now()
	eventually(t, 10*time.Second, "A to drop the expired instance", func() bool { return !strings.Contains(a.content(), "dying") })
	t.Logf("lease (ttl 2s) expired on A %s after the last heartbeat", time.Since(died).Round(10*time.Millisecond))
	if code, _ := a.api("PUT", "/v1/services/demo/instances/dying/heartbeat", ""); code != 404 {
		t.Errorf("heartbeat after expiry: %d, want 404", code)
	}
	if !strings.Contains(p.content(), "dying") {
		t.Error("partitioned router P dropped the instance")
	}
	seen := map[string]bool{}
	for i := 0; i < 20; i++ {
		_, body, _ := p.get("demo.test", "/")
		seen[strings.Fields(body + " ?")[0]] = true
	}
	if !seen["dying"] {
		t.Errorf("partitioned router P no longer routes to the instance: %v", seen)
	}
	eventually(t, 10*time.Second, "P to report degraded", func() bool { return p.status().State == "degraded" })
	if !strings.Contains(p.content(), "dying") {
		t.Error("partitioned router P dropped the instance while degraded")
	}
	if err := c.Members[m].Restart(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "P to catch up", func() bool { return p.content() == a.content() })
}
