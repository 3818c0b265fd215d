package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/testbed"
)

// post sends a POST whose body cannot be replayed, so only the proxy's own
// retries can save it.
func (r *rig) post(host, body string) (int, string) {
	r.t.Helper()
	req, _ := http.NewRequest("POST", r.front.URL+"/", io.NopCloser(strings.NewReader(body)))
	req.ContentLength = int64(len(body))
	req.Host = host
	resp, err := r.front.Client().Do(req)
	if err != nil {
		r.t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func echoBody(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.Write(b)
}

// TestIdleConnectionClosedByBackend: a backend that closes kept-alive
// connections after a short idle time never costs a request.
func TestIdleConnectionClosedByBackend(t *testing.T) {
	r := newRig(t, TransportOptions{})
	be := httptest.NewUnstartedServer(http.HandlerFunc(echoBody))
	be.Config.IdleTimeout = 30 * time.Millisecond
	be.Start()
	t.Cleanup(be.Close)
	r.service("app", catalog.ServiceSpec{Mountpoints: []string{"app.test"}})
	r.instance("app", "a", hostOf(be), 10)
	for i := 0; i < 10; i++ {
		if code, body := r.post("app.test", "hello"); code != 200 || body != "hello" {
			t.Fatalf("POST %d: %d %q", i, code, body)
		}
		time.Sleep(60 * time.Millisecond) // the backend closes the idle connection meanwhile
	}
}

// TestBusyConnectionClosedByBackend: a backend that closes each
// connection right after its answer, without saying so (no "Connection:
// close"), costs a GET nothing: the proxy takes a just-used connection
// without probing it, finds it closed when no answer comes, and sends the
// request again on a fresh one, within the same attempt — no error, no
// failure counted against the backend, no second attempt on it (with one
// instance, a second attempt would find none left to try: 502).
func TestBusyConnectionClosedByBackend(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var accepted atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if line == "\r\n" {
						break
					}
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}()
		}
	}()
	r := newRig(t, TransportOptions{})
	r.service("app", catalog.ServiceSpec{Mountpoints: []string{"app.test"}})
	r.instance("app", "a", ln.Addr().String(), 10)
	const n = 20
	for i := 0; i < n; i++ {
		resp := r.do("GET", "app.test", "/", nil)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "ok" {
			t.Fatalf("GET %d: %d %q", i, resp.StatusCode, b)
		}
	}
	h, _ := r.hosts.Get(ln.Addr().String())
	if got := h.Total(); got != n {
		t.Errorf("%d attempts on the backend for %d GETs, want one each", got, n)
	}
	if got := accepted.Load(); got != n {
		t.Errorf("the backend accepted %d connections, want %d (one per answer)", got, n)
	}
}

// TestBackendDiesWithPooledConnections: the backend process dies (its
// connections reset, its port closed) while the proxy holds kept-alive
// connections to it; requests that arrive afterwards go to the other
// instance — none fails (the SIGKILL scenario of bench/churn).
func TestBackendDiesWithPooledConnections(t *testing.T) {
	r := newRig(t, TransportOptions{})
	dying := httptest.NewServer(http.HandlerFunc(echoBody))
	alive := httptest.NewServer(http.HandlerFunc(echoBody))
	t.Cleanup(alive.Close)
	r.service("app", catalog.ServiceSpec{Mountpoints: []string{"app.test"}})
	r.instance("app", "dying", hostOf(dying), 10)
	r.instance("app", "alive", hostOf(alive), 10)
	for i := 0; i < 20; i++ { // fill the pool with connections to both
		r.post("app.test", "warm")
	}
	dying.CloseClientConnections()
	dying.Close()
	for i := 0; i < 50; i++ {
		if code, body := r.post("app.test", "after"); code != 200 || body != "after" {
			t.Fatalf("POST %d after the backend died: %d %q", i, code, body)
		}
	}
}

