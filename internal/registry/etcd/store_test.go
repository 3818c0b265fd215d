package etcd

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/certtest"
	"github.com/webrouter/webrouter/internal/etcdtest"
	"github.com/webrouter/webrouter/internal/registry"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		in        string
		endpoints string
		prefix    string
		wantErr   string
	}{
		{in: "etcd://h1:2379,h2:2379,h3:2379/webrouter", endpoints: "h1:2379,h2:2379,h3:2379", prefix: "/webrouter"},
		{in: "etcd://10.0.0.1:2379", endpoints: "10.0.0.1:2379", prefix: DefaultPrefix},
		{in: "etcd://[::1]:2379/a/b/", endpoints: "[::1]:2379", prefix: "/a/b"},
		{in: "etcd://h1:2379/", endpoints: "h1:2379", prefix: DefaultPrefix},
		{in: "http://h1:2379", wantErr: "not an etcd:// URL"},
		{in: "etcd:///x", wantErr: "no etcd endpoint"},
		{in: "etcd://h1/x", wantErr: `"h1" is not host:port`},
		{in: "etcd://h1:1,/x", wantErr: `"" is not host:port`},
		{in: "etcd://h1:1/a b", wantErr: "may hold only"},
		{in: "etcd://h1:1/a//b", wantErr: "empty segment"},
	}
	for _, tt := range tests {
		eps, pfx, err := ParseURL(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseURL(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || strings.Join(eps, ",") != tt.endpoints || pfx != tt.prefix {
			t.Errorf("ParseURL(%q) = %v, %q, %v; want %s, %q", tt.in, eps, pfx, err, tt.endpoints, tt.prefix)
		}
	}
}

func TestKeysParse(t *testing.T) {
	k := keys{prefix: "/wr"}
	tests := []struct {
		key      string
		kind     keyKind
		svc, id  string
		roundTip string
	}{
		{key: "/wr/services/demo", kind: kindService, svc: "demo"},
		{key: "/wr/instances/demo/web-1:80", kind: kindInstance, svc: "demo", id: "web-1:80"},
		{key: k.mountpoint("a.com/x"), kind: kindMountpoint},
		{key: "/wr/health", kind: kindHealth},
		{key: "/wr/services/a/b", kind: kindUnknown},
		{key: "/wr/instances/demo", kind: kindUnknown},
		{key: "/wr/instances/demo/a/b", kind: kindUnknown},
		{key: "/wr/other", kind: kindUnknown},
		{key: "/wr2/services/demo", kind: kindUnknown},
	}
	for _, tt := range tests {
		kind, svc, id := k.parse(tt.key)
		if kind != tt.kind || svc != tt.svc || id != tt.id {
			t.Errorf("parse(%q) = %v %q %q, want %v %q %q", tt.key, kind, svc, id, tt.kind, tt.svc, tt.id)
		}
	}
	if got := k.mountpoint("lain.demo.com/hello"); got != "/wr/mountpoints/lain.demo.com%2Fhello" {
		t.Errorf("mountpoint key = %q", got)
	}
}

func TestRoundTrip(t *testing.T) {
	c := sharedCluster(t)
	st := open(t, c.Endpoints(), prefix(t), nil)
	if st.Kind() != "etcd" || st.Status().State != "ok" {
		t.Fatalf("Kind %q, Status %+v", st.Kind(), st.Status())
	}
	cx := ctx(t)
	created, rev1, err := st.PutService(cx, svc(t, "demo", "demo.test", "a.test/x"))
	if err != nil || !created {
		t.Fatalf("PutService = %v, %v", created, err)
	}
	if e, ok := st.State().Get("demo"); !ok || st.State().Rev() < rev1 || len(e.Service.Mountpoints) != 2 {
		t.Fatalf("after PutService the State has %+v (rev %d, write rev %d)", e, st.State().Rev(), rev1)
	}
	created, _, err = st.PutInstance(cx, "demo", inst(t, "b", 8002, ""))
	if err != nil || !created {
		t.Fatalf("PutInstance = %v, %v", created, err)
	}
	created, _, err = st.PutInstance(cx, "demo", inst(t, "a", 8001, ""))
	if err != nil || !created {
		t.Fatalf("PutInstance = %v, %v", created, err)
	}
	if created, _, err = st.PutInstance(cx, "demo", inst(t, "a", 9001, "")); err != nil || created {
		t.Fatalf("replace instance = %v, %v", created, err)
	}
	// Replacing the service keeps its instances.
	if created, _, err = st.PutService(cx, svc(t, "demo", "demo.test")); err != nil || created {
		t.Fatalf("replace service = %v, %v", created, err)
	}
	in, _, err := st.SetInstanceState(cx, "demo", "a", catalog.Draining)
	if err != nil || in.State != catalog.Draining || in.Port != 9001 {
		t.Fatalf("SetInstanceState = %+v, %v", in, err)
	}
	e, _ := st.State().Get("demo")
	if len(e.Instances) != 2 || e.Instances[0].ID != "a" || e.Instances[0].State != catalog.Draining || e.Instances[1].ID != "b" {
		t.Fatalf("entry = %+v", e)
	}
	for what, err := range map[string]error{
		"instance of a missing service": func() error { _, _, err := st.PutInstance(cx, "nope", inst(t, "a", 1, "")); return err }(),
		"delete a missing instance":     func() error { _, err := st.DeleteInstance(cx, "demo", "zz"); return err }(),
		"delete a missing service":      func() error { _, err := st.DeleteService(cx, "nope"); return err }(),
		"state of a missing instance":   func() error { _, _, err := st.SetInstanceState(cx, "demo", "zz", catalog.Ready); return err }(),
		"heartbeat a missing instance":  st.Heartbeat(cx, "demo", "zz"),
	} {
		if !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", what, err)
		}
	}
	if err := st.Heartbeat(cx, "demo", "a"); err != nil {
		t.Errorf("heartbeat of an instance without a lease: %v", err)
	}
	if _, err := st.DeleteInstance(cx, "demo", "b"); err != nil || hasInstance(st.State(), "demo", "b") {
		t.Fatalf("DeleteInstance: %v", err)
	}
	if _, err := st.DeleteService(cx, "demo"); err != nil {
		t.Fatal(err)
	}
	if st.State().Len() != 0 {
		t.Errorf("after delete: %s", dump(st.State()))
	}
	// The delete took the instances and the claims with it.
	resp, err := client(t, c).Get(cx, st.keys.all(), clientv3.WithPrefix())
	if err != nil || len(resp.Kvs) != 0 {
		t.Errorf("keys left after delete: %v %v", resp.Kvs, err)
	}
}

