package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/webrouter/webrouter/internal/testbed"
)

// Webrouter is webrouter on its embedded registry, driven through its
// admin API. It runs from a copy of the binary in its own directory, so a
// binary upgrade (SIGHUP) re-executes that copy.
type Webrouter struct {
	r       *testbed.Router
	serving proc         // the process serving now
	api     *http.Client // no keep-alive: each call reaches the process serving now
}

// StartWebrouter copies bin into a fresh directory under dir, starts it
// there with env (nil: this process's) and extra flags, and returns once
// it listens.
func StartWebrouter(bin, dir string, env []string, extra ...string) (*Webrouter, error) {
	home, err := os.MkdirTemp(dir, "webrouter-")
	if err != nil {
		return nil, err
	}
	cp := filepath.Join(home, "webrouter")
	if err := copyFile(bin, cp); err != nil {
		return nil, fmt.Errorf("copy webrouter: %w", err)
	}
	r, err := testbed.Start(cp, filepath.Join(home, "data"), env, extra...)
	if err != nil {
		return nil, err
	}
	first, ok := findProc(r.Cmd.Process.Pid)
	if !ok {
		return nil, fmt.Errorf("webrouter exited at once:\n%s", r.Stderr.String())
	}
	w := &Webrouter{r: r, serving: first,
		api: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}}
	return w, nil
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// Name is "webrouter".
func (w *Webrouter) Name() string { return "webrouter" }

// Addr is the HTTP entry point; it stays the same across upgrades.
func (w *Webrouter) Addr() string { return w.r.HTTP }

// call sends one admin API request and fails unless the answer is 2xx.
func (w *Webrouter) call(ctx context.Context, method, path string, body any) ([]byte, error) {
	var text string
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		text = string(b)
	}
	code, b, err := w.r.API(ctx, w.api, "", method, path, text)
	if err != nil {
		return nil, err
	}
	if code/100 != 2 {
		return nil, fmt.Errorf("%s %s: %d %s", method, path, code, strings.TrimSpace(string(b)))
	}
	return b, nil
}

// PutService writes the service; health check settings go in only when
// set.
func (w *Webrouter) PutService(ctx context.Context, name string, s Service) error {
	body := map[string]any{"mountpoints": s.Hosts}
	if s.Healthcheck != "" {
		body["healthcheck"] = s.Healthcheck
	}
	if s.HealthInterval > 0 {
		body["health_interval"] = s.HealthInterval.String()
		// A probe's timeout may not exceed the interval (default 1s).
		body["health_timeout"] = min(s.HealthInterval, time.Second).String()
	}
	_, err := w.call(ctx, "PUT", "/v1/services/"+name, body)
	return err
}

// DeleteService deletes the service and its instances.
func (w *Webrouter) DeleteService(ctx context.Context, name string) error {
	_, err := w.call(ctx, "DELETE", "/v1/services/"+name, nil)
	return err
}

func instancePath(service, id string) string { return "/v1/services/" + service + "/instances/" + id }

// PutInstance writes the instance; it is routable when the call returns.
func (w *Webrouter) PutInstance(ctx context.Context, service, id string, in Instance) error {
	_, err := w.call(ctx, "PUT", instancePath(service, id),
		map[string]any{"address": "127.0.0.1", "port": in.Port, "weight": in.Weight})
	return err
}

// DeleteInstance deletes the instance (webrouter drains what is under way
// on it).
func (w *Webrouter) DeleteInstance(ctx context.Context, service, id string) error {
	_, err := w.call(ctx, "DELETE", instancePath(service, id), nil)
	return err
}

// instanceView is the part of GET …/instances/{id} a deploy tool reads.
type instanceView struct {
	Health   string `json:"health"`
	InFlight int64  `json:"in_flight"`
}

func (w *Webrouter) instance(ctx context.Context, service, id string) (instanceView, error) {
	var v instanceView
	b, err := w.call(ctx, "GET", instancePath(service, id), nil)
	if err == nil {
		err = json.Unmarshal(b, &v)
	}
	return v, err
}

