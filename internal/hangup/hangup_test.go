//go:build linux

package hangup

import (
	"net"
	"sort"
	"testing"
	"time"
)

// pair returns the two ends of a loopback TCP connection: the client's
// and the server's.
func pair(t *testing.T, ln net.Listener) (client, server *net.TCPConn) {
	t.Helper()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func add(t *testing.T, s *Set, c *net.TCPConn, key uint64) {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var aerr error
	if err := rc.Control(func(fd uintptr) { aerr = s.Add(fd, key) }); err != nil {
		t.Fatal(err)
	}
	if aerr != nil {
		t.Fatal(aerr)
	}
}

// poll polls until want keys have come (they come once the kernel has
// handled the loopback segments, which a sender's call does inline, but
// leave room) or a second has passed, and returns them sorted; want 0
// polls once, a little after.
func poll(t *testing.T, s *Set, want int) []uint64 {
	t.Helper()
	var got []uint64
	if want == 0 {
		time.Sleep(20 * time.Millisecond) // what the kernel still had to handle
	}
	for deadline := time.Now().Add(time.Second); ; time.Sleep(5 * time.Millisecond) {
		if err := s.Poll(func(k uint64) { got = append(got, k) }); err != nil {
			t.Fatal(err)
		}
		if len(got) >= want || time.Now().After(deadline) {
			break
		}
	}
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	return got
}

func newSet(t *testing.T) *Set {
	t.Helper()
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestDataRaisesNothing: a peer that sends, and keeps sending, is not
// reported; one that half-closes is, with its whole 64-bit key.
func TestDataRaisesNothing(t *testing.T) {
	s, ln := newSet(t), listen(t)
	c, srv := pair(t, ln)
	const key = 1<<40 | 7
	add(t, s, srv, key)
	for i := 0; i < 3; i++ {
		if _, err := c.Write([]byte("GET / HTTP/1.1\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(20 * time.Millisecond)
	if got := poll(t, s, 0); len(got) != 0 {
		t.Fatalf("data reported as a hang-up: %v", got)
	}
	// Reading it does not raise anything either.
	buf := make([]byte, 100)
	srv.Read(buf)
	if got := poll(t, s, 0); len(got) != 0 {
		t.Fatalf("a read reported as a hang-up: %v", got)
	}
	c.CloseWrite()
	if got := poll(t, s, 1); len(got) != 1 || got[0] != key {
		t.Fatalf("half-close: got keys %v, want [%d]", got, uint64(key))
	}
	// Edge-triggered: reported once, not at every poll.
	if got := poll(t, s, 0); len(got) != 0 {
		t.Fatalf("the hang-up reported again: %v", got)
	}
}

// TestHangUps: a close, a reset, and a close before the registration are
// each reported; connections that stay are not; more hang-ups than one
// epoll_wait reads all come in one Poll.
func TestHangUps(t *testing.T) {
	s, ln := newSet(t), listen(t)
	before, beforeSrv := pair(t, ln)
	before.Close() // hangs up before Add
	time.Sleep(10 * time.Millisecond)
	add(t, s, beforeSrv, 1)

	closed, closedSrv := pair(t, ln)
	add(t, s, closedSrv, 2)
	reset, resetSrv := pair(t, ln)
	add(t, s, resetSrv, 3)
	_, staySrv := pair(t, ln)
	add(t, s, staySrv, 4)

	closed.Close()
	reset.SetLinger(0) // a close with unread data or linger 0 sends a reset
	reset.Close()
	got := poll(t, s, 3)
	if len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 3 {
		t.Fatalf("got keys %v, want [1 2 3] (4 stays connected)", got)
	}

	// More than pollBatch at once.
	const n = pollBatch*2 + 5
	clients := make([]*net.TCPConn, n)
	for i := range clients {
		var srv *net.TCPConn
		clients[i], srv = pair(t, ln)
		add(t, s, srv, uint64(100+i))
	}
	for _, c := range clients {
		c.Close()
	}
	time.Sleep(50 * time.Millisecond)
	var all []uint64
	if err := s.Poll(func(k uint64) { all = append(all, k) }); err != nil {
		t.Fatal(err)
	}
	if len(all) != n {
		t.Fatalf("one Poll after %d hang-ups reported %d", n, len(all))
	}
}

// TestClosedDescriptorLeaves: a registration ends with its descriptor: a
// closed server end is not reported when its peer hangs up after.
func TestClosedDescriptorLeaves(t *testing.T) {
	s, ln := newSet(t), listen(t)
	c, srv := pair(t, ln)
	add(t, s, srv, 9)
	srv.Close()
	time.Sleep(10 * time.Millisecond)
	poll(t, s, 0) // our own close may be reported (the socket is shut): read it
	c.Close()
	if got := poll(t, s, 0); len(got) != 0 {
		t.Fatalf("a closed descriptor's registration reported %v", got)
	}
}
