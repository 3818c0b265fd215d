package h1

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/webrouter/webrouter/internal/await"
	"github.com/webrouter/webrouter/internal/deadline"
	"github.com/webrouter/webrouter/internal/head"
	"github.com/webrouter/webrouter/internal/rawio"
)

// watchAfter is how long a request runs before the connection is watched
// for the client going away (see the package comment).
const watchAfter = 100 * time.Millisecond

// maxDiscard is how much of a request body the handler left unread is read
// and dropped to keep the connection; beyond it, the connection is closed.
const maxDiscard = 256 << 10

// unlimited is the byte budget of a limitedReader outside request heads.
const unlimited = 1<<63 - 1

// limitedReader reads from the connection within a budget, so that a
// request head cannot grow without bound inside the bufio.Reader.
type limitedReader struct {
	c      io.Reader // the connection
	remain int64
	// While a request's body is read: the idle or header deadline left
	// set from before the body (rd.At), which a read that meets it
	// removes before it reads again (see takeBody); 0: none.
	stale int64
	rd    *deadline.Read // the connection's
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.remain <= 0 {
		return 0, errHeadTooLarge
	}
	if int64(len(p)) > l.remain {
		p = p[:l.remain]
	}
	n, err := l.c.Read(p)
	if n == 0 && err != nil && l.stale != 0 {
		n, err = l.again(p, err)
	}
	l.remain -= int64(n)
	return n, err
}

// again reads once more after a read of the body failed with err, if err
// is the stale deadline's passing (and that deadline is still the one set:
// not one the handler set, nor an interruption); otherwise it returns err.
//
//go:noinline
func (l *limitedReader) again(p []byte, err error) (int, error) {
	if !errors.Is(err, os.ErrDeadlineExceeded) || !l.rd.ClearIf(l.stale) {
		return 0, err
	}
	l.stale = 0
	return l.c.Read(p)
}

var errHeadTooLarge = errors.New("request head too large")

// gather is the writer under a connection's bufio.Writer. Normally it
// writes through; take makes the writer's Flush hand over the buffered
// bytes instead, so that they can go out in one writev with what follows.
type gather struct {
	nc     io.Writer // the connection
	taking bool
	held   []byte
	last   *rawio.Conn // non-nil: the write is the last before Close (rawio's WriteLast)
}

func (g *gather) Write(p []byte) (int, error) {
	switch {
	case g.taking:
		g.held = p
		return len(p), nil
	case g.last != nil:
		return g.last.WriteLast(p)
	}
	return g.nc.Write(p)
}

// take empties bw and returns its bytes; they stay valid until bw is
// written to again.
func (g *gather) take(bw *bufio.Writer) ([]byte, error) {
	g.taking, g.held = true, nil
	err := bw.Flush()
	g.taking = false
	held := g.held
	g.held = nil
	return held, err
}

// conn is one client connection.
type conn struct {
	s      *Server
	nc     net.Conn
	rio    rawio.Conn // nc's reads and writes (writev too), when Ready: a plain TCP connection, not TLS
	remote string
	tls    *tls.ConnectionState // nil: plain HTTP
	lr     limitedReader
	rd     deadline.Read // the connection's read deadline
	br     *bufio.Reader
	bw     *bufio.Writer // writes to out
	out    gather
	ctx    context.Context
	cancel context.CancelFunc

	hijacked bool
	// The client has hung up, as the sweep heard from the connection's
	// registration (live.register), and whether that registration was
	// tried and failed: the sweep's.
	hup, noKey bool
	slot       *slot // lent with the buffers (lend, giveBack)

	// An answer's end left buffered by finish, for flushAwait.
	held    bool
	awaited bool        // flushAwait set the idle deadline and waited: readRequest keeps it
	aw      *await.Conn // made at the first flushAwait
	idle    func()      // flushAwait's turn to StateIdle, made once

	// What the sweep reads of the connection every tick (due, waitFrom),
	// in the live list's table; set by live.add, kept for the conn's life.
	ws *watchState

	// The look for what came while an answer was made (see recheck).
	early atomic.Bool // something came so once: every later wait looks first (await.Conn.Early)

	// The client watch (see watch), started by the server's sweep.
	mu        sync.Mutex
	armed     bool          // a request is being handled and may be watched
	looks     uint8         // the sweep's quiet looks at the armed request (look)
	started   bool          // the sweep started a watcher for the armed request
	key       uint32        // live.register's key, under the live list's lock; 0: not registered
	armDue    uint64        // due as arm set it
	body      *body         // that request's body; nil: none
	watching  bool          // a watcher is reading ahead
	watchDone chan struct{} // closed when it stops
	gone      atomic.Bool   // the client closed its side

	// What to cut off when the connection's context ends (see CutOnGone).
	cutMu   sync.Mutex
	cutter  interface{ Cut() }
	cutDone bool // the context ended: what is set from now on is cut at once

	prev, next *conn // in the server's list of live connections (live)

	// For CloseIdle: the connection's state and, while it is New or Idle,
	// the watch tick (live) at which it became so.
	state    atomic.Int32 // http.ConnState
	idleTick atomic.Uint64
}

