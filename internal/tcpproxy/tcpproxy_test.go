package tcpproxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/compile"
	"github.com/webrouter/webrouter/internal/route"
	"github.com/webrouter/webrouter/internal/testbed"
	"github.com/webrouter/webrouter/internal/upstream"
)

// rig compiles tables from a catalog.State by hand.
type rig struct {
	t     *testing.T
	st    *catalog.State
	feed  *catalog.Feed
	c     *compile.Compiler
	table atomic.Pointer[route.Table]
	rev   uint64
	hosts *upstream.Set
}

func newRig(t *testing.T) *rig {
	r := &rig{t: t, st: catalog.NewState(), hosts: upstream.NewSet(upstream.WithDrainTimeout(200 * time.Millisecond))}
	r.feed = r.st.Subscribe()
	r.c = compile.New(r.hosts)
	r.apply()
	return r
}

func (r *rig) apply() *route.Table {
	t := r.c.Apply(r.feed.Take())
	r.table.Store(t)
	return t
}

func (r *rig) service(name string, spec catalog.ServiceSpec) {
	r.t.Helper()
	s, err := catalog.NewService(name, spec)
	if err != nil {
		r.t.Fatal(err)
	}
	r.rev++
	r.st.PutService(r.rev, s)
	r.apply()
}

func (r *rig) instance(service, id, addr string) {
	r.t.Helper()
	host, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	in, err := catalog.NewInstance(id, catalog.InstanceSpec{Address: host, Port: port})
	if err != nil {
		r.t.Fatal(err)
	}
	r.rev++
	r.st.PutInstance(r.rev, service, in)
	r.apply()
}

// echo starts a backend that answers "<name>:" + everything it read once
// the client half-closes, then closes.
func echo(t *testing.T, name string) string {
	return testbed.ServeTCP(t, func(c net.Conn) {
		b, _ := io.ReadAll(c)
		fmt.Fprintf(c, "%s:%s", name, b)
	})
}

func deadAddr(t *testing.T) string {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	a := ln.Addr().String()
	ln.Close()
	return a
}

// freePort returns a port that was free a moment ago.
func freePort(t *testing.T) int {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

type loopback struct{}

func (loopback) Listen(p int) (net.Listener, error) {
	return net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
}
func (loopback) Release(ln net.Listener) { ln.Close() }

// exchange sends msg, half-closes and returns the whole answer.
func exchange(addr, msg string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		return "", err
	}
	c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	return string(b), err
}

func TestManagerForwardsAndFollowsTheTable(t *testing.T) {
	r := newRig(t)
	f := NewForwarder(Options{ConnectTimeout: time.Second})
	var changes []string
	var mu sync.Mutex
	m := NewManager(ManagerOptions{Table: r.table.Load, Listener: loopback{}, Forwarder: f, Retry: 50 * time.Millisecond,
		OnChange: func(p int, svc string, err error) {
			mu.Lock()
			defer mu.Unlock()
			changes = append(changes, fmt.Sprintf("%d %s %v", p, svc, err != nil))
		}})
	t.Cleanup(m.Close)
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	r.service("echo", catalog.ServiceSpec{TCPPorts: []int{port}})
	r.instance("echo", "dead", deadAddr(t))
	r.instance("echo", "a", echo(t, "a"))
	m.Sync()
	// Every connection arrives, even those first sent to the dead
	// instance: connect failures are retried on another instance.
	for i := 0; i < 20; i++ {
		got, err := exchange(addr, "hello"+strconv.Itoa(i))
		if err != nil || got != "a:hello"+strconv.Itoa(i) {
			t.Fatalf("exchange %d = %q, %v", i, got, err)
		}
	}
	if st := m.Status(); len(st) != 1 || !st[0].Listening || st[0].Service != "echo" {
		t.Errorf("status %+v", st)
	}
	// Removing the port closes the listener.
	r.rev++
	r.st.DeleteService(r.rev, "echo")
	r.apply()
	m.Sync()
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("port still open after its service went")
	}
	if len(m.Status()) != 0 {
		t.Errorf("status after removal %+v", m.Status())
	}
	mu.Lock()
	if strings.Join(changes, ",") != fmt.Sprintf("%d echo false,%d  false", port, port) {
		t.Errorf("changes %q", changes)
	}
	mu.Unlock()
}

