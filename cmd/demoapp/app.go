package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// config is what the flags set.
type config struct {
	listen     string
	name       string
	bodySize   int
	readyAfter time.Duration
	grace      time.Duration
	lameDuck   time.Duration
}

// app is the HTTP handler of one demoapp process.
type app struct {
	name    string
	body    []byte
	readyAt time.Time
	// stopping is set for the lame-duck period after SIGTERM: the app
	// still serves, but /healthz says it is going.
	stopping atomic.Bool
	// forcedDown is set by PUT /healthz "down" (tests and demos of health
	// checks) and cleared by "up".
	forcedDown atomic.Bool
	log        *slog.Logger

	// wsCtx ends when the grace period is over: open WebSockets are then
	// closed. ws counts the WebSocket sessions under way.
	wsCtx context.Context
	ws    *sessions
}

// sessions counts WebSocket sessions under way; unlike a WaitGroup it may
// gain sessions while someone waits for it to be idle.
type sessions struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed while n == 0
}

func newSessions() *sessions {
	s := &sessions{idle: make(chan struct{})}
	close(s.idle)
	return s
}

func (s *sessions) add() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		s.idle = make(chan struct{})
	}
	s.n++
}

func (s *sessions) done() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n--
	if s.n == 0 {
		close(s.idle)
	}
}

// idleChan is closed once no session is under way (at the time of the
// call or later).
func (s *sessions) idleChan() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.idle
}

func newApp(cfg config, log *slog.Logger, wsCtx context.Context) *app {
	return &app{name: cfg.name, body: bytes.Repeat([]byte("d"), cfg.bodySize),
		readyAt: time.Now().Add(cfg.readyAfter), log: log, wsCtx: wsCtx, ws: newSessions()}
}

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Backend", a.name)
	switch r.URL.Path {
	case "/healthz":
		if r.Method == http.MethodPut {
			a.setHealth(w, r)
			return
		}
		if a.forcedDown.Load() {
			http.Error(w, "down (set by PUT /healthz)", http.StatusServiceUnavailable)
			return
		}
		if time.Now().Before(a.readyAt) {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		if a.stopping.Load() {
			http.Error(w, "stopping", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	case "/ws":
		a.echo(w, r)
	default:
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return // the client went away mid-body: nothing to answer
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(a.body)))
		w.Write(a.body)
	}
}

// setHealth serves PUT /healthz with a body of "down" or "up".
func (a *app) setHealth(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 16))
	switch strings.TrimSpace(string(b)) {
	case "down":
		a.forcedDown.Store(true)
	case "up":
		a.forcedDown.Store(false)
	default:
		http.Error(w, `want "down" or "up"`, http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// echo serves one WebSocket session: every message is sent back as it
// came, until the client closes or the grace period after SIGTERM ends.
func (a *app) echo(w http.ResponseWriter, r *http.Request) {
	a.ws.add()
	defer a.ws.done()
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept has answered the client
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	ended := make(chan struct{})
	defer close(ended)
	go func() {
		select {
		case <-a.wsCtx.Done():
			c.Close(websocket.StatusGoingAway, "shutting down")
		case <-ended:
		}
	}()
	ctx := context.Background() // the session ends by a close, never by a context
	for {
		typ, msg, err := c.Read(ctx)
		if err != nil {
			return
		}
		if err := c.Write(ctx, typ, msg); err != nil {
			return
		}
	}
}

// serve serves ln until ctx ends, then shuts down gracefully: the listener
// closes at once, requests in flight finish and open WebSockets run until
// their clients close them, all within cfg.grace; whatever is left after
// that is closed. It returns nil after a clean or a timed-out shutdown.
func serve(ctx context.Context, ln net.Listener, cfg config, log *slog.Logger) error {
	wsCtx, closeWS := context.WithCancel(context.Background())
	defer closeWS()
	a := newApp(cfg, log, wsCtx)
	srv := &http.Server{Handler: a, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	if cfg.lameDuck > 0 {
		// Keep serving while routers notice (the Docker agent drains the
		// instance, health checks see /healthz fail): a container engine
		// signals the app before it tells anyone it is stopping it.
		a.stopping.Store(true)
		log.Info("lame duck: still serving, /healthz answers 503", "for", cfg.lameDuck.String())
		select {
		case err := <-served:
			return err
		case <-time.After(cfg.lameDuck):
		}
	}
	log.Info("shutting down", "grace", cfg.grace.String())
	graceCtx, cancel := context.WithTimeout(context.Background(), cfg.grace)
	defer cancel()
	// Shutdown does not track hijacked connections (WebSockets): wait for
	// their handlers separately, within the same grace period.
	err := srv.Shutdown(graceCtx)
	if err == nil {
		select {
		case <-a.ws.idleChan():
		case <-graceCtx.Done():
			err = graceCtx.Err()
		}
	}
	if err != nil {
		log.Warn("grace period over: closing what is left", "grace", cfg.grace.String(), "err", err.Error())
		srv.Close()
		closeWS()
		<-a.ws.idleChan()
		return nil
	}
	log.Info("stopped")
	return nil
}
