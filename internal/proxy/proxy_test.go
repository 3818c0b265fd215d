package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/webrouter/webrouter/internal/catalog"
)

type echo struct {
	Host, URI, Path, RawPath string
	Header                   http.Header
}

func echoBackend(t *testing.T, name string) *httptest.Server {
	return backend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", name)
		w.Header().Set("Connection", "X-Secret-Hop")
		w.Header().Set("X-Secret-Hop", "must not reach the client")
		w.Header().Set("Keep-Alive", "timeout=5")
		_ = json.NewEncoder(w).Encode(echo{r.Host, r.RequestURI, r.URL.Path, r.URL.RawPath, r.Header})
	})
}

func decodeEcho(t *testing.T, resp *http.Response) echo {
	t.Helper()
	defer resp.Body.Close()
	var e echo
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatalf("decode backend echo (status %d): %v", resp.StatusCode, err)
	}
	return e
}

func TestForwardedRequest(t *testing.T) {
	r := newRig(t, TransportOptions{})
	be := echoBackend(t, "a")
	r.service("demo", catalog.ServiceSpec{Mountpoints: []string{"demo.lain.local", "lain.demo.com/hello"}})
	r.service("keep", catalog.ServiceSpec{Mountpoints: []string{"lain.demo.com/keep"}, StripPrefix: new(bool)})
	r.instance("demo", "a", hostOf(be), 10)
	r.instance("keep", "a", hostOf(be), 10)

	tests := []struct {
		name, host, target string
		hdr                http.Header
		wantURI, wantPfx   string
	}{
		{"host only", "demo.lain.local", "/x/y?b=2&a=1", nil, "/x/y?b=2&a=1", ""},
		{"prefix stripped", "lain.demo.com", "/hello/x?q=1", nil, "/x?q=1", "/hello"},
		{"prefix alone", "lain.demo.com", "/hello", nil, "/", "/hello"},
		{"prefix slash", "lain.demo.com", "/hello/", nil, "/", "/hello"},
		{"query byte for byte", "demo.lain.local", "/p?x=1;y=%zz&&=&a+b", nil, "/p?x=1;y=%zz&&=&a+b", ""},
		{"escaped path kept", "lain.demo.com", "/hello/a%2Fb/c%20d", nil, "/a%2Fb/c%20d", "/hello"},
		{"no strip", "lain.demo.com", "/keep/x", nil, "/keep/x", ""},
		{"client prefix header dropped", "lain.demo.com", "/keep/x", http.Header{"X-Forwarded-Prefix": {"/evil"}}, "/keep/x", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := r.do("GET", tt.host, tt.target, tt.hdr)
			e := decodeEcho(t, resp)
			if e.URI != tt.wantURI {
				t.Errorf("backend got %q, want %q", e.URI, tt.wantURI)
			}
			if got := e.Header.Get("X-Forwarded-Prefix"); got != tt.wantPfx {
				t.Errorf("X-Forwarded-Prefix = %q, want %q", got, tt.wantPfx)
			}
			if e.Host != tt.host {
				t.Errorf("backend Host = %q, want %q", e.Host, tt.host)
			}
		})
	}
}

