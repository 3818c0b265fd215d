package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/webrouter/webrouter/internal/deadline"
	"github.com/webrouter/webrouter/internal/head"
	"github.com/webrouter/webrouter/internal/upstream"
)

// The fast path forwards every request but protocol upgrades (and h2c
// services, which go over an HTTP/2 transport) over the proxy's own
// HTTP/1.1 connection pool, on the request's goroutine: the client's
// headers are written straight to the backend connection (no request
// clone, no per-connection goroutines, no channel hand-offs), and the
// answer is streamed back. A request without a streamed body is written
// and its answer awaited in one hand-over to the netpoller (package
// await), which spares a read that would find nothing yet. Upgrades
// (WebSocket) take the ReverseProxy path. Both paths share picking,
// retries and passive health (exchange).

// errStale marks a kept-alive connection the backend had closed: nothing of
// the request reached it, or (for a request that may go again, see
// attempt) no answer came back before the connection ended.
var errStale = errors.New("backend closed the kept-alive connection")

// smallBuffer and bigBuffer are the sizes of the pooled copy buffers.
const (
	smallBuffer = 32 << 10
	bigBuffer   = 128 << 10
)

// inlineBody is the largest request body of known length that is read
// whole before it is sent (see forward); it fits a pooled buffer and, with
// the head, a lent write buffer (writeBuffer).
const inlineBody = 24 << 10

// bodyGrace is how long an answer waits for its request body's writer
// before it is taken for an early answer (see stream).
const bodyGrace = 50 * time.Millisecond

// forward serves r on the fast path.
func (p *Proxy) forward(x *exchange, r *http.Request) {
	target := requestTarget(x, r)
	if !(r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0) {
		req, ok := p.takeBody(x, r, target)
		if !ok {
			return
		}
		if req != nil {
			defer p.pool.releaseHead(req)
		}
	}
	replayable := x.body == nil && idempotent(r.Method)
	for {
		now := p.now()
		tgt := x.next(now)
		if tgt == nil {
			p.fail(x, x.lastErr())
			return
		}
		resp, c, err := p.attempt(x, r, tgt, target, replayable, now)
		x.upstreamDur = p.now().Sub(now)
		if err == nil {
			tgt.Host.Success()
			x.upStatus = resp.StatusCode
			p.stream(x, resp, c, tgt)
			return
		}
		if !x.failed(tgt, now, err, replayable, x.cutShort(), p.backendDown) {
			p.fail(x, err)
			return
		}
	}
}

// takeBody prepares the request's body for forward. A small body (of
// known length) is read whole first, right behind the request's head, which
// is built for it at once (the head is the same for every attempt): the
// request is then complete in one buffer lent by the pool (x.request, the
// buffer returned, to be given back once the exchange is over), goes out
// in one write without being copied again, and can be sent again to another
// instance. A small body the client's connection holds whole already
// (heldBody) is not copied at all: the head is built alone, and every
// attempt writes it and the body where it lies (x.held) in one writev.
// Any other body streams (x.body), and may still be read after the
// answer has begun (a backend that streams while it reads). false:
// reading the body failed, and the client has been answered. A call of its
// own, so that its temporaries take no room in forward's frame (see
// Proxy.reverse).
//
//go:noinline
func (p *Proxy) takeBody(x *exchange, r *http.Request, target string) (*[]byte, bool) {
	if r.ContentLength > 0 && r.ContentLength <= inlineBody {
		req := p.pool.head()
		b := appendHead(*req, x, r, target)
		*req = b
		if h, ok := r.Body.(heldBody); ok {
			if held := h.Held(); held != nil {
				// The client's read buffer holds it all: sent from there,
				// behind the head, without a copy.
				x.request, x.held = b, held
				return req, true
			}
		}
		n := len(b)
		b = slices.Grow(b, int(r.ContentLength))[:n+int(r.ContentLength)]
		*req = b
		if _, err := io.ReadFull(r.Body, b[n:]); err != nil {
			p.pool.releaseHead(req)
			x.body = &countingBody{}
			x.body.fail(err)
			p.fail(x, err)
			return nil, false
		}
		x.request = b
		return req, true
	}
	x.body = &countingBody{rc: r.Body}
	_ = http.NewResponseController(x.rw.ResponseWriter).EnableFullDuplex()
	return nil, true
}

