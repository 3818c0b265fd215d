package e2e

// Helpers for the Docker agent scenarios (agent_test.go): the real Docker
// engine driven with the docker CLI, a demo image built FROM scratch from
// the project's own code, and `webrouter agent` processes.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/api"
	"github.com/webrouter/webrouter/internal/testbed"
)

// dockerBed is the Docker side of the agent tests: one image and the
// containers made from it, all labelled with the run's id and removed at
// the end, with the image.
type dockerBed struct {
	t     *testing.T
	run   string // random id of this test run; in every name and label
	image string
}

// newDockerBed checks that the engine answers (skipping the test without
// one, failing it under CI=true) and builds the demo image: cmd/demoapp,
// static, FROM scratch (nothing is pulled). Its
// HEALTHCHECK asks demoapp's /healthz every 500ms; containers run without
// it unless a test asks for it.
func newDockerBed(t *testing.T) *dockerBed {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.APIVersion}}").CombinedOutput(); err != nil {
		msg := fmt.Sprintf("no Docker engine (the agent tests need one; `docker version`: %v: %s)", err, bytes.TrimSpace(out))
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	d := &dockerBed{t: t, run: randomID()}
	d.image = "wr-agent-test-demoapp:" + d.run
	t.Cleanup(d.cleanup)

	root, err := testbed.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, pkg := range []string{"./cmd/demoapp"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, filepath.Base(pkg)), pkg)
		cmd.Dir, cmd.Env = root, append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, out)
		}
	}
	dockerfile := `FROM scratch
COPY demoapp /
EXPOSE 8080
HEALTHCHECK --interval=500ms --timeout=2s --retries=2 CMD ["/demoapp", "-check", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/demoapp", "-listen", ":8080", "-lame-duck", "1s"]
`
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	d.docker("build", "-q", "--label", "wr-agent-test.run="+d.run, "-t", d.image, dir)
	return d
}

// randomID returns 8 random hex digits.
func randomID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// cleanup removes every container of the run, then the image.
func (d *dockerBed) cleanup() {
	ids := strings.Fields(d.try("ps", "-aq", "--filter", "label=wr-agent-test.run="+d.run))
	if len(ids) > 0 {
		d.try(append([]string{"rm", "-f"}, ids...)...)
	}
	d.try("rmi", "-f", d.image)
}

// docker runs the docker CLI and returns its output, failing the test on
// an error.
func (d *dockerBed) docker(args ...string) string {
	d.t.Helper()
	out, err := d.exec(args...)
	if err != nil {
		d.t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// try is docker without failing.
func (d *dockerBed) try(args ...string) string {
	out, _ := d.exec(args...)
	return out
}

func (d *dockerBed) exec(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// box is one container of the demo image.
type box struct {
	ID, Name string
}

// Short is the id the agent puts in instance ids.
func (b box) Short() string { return b.ID[:12] }

// boxSpec describes a container to run: labels, environment variables,
// demoapp's arguments, and whether the image's health check runs.
type boxSpec struct {
	labels map[string]string
	env    []string
	args   []string // demoapp flags, e.g. -name web-1
	health bool     // run the image's health check (else --no-healthcheck)
}

// startBox runs a container of the demo image, detached, publishing 8080
// on a random port of 127.0.0.1. It is removed when the test ends.
func (d *dockerBed) startBox(t *testing.T, name string, spec boxSpec) box {
	t.Helper()
	full := fmt.Sprintf("wr-agent-test-%s-%s", d.run, name)
	args := []string{"run", "-d", "--name", full, "--label", "wr-agent-test.run=" + d.run, "-p", "127.0.0.1::8080"}
	keys := make([]string, 0, len(spec.labels))
	for k := range spec.labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--label", k+"="+spec.labels[k])
	}
	for _, e := range spec.env {
		args = append(args, "-e", e)
	}
	if !spec.health {
		args = append(args, "--no-healthcheck")
	}
	args = append(append(args, d.image), spec.args...)
	id := d.docker(args...)
	if len(id) < 12 {
		t.Fatalf("docker run printed %q, not a container id", id)
	}
	t.Cleanup(func() { d.try("rm", "-f", id) })
	return box{ID: id, Name: full}
}

// health is the container's health check status.
func (d *dockerBed) health(b box) string {
	d.t.Helper()
	return d.docker("inspect", "-f", "{{.State.Health.Status}}", b.ID)
}

// setHealth writes "up" or "down" to the container's /health, which its
// health check obeys.
func (d *dockerBed) setHealth(t *testing.T, b box, state string) {
	t.Helper()
	addr := strings.TrimSpace(strings.Split(d.docker("port", b.ID, "8080/tcp"), "\n")[0])
	req, _ := http.NewRequest(http.MethodPut, "http://"+addr+"/healthz", strings.NewReader(state))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("set the health of %s to %s: %v", b.Name, state, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("set the health of %s to %s: %s", b.Name, state, resp.Status)
	}
}

// agentProc is one `webrouter agent` process.
type agentProc struct {
	cmd  *exec.Cmd
	log  *testbed.Buffer
	done chan struct{}
}

// startAgent runs `webrouter agent` for router r with host id hostID,
// --host-ip 127.0.0.1, JSON logs and extra flags; the router's admin token,
// if any, goes in WEBROUTER_ADMIN_TOKEN. It is killed at the end of the
// test if still running, and its log shown if the test failed.
func startAgent(t *testing.T, r *router, hostID string, extra ...string) *agentProc {
	t.Helper()
	args := append([]string{"agent", "--registry", "http://" + r.admin, "--host-id", hostID, "--host-ip", "127.0.0.1",
		"--log-format", "json", "--log-level", "debug"}, extra...)
	a := &agentProc{cmd: exec.Command(binary, args...), log: &testbed.Buffer{}, done: make(chan struct{})}
	a.cmd.Env = cleanEnv()
	if r.token != "" {
		a.cmd.Env = append(a.cmd.Env, "WEBROUTER_ADMIN_TOKEN="+r.token)
	}
	a.cmd.Stdout, a.cmd.Stderr = a.log, a.log
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		a.cmd.Wait()
		close(a.done)
	}()
	t.Cleanup(func() {
		a.kill()
		if t.Failed() {
			t.Logf("agent %s log:\n%s", hostID, a.log.String())
		}
	})
	return a
}

// kill ends the agent with SIGKILL and waits for it.
func (a *agentProc) kill() {
	select {
	case <-a.done:
	default:
		a.cmd.Process.Kill()
		<-a.done
	}
}

// running reports whether the process is still alive.
func (a *agentProc) running() bool {
	select {
	case <-a.done:
		return false
	default:
		return true
	}
}

// instances returns service's instances as "id state" lines, sorted;
// none when the service does not exist.
func (r *router) instances(service string) string {
	r.t.Helper()
	code, b := r.api("GET", "/v1/services/"+url.PathEscape(service), "")
	if code == 404 {
		return ""
	}
	if code != 200 {
		r.t.Fatalf("GET service %s: %d %s", service, code, b)
	}
	var s api.Service
	decode(r.t, b, &s)
	var out []string
	for _, in := range s.Instances {
		out = append(out, in.ID+" "+string(in.State))
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// awaitInstances polls until service's instances are want (lines "id
// state", sorted by id).
func (r *router) awaitInstances(within time.Duration, what, service string, want ...string) {
	r.t.Helper()
	want = append([]string(nil), want...)
	sort.Strings(want)
	w := strings.Join(want, "\n")
	var got string
	deadline := time.Now().Add(within)
	for {
		if got = r.instances(service); got == w {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: after %s service %s has instances\n%s\nwant\n%s", what, within, service, got, w)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
