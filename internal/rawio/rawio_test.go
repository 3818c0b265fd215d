package rawio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/testbed"
)

func newConn(t *testing.T, nc net.Conn) *Conn {
	t.Helper()
	c := New(nc)
	if c == nil {
		t.Fatal("New: nil for a TCP connection")
	}
	return c
}

// TestReadWrite: data goes both ways, a Read waits for data to come, and
// the peer's close reads as io.EOF.
func TestReadWrite(t *testing.T) {
	a, b := testbed.TCPPair(t)
	c := newConn(t, a)
	if n, err := c.Write([]byte("hello")); n != 5 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(b, got); err != nil || string(got) != "hello" {
		t.Fatalf("peer read %q, %v", got, err)
	}
	go func() {
		time.Sleep(50 * time.Millisecond) // the Read below waits in the netpoller
		b.Write([]byte("world"))
		b.Close()
	}()
	buf := make([]byte, 16)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "world" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	if n, err := c.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("Read after the peer closed = %d, %v; want 0, EOF", n, err)
	}
	if n, err := c.Read(nil); n != 0 || err != nil {
		t.Fatalf("Read(nil) = %d, %v", n, err)
	}
}

// TestLargeWriteWaits: a write larger than the socket buffers is finished
// across waits for writability, whole and in order; so is WriteLast's,
// which Close then ends.
func TestLargeWriteWaits(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(c *Conn, p []byte) (int, error)
		end   func(nc net.Conn)
	}{
		{"Write", (*Conn).Write, func(nc net.Conn) { nc.(*net.TCPConn).CloseWrite() }},
		{"WriteLast", (*Conn).WriteLast, func(nc net.Conn) { nc.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := testbed.TCPPair(t)
			c := newConn(t, a)
			msg := make([]byte, 8<<20+5)
			for i := range msg {
				msg[i] = byte(i * 7)
			}
			got := make(chan []byte, 1)
			go func() {
				time.Sleep(50 * time.Millisecond) // let the writer fill the buffers first
				all, _ := io.ReadAll(b)
				got <- all
			}()
			if n, err := tc.write(c, msg); n != len(msg) || err != nil {
				t.Fatalf("%s = %d, %v", tc.name, n, err)
			}
			tc.end(a)
			if all := <-got; !bytes.Equal(all, msg) {
				t.Fatalf("peer got %d bytes, not the %d written", len(all), len(msg))
			}
		})
	}
}

// TestWriteLast: what WriteLast writes is held until Close, which sends it
// with the FIN (TestLargeWriteWaits: more than the socket takes at once).
func TestWriteLast(t *testing.T) {
	a, b := testbed.TCPPair(t)
	c := newConn(t, a)
	if n, err := c.WriteLast([]byte("bye")); n != 3 || err != nil {
		t.Fatalf("WriteLast = %d, %v", n, err)
	}
	b.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, err := b.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("before the close the peer read %d bytes, %v; want nothing (held)", n, err)
	}
	a.Close()
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	if all, err := io.ReadAll(b); string(all) != "bye" || err != nil {
		t.Fatalf("after the close the peer read %q, %v", all, err)
	}
}

// TestWritev: more buffers than one writev takes, empty ones among them,
// more bytes than the socket takes at once: the peer gets them in order,
// and the caller's slices are as they were.
func TestWritev(t *testing.T) {
	a, b := testbed.TCPPair(t)
	c := newConn(t, a)
	var bufs [][]byte
	var want []byte
	for i := 0; i < 20; i++ {
		var p []byte
		if i%3 != 1 {
			p = bytes.Repeat([]byte{byte('a' + i)}, 1+i*100_000)
		}
		bufs = append(bufs, p)
		want = append(want, p...)
	}
	before := slices.Clone(bufs)
	got := make(chan []byte, 1)
	go func() {
		all, _ := io.ReadAll(b)
		got <- all
	}()
	n, err := c.Writev(bufs)
	if n != int64(len(want)) || err != nil {
		t.Fatalf("Writev = %d, %v; want %d", n, err, len(want))
	}
	a.(*net.TCPConn).CloseWrite()
	if all := <-got; !bytes.Equal(all, want) {
		t.Fatalf("peer got %d bytes, not the %d written in order", len(all), len(want))
	}
	for i := range bufs {
		if len(bufs[i]) != len(before[i]) || len(bufs[i]) > 0 && &bufs[i][0] != &before[i][0] {
			t.Fatalf("Writev changed buffer %d", i)
		}
	}
	if n, err := c.Writev([][]byte{nil, {}}); n != 0 || err != nil {
		t.Fatalf("Writev of empty buffers = %d, %v", n, err)
	}
}

