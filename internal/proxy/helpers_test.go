package proxy

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/compile"
	"github.com/webrouter/webrouter/internal/h1"
	"github.com/webrouter/webrouter/internal/live"
	"github.com/webrouter/webrouter/internal/upstream"
)

// rig is a proxy in front of real loopback backends, fed by a real
// catalog → compile → live pipeline.
type rig struct {
	t     testing.TB
	state *catalog.State
	live  *live.Live
	hosts *upstream.Set
	proxy *Proxy
	front *front
	rev   uint64
	clock atomic.Pointer[time.Time] // when set, the proxy's clock
}

func newRig(t testing.TB, topts TransportOptions, opts ...upstream.Option) *rig {
	t.Helper()
	r := &rig{t: t, state: catalog.NewState(), live: live.New(nil), hosts: upstream.NewSet(opts...)}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go r.live.Run(ctx, r.state.Subscribe(), compile.New(r.hosts))
	if topts.ConnectTimeout == 0 {
		topts.ConnectTimeout = 2 * time.Second
	}
	tr := NewTransport(topts)
	t.Cleanup(tr.CloseIdleConnections)
	t.Cleanup(func() { r.proxy.CloseIdleConnections() })
	r.proxy = New(Options{Table: r.live.Table, Transport: tr, Backend: topts, Now: func() time.Time {
		if c := r.clock.Load(); c != nil {
			return *c
		}
		return time.Now()
	}})
	r.front = startFront(t, r.proxy)
	return r
}

// front is the proxy served as on the router's entry point, by h1.
type front struct {
	URL    string
	client *http.Client
}

func (f *front) Client() *http.Client { return f.client }

func startFront(t testing.TB, h http.Handler) *front {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &h1.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	go srv.Serve(ln)
	f := &front{URL: "http://" + ln.Addr().String(), client: &http.Client{Transport: &http.Transport{}}}
	t.Cleanup(func() {
		ln.Close()
		f.client.CloseIdleConnections()
	})
	return f
}

func (r *rig) settle() {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.live.WaitRev(ctx, r.rev); err != nil {
		r.t.Fatalf("table did not reach revision %d: %v", r.rev, err)
	}
}

func (r *rig) service(name string, spec catalog.ServiceSpec) {
	r.t.Helper()
	svc, err := catalog.NewService(name, spec)
	if err != nil {
		r.t.Fatal(err)
	}
	r.rev++
	r.state.PutService(r.rev, svc)
	r.settle()
}

// instance registers addr ("host:port") under service.
func (r *rig) instance(service, id, addr string, weight int) {
	r.t.Helper()
	host, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	in, err := catalog.NewInstance(id, catalog.InstanceSpec{Address: host, Port: port, Weight: &weight})
	if err != nil {
		r.t.Fatal(err)
	}
	r.rev++
	if _, err := r.state.PutInstance(r.rev, service, in); err != nil {
		r.t.Fatal(err)
	}
	r.settle()
}

// setState changes an instance's administrative state.
func (r *rig) setState(service, id string, st catalog.InstanceState) {
	r.t.Helper()
	e, _ := r.state.Get(service)
	in, ok := e.Instance(id)
	if !ok {
		r.t.Fatalf("no instance %s/%s", service, id)
	}
	in.State = st
	r.rev++
	r.state.PutInstance(r.rev, service, in)
	r.settle()
}

// remove deletes an instance.
func (r *rig) remove(service, id string) {
	r.t.Helper()
	r.rev++
	r.state.DeleteInstance(r.rev, service, id)
	r.settle()
}

// get sends a request with the given Host through the proxy.
func (r *rig) do(method, host, target string, hdr http.Header) *http.Response {
	r.t.Helper()
	req, err := http.NewRequest(method, r.front.URL+target, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	req.Host = host
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := r.front.Client().Do(req)
	if err != nil {
		r.t.Fatalf("%s %s%s: %v", method, host, target, err)
	}
	return resp
}

func backend(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func hostOf(s *httptest.Server) string { return s.Listener.Addr().String() }
