package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/webrouter/webrouter/internal/accesslog"
	"github.com/webrouter/webrouter/internal/admin"
	"github.com/webrouter/webrouter/internal/compile"
	"github.com/webrouter/webrouter/internal/live"
	"github.com/webrouter/webrouter/internal/metrics"
	"github.com/webrouter/webrouter/internal/proxy"
	"github.com/webrouter/webrouter/internal/route"
	"github.com/webrouter/webrouter/internal/upstream"
)

// Run serves until ctx ends, then stops accepting, lets in-flight requests
// finish for at most cfg.ShutdownGrace, and returns nil. It returns an
// error if the router cannot start (bad configuration, a port in use, a
// locked data directory) or a listener fails.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	if err := CheckAdminBind(cfg.AdminAddr, cfg.AdminToken); err != nil {
		return err
	}
	alog, closeAlog, err := openAccessLog(cfg.AccessLog, cfg.LogFormat)
	if err != nil {
		return err
	}
	defer closeAlog()
	hosts := upstream.NewSet()
	mopts := metrics.Options{Hosts: hosts}
	if alog != nil {
		mopts.AccessLogDropped = alog.Dropped
	}
	m := metrics.New(mopts)

	store, err := openRegistry(cfg, log, m)
	if err != nil {
		return err
	}
	defer store.Close()

	lv := live.New(func(t *route.Table) { m.SetGeneration(t.Gen) })
	liveCtx, stopLive := context.WithCancel(context.Background())
	defer stopLive()
	go lv.Run(liveCtx, store.State().Subscribe(), compile.New(hosts))
	if err := lv.WaitRev(ctx, store.State().Rev()); err != nil {
		return fmt.Errorf("compile the first routing table: %w", err)
	}
	t := lv.Table()
	log.Info("registry loaded", "registry", store.Kind(), "dir", cfg.DataDir, "services", store.State().Len(),
		"revision", t.Rev, "generation", t.Gen, "routes", t.Index().Len())

	transport := proxy.NewTransport(proxy.TransportOptions{
		ConnectTimeout: cfg.ConnectTimeout, ResponseTimeout: cfg.ResponseTimeout, IdleConnsPerHost: cfg.IdleConnsPerHost,
	})
	defer transport.CloseIdleConnections()
	px := proxy.New(proxy.Options{Table: lv.Table, Transport: transport, AccessLog: alog, Observer: m, Log: log})
	adm := admin.New(admin.Options{
		Store: store, Live: lv, Hosts: hosts, Metrics: m.Handler(), Token: cfg.AdminToken,
		Version: cfg.Version, Started: time.Now(), Log: log,
	})

	errLog := slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	servers := []*entry{
		{name: "http", addr: cfg.HTTPAddr, srv: &http.Server{
			Handler: px, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second,
			ConnState: m.ConnState("http"), ErrorLog: errLog,
		}},
		{name: "admin", addr: cfg.AdminAddr, srv: &http.Server{
			Handler: adm, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second, ErrorLog: errLog,
		}},
	}
	for _, e := range servers {
		if e.ln, err = net.Listen("tcp", e.addr); err != nil {
			closeAll(servers)
			return fmt.Errorf("listen %s on %s: %w", e.name, e.addr, err)
		}
	}
	errc := make(chan error, len(servers))
	for _, e := range servers {
		log.Info("listening", "entrypoint", e.name, "addr", e.ln.Addr().String())
		go func(e *entry) {
			if err := e.srv.Serve(e.ln); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("serve %s: %w", e.name, err)
			}
		}(e)
	}

	select {
	case <-ctx.Done():
	case err = <-errc:
		log.Error("listener failed; shutting down", "error", err.Error())
	}
	shutdown(servers, cfg.ShutdownGrace, log)
	return err
}

type entry struct {
	name, addr string
	srv        *http.Server
	ln         net.Listener
}

func closeAll(servers []*entry) {
	for _, e := range servers {
		if e.ln != nil {
			e.ln.Close()
		}
	}
}

// shutdown stops every listener at once, waits up to grace for in-flight
// requests, then closes what is left.
func shutdown(servers []*entry, grace time.Duration, log *slog.Logger) {
	log.Info("shutting down", "grace", grace.String())
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	var wg sync.WaitGroup
	for _, e := range servers {
		wg.Add(1)
		go func(e *entry) {
			defer wg.Done()
			if err := e.srv.Shutdown(ctx); err != nil {
				log.Warn("grace period over; closing remaining connections", "entrypoint", e.name)
				e.srv.Close()
			}
		}(e)
	}
	wg.Wait()
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
