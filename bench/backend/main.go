// Command backend is the HTTP backend of the throughput benchmark
// (bench/perf): one process listening on several loopback ports, serving
// every proxy under test the same way. It reads each request body in full
// and answers 200 with a body whose size the path names: /bytes/<n>
// (n ≤ 1 MiB); any other path gets 1 KiB. A query of delay=<duration>
// (≤ 10 s) holds the answer back that long: a slow backend. Connections
// are kept alive.
//
// The server is the repo's own internal/h1 by default (-server h1), the
// leanest HTTP/1.1 server here: the backend runs on the load's core beside
// wrk, and every microsecond it spends per request is taken from the load
// the proxies see. With net/http's server (-server net/http) the load's
// core tops out at about half the small case's requests per second, and
// the fastest proxies' req/s then say more of the load side than of them.
//
// Once listening it prints one JSON line on stdout, {"ports":[…]}, and
// serves until SIGTERM or SIGINT.
//
//	go run ./bench/backend -ports 4
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/webrouter/webrouter/internal/h1"
)

// maxBody bounds the response size a path may ask for.
const maxBody = 1 << 20

// maxDelay bounds the wait a request may ask for (?delay=).
const maxDelay = 10 * time.Second

func main() {
	n := flag.Int("ports", 4, "number of loopback ports to listen on")
	server := flag.String("server", "h1", "the HTTP/1.1 server: h1 (the repo's internal/h1) or net/http")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, *n, *server, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "backend:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends; it writes the ports line to out once every
// port listens.
func run(ctx context.Context, n int, server string, out io.Writer) error {
	if n < 1 {
		return fmt.Errorf("-ports must be at least 1, got %d", n)
	}
	var srv interface{ Serve(net.Listener) error }
	switch server {
	case "h1":
		srv = &h1.Server{Handler: handler(), ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 5 * time.Minute}
	case "net/http":
		srv = &http.Server{Handler: handler(), ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 5 * time.Minute}
	default:
		return fmt.Errorf("-server must be h1 or net/http, got %q", server)
	}
	var ports []int
	errc := make(chan error, n)
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
		go func() { errc <- srv.Serve(ln) }()
	}
	if err := json.NewEncoder(out).Encode(map[string][]int{"ports": ports}); err != nil {
		return err
	}
	// Ended by a signal, the process exits and its connections close with
	// it: the benchmark stops the backend only once every run is done.
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		return err
	}
}

// handler drains the request body and writes the sized body.
func handler() http.Handler {
	body := bytes.Repeat([]byte("b"), maxBody)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if q := r.URL.RawQuery; q != "" {
			// ?delay=<duration>: a slow backend (the slow case).
			d, err := time.ParseDuration(strings.TrimPrefix(q, "delay="))
			if !strings.HasPrefix(q, "delay=") || err != nil || d < 0 || d > maxDelay {
				http.Error(w, "the only query is delay=<duration>, 0…10s", http.StatusBadRequest)
				return
			}
			time.Sleep(d)
		}
		size := 1024
		if s, ok := strings.CutPrefix(r.URL.Path, "/bytes/"); ok {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 || n > maxBody {
				http.Error(w, "size must be 0…1048576", http.StatusBadRequest)
				return
			}
			size = n
		}
		h := w.Header()
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Length", strconv.Itoa(size))
		w.Write(body[:size])
	})
}
