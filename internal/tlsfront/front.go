// Package tlsfront is the HTTPS entry point's front: it accepts raw
// connections, sends those whose TLS server name (SNI) belongs to a
// passthrough service (a tls:// mountpoint) to that service untouched, and
// turns every other one into a TLS server connection for the HTTP server,
// with the certificate chosen by SNI from the live table.
//
// Passthrough is decided by peeking at the ClientHello: the bytes read are
// replayed to whoever takes the connection, so the backend of a
// passthrough service completes the handshake with its own certificate.
// While the table has no passthrough route, connections go straight to TLS
// without a peek.
package tlsfront

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/webrouter/webrouter/internal/route"
)

// DefaultHelloTimeout bounds the wait for a client's ClientHello when it
// must be peeked at.
const DefaultHelloTimeout = 10 * time.Second

// Options configure a Front. Table, TLS and Passthrough are required.
type Options struct {
	Table func() *route.Table // the live table
	TLS   *tls.Config         // for terminated connections (NewConfig)
	// Passthrough forwards a raw connection to svc, first sending prefix
	// (the ClientHello already read); it closes c. It is called on the
	// connection's own goroutine.
	Passthrough  func(c net.Conn, prefix []byte, svc *route.Service)
	HelloTimeout time.Duration // 0: DefaultHelloTimeout
	Log          *slog.Logger  // nil: discard
}

// Front accepts on a raw listener and hands TLS connections to an HTTP
// server through Listener.
type Front struct {
	o       Options
	raw     net.Listener
	conns   chan net.Conn
	closed  atomic.Bool    // Close was called
	started atomic.Bool    // Serve runs (or ran)
	routes  sync.WaitGroup // connections being peeked at
	done    chan struct{}  // closed once nothing more will be handed over
	endOnce sync.Once
}

// New returns a Front over the raw listening socket ln. Call Serve, and
// serve HTTP on Listener().
func New(ln net.Listener, o Options) *Front {
	if o.HelloTimeout == 0 {
		o.HelloTimeout = DefaultHelloTimeout
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Front{o: o, raw: ln, conns: make(chan net.Conn), done: make(chan struct{})}
}

// Serve accepts until the front is closed (then it returns nil) or the
// raw listener fails. A connection it accepted is always handed over: the
// listener keeps returning connections until the last one accepted (or
// still being peeked at) is taken, and only then reports net.ErrClosed.
func (f *Front) Serve() error {
	f.started.Store(true)
	defer f.end()
	pause := 5 * time.Millisecond
	for {
		c, err := f.raw.Accept()
		if err != nil {
			if f.closed.Load() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && !errors.Is(err, net.ErrClosed) {
				f.o.Log.Warn("https accept failed; retrying", "error", err.Error())
				time.Sleep(pause)
				pause = min(2*pause, time.Second)
				continue
			}
			return err
		}
		pause = 5 * time.Millisecond
		if !f.o.Table().HasPassthrough() {
			f.hand(tls.Server(c, f.o.TLS))
			continue
		}
		f.routes.Add(1)
		go func() {
			defer f.routes.Done()
			f.route(c)
		}()
	}
}

// end closes the hand-over once the accept loop and every peek are over.
func (f *Front) end() {
	f.routes.Wait()
	f.endOnce.Do(func() { close(f.done) })
}

// route peeks at one connection's ClientHello and sends it on.
func (f *Front) route(c net.Conn) {
	name, read, err := peekHello(c, f.o.HelloTimeout)
	if err != nil {
		// Not TLS, too slow, or gone: crypto/tls would refuse it as well.
		f.o.Log.Debug("https: no ClientHello", "client", c.RemoteAddr().String(), "error", err.Error())
		c.Close()
		return
	}
	if svc := f.o.Table().Passthrough(name); svc != nil {
		f.o.Passthrough(c, read, svc)
		return
	}
	f.hand(tls.Server(&replayConn{Conn: c, prefix: read}, f.o.TLS))
}

// hand gives a TLS connection to the HTTP server. It waits for the
// server's Accept: done is closed only after the last hand (see end), so
// the server is still accepting.
func (f *Front) hand(c net.Conn) { f.conns <- c }

// Listener returns the listener the HTTP server accepts TLS connections
// from (each a *tls.Conn, its handshake not yet done). Closing it closes
// the front and the raw listener. After a close it keeps returning the
// connections already accepted, then net.ErrClosed.
func (f *Front) Listener() net.Listener { return frontListener{f} }

// Close stops accepting new connections.
func (f *Front) Close() error {
	if f.closed.Swap(true) {
		return nil
	}
	err := f.raw.Close()
	if !f.started.Load() {
		f.endOnce.Do(func() { close(f.done) })
	}
	return err
}

type frontListener struct{ f *Front }

func (l frontListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.f.conns:
		return c, nil
	case <-l.f.done:
		return nil, net.ErrClosed
	}
}

func (l frontListener) Close() error   { return l.f.Close() }
func (l frontListener) Addr() net.Addr { return l.f.raw.Addr() }
