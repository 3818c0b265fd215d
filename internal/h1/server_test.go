package h1

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/certtest"
)

// start serves h on a loopback listener and returns its address and a
// count of accepted connections.
func start(t *testing.T, h http.Handler, tune func(*Server)) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns atomic.Int64
	s := &Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 30 * time.Second,
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				conns.Add(1)
			}
		}}
	if tune != nil {
		tune(s)
	}
	go s.Serve(ln)
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String(), &conns
}

// dial connects to addr, with a deadline d from now on every read and
// write; the connection is closed when the test ends.
func dial(t *testing.T, addr string, d time.Duration) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(d))
	return c
}

// raw sends req on a new connection and returns everything the server
// wrote until it closed the connection (or 2 s passed).
func raw(t *testing.T, addr, req string) string {
	t.Helper()
	c := dial(t, addr, 2*time.Second)
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c)
	return string(b)
}

// expectBody reads the next answer from br and fails the test unless its
// body is want; req names the request in the failure.
func expectBody(t *testing.T, br *bufio.Reader, req, want string) {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%s: %v", req, err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != want {
		t.Fatalf("%s: got %q, want %q", req, b, want)
	}
}

func echo() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		w.Header().Set("X-Method", r.Method)
		w.Header().Set("X-Host", r.Host)
		w.Header().Set("X-Remote", r.RemoteAddr)
		if r.URL.Query().Get("cl") != "" {
			w.Header().Set("Content-Length", fmt.Sprint(len(b)+len(r.URL.Path)))
		}
		io.WriteString(w, r.URL.Path)
		w.Write(b)
	})
}

func TestKeepAliveGETAndPOST(t *testing.T) {
	addr, conns := start(t, echo(), nil)
	cl := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer cl.CloseIdleConnections()
	for i := 0; i < 20; i++ {
		var resp *http.Response
		var err error
		switch i % 3 {
		case 0:
			resp, err = cl.Get("http://" + addr + "/get?cl=1")
		case 1:
			resp, err = cl.Post("http://"+addr+"/post", "text/plain", strings.NewReader("hello"))
		case 2: // chunked request body
			resp, err = cl.Post("http://"+addr+"/chunked", "text/plain", io.MultiReader(strings.NewReader("a"), strings.NewReader("b")))
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := map[int]string{0: "/get", 1: "/posthello", 2: "/chunkedab"}[i%3]
		if string(b) != want || resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %q, want 200 %q", i, resp.StatusCode, b, want)
		}
		if resp.Header.Get("Date") == "" || resp.Header.Get("X-Host") != addr || !strings.HasPrefix(resp.Header.Get("X-Remote"), "127.0.0.1:") {
			t.Fatalf("request %d: headers %v", i, resp.Header)
		}
		if i%3 == 0 && resp.ContentLength != 4 {
			t.Fatalf("Content-Length %d, want 4", resp.ContentLength)
		}
		if i%3 != 0 && len(resp.TransferEncoding) == 0 {
			t.Fatalf("request %d: want a chunked answer without Content-Length, got %v", i, resp.TransferEncoding)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("20 requests took %d connections, want 1 (keep-alive)", n)
	}
}

func TestPipelinedRequestsAnsweredInOrder(t *testing.T) {
	addr, _ := start(t, echo(), nil)
	out := raw(t, addr, "GET /one?cl=1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyzGET /three?cl=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	i1, i2, i3 := strings.Index(out, "/one"), strings.Index(out, "/two\r\n3\r\nxyz"), strings.Index(out, "/three")
	if i1 < 0 || i2 < i1 || i3 < i2 || strings.Count(out, "HTTP/1.1 200 OK") != 3 {
		t.Fatalf("pipelined answers out of order or missing:\n%s", out)
	}
	if !strings.Contains(out, "Connection: close") {
		t.Fatalf("the last answer should say Connection: close:\n%s", out)
	}
}

func TestExpectContinue(t *testing.T) {
	addr, _ := start(t, echo(), nil)
	c := dial(t, addr, 2*time.Second)
	io.WriteString(c, "PUT /up HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("got %q, %v; want 100 Continue before the body is sent", line, err)
	}
	br.ReadString('\n')
	io.WriteString(c, "data")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "/updata" {
		t.Fatalf("body %q", b)
	}

	// A handler that answers without reading: no 100, and the connection
	// ends (the client may never send the body).
	addr2, _ := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "nope", 413) }), nil)
	out := raw(t, addr2, "PUT /up HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
	if strings.Contains(out, "100 Continue") || !strings.HasPrefix(out, "HTTP/1.1 413") || !strings.Contains(out, "Connection: close") {
		t.Fatalf("early answer:\n%s", out)
	}
	if out := raw(t, addr, "PUT /up HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: tea\r\n\r\n"); !strings.HasPrefix(out, "HTTP/1.1 417") {
		t.Fatalf("unknown Expect:\n%s", out)
	}
}

func TestHeadAndNoBodyStatuses(t *testing.T) {
	addr, _ := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(204)
		case "/304":
			w.WriteHeader(304)
		default:
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "hello")
		}
	}), nil)
	out := raw(t, addr, "HEAD / HTTP/1.1\r\nHost: a\r\n\r\nGET /204 HTTP/1.1\r\nHost: a\r\n\r\nGET /304 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	if strings.Contains(out, "hello") || !strings.Contains(out, "Content-Length: 5") {
		t.Fatalf("HEAD must keep Content-Length and send no body:\n%s", out)
	}
	if !strings.Contains(out, "HTTP/1.1 204") || !strings.Contains(out, "HTTP/1.1 304") || strings.Contains(out, "chunked") {
		t.Fatalf("204/304 answers:\n%s", out)
	}
}

// Response fields are written as net/http writes them: line breaks in a
// value turned to spaces, white space at its ends trimmed, invalid names
// left out; also a field longer than the write buffer.
func TestResponseFields(t *testing.T) {
	long := strings.Repeat("v", 3*defaultBufSize)
	addr, _ := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["X-Split"] = []string{"a\r\nInjected: 1", "b\nc\rd", "e\nf"}
		h["X-Pad"] = []string{"  padded\t", "\u00a0nbsp\u2003"}
		h["X-Plain"] = []string{"plain"}
		h["Bad Name"] = []string{"x"}
		h["X-Long"] = []string{long}
		w.Header().Set("Content-Length", "0")
	}), nil)
	out := raw(t, addr, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	for _, want := range []string{"\r\nX-Split: a Injected: 1\r\n", "\r\nX-Split: b c d\r\n", "\r\nX-Split: e f\r\n", "\r\nX-Pad: padded\r\n", "\r\nX-Pad: nbsp\r\n", "\r\nX-Plain: plain\r\n", "\r\nX-Long: " + long + "\r\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the answer", want)
		}
	}
	if strings.Contains(out, "\r\nInjected") || strings.Contains(out, "Bad Name") {
		t.Errorf("a line break or an invalid name went out:\n%s", out)
	}
}

