// Package e2e tests the real webrouter binary: built once per run, started
// as a process on loopback ports, driven through its admin API, CLI and
// HTTP entry point, in front of real HTTP backends.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/webrouter/webrouter/internal/testbed"
)

// binary is the webrouter built for this test run (with the race detector).
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "webrouter-e2e-")
	if err == nil {
		var root string
		if root, err = testbed.ModuleRoot(); err == nil {
			binary, err = testbed.Build(root, dir, true)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// router is one running webrouter process under a test.
type router struct {
	*testbed.Router
	t         *testing.T
	http      string // entry point address
	admin     string // admin API address
	token     string
	stderr    *testbed.LogFile
	stdout    *testbed.LogFile // the access log
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
	return launchBin(t, binary, data, extra...)
}

// launchBin is launch with another binary (e.g. a copy an upgrade test can
// replace).
func launchBin(t *testing.T, bin, data string, extra ...string) (*router, error) {
	tr, err := testbed.Start(bin, data, cleanEnv(), append([]string{"--shutdown-grace", "5s"}, extra...)...)
	if err != nil {
		return nil, err
	}
	r := &router{Router: tr, t: t, http: tr.HTTP, admin: tr.Admin, stderr: tr.Stderr, stdout: tr.Stdout,
		apiClient: &http.Client{Timeout: 10 * time.Second}}
	t.Cleanup(func() {
		if !r.stopped {
			r.Kill()
		}
		if t.Failed() {
			t.Logf("webrouter log:\n%s", r.stderr.String())
		}
	})
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
	code, err := r.Stop(20 * time.Second)
	r.stopped = true
	if err != nil {
		r.t.Fatal(err)
	}
	return code
}

// api calls the admin API and returns the status and body.
func (r *router) api(method, path, body string) (int, []byte) {
	r.t.Helper()
	r.Router.Admin = r.admin
	code, b, err := r.API(context.Background(), r.apiClient, r.token, method, path, body)
	if err != nil {
		r.t.Fatal(err)
	}
	return code, b
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

// wsEchoBackend starts a WebSocket echo server.
func wsEchoBackend(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, msg); err != nil {
				return
			}
		}
	}))
	t.Cleanup(s.Close)
	return s
}
