package proxy

import (
	"context"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/testbed"
	"github.com/webrouter/webrouter/internal/upstream"
)

// TestListForHost: a pool finds an address's idle list on the address's
// Host once it has looked it up by address, and it is the list the lookup
// by address finds; a second pool sharing the Host keeps finding its own
// list by address, not the first pool's.
func TestListForHost(t *testing.T) {
	const addr = "127.0.0.1:9"
	h := &upstream.Host{Addr: addr}
	p1, p2 := newPool(TransportOptions{}), newPool(TransportOptions{})
	l1 := p1.listFor(h, addr)
	if l1 != p1.list(addr) {
		t.Fatal("the list found through the host is not the pool's")
	}
	if got, _ := h.Local.Get(p1).(*idleList); got != l1 {
		t.Fatalf("the host keeps %p, want the pool's list %p", got, l1)
	}
	l2 := p2.listFor(h, addr)
	if l2 == l1 || l2 != p2.list(addr) {
		t.Fatal("a second pool got the first pool's list, or not its own")
	}
	if p1.listFor(h, addr) != l1 || p1.listFor(nil, addr) != l1 {
		t.Fatal("the first pool's list changed")
	}
}

// TestIdleConnectionsSwept: a connection kept busy is never closed by the
// sweep, however long it lives; one left idle for the idle timeout is
// closed without any request coming (the backend sees it end), and its
// address's list, empty and unused, is dropped from the pool; a request
// to the address after that gets a fresh list, which the Host then keeps
// instead of the dropped one.
func TestIdleConnectionsSwept(t *testing.T) {
	const idle = 100 * time.Millisecond
	var accepted, open atomic.Int32
	addr := testbed.ServeTCP(t, func(c net.Conn) {
		accepted.Add(1)
		open.Add(1)
		defer open.Add(-1)
		io.Copy(io.Discard, c) // until the pool closes it
	})
	p := newPool(TransportOptions{IdleConnTimeout: idle})
	t.Cleanup(p.closeIdle)
	h := &upstream.Host{Addr: addr}
	get := func() *backendConn {
		t.Helper()
		c, err := p.get(context.Background(), h, addr, time.Now(), true)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for end := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("after 5 s: not %s", what)
			}
		}
	}
	first := get()
	p.put(first)
	for range 6 { // 240 ms in all, never idle for 100
		time.Sleep(idle * 2 / 5)
		if c := get(); c != first {
			t.Fatal("a connection in steady use was not kept")
		}
		p.put(first)
	}
	if accepted.Load() != 1 || open.Load() != 1 {
		t.Fatalf("in steady use: %d connections accepted, %d open; want the one", accepted.Load(), open.Load())
	}
	old := p.list(addr)
	waitFor("the idle connection closed", func() bool { return open.Load() == 0 })
	waitFor("the empty list dropped", func() bool { _, ok := p.byAddr.Load(addr); return !ok })
	if got, _ := h.Local.Get(p).(*idleList); got != old {
		t.Fatal("the Host lost the dropped list before a request came")
	}
	c := get()
	if c == first {
		t.Fatal("after the sweep: the closed connection reused")
	}
	waitFor("a second connection accepted", func() bool { return accepted.Load() == 2 })
	if got, _ := h.Local.Get(p).(*idleList); got == old || got != p.list(addr) {
		t.Fatal("the Host still keeps the dropped list, or not the pool's new one")
	}
	p.put(c)
	if l := p.list(addr); len(l.conns) != 1 || l.conns[0] != c {
		t.Fatal("the connection did not go back to the new list")
	}
}

// TestPutToADroppedList: a connection taken before its list was dropped
// (a request longer than the idle timeout) goes back to the address's
// list of the moment.
func TestPutToADroppedList(t *testing.T) {
	addr := testbed.ServeTCP(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	p := newPool(TransportOptions{IdleConnTimeout: 50 * time.Millisecond})
	t.Cleanup(p.closeIdle)
	c, err := p.get(context.Background(), nil, addr, time.Now(), true)
	if err != nil {
		t.Fatal(err)
	}
	old := c.list
	old.mu.Lock()
	old.used = time.Now().Add(-time.Second) // taken a second ago
	old.mu.Unlock()
	p.sweep()
	if _, ok := p.byAddr.Load(addr); ok || !old.gone {
		t.Fatal("an empty list unused for longer than the idle timeout was kept")
	}
	p.put(c)
	if l := p.list(addr); l == old || c.list != l || len(l.conns) != 1 {
		t.Fatal("put back into the dropped list")
	}
}
