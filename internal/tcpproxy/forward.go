// Package tcpproxy forwards TCP connections to service instances: the TCP
// services (a listener per tcp:// port, see Manager) and the TLS
// passthrough connections of the HTTPS entry point, which arrive with the
// ClientHello already read.
//
// Each connection goes to an instance picked by the service's policy
// (least_conn by default for connection services) and counts on the
// instance's Host and Endpoint like an HTTP request, so balancing, passive
// and active health and draining apply unchanged: a connect failure counts
// as a passive failure and is retried on another instance; a draining
// instance gets no new connections and its open ones are cut when its
// drain timeout passes. Half-closes pass through (CloseWrite), and a
// connection on which nothing moved for the service's idle timeout is
// closed.
package tcpproxy

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/webrouter/webrouter/internal/balance"
	"github.com/webrouter/webrouter/internal/route"
	"github.com/webrouter/webrouter/internal/upstream"
)

// Forwarder proxies client connections to instances. It is safe for
// concurrent use; the zero value is not: use NewForwarder.
type Forwarder struct {
	connectTimeout time.Duration
	now            func() time.Time
	log            *slog.Logger
	bufs           sync.Pool

	mu       sync.Mutex
	sessions map[*session]struct{}
	active   atomic.Int64
	idle     chan struct{} // closed and replaced when active drops to 0
}

// Options configure a Forwarder.
type Options struct {
	ConnectTimeout time.Duration    // dialling one instance; 0: 5s
	Now            func() time.Time // nil: time.Now
	Log            *slog.Logger     // nil: discard
}

// NewForwarder returns a Forwarder.
func NewForwarder(o Options) *Forwarder {
	f := &Forwarder{connectTimeout: o.ConnectTimeout, now: o.Now, log: o.Log,
		sessions: map[*session]struct{}{}, idle: make(chan struct{})}
	if f.connectTimeout == 0 {
		f.connectTimeout = 5 * time.Second
	}
	if f.now == nil {
		f.now = time.Now
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	f.bufs.New = func() any { b := make([]byte, 32<<10); return &b }
	return f
}

// Active returns the number of connections being forwarded.
func (f *Forwarder) Active() int64 { return f.active.Load() }

// Serve forwards client to an instance of svc and returns when the
// connection is over; it closes client. prefix, if any, is sent to the
// instance first (bytes already read from the client, such as a
// ClientHello), after the PROXY protocol header when the service asks for
// one. entry names the entry point for logs ("tcp:9999", "https").
func (f *Forwarder) Serve(client net.Conn, prefix []byte, svc *route.Service, entry string) {
	defer client.Close()
	backend, t := f.connect(client, svc, entry)
	if backend == nil {
		return
	}
	t.Host.Begin()
	t.Endpoint.Begin()
	s := &session{client: client, backend: backend, idle: svc.IdleTimeout}
	f.track(s, true)
	defer func() {
		backend.Close()
		t.Host.End()
		t.Endpoint.End()
		f.track(s, false)
	}()
	t.Endpoint.Track(&s.tracked, s) // the instance's drain deadline cuts the connection
	defer t.Endpoint.Untrack(&s.tracked)
	if err := writeHeader(backend, svc.ProxyProtocol, client.RemoteAddr(), client.LocalAddr()); err != nil {
		f.log.Debug("tcp: could not send the PROXY header", "entrypoint", entry, "service", svc.Name, "error", err.Error())
		return
	}
	if len(prefix) > 0 {
		if _, err := backend.Write(prefix); err != nil {
			return
		}
	}
	s.pipe(f)
}

// connect dials an instance picked by the service's policy, trying up to
// balance.MaxTries distinct instances when connecting fails. It closes
// client and returns nil when none could be reached.
func (f *Forwarder) connect(client net.Conn, svc *route.Service, entry string) (net.Conn, *upstream.Target) {
	var tried balance.Tried
	key := clientIP(client.RemoteAddr())
	d := net.Dialer{Timeout: f.connectTimeout, KeepAlive: 30 * time.Second}
	var last error
	for tried.Len() < balance.MaxTries {
		now := f.now()
		t := svc.Picker.Pick(now, key, &tried)
		if t == nil {
			break
		}
		tried.Add(t)
		c, err := d.Dial("tcp", t.Addr)
		if err == nil {
			t.Host.Success()
			return c, t
		}
		last = err
		if t.Host.Failure(now, svc.MaxFails, svc.FailTimeout) {
			f.log.Warn("backend marked down", "address", t.Addr, "service", svc.Name, "for", svc.FailTimeout.String(), "error", err.Error())
		}
	}
	msg := "no usable instance"
	if last != nil {
		msg = last.Error()
	}
	f.log.Debug("tcp: connection refused to the client: no instance reachable", "entrypoint", entry, "service", svc.Name,
		"client", client.RemoteAddr().String(), "tries", tried.Len(), "error", msg)
	return nil, nil
}

func (f *Forwarder) track(s *session, add bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if add {
		f.sessions[s] = struct{}{}
		f.active.Add(1)
		return
	}
	delete(f.sessions, s)
	if f.active.Add(-1) == 0 {
		close(f.idle)
		f.idle = make(chan struct{})
	}
}

// Drain waits until no connection is being forwarded or deadline passes,
// then cuts what is left; it returns how many were cut. New connections
// may still be served meanwhile: stop accepting first.
func (f *Forwarder) Drain(deadline time.Time) int {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		f.mu.Lock()
		n, idle := len(f.sessions), f.idle
		f.mu.Unlock()
		if n == 0 {
			return 0
		}
		select {
		case <-idle:
		case <-timer.C:
			f.mu.Lock()
			cut := len(f.sessions)
			for s := range f.sessions {
				s.Cut()
			}
			f.mu.Unlock()
			return cut
		}
	}
}

