package e2e

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/testbed"
)

// TestGracefulShutdown: on SIGTERM the router stops accepting, lets the
// request in flight finish and exits 0.
func TestGracefulShutdown(t *testing.T) {
	r := startRouter(t, t.TempDir())
	started := make(chan struct{})
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "finished")
	}))
	t.Cleanup(slow.Close)
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) }) // before slow.Close, which waits for the handler
	r.mustAPI("PUT", "/v1/services/slow", `{"mountpoints":["slow.test"]}`)
	r.mustAPI("PUT", "/v1/services/slow/instances/a", instanceJSON(slow))

	type result struct {
		code int
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("GET", "http://"+r.http+"/", nil)
		req.Host = "slow.test"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{code: resp.StatusCode, body: string(b)}
	}()
	<-started
	exited := make(chan int, 1)
	go func() { exited <- r.stop() }()
	// The listener closes while the request is still in flight.
	eventually(t, 5*time.Second, "the entry point to stop accepting", func() bool {
		c, err := net.DialTimeout("tcp", r.http, 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case <-exited:
		t.Fatal("router exited with a request in flight")
	default:
	}
	releaseOnce.Do(func() { close(release) })
	res := <-done
	if res.err != nil || res.code != 200 || res.body != "finished" {
		t.Errorf("in-flight request: %d %q %v", res.code, res.body, res.err)
	}
	if code := <-exited; code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if !strings.Contains(r.stderr.String(), `"msg":"stopped"`) {
		t.Error("no 'stopped' log line")
	}
}

func TestHealthzAndMetrics(t *testing.T) {
	r := startRouter(t, t.TempDir())
	web := named(t, "web")
	r.mustAPI("PUT", "/v1/services/demo", `{"mountpoints":["demo.test"]}`)
	r.mustAPI("PUT", "/v1/services/demo/instances/a", instanceJSON(web))
	r.get("demo.test", "/")
	r.get("nothing.test", "/")
	if code, body := r.api("GET", "/healthz", ""); code != 200 || string(body) != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	_, body := r.api("GET", "/metrics", "")
	m := string(body)
	for _, want := range []string{
		`webrouter_requests_total{code="2xx",service="demo"} 1`,
		`webrouter_requests_total{code="4xx",service=""} 1`,
		`webrouter_upstream_duration_seconds_count{service="demo"} 1`,
		`webrouter_open_connections{entrypoint="http"}`,
		`webrouter_table_generation `,
		`webrouter_backend_up{address="` + web.Listener.Addr().String() + `"} 1`,
		`webrouter_backend_requests_total{address="` + web.Listener.Addr().String() + `"} 1`,
		`webrouter_access_log_dropped_total 0`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	var status struct {
		Generation uint64 `json:"generation"`
		Services   int    `json:"services"`
		Instances  int    `json:"instances"`
		Registry   string `json:"registry"`
	}
	decode(t, r.mustAPI("GET", "/v1/status", ""), &status)
	if status.Generation == 0 || status.Services != 1 || status.Instances != 1 || status.Registry != "embedded" {
		t.Errorf("status = %+v", status)
	}
}

// TestSysmonReexec: `webrouter serve` executes itself once more with Go's
// monitor kept awake (package sysmon) and serves as the same process;
// WEBROUTER_SYSMON=default keeps Go's default.
func TestSysmonReexec(t *testing.T) {
	for _, tt := range []struct {
		name  string
		env   []string
		awake bool
	}{
		{"default", cleanEnv(), true},
		{"opted out", append(cleanEnv(), "WEBROUTER_SYSMON=default"), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := testbed.Start(binary, t.TempDir(), tt.env)
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Kill()
			var ready []map[string]any
			eventually(t, 10*time.Second, "the ready line", func() bool {
				ready = tr.Stderr.Lines("ready")
				return len(ready) > 0
			})
			if len(ready) != 1 {
				t.Fatalf("%d ready lines, want 1 (one process, started once):\n%s", len(ready), tr.Stderr.String())
			}
			if pid, _ := ready[0]["pid"].(float64); int(pid) != tr.Cmd.Process.Pid {
				t.Errorf("ready from pid %v, want the started process %d", ready[0]["pid"], tr.Cmd.Process.Pid)
			}
			if got := ready[0]["sysmon_awake"]; got != tt.awake {
				t.Errorf("sysmon_awake = %v, want %v", got, tt.awake)
			}
			if code, _, _ := (&router{Router: tr, t: t, http: tr.HTTP}).get("nothing.test", "/"); code != http.StatusNotFound {
				t.Errorf("unknown host: %d, want 404 (serving)", code)
			}
		})
	}
}
