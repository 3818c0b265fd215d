package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/webrouter/webrouter/internal/catalog"
)

// BenchmarkForward measures one keep-alive GET with a 1 KiB answer through
// the whole data plane in this process: the entry-side server (h1, as the
// router runs, or net/http for comparison), the table lookup, the pick and
// the fast path to a loopback backend. ns/op shares the machine with the
// client and the backend; allocs/op is the steadier figure (it counts the
// backend's and the client's allocations too, the same in every run).
//
// The new-conn variants open a connection per request and ask to close it
// (Connection: close), so each op also counts a connection's accept, set-up
// and close.
func BenchmarkForward(b *testing.B) {
	b.Run("h1", func(b *testing.B) { benchmarkForward(b, false, false) })
	b.Run("net-http", func(b *testing.B) { benchmarkForward(b, true, false) })
	b.Run("h1-new-conn", func(b *testing.B) { benchmarkForward(b, false, true) })
	b.Run("net-http-new-conn", func(b *testing.B) { benchmarkForward(b, true, true) })
}

func benchmarkForward(b *testing.B, stdServer, newConn bool) {
	page := bytes.Repeat([]byte("b"), 1024)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(page) }))
	defer be.Close()
	r := newRig(b, TransportOptions{})
	r.service("bench", catalog.ServiceSpec{Mountpoints: []string{"bench.test"}})
	r.instance("bench", "a", be.Listener.Addr().String(), 10)

	url := r.front.URL
	if stdServer {
		std := httptest.NewServer(r.proxy)
		defer std.Close()
		url = std.URL
	}
	addr := strings.TrimPrefix(url, "http://")
	if newConn {
		req := []byte("GET /x HTTP/1.1\r\nHost: bench.test\r\nUser-Agent: bench\r\nConnection: close\r\n\r\n")
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := c.Write(req); err != nil {
				b.Fatal(err)
			}
			// The answer, then the server's close.
			n, err := io.Copy(io.Discard, c)
			c.Close()
			if err != nil || n < int64(len(page)) {
				b.Fatalf("%d bytes, %v", n, err)
			}
		}
		return
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET /x HTTP/1.1\r\nHost: bench.test\r\nUser-Agent: bench\r\n\r\n")
	br := bufio.NewReader(c)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || n != int64(len(page)) {
			b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
		}
	}
}
