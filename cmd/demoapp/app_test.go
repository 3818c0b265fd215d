package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// started is one demoapp served in-process on a loopback port.
type started struct {
	addr   string
	stop   context.CancelFunc // SIGTERM
	served chan error         // serve's result
}

func start(t *testing.T, cfg config) *started {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &started{addr: ln.Addr().String(), stop: stop, served: make(chan error, 1)}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() { s.served <- serve(ctx, ln, cfg, log) }()
	t.Cleanup(func() {
		stop()
		select {
		case <-s.served:
		case <-time.After(10 * time.Second):
			t.Error("demoapp did not stop within 10s")
		}
	})
	return s
}

// waitServed waits for serve to return and fails the test on an error.
func (s *started) waitServed(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case err := <-s.served:
		s.served <- err // for the cleanup
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(within):
		t.Fatalf("serve did not return within %s", within)
	}
}

func TestRootAnswersBodySizeAndName(t *testing.T) {
	for _, size := range []int{0, 1024, 70000} {
		s := start(t, config{name: "web-1", bodySize: size, grace: time.Second})
		resp, err := http.Post("http://"+s.addr+"/any/path", "text/plain", strings.NewReader("payload"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(b) != size || resp.Header.Get("X-Backend") != "web-1" {
			t.Errorf("size %d: got %d, %d bytes, X-Backend %q", size, resp.StatusCode, len(b), resp.Header.Get("X-Backend"))
		}
	}
}

func TestHealthzTurnsReadyAfterDelay(t *testing.T) {
	s := start(t, config{name: "a", readyAfter: 300 * time.Millisecond, grace: time.Second})
	code := func() int {
		resp, err := http.Get("http://" + s.addr + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := code(); got != http.StatusServiceUnavailable {
		t.Fatalf("healthz right after start = %d, want 503", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for code() != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("healthz never answered 200")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func dialWS(t *testing.T, addr string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func echo(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	_, got, err := c.Read(ctx)
	if err != nil || string(got) != msg {
		t.Fatalf("echo of %q: %q, %v", msg, got, err)
	}
}

// SIGTERM: the listener closes, but an open WebSocket keeps echoing until
// its client closes it normally, and only then does serve return.
func TestShutdownLetsWebSocketsEnd(t *testing.T) {
	s := start(t, config{name: "a", grace: 10 * time.Second})
	c := dialWS(t, s.addr)
	echo(t, c, "before")
	s.stop()
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err != nil {
			break // the listener is closed
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still accepting 5s after shutdown began")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-s.served:
		t.Fatalf("serve returned (%v) while a WebSocket was open", err)
	default:
	}
	echo(t, c, "during shutdown")
	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatalf("close: %v", err)
	}
	s.waitServed(t, 5*time.Second)
}

// SIGTERM while a request body is still arriving: the request finishes.
// The client sends "Expect: 100-continue", so the interim response proves
// the handler is reading the body before the shutdown begins.
func TestShutdownFinishesRequestsInFlight(t *testing.T) {
	s := start(t, config{name: "a", bodySize: 10, grace: 10 * time.Second})
	conn, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 22\r\nExpect: 100-continue\r\n\r\n")
	br := bufio.NewReader(conn)
	if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, "100") {
		t.Fatalf("interim response: %q, %v", line, err)
	}
	br.ReadString('\n') // the blank line after "100 Continue"
	io.WriteString(conn, "first half ")
	s.stop()
	select {
	case err := <-s.served:
		t.Fatalf("serve returned (%v) with a request in flight", err)
	case <-time.After(100 * time.Millisecond): // pacing: give Shutdown a chance to misbehave
	}
	io.WriteString(conn, "second half")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 || len(b) != 10 {
		t.Fatalf("in-flight request: %d, %d bytes, %v", resp.StatusCode, len(b), err)
	}
	s.waitServed(t, 5*time.Second)
}

// After the grace period, open WebSockets are closed and serve returns.
func TestShutdownGraceEnds(t *testing.T) {
	s := start(t, config{name: "a", grace: 200 * time.Millisecond})
	c := dialWS(t, s.addr)
	defer c.CloseNow()
	echo(t, c, "x")
	read := make(chan error, 1)
	go func() { // a client reads all the time, and so sees the close
		_, _, err := c.Read(context.Background())
		read <- err
	}()
	s.stop()
	s.waitServed(t, 5*time.Second)
	if err := <-read; websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("read after the grace period: %v, want close 1001", err)
	}
}

func TestHealthCanBeForcedAndLameDuck(t *testing.T) {
	a := newApp(config{name: "x"}, slog.New(slog.DiscardHandler), context.Background())
	status := func(method, body string) int {
		w := httptest.NewRecorder()
		a.ServeHTTP(w, httptest.NewRequest(method, "/healthz", strings.NewReader(body)))
		return w.Code
	}
	for _, step := range []struct {
		method, body string
		want         int
	}{
		{"GET", "", 200}, {"PUT", "down", 204}, {"GET", "", 503}, {"PUT", "sideways", 400}, {"PUT", "up", 204}, {"GET", "", 200},
	} {
		if got := status(step.method, step.body); got != step.want {
			t.Errorf("%s /healthz %q = %d, want %d", step.method, step.body, got, step.want)
		}
	}
	a.stopping.Store(true) // the lame-duck period after SIGTERM
	if got := status("GET", ""); got != 503 {
		t.Errorf("during the lame-duck period /healthz = %d, want 503", got)
	}
}

func TestCheckMode(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer down.Close()
	if healthCheck(up.URL) != 0 || healthCheck(down.URL) != 1 || healthCheck("http://127.0.0.1:1/") != 1 {
		t.Error("-check exit codes wrong")
	}
}
