// Package testbed builds and runs the real webrouter binary for end-to-end
// tests and benchmarks: a process on loopback ports whose addresses are read
// from its own "listening" log lines, and simple named HTTP backends.
package testbed

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
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
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Build compiles cmd/webrouter from the module rooted at root into dir and
// returns the binary's path. race adds the race detector.
func Build(root, dir string, race bool) (string, error) {
	bin := filepath.Join(dir, "webrouter")
	args := []string{"build", "-o", bin}
	if race {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "./cmd/webrouter")...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build webrouter: %w\n%s", err, out.String())
	}
	return bin, nil
}

// BinaryOr returns bin when it is set, and otherwise builds cmd/webrouter
// from the module the working directory is in into dir (no race
// detector): for tools that take a -webrouter binary or build their own.
func BinaryOr(bin, dir string) (string, error) {
	if bin != "" {
		return bin, nil
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	return Build(root, dir, false)
}

// ModuleRoot finds the directory holding go.mod, starting at the working
// directory and going up.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Buffer collects a process's output; safe for concurrent use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Lines returns the JSON log lines whose "msg" is msg.
func (l *Buffer) Lines(msg string) []map[string]any { return jsonLines(l.String(), msg) }

// LogFile is a process's output, written to a file so that a process
// started by a binary upgrade, which inherits it, writes to the same place.
type LogFile struct{ path string }

// String returns everything written so far.
func (l *LogFile) String() string {
	b, _ := os.ReadFile(l.path)
	return string(b)
}

// Lines returns the JSON log lines whose "msg" is msg.
func (l *LogFile) Lines(msg string) []map[string]any { return jsonLines(l.String(), msg) }

func jsonLines(text, msg string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// Router is one running webrouter process.
type Router struct {
	Cmd    *exec.Cmd
	HTTP   string   // entry point address
	HTTPS  string   // HTTPS entry point address, when started with --https
	Admin  string   // admin API address
	Stderr *LogFile // the process log (JSON)
	Stdout *LogFile // the access log

	done     chan struct{}
	exitCode int
}

// Start runs `bin serve` on fresh loopback ports with data as its registry
// directory and extra flags, and returns once it listens. Its output goes
// to files beside data. env, if not nil, replaces the process environment.
func Start(bin, data string, env []string, extra ...string) (*Router, error) {
	args := append([]string{"serve", "--http", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--data", data,
		"--log-format", "json"}, extra...)
	r := &Router{done: make(chan struct{})}
	r.Cmd = exec.Command(bin, args...)
	r.Cmd.Env = env
	var files []*os.File
	for _, dst := range []**LogFile{&r.Stderr, &r.Stdout} {
		f, err := os.CreateTemp(filepath.Dir(filepath.Clean(data)), "webrouter-*.log")
		if err != nil {
			return nil, err
		}
		defer f.Close() // the process has its own copy
		files = append(files, f)
		*dst = &LogFile{path: f.Name()}
	}
	r.Cmd.Stderr, r.Cmd.Stdout = files[0], files[1]
	if err := r.Cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		r.Cmd.Wait()
		r.exitCode = r.Cmd.ProcessState.ExitCode()
		close(r.done)
	}()
	deadline := time.After(20 * time.Second)
	wantHTTPS := false
	for _, a := range extra {
		wantHTTPS = wantHTTPS || a == "--https" || strings.HasPrefix(a, "--https=")
	}
	for r.HTTP == "" || r.Admin == "" || wantHTTPS && r.HTTPS == "" {
		select {
		case <-r.done:
			return nil, fmt.Errorf("webrouter exited with %d before listening:\n%s", r.exitCode, r.Stderr.String())
		case <-deadline:
			r.Kill()
			return nil, fmt.Errorf("webrouter did not listen within 20s:\n%s", r.Stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		for _, l := range r.Stderr.Lines("listening") {
			addr, _ := l["addr"].(string)
			switch l["entrypoint"] {
			case "http":
				r.HTTP = addr
			case "admin":
				r.Admin = addr
			case "https":
				r.HTTPS = addr
			}
		}
	}
	return r, nil
}

// Done is closed when the process has exited.
func (r *Router) Done() <-chan struct{} { return r.done }

// ExitCode is the process's exit code once Done is closed.
func (r *Router) ExitCode() int { return r.exitCode }

// Stop sends SIGTERM and waits up to timeout for the exit, then kills. It
// returns the exit code.
func (r *Router) Stop(timeout time.Duration) (int, error) {
	r.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
		return r.exitCode, nil
	case <-time.After(timeout):
		r.Kill()
		return r.exitCode, fmt.Errorf("webrouter did not exit within %s of SIGTERM", timeout)
	}
}

// Kill ends the process at once and waits for it.
func (r *Router) Kill() {
	r.Cmd.Process.Kill()
	<-r.done
}

// API calls the admin API with an optional bearer token and returns the
// status and body.
func (r *Router) API(ctx context.Context, c *http.Client, token, method, path, body string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://"+r.Admin+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// ServeTCP listens on a loopback port until the test ends and serves its
// connections with Accept. It returns the listener's address.
func ServeTCP(t testing.TB, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go Accept(ln, serve)
	return ln.Addr().String()
}

// TCPPair returns the two ends of a loopback TCP connection, both closed
// when the test ends.
func TCPPair(t testing.TB) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		acc <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-acc
	if server == nil {
		client.Close()
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// Accept runs serve on each connection ln accepts, in a goroutine of its
// own, and closes the connection when serve returns; it returns when ln
// fails (is closed).
func Accept(ln net.Listener, serve func(net.Conn)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			serve(c)
		}()
	}
}

// H2CEcho starts, until the test ends, a gRPC-shaped backend on cleartext
// HTTP/2 (h2c): it sends each piece of the request body back upper-cased
// as it comes, flushing, then the trailers Grpc-Status: 0 and
// Grpc-Message: done. A request over HTTP/1.1 gets 400.
func H2CEcho(t testing.TB) *httptest.Server {
	be := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.ProtoMajor != 2 {
			http.Error(w, "want h2c, got "+req.Proto, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Trailer", "Grpc-Status, Grpc-Message")
		buf := make([]byte, 64)
		for {
			n, err := req.Body.Read(buf)
			if n > 0 {
				w.Write(bytes.ToUpper(buf[:n]))
				w.(http.Flusher).Flush()
			}
			if err != nil {
				break
			}
		}
		w.Header().Set("Grpc-Status", "0")
		w.Header().Set("Grpc-Message", "done")
	}))
	be.Config.Protocols = new(http.Protocols)
	be.Config.Protocols.SetHTTP1(true)
	be.Config.Protocols.SetUnencryptedHTTP2(true)
	be.Start()
	t.Cleanup(be.Close)
	return be
}

// CountingServer starts h as an HTTP server until the test ends and counts
// the connections it accepts (to tell reused connections from new ones).
func CountingServer(t testing.TB, h http.Handler) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	s := httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s, &conns
}

// HeadEnd returns where the last line end before a message head's empty
// line starts in data ("\n\r\n" or "\n\n"), or -1 when data holds no
// complete head: a test's own reading, independent of the parsers it
// checks.
func HeadEnd(data []byte) int {
	end := bytes.Index(data, []byte("\n\r\n"))
	if e := bytes.Index(data, []byte("\n\n")); e >= 0 && (end < 0 || e < end) {
		end = e
	}
	return end
}

// Folded reports whether the complete head at the start of data has a
// field folded over lines (obs-fold): a line after the first that starts
// with a space or a tab.
func Folded(data []byte) bool {
	end := HeadEnd(data)
	if end < 0 {
		return false
	}
	for _, line := range bytes.Split(data[:end], []byte("\n"))[1:] {
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			return true
		}
	}
	return false
}