// AddHealthy writes the instance and waits until webrouter's own health
// check reports it "up": the service must have a healthcheck, so that the
// instance gets no traffic before.
func (w *Webrouter) AddHealthy(ctx context.Context, service, id string, in Instance, _ string) error {
	if err := w.PutInstance(ctx, service, id, in); err != nil {
		return err
	}
	var last instanceView
	err := poll(ctx, 60*time.Second, 20*time.Millisecond, fmt.Sprintf("instance %s/%s to be up", service, id), func() (bool, error) {
		v, err := w.instance(ctx, service, id)
		last = v
		return err == nil && v.Health == "up", err
	})
	if err != nil {
		return fmt.Errorf("%w (health %q)", err, last.Health)
	}
	return nil
}

// Drain sets the instance draining, waits until webrouter holds no
// request or WebSocket on it, and deletes it.
func (w *Webrouter) Drain(ctx context.Context, service, id string) error {
	if _, err := w.call(ctx, "PUT", instancePath(service, id)+"/state", map[string]string{"state": "draining"}); err != nil {
		return err
	}
	var last instanceView
	err := poll(ctx, 120*time.Second, 20*time.Millisecond, fmt.Sprintf("instance %s/%s to drain", service, id), func() (bool, error) {
		v, err := w.instance(ctx, service, id)
		last = v
		return err == nil && v.InFlight == 0, err
	})
	if err != nil {
		return fmt.Errorf("%w (%d in flight)", err, last.InFlight)
	}
	return w.DeleteInstance(ctx, service, id)
}

// Sync returns at once: a write is routable when its call returns.
func (w *Webrouter) Sync(context.Context) error { return nil }

// servingProc asks the admin API which process serves it.
func (w *Webrouter) servingProc(ctx context.Context) (proc, error) {
	b, err := w.call(ctx, "GET", "/v1/status", nil)
	if err != nil {
		return proc{}, err
	}
	var st struct {
		Pid int `json:"pid"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return proc{}, err
	}
	if st.Pid == 0 {
		return proc{}, fmt.Errorf("GET /v1/status has no pid: this webrouter cannot upgrade its binary")
	}
	p, ok := findProc(st.Pid)
	if !ok {
		return proc{}, fmt.Errorf("webrouter %d, named by GET /v1/status, has exited", st.Pid)
	}
	return p, nil
}

// Upgrade sends SIGHUP to the serving process, waits until a new process
// serves the admin API, then until the old one has exited (after its
// requests and WebSockets finished).
func (w *Webrouter) Upgrade(ctx context.Context) error {
	old, err := w.servingProc(ctx)
	if err != nil {
		return err
	}
	if err := old.signal(syscall.SIGHUP); err != nil {
		return fmt.Errorf("SIGHUP to webrouter %d: %w", old.pid, err)
	}
	if err := poll(ctx, 30*time.Second, 20*time.Millisecond, "a new webrouter process to serve", func() (bool, error) {
		p, err := w.servingProc(ctx)
		if err == nil && p != old {
			w.serving = p
		}
		return w.serving != old, err
	}); err != nil {
		return fmt.Errorf("%w\n%s", err, w.Log())
	}
	return old.waitExit(ctx, 120*time.Second)
}

// Close stops the serving process (SIGTERM, graceful) and waits for it.
func (w *Webrouter) Close() error {
	if w.serving.pid == w.r.Cmd.Process.Pid {
		_, err := w.r.Stop(30 * time.Second)
		return err
	}
	err := w.serving.stop(syscall.SIGTERM, 30*time.Second)
	select { // the first process's output pipes close with the last process
	case <-w.r.Done():
	case <-time.After(10 * time.Second):
		if err == nil {
			err = fmt.Errorf("webrouter %d: output still open 10s after the exit", w.serving.pid)
		}
	}
	return err
}

// Log is the process log (JSON lines), of every process after upgrades.
func (w *Webrouter) Log() string { return w.r.Stderr.String() }