// TestEarlyAnswerDuringUpload: a backend that answers before reading the
// body (413) gets its answer to the client, however slowly the client
// uploads, and nothing hangs.
func TestEarlyAnswerDuringUpload(t *testing.T) {
	r := newRig(t, TransportOptions{})
	be := backend(t, func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Connection", "close")
		http.Error(w, "too large", http.StatusRequestEntityTooLarge)
	})
	r.service("app", catalog.ServiceSpec{Mountpoints: []string{"app.test"}})
	r.instance("app", "a", hostOf(be), 10)
	pr, pw := io.Pipe()
	go func() {
		pw.Write(bytes.Repeat([]byte("x"), 64<<10))
		// ...and then the client stalls, never finishing its upload.
	}()
	t.Cleanup(func() { pw.Close() })
	req, _ := http.NewRequest("POST", r.front.URL+"/", pr)
	req.ContentLength = 10 << 20
	req.Host = "app.test"
	done := make(chan int, 1)
	go func() {
		resp, err := r.front.Client().Do(req)
		if err != nil {
			done <- -1
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	select {
	case code := <-done:
		if code != 413 {
			t.Errorf("early answer: %d, want 413", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the proxy hung on a backend that answered before reading the body")
	}
}

// TestChunkedBodiesAndTrailers: a request body of unknown length is sent
// chunked; response trailers pass.
func TestChunkedBodiesAndTrailers(t *testing.T) {
	r := newRig(t, TransportOptions{})
	be := backend(t, func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		w.Header().Set("Trailer", "X-Sum")
		w.Write(b)
		w.Header().Set("X-Sum", "len="+strings.Repeat("i", len(b)%7))
	})
	r.service("app", catalog.ServiceSpec{Mountpoints: []string{"app.test"}})
	r.instance("app", "a", hostOf(be), 10)
	body := strings.Repeat("chunk", 3000)
	req, _ := http.NewRequest("PUT", r.front.URL+"/", io.MultiReader(strings.NewReader(body))) // length unknown
	req.Host = "app.test"
	resp, err := r.front.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != body {
		t.Errorf("chunked upload echoed %d bytes, want %d", len(got), len(body))
	}
	if want := "len=" + strings.Repeat("i", len(body)%7); resp.Trailer.Get("X-Sum") != want {
		t.Errorf("trailer X-Sum = %q, want %q", resp.Trailer.Get("X-Sum"), want)
	}
}

// TestBodilessAnswersAndConnectionClose: HEAD, 204 and 304 carry no body;
// a backend that says "Connection: close" is not reused, and nothing fails.
func TestBodilessAnswersAndConnectionClose(t *testing.T) {
	r := newRig(t, TransportOptions{})
	be, conns := testbed.CountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch req.URL.Path {
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/304":
			w.WriteHeader(http.StatusNotModified)
		case "/close":
			w.Header().Set("Connection", "close")
			io.WriteString(w, "bye")
		case "/early-hints":
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			io.WriteString(w, "final")
		default:
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "hello")
		}
	}))
	r.service("app", catalog.ServiceSpec{Mountpoints: []string{"app.test"}})
	r.instance("app", "a", hostOf(be), 10)
	for _, tt := range []struct {
		method, path string
		code         int
		body         string
	}{
		{"HEAD", "/", 200, ""}, {"GET", "/204", 204, ""}, {"GET", "/304", 304, ""},
		{"GET", "/close", 200, "bye"}, {"GET", "/close", 200, "bye"}, {"GET", "/early-hints", 200, "final"}, {"GET", "/", 200, "hello"},
	} {
		resp := r.do(tt.method, "app.test", tt.path, nil)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.code || string(b) != tt.body {
			t.Errorf("%s %s: %d %q, want %d %q", tt.method, tt.path, resp.StatusCode, b, tt.code, tt.body)
		}
		// A HEAD answer's length is the one a GET would have.
		if cl := resp.Header.Get("Content-Length"); tt.method == "HEAD" && cl != "5" {
			t.Errorf("HEAD %s: Content-Length %q, want 5", tt.path, cl)
		}
	}
	if n := conns.Load(); n < 3 || n > 4 {
		t.Errorf("backend saw %d connections: want one reused connection plus one per Connection: close answer", n)
	}
}

