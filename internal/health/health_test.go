package health

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/upstream"
)

// transitions records OnTransition calls.
type transitions struct {
	mu  sync.Mutex
	got []string
}

func (tr *transitions) record(addr string, up bool) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.got = append(tr.got, fmt.Sprintf("%v", up))
}

func (tr *transitions) list() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.got...)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// flaky is a backend whose health endpoint answers with the status it is
// told, counting probes.
type flaky struct {
	status atomic.Int32
	probes atomic.Int32
	host   atomic.Value
	srv    *httptest.Server
}

func newFlaky(t *testing.T, status int) *flaky {
	f := &flaky{}
	f.status.Store(int32(status))
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.probes.Add(1)
		f.host.Store(r.Host)
		w.WriteHeader(int(f.status.Load()))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func fastCheck(path string) *upstream.Check {
	return &upstream.Check{Path: path, Status: "200-399", Interval: 20 * time.Millisecond, Timeout: 500 * time.Millisecond, Rise: 2, Fall: 3}
}

func TestRiseAndFall(t *testing.T) {
	tr := &transitions{}
	m := New(Options{OnTransition: tr.record})
	defer m.Close()
	set := upstream.NewSet(upstream.WithCheckWatcher(m))
	f := newFlaky(t, 200)
	check := fastCheck("/ping")
	check.Host = "demo.test"
	m.Start()
	h := set.Acquire(f.srv.Listener.Addr().String(), check)

	if h.Up(time.Now()) || h.Health(time.Now()) != "pending" {
		t.Fatalf("a new address is %q before any probe, want pending and not up", h.Health(time.Now()))
	}
	waitFor(t, "rise", func() bool { return h.Up(time.Now()) })
	if n := f.probes.Load(); n < 2 {
		t.Errorf("up after %d probes, want rise=2", n)
	}
	if f.host.Load() != "demo.test" {
		t.Errorf("probe Host = %v, want the service's host", f.host.Load())
	}
	f.status.Store(500)
	waitFor(t, "fall", func() bool { return !h.Up(time.Now()) })
	if h.Health(time.Now()) != "down (active)" {
		t.Errorf("health = %q", h.Health(time.Now()))
	}
	f.status.Store(302) // 3xx counts as healthy by default
	waitFor(t, "rise again", func() bool { return h.Up(time.Now()) })
	// The checker reports a transition just after it sets the verdict.
	waitFor(t, "the third transition's report", func() bool { return len(tr.list()) >= 3 })
	if got := tr.list(); fmt.Sprint(got) != "[true false true]" {
		t.Errorf("transitions = %v, want one per change: [true false true]", got)
	}
}

func TestStartupAddressesStartUp(t *testing.T) {
	m := New(Options{})
	defer m.Close()
	set := upstream.NewSet(upstream.WithCheckWatcher(m))
	f := newFlaky(t, 503)
	h := set.Acquire(f.srv.Listener.Addr().String(), fastCheck("/"))
	if !h.Up(time.Now()) {
		t.Fatal("an address loaded at start-up is not up before its first probe")
	}
	waitFor(t, "fall", func() bool { return !h.Up(time.Now()) })
	if n := f.probes.Load(); n < 3 {
		t.Errorf("down after %d probes, want fall=3", n)
	}
}

func TestTCPCheckAndRemoval(t *testing.T) {
	m := New(Options{})
	defer m.Close()
	m.Start()
	set := upstream.NewSet(upstream.WithCheckWatcher(m))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	addr := ln.Addr().String()
	check := &upstream.Check{Interval: 20 * time.Millisecond, Timeout: 200 * time.Millisecond, Rise: 1, Fall: 1}
	h := set.Acquire(addr, check)
	waitFor(t, "tcp rise", func() bool { return h.Up(time.Now()) })
	ln.Close()
	waitFor(t, "tcp fall", func() bool { return !h.Up(time.Now()) })

	// The service stops asking for a probe: no verdict, so the address is up,
	// and its checker is gone.
	set.Acquire(addr, nil)
	set.Release(addr, check)
	if !h.Up(time.Now()) || m.Running() != 0 {
		t.Errorf("after the check was removed: up=%v, checkers=%d", h.Up(time.Now()), m.Running())
	}
}

func TestOneCheckerPerAddress(t *testing.T) {
	m := New(Options{})
	defer m.Close()
	set := upstream.NewSet(upstream.WithCheckWatcher(m))
	f := newFlaky(t, 200)
	addr := f.srv.Listener.Addr().String()
	a, b := fastCheck("/a"), fastCheck("/b")
	set.Acquire(addr, b)
	set.Acquire(addr, a)
	set.Acquire(addr, a)
	if m.Running() != 1 {
		t.Fatalf("%d checkers for one address", m.Running())
	}
	set.Release(addr, a)
	set.Release(addr, a)
	set.Release(addr, b)
	waitFor(t, "checker to stop", func() bool { return m.Running() == 0 })
}

func TestNoLeakWhenInstancesChurn(t *testing.T) {
	m := New(Options{Jitter: func(d time.Duration) time.Duration { return d }})
	set := upstream.NewSet(upstream.WithCheckWatcher(m))
	before := runtime.NumGoroutine()
	check := &upstream.Check{Path: "/", Status: "200", Interval: time.Hour, Timeout: time.Second, Rise: 1, Fall: 1}
	for round := 0; round < 2; round++ {
		addrs := make([]string, 10000)
		for i := range addrs {
			addrs[i] = fmt.Sprintf("10.%d.%d.%d:80", round, i/256, i%256)
			set.Acquire(addrs[i], check)
		}
		if m.Running() != 10000 {
			t.Fatalf("round %d: %d checkers for 10000 addresses", round, m.Running())
		}
		for _, a := range addrs {
			set.Release(a, check)
		}
	}
	waitFor(t, "every checker to stop", func() bool { return m.Running() == 0 })
	waitFor(t, "goroutines to return to the baseline", func() bool { return runtime.NumGoroutine() <= before+2 })
	m.Close()
}
