package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/cloudflare/tableflip"

	"github.com/webrouter/webrouter/internal/api"
	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/certdir"
	"github.com/webrouter/webrouter/internal/live"
	"github.com/webrouter/webrouter/internal/metrics"
	"github.com/webrouter/webrouter/internal/route"
	"github.com/webrouter/webrouter/internal/tcpproxy"
	"github.com/webrouter/webrouter/internal/tlsfront"
)

// streams is the connection-level side of the router: the forwarder that
// TCP services and TLS passthrough share, the TCP port manager, and the
// HTTPS entry point (when --https is set).
type streams struct {
	cfg     Config
	log     *slog.Logger
	fw      *tcpproxy.Forwarder
	tcp     *tcpproxy.Manager
	httpsLn net.Listener    // nil without --https
	front   *tlsfront.Front // nil without --https
	entry   *entrypoint     // the HTTPS entry point; nil without --https
	tls     *tls.Config
}

// newStreams builds the forwarder and the TCP manager; nothing listens
// yet (see sync and openHTTPS).
func newStreams(cfg Config, upg *tableflip.Upgrader, lv *live.Live, log *slog.Logger, m *metrics.Metrics) *streams {
	s := &streams{cfg: cfg, log: log}
	s.fw = tcpproxy.NewForwarder(tcpproxy.Options{ConnectTimeout: cfg.ConnectTimeout, Log: log})
	onPort := m.Streams(func() []*route.Cert { return lv.Table().Certificates() }, s.fw.Active)
	s.tcp = tcpproxy.NewManager(tcpproxy.ManagerOptions{
		Table: lv.Table, Listener: upgListener{upg: upg, bind: cfg.HTTPS.TCPBind}, Forwarder: s.fw,
		Log: log, OnChange: onPort,
	})
	return s
}

// listenHTTPS opens the HTTPS entry point's listening socket (role
// "https", handed over by upgrades), if configured.
func (s *streams) listenHTTPS(upg *tableflip.Upgrader) error {
	if s.cfg.HTTPS.Addr == "" {
		return nil
	}
	ln, err := listen(upg, "https", s.cfg.HTTPS.Addr)
	s.httpsLn = ln
	return err
}

// httpsPort is the port https_only redirects name: the HTTPS entry
// point's ("" without one).
func (s *streams) httpsPort() string {
	if s.httpsLn == nil {
		return ""
	}
	_, port, _ := net.SplitHostPort(s.httpsLn.Addr().String())
	return port
}

// openHTTPS builds the HTTPS entry point on the socket of listenHTTPS: the
// front, and an HTTP server with HTTP/2 behind it that joins the same
// drain as the HTTP entry point.
func (s *streams) openHTTPS(lv *live.Live, h http.Handler, active func() int64,
	onState func(net.Conn, http.ConnState), errLog func(*http.Server)) {
	if s.httpsLn == nil {
		return
	}
	s.tls = tlsfront.NewConfig(lv.Table, s.cfg.HTTPS.DefaultCert)
	s.front = tlsfront.New(s.httpsLn, tlsfront.Options{Table: lv.Table, TLS: s.tls, Log: s.log,
		Passthrough: func(c net.Conn, prefix []byte, svc *route.Service) { s.fw.Serve(c, prefix, svc, "https") }})
	s.entry = newEntrypoint(s.front.Listener(), h, active, onState, s.log, func(srv *http.Server) {
		errLog(srv)
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetHTTP2(true)
		// Advertise HTTP/2's default frame size (as nginx does) rather
		// than Go's 1 MiB, so that larger frames are refused as the
		// specification's default requires.
		srv.HTTP2 = &http.HTTP2Config{MaxReadFrameSize: 1 << 14}
	})
}

// serve starts the HTTPS entry point, the ticket key rotation and the TCP
// manager's loop; failures of the HTTPS listener go to errc.
func (s *streams) serve(ctx context.Context, errc chan<- error) {
	go s.tcp.Run(ctx)
	if s.front == nil {
		return
	}
	go tlsfront.RotateTickets(ctx, s.tls)
	go func() {
		if err := s.front.Serve(); err != nil {
			errc <- fmt.Errorf("serve https: %w", err)
		}
	}()
	go func() {
		if err := s.entry.serve(); err != nil {
			errc <- fmt.Errorf("serve https: %w", err)
		}
	}()
	s.log.Info("listening", "entrypoint", "https", "addr", s.front.Listener().Addr().String())
}

