package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"
)

// TestServers runs the backend with each of its servers on real loopback
// ports and checks what the benchmark relies on: the body size the path
// names, 1 KiB otherwise, a POST body read in full, keep-alive, and a
// refused size.
func TestServers(t *testing.T) {
	for _, server := range []string{"h1", "net/http"} {
		t.Run(server, func(t *testing.T) {
			base := start(t, server)
			c := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}, Timeout: 10 * time.Second}
			for i, tc := range []struct {
				method, path string
				body         string
				status, size int
			}{
				{"GET", "/", "", 200, 1024},
				{"GET", "/bytes/0", "", 200, 0},
				{"GET", "/bytes/262144", "", 200, 262144},
				{"POST", "/", strings.Repeat("p", 16<<10), 200, 1024},
				{"GET", "/bytes/1048577", "", 400, -1},
				{"GET", "/bytes/x", "", 400, -1},
				{"GET", "/bytes/10?delay=150ms", "", 200, 10},
				{"GET", "/?delay=11s", "", 400, -1},
				{"GET", "/?delay=soon", "", 400, -1},
				{"GET", "/?size=3", "", 400, -1},
			} {
				begin := time.Now()
				req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
				reused := false
				req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
					GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
				}))
				resp, err := c.Do(req)
				if err != nil {
					t.Fatalf("%s %s: %v", tc.method, tc.path, err)
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != tc.status {
					t.Fatalf("%s %s: status %d, %v; want %d", tc.method, tc.path, resp.StatusCode, err, tc.status)
				}
				if i > 0 && !reused {
					t.Errorf("%s %s: a new connection; want the first one kept alive", tc.method, tc.path)
				}
				if took := time.Since(begin); strings.Contains(tc.path, "delay=150ms") && took < 150*time.Millisecond {
					t.Errorf("%s %s: answered after %v, want 150 ms at least", tc.method, tc.path, took)
				}
				if tc.size >= 0 && (len(b) != tc.size || resp.ContentLength != int64(tc.size)) {
					t.Errorf("%s %s: %d bytes, Content-Length %d; want %d", tc.method, tc.path, len(b), resp.ContentLength, tc.size)
				}
			}
		})
	}
	if err := run(context.Background(), 1, "nginx", io.Discard); err == nil || !strings.Contains(err.Error(), `"nginx"`) {
		t.Errorf("-server nginx: %v, want an error naming it", err)
	}
}

// start runs the backend on one port until the test ends and returns its
// base URL.
func start(t *testing.T, server string) string {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, 1, server, pw); pw.Close() }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	var hello struct{ Ports []int }
	br := bufio.NewReader(pr)
	line, err := br.ReadString('\n')
	if err == nil {
		err = json.Unmarshal([]byte(line), &hello)
	}
	go io.Copy(io.Discard, br)
	if err != nil || len(hello.Ports) != 1 {
		t.Fatalf("ports line %q: %v", line, err)
	}
	return fmt.Sprintf("http://127.0.0.1:%d", hello.Ports[0])
}