// TestBackendDiesRepeatedly repeats the death of a backend with pooled
// connections, whose races (a body writer finishing just after the answer,
// a stale connection picked at the moment of death) are timing-dependent.
func TestBackendDiesRepeatedly(t *testing.T) {
	for round := 0; round < 30; round++ {
		r := newRig(t, TransportOptions{})
		dying := httptest.NewServer(http.HandlerFunc(echoBody))
		alive := httptest.NewServer(http.HandlerFunc(echoBody))
		r.service("app", catalog.ServiceSpec{Mountpoints: []string{"app.test"}})
		r.instance("app", "dying", hostOf(dying), 10)
		r.instance("app", "alive", hostOf(alive), 10)
		for i := 0; i < 20; i++ {
			r.post("app.test", "warm")
		}
		dying.CloseClientConnections()
		dying.Close()
		for i := 0; i < 30; i++ {
			if code, body := r.post("app.test", "after"); code != 200 || body != "after" {
				t.Fatalf("round %d, POST %d after the backend died: %d %q", round, i, code, body)
			}
		}
		alive.Close()
	}
}

func TestEventStreamMediaType(t *testing.T) {
	for ct, want := range map[string]bool{
		"text/event-stream":                true,
		"Text/Event-Stream; charset=utf-8": true,
		" text/event-stream ;x=1":          true,
		"text/event-streams":               false,
		"text/plain":                       false,
		"":                                 false,
	} {
		if got := eventStream(ct); got != want {
			t.Errorf("eventStream(%q) = %v, want %v", ct, got, want)
		}
	}
}

// The response timeout bounds the wait for a head; it is renewed lazily
// and may stay set on a kept-alive backend connection between requests. It
// must not cut a body that takes longer, nor fail a pooled connection that
// sat idle past it, and must still cut a head that is late.
func TestResponseTimeoutOnAKeptAliveConnection(t *testing.T) {
	const timeout = 200 * time.Millisecond
	r := newRig(t, TransportOptions{ResponseTimeout: timeout})
	be, conns := testbed.CountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch req.URL.Path {
		case "/trickle": // head at once, the body over 3 timeouts
			w.WriteHeader(200)
			for i := 0; i < 3; i++ {
				w.(http.Flusher).Flush()
				time.Sleep(timeout)
				io.WriteString(w, "x")
			}
		case "/late":
			time.Sleep(3 * timeout)
		default:
			io.WriteString(w, "ok")
		}
	}))
	r.service("svc", catalog.ServiceSpec{Mountpoints: []string{"svc.test"}})
	r.instance("svc", "a", hostOf(be), 10)
	get := func(path string, status int, body string) {
		t.Helper()
		resp := r.do("GET", "svc.test", path, nil)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != status || body != "" && string(b) != body {
			t.Fatalf("GET %s: %d %q, want %d %q", path, resp.StatusCode, b, status, body)
		}
	}
	for i := 0; i < 10; i++ {
		get("/", 200, "ok")
	}
	get("/trickle", 200, "xxx")
	get("/", 200, "ok")     // its deadline stays set: the body came with the head
	time.Sleep(2 * timeout) // idle in the pool past that deadline
	get("/", 200, "ok")
	if n := conns.Load(); n != 1 {
		t.Errorf("%d backend connections, want 1 kept alive throughout", n)
	}
	get("/late", 504, "")
}

