// Command demoapp is a tiny HTTP backend for benchmarks, end-to-end tests
// and demo images (it needs nothing but the standard library and
// coder/websocket, so it builds static and runs FROM scratch).
//
//	demoapp -listen 127.0.0.1:8001 -name web-1 -body-size 1024 -ready-after 2s
//	demoapp -check http://127.0.0.1:8001/healthz   # exit 0 if healthy (for HEALTHCHECK)
//
// It serves:
//
//	/         reads the request body, answers 200 with -body-size bytes and
//	          the header X-Backend: <name>
//	/healthz  503 until -ready-after has passed since start, then 200;
//	          PUT "down" makes it answer 503, PUT "up" undoes that
//	/ws       WebSocket echo: every message comes back unchanged
//
// It logs JSON lines on stderr; the first is {"msg":"listening","addr":…}
// with the bound address, so -listen 127.0.0.1:0 can be used.
//
// With -lame-duck D, SIGTERM or SIGINT first leave it serving for D with
// /healthz answering 503, so routers can take it out of rotation. Then it
// shuts down gracefully: it stops accepting, finishes
// the requests in flight and lets open WebSockets run until their clients
// close them, for at most -grace; then it closes what is left and exits 0.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	cfg := config{}
	flag.StringVar(&cfg.listen, "listen", ":8000", "`address` to listen on")
	flag.StringVar(&cfg.name, "name", "", "name sent in X-Backend (default: the host name)")
	flag.IntVar(&cfg.bodySize, "body-size", 1024, "response body size in `bytes`")
	flag.DurationVar(&cfg.readyAfter, "ready-after", 0, "/healthz answers 503 for this long after start, then 200")
	flag.DurationVar(&cfg.grace, "grace", 30*time.Second, "on SIGTERM, how long in-flight requests and WebSockets may take")
	flag.DurationVar(&cfg.lameDuck, "lame-duck", 0, "on SIGTERM, keep serving this long (with /healthz answering 503) before shutting down")
	check := flag.String("check", "", "instead of serving, GET this `URL` and exit 0 if it answers 2xx or 3xx, else 1 (a health check command for images without a shell)")
	flag.Parse()
	if *check != "" {
		os.Exit(healthCheck(*check))
	}
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "demoapp: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	if cfg.name == "" {
		cfg.name, _ = os.Hostname()
	}
	if cfg.bodySize < 0 {
		fmt.Fprintf(os.Stderr, "demoapp: -body-size %d: want 0 or more\n", cfg.bodySize)
		os.Exit(2)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, cfg, log); err != nil {
		log.Error("demoapp failed", "err", err)
		os.Exit(1)
	}
}

// healthCheck GETs url within 2 s and returns the exit code: 0 for a 2xx
// or 3xx answer, 1 otherwise (with the reason on stderr).
func healthCheck(url string) int {
	c := &http.Client{Timeout: 2 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demoapp -check:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		fmt.Fprintln(os.Stderr, "demoapp -check:", resp.Status)
		return 1
	}
	return 0
}

// run listens on cfg.listen and serves until ctx ends, then shuts down
// gracefully (see serve).
func run(ctx context.Context, cfg config, log *slog.Logger) error {
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (pick another -listen address)", cfg.listen, err)
	}
	log.Info("listening", "addr", ln.Addr().String(), "name", cfg.name)
	return serve(ctx, ln, cfg, log)
}
