package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/etcdtest"
)

// TestEtcdRouterStartsFromSnapshot: a router started while etcd is down
// serves the snapshot of its last table from --data, degraded, and
// reconciles when etcd answers.
func TestEtcdRouterStartsFromSnapshot(t *testing.T) {
	c := etcdtest.StartT(t, 3)
	data := t.TempDir()
	r := etcdRouterIn(t, data, c, "/wr")
	web := named(t, "web")
	r.mustAPI("PUT", "/v1/services/web", `{"mountpoints":["web.test"]}`)
	r.mustAPI("PUT", "/v1/services/web/instances/w1", instanceJSON(web))
	want := r.content()
	if code := r.stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, m := range c.Members {
		m.Stop()
	}

	t0 := time.Now()
	r2 := etcdRouterIn(t, data, c, "/wr")
	t.Logf("started with etcd down in %s", time.Since(t0).Round(time.Millisecond))
	if got := r2.content(); got != want {
		t.Errorf("table from the snapshot:\n%s\nwant\n%s", got, want)
	}
	if code, body, _ := r2.get("web.test", "/"); code != 200 || !strings.HasPrefix(body, "web ") {
		t.Errorf("routing from the snapshot: %d %q", code, body)
	}
	if st := r2.status(); st.State != "degraded" || !strings.Contains(st.Reason, "snapshot") {
		t.Errorf("status %+v; want degraded, naming the snapshot", st)
	}
	for _, m := range c.Members {
		if err := m.Restart(); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 20*time.Second, "ok once etcd is back", func() bool { return r2.status().State == "ok" })
	r2.mustAPI("DELETE", "/v1/services/web/instances/w1", "")
	if code, _, _ := r2.get("web.test", "/"); code != 503 {
		t.Errorf("after the delete: %d, want 503", code)
	}
}