// TestRawBackendAnswers sends answers that net/http's server would never
// write, from a raw socket: the malformed ones become a 502 and spoil
// nothing for the next request; an HTTP/1.0 answer that ends with its
// connection passes whole; a connection on which the backend sent more
// than the answer is not reused.
func TestRawBackendAnswers(t *testing.T) {
	answers := map[string]string{
		"/fold":   "HTTP/1.1 200 OK\r\nX-Fold: a\r\n b\r\nContent-Length: 2\r\n\r\nok",
		"/big":    "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 40<<10) + "\r\nContent-Length: 2\r\n\r\nok",
		"/space":  "HTTP/1.1 200 OK\r\nBad Name: v\r\nContent-Length: 2\r\n\r\nok",
		"/te":     "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"/http10": "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end",
		"/ok":     "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		// More than the answer: the connection must not be reused, or the
		// next request would read the rest as its answer.
		"/extra": "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 418 Unasked\r\nContent-Length: 2\r\n\r\nok",
	}
	addr := testbed.ServeTCP(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			a := answers[req.URL.Path]
			if _, err := io.WriteString(c, a); err != nil || !strings.HasSuffix(a, "ok") {
				return // the others end with their connection
			}
		}
	})
	r := newRig(t, TransportOptions{})
	// Passive health off: each malformed answer counts as a failure.
	r.service("raw", catalog.ServiceSpec{Mountpoints: []string{"raw.test"}, MaxFails: new(int)})
	r.instance("raw", "a", addr, 10)
	for _, tt := range []struct {
		path string
		code int
		body string
	}{
		{"/fold", 502, ""}, {"/ok", 200, "ok"}, {"/big", 502, ""}, {"/space", 502, ""}, {"/te", 502, ""},
		{"/http10", 200, "until the end"}, {"/ok", 200, "ok"}, {"/extra", 200, "ok"}, {"/ok", 200, "ok"},
	} {
		resp := r.do("GET", "raw.test", tt.path, nil)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.code || tt.code == 200 && string(b) != tt.body {
			t.Errorf("%s: %d %q, want %d %q", tt.path, resp.StatusCode, b, tt.code, tt.body)
		}
		if v := resp.Header.Get("X-Fold"); v != "" {
			t.Errorf("%s: the malformed head's field reached the answer: X-Fold %q", tt.path, v)
		}
	}
}

// TestFailedAttemptLeavesNoFields: a response head read straight into the
// client's answer (see send) that turns out malformed leaves nothing
// there: the retry's answer, from another instance, carries only its own
// fields. So does the answer when the header had fields set before the
// proxy ran (read through a lent map then), and hop-by-hop fields go
// either way.
func TestFailedAttemptLeavesNoFields(t *testing.T) {
	var badHits atomic.Int32
	bad := testbed.ServeTCP(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			badHits.Add(1)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Leak: first\r\nBad Name: v\r\nContent-Length: 2\r\n\r\nok")
			return
		}
	})
	good := backend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Good", "yes")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("Connection", "X-Private")
		w.Header().Set("X-Private", "hop")
		io.WriteString(w, "ok")
	})
	r := newRig(t, TransportOptions{})
	r.service("s", catalog.ServiceSpec{Mountpoints: []string{"s.test"}, MaxFails: new(int)})
	r.instance("s", "bad", bad, 10)
	r.instance("s", "good", hostOf(good), 10)
	check := func(what string, resp *http.Response) {
		t.Helper()
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "ok" || resp.Header.Get("X-Good") != "yes" {
			t.Fatalf("%s: %d %q, X-Good %q", what, resp.StatusCode, b, resp.Header.Get("X-Good"))
		}
		for _, k := range []string{"X-Leak", "Keep-Alive", "X-Private"} {
			if v := resp.Header.Get(k); v != "" {
				t.Fatalf("%s: %s %q passed on", what, k, v)
			}
		}
	}
	for i := 0; i < 8; i++ {
		check(fmt.Sprintf("GET %d", i), r.do("GET", "s.test", "/", nil))
	}
	// With a field set before the proxy (as the entry point does while
	// draining): the head is read into a lent map and copied over.
	f := startFront(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("X-Before", "1")
		r.proxy.ServeHTTP(w, req)
	}))
	for i := 0; i < 8; i++ {
		req, _ := http.NewRequest("GET", f.URL+"/", nil)
		req.Host = "s.test"
		resp, err := f.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Header.Get("X-Before") != "1" {
			t.Fatalf("set before: X-Before %q", resp.Header.Get("X-Before"))
		}
		check(fmt.Sprintf("set before, GET %d", i), resp)
	}
	if badHits.Load() == 0 {
		t.Fatal("no request reached the instance with the malformed head")
	}
}

