// Package h1 serves HTTP/1.x connections with an http.Handler. It stands in
// for net/http's server on the plain-HTTP entry point, where that server's
// per-request machinery — a goroutine reading ahead of every request to
// notice a client that leaves, a context and a buffered chunking writer per
// request — costs more CPU than forwarding the request does.
//
// Contract, as net/http's server unless stated:
//
//   - A request head that fits the 4 KiB read buffer is parsed by package
//     head, larger ones by http.ReadRequest; either way with
//     http.ReadRequest's validation and framing (a differential fuzz test
//     holds the two together), plus RFC 9112's refusals of a field folded
//     over lines or a space before a field's colon (400). Heads are
//     limited to MaxHeaderBytes (431 beyond), a head must arrive within
//     ReadHeaderTimeout, an idle keep-alive connection is closed after
//     IdleTimeout (both up to a tenth early, at most a second: see package
//     deadline). A missing, repeated or invalid Host on HTTP/1.1, a
//     version other than 1.x, or an Expect other than 100-continue is
//     answered 400, 505 or 417 and the connection closed.
//   - The response is framed by its Content-Length header when the handler
//     set one, else chunked (HTTP/1.1) or delimited by closing (HTTP/1.0);
//     HEAD, 204 and 304 answers carry no body. Trailers declared in
//     "Trailer" or set with http.TrailerPrefix follow a chunked body. A Date
//     header is added when missing. Content types are not sniffed.
//   - "Connection: close" from the client or the handler ends the
//     connection after the response; so does a short body, a write error, or
//     a request body the handler left unread beyond 256 KiB.
//   - The handler may read the request body after it began the response
//     (full duplex), flush, hijack the connection (protocol upgrades), and
//     set read and write deadlines through http.ResponseController.
//   - The request's context is the connection's: it is cancelled when the
//     connection ends, when BaseContext is cancelled, or when the client is
//     seen to close its side while the handler is still working on a request
//     whose body has been read. That watch starts only for requests that
//     take longer than watchAfter, so the common fast exchange pays nothing
//     for it. On Linux the connection (plain TCP, or the TCP connection
//     beneath TLS) is then registered, once, for its client's hang-up
//     (package hangup): the server's sweep polls for hang-ups every
//     watchTick and neither peeks nor keeps a goroutine waiting for a
//     request whose client stays, however long it runs. Elsewhere, or if
//     the registration fails, the sweep peeks at a plain connection a few
//     times before a goroutine watches (maxLooks), and a goroutine watches
//     a TLS one at once.
//   - A handler may name one thing to cut off when that context ends
//     (CutOnGone on its ResponseWriter): the same as a context.AfterFunc on
//     the request's context, without a registration per request or per
//     connection (one per server, on BaseContext).
//   - A proxy may hand the answer's fields over as lines it has checked,
//     and its length as a number (PassFields on the ResponseWriter):
//     they are written as they are, without a header map.
//   - A handler may take a request body that came whole with its head
//     where the read buffer holds it (Held on the request's Body, plain
//     TCP only): no copy, the bytes valid until the handler returns.
//   - A panic in the handler closes the connection; http.ErrAbortHandler
//     does so silently, other values are logged.
//   - Stricter than net/http: once the handler has returned (and did not
//     hijack the connection or panic), it keeps nothing of the request —
//     the *http.Request, its URL and Header map, the ResponseWriter and its
//     Header map are cleared and serve the connection's next request. Values
//     (strings, slices of values) may be kept; they are not reused.
//   - On a plain TCP connection that stays open, the end of an answer is
//     written as the wait for the next request begins (package await): the
//     read that would find nothing yet is spared. ConnState sees the
//     connection Idle once the answer is written, as before. A next
//     request (pipelined) or a half-close that reaches the socket while
//     the answer is being made is found by a look 100–150 ms into that
//     wait, once per connection; from then on that connection looks before
//     each wait (see recheck). Such an idle
//     connection holds no buffers: its 4 KiB reader and writer go back to
//     the server's pools and are borrowed again for the next request.
package h1

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults of the Server's zero fields, and buffer sizes.
const (
	DefaultMaxHeaderBytes = 1 << 20
	// defaultBufSize is the write buffer's size, and how far past
	// MaxHeaderBytes a head may be read before it is refused (net/http's
	// 4 KiB).
	defaultBufSize = 4 << 10
	// readBufSize is the read buffer's. A connection holds one only while
	// it reads a request (not while it waits for one, nor while the
	// handler of a request without a body runs), so a large one costs
	// little memory, and the head and a body of up to some 30 KiB that
	// came with it are read in one system call instead of one per 4 KiB
	// buffer and one for the rest.
	readBufSize = 32 << 10
)