// TestPassFields: lines given to PassFields go out as they are, right
// after the final answer's status line and before Header()'s fields, not
// in an interim answer's head; with date set the writer adds no Date of
// its own, without it it does; the next request on the connection starts
// without them.
func TestPassFields(t *testing.T) {
	addr, _ := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := w.(interface{ PassFields([]byte, bool, int64) })
		switch r.URL.Path {
		case "/dated":
			p.PassFields([]byte("Date: then\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"), true, -1)
			w.Header().Set("Link", "</s.css>")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Del("Link")
			w.Header().Set("X-Map", "m")
		case "/undated":
			p.PassFields([]byte("X-Passed: 1\r\n"), false, 2)
		case "/both":
			p.PassFields(nil, false, 5) // Header()'s wins
			w.Header().Set("Content-Length", "2")
		}
		io.WriteString(w, "ok")
	}), nil)
	c := dial(t, addr, 2*time.Second)
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "GET /dated HTTP/1.1\r\nHost: a\r\n\r\nGET /undated HTTP/1.1\r\nHost: a\r\n\r\n"+
		"GET /both HTTP/1.1\r\nHost: a\r\n\r\nGET /none HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	all, _ := io.ReadAll(br)
	answers := strings.Split(string(all), "HTTP/1.1 ")[1:]
	if len(answers) != 5 {
		t.Fatalf("%d answers, want 5 (a 103 and four 200s):\n%s", len(answers), all)
	}
	early, dated, undated, both, none := answers[0], answers[1], answers[2], answers[3], answers[4]
	if !strings.Contains(dated, "Transfer-Encoding: chunked\r\n") || strings.Contains(dated, "Content-Length") {
		t.Errorf("no length given: not chunked\n%s", dated)
	}
	if !strings.Contains(undated, "\r\nContent-Length: 2\r\n") || strings.Contains(undated, "chunked") {
		t.Errorf("the length given is not the answer's:\n%s", undated)
	}
	if strings.Count(both, "Content-Length") != 1 || !strings.Contains(both, "\r\nContent-Length: 2\r\n") {
		t.Errorf("a length given and one in the header:\n%s", both)
	}
	if strings.Contains(early, "Set-Cookie") || strings.Contains(early, "Date: then") {
		t.Errorf("passed lines in the interim answer:\n%s", early)
	}
	if !strings.HasPrefix(dated, "200 OK\r\nDate: then\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n") ||
		strings.Count(dated, "Date: ") != 1 || !strings.Contains(dated, "\r\nX-Map: m\r\n") {
		t.Errorf("answer with passed lines and a Date among them:\n%s", dated)
	}
	if !strings.HasPrefix(undated, "200 OK\r\nX-Passed: 1\r\n") || strings.Count(undated, "Date: ") != 1 {
		t.Errorf("answer with passed lines and no Date:\n%s", undated)
	}
	if strings.Contains(none, "X-Passed") || strings.Contains(none, "Set-Cookie") || strings.Count(none, "Date: ") != 1 {
		t.Errorf("the next answer carries earlier lines:\n%s", none)
	}
}

func TestHTTP10(t *testing.T) {
	addr, _ := start(t, echo(), nil)
	out := raw(t, addr, "GET /old HTTP/1.0\r\n\r\n")
	if !strings.HasPrefix(out, "HTTP/1.1 200") || strings.Contains(out, "chunked") || !strings.HasSuffix(out, "/old") || !strings.Contains(out, "Connection: close") {
		t.Fatalf("HTTP/1.0 answer of unknown length must be delimited by the close:\n%s", out)
	}
	out = raw(t, addr, "GET /a?cl=1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b?cl=1 HTTP/1.0\r\n\r\n")
	if !strings.Contains(out, "Connection: keep-alive") || !strings.HasSuffix(out, "/b") {
		t.Fatalf("HTTP/1.0 keep-alive:\n%s", out)
	}
}

// A head over the limit is refused even when it came into the read buffer
// whole, read ahead while the body before it was read (the buffer is
// larger than the limit's slack), and one within the limit read so is
// served.
func TestHeadLimitReadAhead(t *testing.T) {
	addr, _ := start(t, echo(), func(s *Server) { s.MaxHeaderBytes = 1024 })
	body := strings.Repeat("b", 6000)
	post := "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 6000\r\n\r\n" + body
	out := raw(t, addr, post+"GET /g HTTP/1.1\r\nHost: a\r\nX: "+strings.Repeat("y", 8000)+"\r\n\r\n")
	if !strings.HasPrefix(out, "HTTP/1.1 200") || !strings.Contains(out, body) || !strings.Contains(out, "HTTP/1.1 431") {
		t.Fatalf("a POST, then a head of 8 KB over a 1 KB limit: %q", out[max(0, len(out)-300):])
	}
	out = raw(t, addr, post+"GET /g HTTP/1.1\r\nHost: a\r\nConnection: close\r\nX: "+strings.Repeat("y", 1000)+"\r\n\r\n")
	if strings.Count(out, "HTTP/1.1 200") != 2 || !strings.Contains(out, "X-Method: GET") {
		t.Fatalf("a POST, then a head within the limit: %q", out[max(0, len(out)-300):])
	}
}

func TestBadRequests(t *testing.T) {
	addr, _ := start(t, echo(), func(s *Server) { s.MaxHeaderBytes = 1024 })
	for _, c := range []struct{ req, want string }{
		{"GARBAGE\r\n\r\n", "HTTP/1.1 400"},
		{"GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"},                                    // no Host
		{"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "HTTP/1.1 400"},                              // two Hosts
		{"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", "HTTP/1.1 400"},                                       // bad Host
		{"GET / HTTP/2.0\r\nHost: a\r\n\r\n", "HTTP/1.1 505"},                                         // not 1.x
		{"GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("y", 8000) + "\r\n\r\n", "HTTP/1.1 431"}, // head too large
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx", "HTTP/1.1 400"},
		{"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", "HTTP/1.1 400"},                        // obs-fold
		{"GET / HTTP/1.1\r\nHost: a\r\nX : 1\r\n\r\n", "HTTP/1.1 400"},                             // space before the colon
		{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "HTTP/1.1 400"}, // not just chunked
	} {
		if out := raw(t, addr, c.req); !strings.HasPrefix(out, c.want) || !strings.Contains(out, "Connection: close") {
			t.Errorf("%q: got\n%s\nwant %q and a close", c.req[:min(len(c.req), 40)], out, c.want)
		}
	}
}

// TestHeadLargerThanTheBuffer sends heads that do not fit the 4 KiB read
// buffer (read by http.ReadRequest instead) next to ones that do, on one
// connection: all are served, their bodies and the next request intact.
func TestHeadLargerThanTheBuffer(t *testing.T) {
	addr, _ := start(t, echo(), nil)
	big := "X-Big: " + strings.Repeat("y", 10000) + "\r\n"
	out := raw(t, addr, "POST /one?cl=1 HTTP/1.1\r\nHost: a\r\n"+big+"Content-Length: 3\r\n\r\nabc"+
		"GET /two?cl=1 HTTP/1.1\r\nHost: a\r\n\r\n"+
		"POST /three?cl=1 HTTP/1.1\r\nHost: a\r\n"+big+"Transfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n"+
		"GET /four?cl=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	for _, want := range []string{"/oneabc", "/two", "/threede", "/four"} {
		if !strings.Contains(out, "\r\n\r\n"+want) {
			t.Fatalf("no answer %q in:\n%.2000s", want, out)
		}
	}
}

func TestTrailers(t *testing.T) {
	addr, _ := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		io.WriteString(w, "body")
		w.(http.Flusher).Flush()
		w.Header().Set("X-Sum", "42")
		w.Header().Set(http.TrailerPrefix+"X-Late", "yes")
	}), nil)
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "body" || resp.Trailer.Get("X-Sum") != "42" || resp.Trailer.Get("X-Late") != "yes" {
		t.Fatalf("body %q trailers %v", b, resp.Trailer)
	}
}

