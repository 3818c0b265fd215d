// Package e2e tests the real webrouter binary: built once per run, started
// as a process on loopback ports, driven through its admin API, CLI and
// HTTP entry point, in front of real HTTP backends.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the webrouter built for this test run (with the race detector).
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "webrouter-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "webrouter")
	build := exec.Command("go", "build", "-race", "-o", binary, "../cmd/webrouter")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build webrouter:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// logBuffer collects a process's output, safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lines returns the JSON log lines whose msg is msg.
func (l *logBuffer) lines(msg string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(l.String()))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// router is one running webrouter process.
type router struct {
	t         *testing.T
	cmd       *exec.Cmd
	data      string
	http      string // entry point address
	admin     string // admin API address
	token     string
	stderr    *logBuffer
	stdout    *logBuffer // the access log
	done      chan struct{}
	exitCode  int
	stopped   bool
	apiClient *http.Client
}

// startRouter runs `webrouter serve` on fresh loopback ports with the given
// data dir and extra flags, and waits until it listens.
func startRouter(t *testing.T, data string, extra ...string) *router {
	t.Helper()
	r, err := launch(t, data, extra...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func launch(t *testing.T, data string, extra ...string) (*router, error) {
	args := append([]string{"serve", "--http", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--data", data,
		"--log-format", "json", "--shutdown-grace", "5s"}, extra...)
	r := &router{t: t, data: data, stderr: &logBuffer{}, stdout: &logBuffer{}, done: make(chan struct{}),
		apiClient: &http.Client{Timeout: 10 * time.Second}}
	r.cmd = exec.Command(binary, args...)
	r.cmd.Stderr, r.cmd.Stdout = r.stderr, r.stdout
	r.cmd.Env = cleanEnv()
	if err := r.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		r.cmd.Wait()
		r.exitCode = r.cmd.ProcessState.ExitCode()
		close(r.done)
	}()
	t.Cleanup(func() {
		if !r.stopped {
			r.cmd.Process.Kill()
			<-r.done
		}
		if t.Failed() {
			t.Logf("webrouter log:\n%s", r.stderr.String())
		}
	})
	deadline := time.After(20 * time.Second)
	for r.http == "" || r.admin == "" {
		select {
		case <-r.done:
			r.stopped = true
			return r, fmt.Errorf("webrouter exited with %d before listening:\n%s", r.exitCode, r.stderr.String())
		case <-deadline:
			return r, fmt.Errorf("webrouter did not listen within 20s:\n%s", r.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		for _, l := range r.stderr.lines("listening") {
			switch l["entrypoint"] {
			case "http":
				r.http = l["addr"].(string)
			case "admin":
				r.admin = l["addr"].(string)
			}
		}
	}
	return r, nil
}

// cleanEnv is the test's environment without WEBROUTER_ variables, so a
// developer's settings do not leak into the process under test.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WEBROUTER_") {
			env = append(env, kv)
		}
	}
	return env
}

// stop sends SIGTERM and returns the exit code.
func (r *router) stop() int {
	r.t.Helper()
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(20 * time.Second):
		r.cmd.Process.Kill()
		<-r.done
		r.t.Fatal("webrouter did not exit within 20s of SIGTERM")
	}
	r.stopped = true
	return r.exitCode
}

// api calls the admin API and returns the status and body.
func (r *router) api(method, path, body string) (int, []byte) {
	r.t.Helper()
	req, err := http.NewRequest(method, "http://"+r.admin+path, strings.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	resp, err := r.apiClient.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// mustAPI calls the admin API and fails the test unless the status is 2xx.
func (r *router) mustAPI(method, path, body string) []byte {
	r.t.Helper()
	code, b := r.api(method, path, body)
	if code/100 != 2 {
		r.t.Fatalf("%s %s: %d %s", method, path, code, b)
	}
	return b
}

// get sends a request for host+target through the entry point. It uses a
// fresh connection so that every request is routed on its own.
func (r *router) get(host, target string) (int, string, http.Header) {
	r.t.Helper()
	req, err := http.NewRequest("GET", "http://"+r.http+target, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	req.Host = host
	req.Close = true
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatalf("GET %s%s: %v", host, target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// named starts a backend that answers with its name and the request URI.
func named(t *testing.T, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", name, r.URL.RequestURI())
	}))
	t.Cleanup(s.Close)
	return s
}

func addrOf(s *httptest.Server) (string, int) {
	a := s.Listener.Addr().(*net.TCPAddr)
	return a.IP.String(), a.Port
}

func instanceJSON(s *httptest.Server) string {
	host, port := addrOf(s)
	return fmt.Sprintf(`{"address":%q,"port":%d}`, host, port)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %s waiting for %s", within, what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func decode(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}
