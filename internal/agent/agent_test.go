package agent

// These tests run the Agent against a fake Docker engine (fakeEngine, in
// memory) and a real embedded registry (through the Store adapter), with
// short leases. The real engine is exercised end to end in e2e/.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/etcdtest"
	"github.com/webrouter/webrouter/internal/registry"
	"github.com/webrouter/webrouter/internal/registry/embedded"
	"github.com/webrouter/webrouter/internal/registry/etcd"
)

// fakeEngine is a Docker engine in memory. Events go to the current
// subscriber; cut ends its stream with an error, and down makes List and
// Events fail.
type fakeEngine struct {
	mu         sync.Mutex
	containers map[string]Container
	sub        chan Event
	subErr     chan error
	subs       int
	down       bool
}

func newFakeEngine(cs ...Container) *fakeEngine {
	e := &fakeEngine{containers: map[string]Container{}}
	for _, c := range cs {
		e.containers[c.ID] = c
	}
	return e
}

func (e *fakeEngine) List(context.Context) ([]Container, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.down {
		return nil, errors.New("engine down")
	}
	var out []Container
	for _, c := range e.containers {
		if c.Running {
			out = append(out, c)
		}
	}
	return out, nil
}

func (e *fakeEngine) Inspect(_ context.Context, id string) (Container, bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.containers {
		if strings.HasPrefix(c.ID, id) {
			return c, true, nil
		}
	}
	return Container{}, false, nil
}

func (e *fakeEngine) Events(ctx context.Context) (<-chan Event, <-chan error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ch, errs := make(chan Event, 16), make(chan error, 1)
	if e.down {
		errs <- errors.New("engine down")
		return ch, errs
	}
	e.sub, e.subErr = ch, errs
	e.subs++
	return ch, errs
}

// set changes a container (or adds it) and sends action for it, if given.
func (e *fakeEngine) set(c Container, action, signal string) {
	e.mu.Lock()
	e.containers[c.ID] = c
	sub := e.sub
	e.mu.Unlock()
	if action != "" && sub != nil {
		sub <- Event{Action: action, ID: c.ID, Signal: signal}
	}
}

// cut ends the current stream and keeps the engine down until up.
func (e *fakeEngine) cut() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.down = true
	if e.subErr != nil {
		e.subErr <- errors.New("connection reset by peer")
		e.sub, e.subErr = nil, nil
	}
}

func (e *fakeEngine) up() {
	e.mu.Lock()
	e.down = false
	e.mu.Unlock()
}

func (e *fakeEngine) subscriptions() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.subs
}

// box returns a running container labelled for service "web" with mountpoint
// web.test, published on 127.0.0.1:port.
func box(n, port int) Container {
	id := fmt.Sprintf("%012d%052d", n, 0)
	return Container{ID: id, Name: fmt.Sprintf("web-%d", n), Running: true, Env: map[string]string{},
		Labels: map[string]string{LabelService: "web", LabelMountpoints: "web.test"},
		Ports:  []Port{{Port: 8080, Proto: "tcp", HostIP: "127.0.0.1", HostPort: port}}}
}

// bed is an agent under test with its engine and registry.
type bed struct {
	t      *testing.T
	engine *fakeEngine
	store  registry.Store
	cancel context.CancelFunc
	done   chan struct{}
}