func TestForwardingHeaders(t *testing.T) {
	r := newRig(t, TransportOptions{})
	be := echoBackend(t, "a")
	r.service("demo", catalog.ServiceSpec{Mountpoints: []string{"demo.com"}})
	r.instance("demo", "a", hostOf(be), 10)

	hdr := http.Header{
		"X-Forwarded-For":   {"203.0.113.7"},
		"X-Real-Ip":         {"6.6.6.6"},
		"X-Forwarded-Proto": {"https"},
		"Connection":        {"X-Client-Hop"},
		"X-Client-Hop":      {"hop"},
		"X-Request-Id":      {"client-id-123"},
		"Te":                {"trailers"},
	}
	resp := r.do("GET", "Demo.com:8080", "/", hdr)
	if got := resp.Header.Get("X-Request-Id"); got != "client-id-123" {
		t.Errorf("response X-Request-Id = %q, want the client's", got)
	}
	for _, h := range []string{"X-Secret-Hop", "Keep-Alive"} {
		if v := resp.Header.Get(h); v != "" {
			t.Errorf("hop-by-hop response header %s = %q reached the client", h, v)
		}
	}
	e := decodeEcho(t, resp)
	want := map[string]string{
		"X-Forwarded-For":   "203.0.113.7, 127.0.0.1",
		"X-Real-Ip":         "127.0.0.1",
		"X-Forwarded-Proto": "http",
		"X-Forwarded-Host":  "Demo.com:8080",
		"X-Request-Id":      "client-id-123",
		"X-Client-Hop":      "",
		"Te":                "trailers",
	}
	for k, v := range want {
		if got := e.Header.Get(k); got != v {
			t.Errorf("backend %s = %q, want %q", k, got, v)
		}
	}

	// An invalid client id is replaced by a generated one.
	resp = r.do("GET", "demo.com", "/", http.Header{"X-Request-Id": {"bad id with spaces"}})
	e = decodeEcho(t, resp)
	id := e.Header.Get("X-Request-Id")
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(id) || resp.Header.Get("X-Request-Id") != id {
		t.Errorf("generated id %q (response %q)", id, resp.Header.Get("X-Request-Id"))
	}
}

func TestErrorStatuses(t *testing.T) {
	r := newRig(t, TransportOptions{ResponseTimeout: 200 * time.Millisecond})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	slow := backend(t, func(w http.ResponseWriter, req *http.Request) {
		select {
		case <-release:
		case <-req.Context().Done():
		}
	})
	reset := backend(t, func(w http.ResponseWriter, req *http.Request) {
		c, _, _ := http.NewResponseController(w).Hijack()
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	})
	r.service("empty", catalog.ServiceSpec{Mountpoints: []string{"empty.com"}})
	r.service("zero", catalog.ServiceSpec{Mountpoints: []string{"zero.com"}})
	r.instance("zero", "a", hostOf(slow), 0)
	r.service("dead", catalog.ServiceSpec{Mountpoints: []string{"dead.com"}})
	r.instance("dead", "a", deadAddr(t), 10)
	r.service("slow", catalog.ServiceSpec{Mountpoints: []string{"slow.com"}})
	r.instance("slow", "a", hostOf(slow), 10)
	r.service("reset", catalog.ServiceSpec{Mountpoints: []string{"reset.com"}})
	r.instance("reset", "a", hostOf(reset), 10)

	tests := []struct {
		host   string
		status int
		text   string
	}{
		{"nowhere.com", 404, "no route"},
		{"empty.com", 503, `no usable instance of service "empty"`},
		{"zero.com", 503, "no usable instance"},
		{"dead.com", 502, "refused or reset"},
		{"reset.com", 502, "refused or reset"},
		{"slow.com", 504, "did not answer in time"},
	}
	for _, tt := range tests {
		resp := r.do("GET", tt.host, "/", nil)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("X-Request-Id")
		if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.text) || id == "" || !strings.Contains(string(body), id) {
			t.Errorf("%s: %d %q (id %q), want %d with %q and the request id", tt.host, resp.StatusCode, body, id, tt.status, tt.text)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("%s: Content-Type %q", tt.host, ct)
		}
	}
}

func TestConnectFailureRetriesAnyMethod(t *testing.T) {
	r := newRig(t, TransportOptions{})
	var hits atomic.Int32
	good := backend(t, func(w http.ResponseWriter, req *http.Request) {
		hits.Add(1)
		b, _ := io.ReadAll(req.Body)
		w.Write(b)
	})
	r.service("demo", catalog.ServiceSpec{Mountpoints: []string{"demo.com"}, MaxFails: new(int)}) // passive health off: every request meets the dead one
	r.instance("demo", "dead", deadAddr(t), 10)
	r.instance("demo", "good", hostOf(good), 10)
	for i := 0; i < 10; i++ {
		body := strings.Repeat("x", 1000)
		req, _ := http.NewRequest("POST", r.front.URL+"/", io.NopCloser(strings.NewReader(body))) // not replayable by the client
		req.Host = "demo.com"
		resp, err := r.front.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(got) != body {
			t.Fatalf("POST %d: status %d, body %d bytes", i, resp.StatusCode, len(got))
		}
	}
	if hits.Load() != 10 {
		t.Errorf("good backend got %d requests, want 10", hits.Load())
	}
}

