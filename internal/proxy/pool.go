package proxy

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/webrouter/webrouter/internal/await"
	"github.com/webrouter/webrouter/internal/deadline"
	"github.com/webrouter/webrouter/internal/rawio"
	"github.com/webrouter/webrouter/internal/upstream"
)

// backendConn is one kept-alive HTTP/1.1 connection to a backend address.
// It has no buffers of its own: a request is built and written through
// buffers lent by the pool for as long as the writing takes, and the answer
// is read through a read buffer lent once it has begun to arrive (after
// writeAwait) until it has been passed on (pool.lendReader). A connection
// waiting for its answer, or idle, holds none; the few buffers in use at a
// time are the pool's most recently used, still in the CPU's caches.
type backendConn struct {
	net.Conn
	list   *idleList       // its pool's list for its address
	br     *bufio.Reader   // lent while an answer is read; nil otherwise
	reused bool            // it served a request before this one
	idle   time.Time       // when it went back to the pool
	rd     deadline.Read   // the response timeout (see send)
	resp   backendResponse // the response being read

	rio  rawio.Conn  // its reads, writes and idle probe, when Ready
	aw   *await.Conn // writes a request and awaits its answer; nil: not a socket
	head *[]byte     // the lent buffer writeAwait is writing
	done func()      // gives it back once written, made once
}

// pool keeps idle backend connections per address. Get and put take a
// mutex per address (the lists are found without a lock); connections
// found closed by the backend are dropped. While any connection is idle, a
// sweep every half idle timeout closes those idle longer than the timeout,
// so none outlives it by more than half of it — an address that served
// its last request (an instance gone from the registry) keeps no sockets
// open — and drops the lists that have been empty and unused as long. It
// also lends the buffers requests are written through and answers read
// through.
type pool struct {
	dialer      net.Dialer
	maxIdle     int
	idleTimeout time.Duration
	byAddr      sync.Map    // address → *idleList
	sweeping    atomic.Bool // a sweep is due (sweepSoon)
	heads       sync.Pool   // *[]byte of writeBuffer bytes' capacity
	writers     sync.Pool   // *bufio.Writer of writeBuffer bytes
	readers     sync.Pool   // *bufio.Reader of readBuffer bytes
	headers     sync.Pool   // empty http.Header maps for response heads
}

// Buffer sizes. A read buffer holds a response head whole
// (head.ReadBlock): it is readBuffer bytes, enough for nearly every head,
// and is replaced by one of maxHead for a larger one (pool.grow); a head
// larger than maxHead is refused. A request's head and a small body
// (inlineBody) go out in one write through a writeBuffer.
const (
	readBuffer  = 16 << 10
	maxHead     = 32 << 10
	writeBuffer = 32 << 10
)

// idleList is an address's idle connections, the most recently used last.
type idleList struct {
	addr  string
	mu    sync.Mutex
	conns []*backendConn
	used  time.Time // under mu: when a connection was last taken or put back
	gone  bool      // under mu: dropped from the pool's byAddr (sweep)
}

func newPool(o TransportOptions) *pool {
	p := &pool{maxIdle: o.IdleConnsPerHost, idleTimeout: o.IdleConnTimeout}
	p.heads.New = func() any { b := make([]byte, 0, writeBuffer); return &b }
	p.writers.New = func() any { return bufio.NewWriterSize(nil, writeBuffer) }
	p.readers.New = func() any { return bufio.NewReaderSize(nil, readBuffer) }
	p.headers.New = func() any { return make(http.Header, 8) }
	p.dialer = net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}
	if p.idleTimeout == 0 {
		p.idleTimeout = 90 * time.Second
	}
	if p.maxIdle <= 0 {
		p.maxIdle = 2
	}
	return p
}

// listFor is list(addr) for a request to host (whose address addr is),
// found on the host (its Local slot) without a lookup by address once
// it has been looked up there. A list the sweep dropped is gone: whoever
// finds it so, under its lock, looks again (relist).
func (p *pool) listFor(host *upstream.Host, addr string) *idleList {
	if host == nil {
		return p.list(addr)
	}
	if l, ok := host.Local.Get(p).(*idleList); ok {
		return l
	}
	l := p.list(addr)
	host.Local.Set(p, l)
	return l
}

func (p *pool) list(addr string) *idleList {
	if l, ok := p.byAddr.Load(addr); ok {
		return l.(*idleList)
	}
	l, _ := p.byAddr.LoadOrStore(addr, &idleList{addr: addr})
	return l.(*idleList)
}

// relist returns the pool's list for old's address, old being gone, and
// has host (when not nil) keep that one instead.
//
//go:noinline
func (p *pool) relist(host *upstream.Host, old *idleList) *idleList {
	l := p.list(old.addr)
	if host != nil {
		host.Local.Swap(p, old, l)
	}
	return l
}