// TestHeadLargerThanTheReadBuffer: a response head that outgrows a backend
// connection's first read buffer (readBuffer) but not maxHead passes whole,
// body and all, and the connection, its buffer grown, serves the next
// requests; a head beyond maxHead is still refused.
func TestHeadLargerThanTheReadBuffer(t *testing.T) {
	mid := strings.Repeat("m", readBuffer+4<<10)
	answers := map[string]string{
		// The body starts inside the first buffer's worth and ends beyond it.
		"/mid": "HTTP/1.1 200 OK\r\nX-Mid: " + mid + "\r\nContent-Length: 5000\r\n\r\n" + strings.Repeat("b", 5000),
		"/ok":  "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"/big": "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", maxHead) + "\r\nContent-Length: 2\r\n\r\nok",
	}
	var conns atomic.Int32
	addr := answering(t, answers, &conns)
	r := newRig(t, TransportOptions{})
	r.service("raw", catalog.ServiceSpec{Mountpoints: []string{"raw.test"}, MaxFails: new(int)})
	r.instance("raw", "a", addr, 10)
	for i, path := range []string{"/mid", "/ok", "/mid", "/mid", "/ok", "/big", "/ok"} {
		resp := r.do("GET", "raw.test", path, nil)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch path {
		case "/mid":
			if resp.StatusCode != 200 || resp.Header.Get("X-Mid") != mid || string(b) != strings.Repeat("b", 5000) {
				t.Errorf("%d %s: %d, X-Mid of %d bytes, body of %d bytes", i, path, resp.StatusCode, len(resp.Header.Get("X-Mid")), len(b))
			}
		case "/ok":
			if resp.StatusCode != 200 || string(b) != "ok" {
				t.Errorf("%d %s: %d %q", i, path, resp.StatusCode, b)
			}
		case "/big":
			if resp.StatusCode != 502 {
				t.Errorf("%d %s: %d, want 502", i, path, resp.StatusCode)
			}
		}
		if i == 4 && conns.Load() != 1 {
			t.Errorf("after %d requests: %d backend connections, want the one, reused", i+1, conns.Load())
		}
	}
}