// session is one forwarded connection.
type session struct {
	tracked         upstream.Tracked
	client, backend net.Conn
	idle            time.Duration
	last            atomic.Int64 // unix nanoseconds of the last byte moved
	cutOnce         sync.Once
}

// Cut closes both sides at once (also the drain deadline's cut, upstream.Cutter).
func (s *session) Cut() {
	s.cutOnce.Do(func() {
		s.client.Close()
		s.backend.Close()
	})
}

// pipe copies both ways until both directions are done. A direction that
// ends cleanly (EOF) half-closes the other side's write; an error in
// either direction closes both. The idle timer closes both when nothing
// moved for s.idle.
//
// Between two TCP sockets the bytes move in the kernel (splice(2), through
// net.TCPConn.ReadFrom) and idleness is read from the sockets themselves
// (TCP_INFO's time since data was last received on either); otherwise a
// user-space loop copies and notes each move.
func (s *session) pipe(f *Forwarder) {
	s.last.Store(time.Now().UnixNano())
	_, kernel := sinceData(s.client, s.backend)
	if s.idle > 0 {
		var check func()
		var timer *time.Timer
		check = func() {
			since := time.Since(time.Unix(0, s.last.Load()))
			if kernel {
				since, _ = sinceData(s.client, s.backend)
			}
			if since >= s.idle {
				s.Cut()
				return
			}
			timer.Reset(s.idle - since)
		}
		timer = time.AfterFunc(s.idle, check)
		defer timer.Stop()
	}
	done := make(chan struct{})
	go func() {
		s.copy(f, s.backend, s.client, kernel)
		close(done)
	}()
	s.copy(f, s.client, s.backend, kernel)
	<-done
}

// copy moves bytes from src to dst until src ends.
func (s *session) copy(f *Forwarder, dst, src net.Conn, kernel bool) {
	if kernel {
		// *net.TCPConn → *net.TCPConn: splice. ReadFrom returns nil at EOF.
		_, err := dst.(*net.TCPConn).ReadFrom(src.(*net.TCPConn))
		s.end(dst, err)
		return
	}
	bp := f.bufs.Get().(*[]byte)
	defer f.bufs.Put(bp)
	buf := *bp
	for {
		n, err := src.Read(buf)
		if n > 0 {
			s.last.Store(time.Now().UnixNano())
			if _, werr := dst.Write(buf[:n]); werr != nil {
				s.Cut()
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			s.end(dst, err)
			return
		}
	}
}

// end finishes one direction: a clean end (err nil) half-closes dst, an
// error closes both sides.
func (s *session) end(dst net.Conn, err error) {
	if err == nil {
		if cw, ok := dst.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			return
		}
	}
	s.Cut()
}

// clientIP is the host part of a connection's remote address, the key of
// ip_hash.
func clientIP(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}