// trustIdle is how long a connection may have been back in the pool and
// still be taken without probing it (alive), when the caller can go again
// on a fresh connection should it turn out closed (get's probe false). A
// backend's idle timeout does not end a connection that soon; one that
// closed for another reason (a restart) costs that request a second
// attempt, no error.
const trustIdle = time.Second

// get returns a live idle connection to addr (host's, when host is not
// nil), or dials a new one; now is the time (the wall clock, not a
// test's). An idle connection is probed (one non-blocking peek) unless
// probe is false and it has been idle for less than trustIdle. A dial
// failure is a *dialError: nothing reached the backend.
func (p *pool) get(ctx context.Context, host *upstream.Host, addr string, now time.Time, probe bool) (*backendConn, error) {
	l := p.listFor(host, addr)
	for {
		l.mu.Lock()
		if l.gone {
			l.mu.Unlock()
			l = p.relist(host, l)
			continue
		}
		l.used = now
		n := len(l.conns)
		if n == 0 {
			l.mu.Unlock()
			break
		}
		c := l.conns[n-1] // most recently used first: its peer is least likely to have timed it out
		l.conns[n-1] = nil
		l.conns = l.conns[:n-1]
		l.mu.Unlock()
		if age := now.Sub(c.idle); age < p.idleTimeout && (!probe && age < trustIdle || c.alive()) {
			c.reused = true
			return c, nil
		}
		c.Close()
	}
	nc, err := p.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, &dialError{err: err}
	}
	c := &backendConn{Conn: nc, list: l}
	c.rd.Init(nc)
	c.rio.Init(nc)
	c.aw = await.New(nc)
	c.done = func() { p.releaseHead(c.head); c.head = nil }
	return c, nil
}

// Read reads from the backend (raw system calls where it can: package
// rawio).
func (c *backendConn) Read(p []byte) (int, error) {
	if c.rio.Ready() {
		return c.rio.Read(p)
	}
	return c.Conn.Read(p)
}

// Write writes to the backend, as Read reads.
func (c *backendConn) Write(p []byte) (int, error) {
	if c.rio.Ready() {
		return c.rio.Write(p)
	}
	return c.Conn.Write(p)
}

// put returns a connection whose exchange ended cleanly; beyond maxIdle it
// is closed, and so is one whose backend sent more than the answer.
func (p *pool) put(c *backendConn) {
	if c.br != nil && c.br.Buffered() > 0 {
		p.discard(c)
		return
	}
	p.returnReader(c)
	p.returnHeader(c)
	c.idle = time.Now()
	l := c.list
	l.mu.Lock()
	for l.gone {
		l.mu.Unlock()
		l = p.relist(nil, l)
		c.list = l
		l.mu.Lock()
	}
	l.used = c.idle
	if len(l.conns) < p.maxIdle {
		l.conns = append(l.conns, c)
		c = nil
	}
	l.mu.Unlock()
	if c != nil {
		c.Close()
		return
	}
	p.sweepSoon()
}

// sweepSoon makes sure a sweep is due, half an idle timeout from now at
// the latest.
func (p *pool) sweepSoon() {
	if !p.sweeping.Load() && p.sweeping.CompareAndSwap(false, true) {
		time.AfterFunc(p.idleTimeout/2, p.sweep)
	}
}

// sweep closes the idle connections idle for an idle timeout or more and
// drops the lists that are empty and were not used for as long; another
// sweep is due while idle connections remain. A connection put back
// during the sweep is seen by it or has made the next one due (put).
func (p *pool) sweep() {
	p.sweeping.Store(false)
	now := time.Now()
	var expired []*backendConn
	remain := false
	p.byAddr.Range(func(_, v any) bool {
		l := v.(*idleList)
		l.mu.Lock()
		// Oldest first: the expired ones are a prefix.
		n := 0
		for n < len(l.conns) && now.Sub(l.conns[n].idle) >= p.idleTimeout {
			n++
		}
		if n > 0 {
			expired = append(expired, l.conns[:n]...)
			m := copy(l.conns, l.conns[n:])
			clear(l.conns[m:])
			l.conns = l.conns[:m]
		}
		if len(l.conns) == 0 && now.Sub(l.used) >= p.idleTimeout {
			l.gone = true
			p.byAddr.CompareAndDelete(l.addr, l)
		}
		remain = remain || len(l.conns) > 0
		l.mu.Unlock()
		return true
	})
	for _, c := range expired {
		c.Close()
	}
	if remain {
		p.sweepSoon()
	}
}