// TestAnswerFieldsPassAsTheyCame: an answer's fields reach the client as
// the backend sent them — in its order, repeated fields as separate lines,
// names in canonical form, values trimmed — with its own Date the only
// one, the router's X-Request-Id instead of the backend's, and no
// hop-by-hop field; a field its Connection field lists is dropped too. A
// service that sets response headers of its own has them applied on top
// (the header map's way).
func TestAnswerFieldsPassAsTheyCame(t *testing.T) {
	answers := map[string]string{
		"/": "HTTP/1.1 200 OK\r\ndate: Mon, 07 Dec 2026 00:00:00 GMT\r\nSet-Cookie: a=1\r\nx-odd:  v \r\n" +
			"Set-Cookie: b=2\r\nX-Request-Id: backend\r\nKeep-Alive: timeout=5\r\nContent-Type: text/plain\r\n" +
			"Server: leaky/1.0\r\nContent-Length: 2\r\n\r\nok",
		"/listed": "HTTP/1.1 200 OK\r\nConnection: X-Secret, keep-alive\r\nX-Secret: 1\r\nX-Kept: 2\r\nContent-Length: 2\r\n\r\nok",
	}
	addr := answering(t, answers, nil)
	r := newRig(t, TransportOptions{})
	r.service("s", catalog.ServiceSpec{Mountpoints: []string{"s.test"}})
	r.instance("s", "a", addr, 10)
	r.service("d", catalog.ServiceSpec{Mountpoints: []string{"d.test"}, ResponseHeaders: map[string]string{"Server": "", "X-Odd": "edge"}})
	r.instance("d", "a", addr, 10)

	c, err := net.Dial("tcp", strings.TrimPrefix(r.front.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	// get sends a request on c and returns the answer's field lines, in
	// order, and its body.
	get := func(host, path string) ([]string, string) {
		t.Helper()
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nX-Request-Id: client-1\r\n\r\n", path, host)
		status, err := br.ReadString('\n')
		if err != nil || status != "HTTP/1.1 200 OK\r\n" {
			t.Fatalf("%s%s: status line %q, %v", host, path, status, err)
		}
		var lines []string
		n := 0
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if l == "\r\n" {
				break
			}
			lines = append(lines, strings.TrimSuffix(l, "\r\n"))
			if v, ok := strings.CutPrefix(l, "Content-Length: "); ok {
				n, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(br, body); err != nil {
			t.Fatal(err)
		}
		return lines, string(body)
	}
	lines, body := get("s.test", "/")
	want := []string{"Date: Mon, 07 Dec 2026 00:00:00 GMT", "Set-Cookie: a=1", "X-Odd: v", "Set-Cookie: b=2",
		"Content-Type: text/plain", "Server: leaky/1.0"}
	if body != "ok" || len(lines) < len(want) || !slices.Equal(lines[:len(want)], want) {
		t.Fatalf("passed on:\n%q\nwant first\n%q", lines, want)
	}
	rest := slices.Sorted(slices.Values(lines[len(want):]))
	if wantRest := []string{"Content-Length: 2", "X-Request-Id: client-1"}; !slices.Equal(rest, wantRest) {
		t.Errorf("after the passed fields: %q, want %q", rest, wantRest)
	}

	lines, _ = get("s.test", "/listed")
	if slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "X-Secret") || strings.HasPrefix(l, "Connection") }) ||
		!slices.Contains(lines, "X-Kept: 2") {
		t.Errorf("Connection listing X-Secret: %q", lines)
	}

	lines, _ = get("d.test", "/")
	slices.Sort(lines)
	wantD := []string{"Content-Length: 2", "Content-Type: text/plain", "Date: Mon, 07 Dec 2026 00:00:00 GMT",
		"Set-Cookie: a=1", "Set-Cookie: b=2", "X-Odd: edge", "X-Request-Id: client-1"}
	if !slices.Equal(lines, wantD) {
		t.Errorf("with response headers set:\n%q\nwant\n%q", lines, wantD)
	}
}

// answering serves, on raw connections, each request with answers[its
// path] written as it is, until the connection ends or a write fails; it
// counts the connections in conns, if not nil. It returns the address.
func answering(t *testing.T, answers map[string]string, conns *atomic.Int32) string {
	return testbed.ServeTCP(t, func(c net.Conn) {
		if conns != nil {
			conns.Add(1)
		}
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			if _, err := io.WriteString(c, answers[req.URL.Path]); err != nil {
				return
			}
		}
	})
}

// TestHeldBodiesGoOnEveryAttempt: a small body that came with its head is
// sent from the client's read buffer (takeBody, heldBody) whole and
// behind the head, on the attempt that fails to connect and on the next,
// to another instance; and the client's next request on the connection
// is its own.
func TestHeldBodiesGoOnEveryAttempt(t *testing.T) {
	var got atomic.Int32
	be := backend(t, func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		echoBody(w, r)
	})
	r := newRig(t, TransportOptions{})
	r.service("held", catalog.ServiceSpec{Mountpoints: []string{"held.test"}, MaxFails: new(int)})
	r.instance("held", "dead", deadAddr(t), 10)
	r.instance("held", "live", hostOf(be), 10)
	c, err := net.Dial("tcp", strings.TrimPrefix(r.front.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	for i := range 6 {
		body := strings.Repeat(strconv.Itoa(i), 1000+i*3000) // up to the inline limit's order
		// Head and body in one write: they come together.
		fmt.Fprintf(c, "POST /p%d HTTP/1.1\r\nHost: held.test\r\nContent-Length: %d\r\n\r\n%s", i, len(body), body)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("POST #%d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != body {
			t.Fatalf("POST #%d: %d, %d bytes back (equal %v); want 200 and the %d sent", i, resp.StatusCode, len(b), string(b) == body, len(body))
		}
	}
	if n := got.Load(); n != 6 {
		t.Fatalf("the live backend saw %d requests, want 6", n)
	}
}
