// Package rawio reads and writes TCP connections with raw system calls: the
// same calls the net package makes, without telling Go's scheduler that a
// system call is under way.
//
// Go wraps each system call in entersyscall and exitsyscall. When a call
// lasts longer than a sysmon tick (20 µs to begin with), the scheduler's
// monitor takes the call's P (the right to run Go code) and hands it to
// another thread, and the calling thread must win a P back when the call
// returns. The net package's sockets are non-blocking: their reads and
// writes never wait, but on loopback a write does the receiver's TCP work
// inline and often lasts that long. With the process on one core
// (GOMAXPROCS=1, the benchmark's placement) nothing could run in the
// meantime anyway, and each hand-over costs thread switches, while the
// monitor, finding work every time, wakes every 20 µs instead of backing
// off to 10 ms.
//
// Contract: Conn's Read, Write and Writev behave as those of the
// *net.TCPConn they wrap — they wait through the netpoller when the socket
// is not ready, honour its deadlines, return io.EOF at the end of the
// stream and otherwise fail with a *net.OpError ("read", "write",
// "writev") for which errors.Is finds net.ErrClosed,
// os.ErrDeadlineExceeded or the system call's errno, as the net package's
// would. One goroutine may read and one write at a time (as every user of
// a bufio.Reader or Writer does). A raw call cannot be preempted, so only
// calls that never block are made raw: reads and writes of non-blocking
// sockets. Built with the race detector, reads and writes are ordinary
// system calls, which tell the detector that a socket orders what its two
// ends do.
package rawio

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// Conn makes the reads and writes of one TCP connection raw.
type Conn struct {
	nc       net.Conn
	raw      syscall.RawConn
	rfn, wfn func(fd uintptr) bool // read and write callbacks, made once
	r        readCall              // the Read under way
	w        call                  // the write under way
	// writev's vector, cleared after each call. Four is what package h1
	// passes at most (held head, chunk size, data, CRLF); more buffers
	// take more than one writev. The Conn is part of every client
	// connection's allocation, which a longer vector would push into the
	// next size class.
	iov [4]syscall.Iovec

	// Quiet's and Pending's peek: the callback, made at the first, and
	// its finding.
	lfn     func(fd uintptr)
	pending bool
}

// readCall is one Read's state across the netpoller's waits.
type readCall struct {
	p     []byte
	n     int
	errno syscall.Errno
}

// call is one write's state across the netpoller's waits.
type call struct {
	p     []byte   // Write's rest
	bufs  [][]byte // Writev's rest (nil for Write); bufs[0] from off
	off   int
	n     int64
	errno syscall.Errno
	short bool // a write took nothing and reported no error
	last  bool // WriteLast: sent with MSG_MORE
}

// New returns a Conn for nc, or nil when nc is not a *net.TCPConn (a TLS
// connection, a pipe) or the platform has no raw calls: then use nc.
func New(nc net.Conn) *Conn {
	c := new(Conn)
	if !c.Init(nc) {
		return nil
	}
	return c
}

// Init makes c (a zero Conn, say one embedded in a larger struct) the Conn
// of nc, as New does, and reports whether it could.
func (c *Conn) Init(nc net.Conn) bool {
	tc, ok := nc.(*net.TCPConn)
	if !ok || !supported {
		return false
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return false
	}
	*c = Conn{nc: nc, raw: raw}
	c.rfn, c.wfn = c.read, c.write
	return true
}

// Ready reports whether Init succeeded.
func (c *Conn) Ready() bool { return c.raw != nil }

// Control calls f with the connection's descriptor, as RawConn's Control:
// the descriptor stays open while f runs; it fails once the connection is
// closed.
func (c *Conn) Control(f func(fd uintptr)) error { return c.raw.Control(f) }