// TestErrors: deadlines, a closed connection and a reset peer fail as the
// net package's calls fail.
func TestErrors(t *testing.T) {
	a, b := testbed.TCPPair(t)
	c := newConn(t, a)
	buf := make([]byte, 8)

	a.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	_, err := c.Read(buf)
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Read past its deadline: %v; want a timeout", err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "read" {
		t.Fatalf("Read past its deadline: %#v; want a *net.OpError named read", err)
	}
	a.SetReadDeadline(time.Time{})

	// The peer resets the connection: the write that meets it fails with
	// the errno (a write may still be taken before the reset is seen).
	b.(*net.TCPConn).SetLinger(0)
	b.Close()
	time.Sleep(50 * time.Millisecond)
	var werr error
	for i := 0; i < 10 && werr == nil; i++ {
		_, werr = c.Write([]byte("after the reset"))
	}
	if !errors.Is(werr, syscall.ECONNRESET) && !errors.Is(werr, syscall.EPIPE) {
		t.Fatalf("Write to a reset peer: %v; want ECONNRESET or EPIPE", werr)
	}
	if !errors.As(werr, &oe) || oe.Op != "write" {
		t.Fatalf("Write to a reset peer: %#v; want a *net.OpError named write", werr)
	}

	a.Close()
	if _, err := c.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read of a closed connection: %v; want net.ErrClosed", err)
	}
	if _, err := c.Write(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write to a closed connection: %v; want net.ErrClosed", err)
	}
}

// TestPeek: a quiet connection peeks EAGAIN, data peeks without being
// consumed, and the peer's close peeks as zero bytes.
func TestPeek(t *testing.T) {
	a, b := testbed.TCPPair(t)
	fd := fdOf(t, a)
	var one [1]byte
	if _, errno := peek(fd, one[:]); errno != syscall.EAGAIN {
		t.Fatalf("Peek of a quiet connection: %v; want EAGAIN", errno)
	}
	b.Write([]byte("x"))
	time.Sleep(20 * time.Millisecond)
	if n, errno := peek(fd, one[:]); n != 1 || errno != 0 || one[0] != 'x' {
		t.Fatalf("Peek with data = %d %q, %v", n, one[:n], errno)
	}
	if _, err := io.ReadFull(a, one[:]); err != nil || one[0] != 'x' {
		t.Fatalf("the peeked byte was not left to read: %q, %v", one[:], err)
	}
	b.Close()
	time.Sleep(20 * time.Millisecond)
	if n, errno := peek(fd, one[:]); n != 0 || errno != 0 {
		t.Fatalf("Peek after the peer closed = %d, %v; want 0, no error", n, errno)
	}
}

// TestQuiet: the probe of a Conn is true on a quiet open connection, also
// past its read deadline, false once data has come (which it leaves to
// read) or the peer has closed.
func TestQuiet(t *testing.T) {
	a, b := testbed.TCPPair(t)
	c := newConn(t, a)
	if !c.Quiet() {
		t.Fatal("Quiet is false on an open, quiet connection")
	}
	a.SetReadDeadline(time.Unix(1, 0))
	if !c.Quiet() {
		t.Fatal("Quiet is false on a quiet connection past its read deadline")
	}
	a.SetReadDeadline(time.Time{})
	b.Write([]byte("x"))
	time.Sleep(20 * time.Millisecond)
	if c.Quiet() {
		t.Fatal("Quiet is true with data to read")
	}
	one := make([]byte, 1)
	if _, err := io.ReadFull(c, one); err != nil || one[0] != 'x' {
		t.Fatalf("the probed byte was not left to read: %q, %v", one, err)
	}
	b.Close()
	time.Sleep(20 * time.Millisecond)
	if c.Quiet() {
		t.Fatal("Quiet is true after the peer closed")
	}
}

