package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/webrouter/webrouter/internal/balance"
	"github.com/webrouter/webrouter/internal/deadline"
	"github.com/webrouter/webrouter/internal/head"
	"github.com/webrouter/webrouter/internal/route"
	"github.com/webrouter/webrouter/internal/upstream"
)

// exchange is the state of one proxied request, shared by the handler, the
// Rewrite hook, the retrying transport and the error handler through the
// request's context.
type exchange struct {
	idv      [1]string // the request id (id), as a header's values (idValue)
	idb      [16]byte  // a generated id's digits, which idv's string holds
	start    time.Time // when the request began; zero without an access log
	clientIP string
	route    *route.Route
	svc      *route.Service
	rw       recorder

	tried       balance.Tried
	target      *upstream.Target // the last target tried
	attempts    int
	upstreamDur time.Duration // last attempt: request sent → response headers
	upStatus    int           // status the backend answered with
	err         error         // last upstream error
	body        *countingBody // the request body, when there is one

	clientCtx context.Context    // the server's request context: done when the client goes
	cancel    context.CancelFunc // ReverseProxy path: cancels the forwarded request
	bodyDone  chan error         // fast path: the request body writer's result
	request   []byte             // fast path: the whole request, head and a small body, or the head alone when the body is held (takeBody)
	held      []byte             // fast path: a small body held in the client's read buffer, sent after request (takeBody)
	// Fast path: the values of the backend's answer's fields, which the
	// client's answer's header holds (readResponse), for a head of up to
	// seven fields; a larger one takes an array of its own.
	vals [8]string

	// The flags sit together, in one word: the exchange is one allocation
	// per request, 472 bytes, in the 480-byte size class; each word more
	// moves it to the next class (512).
	https       bool // the client came through the TLS entry point
	deadRetried bool
	gone        bool      // the client went away before its answer
	seen        head.Seen // which of head.Seen's fields the client's request has (see requestSeen)

	// Cut off (see Cut): the client went away, or the target's drain
	// deadline passed. conn is the fast path's backend connection while an
	// attempt uses it.
	aborted atomic.Bool
	conn    atomic.Pointer[backendConn]
	tracked upstream.Tracked // on the target's endpoint during an attempt (beginAttempt)
}

// Cut stops the exchange's work on its backend: the request's context is
// cancelled (ReverseProxy path), blocked I/O on the backend connection is
// interrupted (fast path). It is called when the client's context ends and
// when the target's drain deadline passes (upstream.Cutter); it may run on
// any goroutine. The connection handed over (use) sees it either way: use
// stores the connection before it checks aborted, Cut sets aborted before
// it loads the connection.
func (x *exchange) Cut() {
	x.aborted.Store(true)
	if c := x.conn.Load(); c != nil {
		c.SetDeadline(deadline.Past)
	}
	if x.cancel != nil {
		x.cancel()
	}
}

// use makes c the connection Cut interrupts (nil: none).
func (x *exchange) use(c *backendConn) {
	x.conn.Store(c)
	if c != nil && x.aborted.Load() {
		c.SetDeadline(deadline.Past)
	}
}

// cutShort reports whether the exchange was cut off or its client is gone:
// a failure then is not the backend's fault and is not retried.
func (x *exchange) cutShort() bool {
	return x.aborted.Load() || x.clientCtx.Err() != nil
}

// id returns the request id: the client's, or one generated (setID).
func (x *exchange) id() string { return x.idv[0] }

// idValue returns the request id as a header's values, without allocating.
func (x *exchange) idValue() []string { return x.idv[:] }

// setID takes the client's request id, if it may be kept, else generates
// one from g into x's own array, which the id's string then holds: an id
// takes no allocation of its own. The array is never written again.
func (x *exchange) setID(client string, g *idGen) {
	if validRequestID(client) {
		x.idv[0] = client
		return
	}
	g.next(&x.idb)
	x.idv[0] = unsafe.String(&x.idb[0], len(x.idb))
}

// next picks the target of the next attempt and records it, or returns nil
// when no usable target is left.
func (x *exchange) next(now time.Time) *upstream.Target {
	t := x.svc.Picker.Pick(now, x.clientIP, &x.tried)
	if t != nil {
		x.tried.Add(t)
		x.target = t
		x.attempts++
		x.beginAttempt(t)
	}
	return t
}

// lastErr is why the request has no answer when no target is left.
func (x *exchange) lastErr() error {
	if x.err != nil {
		return x.err
	}
	return errNoInstance
}