// heldBody is a request body that can hand over its bytes where the
// client's connection holds them already (h1's, on plain TCP): the whole
// rest, consumed, valid until the handler returns; nil when not all there.
type heldBody interface {
	Held() []byte
}

// attempt sends the request to tgt and reads the response head. A kept-alive
// connection found closed is replaced by a fresh one, once: found so
// before anything was sent, or, for a replayable request (no streamed
// body, an idempotent method), before any answer came. Such a request
// takes a recently used connection without probing it first (pool.get):
// a backend that closed it costs a second attempt, not an error, as with
// Go's http.Transport and nginx. The second attempt's connection is
// probed. now is p.now's reading just before, which, from the real
// clock, spares the first try a reading of its own.
func (p *Proxy) attempt(x *exchange, r *http.Request, tgt *upstream.Target, target string, replayable bool, now time.Time) (*backendResponse, *backendConn, error) {
	for retry := 0; ; retry++ {
		if retry > 0 || !p.realClock {
			now = time.Now()
		}
		c, err := p.pool.get(x.clientCtx, tgt.Host, tgt.Addr, now, !replayable || retry > 0)
		if err != nil {
			return nil, nil, err
		}
		x.use(c)
		resp, err := p.send(c, x, r, target, now, replayable)
		if err == nil {
			return resp, c, nil
		}
		x.use(nil)
		if !c.resp.lent {
			// The client's answer's header (see send): what this attempt
			// read of a head must not reach it.
			clear(c.resp.Header)
		}
		p.pool.discard(c)
		if errors.Is(err, errStale) && retry == 0 && !x.body.sent() {
			continue
		}
		if x.cutShort() {
			err = fmt.Errorf("%w (%v)", context.Canceled, err)
		}
		return nil, nil, err
	}
}

// send writes the request on c and reads the response head, skipping
// interim (1xx) responses. A request body is written by its own goroutine
// while the head is read — a backend may answer (or echo) before it has
// read the whole body — and x.bodyDone reports how that went. now, the
// wall clock just before, starts the response timeout. replayable: see
// attempt.
func (p *Proxy) send(c *backendConn, x *exchange, r *http.Request, target string, now time.Time, replayable bool) (*backendResponse, error) {
	if p.responseTimeout > 0 {
		c.rd.Renew(now, p.responseTimeout)
	}
	if x.body == nil {
		// The request is complete: written, and the answer awaited, at
		// once.
		var err error
		if x.request != nil {
			err = c.writeAwait(p.pool, nil, x.request, x.held)
		} else {
			hb := p.pool.head()
			*hb = appendHead(*hb, x, r, target)
			err = c.writeAwait(p.pool, hb, nil, nil)
		}
		if err != nil {
			if c.reused {
				return nil, fmt.Errorf("%w: %v", errStale, err)
			}
			return nil, fmt.Errorf("send request: %w", err)
		}
	} else if err := p.sendStreamed(c, x, r, target); err != nil {
		return nil, err
	}
	p.pool.lendReader(c)
	// The head is read straight into the client's answer's header map,
	// whose fields pass on as they are (responseHead), or, most of them,
	// into lines the client's writer takes as they are (passer).
	p.pool.headerInto(c, x.rw.Header(), x.passer())
	resp := &c.resp
	for interim := false; ; interim = true {
		err := readResponse(c.br, r.Method, resp, x.vals[:])
		if errors.Is(err, head.ErrTooLarge) && p.pool.grow(c) {
			err = readResponse(c.br, r.Method, resp, x.vals[:])
		}
		if err != nil {
			return nil, responseError(c, x, err, interim, replayable)
		}
		switch {
		case resp.StatusCode == http.StatusSwitchingProtocols:
			return nil, errors.New("backend switched protocols on a request that did not ask to")
		case resp.StatusCode < 200:
			continue // interim answers (103 Early Hints) are not passed on
		}
		// The deadline bounds the wait for the head, not the body, which
		// may take its time. A body that is already buffered whole needs no
		// more reads: the deadline stays, to be renewed (cheaply) by the
		// connection's next request.
		if resp.ContentLength < 0 || int64(c.br.Buffered()) < resp.ContentLength {
			c.rd.Clear()
		}
		return resp, nil
	}
}