// stop stops accepting TCP connections; the HTTPS entry point is drained
// with the HTTP one (see drain).
func (s *streams) stop() { s.tcp.Close() }

// upgListener opens TCP service ports through the upgrader, by role
// "tcp:<port>", so that a binary upgrade hands them over like the entry
// points.
type upgListener struct {
	upg  *tableflip.Upgrader
	bind string
}

// Listen returns the port's socket, inherited or new. An inherited socket
// that no longer listens (its port was closed in the old process after it
// was registered for hand-over) is replaced by a new one.
func (l upgListener) Listen(port int) (net.Listener, error) {
	role := "tcp:" + strconv.Itoa(port)
	addr := net.JoinHostPort(l.bind, strconv.Itoa(port))
	ln, err := listen(l.upg, role, addr)
	if err != nil {
		return nil, err
	}
	if accepting(ln) {
		return ln, nil
	}
	ln.Close()
	fresh, err := listenTCP(addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s on %s: %w", role, addr, err)
	}
	if err := l.upg.Fds.AddListener("tcp", role+"="+addr, fresh.(*net.TCPListener)); err != nil {
		fresh.Close()
		return nil, fmt.Errorf("listen %s on %s: %w", role, addr, err)
	}
	return fresh, nil
}

// Release stops the socket listening before closing it. The upgrader keeps
// a duplicate of every socket it may hand over, and closing ours alone
// would leave the kernel accepting connections on the port that nobody
// serves; shutting the socket down stops it for every duplicate.
func (upgListener) Release(ln net.Listener) {
	if tl, ok := ln.(*net.TCPListener); ok {
		if rc, err := tl.SyscallConn(); err == nil {
			_ = rc.Control(func(fd uintptr) { _ = syscall.Shutdown(int(fd), syscall.SHUT_RD) })
		}
	}
	ln.Close()
}

// accepting reports whether a socket is listening (SO_ACCEPTCONN).
func accepting(ln net.Listener) bool {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return true
	}
	rc, err := tl.SyscallConn()
	if err != nil {
		return false
	}
	v := 0
	_ = rc.Control(func(fd uintptr) { v, err = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN) })
	return err == nil && v == 1
}

// certDir loads --cert-dir once (failing the start if it cannot be read),
// and keeps sending its certificates to the live table as they change.
func certDir(ctx context.Context, dir string, log *slog.Logger) (map[string]*catalog.Certificate, <-chan map[string]*catalog.Certificate, error) {
	if dir == "" {
		return nil, nil, nil
	}
	w := certdir.New(dir, certdir.DefaultInterval, log)
	first, err := w.Load()
	if err != nil {
		return nil, nil, fmt.Errorf("--cert-dir: %w", err)
	}
	log.Info("cert dir loaded", "dir", dir, "certificates", len(first), "poll", certdir.DefaultInterval.String())
	ch := make(chan map[string]*catalog.Certificate)
	go w.Run(ctx, ch)
	return first, ch, nil
}

// warnExpiring logs, once per certificate version, each certificate of the
// live table that expires within catalog.ExpiryWarning: after each swap and
// every hour.
func warnExpiring(ctx context.Context, lv *live.Live, swapped <-chan struct{}, log *slog.Logger) {
	warned := map[string]bool{}
	tick := time.NewTicker(time.Hour)
	defer tick.Stop()
	for {
		now := time.Now()
		for _, c := range lv.Table().Certificates() {
			key := c.Source + "/" + c.Name + "/" + c.Info.NotAfter.String()
			if c.Info.ExpiresSoon(now) && !warned[key] {
				warned[key] = true
				log.Warn("certificate expires soon; renew it", "name", c.Name, "source", c.Source,
					"not_after", c.Info.NotAfter.UTC().Format(time.RFC3339), "names", c.Info.Names)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-swapped:
		case <-tick.C:
		}
	}
}

// portsView is the TCP manager's state for the admin API.
func portsView(m *tcpproxy.Manager) func() []api.Port {
	return func() []api.Port {
		var out []api.Port
		for _, p := range m.Status() {
			out = append(out, api.Port{Port: p.Port, Service: p.Service, Listening: p.Listening, Error: p.Error, Since: p.Since.UTC()})
		}
		return out
	}
}