// failed records a failed attempt on t (passive health included) and
// reports whether to try another target: a request that never reached a
// backend (connect failed) may go anywhere, whatever its method; an
// idempotent request without a body that failed on a dead connection gets
// one more try; a request whose body was sent, that timed out, or whose
// client is gone is not retried.
func (x *exchange) failed(t *upstream.Target, now time.Time, err error, replayable, clientGone bool, onTrip func(*exchange, error)) bool {
	x.endAttempt(t)
	x.err = err
	if clientGone || x.body.readErr() != nil {
		return false
	}
	if t.Host.Failure(now, x.svc.MaxFails, x.svc.FailTimeout) && onTrip != nil {
		onTrip(x, err)
	}
	if x.attempts >= balance.MaxTries || x.body.sent() {
		return false
	}
	var de *dialError
	switch {
	case errors.As(err, &de):
		return true
	case replayable && !x.deadRetried && !isTimeout(err):
		x.deadRetried = true
		return true
	}
	return false
}

// beginAttempt counts an attempt on t and arranges for t's drain deadline
// to cut it off.
func (x *exchange) beginAttempt(t *upstream.Target) {
	t.Host.Begin()
	t.Endpoint.Begin()
	t.Endpoint.Track(&x.tracked, x)
}

// endAttempt undoes beginAttempt once the attempt is over.
func (x *exchange) endAttempt(t *upstream.Target) {
	t.Host.End()
	t.Endpoint.End()
	t.Endpoint.Untrack(&x.tracked)
}

// cutByDrain reports whether the forwarded request was cut off by the
// target's drain deadline rather than by the client.
func (x *exchange) cutByDrain() bool {
	return x.target != nil && x.target.Endpoint.CutOff() && x.clientCtx.Err() == nil
}

type exchangeKey struct{}

func withExchange(ctx context.Context, x *exchange) context.Context {
	return context.WithValue(ctx, exchangeKey{}, x)
}

func exchangeFrom(ctx context.Context) *exchange {
	x, _ := ctx.Value(exchangeKey{}).(*exchange)
	return x
}

// recorder remembers the status and size of the response it passes on.
// Unwrap lets http.ResponseController reach the server's writer for
// hijacking (WebSockets) and deadlines.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *recorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// countingBody counts what the transport read of the client's request body,
// so that a request whose body was (partly) sent is never retried, and
// remembers a read error, which is the client's fault, not the backend's.
type countingBody struct {
	rc  io.ReadCloser
	n   atomic.Int64
	err atomic.Pointer[error]
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n.Add(int64(n))
	if err != nil && err != io.EOF {
		b.fail(err)
	}
	return n, err
}

// Close is a no-op: the server closes the client's body, and the transport
// must not close it between attempts.
func (b *countingBody) Close() error { return nil }

// fail records err as the body's read error. A call of its own: taking
// the address of a caller's err would move that variable to the heap on
// every call, failing or not.
//
//go:noinline
func (b *countingBody) fail(err error) { b.err.Store(&err) }

func (b *countingBody) sent() bool { return b != nil && b.n.Load() > 0 }

func (b *countingBody) readErr() error {
	if b == nil {
		return nil
	}
	if p := b.err.Load(); p != nil {
		return *p
	}
	return nil
}

// upstreamBody ends the attempt when the proxy closes the response body,
// i.e. when the response (or, for a switched protocol, the connection) has
// been passed on.
type upstreamBody struct {
	io.ReadCloser
	x    *exchange
	t    *upstream.Target
	done atomic.Bool
}

func (b *upstreamBody) Close() error {
	err := b.ReadCloser.Close()
	if b.done.CompareAndSwap(false, true) {
		b.x.endAttempt(b.t)
	}
	return err
}

// upstreamConn is an upstreamBody for a switched protocol (101): the
// backend connection, which the proxy reads and writes until either side
// closes.
type upstreamConn struct {
	*upstreamBody
	w io.Writer
}

func (c upstreamConn) Write(p []byte) (int, error) { return c.w.Write(p) }

func wrapUpstreamBody(body io.ReadCloser, x *exchange, t *upstream.Target) io.ReadCloser {
	ub := &upstreamBody{ReadCloser: body, x: x, t: t}
	if rwc, ok := body.(io.ReadWriteCloser); ok {
		return upstreamConn{upstreamBody: ub, w: rwc}
	}
	return ub
}