// setState records the connection's state and passes it to ConnState.
func (c *conn) setState(st http.ConnState) {
	if st == http.StateNew || st == http.StateIdle {
		c.idleTick.Store(c.s.live.tick.Load())
	}
	c.state.Store(int32(st))
	if c.s.ConnState != nil {
		c.s.ConnState(c.nc, st)
	}
}

// cutNow cuts off the current request's cutter, and any set later. It is
// called where the connection's context is ended while a handler may run:
// by the watch when the client leaves, and by the server for every live
// connection when BaseContext ends (live.cutAll) — not through a
// context.AfterFunc, which would cost a registration per connection.
// Calls after the first find nothing to cut. The cut is made under the
// lock, so once setCutter has replaced a cutter (the handler returned),
// that cutter is not cut any more.
func (c *conn) cutNow() {
	c.cutMu.Lock()
	defer c.cutMu.Unlock()
	cur := c.cutter
	c.cutter, c.cutDone = nil, true
	if cur != nil {
		cur.Cut()
	}
}

// setCutter makes x what cutNow cuts off (nil: nothing); if the context
// has already ended, x is cut at once. When it returns, the cutter it
// replaced is not being cut, nor will be.
func (c *conn) setCutter(x interface{ Cut() }) {
	c.cutMu.Lock()
	defer c.cutMu.Unlock()
	if !c.cutDone {
		c.cutter = x
	} else if x != nil {
		x.Cut()
	}
}

func (c *conn) close() {
	c.s.live.remove(c) // no handler of this connection runs any more: nothing to cut
	c.cancel()
	if c.hijacked {
		return
	}
	c.nc.Close()
	c.setState(http.StateClosed)
	c.giveBack()
}

// slot is what one request needs besides the buffers: the request, the
// response writer and their header maps. It is lent and given back with
// the buffers; on a busy connection it serves one request after another,
// cleared in between (recycle). Hence the contract that a handler keeps
// none of these once it has returned.
type slot struct {
	req  http.Request
	url  url.URL // req.URL for the common targets (originForm)
	w    response
	reqH http.Header // cleared; nil: none
	resH http.Header // cleared; nil: none
	// The request's field values (head.RequestFields) and its Host
	// field's: reqH's values are slices of vals.
	vals []string
	host [1]string
	seen head.Seen // which of head.Seen's fields req's head had
}

// maxKeptFields bounds the header maps a slot keeps: a map grown for an
// unusual head is dropped rather than held by an idle connection.
const maxKeptFields = 32

// recycle makes the slot ready for the connection's next request once the
// handler of req (whose header map was reqH) and its response w are done.
// A call of its own: inlined, its zero values took room in handle's frame.
//
//go:noinline
func (c *conn) recycle(reqH http.Header) {
	c.lr.stale = 0 // the body's end: a deadline met from now on is meant
	sl := c.slot
	if resH := sl.w.h; resH != nil && len(resH) <= maxKeptFields {
		clear(resH)
		sl.resH = resH
	}
	if reqH != nil && len(reqH) <= maxKeptFields {
		clear(reqH)
		sl.reqH = reqH
	}
	if cap(sl.vals) > maxKeptFields {
		sl.vals = nil
	} else {
		clear(sl.vals) // holds no field of a request served
	}
	sl.host[0] = ""
	sl.req = http.Request{}
	sl.w = response{}
}