// Server serves HTTP/1.x on the connections it accepts. Handler is
// required; zero timeouts mean none.
type Server struct {
	Handler           http.Handler
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int // 0: DefaultMaxHeaderBytes
	// BaseContext is the parent of every connection's context; nil:
	// context.Background.
	BaseContext context.Context
	// ConnState, if not nil, sees every connection's state changes with
	// net/http's meaning (New, Active, Idle, Hijacked, Closed).
	ConnState func(net.Conn, http.ConnState)
	// Log receives handler panics and accept errors; nil: discard.
	Log *slog.Logger

	readers sync.Pool
	writers sync.Pool
	slots   sync.Pool
	workers workers
	live    live
	date    atomic.Pointer[cachedDate]
}

// Serve accepts connections on ln and serves each on its own goroutine
// until ln fails; it returns that error (net.ErrClosed after ln.Close).
// The goroutine of an ended connection serves a later one (workers).
func (s *Server) Serve(ln net.Listener) error {
	defer s.workers.close()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log().Warn("accept failed; retrying", "error", err.Error(), "in", backoff.String())
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		// The connection is known (ConnState New) before its goroutine
		// runs, so that a drain counting connections cannot miss it.
		cn := s.newConn(c)
		if !s.workers.give(cn) {
			go s.work(cn)
		}
	}
}

// ServeConn serves one connection until it ends, then closes it (unless a
// handler hijacked it). A *tls.Conn must have completed its handshake; its
// state is every request's TLS field.
func (s *Server) ServeConn(nc net.Conn) {
	s.newConn(nc).serveAndClose()
}

func (s *Server) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// CloseIdle closes the connections that have waited for a request —
// their first, or the next after an answer — for at least idleFor (to
// within a watch tick, 50 ms), and returns how many connections are left
// open, hijacked ones aside. It is for a drain: a connection whose request
// is under way is left to end after its answer. It costs no more than a
// walk over the open connections; the state it reads is kept with two
// atomic stores per request.
func (s *Server) CloseIdle(idleFor time.Duration) (open int) {
	return s.live.closeIf(func(c *conn, now uint64) bool {
		st := http.ConnState(c.state.Load())
		return (st == http.StateNew || st == http.StateIdle) && now-c.idleTick.Load() > uint64(idleFor/watchTick)
	})
}

// CloseAll closes every open connection, busy or not, hijacked ones aside.
func (s *Server) CloseAll() {
	s.live.closeIf(func(*conn, uint64) bool { return true })
}

func (s *Server) maxHeaderBytes() int64 {
	if s.MaxHeaderBytes > 0 {
		return int64(s.MaxHeaderBytes)
	}
	return DefaultMaxHeaderBytes
}

// headLimit is the most a request head may take: MaxHeaderBytes, and as
// net/http allows, a read buffer's worth (4 KiB) more.
func (s *Server) headLimit() int64 { return s.maxHeaderBytes() + defaultBufSize }

func (s *Server) newConn(nc net.Conn) *conn {
	c := &conn{s: s, nc: nc, remote: addrString(nc.RemoteAddr())}
	if tc, ok := nc.(*tls.Conn); ok {
		st := tc.ConnectionState() // the handshake is done (see ServeConn)
		c.tls = &st
	}
	parent := s.BaseContext
	if parent == nil {
		parent = context.Background()
	}
	s.live.add(c, parent) // makes c's context
	c.lr = limitedReader{c: nc, remain: unlimited, rd: &c.rd}
	c.out.nc = nc
	if c.rio.Init(nc) { // raw system calls: see package rawio
		c.lr.c, c.out.nc = &c.rio, &c.rio
	}
	c.rd.Init(nc)
	c.setState(http.StateNew) // buffers are lent by readRequest
	return c
}

// addrString is a.String(), in one allocation where a is a *net.TCPAddr
// (its String makes two): an IPv4 address, also one a dual-stack listener
// reports mapped into IPv6, in dotted form; IPv6 in brackets, with its
// zone.
func addrString(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok || ta == nil {
		return a.String()
	}
	ap := ta.AddrPort()
	if !ap.Addr().IsValid() { // no IP: String has its own form (":port")
		return a.String()
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()
}