// start runs an agent with host id "h" and a 1s TTL on engine, writing to
// store (a new embedded registry when nil).
func start(t *testing.T, engine *fakeEngine, store registry.Store) *bed {
	t.Helper()
	if store == nil {
		store = openEmbedded(t)
	}
	cfg := Config{Options: Options{HostID: "h"}, TTL: time.Second, Resync: time.Hour, DrainWait: 100 * time.Millisecond,
		BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	b := &bed{t: t, engine: engine, store: store, cancel: cancel, done: make(chan struct{})}
	go func() {
		New(cfg, engine, Store{S: store}).Run(ctx)
		close(b.done)
	}()
	t.Cleanup(b.stop)
	return b
}

func (b *bed) stop() {
	b.cancel()
	<-b.done
}

// instances renders the registry's instances as "service/id state" lines.
func (b *bed) instances() string {
	var out []string
	for _, e := range b.store.State().List() {
		for _, in := range e.Instances {
			out = append(out, fmt.Sprintf("%s/%s %s %d %s", e.Service.Name, in.ID, in.State, in.Port, in.Owner))
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// await polls until the registry shows want.
func (b *bed) await(what, want string) {
	b.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for b.instances() != want {
		if time.Now().After(deadline) {
			b.t.Fatalf("%s: registry holds\n%s\nwant\n%s", what, b.instances(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAgentFollowsEvents(t *testing.T) {
	one, two := box(1, 32001), box(2, 32002)
	two.Health = HealthStarting
	b := start(t, newFakeEngine(one, two), nil)
	b.await("at start only the ready container", "web/h:000000000001 ready 32001 h")
	e, _ := b.store.State().Get("web")
	if !slices.Equal(e.Service.Mountpoints, []string{"web.test"}) {
		t.Errorf("service from labels: %+v", e.Service)
	}
	if in, _ := e.Instance("h:000000000001"); in.TTL != catalog.Duration(time.Second) {
		t.Errorf("instance without the agent's lease: %+v", in)
	}

	two.Health = HealthHealthy
	b.engine.set(two, "health_status: healthy", "")
	b.await("healthy", "web/h:000000000001 ready 32001 h\nweb/h:000000000002 ready 32002 h")
	two.Health = HealthUnhealthy
	b.engine.set(two, "health_status: unhealthy", "")
	b.await("unhealthy", "web/h:000000000001 ready 32001 h\nweb/h:000000000002 draining 32002 h")
	two.Health = HealthHealthy
	b.engine.set(two, "health_status: healthy", "")
	b.await("healthy again", "web/h:000000000001 ready 32001 h\nweb/h:000000000002 ready 32002 h")

	b.engine.set(one, "kill", "15") // docker stop: SIGTERM first, the container still runs
	b.await("stop signal drains", "web/h:000000000001 draining 32001 h\nweb/h:000000000002 ready 32002 h")
	b.engine.set(two, "kill", "1") // SIGHUP is no reason to drain anything
	one.Running = false
	b.engine.set(one, "die", "")
	b.await("die removes", "web/h:000000000002 ready 32002 h")

	one.Running = true // docker start again: the same id comes back
	b.engine.set(one, "start", "")
	b.await("start registers", "web/h:000000000001 ready 32001 h\nweb/h:000000000002 ready 32002 h")

	time.Sleep(2500 * time.Millisecond) // more than two TTLs: heartbeats keep the leases
	b.await("leases renewed", "web/h:000000000001 ready 32001 h\nweb/h:000000000002 ready 32002 h")
	if _, err := b.store.DeleteInstance(context.Background(), "web", "h:000000000002"); err != nil {
		t.Fatal(err) // as if the lease had expired
	}
	b.await("a lost instance is registered again", "web/h:000000000001 ready 32001 h\nweb/h:000000000002 ready 32002 h")
}

func TestAgentReconnectsAndCatchesUp(t *testing.T) {
	one, two := box(1, 32001), box(2, 32002)
	b := start(t, newFakeEngine(one), nil)
	b.await("start", "web/h:000000000001 ready 32001 h")
	b.engine.cut()
	one.Running = false
	b.engine.set(one, "", "") // stopped while the stream is down: no event reaches the agent
	b.engine.set(two, "", "")
	time.Sleep(100 * time.Millisecond) // a few failed reconnections
	b.engine.up()
	b.await("re-listed after reconnecting", "web/h:000000000002 ready 32002 h")
	if n := b.engine.subscriptions(); n != 2 {
		t.Errorf("%d subscriptions, want 2", n)
	}
}

func openEmbedded(t *testing.T) *embedded.Store {
	t.Helper()
	store, err := embedded.Open(t.TempDir(), embedded.Options{LeaseCheck: 20 * time.Millisecond, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

func TestAgentRestartReconciles(t *testing.T) {
	store := openEmbedded(t)
	ctx := context.Background()
	svc, _ := catalog.NewService("web", catalog.ServiceSpec{Mountpoints: []string{"web.test"}})
	store.PutService(ctx, svc)
	for _, in := range []catalog.InstanceSpec{
		{Address: "127.0.0.1", Port: 32001, Owner: "h", TTL: "1m"},                  // still runs: kept, not duplicated
		{Address: "127.0.0.1", Port: 32009, Owner: "h", TTL: "1m"},                  // gone: removed
		{Address: "127.0.0.1", Port: 40000, Owner: "another-host", TTL: "1m"},       // not ours: untouched
		{Address: "127.0.0.1", Port: 32003, Owner: "h", State: catalog.Maintenance}, // an operator's maintenance: kept
	} {
		id := map[int]string{32001: "h:000000000001", 32009: "h:000000000009", 40000: "another-host:x", 32003: "h:000000000003"}[in.Port]
		i, err := catalog.NewInstance(id, in)
		if err != nil {
			t.Fatal(err)
		}
		store.PutInstance(ctx, "web", i)
	}
	b := start(t, newFakeEngine(box(1, 32001), box(3, 32003)), store)
	b.await("reconciled", "web/another-host:x ready 40000 another-host\nweb/h:000000000001 ready 32001 h\nweb/h:000000000003 maintenance 32003 h")
}

// The etcd case (--registry etcd://…): the agent writes through the etcd
// Store, its leases are etcd leases, and they expire once it stops.
func TestAgentOnEtcd(t *testing.T) {
	c := etcdtest.StartT(t, 1)
	store, err := etcd.Open(etcd.Options{Endpoints: c.Endpoints(), Prefix: "/agent-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	b := start(t, newFakeEngine(box(1, 32001)), store)
	b.await("registered in etcd", "web/h:000000000001 ready 32001 h")
	time.Sleep(2500 * time.Millisecond) // more than two TTLs: heartbeats keep the lease
	b.await("lease renewed", "web/h:000000000001 ready 32001 h")
	b.stop()
	b.await("expired after the agent stopped", "")
}