// lend gives the connection a read buffer and a slot from the server's
// pools, where it has none; the write buffer comes later (writer).
func (c *conn) lend() {
	if c.slot == nil {
		if v := c.s.slots.Get(); v != nil {
			c.slot = v.(*slot)
		} else {
			c.slot = new(slot)
		}
	}
	c.reader()
}

// reader returns the connection's read buffer, lent from the server's
// pool if it has none. A request without a body gives it back before its
// handler runs (handle), for the reason writer gives.
func (c *conn) reader() *bufio.Reader {
	if c.br == nil {
		if v := c.s.readers.Get(); v != nil {
			c.br = v.(*bufio.Reader)
			c.br.Reset(&c.lr)
		} else {
			c.br = bufio.NewReaderSize(&c.lr, readBufSize)
		}
	}
	return c.br
}

// buffered is how many bytes of the client's the connection holds unread.
func (c *conn) buffered() int {
	if c.br == nil {
		return 0
	}
	return c.br.Buffered()
}

// writer returns the connection's write buffer, lent from the server's
// pool at the first write of an answer, not with the read buffer: a
// request waiting for its backend holds none, so the buffer an answer is
// written through is the pool's most recently given back, still in the
// CPU's caches. With many connections in flight, a buffer lent for the
// whole request was cold by the time its answer was copied in.
func (c *conn) writer() *bufio.Writer {
	if c.bw == nil {
		if v := c.s.writers.Get(); v != nil {
			c.bw = v.(*bufio.Writer)
			c.bw.Reset(&c.out)
		} else {
			c.bw = bufio.NewWriterSize(&c.out, defaultBufSize)
		}
	}
	return c.bw
}

// giveBack returns the connection's buffers and slot to the server's
// pools; what the buffers hold is dropped.
func (c *conn) giveBack() {
	if c.slot != nil {
		c.s.slots.Put(c.slot)
		c.slot = nil
	}
	c.returnReader()
	if c.bw != nil {
		c.bw.Reset(nil)
		c.s.writers.Put(c.bw)
		c.bw = nil
	}
}

// returnReader gives the read buffer back to the server's pool; what it
// holds is dropped.
func (c *conn) returnReader() {
	if c.br != nil {
		c.br.Reset(nil)
		c.s.readers.Put(c.br)
		c.br = nil
	}
}

