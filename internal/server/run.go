package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cloudflare/tableflip"

	"github.com/webrouter/webrouter/internal/accesslog"
	"github.com/webrouter/webrouter/internal/admin"
	"github.com/webrouter/webrouter/internal/compile"
	"github.com/webrouter/webrouter/internal/gcfloor"
	"github.com/webrouter/webrouter/internal/health"
	"github.com/webrouter/webrouter/internal/live"
	"github.com/webrouter/webrouter/internal/metrics"
	"github.com/webrouter/webrouter/internal/proxy"
	"github.com/webrouter/webrouter/internal/route"
	"github.com/webrouter/webrouter/internal/sysmon"
	"github.com/webrouter/webrouter/internal/tcpproxy"
	"github.com/webrouter/webrouter/internal/upstream"
)

// Run serves until ctx ends or an upgrade hands the sockets to a new
// process, then drains (see entrypoint) for at most cfg.ShutdownGrace and
// returns nil. SIGHUP starts an upgrade (see upgrader). It returns an error
// if the router cannot start (bad configuration, a port in use, a locked
// data directory) or a listener fails.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if err := CheckAdminBind(cfg.AdminAddr, cfg.AdminToken); err != nil {
		return err
	}
	// The data plane's live heap is small: without a floor Go would
	// collect it several times a second under load (package gcfloor).
	defer gcfloor.Start(gcfloor.DefaultFloor)()
	upg, err := tableflip.New(tableflip.Options{PIDFile: cfg.PIDFile, UpgradeTimeout: cfg.UpgradeTimeout})
	if err != nil {
		return fmt.Errorf("prepare for binary upgrades: %w", err)
	}
	defer upg.Stop()

	alog, closeAlog, err := openAccessLog(cfg.AccessLog, cfg.LogFormat)
	if err != nil {
		return err
	}
	defer closeAlog()
	var lv *live.Live
	mopts := metrics.Options{Services: func() []string { return serviceNames(lv.Table()) }}
	if alog != nil {
		mopts.AccessLogDropped = alog.Dropped
	}
	m := metrics.New(mopts)
	var hm *health.Manager
	hm = health.New(health.Options{Log: log, OnTransition: m.NewHealth(func() int { return hm.Running() }).Transition,
		Jitter: func(d time.Duration) time.Duration { return rand.N(d + 1) }})
	defer hm.Close()
	hosts := upstream.NewSet(upstream.WithDrainTimeout(cfg.DrainTimeout), upstream.WithCheckWatcher(hm))
	m.WatchBackends(hosts)

	store, err := openRegistry(cfg, log, m)
	if err != nil {
		return err
	}
	defer store.Close()

	var st *streams
	swapped := make(chan struct{}, 1)
	lv = live.New(func(t *route.Table) {
		m.SetGeneration(t.Gen)
		st.tcp.Sync() // before the write that made t returns: its ports are open, or closed, then
		select {
		case swapped <- struct{}{}:
		default:
		}
	})
	st = newStreams(cfg, upg, lv, log, m)
	liveCtx, stopLive := context.WithCancel(context.Background())
	defer stopLive()
	comp := compile.New(hosts)
	dirCerts, dirFeed, err := certDir(liveCtx, cfg.HTTPS.CertDir, log)
	if err != nil {
		return err
	}
	if dirCerts != nil {
		lv.Seed(comp.ApplyLocal(0, dirCerts)) // served from the start, even with an empty registry
	}
	go lv.RunLocal(liveCtx, store.State().Subscribe(), comp, dirFeed)
	go warnExpiring(liveCtx, lv, swapped, log)
	if err := lv.WaitRev(ctx, store.State().Rev()); err != nil {
		return fmt.Errorf("compile the first routing table: %w", err)
	}
	hm.Start() // addresses that appear from now on wait for their first rise
	t := lv.Table()
	log.Info("registry loaded", "registry", store.Kind(), "dir", cfg.DataDir, "services", store.State().Len(),
		"revision", t.Rev, "generation", t.Gen, "routes", t.Index().Len())

	topts := proxy.TransportOptions{
		ConnectTimeout: cfg.ConnectTimeout, ResponseTimeout: cfg.ResponseTimeout, IdleConnsPerHost: cfg.IdleConnsPerHost,
	}
	transport := proxy.NewTransport(topts)
	defer transport.CloseIdleConnections()
	if err := st.listenHTTPS(upg); err != nil {
		return err
	}
	h2c := proxy.NewH2CTransport(proxy.TransportOptions{ConnectTimeout: cfg.ConnectTimeout, ResponseTimeout: cfg.ResponseTimeout})
	defer h2c.CloseIdleConnections()
	px := proxy.New(proxy.Options{Table: lv.Table, Transport: transport, Backend: topts, AccessLog: alog, Observer: m, Log: log,
		H2C: h2c, HTTPSPort: st.httpsPort()})
	defer px.CloseIdleConnections()
	up := &upgrader{upg: upg, store: store, log: log}
	adm := admin.New(admin.Options{
		Store: store, Live: lv, Hosts: hosts, Metrics: m.Handler(), Token: cfg.AdminToken,
		Version: cfg.Version, Started: time.Now(), Log: log, Upgrade: up.Upgrade,
		Ports: portsView(st.tcp), DefaultCert: cfg.HTTPS.DefaultCert,
	})

	httpLn, err := listen(upg, "http", cfg.HTTPAddr)
	if err != nil {
		return err
	}
	adminLn, err := listen(upg, "admin", cfg.AdminAddr)
	if err != nil {
		httpLn.Close()
		return err
	}
	errLog := slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	setErrLog := func(s *http.Server) { s.ErrorLog = errLog }
	entry := newPlainEntrypoint(httpLn, px, px.Active, m.ConnState("http"), log)
	st.openHTTPS(lv, px, px.Active, m.ConnState("https"), setErrLog)
	adminSrv := &http.Server{Handler: adm, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second, ErrorLog: errLog}
	errc := make(chan error, 4)
	go func() {
		if err := entry.serve(); err != nil {
			errc <- fmt.Errorf("serve http: %w", err)
		}
	}()
	go func() {
		if err := adminSrv.Serve(adminLn); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("serve admin: %w", err)
		}
	}()
	for _, l := range []struct {
		name string
		ln   net.Listener
	}{{"http", httpLn}, {"admin", adminLn}} {
		log.Info("listening", "entrypoint", l.name, "addr", l.ln.Addr().String())
	}
	st.tcp.Sync() // claim inherited TCP ports before Ready closes the unclaimed ones
	streamsCtx, stopStreams := context.WithCancel(context.Background())
	defer stopStreams()
	st.serve(streamsCtx, errc)
	if err := upg.Ready(); err != nil {
		return fmt.Errorf("report ready: %w", err)
	}
	log.Info("ready", "upgraded", upg.HasParent(), "sysmon_awake", sysmon.Awake(os.Getenv("GODEBUG")))
	if err := sdNotify(readyMessage()); err != nil {
		log.Warn("could not tell systemd we are ready", "error", err.Error())
	}

	go func() {
		for range hup {
			_ = up.Upgrade() // logs its outcome
		}
	}()
	upgraded := false
	select {
	case <-ctx.Done():
		log.Info("shutting down", "grace", cfg.ShutdownGrace.String())
	case <-upg.Exit():
		upgraded = true
		log.Info("handed over to the new process; draining", "grace", cfg.ShutdownGrace.String())
	case err = <-errc:
		log.Error("listener failed; shutting down", "error", err.Error())
	}
	if !upgraded {
		// tableflip keeps a copy of every listening socket to hand over;
		// close those too, or the kernel keeps accepting connections that
		// nobody will serve.
		upg.Stop()
		<-upg.Exit()
	}
	st.stop()
	entries := []*entrypoint{entry}
	if st.entry != nil {
		entries = append(entries, st.entry)
	}
	drain(entries, st.fw, adminSrv, cfg.ShutdownGrace, log)
	return err
}