func TestPortInUseIsReportedAndRetried(t *testing.T) {
	r := newRig(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := busy.Addr().(*net.TCPAddr).Port
	var logs bytes.Buffer
	var mu sync.Mutex
	m := NewManager(ManagerOptions{Table: r.table.Load, Listener: loopback{}, Forwarder: NewForwarder(Options{}),
		Retry: 30 * time.Millisecond, Log: testLogger(&logs, &mu)})
	t.Cleanup(m.Close)
	r.service("echo", catalog.ServiceSpec{TCPPorts: []int{port}})
	r.instance("echo", "a", echo(t, "a"))
	other := freePort(t)
	r.service("other", catalog.ServiceSpec{TCPPorts: []int{other}})
	r.instance("other", "a", echo(t, "b"))
	m.Sync()
	st := m.Status()
	if len(st) != 2 || st[0].Port > st[1].Port {
		t.Fatalf("status %+v", st)
	}
	for _, s := range st {
		if (s.Port == port) != (s.Error != "") || (s.Port == port) == s.Listening {
			t.Errorf("status %+v", s)
		}
	}
	if got, err := exchange("127.0.0.1:"+strconv.Itoa(other), "x"); got != "b:x" {
		t.Errorf("the other port does not serve: %q %v", got, err)
	}
	ctx, cancel := contextWithCancel()
	defer cancel()
	go m.Run(ctx)
	time.Sleep(100 * time.Millisecond) // a few retries
	busy.Close()
	deadline := time.Now().Add(5 * time.Second)
	failing := func() bool {
		for _, s := range m.Status() {
			if s.Port == port {
				return !s.Listening
			}
		}
		return true
	}
	for failing() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got, err := exchange("127.0.0.1:"+strconv.Itoa(port), "x"); got != "a:x" {
		t.Errorf("after the port came free: %q %v", got, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(logs.String(), "could not be opened"); n != 1 {
		t.Errorf("the failure was logged %d times, want once:\n%s", n, logs.String())
	}
}

func TestIdleTimeoutAndDrain(t *testing.T) {
	r := newRig(t)
	// A backend that reads and never answers.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go io.Copy(io.Discard, c)
		}
	}()
	r.service("quiet", catalog.ServiceSpec{TCPPorts: []int{1}, IdleTimeout: "1s"})
	r.instance("quiet", "a", ln.Addr().String())
	f := NewForwarder(Options{})
	svc := r.table.Load().TCP(1)

	client, server := net.Pipe()
	done := make(chan struct{})
	t0 := time.Now()
	go func() { f.Serve(server, nil, svc, "test"); close(done) }()
	client.Write([]byte("x"))
	select {
	case <-done:
		if d := time.Since(t0); d < 900*time.Millisecond {
			t.Errorf("closed after %s, before the idle timeout", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("an idle connection was not closed")
	}
	client.Close()

	// Between TCP sockets (splice, idleness from TCP_INFO) too; a trickle
	// of data keeps the connection open past the timeout.
	front, _ := net.Listen("tcp", "127.0.0.1:0")
	defer front.Close()
	served := make(chan time.Duration, 2)
	go testbed.Accept(front, func(c net.Conn) {
		t0 := time.Now()
		f.Serve(c, nil, svc, "test")
		served <- time.Since(t0)
	})
	idle, _ := net.Dial("tcp", front.Addr().String())
	defer idle.Close()
	busy, _ := net.Dial("tcp", front.Addr().String())
	defer busy.Close()
	for i := 0; i < 8; i++ {
		busy.Write([]byte("x"))
		time.Sleep(250 * time.Millisecond)
	}
	select {
	case d := <-served:
		if d < 900*time.Millisecond || d > 1900*time.Millisecond {
			t.Errorf("the idle TCP connection closed after %s, want about 1s", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("an idle TCP connection was not closed")
	}
	select {
	case d := <-served:
		t.Errorf("a connection that kept moving was closed after %s", d)
	default:
	}

	// Drain cuts what is left at the deadline.
	client2, server2 := net.Pipe()
	go f.Serve(server2, nil, svc, "test")
	defer client2.Close()
	for f.Active() == 0 {
		time.Sleep(time.Millisecond)
	}
	if cut := f.Drain(time.Now().Add(50 * time.Millisecond)); cut != 2 { // the pipe and the busy one
		t.Errorf("drain cut %d, want 1", cut)
	}
}

func TestProxyProtocol(t *testing.T) {
	src := &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 51234}
	dst := &net.TCPAddr{IP: net.ParseIP("198.51.100.2"), Port: 9999}
	h, _ := proxyHeader("v1", src, dst)
	if string(h) != "PROXY TCP4 192.0.2.1 198.51.100.2 51234 9999\r\n" {
		t.Errorf("v1 = %q", h)
	}
	h6, _ := proxyHeader("v1", &net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 1}, &net.TCPAddr{IP: net.ParseIP("::1"), Port: 2})
	if string(h6) != "PROXY TCP6 2001:db8::1 ::1 1 2\r\n" {
		t.Errorf("v1 IPv6 = %q", h6)
	}
	h2, _ := proxyHeader("v2", src, dst)
	want := append([]byte("\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c"), 192, 0, 2, 1, 198, 51, 100, 2, 0xc8, 0x22, 0x27, 0x0f)
	if !bytes.Equal(h2, want) {
		t.Errorf("v2 = %x\nwant %x", h2, want)
	}

	// End to end: the backend reads the header before the data.
	r := newRig(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	t.Cleanup(func() { ln.Close() })
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		line, _ := bufio.NewReader(c).ReadString('\n')
		got <- line
	}()
	r.service("pp", catalog.ServiceSpec{TCPPorts: []int{1}, ProxyProtocol: "v1"})
	r.instance("pp", "a", ln.Addr().String())
	f := NewForwarder(Options{})
	front, _ := net.Listen("tcp", "127.0.0.1:0")
	defer front.Close()
	go func() {
		c, _ := front.Accept()
		f.Serve(c, []byte("hello"), r.table.Load().TCP(1), "test")
	}()
	c, _ := net.Dial("tcp", front.Addr().String())
	defer c.Close()
	select {
	case line := <-got:
		want := fmt.Sprintf("PROXY TCP4 127.0.0.1 127.0.0.1 %d %d\r\n", c.LocalAddr().(*net.TCPAddr).Port, front.Addr().(*net.TCPAddr).Port)
		if line != want {
			t.Errorf("backend read %q, want %q", line, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("nothing reached the backend")
	}
}