// serve reads and answers requests until the connection should end.
func (c *conn) serve() {
	defer func() {
		if v := recover(); v != nil && v != http.ErrAbortHandler {
			c.s.log().Error("panic serving a request", "client", c.remote, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		}
	}()
	for {
		req, err := c.readRequest()
		if err != nil {
			c.reject(err)
			return
		}
		keep := c.handle(req)
		if c.held {
			c.held = false
			if !keep {
				c.writer().Flush()
				return
			}
			if !c.flushAwait() {
				return
			}
			continue
		}
		if !keep {
			return
		}
		c.setState(http.StateIdle)
	}
}

// flushAwait writes what is left of an answer and waits for the next
// request in one hand-over to the netpoller (package await), which spares
// the read that would find nothing; the connection turns idle in between.
// It reports whether the connection goes on. The connection waits without
// buffers: they go back to the server's pools once the answer is written
// (nothing of a next request is buffered: see finish), and readRequest
// borrows them again.
func (c *conn) flushAwait() bool {
	b, err := c.out.take(c.writer())
	if err != nil {
		return false
	}
	if c.aw == nil {
		if c.aw = await.New(c.nc); c.aw == nil {
			_, err := c.nc.Write(b)
			c.setState(http.StateIdle)
			return err == nil
		}
		// Once b is written: the buffers go back (b stays valid until the
		// writer is written to again), and the connection is idle.
		c.idle = func() {
			c.giveBack()
			c.setState(http.StateIdle)
			if c.rio.Ready() {
				c.ws.waitFrom.Store(1 + c.s.live.tick.Load())
			}
		}
	}
	c.aw.Early = c.early.Load()
	c.idleDeadline()
	_, err = c.aw.WriteAwait(b, nil, c.idle)
	if c.ws.waitFrom.Swap(0) == checking {
		c.mu.Lock() // recheck is under way: let it end before the deadline is renewed
		c.mu.Unlock()
	}
	c.awaited = true
	return err == nil
}

// A client may send before it has its answer: a pipelined next request,
// or the end of its side (a half-close). What reaches the socket after the
// request was read and before flushAwait's wait began raises no readiness
// the wait can see (package await), and looking for it before every wait
// costs a system call per request. So the server's sweep looks instead,
// once, at a connection still waiting recheckTicks after its wait began
// (recheck); what it finds ends the wait, and from then on that
// connection looks before each wait (await.Conn.Early). Such a request is
// answered 100–150 ms late, once per connection; a half-closed
// connection is closed as late, not at the idle timeout.
const recheckTicks = 2

// The states of watchState.waitFrom besides a tick: recheck is looking, or has looked.
const (
	checking = math.MaxUint64 - 1
	checked  = math.MaxUint64
)

// recheck looks whether something arrived on a connection whose wait
// began at tick w-1 (see recheckTicks), and if so ends the wait. It runs on
// the sweep's goroutine.
func (c *conn) recheck(w uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ws.waitFrom.CompareAndSwap(w, checking) {
		return // the wait has ended
	}
	if c.rio.Pending() {
		c.early.Store(true)
		c.rd.Set(deadline.Past) // wakes the wait; readRequest renews the deadline
	}
	c.ws.waitFrom.CompareAndSwap(checking, checked)
}

// idleDeadline bounds the wait for the next request by IdleTimeout (none
// when zero).
func (c *conn) idleDeadline() {
	if d := c.s.IdleTimeout; d > 0 {
		c.rd.Renew(time.Now(), d)
	} else {
		c.rd.Clear()
	}
}

// readRequest waits (up to IdleTimeout) for the next request and reads its
// head (within ReadHeaderTimeout and MaxHeaderBytes).
//
// The deadlines are renewed lazily (package deadline) and not removed once
// the head is read: nothing reads from the connection while the handler
// runs, except the request body's reads, which remove the deadline only
// when a read meets it (takeBody, limitedReader.again), and the watch and
// a hijacker, which remove it first (watch, Hijack).
func (c *conn) readRequest() (*http.Request, error) {
	c.lend()
	if c.br.Buffered() == 0 {
		// After flushAwait the idle deadline is the one it set before its
		// wait; renewed, one that passed during the wait would give the
		// connection a second idle period. Only recheck's interruption
		// (deadline.Past) is renewed: what it found is read.
		if !c.awaited || c.rd.At() == deadline.Past.UnixNano() {
			c.idleDeadline()
		}
		c.lr.remain = c.s.headLimit() // the first read takes no more
		if _, err := c.br.Peek(1); err != nil {
			return nil, errQuiet
		}
	}
	c.awaited = false
	c.setState(http.StateActive)
	// A head that is in the buffer whole is read without waiting: the
	// header timeout matters only for one still arriving (headWait).
	c.lr.remain = c.s.headLimit() - int64(c.br.Buffered())
	req, err := c.readHead()
	c.lr.remain = unlimited
	if err != nil {
		switch {
		case errors.Is(err, errHeadTooLarge):
			return nil, statusError{http.StatusRequestHeaderFieldsTooLarge, "431 Request Header Fields Too Large"}
		case errors.Is(err, io.EOF):
			return nil, errQuiet
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, errQuiet
		}
		return nil, statusError{http.StatusBadRequest, "400 Bad Request: " + err.Error()}
	}
	if req.ProtoMajor != 1 {
		return nil, statusError{http.StatusHTTPVersionNotSupported, "505 HTTP Version Not Supported"}
	}
	// http.ReadRequest has refused a repeated Host and moved the value
	// to req.Host; an empty one counts as missing (stricter than net/http,
	// which routes an empty Host to the default).
	switch {
	case req.ProtoAtLeast(1, 1) && req.Host == "" && req.Method != "CONNECT":
		return nil, statusError{http.StatusBadRequest, "400 Bad Request: missing required Host header"}
	case !httpguts.ValidHostHeader(req.Host):
		return nil, statusError{http.StatusBadRequest, "400 Bad Request: malformed Host header"}
	}
	req.RemoteAddr = c.remote
	req.TLS = c.tls
	return req, nil
}

// errQuiet ends a connection without an answer: the client left, or idled
// or stalled past a timeout.
var errQuiet = errors.New("connection ends")

// statusError is a request refused before the handler saw it.
type statusError struct {
	code int
	text string
}

func (e statusError) Error() string { return e.text }

// reject answers a request that could not be read, if it deserves an
// answer; the connection ends after it.
func (c *conn) reject(err error) {
	var se statusError
	if !errors.As(err, &se) {
		return
	}
	c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	c.rd.Forget()
	fmt.Fprintf(c.writer(), "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s",
		se.code, http.StatusText(se.code), len(se.text), se.text)
	c.writer().Flush()
	// Let the client read the answer before the close resets the
	// connection (it may still be sending).
	if tc, ok := c.nc.(interface{ CloseWrite() error }); ok {
		tc.CloseWrite()
		c.nc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		io.CopyN(io.Discard, c.nc, 256<<10)
	}
}

// handle runs the handler on req and reports whether the connection can
// carry another request.
func (c *conn) handle(req *http.Request) (keep bool) {
	// The rare branches are calls of their own: this frame stays small,
	// and it is on the request's goroutine's stack, cold memory on a
	// router with many connections (see forwardHeader in package proxy).
	w := &c.slot.w
	*w = response{}
	w.c, w.req, w.cl, w.passLen, w.h, w.seen = c, req, -1, -1, c.slot.resH, c.slot.seen
	c.slot.resH = nil
	reqH := req.Header
	if req.Body != nil && req.Body != http.NoBody && !c.takeBody(req, w) {
		c.recycle(reqH)
		return false
	}
	if w.body == nil && c.br.Buffered() == 0 {
		// Nothing more to read for this request: the handler, which may
		// wait long for its backend, runs without the read buffer.
		c.returnReader()
	}
	if req.ProtoAtLeast(1, 1) {
		w.closeAfter = req.Close
	} else {
		w.closeAfter = w.seen&head.SeenConnection == 0 || !httpguts.HeaderValuesContainsToken(req.Header["Connection"], "keep-alive")
	}
	w.asked = w.closeAfter
	if req.Method == "OPTIONS" && req.RequestURI == "*" {
		keep := w.answerOptions()
		c.recycle(reqH)
		return keep
	}
	c.arm(w.body, w.seen&head.SeenHop == 0 || req.Header["Upgrade"] == nil)
	defer func() {
		if v := recover(); v != nil {
			c.recovered(v, req)
			keep = false
		}
	}()
	c.s.Handler.ServeHTTP(w, req)
	c.setCutter(nil)
	c.disarm()
	if c.hijacked {
		c.slot = nil // the hijacker may go on using the request
		return false
	}
	keep = w.finish() && !c.gone.Load() && c.ctx.Err() == nil
	c.recycle(reqH)
	return keep
}

// takeBody makes the request's body read through the connection (body),
// and reports false when the request was refused (an Expect other than
// 100-continue: answered 417).
//
//go:noinline
func (c *conn) takeBody(req *http.Request, w *response) bool {
	b := &body{rc: req.Body, c: c, w: w}
	if req.ProtoAtLeast(1, 1) && req.ContentLength != 0 && w.seen&head.SeenExpect != 0 {
		if e, ok := req.Header["Expect"]; ok {
			if len(e) != 1 || !strings.EqualFold(e[0], "100-continue") {
				c.reject(statusError{http.StatusExpectationFailed, "417 Expectation Failed"})
				return false
			}
			b.expect = true
		}
	}
	w.body = b
	req.Body = b
	// The body is read without a deadline. The idle or header deadline
	// still set is far off (seconds) and is left to be removed by the
	// read that meets it, if one does (limitedReader.again): removing it
	// here and setting the idle deadline again after the answer were two
	// timer changes per request with a body.
	if at := c.rd.At(); at >= 0 {
		c.lr.stale = at
	} else {
		c.rd.Clear() // a deadline set behind rd's back (Forget): not known to be stale
	}
	return true
}

// answerOptions answers "OPTIONS *" (the server, not a resource) and
// reports whether the connection stays.
//
//go:noinline
func (w *response) answerOptions() bool {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return w.finish()
}

// recovered ends a request whose handler panicked with v.
//
//go:noinline
func (c *conn) recovered(v any, req *http.Request) {
	c.setCutter(nil)
	c.disarm()
	if v != http.ErrAbortHandler {
		c.s.log().Error("panic serving a request", "client", c.remote, "url", req.RequestURI, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	}
	c.slot = nil // what the handler left running may still use it
}

// arm starts the client watch of the request with body b (nil: none);
// watchable is false for requests whose connection may be hijacked.
func (c *conn) arm(b *body, watchable bool) {
	if !watchable {
		return
	}
	c.mu.Lock()
	c.armed, c.body, c.looks, c.started = true, b, 0, false
	c.armDue = c.s.live.due()
	c.ws.due.Store(c.armDue)
	c.mu.Unlock()
}

// Looking before watching. A watcher is a goroutine, two deadline changes
// and a wake-up: about 10 µs of CPU, a quarter of a proxied request's own
// cost behind a backend that takes 200 ms (bench/perf, slow case). So on
// a connection the sweep can peek at (raw socket I/O: rawio), the sweep
// first looks whether anything has come from the client, maxLooks times,
// with one non-blocking peek each. The watcher starts when something has
// (the client's end, an error, or a pipelined request, which the watcher
// tells apart by reading), or when the request still runs after the last
// look. The looks come 1, 2 and 4 ticks apart after the first, and the
// watcher 8 ticks after the last: at 100–150, 150–200, 250–300 and 450–500
// ms of a request's age, the watcher at 850–900 ms. A client that leaves
// meanwhile is seen within about two thirds of its request's age, and at
// once from then on. A TLS connection, which the sweep cannot peek at (a
// close_notify alert is data), is watched from the start.
//
// Hearing instead of looking. On Linux the looks, two peeks for a request
// that takes 200 ms, were half of such a request's reads (bench/perf,
// slow case: four a request, against nginx's two). So the sweep registers
// a connection, when a request on it is first due, for its client's
// hang-up (live.register, package hangup: one epoll_ctl for the
// connection's life) and polls for hang-ups every tick (one epoll_wait
// for all connections). A TLS connection is registered too, by the TCP
// connection beneath it, and no longer gets a watcher for every request
// that is due; a TLS client that sends its close_notify alert and keeps
// the TCP connection open is then not heard of (browsers and Go's
// crypto/tls close it after the alert). A registered connection is not
// looked at and gets no watcher until its client hangs up (hup, then a
// watcher that tells the client's end from a pipelined request by what is
// in the socket); a client that leaves is heard of at the sweep's next
// tick once its request is due, and at the request's due time before.
// Data a client sends raises no event, so a busy connection pays nothing
// for it. The looks remain for a connection that could not be registered.
const maxLooks = 4

// control calls f with the descriptor of the TCP connection c is, or is
// over (TLS), and reports whether it could: not when there is none or it
// is closed.
func (c *conn) control(f func(fd uintptr)) bool {
	if c.rio.Ready() {
		return c.rio.Control(f) == nil
	}
	nc := c.nc
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	return err == nil && rc.Control(f) == nil
}

// look is the sweep's look at a request that is due or whose client hung
// up (see maxLooks), on the sweep's goroutine; it reports whether to start
// the watcher, at most once a request.
func (c *conn) look(now uint64) (watch bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.started || !c.watchable(now):
		return false
	case c.hup || c.looks >= maxLooks:
	case c.key != 0:
		return false // registered: the sweep hears when the client leaves
	case !c.rio.Pending():
		c.ws.due.Store(now + 1<<c.looks)
		c.looks++
		return false
	}
	c.started = true
	return true
}

// watchable reports, under c.mu, whether the request the sweep found due
// at tick now is to be looked at or watched; if not, it sets when it is
// due again, if ever.
func (c *conn) watchable(now uint64) bool {
	switch {
	case !c.armed:
		return false
	case now < c.armDue:
		// The request the sweep found due ended and the next one was
		// armed since: it is watched in its turn.
		c.ws.due.Store(c.armDue)
		return false
	case c.body != nil && !c.body.eof.Load():
		c.ws.due.Store(c.s.live.due()) // still uploading: look again later
		return false
	}
	return true
}

// watch runs once a request has been handled for watchAfter (the
// server's sweep starts it, on a connection it can peek at once it has
// looked or heard the client hang up: see maxLooks). Once the request
// body has been read, it waits for the connection to turn readable — on
// plain TCP without reading (the read buffer may hold a body's bytes the
// handler still uses: body.Held), over TLS by reading ahead into the
// buffer (the buffered reader is then idle): end of stream or an error
// means the client left, and the connection's context is cancelled so the
// handler can stop. A pipelined next request stays for the loop, in the
// socket or buffered.
func (c *conn) watch() {
	c.mu.Lock()
	if !c.watchable(c.s.live.tick.Load()) {
		c.mu.Unlock()
		return
	}
	c.watching = true
	done := make(chan struct{})
	c.watchDone = done
	// The idle or header deadline may still be set. Removed under the lock,
	// so that disarm's interruption comes after.
	c.rd.Clear()
	c.mu.Unlock()
	defer close(done)
	var err error
	if c.rio.Ready() {
		// Waited for without reading: a body's bytes the handler holds
		// (body.Held) stay in the read buffer. A pipelined request stays
		// in the socket for the loop.
		_, err = c.rio.WaitReadable()
	} else {
		_, err = c.reader().Peek(1)
	}
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.mu.Lock()
			stopped := !c.armed
			c.mu.Unlock()
			if stopped {
				return // disarm interrupted us
			}
		}
		c.gone.Store(true)
		c.cancel()
		c.cutNow()
	}
}

