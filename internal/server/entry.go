package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/webrouter/webrouter/internal/h1"
	"github.com/webrouter/webrouter/internal/head"
)

// idleCloseAfter is how long a client connection must have been idle before
// a drain closes it. A client may send a request on an idle keep-alive
// connection at the very moment the server closes it, and a request that
// cannot be retried then fails; closing only connections idle for a while
// makes that race as rare as it is at any idle timeout, while busy
// connections are closed safely after their next response.
const idleCloseAfter = 2 * time.Second

// entrypoint is an HTTP entry point: the proxy behind a server whose
// client connections are tracked so that a drain can retire them without
// failing a request. HTTP/1.x is served by h1 (lean); HTTP/2, on the HTTPS
// entry point, by net/http.
//
// A drain stops accepting, answers each connection's next request with
// "Connection: close" (so the client moves to a new connection, i.e. to
// the new process after an upgrade), closes connections idle for
// idleCloseAfter, and waits until no connection and no request (upgraded
// WebSockets included) is left — or until the deadline, when what remains
// is cut off.
type entrypoint struct {
	srv      *http.Server // HTTP/2 on the HTTPS entry point; nil on the plain one
	h2       *connQueue   // the connections srv serves
	h1       *h1.Server   // HTTP/1.x
	log      *slog.Logger
	ln       net.Listener
	active   func() int64 // requests under way, upgraded connections included
	draining atomic.Bool
	served   chan struct{} // closed when serve returns: nothing more is accepted
	base     context.Context
	cutOff   context.CancelFunc

	mu    sync.Mutex
	conns map[net.Conn]connState
}

type connState struct {
	state http.ConnState
	since time.Time
}

// Client connection timeouts of both entry points.
const (
	readHeaderTimeout = 30 * time.Second
	idleTimeout       = 120 * time.Second
)

// newEntrypoint serves h on ln, the HTTPS entry point: connections that
// negotiate HTTP/2 with net/http, the others with h1 (see serveTLS).
// onState, if not nil, also sees every connection state change (for
// metrics).
func newEntrypoint(ln net.Listener, h http.Handler, active func() int64, onState func(net.Conn, http.ConnState), log *slog.Logger, errLog func(*http.Server)) *entrypoint {
	e := newPlainEntrypoint(ln, h, active, onState, log)
	e.srv = &http.Server{
		Handler:           e.h1.Handler,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		BaseContext:       func(net.Listener) context.Context { return e.base },
		ConnState:         e.onState(onState),
	}
	e.h2 = newConnQueue(ln.Addr())
	errLog(e.srv)
	return e
}

// newPlainEntrypoint serves h on ln with h1 (the plain-HTTP entry point).
func newPlainEntrypoint(ln net.Listener, h http.Handler, active func() int64, onState func(net.Conn, http.ConnState), log *slog.Logger) *entrypoint {
	e := &entrypoint{ln: ln, active: active, conns: map[net.Conn]connState{}, log: log, served: make(chan struct{})}
	e.base, e.cutOff = context.WithCancel(context.Background())
	e.h1 = &h1.Server{
		Handler:           e.closeWhileDraining(h),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		BaseContext:       e.base,
		ConnState:         e.h1State(onState),
		Log:               log,
	}
	return e
}

// h1State passes h1's connection states on. h1 keeps its connections'
// states itself for the drain (h1.Server.CloseIdle), so nothing is tracked
// here per request; a connection h1 takes over after a TLS handshake
// leaves the map as h1 reports it New (it was on h1's list before).
func (e *entrypoint) h1State(next func(net.Conn, http.ConnState)) func(net.Conn, http.ConnState) {
	return func(c net.Conn, s http.ConnState) {
		if s == http.StateNew && e.srv != nil {
			e.track(c, http.StateClosed)
		}
		if next != nil {
			next(c, s)
		}
	}
}

// onState tracks connections for the drain (HTTP/2 ones, and TLS
// handshakes under way) and passes the change on.
func (e *entrypoint) onState(next func(net.Conn, http.ConnState)) func(net.Conn, http.ConnState) {
	return func(c net.Conn, s http.ConnState) {
		e.track(c, s)
		if next != nil {
			next(c, s)
		}
	}
}

// closeWhileDraining asks the client to close its connection after this
// response while draining. Protocol upgrades are left alone: their 101
// response must say "Connection: Upgrade".
func (e *entrypoint) closeWhileDraining(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.draining.Load() && head.Get(r.Header, "Upgrade") == "" {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}

func (e *entrypoint) track(c net.Conn, s http.ConnState) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch s {
	case http.StateClosed, http.StateHijacked:
		delete(e.conns, c)
	case http.StateActive:
		e.conns[c] = connState{state: s} // since matters only to idle ones (closeIdle)
	default:
		e.conns[c] = connState{state: s, since: time.Now()}
	}
}

// serve accepts on e.ln until a drain closes it. It returns nil then, or
// the error that stopped it.
func (e *entrypoint) serve() error {
	defer close(e.served)
	var err error
	if e.srv != nil {
		err = e.serveTLS()
	} else {
		err = e.h1.Serve(e.ln)
	}
	if e.draining.Load() {
		return nil
	}
	return err
}

// drain retires the entry point as described on entrypoint, by deadline.
func (e *entrypoint) drain(deadline time.Time) (cut int) {
	e.draining.Store(true)
	e.ln.Close()
	if e.h2 != nil {
		defer e.h2.Close() // handshakes under way are over: nothing more to hand to HTTP/2
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		open := e.h1.CloseIdle(idleCloseAfter) + e.closeIdle(time.Now().Add(-idleCloseAfter))
		if open == 0 && e.active() == 0 && e.acceptDone() {
			return 0
		}
		if !time.Now().Before(deadline) {
			e.cutOff() // ends upgraded connections and streams
			if e.srv != nil {
				e.srv.Close()
			}
			left := open + int(e.active())
			e.h1.CloseAll()
			e.closeAll()
			return left
		}
		<-tick.C
	}
}

// acceptDone reports whether the accept loop has ended, so that a
// connection it took just before the close is counted.
func (e *entrypoint) acceptDone() bool {
	select {
	case <-e.served:
		return true
	default:
		return false
	}
}

// closeIdle closes the tracked connections (HTTP/2, and TLS handshakes
// under way) idle since before cutoff and returns how many remain open.
func (e *entrypoint) closeIdle(cutoff time.Time) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	for c, st := range e.conns {
		if (st.state == http.StateIdle || st.state == http.StateNew) && st.since.Before(cutoff) {
			c.Close()
			delete(e.conns, c)
		}
	}
	return len(e.conns)
}

// closeAll closes every tracked connection still open, busy or not.
func (e *entrypoint) closeAll() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for c := range e.conns {
		c.Close()
		delete(e.conns, c)
	}
}
