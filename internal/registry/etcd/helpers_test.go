package etcd

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/etcdtest"
)

// shared is a 3-member cluster for the tests that do not stop members;
// each uses its own prefix.
var (
	sharedOnce sync.Once
	shared     *etcdtest.Cluster
	sharedErr  error
	sharedDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.Close()
	}
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
	os.Exit(code)
}

// sharedCluster returns the shared cluster, starting it on first use.
func sharedCluster(t *testing.T) *etcdtest.Cluster {
	t.Helper()
	etcdtest.Require(t)
	sharedOnce.Do(func() {
		sharedDir, sharedErr = os.MkdirTemp("", "webrouter-etcd-")
		if sharedErr == nil {
			shared, sharedErr = etcdtest.Start(sharedDir, 3)
		}
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

// prefix returns a key prefix unique to the test.
func prefix(t *testing.T) string {
	if p, ok := prefixes.Load(t); ok {
		return p.(string)
	}
	p := fmt.Sprintf("/test/%s-%d", strings.NewReplacer("/", "-", " ", "-").Replace(strings.ToLower(t.Name())), prefixRuns.Add(1))
	prefixes.Store(t, p)
	t.Cleanup(func() { prefixes.Delete(t) })
	return p
}

// prefixes holds each running test's prefix: the same for every call in
// one test, new for each run of it (go test -count), since the shared
// cluster keeps what an earlier run wrote.
var (
	prefixes   sync.Map // *testing.T → string
	prefixRuns atomic.Int64
)

// syncBuffer is a log destination for a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// count returns how many log lines contain s.
func (b *syncBuffer) count(s string) int { return strings.Count(b.String(), s) }

// testStore is a Store under a test with its log.
type testStore struct {
	*Store
	log *syncBuffer
}

// open opens a store on the endpoints with fast probes and closes it when
// the test ends; change adjusts the options.
func open(t *testing.T, endpoints []string, pfx string, change func(*Options)) *testStore {
	t.Helper()
	buf := &syncBuffer{}
	o := Options{
		Endpoints: endpoints, Prefix: pfx, Logger: slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
		ProbeInterval: 100 * time.Millisecond, ProbeTimeout: 500 * time.Millisecond, DegradeAfter: time.Second,
		StartTimeout: 2 * time.Second, SnapshotDelay: 50 * time.Millisecond,
	}
	if change != nil {
		change(&o)
	}
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testStore{Store: s, log: buf}
	t.Cleanup(func() {
		s.Close()
		if t.Failed() {
			t.Logf("store log (%s):\n%s", strings.Join(endpoints, ","), buf.String())
		}
	})
	return ts
}

func client(t *testing.T, c *etcdtest.Cluster, members ...int) *clientv3.Client {
	t.Helper()
	cli, err := c.Client(members...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func svc(t testing.TB, name string, mountpoints ...string) catalog.Service {
	t.Helper()
	s, err := catalog.NewService(name, catalog.ServiceSpec{Mountpoints: mountpoints})
	if err != nil {
		t.Fatalf("NewService(%q): %v", name, err)
	}
	return s
}

func inst(t testing.TB, id string, port int, ttl string) catalog.Instance {
	t.Helper()
	in, err := catalog.NewInstance(id, catalog.InstanceSpec{Address: "127.0.0.1", Port: port, TTL: ttl})
	if err != nil {
		t.Fatalf("NewInstance(%q): %v", id, err)
	}
	return in
}

// dump renders a state without its revision, for comparing routers.
func dump(st *catalog.State) string {
	var b strings.Builder
	for _, e := range st.List() {
		fmt.Fprintf(&b, "%+v\n", e.Service)
		for _, in := range e.Instances {
			fmt.Fprintf(&b, "  %+v\n", in)
		}
	}
	return b.String()
}

// eventually polls cond until it holds or within passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func hasInstance(st *catalog.State, service, id string) bool {
	e, ok := st.Get(service)
	if !ok {
		return false
	}
	_, ok = e.Instance(id)
	return ok
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}