func TestWriteOnOneStoreSeenByAnother(t *testing.T) {
	c := sharedCluster(t)
	a := open(t, c.Endpoints(0), prefix(t), nil)
	b := open(t, c.Endpoints(1, 2), prefix(t), nil)
	cx := ctx(t)
	if _, _, err := a.PutService(cx, svc(t, "demo", "demo.test")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.PutInstance(cx, "demo", inst(t, "i", 80, "")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "both stores to hold the instance", func() bool {
		return hasInstance(a.State(), "demo", "i") && a.State().Rev() == b.State().Rev()
	})
	if dump(a.State()) != dump(b.State()) {
		t.Errorf("stores differ:\n%s\n%s", dump(a.State()), dump(b.State()))
	}
}

// TestMountpointRace: two stores (two routers) claim one mountpoint for two
// services at the same moment, many times; exactly one wins each round.
func TestMountpointRace(t *testing.T) {
	c := sharedCluster(t)
	a := open(t, c.Endpoints(0), prefix(t), nil)
	b := open(t, c.Endpoints(1), prefix(t), nil)
	cx := ctx(t)
	wins := map[string]int{}
	for round := 0; round < 30; round++ {
		m := fmt.Sprintf("r%d.test/p", round)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, st := range []*testStore{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, errs[i] = st.PutService(cx, svc(t, fmt.Sprintf("s%d-%d", round, i), fmt.Sprintf("other.test/%d-%d", round, i), m))
			}()
		}
		wg.Wait()
		var ce *catalog.ConflictError
		switch {
		case errs[0] == nil && errors.As(errs[1], &ce):
			wins["a"]++
		case errs[1] == nil && errors.As(errs[0], &ce):
			wins["b"]++
		default:
			t.Fatalf("round %d: errors %v, %v; want exactly one conflict", round, errs[0], errs[1])
		}
		if ce.Mountpoint != m {
			t.Errorf("round %d: conflict on %q, want %q", round, ce.Mountpoint, m)
		}
	}
	t.Logf("race winners: %v", wins)
	// A released mountpoint can be claimed by another service, and a
	// deleted service's claims go with it.
	if _, _, err := a.PutService(cx, svc(t, "x", "free.test")); err != nil {
		t.Fatal(err)
	}
	var ce *catalog.ConflictError
	if _, _, err := b.PutService(cx, svc(t, "y", "free.test")); !errors.As(err, &ce) || ce.Owner != "x" {
		t.Fatalf("claiming a held mountpoint: %v", err)
	}
	if _, _, err := a.PutService(cx, svc(t, "x", "moved.test")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.PutService(cx, svc(t, "y", "free.test")); err != nil {
		t.Fatalf("claiming a released mountpoint: %v", err)
	}
	if _, err := b.DeleteService(cx, "y"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.PutService(cx, svc(t, "x", "moved.test", "free.test")); err != nil {
		t.Fatalf("claiming a deleted service's mountpoint: %v", err)
	}
}

// TestStaleAndForeignClaims: a claim key naming a service that does not
// list the mountpoint is stale and may be taken; a service written by
// another tool without claim keys still conflicts.
func TestStaleAndForeignClaims(t *testing.T) {
	c := sharedCluster(t)
	st := open(t, c.Endpoints(), prefix(t), nil)
	cli := client(t, c)
	cx := ctx(t)
	if _, err := cli.Put(cx, st.keys.mountpoint("stale.test"), "ghost"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.PutService(cx, svc(t, "a", "stale.test")); err != nil {
		t.Errorf("a stale claim blocked the write: %v", err)
	}
	if _, err := cli.Put(cx, st.keys.service("foreign"), `{"name":"foreign","mountpoints":["foreign.test"],"balance":"round_robin","max_fails":3,"fail_timeout":"10s"}`); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the foreign service in the mirror", func() bool { _, ok := st.State().Get("foreign"); return ok })
	var ce *catalog.ConflictError
	if _, _, err := st.PutService(cx, svc(t, "b", "foreign.test")); !errors.As(err, &ce) || ce.Owner != "foreign" {
		t.Errorf("claiming a mountpoint of a service without claim keys: %v, want a conflict with foreign", err)
	}
}

// TestBadValuesAreSkipped: values written around webrouter (etcdctl) that
// do not parse are reported once and skipped; everything else is mirrored.
func TestBadValuesAreSkipped(t *testing.T) {
	c := sharedCluster(t)
	pfx := prefix(t)
	cli := client(t, c)
	cx := ctx(t)
	k := keys{prefix: pfx}
	put := func(key, val string) {
		t.Helper()
		if _, err := cli.Put(cx, key, val); err != nil {
			t.Fatal(err)
		}
	}
	good := `{"name":"good","mountpoints":["good.test"]}`
	put(k.service("good"), good)
	put(k.service("broken"), `{"name":`)
	put(k.service("liar"), `{"name":"other","mountpoints":["liar.test"]}`)
	put(k.instance("good", "i1"), `{"id":"i1","address":"127.0.0.1","port":80}`)
	put(k.instance("good", "i2"), `{"id":"i2","address":"bad host","port":80}`)
	put(k.instance("orphan", "i1"), `{"id":"i1","address":"127.0.0.1","port":80}`)
	put(pfx+"/stray", "x")
	var mu sync.Mutex
	bad := map[string]int{}
	st := open(t, c.Endpoints(), pfx, func(o *Options) {
		o.OnBadEntry = func(key string, err error) { mu.Lock(); bad[key]++; mu.Unlock() }
	})
	if got := dump(st.State()); !strings.Contains(got, "Name:good") || st.State().Len() != 1 || !hasInstance(st.State(), "good", "i1") {
		t.Fatalf("state = %s", got)
	}
	// The orphan's service appears: its instance follows.
	put(k.service("orphan"), `{"name":"orphan","mountpoints":["orphan.test"]}`)
	eventually(t, 5*time.Second, "the orphan instance to appear", func() bool { return hasInstance(st.State(), "orphan", "i1") })
	// A good value turning bad removes it, as a fresh listing would.
	put(k.service("good"), `not json`)
	eventually(t, 5*time.Second, "the bad service to go", func() bool { _, ok := st.State().Get("good"); return !ok })
	put(k.service("good"), good)
	eventually(t, 5*time.Second, "the service to come back", func() bool { return hasInstance(st.State(), "good", "i1") })
	mu.Lock()
	defer mu.Unlock()
	for _, key := range []string{k.service("broken"), k.service("liar"), k.instance("good", "i2"), k.instance("orphan", "i1"), pfx + "/stray"} {
		if bad[key] != 1 {
			t.Errorf("%s reported %d times, want once (all: %v)", key, bad[key], bad)
		}
	}
	if bad[k.service("good")] != 1 {
		t.Errorf("the bad rewrite of good reported %d times", bad[k.service("good")])
	}
}

// TestLeaseExpiry: an instance with a TTL stays while heartbeats renew it
// and goes when they stop; etcd expires it, not the router.
func TestLeaseExpiry(t *testing.T) {
	c := sharedCluster(t)
	a := open(t, c.Endpoints(0), prefix(t), nil)
	b := open(t, c.Endpoints(2), prefix(t), nil)
	cx := ctx(t)
	if _, _, err := a.PutService(cx, svc(t, "demo", "demo.test")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.PutInstance(cx, "demo", inst(t, "leased", 80, "2s")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.PutInstance(cx, "demo", inst(t, "fixed", 81, "")); err != nil {
		t.Fatal(err)
	}
	// b learns of the writes through a's member and its own watch: wait for
	// it to have them before asking it whether the lease still holds.
	eventually(t, 5*time.Second, "b to see the leased instance", func() bool {
		return hasInstance(b.State(), "demo", "leased") && hasInstance(b.State(), "demo", "fixed")
	})
	// Heartbeats through either store keep it for well over its TTL.
	end := time.Now().Add(3500 * time.Millisecond)
	for i := 0; time.Now().Before(end); i++ {
		st := []*testStore{a, b}[i%2]
		if err := st.Heartbeat(cx, "demo", "leased"); err != nil {
			t.Fatalf("heartbeat: %v", err)
		}
		if !hasInstance(b.State(), "demo", "leased") {
			t.Fatal("the leased instance went while heartbeats renewed it")
		}
		time.Sleep(500 * time.Millisecond)
	}
	stopped := time.Now()
	eventually(t, 6*time.Second, "the lease to expire", func() bool {
		return !hasInstance(a.State(), "demo", "leased") && !hasInstance(b.State(), "demo", "leased")
	})
	t.Logf("expired %s after the last heartbeat (ttl 2s)", time.Since(stopped).Round(10*time.Millisecond))
	if !hasInstance(b.State(), "demo", "fixed") {
		t.Error("the instance without a lease went too")
	}
	if err := a.Heartbeat(cx, "demo", "leased"); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("heartbeat after expiry = %v, want ErrNotFound", err)
	}
	// Re-registering without a TTL drops the lease.
	if _, _, err := a.PutInstance(cx, "demo", inst(t, "leased", 80, "1s")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.PutInstance(cx, "demo", inst(t, "leased", 80, "")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond) // longer than the dropped lease: nothing to poll for
	if !hasInstance(a.State(), "demo", "leased") {
		t.Error("an instance re-registered without a TTL expired with its old lease")
	}
}

// TestDegradedWhenEtcdIsDown: with every member stopped the store keeps
// its state, says degraded, refuses writes at once, and recovers.
func TestDegradedWhenEtcdIsDown(t *testing.T) {
	c := etcdtest.StartT(t, 3)
	var flips atomic.Int32
	st := open(t, c.Endpoints(), prefix(t), func(o *Options) { o.OnDegraded = func(bool) { flips.Add(1) } })
	cx := ctx(t)
	if _, _, err := st.PutService(cx, svc(t, "demo", "demo.test")); err != nil {
		t.Fatal(err)
	}
	before := dump(st.State())
	for _, m := range c.Members {
		m.Stop()
	}
	eventually(t, 5*time.Second, "degraded", func() bool { return st.Status().State == "degraded" })
	if r := st.Status().Reason; !strings.Contains(r, "etcd unreachable") {
		t.Errorf("reason = %q", r)
	}
	t0 := time.Now()
	_, _, err := st.PutService(cx, svc(t, "other", "other.test"))
	if !errors.Is(err, registry.ErrUnavailable) || time.Since(t0) > 100*time.Millisecond {
		t.Errorf("write while degraded: %v after %s; want ErrUnavailable at once", err, time.Since(t0))
	}
	if err := st.Heartbeat(cx, "demo", "x"); !errors.Is(err, registry.ErrUnavailable) {
		t.Errorf("heartbeat while degraded: %v", err)
	}
	if dump(st.State()) != before {
		t.Error("the state changed while etcd was down")
	}
	for _, m := range c.Members {
		if err := m.Restart(); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 20*time.Second, "ok again", func() bool { return st.Status().State == "ok" })
	if _, _, err := st.PutService(cx, svc(t, "other", "other.test")); err != nil {
		t.Errorf("write after recovery: %v", err)
	}
	if n := st.log.count("etcd registry degraded"); n != 1 {
		t.Errorf("degraded logged %d times, want once", n)
	}
	if flips.Load() != 2 {
		t.Errorf("OnDegraded called %d times, want 2 (degraded, ok)", flips.Load())
	}
}

func TestCertificates(t *testing.T) {
	c := sharedCluster(t)
	a := open(t, c.Endpoints(0), prefix(t), nil)
	b := open(t, c.Endpoints(1, 2), prefix(t), nil)
	cx := ctx(t)
	leaf := certtest.MustCA("ca").MustIssue(certtest.Options{Names: []string{"a.test"}})
	crt, err := catalog.NewCertificate("web", catalog.CertificateSpec{Cert: leaf.CertPEM, Key: leaf.KeyPEM}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if created, _, err := a.PutCertificate(cx, crt); err != nil || !created {
		t.Fatalf("put = %v %v", created, err)
	}
	if got, ok := a.State().Certificate("web"); !ok || !got.Equal(crt) {
		t.Fatal("not in the writer's State on return")
	}
	if created, _, err := a.PutCertificate(cx, crt); err != nil || created {
		t.Fatalf("put again = %v %v", created, err)
	}
	eventually(t, 5*time.Second, "the other store to see it", func() bool {
		got, ok := b.State().Certificate("web")
		return ok && got.Equal(crt)
	})
	if _, err := client(t, c).Put(cx, a.keys.certificate("junk"), `{"name":"junk","cert":"x","key":"y"}`); err != nil {
		t.Fatal(err)
	}
	if _, err := b.DeleteCertificate(cx, "web"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.DeleteCertificate(cx, "web"); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("delete missing: %v", err)
	}
	eventually(t, 5*time.Second, "the delete to reach the other store", func() bool {
		return len(a.State().Certificates()) == 0
	})
	if n := a.log.count("junk"); n != 1 {
		t.Errorf("bad certificate reported %d times:\n%s", n, a.log)
	}
	// A fresh store lists what is there (and skips the bad value).
	if _, _, err := a.PutCertificate(cx, crt); err != nil {
		t.Fatal(err)
	}
	d := open(t, c.Endpoints(), prefix(t), nil)
	if list := d.State().Certificates(); len(list) != 1 || !list[0].Equal(crt) {
		t.Errorf("listed %v", list)
	}
}

// TestListingIsPaginated: a store listing in pages of a few keys builds
// the same State as one listing in a single request, and the member it
// talks to served as many range requests as there are pages.
func TestListingIsPaginated(t *testing.T) {
	c := sharedCluster(t)
	pfx := prefix(t)
	a := open(t, c.Endpoints(0), pfx, nil)
	cx := ctx(t)
	const services, perService = 12, 3
	for i := range services {
		name := fmt.Sprintf("s%02d", i)
		if _, _, err := a.PutService(cx, svc(t, name, name+".test")); err != nil {
			t.Fatal(err)
		}
		for j := range perService {
			if _, _, err := a.PutInstance(cx, name, inst(t, fmt.Sprintf("i%d", j), 8000+j, "")); err != nil {
				t.Fatal(err)
			}
		}
	}
	keys, err := client(t, c, 1).Get(cx, pfx, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	const page = 5
	pages := int(keys.Count+page-1) / page
	if pages < 10 {
		t.Fatalf("only %d keys under the prefix: too few pages to tell", keys.Count)
	}

	before := rangeRequests(t, c.Endpoints(1)[0])
	b := open(t, c.Endpoints(1), pfx, func(o *Options) {
		o.ListPage = page
		o.ProbeInterval = time.Hour // no reachability reads among the counted ones
	})
	eventually(t, 5*time.Second, "the paginated listing to hold every instance", func() bool {
		return b.State().Rev() == a.State().Rev()
	})
	if got, want := dump(b.State()), dump(a.State()); got != want {
		t.Errorf("paginated listing:\n%s\nwant (one request):\n%s", got, want)
	}
	if n := len(b.State().List()); n != services {
		t.Errorf("%d services listed, want %d", n, services)
	}
	if got := rangeRequests(t, c.Endpoints(1)[0]) - before; got < pages {
		t.Errorf("member served %d range requests for the listing of %d keys in pages of %d, want at least %d",
			got, keys.Count, page, pages)
	}
}

// rangeRequests reads how many KV Range requests an etcd member has served
// (its gRPC metrics, /metrics on the client address).
func rangeRequests(t *testing.T, endpoint string) int {
	t.Helper()
	resp, err := http.Get("http://" + endpoint + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "grpc_server_handled_total{") && strings.Contains(line, `grpc_method="Range"`) {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				t.Fatalf("metrics line %q: %v", line, err)
			}
			n += int(v)
		}
	}
	if n == 0 {
		t.Fatalf("no grpc_server_handled_total for Range in the metrics of %s", endpoint)
	}
	return n
}