// listen returns the listening socket of one role, inherited from the
// process this one replaces or newly opened. Sockets are handed over by
// role, not by address: two roles may both ask for "127.0.0.1:0". The
// entry points' and the admin API's clients speak first (HTTP, TLS): their
// sockets accept a connection once its request has come (setDeferAccept).
// A TCP service port's ("tcp:<port>") protocol may have the server speak
// first.
func listen(upg *tableflip.Upgrader, role, addr string) (net.Listener, error) {
	ln, err := upg.Fds.ListenWithCallback("tcp", role+"="+addr, func(string, string) (net.Listener, error) {
		return listenTCP(addr)
	})
	if err == nil && clientFirst(role) {
		if err = setDeferAccept(ln); err != nil {
			ln.Close()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("listen %s on %s: %w", role, addr, err)
	}
	return ln, nil
}

// clientFirst reports whether the protocol on role's socket has the client
// speak first.
func clientFirst(role string) bool { return role == "http" || role == "https" || role == "admin" }

// drain retires the entry points, the forwarded connections and the admin
// listener by the grace deadline.
func drain(entries []*entrypoint, fw *tcpproxy.Forwarder, adminSrv *http.Server, grace time.Duration, log *slog.Logger) {
	deadline := time.Now().Add(grace)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	done := make(chan struct{})
	go func() {
		if err := adminSrv.Shutdown(ctx); err != nil {
			adminSrv.Close()
		}
		close(done)
	}()
	cuts := make(chan int, len(entries)+1)
	for _, e := range entries {
		go func() { cuts <- e.drain(deadline) }()
	}
	go func() { cuts <- fw.Drain(deadline) }()
	cut := 0
	for range len(entries) + 1 {
		cut += <-cuts
	}
	if cut > 0 {
		log.Warn("grace period over; cut off what was still open", "connections_and_requests", cut)
	}
	<-done
	log.Info("stopped")
}

// CheckAdminBind refuses an admin address that is not loopback unless a
// token protects it.
func CheckAdminBind(addr, token string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--admin %q: want host:port, e.g. 127.0.0.1:9090: %w", addr, err)
	}
	if token != "" || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	shown := host
	if shown == "" {
		shown = "all interfaces"
	}
	return fmt.Errorf("--admin %s listens on %s, not loopback: set --admin-token (or WEBROUTER_ADMIN_TOKEN) so the admin API requires a credential, or bind it to 127.0.0.1", addr, shown)
}

// openAccessLog opens the access log destination: "stdout", "stderr",
// "off" or a file path (appended to).
func openAccessLog(dest, format string) (*accesslog.Logger, func(), error) {
	var w io.Writer
	closeFile := func() {}
	switch dest {
	case "off", "":
		return nil, func() {}, nil
	case "stdout":
		w = os.Stdout
	case "stderr":
		w = os.Stderr
	default:
		f, err := os.OpenFile(dest, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("--access-log: %w", err)
		}
		w, closeFile = f, func() { f.Close() }
	}
	l := accesslog.New(w, format, 8192)
	return l, func() { l.Close(); closeFile() }, nil
}

// serviceNames lists the HTTP services of t.
func serviceNames(t *route.Table) []string {
	var names []string
	for _, svc := range t.Services() {
		if svc != nil {
			names = append(names, svc.Name)
		}
	}
	return names
}