func TestPending(t *testing.T) {
	a, b := testbed.TCPPair(t)
	c := newConn(t, a)
	// Looked at while another goroutine waits in Read.
	got := make(chan string, 1)
	go func() {
		p := make([]byte, 8)
		n, _ := c.Read(p)
		got <- string(p[:n])
	}()
	time.Sleep(20 * time.Millisecond)
	if c.Pending() {
		t.Fatal("Pending is true on a quiet connection")
	}
	b.Write([]byte("x"))
	if s := <-got; s != "x" {
		t.Fatalf("the waiting read got %q", s)
	}
	b.Write([]byte("y"))
	time.Sleep(20 * time.Millisecond)
	if !c.Pending() {
		t.Fatal("Pending is false with data to read")
	}
	if p := make([]byte, 1); !c.Pending() || func() bool { n, _ := c.Read(p); return n != 1 || p[0] != 'y' }() {
		t.Fatal("the data looked at was not left to read")
	}
	b.Close()
	time.Sleep(20 * time.Millisecond)
	if !c.Pending() {
		t.Fatal("Pending is false after the peer closed")
	}
	a.Close()
	if c.Pending() {
		t.Fatal("Pending is true on a closed connection")
	}
}

func fdOf(t *testing.T, nc net.Conn) uintptr {
	raw, err := nc.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd uintptr
	raw.Control(func(f uintptr) { fd = f })
	return fd
}

// TestOnlyTCP: other connections get no Conn.
func TestOnlyTCP(t *testing.T) {
	p, q := net.Pipe()
	defer p.Close()
	defer q.Close()
	if New(p) != nil {
		t.Fatal("New(net.Pipe) is not nil")
	}
	var c Conn
	if c.Init(p) || c.Ready() {
		t.Fatal("Init(net.Pipe) succeeded")
	}
}

// TestPeekAllocatesOnce: the pool probes a kept-alive connection before
// every request; after the first, Quiet and Pending allocate nothing.
func TestPeekAllocatesOnce(t *testing.T) {
	a, _ := testbed.TCPPair(t)
	c := newConn(t, a)
	c.Quiet()
	if n := testing.AllocsPerRun(100, func() { c.Quiet(); c.Pending() }); n != 0 {
		t.Fatalf("Quiet and Pending: %v allocations a call, want 0", n)
	}
}

// TestWaitReadable: the wait ends when data comes, which stays for the
// next Read; at the end of the stream with io.EOF; at the read deadline
// with its error; and Write2 sends both buffers in order.
func TestWaitReadable(t *testing.T) {
	a, b := testbed.TCPPair(t)
	c := newConn(t, a)
	go func() {
		time.Sleep(50 * time.Millisecond) // the wait is in the netpoller
		b.Write([]byte("data"))
	}()
	if data, err := c.WaitReadable(); !data || err != nil {
		t.Fatalf("WaitReadable with data coming = %v, %v; want true, nil", data, err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "data" {
		t.Fatalf("Read after the wait = %q, %v; the data must still be there", got, err)
	}
	a.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if data, err := c.WaitReadable(); data || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("WaitReadable past the deadline = %v, %v; want false and the deadline's error", data, err)
	}
	a.SetReadDeadline(time.Time{})
	b.Close()
	if data, err := c.WaitReadable(); data || err != io.EOF {
		t.Fatalf("WaitReadable after the peer closed = %v, %v; want false, io.EOF", data, err)
	}

	x, y := testbed.TCPPair(t)
	if n, errno := Write2(fdOf(t, x), []byte("head "), []byte("body")); n != 9 || errno != 0 {
		t.Fatalf("Write2 = %d, %v", n, errno)
	}
	got = make([]byte, 9)
	if _, err := io.ReadFull(y, got); err != nil || string(got) != "head body" {
		t.Fatalf("the peer read %q, %v; want %q", got, err, "head body")
	}
}
