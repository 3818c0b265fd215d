// Package proxy is the HTTP reader of the live table: it routes each
// request by host and path, picks an instance with the service's policy,
// forwards the request and streams the answer back.
//
// Requests are forwarded on the fast path (fast.go): the proxy's own
// HTTP/1.1 connection pool, driven from the request's goroutine, with the
// head written straight from the client's headers. Protocol upgrades
// (WebSocket) and services with an h2c backend take one shared
// httputil.ReverseProxy over http.Transport instead. Both paths share the
// table lookup, the policy pick, retries, passive health and the
// forwarding headers (exchange).
package proxy

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"sync"
	"sync/atomic"
	"time"

	"github.com/webrouter/webrouter/internal/accesslog"
	"github.com/webrouter/webrouter/internal/head"
	"github.com/webrouter/webrouter/internal/route"
)

// Observer receives one call per finished request (for metrics). service
// is "" when no route matched; upstream is 0 when no backend was reached.
type Observer interface {
	ObserveRequest(service string, status int, upstream time.Duration)
}

// serviceObserver is an Observer that also hands out one service's own
// observer, which counts as ObserveRequest(service, …) does: the proxy
// keeps it with the service in the route table (route.Service.Local), and
// does not name the service on every request.
type serviceObserver interface {
	ServiceObserver(service string) requestObserver
}

// requestObserver is what a serviceObserver hands out. An alias of an
// unnamed type, so that an Observer need not import this package to
// declare the method (package metrics spells the type out).
type requestObserver = interface {
	Observe(status int, upstream time.Duration)
}

// Options configure a Proxy. Table and Transport are required.
type Options struct {
	Table     func() *route.Table // the live table; called once per request
	Transport http.RoundTripper   // shared connection pool (NewTransport), for protocol upgrades
	Backend   TransportOptions    // the fast path's own pool; zero ConnectTimeout: every request takes Transport
	AccessLog *accesslog.Logger   // nil: no access log
	Observer  Observer            // nil: no metrics
	Log       *slog.Logger        // process log (backend state changes); nil: discard
	Now       func() time.Time    // nil: time.Now

	// H2C carries the requests of services with backend_protocol "h2c"
	// (NewH2CTransport); nil: they use Transport.
	H2C http.RoundTripper
	// HTTPSPort is the port https_only redirects name: the HTTPS entry
	// point's; "" or "443" leaves it out of the URL.
	HTTPSPort string
}

// Proxy is an http.Handler that forwards requests along the live table.
type Proxy struct {
	active atomic.Int64 // requests being served, upgraded connections included

	table     func() *route.Table
	rp        *httputil.ReverseProxy
	ids       *idGen
	alog      *accesslog.Logger
	obs       Observer
	svcObs    serviceObserver // obs, when it is one; else nil
	log       *slog.Logger
	now       func() time.Time
	realClock bool      // now is time.Now: its readings may start deadlines too
	bufs      sync.Pool // smallBuffer bytes: small bodies, ReverseProxy's copies
	bigBufs   sync.Pool // bigBuffer bytes: large response bodies
	httpsPort string

	pool            *pool // fast path; nil when off
	responseTimeout time.Duration
}

// New returns a Proxy.
func New(o Options) *Proxy {
	p := &Proxy{table: o.Table, ids: newIDGen(), alog: o.AccessLog, obs: o.Observer, log: o.Log, now: o.Now, httpsPort: o.HTTPSPort}
	if p.now == nil {
		p.now, p.realClock = time.Now, true
	}
	p.svcObs, _ = o.Observer.(serviceObserver)
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if o.Backend.ConnectTimeout > 0 {
		p.pool, p.responseTimeout = newPool(o.Backend), o.Backend.ResponseTimeout
	}
	p.bufs.New = func() any { b := make([]byte, smallBuffer); return &b }
	p.bigBufs.New = func() any { b := make([]byte, bigBuffer); return &b }
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      &retrying{base: o.Transport, h2c: o.H2C, now: p.now, onTrip: p.backendDown},
		ErrorHandler:   p.proxyError,
		ModifyResponse: p.modifyResponse,
		BufferPool:     bufferPool{&p.bufs},
		ErrorLog:       slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
	}
	return p
}

