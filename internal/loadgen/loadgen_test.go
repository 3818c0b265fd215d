package loadgen

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/webrouter/webrouter/internal/testbed"
)

// echoServer answers / with body bytes and echoes WebSocket messages on
// /ws, mangled when mangle says so.
func echoServer(t *testing.T, body int, ws func(c *websocket.Conn, typ websocket.MessageType, msg []byte) bool) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	return testbed.CountingServer(t, echoHandler(body, ws))
}

// echoHandler is echoServer's handler.
func echoHandler(body int, ws func(c *websocket.Conn, typ websocket.MessageType, msg []byte) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ws" {
			io.Copy(io.Discard, r.Body)
			w.Write([]byte(strings.Repeat("b", body)))
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(context.Background())
			if err != nil || !ws(c, typ, msg) {
				return
			}
		}
	})
}

func echo(c *websocket.Conn, typ websocket.MessageType, msg []byte) bool {
	return c.Write(context.Background(), typ, msg) == nil
}

func run(opts MixOptions, d time.Duration) MixResult {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return StartMix(ctx, opts).Wait()
}

func TestMixCountsEveryKindWithoutFailure(t *testing.T) {
	// Which kind each connection's first request was, by client address:
	// when the count is off, the message says which client opened more.
	var mu sync.Mutex
	kinds := map[string]string{}
	inner := echoHandler(100, echo)
	s, conns := testbed.CountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind := KindKeepAlive
		switch {
		case r.URL.Path == "/ws":
			kind = KindWebSocket
		case r.Close:
			kind = KindNewConn
		}
		mu.Lock()
		if _, ok := kinds[r.RemoteAddr]; !ok {
			kinds[r.RemoteAddr] = kind
		}
		mu.Unlock()
		inner.ServeHTTP(w, r)
	}))
	addr := strings.TrimPrefix(s.URL, "http://")
	res := run(MixOptions{Addr: addr, Host: "x", Clients: 4, NewConns: 50, WebSockets: 3,
		WSLifetime: 300 * time.Millisecond, BodySize: 100, Payload: 10}, 1500*time.Millisecond)
	if res.Failed() != 0 {
		t.Fatalf("failures against a healthy server: %v", res.Reasons())
	}
	if res.KeepAlive.Total < 100 || res.NewConn.Total < 20 || res.WebSocket.Total < 6 || res.Messages < 20 {
		t.Fatalf("too little traffic: %s", res.Summary())
	}
	// Each new-conn request and each WebSocket dial had a connection of its
	// own; the keep-alive clients kept theirs: one each, or now and then a
	// second (Go's Transport dials again for a kept-alive connection it
	// finds ended: seen once in many runs, 93 connections for 92).
	mu.Lock()
	by := map[string]int{}
	for _, k := range kinds {
		by[k]++
	}
	mu.Unlock()
	ka := by[KindKeepAlive]
	want := res.NewConn.Total + res.WebSocket.Total + int64(ka)
	if got := conns.Load(); got != want || ka < 4 || ka > 8 {
		t.Errorf("server saw %d connections, want %d with 4 to 8 for the 4 keep-alive clients (%s); connections by their first request: %v, without a request: %d",
			got, want, res.Summary(), by, got-int64(len(kinds)))
	}
}

// A server that drops every keep-alive connection after its first
// response, without saying so: the next request on it must be counted as
// failed, not silently retried.
func TestKeepAliveDropIsAFailure(t *testing.T) {
	var n atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 0 {
			c, _, _ := w.(http.Hijacker).Hijack()
			c.Close()
			return
		}
		io.Copy(io.Discard, r.Body)
		w.Write([]byte("ok"))
	}))
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	res := Start(ctx, Options{URL: s.URL, Host: "x", Clients: 1, BodySize: 2, Payload: 10}).Wait()
	if res.Total < 10 || res.Failed < res.Total/3 {
		t.Fatalf("%d of %d failed, want about half: %v", res.Failed, res.Total, res.Reasons)
	}
	for _, f := range res.Failures {
		if f.Kind != KindKeepAlive || f.At.Before(f.Start) || !strings.HasPrefix(f.Reason, "transport:") {
			t.Fatalf("failure %+v", f)
		}
	}
}

func TestWebSocketFailures(t *testing.T) {
	tests := []struct {
		name   string
		server func(c *websocket.Conn, typ websocket.MessageType, msg []byte) bool
		reason string
	}{
		{"mismatch", func(c *websocket.Conn, typ websocket.MessageType, msg []byte) bool {
			return c.Write(context.Background(), typ, append(msg, '!')) == nil
		}, "echo mismatch"},
		{"abnormal close", func(c *websocket.Conn, _ websocket.MessageType, _ []byte) bool {
			c.Close(websocket.StatusInternalError, "boom")
			return false
		}, "read: closed by the peer with 1011"},
		{"dropped", func(c *websocket.Conn, _ websocket.MessageType, _ []byte) bool {
			c.CloseNow()
			return false
		}, "read: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := echoServer(t, 0, tt.server)
			res := run(MixOptions{Addr: strings.TrimPrefix(s.URL, "http://"), Host: "x", WebSockets: 1}, 500*time.Millisecond)
			// All but the last session, which the end of the load may cut
			// short before its first message.
			if res.WebSocket.Failed < 2 || res.WebSocket.Failed < res.WebSocket.Total-1 {
				t.Fatalf("%d of %d sessions failed, want all", res.WebSocket.Failed, res.WebSocket.Total)
			}
			if r := res.WebSocket.Failures[0].Reason; !strings.HasPrefix(r, tt.reason) {
				t.Errorf("reason %q, want prefix %q", r, tt.reason)
			}
		})
	}
	t.Run("upgrade refused", func(t *testing.T) {
		s := httptest.NewServer(http.NotFoundHandler())
		defer s.Close()
		res := run(MixOptions{Addr: strings.TrimPrefix(s.URL, "http://"), Host: "x", WebSockets: 1}, 300*time.Millisecond)
		if res.WebSocket.Failed == 0 || !strings.HasPrefix(res.WebSocket.Failures[0].Reason, "dial: ") {
			t.Fatalf("refused upgrade: %v", res.WebSocket.Reasons)
		}
	})
}

func TestSplitAt(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	at := func(start, end int) Failure { return Failure{Start: ms(start), At: ms(end)} }
	// The event: from t0 to t0+10ms, window 1s.
	fs := []Failure{at(-5, 1), at(-5, 0), at(-3000, 900), at(5, 12), at(-5, 1010), // in flight
		at(-5, -1), at(10, 12), at(11, 20), at(-5, 1011)} // not
	in, other := SplitAt(fs, t0, ms(10), time.Second)
	if len(in) != 5 || len(other) != 4 {
		t.Fatalf("in flight %v, other %v", in, other)
	}
	for i, want := range fs[5:] {
		if other[i] != want {
			t.Errorf("other[%d] = %v, want %v", i, other[i], want)
		}
	}
}

func TestReasonList(t *testing.T) {
	got := ReasonList(map[string]int{"b": 1, "a": 1, "c": 5})
	want := []string{"5× c", "1× a", "1× b"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q, want %q", got, want)
	}
}