func TestHijack(t *testing.T) {
	addr, _ := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		brw.Flush()
		line, _ := brw.ReadString('\n')
		brw.WriteString("echo: " + line)
		brw.Flush()
	}), nil)
	c := dial(t, addr, 2*time.Second)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nping\n")
	b, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(b), "HTTP/1.1 101") || !strings.HasSuffix(string(b), "echo: ping\n") {
		t.Fatalf("hijacked exchange:\n%s", b)
	}
}

func TestClientGoneCancelsContext(t *testing.T) {
	cancelled := make(chan time.Duration, 1)
	addr, _ := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		begin := time.Now()
		select {
		case <-r.Context().Done():
			cancelled <- time.Since(begin)
		case <-time.After(5 * time.Second):
			cancelled <- -1
		}
	}), nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(300 * time.Millisecond)
	c.Close()
	if d := <-cancelled; d < 0 {
		t.Fatal("the request context was not cancelled after the client closed the connection")
	}
}

func TestPipelinedRequestSurvivesTheWatch(t *testing.T) {
	// A slow first request is watched; the second request, already sent,
	// must still be read and answered.
	addr, _ := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-time.After(3 * watchAfter):
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(r.URL.Path)))
		io.WriteString(w, r.URL.Path)
	}), nil)
	out := raw(t, addr, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	if !strings.HasSuffix(out, "/next") || !strings.Contains(out, "/slow") {
		t.Fatalf("got:\n%s", out)
	}
}

func TestUnreadBodies(t *testing.T) {
	addr, conns := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "2")
		io.WriteString(w, "ok")
	}), nil)
	// A small unread body is skipped and the connection kept.
	out := raw(t, addr, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	if strings.Count(out, "200 OK") != 2 {
		t.Fatalf("small unread body:\n%s", out)
	}
	// A large one ends the connection after the answer.
	c := dial(t, addr, 2*time.Second)
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n", 10<<20)
	go c.Write(make([]byte, 1<<20))
	br := bufio.NewReader(c)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("answer: %v", err)
	}
	before := conns.Load()
	if _, err := http.ReadResponse(br, nil); err == nil {
		t.Fatal("the connection should have ended")
	}
	_ = before
}

func TestShortBodyAndPanicsCloseTheConnection(t *testing.T) {
	addr, _ := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/short":
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "abc")
		case "/abort":
			panic(http.ErrAbortHandler)
		}
	}), nil)
	if out := raw(t, addr, "GET /short HTTP/1.1\r\nHost: a\r\n\r\nGET /short HTTP/1.1\r\nHost: a\r\n\r\n"); strings.Count(out, "HTTP/1.1") != 1 {
		t.Fatalf("after a short body the connection must end:\n%s", out)
	}
	if out := raw(t, addr, "GET /abort HTTP/1.1\r\nHost: a\r\n\r\n"); out != "" {
		t.Fatalf("an aborted handler must close silently, got:\n%s", out)
	}
}

func TestIdleTimeout(t *testing.T) {
	addr, _ := start(t, echo(), func(s *Server) { s.IdleTimeout = 200 * time.Millisecond })
	c := dial(t, addr, 3*time.Second)
	begin := time.Now()
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read: %v, want EOF", err)
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Fatalf("idle connection closed after %v", d)
	}
}

func TestBaseContextCancelsRequests(t *testing.T) {
	base, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	addr, _ := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
	}), func(s *Server) { s.BaseContext = base })
	done := make(chan string)
	go func() { done <- raw(t, addr, "GET / HTTP/1.1\r\nHost: a\r\n\r\n") }()
	<-started
	cancel()
	// Within a second: the client's own read deadline (2 s) would end the
	// request through the client watch instead.
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("cancelling BaseContext did not end the request")
	}
}

// TestBaseContextValues: requests see BaseContext's values, and a live
// context while it lives; a connection accepted after BaseContext has
// ended is served with its context already done. (A connection's context
// takes BaseContext's values but is cancelled by the server's list of
// connections, not as BaseContext's child.)
func TestBaseContextValues(t *testing.T) {
	type key struct{}
	for _, tc := range []struct {
		endedBefore bool
		want        string
	}{
		{false, "value=v err=<nil>"},
		{true, "value=v err=context canceled"},
	} {
		base, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
		if tc.endedBefore {
			cancel()
		}
		addr, _ := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "value=%v err=%v", r.Context().Value(key{}), r.Context().Err())
		}), func(s *Server) { s.BaseContext = base })
		if got := raw(t, addr, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"); !strings.Contains(got, tc.want) {
			t.Errorf("BaseContext ended before: %v; answer %q, want %q", tc.endedBefore, got, tc.want)
		}
		cancel()
	}
}

func TestLargeWritesKeepTheirFraming(t *testing.T) {
	// Writes larger than the buffer go out in one writev with what was
	// buffered and their chunk framing; the bytes must arrive intact.
	part := func(i int) []byte { return []byte(strings.Repeat(string(rune('a'+i)), 100<<10)) }
	addr, _ := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cl" {
			w.Header().Set("Content-Length", fmt.Sprint(3*(100<<10)+5))
		}
		io.WriteString(w, "head:")
		for i := 0; i < 3; i++ {
			w.Write(part(i))
			w.(http.Flusher).Flush()
		}
	}), nil)
	want := "head:" + string(part(0)) + string(part(1)) + string(part(2))
	cl := &http.Client{}
	for _, path := range []string{"/chunked", "/cl", "/chunked"} {
		resp, err := cl.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(b) != want {
			t.Fatalf("%s: %d bytes, %v; want %d intact bytes", path, len(b), err, len(want))
		}
		if chunked := len(resp.TransferEncoding) > 0; chunked != (path == "/chunked") {
			t.Fatalf("%s: chunked %v", path, chunked)
		}
	}
}

func TestTrailersNeedAChunkedBody(t *testing.T) {
	// An HTTP/1.0 client gets no chunked body, so no trailers and no
	// "Trailer" announcement either.
	addr, _ := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		io.WriteString(w, "body")
		w.Header().Set("X-Sum", "42")
	}), nil)
	out := raw(t, addr, "GET / HTTP/1.0\r\n\r\n")
	if !strings.HasSuffix(out, "\r\n\r\nbody") || strings.Contains(out, "Trailer") || strings.Contains(out, "X-Sum") {
		t.Fatalf("HTTP/1.0 answer with trailers:\n%s", out)
	}
}