// Active returns the number of requests being served, including upgraded
// connections (WebSockets) that the HTTP server no longer tracks.
func (p *Proxy) Active() int64 { return p.active.Load() }

// ServeHTTP routes and forwards one request.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.active.Add(1)
	defer p.active.Add(-1)
	x := &exchange{clientIP: clientIP(r.RemoteAddr), rw: recorder{ResponseWriter: w}, clientCtx: r.Context(), https: r.TLS != nil, seen: head.SeenAll}
	if s, ok := w.(requestSeen); ok {
		x.seen = s.RequestSeen()
	}
	if p.alog != nil {
		x.start = p.now() // only the access log uses it; without one, a clock reading less per request
	}
	x.setID(x.field(r, head.SeenRequestID, "X-Request-Id"), p.ids)
	defer func() {
		v := recover()
		p.finish(x, r, v != nil)
		if v != nil {
			panic(v) // http.ErrAbortHandler: the server closes the connection quietly
		}
	}()
	x.route, x.svc = p.table().Lookup(r.Host, r.URL.Path)
	if x.svc == nil {
		p.respond(x, http.StatusNotFound, "no route for this host and path")
		return
	}
	if x.svc.HTTPSOnly && !x.https {
		p.redirectHTTPS(x, r)
		return
	}
	if p.pool != nil && x.field(r, head.SeenHop, "Upgrade") == "" && !x.svc.H2C {
		// The client's context ending cuts the exchange off (as does the
		// target's drain deadline, see beginAttempt); h1 does it without a
		// context registration per request.
		if g, ok := w.(cutOnGone); ok {
			g.CutOnGone(x) // until ServeHTTP returns
			p.forward(x, r)
		} else {
			p.forwardCut(x, r)
		}
		return
	}
	p.reverse(x, r)
}

// forwardCut serves r on the fast path, cut off when the request's
// context ends (a ResponseWriter that is not cutOnGone). See reverse for
// why it is a call of its own.
//
//go:noinline
func (p *Proxy) forwardCut(x *exchange, r *http.Request) {
	stop := context.AfterFunc(r.Context(), x.Cut)
	defer stop()
	p.forward(x, r)
}

// reverse serves r through the ReverseProxy path (upgrades, h2c). A call
// of its own, so that its temporaries take no room in ServeHTTP's frame:
// the request's goroutine's stack is cold memory on a router with many
// connections, and the fast path's calls go deeper from there.
//
//go:noinline
func (p *Proxy) reverse(x *exchange, r *http.Request) {
	// The forwarded request's context is the client's, and Cut cancels it.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	x.cancel = cancel
	p.rp.ServeHTTP(&x.rw, r.WithContext(withExchange(ctx, x)))
}

// requestSeen is a ResponseWriter (h1's) that knows which of the fields
// head.Seen names its request's head had: the proxy looks up only those
// (see exchange.field). The proxy leaves the request's header as it came.
type requestSeen interface {
	RequestSeen() head.Seen
}

// values is the client's request's values of key (canonical), a field
// whose bit in head.Seen is bit: none, without a lookup, when the head did
// not have it.
func (x *exchange) values(r *http.Request, bit head.Seen, key string) []string {
	if x.seen&bit == 0 {
		return nil
	}
	return r.Header[key]
}

// field is the first of values, or "".
func (x *exchange) field(r *http.Request, bit head.Seen, key string) string {
	if vv := x.values(r, bit, key); len(vv) > 0 {
		return vv[0]
	}
	return ""
}

// cutOnGone is a ResponseWriter (h1's) that cuts off what it is given when
// the request's context ends, as context.AfterFunc would, until the
// handler returns.
type cutOnGone interface {
	CutOnGone(x interface{ Cut() })
}