// responseError is the error of send when reading the answer's head
// failed with err: the request body's writer's failure first, if any;
// errStale for a kept-alive connection the backend had closed (see
// attempt). A call of its own (see Proxy.reverse).
//
//go:noinline
func responseError(c *backendConn, x *exchange, err error, interim, replayable bool) error {
	if berr := x.waitBody(c, false); berr != nil && !isTimeout(err) {
		return fmt.Errorf("send request body: %w", berr)
	}
	if c.reused && !interim && c.br.Buffered() == 0 && closedEarly(err) {
		if replayable {
			return fmt.Errorf("%w: %v", errStale, err)
		}
		return fmt.Errorf("backend closed the connection without answering: %w", err)
	}
	return err
}

// sendStreamed writes the head of a request whose body streams, and
// starts the body's writer (x.bodyDone reports how it went). A call of its
// own, so that its temporaries take no room in send's frame (see
// Proxy.reverse).
//
//go:noinline
func (p *Proxy) sendStreamed(c *backendConn, x *exchange, r *http.Request, target string) error {
	bw := p.pool.writer(c)
	hb := p.pool.head()
	*hb = appendHead(*hb, x, r, target)
	bw.Write(*hb)
	p.pool.releaseHead(hb)
	if c.reused {
		// Learn that a kept-alive connection is dead before the client's
		// body is consumed, so the request can still be retried.
		if err := bw.Flush(); err != nil {
			p.pool.release(bw)
			return fmt.Errorf("%w: %v", errStale, err)
		}
	}
	done := make(chan error, 1)
	x.bodyDone = done
	go func() {
		bp := p.bufs.Get().(*[]byte)
		defer p.bufs.Put(bp)
		err := writeBody(bw, x.body, r.ContentLength, *bp)
		if err == nil {
			err = bw.Flush()
		}
		p.pool.release(bw)
		done <- err
	}()
	return nil
}