func TestSentBodyIsNeverRetried(t *testing.T) {
	r := newRig(t, TransportOptions{})
	var hits atomic.Int32
	// Both backends read the body, then reset the connection.
	h := func(w http.ResponseWriter, req *http.Request) {
		hits.Add(1)
		io.Copy(io.Discard, req.Body)
		c, _, _ := http.NewResponseController(w).Hijack()
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}
	a, b := backend(t, h), backend(t, h)
	r.service("demo", catalog.ServiceSpec{Mountpoints: []string{"demo.com"}})
	r.instance("demo", "a", hostOf(a), 10)
	r.instance("demo", "b", hostOf(b), 10)
	req, _ := http.NewRequest("POST", r.front.URL+"/", io.NopCloser(strings.NewReader("payload")))
	req.Host = "demo.com"
	resp, err := r.front.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 502 || hits.Load() != 1 {
		t.Errorf("status %d after %d backend hits; want 502 after exactly 1", resp.StatusCode, hits.Load())
	}

	// An idempotent request without a body is retried once on a dead connection.
	hits.Store(0)
	resp = r.do("GET", "demo.com", "/", nil)
	resp.Body.Close()
	if resp.StatusCode != 502 || hits.Load() != 2 {
		t.Errorf("GET: status %d after %d backend hits; want 502 after exactly 2", resp.StatusCode, hits.Load())
	}
}

func TestPassiveHealth(t *testing.T) {
	r := newRig(t, TransportOptions{})
	now := time.Now()
	r.clock.Store(&now)
	var hits atomic.Int32
	good := backend(t, func(w http.ResponseWriter, req *http.Request) { hits.Add(1) })
	dead := deadAddr(t)
	r.service("demo", catalog.ServiceSpec{Mountpoints: []string{"demo.com"}, FailTimeout: "10s"})
	r.instance("demo", "dead", dead, 10)
	r.instance("demo", "good", hostOf(good), 10)
	h, _ := r.hosts.Get(dead)
	for i := 0; i < 20; i++ {
		resp := r.do("GET", "demo.com", "/", nil)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %d (retries should hide the dead instance)", i, resp.StatusCode)
		}
	}
	if h.Up(now) {
		t.Fatal("dead address still up after 20 requests with max_fails 3")
	}
	if tot := h.Total(); tot != 3 {
		t.Errorf("dead address was tried %d times; want exactly max_fails (3), then no traffic", tot)
	}
	later := now.Add(11 * time.Second)
	r.clock.Store(&later)
	if !h.Up(later) {
		t.Fatal("address not retried after fail_timeout")
	}
	for i := 0; i < 6; i++ {
		r.do("GET", "demo.com", "/", nil).Body.Close()
	}
	// On probation, one more failure takes it down again at once.
	if h.Total() != 4 || h.Up(later) {
		t.Errorf("after fail_timeout: tried %d times in all, up=%v; want one retry then down again", h.Total(), h.Up(later))
	}
}

func TestWebSocketPassesThrough(t *testing.T) {
	r := newRig(t, TransportOptions{})
	be := backend(t, func(w http.ResponseWriter, req *http.Request) {
		c, err := websocket.Accept(w, req, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(req.Context())
			if err != nil {
				return
			}
			if err := c.Write(req.Context(), typ, append([]byte("echo:"), msg...)); err != nil {
				return
			}
		}
	})
	r.service("ws", catalog.ServiceSpec{Mountpoints: []string{"ws.com/socket"}})
	r.instance("ws", "a", hostOf(be), 10)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, strings.Replace(r.front.URL, "http", "ws", 1)+"/socket/chat", &websocket.DialOptions{Host: "ws.com"})
	if err != nil {
		t.Fatalf("dial through proxy: %v", err)
	}
	defer c.CloseNow()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	h, _ := r.hosts.Get(hostOf(be))
	if h.InFlight() != 1 {
		t.Errorf("open WebSocket counts %d in flight, want 1", h.InFlight())
	}
	for _, m := range []string{"one", "two", "three"} {
		if err := c.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
			t.Fatal(err)
		}
		_, got, err := c.Read(ctx)
		if err != nil || string(got) != "echo:"+m {
			t.Fatalf("read %q, %v", got, err)
		}
	}
	c.Close(websocket.StatusNormalClosure, "")
}

