package proxy

import (
	"bufio"
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/webrouter/webrouter/internal/deadline"
)

// backendConn is one kept-alive HTTP/1.1 connection to a backend address,
// with its buffers.
type backendConn struct {
	net.Conn
	list   *idleList // its pool's list for its address
	br     *bufio.Reader
	bw     *bufio.Writer
	reused bool            // it served a request before this one
	idle   time.Time       // when it went back to the pool
	rd     deadline.Read   // the response timeout (see send)
	resp   backendResponse // the response being read

	raw    syscall.RawConn       // for alive; nil: not a socket
	peek   func(fd uintptr) bool // alive's probe, made once
	peekOK bool                  // its result
}

// pool keeps idle backend connections per address. Get and put take a
// mutex per address (the lists are found without a lock); connections
// found closed by the backend are dropped.
type pool struct {
	dialer      net.Dialer
	maxIdle     int
	idleTimeout time.Duration
	bufSize     int
	byAddr      sync.Map // address → *idleList
}

type idleList struct {
	mu    sync.Mutex
	conns []*backendConn
}

func newPool(o TransportOptions) *pool {
	p := &pool{maxIdle: o.IdleConnsPerHost, idleTimeout: o.IdleConnTimeout, bufSize: 32 << 10}
	p.dialer = net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}
	if p.idleTimeout == 0 {
		p.idleTimeout = 90 * time.Second
	}
	if p.maxIdle <= 0 {
		p.maxIdle = 2
	}
	return p
}

func (p *pool) list(addr string) *idleList {
	if l, ok := p.byAddr.Load(addr); ok {
		return l.(*idleList)
	}
	l, _ := p.byAddr.LoadOrStore(addr, &idleList{})
	return l.(*idleList)
}

// get returns a live idle connection to addr, or dials a new one; now is
// the time (the wall clock, not a test's). A dial failure is a *dialError:
// nothing reached the backend.
func (p *pool) get(ctx context.Context, addr string, now time.Time) (*backendConn, error) {
	l := p.list(addr)
	for {
		l.mu.Lock()
		n := len(l.conns)
		if n == 0 {
			l.mu.Unlock()
			break
		}
		c := l.conns[n-1] // most recently used first: its peer is least likely to have timed it out
		l.conns[n-1] = nil
		l.conns = l.conns[:n-1]
		l.mu.Unlock()
		if c.rd.Passed(now) {
			c.rd.Clear() // a spent response deadline would fail the probe
		}
		if now.Sub(c.idle) < p.idleTimeout && c.alive() {
			c.reused = true
			return c, nil
		}
		c.Close()
	}
	nc, err := p.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, &dialError{err: err}
	}
	c := &backendConn{Conn: nc, list: l, br: bufio.NewReaderSize(nc, p.bufSize), bw: bufio.NewWriterSize(nc, p.bufSize)}
	c.rd.Init(nc)
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			c.raw = raw
			c.peek = func(fd uintptr) bool {
				var b [1]byte
				_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
				// EAGAIN: nothing to read, the connection is open and
				// quiet. Data (unasked-for) or end of file (closed) make it
				// unusable.
				c.peekOK = errors.Is(err, syscall.EAGAIN)
				return true // never wait
			}
		}
	}
	return c, nil
}

// put returns a connection whose exchange ended cleanly; beyond maxIdle it
// is closed.
func (p *pool) put(c *backendConn) {
	c.idle = time.Now()
	l := c.list
	l.mu.Lock()
	if len(l.conns) < p.maxIdle {
		l.conns = append(l.conns, c)
		c = nil
	}
	l.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

// closeIdle closes every idle connection.
func (p *pool) closeIdle() {
	p.byAddr.Range(func(_, v any) bool {
		l := v.(*idleList)
		l.mu.Lock()
		for _, c := range l.conns {
			c.Close()
		}
		l.conns = nil
		l.mu.Unlock()
		return true
	})
}

// alive reports whether an idle connection is still open: the backend has
// neither closed it nor sent anything unasked (one non-blocking peek).
func (c *backendConn) alive() bool {
	if c.raw == nil {
		return true
	}
	c.peekOK = false
	err := c.raw.Read(c.peek)
	return err == nil && c.peekOK
}