// head lends an empty buffer to build a request's head (and a small body)
// in; give it back with releaseHead.
func (p *pool) head() *[]byte {
	return p.heads.Get().(*[]byte)
}

// releaseHead takes back a buffer lent by head.
func (p *pool) releaseHead(b *[]byte) {
	if cap(*b) == writeBuffer { // one grown past it is left to the GC
		*b = (*b)[:0]
		p.heads.Put(b)
	}
}

// writer lends a write buffer that writes to c; give it back with release
// once flushed (or failed).
func (p *pool) writer(c net.Conn) *bufio.Writer {
	bw := p.writers.Get().(*bufio.Writer)
	bw.Reset(c)
	return bw
}

// release takes back a lent write buffer; what it still holds is dropped.
func (p *pool) release(bw *bufio.Writer) {
	bw.Reset(nil)
	p.writers.Put(bw)
}

// writeAwait writes a complete request and waits for its answer to begin
// (package await). The request is built in hb, a buffer lent by head,
// which goes back to the pool as soon as it is written, not after the
// wait; or, with hb nil, it is kept, which the caller gives back. body,
// when not empty, follows it (in the same writev): a body held in the
// client's read buffer (see takeBody). It returns the write's error.
func (c *backendConn) writeAwait(p *pool, hb *[]byte, kept, body []byte) error {
	req := kept
	if hb != nil {
		req = *hb
	}
	var err error
	if c.aw == nil {
		_, err = c.Conn.Write(req)
		if err == nil && len(body) > 0 {
			_, err = c.Conn.Write(body)
		}
		if hb != nil {
			p.releaseHead(hb)
		}
		return err
	}
	c.head = hb
	after := c.done
	if hb == nil {
		after = nil
	}
	_, err = c.aw.WriteAwait(req, body, after)
	if c.head != nil { // not written whole
		c.done()
	}
	return err
}

// lendReader gives c a read buffer for the answer, if it has none.
func (p *pool) lendReader(c *backendConn) {
	if c.br == nil {
		c.br = p.readers.Get().(*bufio.Reader)
		c.br.Reset(c)
	}
}

// returnReader takes back c's read buffer; what it still holds is dropped.
// A grown one is left to the GC.
func (p *pool) returnReader(c *backendConn) {
	if c.br == nil {
		return
	}
	if c.br.Size() == readBuffer {
		c.br.Reset(nil)
		p.readers.Put(c.br)
	}
	c.br = nil
}

// headerInto makes dst, the client's answer's empty header map, the one
// c's response head is read into (see backendResponse). Where dst holds
// fields already (set before the answer), it lends c one instead: the
// head's fields are then copied over (responseHead). c holds no map here
// (returnHeader took it when c went back to the pool). returnHeader takes
// a lent map back once the answer has been passed on.
// Like the buffers, the maps in use are the few most recently used, still
// in the CPU's caches, where one kept by each of many connections would
// be cold at its next answer.
// With dst as the map, the fields the client's answer's writer can take
// as lines (to, if not nil) are set aside for it (see backendResponse).
func (p *pool) headerInto(c *backendConn, dst http.Header, to fieldPasser) {
	if len(dst) == 0 {
		c.resp.Header, c.resp.lent, c.resp.passTo = dst, false, to
	} else {
		c.resp.Header, c.resp.lent, c.resp.passTo = p.headers.Get().(http.Header), true, nil
	}
}

// returnHeader lets go of c's response header map: a lent one goes back
// to the pool emptied (one grown for an unusual head is left to the GC);
// the client's answer's stays as it is. Nothing may use the response's
// Header after (its values, handed on, stay valid).
func (p *pool) returnHeader(c *backendConn) {
	h := c.resp.Header
	c.resp.Header, c.resp.passTo = nil, nil
	if c.resp.lent && h != nil && len(h) <= keptFields {
		clear(h)
		p.headers.Put(h)
	}
}

// discard closes a connection that is not to be reused.
func (p *pool) discard(c *backendConn) {
	p.returnReader(c)
	p.returnHeader(c)
	c.Close()
}

// grow replaces c's read buffer, when smaller than maxHead, by one of
// maxHead bytes, keeping what it held, and reports whether it did: a
// response head that did not fit may then be read again.
func (p *pool) grow(c *backendConn) bool {
	if c.br.Size() >= maxHead {
		return false
	}
	held := buffered(c.br)
	p.returnReader(c)
	c.br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(held), c), maxHead)
	return true
}

// buffered returns a copy of what br holds.
func buffered(br *bufio.Reader) []byte {
	b, _ := br.Peek(br.Buffered())
	return bytes.Clone(b)
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
	if !c.rio.Ready() {
		return true
	}
	return c.rio.Quiet()
}