// TestNextRequestStartsClean: a connection reuses one request, response
// writer and header maps for its requests (slot); nothing of a request or
// its answer may show in the next one's.
func TestNextRequestStartsClean(t *testing.T) {
	addr, _ := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var seen []string
		for k := range r.Header {
			seen = append(seen, k)
		}
		slices.Sort(seen)
		if r.URL.Path == "/first" {
			w.Header().Set("X-Only-First", "1")
		}
		fmt.Fprintf(w, "%s %s %q %d;", r.Method, r.URL.Path, seen, len(w.Header()))
	}), nil)
	out := raw(t, addr, "POST /first?q=1 HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nX-B: 2\r\nContent-Length: 2\r\n\r\nhi"+
		"GET /second HTTP/1.1\r\nHost: b\r\nX-C: 3\r\nConnection: close\r\n\r\n")
	first, second, ok := strings.Cut(out, "HTTP/1.1 200 OK")
	first, second, ok = strings.Cut(second, "HTTP/1.1 200 OK")
	if !ok {
		t.Fatalf("want two answers:\n%s", out)
	}
	if !strings.Contains(first, "X-Only-First: 1") || !strings.Contains(first, `POST /first ["Content-Length" "X-A" "X-B"] 1;`) {
		t.Errorf("first answer:\n%s", first)
	}
	if strings.Contains(second, "X-Only-First") || !strings.Contains(second, `GET /second ["Connection" "X-C"] 0;`) {
		t.Errorf("the second answer shows something of the first:\n%s", second)
	}
}

// The idle and header deadlines are renewed lazily and left set while a
// handler runs; they must still cut a stalled head and an idle connection,
// and must not cut a slow handler, a slow upload or the client watch.
func TestTimeoutsOnABusyConnection(t *testing.T) {
	const timeout = 200 * time.Millisecond
	addr, _ := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		if r.URL.Path == "/slow" {
			time.Sleep(3 * timeout) // beyond both timeouts, watched meanwhile
		}
		fmt.Fprintf(w, "%s %d %v", r.URL.Path, len(b), r.Context().Err())
	}), func(s *Server) { s.IdleTimeout, s.ReadHeaderTimeout = timeout, timeout })
	c := dial(t, addr, 10*time.Second)
	br := bufio.NewReader(c)
	get := func(req, want string) { t.Helper(); expectBody(t, br, req, want) }
	for i := 0; i < 20; i++ { // busy: the deadlines are not set again
		io.WriteString(c, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
		get("fast", "/fast 0 <nil>")
	}
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	get("slow", "/slow 0 <nil>")
	// An upload slower than both timeouts.
	io.WriteString(c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n")
	for _, b := range "abcd" {
		time.Sleep(timeout)
		io.WriteString(c, string(b))
	}
	get("upload", "/up 4 <nil>")
	// A head that stalls halfway is cut after the header timeout (with a
	// 400 for the part line, as net/http does).
	io.WriteString(c, "GET /stall HTTP/1.1\r\nHo")
	begin := time.Now()
	if rest, err := io.ReadAll(br); err != nil || len(rest) > 0 && !strings.HasPrefix(string(rest), "HTTP/1.1 400 ") {
		t.Fatalf("stalled head: read %q, %v; want a 400 or nothing, then EOF", rest, err)
	}
	if d := time.Since(begin); d < timeout/2 || d > 5*timeout {
		t.Fatalf("stalled head cut after %v, want about %v", d, timeout)
	}

	// And an idle connection after busy use is closed after the idle timeout.
	c2 := dial(t, addr, 10*time.Second)
	br = bufio.NewReader(c2)
	for i := 0; i < 20; i++ {
		io.WriteString(c2, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
		get("fast", "/fast 0 <nil>")
	}
	begin = time.Now()
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle: read %v, want EOF", err)
	}
	// At most 1.75×: a wait that ended at the idle deadline must not get a
	// second idle period (readRequest after flushAwait).
	if d := time.Since(begin); d < timeout/2 || d > timeout*7/4 {
		t.Fatalf("idle connection closed after %v, want about %v", d, timeout)
	}
}

// TestHeaderTimeoutApart: with an idle timeout far longer, a head that
// stalls halfway is cut after the header timeout, on a fresh connection
// and after an answer on a kept-alive one; a head that comes whole is
// served however long the connection then stays quiet within its idle
// timeout.
func TestHeaderTimeoutApart(t *testing.T) {
	const header = 200 * time.Millisecond
	addr, _ := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.Path)
	}), func(s *Server) { s.IdleTimeout, s.ReadHeaderTimeout = 10*time.Second, header })
	for _, first := range []bool{false, true} {
		c := dial(t, addr, 10*time.Second)
		br := bufio.NewReader(c)
		if first {
			io.WriteString(c, "GET /whole HTTP/1.1\r\nHost: x\r\n\r\n")
			expectBody(t, br, "whole", "/whole")
			time.Sleep(2 * header) // quiet, within the idle timeout
			io.WriteString(c, "GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
			expectBody(t, br, "again", "/again")
		}
		io.WriteString(c, "GET /stall HTTP/1.1\r\nHo")
		begin := time.Now()
		if rest, err := io.ReadAll(br); err != nil || len(rest) > 0 && !strings.HasPrefix(string(rest), "HTTP/1.1 400 ") {
			t.Fatalf("stalled head (after an answer: %v): read %q, %v; want a 400 or nothing, then EOF", first, rest, err)
		}
		if d := time.Since(begin); d < header/2 || d > 5*header {
			t.Fatalf("stalled head (after an answer: %v) cut after %v, want about %v", first, d, header)
		}
	}
}

// The idle deadline left set while a body is read (takeBody) must still
// close a connection that then idles, and a read deadline the handler sets
// for the body must still cut it; only the stale deadline is removed by
// the read that meets it (TestTimeoutsOnABusyConnection's slow upload).
func TestBodyDeadlines(t *testing.T) {
	const timeout = 300 * time.Millisecond
	addr, _ := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bounded" {
			http.NewResponseController(w).SetReadDeadline(time.Now().Add(timeout / 3))
		}
		b, err := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %d %v", r.URL.Path, len(b), errors.Is(err, os.ErrDeadlineExceeded))
	}), func(s *Server) { s.IdleTimeout, s.ReadHeaderTimeout = timeout, timeout })

	c := dial(t, addr, 10*time.Second)
	br := bufio.NewReader(c)
	for i := 0; i < 5; i++ {
		io.WriteString(c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcd")
		expectBody(t, br, "post", "/up 4 false")
	}
	begin := time.Now()
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle after posts: read %v, want EOF", err)
	}
	if d := time.Since(begin); d < timeout/2 || d > timeout*7/4 {
		t.Fatalf("idle connection after posts closed after %v, want about %v", d, timeout)
	}

	c = dial(t, addr, 10*time.Second)
	br = bufio.NewReader(c)
	io.WriteString(c, "POST /bounded HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab")
	expectBody(t, br, "bounded", "/bounded 2 true")
}