// disarm ends the client watch of the current request and waits for a
// running watcher to stop reading.
func (c *conn) disarm() {
	c.mu.Lock()
	if !c.armed {
		c.mu.Unlock()
		return
	}
	c.armed = false
	c.ws.due.Store(0)
	c.body = nil
	watching, done := c.watching, c.watchDone
	c.watching, c.watchDone = false, nil
	c.mu.Unlock()
	if watching {
		c.rd.Set(deadline.Past)
		<-done
		c.rd.Set(time.Time{})
	}
}

// body is the request body as the handler sees it: it counts reads to end
// of body, sends "100 Continue" on the first read when asked for, and is
// never closed underneath the connection (the loop decides what happens to
// an unread rest).
type body struct {
	rc     io.ReadCloser
	c      *conn
	w      *response
	expect bool // send 100 Continue before the first read
	asked  bool // the first read happened (reader's goroutine only)
	sent   bool // under w.continueMu: 100 Continue was sent
	closed bool
	eof    atomic.Bool
}

func (b *body) Read(p []byte) (int, error) {
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.eof.Load() {
		return 0, io.EOF
	}
	if b.expect && !b.asked {
		b.asked = true
		b.w.continueMu.Lock()
		var err error
		if !b.w.headerDone {
			b.sent = true
			bw := b.c.writer()
			bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
			err = bw.Flush()
		}
		b.w.continueMu.Unlock()
		if err != nil {
			return 0, err
		}
	}
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.eof.Store(true)
	}
	return n, err
}

