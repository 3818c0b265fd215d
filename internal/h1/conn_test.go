package h1

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// TestConnSize: every accepted connection allocates one conn, the largest
// of its allocations. It was brought from the 1024-byte size class down to
// 640 (a copy of http.Request it carried went, and rawio's write vector
// shrank); a field that pushes it past 640 makes every connection's
// garbage 64 bytes or more larger again. Grow it knowingly: change the
// bound here with the reason.
func TestConnSize(t *testing.T) {
	if n := unsafe.Sizeof(conn{}); n > 640 {
		t.Fatalf("conn is %d bytes, past the 640-byte size class", n)
	}
}

// TestAddrString: the client address as net.TCPAddr's String writes it,
// for IPv4, IPv4 mapped into IPv6 (a dual-stack listener's IPv4 client),
// IPv6 with and without a zone, no IP at all, and an address that is
// not TCP.
func TestAddrString(t *testing.T) {
	for _, a := range []net.Addr{
		&net.TCPAddr{IP: net.IPv4(10, 1, 2, 3).To4(), Port: 80},
		&net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 65535}, // 16-byte form
		&net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 443},
		&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 8080, Zone: "eth0"},
		&net.TCPAddr{IP: net.IPv6loopback, Port: 1},
		&net.TCPAddr{Port: 9}, // no IP
		&net.UnixAddr{Name: "/run/x.sock", Net: "unix"},
	} {
		if got, want := addrString(a), a.String(); got != want {
			t.Errorf("addrString(%#v) = %q, want %q", a, got, want)
		}
	}
	ta := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 5000}
	if n := testing.AllocsPerRun(100, func() { _ = addrString(ta) }); n > 1 {
		t.Errorf("addrString allocates %v times, want 1", n)
	}
}

// TestStatusLines: the status lines written in one piece are the ones the
// general path puts together.
func TestStatusLines(t *testing.T) {
	n := 0
	for code := 100; code <= 999; code++ {
		line := statusLine(code)
		if line == "" {
			continue
		}
		n++
		var b strings.Builder
		bw := bufio.NewWriter(&b)
		bw.WriteString("HTTP/1.1 ")
		bw.WriteString(strconv.Itoa(code) + " " + http.StatusText(code) + "\r\n")
		bw.Flush()
		if line != b.String() {
			t.Errorf("%d: %q, want %q", code, line, b.String())
		}
	}
	if n == 0 {
		t.Fatal("no status line is written in one piece")
	}
}

// blockingCutter is a cutter whose Cut waits to be let go, so that a test
// can see what runs while a cut is under way.
type blockingCutter struct {
	entered, release chan struct{}
}

func (b *blockingCutter) Cut() {
	close(b.entered)
	<-b.release
}

// TestNoCutAfterClear: once setCutter has replaced a cutter (as when the
// handler returns), that cutter is not being cut: a cut under way is
// finished first. Before, cutNow let go of its lock before it cut, and a
// request that had ended could still be cut.
func TestNoCutAfterClear(t *testing.T) {
	c := new(conn)
	x := &blockingCutter{entered: make(chan struct{}), release: make(chan struct{})}
	c.setCutter(x)
	go c.cutNow()
	<-x.entered
	cleared := make(chan struct{})
	go func() {
		c.setCutter(nil)
		close(cleared)
	}()
	select {
	case <-cleared:
		t.Fatal("setCutter returned while the cutter it replaced was being cut")
	case <-time.After(50 * time.Millisecond):
	}
	close(x.release)
	<-cleared
	// The context has ended: a cutter set from now on is cut at once.
	y := &blockingCutter{entered: make(chan struct{}), release: make(chan struct{})}
	close(y.release)
	c.setCutter(y)
	select {
	case <-y.entered:
	default:
		t.Fatal("a cutter set after the end was not cut")
	}
}

// TestWatchStateTable: each connection gets a watch state of its own, a
// cache line each, from a dense table; a removed connection's state is
// freed by the sweep's next walk, and taken again first; with no
// connection left the sweep stops.
func TestWatchStateTable(t *testing.T) {
	var l live
	var cs []*conn
	for i := 0; i < 130; i++ {
		c := &conn{}
		l.add(c, context.Background())
		cs = append(cs, c)
	}
	seen := map[*watchState]bool{}
	for _, c := range cs {
		if seen[c.ws] {
			t.Fatal("two connections share a watch state")
		}
		seen[c.ws] = true
		if a := uintptr(unsafe.Pointer(c.ws)); a%64 != 0 {
			t.Fatalf("a watch state at %#x, not on a cache line of its own", a)
		}
	}
	counts := func() (pages, taken, free int, ticking bool) {
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, n := range l.taken {
			taken += int(n)
		}
		return len(l.chunks), taken, len(l.free), l.ticking
	}
	if pages, taken, free, _ := counts(); pages != 3 || taken != 130 || free != 3*64-130 {
		t.Fatalf("130 connections: %d pages, %d states taken, %d free", pages, taken, free)
	}
	for _, c := range cs[:100] {
		l.remove(c)
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal(what)
			}
		}
	}
	waitFor("the removed connections' states were not freed", func() bool {
		_, taken, free, _ := counts()
		return taken == 30 && free == 3*64-30
	})
	last := cs[99].ws
	c := &conn{}
	l.add(c, context.Background())
	if c.ws != last {
		t.Error("a new connection did not get the state freed last")
	}
	for _, c := range append(cs[100:], c) {
		l.remove(c)
	}
	waitFor("the sweep still runs with no connection", func() bool {
		_, taken, _, ticking := counts()
		return taken == 0 && !ticking
	})
}

// BenchmarkSweepWalk: the sweep's walk over 10 000 idle connections, as
// it runs every watchTick (ns/op is one walk; ÷ 10 000 per connection).
func BenchmarkSweepWalk(b *testing.B) {
	var l live
	l.ticking = true // no sweep goroutine: the benchmark walks
	for i := 0; i < 10000; i++ {
		c := &conn{}
		l.add(c, context.Background())
		c.ws.waitFrom.Store(checked) // waiting for its next request, rechecked
	}
	var due []*conn
	var waiting []late
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l.mu.Lock()
		due, waiting = l.walk(uint64(i), due[:0], waiting[:0])
		l.mu.Unlock()
	}
	if len(due)+len(waiting) != 0 {
		b.Fatal("idle connections found due")
	}
}