type cutCount struct{ n atomic.Int32 }

func (c *cutCount) Cut() { c.n.Add(1) }

// CutOnGone cuts off what a handler names when the client is seen gone,
// as a context.AfterFunc on the request's context would, and only while
// that handler runs.
func TestCutOnGone(t *testing.T) {
	var gone, done cutCount
	finished := make(chan struct{})
	addr, _ := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/done" {
			w.(*response).CutOnGone(&done) // cleared when this returns
			return
		}
		defer close(finished)
		w.(*response).CutOnGone(&gone)
		<-r.Context().Done()
		for i := 0; i < 100 && gone.n.Load() == 0; i++ {
			time.Sleep(10 * time.Millisecond)
		}
	}), nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /done HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(50 * time.Millisecond)
	c.Close() // the watch sees the client go
	select {
	case <-finished:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler was not released")
	}
	if n := gone.n.Load(); n != 1 {
		t.Fatalf("the waiting request's cutter ran %d times, want 1", n)
	}
	if n := done.n.Load(); n != 0 {
		t.Fatalf("a finished request's cutter ran %d times, want 0", n)
	}

	// Set after the context ended: cut at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var late cutCount
	addr, _ = start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		for i := 0; i < 100; i++ {
			w.(*response).CutOnGone(&late)
			if late.n.Load() > 0 {
				return
			}
			w.(*response).CutOnGone(nil)
			time.Sleep(10 * time.Millisecond)
		}
	}), func(s *Server) { s.BaseContext = ctx })
	raw(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if n := late.n.Load(); n != 1 {
		t.Fatalf("a cutter set after the context ended ran %d times, want 1", n)
	}

	// BaseContext ends while handlers run, on two connections: both are
	// cut, once each; a connection closed before is not.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	var cuts [3]cutCount
	running := make(chan struct{}, 3)
	addr, _ = start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(r.URL.Path[1] - '0')
		w.(*response).CutOnGone(&cuts[i])
		if i == 2 {
			return // cleared when this returns; its connection closes
		}
		running <- struct{}{}
		for j := 0; j < 500 && cuts[i].n.Load() == 0; j++ {
			time.Sleep(10 * time.Millisecond)
		}
	}), func(s *Server) { s.BaseContext = ctx })
	raw(t, addr, "GET /2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	answered := make(chan error, 2)
	for _, p := range []string{"/0", "/1"} {
		c := dial(t, addr, 10*time.Second)
		go func() {
			_, err := io.WriteString(c, "GET "+p+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			if err == nil {
				_, err = io.ReadAll(c)
			}
			answered <- err
		}()
	}
	<-running
	<-running
	cancel()
	for range 2 {
		if err := <-answered; err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range []int32{1, 1, 0} {
		if n := cuts[i].n.Load(); n != want {
			t.Errorf("BaseContext ended: cutter %d ran %d times, want %d", i, n, want)
		}
	}
}

// TestAnswerEndThenIdle: on a kept-alive connection the end of each answer
// goes out as the wait for the next request begins (flushAwait); the
// answers arrive whole, in order, with pipelined requests too, and
// ConnState sees Active then Idle for each request.
func TestAnswerEndThenIdle(t *testing.T) {
	var states atomic.Value // []http.ConnState
	states.Store([]http.ConnState(nil))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "2")
		io.WriteString(w, "ok")
	})
	addr, _ := start(t, h, func(s *Server) {
		s.ConnState = func(_ net.Conn, st http.ConnState) {
			states.Store(append(states.Load().([]http.ConnState), st))
		}
	})
	c := dial(t, addr, 5*time.Second)
	br := bufio.NewReader(c)
	get := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	read := func(n int) {
		for i := 0; i < n; i++ {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || string(b) != "ok" {
				t.Fatalf("answer %d: %d %q", i, resp.StatusCode, b)
			}
		}
	}
	for i := 0; i < 3; i++ {
		io.WriteString(c, get)
		read(1)
		time.Sleep(10 * time.Millisecond) // Idle is seen before the next request
	}
	io.WriteString(c, get+get+get) // pipelined
	read(3)
	c.Close()
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if st := states.Load().([]http.ConnState); len(st) > 0 && st[len(st)-1] == http.StateClosed {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	want := []http.ConnState{http.StateNew}
	for i := 0; i < 6; i++ {
		want = append(want, http.StateActive, http.StateIdle)
	}
	want = append(want, http.StateClosed)
	if got := states.Load().([]http.ConnState); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("states %v\nwant   %v", got, want)
	}
}

// TestIdleConnectionsHoldNoBuffers: a kept-alive connection waiting for its
// next request has given its read and write buffers back (flushAwait), so
// many idle clients cost little memory: the live heap per idle connection,
// client side included, stays well under the 8 KiB the two buffers take.
func TestIdleConnectionsHoldNoBuffers(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "2")
		io.WriteString(w, "ok")
	})
	addr, _ := start(t, h, nil)
	live := func() int64 {
		var ms runtime.MemStats
		for i := 0; i < 3; i++ { // pooled buffers go with the second collection
			runtime.GC()
		}
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	const n = 300
	before := live()
	conns := make([]net.Conn, n)
	br := bufio.NewReader(nil) // one reader, reset per answer: the client side adds no buffer per connection
	for round := 0; round < 2; round++ {
		for i := range conns {
			if conns[i] == nil {
				conns[i] = dial(t, addr, 10*time.Second)
			}
			io.WriteString(conns[i], "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			br.Reset(conns[i])
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := io.ReadAll(resp.Body); string(b) != "ok" {
				t.Fatalf("answer %q", b)
			}
		}
	}
	time.Sleep(50 * time.Millisecond) // the last answers' giving back
	perConn := (live() - before) / n
	t.Logf("%d bytes of live heap per idle connection (both ends)", perConn)
	if perConn > 6<<10 {
		t.Errorf("each idle connection keeps %d bytes of live heap", perConn)
	}
}

func TestWatchStartsAfterWatchAfter(t *testing.T) {
	// The client half-closes its side right after its request: a request
	// shorter than watchAfter is not watched and is answered; a longer one
	// is, and its context ends after watchAfter (the sweep's ticks may
	// come a little early), within watchTicks ticks.
	type result struct {
		ran time.Duration
		err error
	}
	results := make(chan result, 1)
	var srv *Server
	addr, _ := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		begin := time.Now()
		d := 2 * time.Second
		if r.URL.Path == "/fast" {
			d = watchAfter / 4
		}
		select {
		case <-r.Context().Done():
		case <-time.After(d):
		}
		results <- result{time.Since(begin), r.Context().Err()}
		w.Header().Set("Content-Length", "2")
		io.WriteString(w, "ok")
	}), func(s *Server) { srv = s })
	for _, path := range []string{"/fast", "/slow"} {
		c := dial(t, addr, 5*time.Second)
		io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: a\r\n\r\n")
		c.(*net.TCPConn).CloseWrite()
		res := <-results
		switch {
		case path == "/fast" && res.err != nil:
			t.Fatalf("%s: the context ended after %v, before the watch was due", path, res.ran)
		case path == "/slow" && res.err == nil:
			t.Fatalf("%s: the context did not end when the client left", path)
		case path == "/slow" && (res.ran < watchAfter*9/10 || res.ran > watchTicks*watchTick+time.Second):
			t.Fatalf("%s: the context ended after %v, want %v to %v", path, res.ran, watchAfter, watchTicks*watchTick)
		}
		io.ReadAll(c)
		c.Close()
	}

	// With no connection left, the sweep stops; a new connection starts it.
	ticking := func() bool {
		srv.live.mu.Lock()
		defer srv.live.mu.Unlock()
		return srv.live.ticking
	}
	for deadline := time.Now().Add(5 * time.Second); ticking(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the sweep still runs with no connection open")
		}
	}
	if out := raw(t, addr, "GET /fast HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"); !strings.HasSuffix(out, "ok") {
		t.Fatalf("after the sweep stopped:\n%s", out)
	}
	<-results
}

