package proxy

import (
	"testing"

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
