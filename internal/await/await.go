// Package await writes a message on a TCP connection and then waits for
// the connection to turn readable — the answer to come — in one hand-over
// to Go's netpoller.
//
// A Go read on a socket always tries the read first: right after a request
// (or a response, on a kept-alive client connection) has been written, the
// answer (the next request) has not come yet, so that read fails with
// EAGAIN before the goroutine parks. That is one wasted system call per
// exchange. Waiting without reading first is not safe through the net
// package: a readiness the netpoller took before the wait began would be
// lost. Conn.WriteAwait does the write from inside RawConn.Read's
// callback, after the wait has been prepared: what arrives from then on
// ends the wait, and the read that follows finds data.
//
// What arrived before — after the connection's last read, before the wait
// was prepared — raised no readiness the wait can see. On a connection
// whose peer speaks only once it has read what is written (a backend
// answering a request), that is harmless: whatever it sent before, the
// write makes it send more or reset the connection, and that ends the
// wait. A peer that may send unprompted — a client pipelining its next
// request, or ending its side, while the answer is being made — must be
// looked for once before the wait: set Early, and WriteAwait peeks (one
// system call) after the write and does not wait when something is there.
//
// Contract: WriteAwait returns the write's error only. When the wait ends
// for another reason than data (a read deadline passed, a deadline pulled
// to interrupt, the connection closed), it returns nil after a complete
// write; the read that follows meets the same condition. A write the socket
// cannot take whole at once is finished by the connection's own Write,
// without the wait.
package await

import (
	"net"
	"os"
	"syscall"

	"github.com/webrouter/webrouter/internal/rawio"
)

// Conn is a connection's writer-and-waiter. It is used by one goroutine at
// a time, and no other goroutine may read from the connection during
// WriteAwait (writes may go on: the callback holds the read side).
type Conn struct {
	// Early: the peer may send before it has read what is written (see
	// the package comment). Set before the first WriteAwait.
	Early bool

	nc  net.Conn
	raw syscall.RawConn
	fn  func(fd uintptr) bool // step, made once

	// One call's state.
	b, b2 []byte
	n     int
	err   error
	wrote bool
	after func()
}

// New returns the writer-and-waiter of nc, or nil when nc is not a socket
// whose descriptor can be reached (then write and read as usual).
func New(nc net.Conn) *Conn {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	c := &Conn{nc: nc, raw: raw}
	c.fn = c.step
	return c
}

// WriteAwait writes b whole, then b2 (when not empty: both in one writev),
// calls after (if not nil) once they are written, then waits until the
// connection is readable (see the package comment). n is how much of b
// and b2 was written.
func (c *Conn) WriteAwait(b, b2 []byte, after func()) (n int, err error) {
	c.b, c.b2, c.n, c.err, c.wrote, c.after = b, b2, 0, nil, false, after
	rerr := c.raw.Read(c.fn)
	n, err, wrote := c.n, c.err, c.wrote
	c.b, c.b2, c.after = nil, nil, nil
	switch {
	case err != nil:
		return n, err
	case !wrote: // the wait could not begin (closed, deadline passed): nothing written
		return 0, rerr
	case n < len(b)+len(b2): // the socket's buffer filled up: no wait
		var m int
		if n < len(b) {
			m, err = c.nc.Write(b[n:])
			n += m
		}
		if err == nil {
			m, err = c.nc.Write(b2[n-len(b):])
			n += m
		}
		if err == nil && after != nil {
			after()
		}
		return n, err
	}
	return n, nil
}

// step is the RawConn.Read callback: the first call writes and asks to
// wait; the next, after the wait, reports the connection readable.
func (c *Conn) step(fd uintptr) bool {
	if c.wrote {
		return true
	}
	c.wrote = true
	for c.n < len(c.b)+len(c.b2) {
		var m int
		var e syscall.Errno
		switch {
		case c.n >= len(c.b):
			m, e = rawio.Write(fd, c.b2[c.n-len(c.b):]) // see package rawio
		case len(c.b2) > 0:
			m, e = rawio.Write2(fd, c.b[c.n:], c.b2)
		default:
			m, e = rawio.Write(fd, c.b[c.n:])
		}
		switch e {
		case 0:
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return true // finished by WriteAwait, without the wait
		default:
			c.err = os.NewSyscallError("write", e)
			return true
		}
		c.n += m
	}
	if c.after != nil {
		c.after()
	}
	// Not waiting when something came before the wait was prepared.
	return c.Early && rawio.Pending(fd)
}