func TestRequestArrivingWhileAnswering(t *testing.T) {
	// A pipelined request that reaches the socket after its predecessor
	// was read, and a client's end of sending (half-close) that comes
	// before its answer, are found by the sweep's recheck, not left until
	// the idle timeout (a minute here) ends the wait. Once found, the
	// connection looks before each wait: the next such request is
	// answered at once.
	addr, _ := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(watchAfter / 4)
		w.Header().Set("Content-Length", fmt.Sprint(len(r.URL.Path)))
		io.WriteString(w, r.URL.Path)
	}), func(s *Server) { s.IdleTimeout = time.Minute })
	late := recheckTicks*watchTick + watchTick // at the latest, after the answer before

	c := dial(t, addr, 5*time.Second)
	br := bufio.NewReader(c)
	for i, pair := range [][2]string{{"/one", "/two"}, {"/three", "/four"}} {
		io.WriteString(c, "GET "+pair[0]+" HTTP/1.1\r\nHost: a\r\n\r\n")
		time.Sleep(watchAfter / 10) // the first is read, its handler runs
		io.WriteString(c, "GET "+pair[1]+" HTTP/1.1\r\nHost: a\r\n\r\n")
		var answered time.Time
		for _, want := range pair {
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("answer to %s: %v", want, err)
			}
			b, _ := io.ReadAll(res.Body)
			if string(b) != want {
				t.Fatalf("answer %q, want %q", b, want)
			}
			if want == pair[0] {
				answered = time.Now()
				continue
			}
			took := time.Since(answered)
			if i == 0 && took > late+time.Second {
				t.Fatalf("%s answered %v after %s", want, took, pair[0])
			}
			if i == 1 && took > watchAfter*9/10 {
				t.Fatalf("%s answered %v after %s: the connection did not look before its wait", want, took, pair[0])
			}
		}
	}

	c = dial(t, addr, 5*time.Second)
	io.WriteString(c, "GET /half HTTP/1.1\r\nHost: a\r\n\r\n")
	c.(*net.TCPConn).CloseWrite()
	begin := time.Now()
	out, err := io.ReadAll(c)
	if err != nil || !strings.HasSuffix(string(out), "/half") {
		t.Fatalf("after a half-close, after %v: %q, %v (the server kept the connection)", time.Since(begin), out, err)
	}
	if took := time.Since(begin); took > watchAfter/4+late+time.Second {
		t.Fatalf("a half-closed connection was closed after %v", took)
	}
}

func TestCloseIdleAndCloseAll(t *testing.T) {
	// Three connections: one idle after an answer, one new without a
	// request, one whose request is under way. CloseIdle closes the first
	// two once they have waited long enough and counts the third; CloseAll
	// closes it too.
	release, busyNow := make(chan struct{}), make(chan struct{})
	var srv *Server
	addr, conns := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/busy" {
			close(busyNow)
			<-release
		}
		w.Header().Set("Content-Length", "2")
		io.WriteString(w, "ok")
	}), func(s *Server) { srv = s })
	idle := dial(t, addr, 5*time.Second)
	io.WriteString(idle, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if res, err := http.ReadResponse(bufio.NewReader(idle), nil); err != nil || res.StatusCode != 200 {
		t.Fatalf("first answer: %v", err)
	}
	fresh := dial(t, addr, 5*time.Second)
	busy := dial(t, addr, 5*time.Second)
	io.WriteString(busy, "GET /busy HTTP/1.1\r\nHost: a\r\n\r\n")
	defer close(release)
	<-busyNow
	for conns.Load() < 3 { // the new one accepted too
		time.Sleep(time.Millisecond)
	}

	ended := func(c net.Conn) bool {
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		_, err := c.Read(make([]byte, 1))
		return err == io.EOF
	}
	if open := srv.CloseIdle(time.Hour); open != 3 {
		t.Fatalf("CloseIdle(1h) left %d open, want 3", open)
	}
	time.Sleep(4 * watchTick)
	if open := srv.CloseIdle(2 * watchTick); open != 1 {
		t.Fatalf("CloseIdle left %d open, want 1 (the busy one)", open)
	}
	if !ended(idle) || !ended(fresh) {
		t.Fatal("an idle or a new connection was left open")
	}
	if ended(busy) {
		t.Fatal("the busy connection was closed")
	}
	srv.CloseAll()
	busy.SetReadDeadline(time.Now().Add(time.Second))
	if b, err := io.ReadAll(busy); err != nil || len(b) != 0 {
		t.Fatalf("after CloseAll, the busy connection read %q, %v", b, err)
	}
}

