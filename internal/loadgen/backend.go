package loadgen

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"time"
)

// Backend is a small HTTP server on loopback that reads the request body
// and answers 200 with a fixed body, as the benchmark backends of PERF.md.
type Backend struct {
	Addr string // "127.0.0.1:port"
	srv  *http.Server
	ln   net.Listener
}

// StartBackend starts a backend whose responses are bodySize bytes.
func StartBackend(bodySize int) (*Backend, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	body := bytes.Repeat([]byte("b"), bodySize)
	b := &Backend{Addr: ln.Addr().String(), ln: ln}
	b.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(body)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go b.srv.Serve(ln)
	return b, nil
}

// Port returns the backend's port.
func (b *Backend) Port() int { return b.ln.Addr().(*net.TCPAddr).Port }

// Stop shuts the backend down gracefully: in-flight requests finish.
func (b *Backend) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b.srv.Shutdown(ctx)
}