// CloseIdleConnections closes the fast path's idle backend connections.
func (p *Proxy) CloseIdleConnections() {
	if p.pool != nil {
		p.pool.closeIdle()
	}
}

// rewrite turns the client's request into the backend request: path prefix
// stripped, query kept byte for byte, forwarding headers set. The backend
// address is chosen per attempt by the transport.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	in, out := pr.In, pr.Out
	x := exchangeFrom(in.Context())
	out.URL.Scheme = "http"
	out.URL.Host = x.svc.Name
	out.URL.RawQuery = in.URL.RawQuery // ReverseProxy drops parameters it cannot parse; we pass them on
	if x.route.Path != "" && x.svc.StripPrefix {
		out.URL.Path, out.URL.RawPath = stripPath(x.route.Path, in.URL)
	}
	for i := range forwarded {
		if k, v := x.forwardHeader(in, i); v == "" {
			out.Header.Del(k)
		} else {
			out.Header.Set(k, v)
		}
	}
	out.Host = in.Host
}

func (p *Proxy) modifyResponse(resp *http.Response) error {
	if x := exchangeFrom(resp.Request.Context()); x != nil {
		resp.Header.Set("X-Request-Id", x.id())
		decorate(resp.Header, x.svc, x.https)
	}
	return nil
}

// backendDown logs a passive-health transition (once per transition).
func (p *Proxy) backendDown(x *exchange, err error) {
	p.log.Warn("backend marked down", "address", x.target.Addr, "service", x.svc.Name,
		"for", x.svc.FailTimeout.String(), "error", err.Error())
}

// observe counts a finished request: through the observer the service
// keeps for this proxy (svc.Local), made on the service's first request in
// its table, when the Observer hands them out; else by the service's name.
func (p *Proxy) observe(svc *route.Service, service string, status int, upstream time.Duration) {
	if p.svcObs == nil || svc == nil {
		p.obs.ObserveRequest(service, status, upstream)
		return
	}
	o, ok := svc.Local.Get(p).(requestObserver)
	if !ok {
		o = p.svcObs.ServiceObserver(service)
		svc.Local.Set(p, o)
	}
	o.Observe(status, upstream)
}

// finish records the request in the access log and metrics.
func (p *Proxy) finish(x *exchange, r *http.Request, aborted bool) {
	status := x.rw.status
	if x.gone {
		status = 499 // client closed the connection first (nginx's code)
	}
	if status == 0 {
		switch {
		case x.upStatus == http.StatusSwitchingProtocols:
			status = x.upStatus
		case aborted || r.Context().Err() != nil:
			status = 499 // client closed the connection first (nginx's code)
		default:
			status = http.StatusOK
		}
	}
	service := ""
	if x.svc != nil {
		service = x.svc.Name
	}
	if p.obs != nil {
		p.observe(x.svc, service, status, x.upstreamDur)
	}
	if p.alog != nil {
		p.logAccess(x, r, status, service)
	}
}

// logAccess writes the request's access log record. A call of its own, so
// that the record takes no room in finish's frame (see reverse).
//
//go:noinline
func (p *Proxy) logAccess(x *exchange, r *http.Request, status int, service string) {
	rec := accesslog.Record{
		Time: x.start, Client: x.clientIP, Host: r.Host, Method: r.Method, Path: r.URL.Path,
		Status: status, Bytes: x.rw.bytes, Service: service, UpstreamTime: x.upstreamDur,
		Duration: p.now().Sub(x.start), RequestID: x.id(), Attempts: x.attempts,
	}
	if x.target != nil {
		rec.Upstream = x.target.Addr
	}
	if x.err != nil {
		rec.Error = x.err.Error()
	}
	p.alog.Log(rec)
}

type bufferPool struct{ p *sync.Pool }

func (b bufferPool) Get() []byte  { return *(b.p.Get().(*[]byte)) }
func (b bufferPool) Put(v []byte) { b.p.Put(&v) }