// TestBuffersLentLate: a handler waiting for its answer (a proxy waiting
// for its backend) holds no write buffer, and no read buffer when nothing
// more is to be read for its request: with many connections in flight, the
// buffers an answer goes through are then the pool's most recently used.
// A request with a body keeps the read buffer (the body is read through
// it), and so does one followed by a pipelined request (it is buffered
// there).
func TestBuffersLentLate(t *testing.T) {
	type seen struct{ br, bw, bwAfter bool }
	got := make(chan seen, 8)
	addr, _ := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := w.(*response).c
		s := seen{br: c.br != nil, bw: c.bw != nil}
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.URL.Path+":"+string(b))
		s.bwAfter = c.bw != nil
		got <- s
	}), nil)
	c := dial(t, addr, 5*time.Second)
	br := bufio.NewReader(c)
	roundTrip := func(req, want string) { t.Helper(); expectBody(t, br, req, want) }
	check := func(what string, want seen) {
		t.Helper()
		if s := <-got; s != want {
			t.Errorf("%s: buffers held at the handler's start (read, write) and after its write: %+v, want %+v", what, s, want)
		}
	}
	for _, p := range []string{"/a", "/b"} { // the first request and a kept-alive one
		io.WriteString(c, "GET "+p+" HTTP/1.1\r\nHost: x\r\n\r\n")
		roundTrip(p, p+":")
		check("GET "+p, seen{br: false, bw: false, bwAfter: true})
	}
	io.WriteString(c, "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
	roundTrip("POST", "/p:abc")
	check("POST with a body", seen{br: true, bw: false, bwAfter: true})
	io.WriteString(c, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
	roundTrip("pipelined 1", "/1:")
	roundTrip("pipelined 2", "/2:")
	check("GET followed by a pipelined one", seen{br: true, bw: false, bwAfter: true})
	// The first answer may still be in the write buffer, to go out with
	// the second: the buffer stays lent between pipelined requests.
	check("the pipelined GET", seen{br: false, bw: true, bwAfter: true})
}

// watchSeen is what the watch tests read of a connection's watch.
type watchSeen struct {
	watching, started bool
	looks             uint8
	key               uint32 // its registration for the client's hang-up
}

func seenOf(c *conn) watchSeen {
	c.s.live.mu.Lock()
	key := c.key
	c.s.live.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	return watchSeen{watching: c.watching, started: c.started, looks: c.looks, key: key}
}

// watchEnd is when a request whose client left saw its context end (-1:
// not within 5 s), and its watch then.
type watchEnd struct {
	after time.Duration
	watchSeen
}

// startWatchProbe starts a server whose /stay requests send on seen what
// their watch is at 400 ms and 1.5 s, then answer "ok", and whose other
// requests wait for their context to end and send on ended when it did.
func startWatchProbe(t *testing.T, tune func(*Server)) (addr string, seen chan []watchSeen, ended chan watchEnd) {
	seen, ended = make(chan []watchSeen, 1), make(chan watchEnd, 1)
	addr, _ = start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := w.(*response).c
		begin := time.Now()
		if r.URL.Path == "/stay" {
			var s []watchSeen
			for _, at := range []time.Duration{400 * time.Millisecond, 1500 * time.Millisecond} {
				time.Sleep(time.Until(begin.Add(at)))
				s = append(s, seenOf(c))
			}
			seen <- s
			w.Header().Set("Content-Length", "2")
			io.WriteString(w, "ok")
			return
		}
		select {
		case <-r.Context().Done():
			ended <- watchEnd{time.Since(begin), seenOf(c)}
		case <-time.After(5 * time.Second):
			ended <- watchEnd{after: -1}
		}
	}), tune)
	return addr, seen, ended
}

// TestWatchLooksFirst: on a plain TCP connection that is not registered
// for its client's hang-up (package hangup unavailable, as outside Linux:
// noHups), the sweep looks (peeks) before it starts a watcher (maxLooks):
// a client that stays is not watched while the looks last, is watched
// after them, and a client that leaves between two looks is seen at the
// next. (The bounds leave room for a sweep that ticks late on a loaded
// machine.)
func TestWatchLooksFirst(t *testing.T) {
	addr, seen, ended := startWatchProbe(t, func(s *Server) { s.live.noHups = true }) // before the sweep's goroutine starts

	c := dial(t, addr, 5*time.Second)
	io.WriteString(c, "GET /stay HTTP/1.1\r\nHost: a\r\n\r\n")
	s := <-seen
	if s[0].watching || s[0].looks < 1 {
		t.Errorf("at 400 ms: watching %v after %d looks, want looks and no watcher", s[0].watching, s[0].looks)
	}
	if !s[1].watching || s[1].looks != maxLooks {
		t.Errorf("at 1.5 s: watching %v after %d looks, want a watcher after %d looks", s[1].watching, s[1].looks, maxLooks)
	}
	if res, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil || res.StatusCode != 200 {
		t.Fatalf("the watched request's answer: %v, %v", res, err)
	}

	// A client that leaves at 320 ms, after the third look (250–300 ms), is
	// seen by a look (the fourth, at 450–500 ms), not by the watcher that
	// would start after the last.
	c2 := dial(t, addr, 5*time.Second)
	io.WriteString(c2, "GET /leave HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(320 * time.Millisecond)
	c2.Close()
	e := <-ended
	if e.after < 0 {
		t.Fatal("the context of a request whose client left did not end")
	}
	if e.looks >= maxLooks {
		t.Errorf("the client that left at 320 ms was seen after %v, by the watcher after all %d looks, not by a look", e.after, e.looks)
	}
}

// TestWatchHearsHangUp: on a plain TCP connection the sweep registers the
// connection for its client's hang-up once a request is due (package
// hangup) and from then on neither peeks nor starts a watcher for a client
// that stays, however long its requests run, on this request and the
// next; a client that leaves is heard of within a tick or two of leaving,
// not at a look's time.
func TestWatchHearsHangUp(t *testing.T) {
	addr, seen, ended := startWatchProbe(t, nil)

	c := dial(t, addr, 10*time.Second)
	br := bufio.NewReader(c)
	for i := 0; i < 2; i++ { // the second request finds the connection registered
		io.WriteString(c, "GET /stay HTTP/1.1\r\nHost: a\r\n\r\n")
		s := <-seen
		for j, at := range []string{"400 ms", "1.5 s"} {
			if s[j].key == 0 || s[j].watching || s[j].started || s[j].looks != 0 {
				t.Errorf("request %d at %s: %+v, want registered, no looks and no watcher", i+1, at, s[j])
			}
		}
		if res, err := http.ReadResponse(br, nil); err != nil || res.StatusCode != 200 {
			t.Fatalf("the answer: %v, %v", res, err)
		}
		io.ReadAll(io.LimitReader(br, 2))
	}

	// On the same, registered, connection: a client that leaves at 700 ms
	// is heard of at the sweep's next tick or the one after (50–100 ms;
	// a second's room for a loaded machine), not at a look's time, for
	// there are none.
	io.WriteString(c, "GET /leave HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(700 * time.Millisecond)
	c.Close()
	e := <-ended
	switch {
	case e.after < 0:
		t.Fatal("the context of a request whose client left did not end")
	case e.after > 700*time.Millisecond+time.Second:
		t.Errorf("the client that left at 700 ms was heard of at %v", e.after)
	case e.looks != 0 || e.key == 0:
		t.Errorf("the client was heard of after %d looks, registered %v", e.looks, e.key != 0)
	}
	t.Logf("the client that left at 700 ms was heard of at %v", e.after)
}

// TestResponseFraming: the fields the head's framing depends on, set by
// the handler, go out (or not) as the framing decides, each once, and the
// fields the writer sets itself are never copied.
func TestResponseFraming(t *testing.T) {
	addr, _ := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		q := r.URL.Query()
		if v, ok := q["cl"]; ok {
			h["Content-Length"] = v
		}
		if q.Has("trailer") {
			h.Set("Trailer", "X-Sum")
		}
		if q.Has("close") {
			h.Set("Connection", "close")
		}
		if q.Has("date") {
			h.Set("Date", "Mon, 01 Jan 2024 00:00:00 GMT")
		}
		h.Set("Keep-Alive", "timeout=1")
		h.Set("Transfer-Encoding", "gzip")
		h.Set("X-Other", "1")
		if q.Has("204") {
			w.WriteHeader(204)
			return
		}
		io.WriteString(w, "hello")
		if q.Has("trailer") {
			h.Set("X-Sum", "42")
		}
	}), nil)
	for _, c := range []struct {
		target, proto string
		want, not     []string
	}{
		{"/?cl=5", "HTTP/1.1", []string{"Content-Length: 5"}, []string{"chunked"}},
		{"/?cl=abc", "HTTP/1.1", []string{"Transfer-Encoding: chunked"}, []string{"Content-Length"}},
		{"/?cl=5&cl=5", "HTTP/1.1", []string{"Transfer-Encoding: chunked"}, []string{"Content-Length"}},
		{"/?cl=5&204", "HTTP/1.1", nil, []string{"Content-Length", "chunked"}},
		{"/?cl=5&trailer", "HTTP/1.1", []string{"Transfer-Encoding: chunked", "Trailer: X-Sum"}, []string{"Content-Length"}},
		{"/?cl=5&trailer", "HTTP/1.0", []string{"Connection: close"}, []string{"Content-Length", "Trailer", "chunked"}},
		{"/?cl=5&close", "HTTP/1.1", []string{"Content-Length: 5", "Connection: close"}, nil},
		{"/?cl=5&date", "HTTP/1.1", []string{"Date: Mon, 01 Jan 2024 00:00:00 GMT"}, nil},
	} {
		out := raw(t, addr, "GET "+c.target+" "+c.proto+"\r\nHost: a\r\nConnection: close\r\n\r\n")
		headText, _, _ := strings.Cut(out, "\r\n\r\n")
		lines := strings.Split(headText, "\r\n")
		count := func(prefix string) int {
			n := 0
			for _, l := range lines[1:] {
				if strings.HasPrefix(l, prefix) {
					n++
				}
			}
			return n
		}
		for _, w := range c.want {
			if count(w) != 1 {
				t.Errorf("%s %s: want one %q in\n%s", c.proto, c.target, w, headText)
			}
		}
		for _, n := range c.not {
			if strings.Contains(headText, n) {
				t.Errorf("%s %s: %q in\n%s", c.proto, c.target, n, headText)
			}
		}
		for _, once := range []string{"Date: ", "Connection: ", "X-Other: 1"} {
			if count(once) != 1 {
				t.Errorf("%s %s: %q %d times in\n%s", c.proto, c.target, once, count(once), headText)
			}
		}
		if strings.Contains(headText, "Keep-Alive") || strings.Contains(headText, "gzip") {
			t.Errorf("%s %s: a field the writer sets itself was copied:\n%s", c.proto, c.target, headText)
		}
	}
}

