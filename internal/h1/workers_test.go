package h1

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// goroutineID is the number runtime.Stack prints for the calling goroutine.
func goroutineID() string {
	b := make([]byte, 64)
	b = b[:runtime.Stack(b, false)]
	f := bytes.Fields(b)
	return string(f[1])
}

// TestConnectionGoroutinesAreReused: the goroutine of an ended connection
// serves the next one, and every parked goroutine exits once Serve has
// returned.
func TestConnectionGoroutinesAreReused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-G", goroutineID())
	})}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	parked := func() int {
		s.workers.mu.Lock()
		defer s.workers.mu.Unlock()
		return len(s.workers.idle)
	}
	seen := map[string]bool{}
	for i := range 5 {
		out := raw(t, ln.Addr().String(), "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
		_, g, ok := strings.Cut(out, "X-G: ")
		if !ok {
			t.Fatalf("answer %d:\n%s", i, out)
		}
		g, _, _ = strings.Cut(g, "\r\n")
		seen[g] = true
		deadline := time.Now().Add(5 * time.Second)
		for parked() != 1 {
			if time.Now().After(deadline) {
				t.Fatalf("after connection %d: %d goroutines parked, want 1", i, parked())
			}
			time.Sleep(time.Millisecond)
		}
	}
	if len(seen) != 1 {
		t.Errorf("5 connections one after another were served by %d goroutines, want 1: %v", len(seen), seen)
	}
	ln.Close()
	<-served
	if n := parked(); n != 0 {
		t.Errorf("%d goroutines still parked after Serve returned", n)
	}
	if s.workers.park(&worker{next: make(chan *conn, 1)}) {
		t.Error("a goroutine was parked after Serve returned")
	}
}

// TestParkedGoroutinesExpire: a sweep lets go the goroutines parked
// longer than maxWorkerIdle and keeps the others; the most recently parked
// goroutine is the one handed a connection; no more than maxIdleWorkers
// wait.
func TestParkedGoroutinesExpire(t *testing.T) {
	var ws workers
	old, recent := &worker{next: make(chan *conn, 1)}, &worker{next: make(chan *conn, 1)}
	if !ws.park(old) || !ws.park(recent) {
		t.Fatal("park refused")
	}
	old.since = time.Now().Add(-maxWorkerIdle - time.Second)
	ws.sweep()
	if got := <-old.next; got != nil {
		t.Errorf("the expired goroutine got %p, want nil (exit)", got)
	}
	c := &conn{}
	if !ws.give(c) {
		t.Fatal("give found no parked goroutine: the sweep let the recent one go")
	}
	if got := <-recent.next; got != c {
		t.Errorf("the recently parked goroutine got %p, want %p", got, c)
	}
	if ws.give(c) {
		t.Error("give handed a connection to a goroutine that was let go")
	}
	for i := range maxIdleWorkers + 1 {
		if ok := ws.park(&worker{next: make(chan *conn, 1)}); ok != (i < maxIdleWorkers) {
			t.Fatalf("park %d = %v", i, ok)
		}
	}
	ws.close()
}

// TestHandlerGoexitClosesItsConnection: a handler that ends its goroutine
// (runtime.Goexit, as t.FailNow does) gets no answer, but its connection
// is closed and the server goes on serving.
func TestHandlerGoexitClosesItsConnection(t *testing.T) {
	addr, _ := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/exit" {
			runtime.Goexit()
		}
		io.WriteString(w, "ok")
	}), nil)
	c := dial(t, addr, 2*time.Second)
	io.WriteString(c, "GET /exit HTTP/1.1\r\nHost: a\r\n\r\n")
	if b, err := io.ReadAll(c); err != nil || len(b) != 0 {
		t.Fatalf("read %q, %v; want the connection closed without an answer", b, err)
	}
	for range 3 {
		if out := raw(t, addr, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"); !strings.Contains(out, "\r\nok\r\n") {
			t.Fatalf("after the Goexit:\n%s", out)
		}
	}
}
