package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
)

// fakeAPI mimics webrouter's admin API for the CLI tests: it answers each
// "METHOD /escaped/path" with a canned status and body and records every
// request. It holds no registry; the real admin server is tested end-to-end
// elsewhere.
type fakeAPI struct {
	mu      sync.Mutex
	answers map[string]answer
	got     []request
}

// answer is a canned response.
type answer struct {
	status int
	body   string
}

// request is what the fake saw.
type request struct {
	method, path, auth, body string
}

// startAPI serves answers and returns the fake and its address (host:port).
func startAPI(t *testing.T, answers map[string]answer) (*fakeAPI, string) {
	t.Helper()
	f := &fakeAPI{answers: answers}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, strings.TrimPrefix(srv.URL, "http://")
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	key := r.Method + " " + r.URL.EscapedPath()
	f.mu.Lock()
	f.got = append(f.got, request{r.Method, r.URL.EscapedPath(), r.Header.Get("Authorization"), string(body)})
	a, ok := f.answers[key]
	f.mu.Unlock()
	if !ok {
		a = answer{http.StatusNotFound, `{"error":"fake admin API: no answer for ` + key + `"}`}
	}
	if a.status == 0 {
		a.status = http.StatusOK
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

// requests returns a copy of the requests seen so far.
func (f *fakeAPI) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.got...)
}

// only returns the single request the fake saw, failing otherwise.
func (f *fakeAPI) only(t *testing.T) request {
	t.Helper()
	got := f.requests()
	if len(got) != 1 {
		t.Fatalf("admin API saw %d requests, want 1: %+v", len(got), got)
	}
	return got[0]
}

// result is the outcome of one in-process command line.
type result struct {
	code           int
	stdout, stderr string
}

// cli runs args through New, as Main would, against the real serve.
func cli(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := execute(context.Background(), New("v1.2.3", &out, &errb), args)
	return result{code, out.String(), errb.String()}
}

// cliServe runs args with serve replaced by fake.
func cliServe(t *testing.T, fake serveFunc, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRoot(&app{version: "v1.2.3", stdout: &out, stderr: &errb, serve: fake})
	code := execute(context.Background(), root, args)
	return result{code, out.String(), errb.String()}
}

// clearEnv blanks every WEBROUTER_ variable of the test process for the
// duration of the test (blank counts as unset), so the tests do not depend
// on the environment they run in.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, envPrefix) {
			t.Setenv(name, "")
		}
	}
}

// setEnv sets each "NAME=value" for the duration of the test.
func setEnv(t *testing.T, env []string) {
	t.Helper()
	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		t.Setenv(name, value)
	}
}

// canonJSON re-encodes a JSON text with sorted keys and no spaces, so that
// two documents compare as strings.
func canonJSON(t *testing.T, text string) string {
	t.Helper()
	if text == "" {
		return ""
	}
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, text)
	}
	out, _ := json.Marshal(v)
	return string(out)
}