func TestStreamedResponseIsFlushed(t *testing.T) {
	r := newRig(t, TransportOptions{})
	release := make(chan struct{})
	be := backend(t, func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-release // the second event waits until the client saw the first
		io.WriteString(w, "data: second\n\n")
	})
	r.service("sse", catalog.ServiceSpec{Mountpoints: []string{"sse.com"}})
	r.instance("sse", "a", hostOf(be), 10)
	resp := r.do("GET", "sse.com", "/", nil)
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "data: first\n" {
		t.Fatalf("first event = %q, %v (not flushed through?)", line, err)
	}
	close(release)
	rest, _ := io.ReadAll(br)
	if !strings.Contains(string(rest), "data: second") {
		t.Errorf("rest = %q", rest)
	}
}

func TestLargeBodiesPassIntact(t *testing.T) {
	r := newRig(t, TransportOptions{})
	be := backend(t, func(w http.ResponseWriter, req *http.Request) { io.Copy(w, req.Body) })
	r.service("big", catalog.ServiceSpec{Mountpoints: []string{"big.com"}})
	r.instance("big", "a", hostOf(be), 10)
	payload := make([]byte, 8<<20)
	rand.Read(payload)
	req, _ := http.NewRequest("PUT", r.front.URL+"/", bytes.NewReader(payload))
	req.Host = "big.com"
	resp, err := r.front.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, payload) {
		t.Errorf("8 MiB echo came back with %d bytes, equal=%v", len(got), bytes.Equal(got, payload))
	}
}

// TestRequestIDs: a generated request id is 16 hex digits, unlike any
// other of its generator's, and stays as it was while more are made; a
// client's id is kept when it may be, and replaced when not.
func TestRequestIDs(t *testing.T) {
	g := newIDGen()
	xs := make([]*exchange, 10000)
	seen := make(map[string]bool, len(xs))
	for i := range xs {
		xs[i] = &exchange{}
		xs[i].setID("", g)
		id := xs[i].id()
		if len(id) != 16 || strings.Trim(id, "0123456789abcdef") != "" || seen[id] {
			t.Fatalf("id %d: %q (repeated: %v)", i, id, seen[id])
		}
		seen[id] = true
	}
	for i, x := range xs {
		if !seen[x.id()] || x.idValue()[0] != x.id() {
			t.Fatalf("id %d changed to %q", i, x.id())
		}
	}
	var x exchange
	x.setID("trace-1.a:b+c/d=e", g)
	if x.id() != "trace-1.a:b+c/d=e" {
		t.Errorf("client id replaced: %q", x.id())
	}
	for _, bad := range []string{"two words", "line\r\nbreak", strings.Repeat("a", 129)} {
		x.setID(bad, g)
		if x.id() == bad || len(x.id()) != 16 {
			t.Errorf("client id %q kept: %q", bad, x.id())
		}
	}
}

// hex16 writes what fmt's %016x does.
func TestHex16(t *testing.T) {
	for _, v := range []uint64{0, 1, 9, 10, 15, 16, 0x0123456789abcdef, 0xfedcba9876543210, 0xa0a0a0a09f9f9f9f, ^uint64(0)} {
		var b [16]byte
		hex16(&b, v)
		if want := fmt.Sprintf("%016x", v); string(b[:]) != want {
			t.Errorf("hex16(%#x) = %q, want %q", v, b, want)
		}
	}
	r := mrand.New(mrand.NewPCG(1, 2))
	for range 100000 {
		v := r.Uint64()
		var b [16]byte
		hex16(&b, v)
		if want := fmt.Sprintf("%016x", v); string(b[:]) != want {
			t.Fatalf("hex16(%#x) = %q, want %q", v, b, want)
		}
	}
}
