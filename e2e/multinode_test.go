package e2e

// Scenarios 1 and 5 of issue #4: several routers on one etcd cluster.

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/etcdtest"
)

// TestEtcdWriteOnOneRouterRoutesOnAll (scenario 1): a write through any
// router is routable through every other; the propagation time (write
// acknowledged → routed through B) is measured over 100 writes (the full
// 1 000 are bench/propagation). Two routers racing to claim one mountpoint:
// exactly one wins, the other gets 409.
func TestEtcdWriteOnOneRouterRoutesOnAll(t *testing.T) {
	c := etcdtest.StartT(t, 3)
	a, b, cr := etcdRouter(t, c, "/wr"), etcdRouter(t, c, "/wr"), etcdRouter(t, c, "/wr")
	x, y := named(t, "x"), named(t, "y")
	a.mustAPI("PUT", "/v1/services/prop", `{"mountpoints":["prop.test"]}`)

	// Each write points the service's only instance at the other backend;
	// B routes the write when its answer comes from that backend.
	keep := &http.Client{Timeout: 5 * time.Second}
	var lags []time.Duration
	for i := 0; i < 100; i++ {
		want, s := "x ", x
		if i%2 == 1 {
			want, s = "y ", y
		}
		a.mustAPI("PUT", "/v1/services/prop/instances/only", instanceJSON(s))
		acked := time.Now()
		for {
			code, body := b.hit(keep, "prop.test")
			if code == 200 && strings.HasPrefix(body, want) {
				break
			}
			if time.Since(acked) > 5*time.Second {
				t.Fatalf("write %d not routable through B after 5s: %d %q", i, code, body)
			}
		}
		lags = append(lags, time.Since(acked))
	}
	p50, p99 := percentiles(lags)
	t.Logf("propagation A→B over %d writes: p50 %s, p99 %s", len(lags), p50, p99)

	// Writes through B and C are routable through A and C.
	web := named(t, "web")
	b.mustAPI("PUT", "/v1/services/web", `{"mountpoints":["web.test"]}`)
	cr.mustAPI("PUT", "/v1/services/web/instances/w1", instanceJSON(web))
	for _, r := range []*router{a, b, cr} {
		eventually(t, 5*time.Second, "web routable through "+r.http, func() bool {
			code, body := r.hit(keep, "web.test")
			return code == 200 && strings.HasPrefix(body, "web ")
		})
	}
	// The admin API's reads agree on every router.
	eventually(t, 5*time.Second, "the three routers to hold the same table", func() bool {
		return a.content() == b.content() && b.content() == cr.content()
	})

	// Mountpoint race across routers.
	for round := 0; round < 10; round++ {
		codes := make([]int, 2)
		var wg sync.WaitGroup
		for i, r := range []*router{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i], _ = r.api("PUT", fmt.Sprintf("/v1/services/race-%d-%d", round, i),
					fmt.Sprintf(`{"mountpoints":["race%d.test"]}`, round))
			}()
		}
		wg.Wait()
		if !(codes[0] == 201 && codes[1] == 409 || codes[0] == 409 && codes[1] == 201) {
			t.Fatalf("round %d: statuses %v; want one 201 and one 409", round, codes)
		}
	}
}

// TestEtcdRouterKilledAndRestarted (scenario 5): killing one router does
// not disturb the others; restarted, it converges to the same table.
func TestEtcdRouterKilledAndRestarted(t *testing.T) {
	c := etcdtest.StartT(t, 3)
	a := etcdRouter(t, c, "/wr")
	bData := t.TempDir()
	b := etcdRouterIn(t, bData, c, "/wr")
	pool := backendPool(t, 2)
	serveOn(t, a, "load", "load.test", pool)
	eventually(t, 5*time.Second, "B to route the service", func() bool {
		code, _ := b.hit(http.DefaultClient, "load.test")
		return code == 200
	})

	stop := loadOn("load.test", 16, a)
	time.Sleep(300 * time.Millisecond) // load before the kill: the point is traffic across it
	b.Kill()
	b.stopped = true
	web := named(t, "web")
	a.mustAPI("PUT", "/v1/services/web", `{"mountpoints":["web.test"]}`)
	a.mustAPI("PUT", "/v1/services/web/instances/w1", instanceJSON(web))
	a.mustAPI("PUT", "/v1/services/load/instances/b1", fmt.Sprintf(`{"address":"127.0.0.1","port":%d,"weight":5}`, pool[1].Port()))
	time.Sleep(300 * time.Millisecond)
	checkLoad(t, "router A while B was killed", stop(), 100)

	b2 := etcdRouterIn(t, bData, c, "/wr")
	eventually(t, 10*time.Second, "the restarted router to converge", func() bool { return b2.content() == a.content() })
	if code, body, _ := b2.get("web.test", "/"); code != 200 || !strings.HasPrefix(body, "web ") {
		t.Errorf("restarted router: %d %q", code, body)
	}
	if st := b2.status(); st.State != "ok" || st.Registry != "etcd" {
		t.Errorf("restarted router status %+v", st)
	}
}