// closedEarly reports whether err, reading a response head, is the
// connection's end: closed (EOF) or reset by the backend.
func closedEarly(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// stream passes the response on and returns c to the pool when the
// exchange ended cleanly. An error after the head was sent aborts the
// client connection, so the client sees a truncated answer, not a short one.
func (p *Proxy) stream(x *exchange, resp *backendResponse, c *backendConn, tgt *upstream.Target) {
	// Normally the request body went out before the answer came and its
	// writer is reporting so. A writer still busy after a moment means the
	// backend answers before taking it all (an early 413, or a stream): the
	// client's connection then ends with this answer, so that its upload
	// can be abandoned without spoiling the connection for a next request.
	bodyErr, early := error(nil), false
	if x.bodyDone != nil {
		early, bodyErr = x.bodyWritten()
	}
	if resp.passTo != nil && resp.seen&head.SeenConnection != 0 {
		resp.unpass()
	}
	h := responseHead(x.rw.ResponseWriter, resp)
	if resp.passTo != nil {
		// The router's request id goes with the lines (it is fit for
		// one, validRequestID); the backend's, if any, is in h.
		if resp.seen&head.SeenRequestID != 0 {
			delete(h, "X-Request-Id")
		}
		resp.passed.Lines = appendField(resp.passed.Lines, "X-Request-Id", x.id())
	} else {
		h["X-Request-Id"] = x.idValue()
	}
	decorate(h, x.svc, x.https)
	if early {
		h.Set("Connection", "close")
	}
	if len(resp.Trailer) > 0 {
		announceTrailers(h, resp.Trailer)
	}
	if resp.passTo != nil {
		resp.passTo.PassFields(resp.passed.Lines, resp.passed.Date, resp.passLen)
	}
	x.rw.WriteHeader(resp.StatusCode)
	var err error
	if resp.bufferedWhole(c.br) {
		// The body came with the head: it is passed on from the read
		// buffer, without a copy buffer, a read or a flush.
		err = passBuffered(&x.rw, c.br, int(resp.ContentLength))
	} else {
		// Large or unknown-length bodies move in big reads and writes
		// (each a system call); small ones need no more than the small
		// buffer.
		pool := &p.bufs
		if resp.ContentLength < 0 || resp.ContentLength > smallBuffer {
			pool = &p.bigBufs
		}
		bp := pool.Get().(*[]byte)
		_, err = copyBody(&x.rw, resp.Body, *bp, resp.ContentLength == -1 || eventStream(resp.contentType()))
		pool.Put(bp)
	}
	if len(resp.Trailer) > 0 {
		passTrailers(h, resp.Trailer)
	}
	clean := err == nil && !resp.Close && bodyErr == nil && !early
	if early {
		x.waitBody(c, true)
	}
	x.use(nil)
	if x.aborted.Load() { // Cut may have pulled its deadline: it is spoilt
		clean = false
	}
	x.endAttempt(tgt)
	if clean {
		c.reused = false
		p.pool.put(c)
	} else {
		p.pool.discard(c)
	}
	if err != nil {
		x.err = err
		panic(http.ErrAbortHandler)
	}
}

// bodyWritten waits a moment (bodyGrace) for the request body's writer
// and returns its error; early: it is still busy, the backend answers
// before taking the whole body (see stream). A call of its own (see
// Proxy.reverse).
//
//go:noinline
func (x *exchange) bodyWritten() (early bool, err error) {
	select {
	case err = <-x.bodyDone:
		x.bodyDone = nil
		return false, err
	default:
	}
	t := time.NewTimer(bodyGrace)
	defer t.Stop()
	select {
	case err = <-x.bodyDone:
		x.bodyDone = nil
		return false, err
	case <-t.C:
		return true, nil
	}
}

// passTrailers passes the trailer fields that came on (set in the header
// map after the body: h1 sends them as trailers).
//
//go:noinline
func passTrailers(h, trailer http.Header) {
	for k, vv := range trailer {
		h[k] = vv
	}
}

// announceTrailers names the answer's trailer fields in its head.
//
//go:noinline
func announceTrailers(h, trailer http.Header) {
	for k := range trailer {
		h.Add("Trailer", k)
	}
}

// waitBody ends the body writer of the current attempt, if any, and returns
// its error. When it has not finished, the backend connection is
// interrupted (it must not be reused). With abandonUpload, so is the
// client's body, which may be blocked on a slow client. That spoils the
// client connection (its context is cancelled), so it is done only after an
// answer that closes the connection.
func (x *exchange) waitBody(c *backendConn, abandonUpload bool) error {
	if x.bodyDone == nil {
		return nil
	}
	var err error
	select {
	case err = <-x.bodyDone:
	default:
		c.SetDeadline(deadline.Past)
		if abandonUpload {
			_ = http.NewResponseController(x.rw.ResponseWriter).SetReadDeadline(deadline.Past)
		}
		err = <-x.bodyDone
		if err == nil {
			err = errors.New("interrupted")
		}
	}
	x.bodyDone = nil
	return err
}

// passBuffered writes the n bytes buffered in br to w and consumes what
// was written.
func passBuffered(w *recorder, br *bufio.Reader, n int) error {
	b, _ := br.Peek(n)
	nw, err := w.Write(b)
	_, _ = br.Discard(nw)
	return err
}

// copyBody copies src to w, flushing after every write when flush is set
// (streams and responses of unknown length).
func copyBody(w *recorder, src io.Reader, buf []byte, flush bool) (int64, error) {
	var n int64
	for {
		nr, rerr := src.Read(buf)
		if nr > 0 {
			nw, werr := w.Write(buf[:nr])
			n += int64(nw)
			if werr != nil {
				return n, werr
			}
			if flush {
				w.Flush()
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

// eventStream reports whether an answer of the Content-Type ct is a
// server-sent event stream (media type text/event-stream, parameters
// aside), which must be flushed as it comes.
func eventStream(ct string) bool {
	if len(ct) < len("text/event-stream") {
		return false
	}
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "text/event-stream")
}
