package e2e

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRoutingStatuses covers every status of "Routing semantics" through the
// real binary: 200, 404, 503, 502 (refused and reset) and 504.
func TestRoutingStatuses(t *testing.T) {
	r := startRouter(t, t.TempDir(), "--response-timeout", "300ms")
	ok := named(t, "ok")
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		select {
		case <-release:
		case <-req.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	reset := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		c, _, _ := http.NewResponseController(w).Hijack()
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}))
	t.Cleanup(reset.Close)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	deadPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	r.mustAPI("PUT", "/v1/services/ok", `{"mountpoints":["ok.test"]}`)
	r.mustAPI("PUT", "/v1/services/ok/instances/a", instanceJSON(ok))
	r.mustAPI("PUT", "/v1/services/empty", `{"mountpoints":["empty.test"]}`)
	r.mustAPI("PUT", "/v1/services/drained", `{"mountpoints":["drained.test"]}`)
	r.mustAPI("PUT", "/v1/services/drained/instances/a", `{"address":"127.0.0.1","port":1,"weight":0}`)
	r.mustAPI("PUT", "/v1/services/dead", `{"mountpoints":["dead.test"]}`)
	r.mustAPI("PUT", "/v1/services/dead/instances/a", `{"address":"127.0.0.1","port":`+itoa(deadPort)+`}`)
	r.mustAPI("PUT", "/v1/services/reset", `{"mountpoints":["reset.test"]}`)
	r.mustAPI("PUT", "/v1/services/reset/instances/a", instanceJSON(reset))
	r.mustAPI("PUT", "/v1/services/slow", `{"mountpoints":["slow.test"]}`)
	r.mustAPI("PUT", "/v1/services/slow/instances/a", instanceJSON(slow))

	tests := []struct {
		host, path string
		status     int
		text       string
	}{
		{"ok.test", "/", 200, "ok /"},
		{"unknown.test", "/", 404, "404 Not Found: no route"},
		{"ok.test.other", "/", 404, "no route"},
		{"empty.test", "/", 503, `503 Service Unavailable: no usable instance of service "empty"`},
		{"drained.test", "/", 503, "no usable instance"},
		{"dead.test", "/", 502, "502 Bad Gateway: the backend refused or reset the connection"},
		{"reset.test", "/", 502, "502 Bad Gateway"},
		{"slow.test", "/", 504, "504 Gateway Timeout: the backend did not answer in time"},
	}
	for _, tt := range tests {
		code, body, hdr := r.get(tt.host, tt.path)
		if code != tt.status || !strings.Contains(body, tt.text) {
			t.Errorf("%s%s: %d %q, want %d containing %q", tt.host, tt.path, code, body, tt.status, tt.text)
		}
		if id := hdr.Get("X-Request-Id"); id == "" || (code != 200 && !strings.Contains(body, id)) {
			t.Errorf("%s: request id %q missing from header or body %q", tt.host, id, body)
		}
	}

	// The access log has one line per request with every field.
	eventually(t, 5*time.Second, "access log lines", func() bool { return len(r.stdout.Lines("access")) >= len(tests) })
	for _, l := range r.stdout.Lines("access") {
		for _, k := range []string{"time", "client", "host", "method", "path", "status", "bytes", "upstream", "upstream_ms", "total_ms", "request_id"} {
			if _, ok := l[k]; !ok {
				t.Errorf("access line lacks %q: %v", k, l)
			}
		}
	}
}

// TestWritesAreRoutableWhenTheCallReturns checks the hot-swap promise: no
// polling between the write and the request.
func TestWritesAreRoutableWhenTheCallReturns(t *testing.T) {
	r := startRouter(t, t.TempDir())
	web := named(t, "web")
	for i := 0; i < 30; i++ {
		host := "svc" + itoa(i) + ".test"
		r.mustAPI("PUT", "/v1/services/svc"+itoa(i), `{"mountpoints":["`+host+`"]}`)
		r.mustAPI("PUT", "/v1/services/svc"+itoa(i)+"/instances/a", instanceJSON(web))
		if code, body, _ := r.get(host, "/"); code != 200 {
			t.Fatalf("service %d right after its write: %d %q", i, code, body)
		}
		r.mustAPI("DELETE", "/v1/services/svc"+itoa(i), "")
		if code, _, _ := r.get(host, "/"); code != 404 {
			t.Fatalf("service %d right after its delete: %d", i, code)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