// Read reads into p, as net.Conn's Read.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.r = readCall{p: p}
	err := c.raw.Read(c.rfn)
	n, errno := c.r.n, c.r.errno
	c.r = readCall{}
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case errno != 0:
		return 0, c.opError("read", os.NewSyscallError("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// Quiet reports whether the connection is open and nothing has arrived on
// it: the peek of Pending finds nothing. Data nobody asked for, the end of
// the stream or an error make it false, and so does a closed Conn. Unlike
// Read, it does not look at the read deadline.
func (c *Conn) Quiet() bool {
	p, open := c.peek()
	return open && !p
}

// Pending reports whether a read would not wait: data, the end of the
// stream or an error is there (Pending on the descriptor). It may be
// called while another goroutine waits in Read, and does not look at the
// read deadline; false once closed.
//
// Quiet and Pending are made by one goroutine at a time.
func (c *Conn) Pending() bool {
	p, open := c.peek()
	return open && p
}

// peek is Quiet's and Pending's look: whether a read would not wait, and
// whether the connection is open. It allocates only at the first call (a
// closure passed through RawConn.Control escapes).
func (c *Conn) peek() (pending, open bool) {
	if c.lfn == nil {
		c.lfn = c.look
	}
	err := c.raw.Control(c.lfn)
	return c.pending, err == nil
}

// look is the RawConn.Control callback of peek.
func (c *Conn) look(fd uintptr) { c.pending = Pending(fd) }

// read is the RawConn.Read callback; false asks to wait for readability.
func (c *Conn) read(fd uintptr) bool {
	for {
		n, errno := read(fd, c.r.p)
		switch errno {
		case 0:
			c.r.n = n
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		c.r.errno = errno
		return true
	}
}

// Write writes p whole, as net.Conn's Write.
func (c *Conn) Write(p []byte) (int, error) {
	n, err := c.writeAll(call{p: p}, "write")
	return int(n), err
}

// WriteLast writes p whole, as Write, as the last bytes before Close: it
// tells the kernel (MSG_MORE) that more is coming, so that a tail shorter
// than a segment waits for the FIN that Close sends and goes out in one
// packet with it, a packet fewer for both ends. The caller must Close
// right after: until then that tail is held.
func (c *Conn) WriteLast(p []byte) (int, error) {
	n, err := c.writeAll(call{p: p, last: true}, "write")
	return int(n), err
}

// Writev writes the buffers whole and in order, as net.Buffers' WriteTo on
// a TCP connection does (one writev where the socket takes it all), but
// leaves bufs as it was. It returns the bytes written.
func (c *Conn) Writev(bufs [][]byte) (int64, error) {
	for len(bufs) > 0 && len(bufs[0]) == 0 {
		bufs = bufs[1:]
	}
	if len(bufs) == 0 {
		return 0, nil
	}
	return c.writeAll(call{bufs: bufs}, "writev")
}

func (c *Conn) writeAll(w call, op string) (int64, error) {
	if w.bufs == nil && len(w.p) == 0 {
		return 0, nil
	}
	c.w = w
	err := c.raw.Write(c.wfn)
	w = c.w
	c.w = call{}
	clear(c.iov[:]) // hold no buffer
	switch {
	case err != nil:
		return w.n, c.opError(op, err)
	case w.errno != 0:
		return w.n, c.opError(op, os.NewSyscallError(op, w.errno))
	case w.short:
		return w.n, io.ErrUnexpectedEOF
	}
	return w.n, nil
}

// write is the RawConn.Write callback; false asks to wait for
// writability.
func (c *Conn) write(fd uintptr) bool {
	w := &c.w
	for len(w.p) > 0 || len(w.bufs) > 0 {
		var n int
		var errno syscall.Errno
		if w.bufs != nil {
			iov := c.vector()
			if len(iov) == 0 { // only empty buffers left
				w.bufs = nil
				break
			}
			n, errno = writev(fd, iov)
		} else if w.last {
			n, errno = sendMore(fd, w.p)
		} else {
			n, errno = write(fd, w.p)
		}
		switch errno {
		case 0:
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		default:
			w.errno = errno
			return true
		}
		if n == 0 {
			w.short = true
			return true
		}
		w.n += int64(n)
		w.advance(n)
	}
	return true
}

// vector fills c.iov with the rest of c.w.bufs, as much as it holds.
func (c *Conn) vector() []syscall.Iovec {
	w := &c.w
	k := 0
	for i, b := range w.bufs {
		if k == len(c.iov) {
			break
		}
		if i == 0 {
			b = b[w.off:]
		}
		if len(b) == 0 {
			continue
		}
		c.iov[k].Base = &b[0]
		c.iov[k].SetLen(len(b))
		k++
	}
	return c.iov[:k]
}

// advance drops n written bytes from the call's rest.
func (w *call) advance(n int) {
	if w.bufs == nil {
		w.p = w.p[n:]
		return
	}
	for n > 0 && len(w.bufs) > 0 {
		rest := len(w.bufs[0]) - w.off
		if n < rest {
			w.off += n
			return
		}
		n -= rest
		w.bufs, w.off = w.bufs[1:], 0
	}
	for len(w.bufs) > 0 && len(w.bufs[0]) == w.off {
		w.bufs, w.off = w.bufs[1:], 0
	}
	if len(w.bufs) == 0 {
		w.bufs = nil
	}
}

// opError wraps err as the net package wraps its connections' errors.
// RawConn's own errors (closed, deadline) come as a *net.OpError named
// "raw-read" or "raw-write"; they take the call's name.
func (c *Conn) opError(op string, err error) error {
	if oe, ok := err.(*net.OpError); ok {
		e := *oe
		e.Op = op
		return &e
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.nc.LocalAddr(), Addr: c.nc.RemoteAddr(), Err: err}
}

// WaitReadable waits, through the netpoller and without reading, until a
// read would not wait, and tells what is there: data (true), the end of
// the stream (false, io.EOF), or an error — the connection's (reset), or,
// as for Read, its read deadline's passing or its closing. Nothing is
// consumed: what came stays in the socket for the next Read. It may run
// while another goroutine writes, not while one reads.
func (c *Conn) WaitReadable() (data bool, err error) {
	var n int
	var errno syscall.Errno
	err = c.raw.Read(func(fd uintptr) bool {
		var one [1]byte
		n, errno = peek(fd, one[:])
		return errno != syscall.EAGAIN
	})
	switch {
	case err != nil:
		return false, c.opError("read", err)
	case errno != 0:
		return false, c.opError("read", os.NewSyscallError("recvfrom", errno))
	case n == 0:
		return false, io.EOF
	}
	return true, nil
}

// Pending reports whether a read on fd would not wait: data, the end of
// the stream or an error is there. It consumes nothing (one non-blocking
// peek).
func Pending(fd uintptr) bool {
	var one [1]byte
	_, errno := peek(fd, one[:])
	return errno != syscall.EAGAIN
}

// Write makes one raw write of p on fd (send(2), as write(2) on a socket).
func Write(fd uintptr, p []byte) (int, syscall.Errno) { return write(fd, p) }

// errnoOf turns the syscall package's (n, error) into the raw calls' form.
func errnoOf(n int, err error) (int, syscall.Errno) {
	if err != nil {
		e, _ := err.(syscall.Errno)
		return 0, e
	}
	return n, 0
}

// Write2 makes one raw write of a then b on fd (sendmsg(2) with both, as
// writev(2)); each has at least one byte.
func Write2(fd uintptr, a, b []byte) (int, syscall.Errno) {
	var iov [2]syscall.Iovec
	iov[0].Base, iov[1].Base = &a[0], &b[0]
	iov[0].SetLen(len(a))
	iov[1].SetLen(len(b))
	return writev(fd, iov[:])
}

// writeEach writes the vector one buffer at a time, stopping at a short
// write; like writev(2) it reports an error only when nothing was written.
// writev where the race detector is to see ordinary writes, or where there
// is no raw writev.
func writeEach(fd uintptr, iov []syscall.Iovec) (int, syscall.Errno) {
	total := 0
	for _, v := range iov {
		p := unsafe.Slice(v.Base, v.Len)
		n, errno := errnoOf(syscall.Write(int(fd), p))
		total += n
		if errno != 0 {
			if total > 0 {
				return total, 0
			}
			return 0, errno
		}
		if n < len(p) {
			break
		}
	}
	return total, 0
}