// TestHeldBody: a body the read buffer holds whole is handed over where
// it lies (Held), and its bytes stay as they were for as long as the
// handler runs, also when the client's next request comes meanwhile —
// the watch, which that request starts, waits without reading into the
// buffer — and that request is answered next. A body still arriving, one
// waiting for "100 Continue" and a chunked one are not held; their reads
// work as before.
func TestHeldBody(t *testing.T) {
	type holder interface{ Held() []byte }
	addr, _ := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var held []byte
		if h, ok := r.Body.(holder); ok {
			held = h.Held()
		}
		var got string
		switch {
		case held == nil:
			b, _ := io.ReadAll(r.Body)
			got = "read " + string(b)
		case r.URL.Path == "/hold":
			was := string(held)
			time.Sleep(12 * watchAfter) // the looks find the next request; the watch starts
			if string(held) != was {
				got = "changed"
			} else {
				got = "held " + was[:3] + "…" + was[len(was)-3:]
			}
		default:
			got = "held " + string(held)
		}
		if b, err := io.ReadAll(r.Body); len(b) != 0 || err != nil {
			got += fmt.Sprintf(" (then read %d bytes, %v)", len(b), err)
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(got)))
		io.WriteString(w, got)
	}), nil)
	c := dial(t, addr, 5*time.Second)
	br := bufio.NewReader(c)
	io.WriteString(c, "POST /small HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
	expectBody(t, br, "POST /small", "held hello")

	// The next request, longer than the held request's head, comes while
	// the handler holds the body: a read into the buffer would overwrite it.
	body := strings.Repeat("0123456789", 300)
	io.WriteString(c, "POST /hold HTTP/1.1\r\nHost: a\r\nContent-Length: 3000\r\n\r\n"+body)
	time.Sleep(watchAfter / 4)
	io.WriteString(c, "GET /next HTTP/1.1\r\nHost: a\r\nX-Pad: "+strings.Repeat("p", 2000)+"\r\nContent-Length: 0\r\n\r\n")
	expectBody(t, br, "POST /hold", "held 012…789")
	expectBody(t, br, "GET /next (pipelined)", "read ")

	// Still arriving: the head and part of the body, then the rest.
	io.WriteString(c, "POST /slow HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhello")
	time.Sleep(50 * time.Millisecond)
	io.WriteString(c, "world")
	expectBody(t, br, "POST /slow", "read helloworld")

	io.WriteString(c, "POST /chunked HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
	expectBody(t, br, "POST /chunked", "read hello")

	io.WriteString(c, "POST /expect HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusContinue {
		t.Fatalf("POST /expect: %v, %v; want 100 Continue first", resp, err)
	}
	expectBody(t, br, "POST /expect", "read hello")
}

// TestWatchHearsHangUpOverTLS: a TLS connection is registered for its
// client's hang-up as a plain one is, beneath TLS: a client that stays
// gets no watcher (nothing reads ahead of the handler), and one that
// leaves is heard of.
func TestWatchHearsHangUpOverTLS(t *testing.T) {
	ca := certtest.MustCA("h1 test")
	leaf := ca.MustIssue(certtest.Options{Names: []string{"a"}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	seen := make(chan watchSeen, 1)
	ended := make(chan time.Duration, 1)
	s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		begin := time.Now()
		if r.URL.Path == "/stay" {
			time.Sleep(500 * time.Millisecond)
			seen <- seenOf(w.(*response).c)
			w.Header().Set("Content-Length", "2")
			io.WriteString(w, "ok")
			return
		}
		select {
		case <-r.Context().Done():
			ended <- time.Since(begin)
		case <-time.After(5 * time.Second):
			ended <- -1
		}
	})}
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				tc := tls.Server(nc, &tls.Config{Certificates: []tls.Certificate{leaf.TLS}})
				if tc.Handshake() != nil {
					nc.Close()
					return
				}
				s.ServeConn(tc)
			}()
		}
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: ca.Pool(), ServerName: "a"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /stay HTTP/1.1\r\nHost: a\r\n\r\n")
	if st := <-seen; st.key == 0 || st.started || st.watching {
		t.Errorf("at 500 ms: %+v, want registered and no watcher", st)
	}
	br := bufio.NewReader(c)
	if res, err := http.ReadResponse(br, nil); err != nil || res.StatusCode != 200 {
		t.Fatalf("the answer: %v, %v", res, err)
	}
	io.ReadAll(io.LimitReader(br, 2))
	io.WriteString(c, "GET /leave HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(300 * time.Millisecond)
	c.Close() // close_notify, then FIN
	if d := <-ended; d < 0 {
		t.Fatal("the context of a request whose TLS client left did not end")
	} else {
		t.Logf("the TLS client that left at 300 ms was heard of at %v", d)
	}
}