func (b *body) Close() error {
	b.closed = true
	return nil
}

// Held returns the rest of the body when the connection's read buffer
// holds all of it already, and consumes it: the body then reads as ended.
// The bytes are the buffer's, not a copy, and stay as they are until the
// handler returns: nothing reads into that buffer meanwhile (on a
// plain TCP connection the client watch waits without reading: see
// watch). A proxy sends them on as they are. nil, with nothing consumed:
// the body is not all there yet, is chunked, waits for a "100 Continue",
// was closed, or the connection is TLS (whose watch reads ahead into the
// buffer).
func (b *body) Held() []byte {
	rc, ok := b.rc.(readCloser)
	if !ok || b.closed || b.eof.Load() || b.expect && !b.asked || !b.c.rio.Ready() {
		return nil
	}
	p := rc.Held()
	if p != nil {
		b.eof.Store(true)
	}
	return p
}

// drain reads what the handler left of the body, up to maxDiscard, and
// reports whether the connection is still in step with the client.
func (b *body) drain() bool {
	if b.eof.Load() {
		return true
	}
	b.w.continueMu.Lock()
	unsent := b.expect && !b.sent
	b.w.continueMu.Unlock()
	if unsent {
		return false // the client may never send it
	}
	_, err := io.CopyN(io.Discard, b.rc, maxDiscard+1)
	return err == io.EOF
}
