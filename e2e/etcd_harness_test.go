package e2e

// Helpers for the multi-router scenarios: real etcd clusters
// (internal/etcdtest) and several webrouter processes sharing them.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/webrouter/webrouter/internal/api"
	"github.com/webrouter/webrouter/internal/etcdtest"
	"github.com/webrouter/webrouter/internal/loadgen"
)

// etcdRouter starts a router on the etcd cluster c under prefix, talking
// to the given members (all when none), with its own data directory for
// the snapshot.
func etcdRouter(t *testing.T, c *etcdtest.Cluster, prefix string, members ...int) *router {
	t.Helper()
	return etcdRouterIn(t, t.TempDir(), c, prefix, members...)
}

// etcdRouterIn is etcdRouter with a given data directory (to restart a
// router on its snapshot).
func etcdRouterIn(t *testing.T, data string, c *etcdtest.Cluster, prefix string, members ...int) *router {
	t.Helper()
	return startRouter(t, data, "--registry", c.URL(prefix, members...), "--access-log", "off")
}

// etcdClient is what an operator's etcdctl would be.
func etcdClient(t *testing.T, c *etcdtest.Cluster, members ...int) *clientv3.Client {
	t.Helper()
	cli, err := c.Client(members...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// status returns the router's /v1/status.
func (r *router) status() api.Status {
	r.t.Helper()
	var st api.Status
	decode(r.t, r.read("/v1/status"), &st)
	return st
}

// read GETs an admin path; if the router is not there it says whether and
// how the process ended.
func (r *router) read(path string) []byte {
	r.t.Helper()
	code, b, err := r.API(context.Background(), r.apiClient, r.token, "GET", path, "")
	if err != nil {
		select {
		case <-r.Done():
			r.t.Fatalf("GET %s: the router process has ended (%s): %v", path, r.Cmd.ProcessState, err)
		case <-time.After(100 * time.Millisecond):
			r.t.Fatalf("GET %s: %v (the process is still running)", path, err)
		}
	}
	if code != 200 {
		r.t.Fatalf("GET %s: %d %s", path, code, b)
	}
	return b
}

// content renders the router's live table without generation numbers and
// runtime counters, so that two routers can be compared: the revision and
// every route with its instances.
func (r *router) content() string {
	r.t.Helper()
	var rt api.Routes
	decode(r.t, r.read("/v1/routes"), &rt)
	var b strings.Builder
	fmt.Fprintf(&b, "revision %d\n", rt.Revision)
	for _, route := range rt.Routes {
		fmt.Fprintf(&b, "%s%s -> %s %s\n", route.Host, route.Path, route.Service, route.Balance)
		for _, in := range route.Instances {
			fmt.Fprintf(&b, "  %s %s:%d w%d %s\n", in.ID, in.Address, in.Port, in.Weight, in.State)
		}
	}
	return b.String()
}

// hits sends a request for host through the router on a kept-alive
// connection of c and returns the status and body ("" on a transport
// error).
func (r *router) hit(c *http.Client, host string) (int, string) {
	req, _ := http.NewRequest("GET", "http://"+r.http+"/", nil)
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metric returns the value of an unlabelled metric line, or "" if absent.
func (r *router) metric(name string) string {
	r.t.Helper()
	for _, line := range strings.Split(string(r.read("/metrics")), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return ""
}

// logCount counts the router's JSON log lines with message msg.
func (r *router) logCount(msg string) int { return len(r.stderr.Lines(msg)) }

// backendPool starts n loadgen backends (1 KiB answers) for a load.
func backendPool(t *testing.T, n int) []*loadgen.Backend {
	t.Helper()
	var out []*loadgen.Backend
	for i := 0; i < n; i++ {
		b, err := loadgen.StartBackend(1024)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Stop)
		out = append(out, b)
	}
	return out
}

// loadOn starts keep-alive clients that never retry against host through
// each router; stop ends them and returns the combined result.
func loadOn(host string, clients int, routers ...*router) (stop func() loadgen.Result) {
	ctx, cancel := context.WithCancel(context.Background())
	var loads []*loadgen.Load
	for _, r := range routers {
		loads = append(loads, loadgen.Start(ctx, loadgen.Options{URL: "http://" + r.http + "/", Host: host,
			Clients: clients, BodySize: 1024, Payload: 64}))
	}
	return func() loadgen.Result {
		cancel()
		var sum loadgen.Result
		sum.Reasons = map[string]int{}
		for _, l := range loads {
			res := l.Wait()
			sum.Total += res.Total
			sum.Failed += res.Failed
			for k, v := range res.Reasons {
				sum.Reasons[k] += v
			}
		}
		return sum
	}
}

// checkLoad fails the test if any request of res failed or too few ran.
func checkLoad(t *testing.T, what string, res loadgen.Result, atLeast int64) {
	t.Helper()
	t.Logf("%s: %d requests, %d failed", what, res.Total, res.Failed)
	if res.Failed != 0 {
		t.Errorf("%s: %d of %d requests failed: %v", what, res.Failed, res.Total, res.Reasons)
	}
	if res.Total < atLeast {
		t.Errorf("%s: only %d requests; the load did not run", what, res.Total)
	}
}

// serveOn registers service name on mountpoint with the backends as
// instances b0, b1, … through r.
func serveOn(t *testing.T, r *router, name, mountpoint string, backends []*loadgen.Backend) {
	t.Helper()
	r.mustAPI("PUT", "/v1/services/"+name, fmt.Sprintf(`{"mountpoints":[%q]}`, mountpoint))
	for i, b := range backends {
		r.mustAPI("PUT", fmt.Sprintf("/v1/services/%s/instances/b%d", name, i), fmt.Sprintf(`{"address":"127.0.0.1","port":%d}`, b.Port()))
	}
}

// percentiles returns p50 and p99 of ds.
func percentiles(ds []time.Duration) (time.Duration, time.Duration) {
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2], s[len(s)*99/100]
}

// jsonInstance is an instance's value as webrouter stores it in etcd.
func jsonInstance(t *testing.T, id string, s *httptest.Server) string {
	t.Helper()
	host, port := addrOf(s)
	b, _ := json.Marshal(map[string]any{"id": id, "address": host, "port": port, "weight": 10, "state": "ready"})
	return string(b)
}
