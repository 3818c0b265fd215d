package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// needCap makes a CPU cap or, where the machine has no writable cgroup
// cpu controller (not root, or a container's read-only cgroup mount),
// skips saying why: -proxy-cpu is an option of the benchmark, which fails
// with the same reason there, not something the router needs.
func needCap(t *testing.T, cores float64) *cpuCap {
	t.Helper()
	c, err := newCPUCap(cores, "webrouter-perf-test-"+strings.ReplaceAll(t.Name(), "/", "-"))
	if err != nil {
		t.Skip("SKIPPED, no CPU cap on this machine: ", err)
	}
	return c
}

// TestCPUCap runs a busy loop in a cap of a quarter core for a second:
// it gets no more than its quarter, the cgroup reports the periods it was
// throttled in, and the cgroup is gone after close.
func TestCPUCap(t *testing.T) {
	c := needCap(t, 0.25)
	defer c.close()
	t0, err := c.throttling()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", c.join()+"\nexec timeout 1 sh -c 'while :; do :; done'")
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 124 { // timeout's status when it stopped the loop
		t.Fatalf("busy loop: %v, want it stopped by timeout", err)
	}
	used := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	t1, err := c.throttling()
	if err != nil {
		t.Fatal(err)
	}
	if used > 350*time.Millisecond || used < 100*time.Millisecond {
		t.Errorf("busy loop used %s of CPU in 1 s capped at a quarter core, want about 250ms", used)
	}
	if t1.throttled-t0.throttled < 10 || t1.periods <= t0.periods {
		t.Errorf("throttling %+v → %+v: want the busy loop throttled in most of its periods", t0, t1)
	}
	if err := c.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.dir); !os.IsNotExist(err) {
		t.Errorf("cgroup %s still there after close: %v", c.dir, err)
	}
}

// TestCPUCapLeftOver: a cgroup of the same name that a killed run left
// behind, empty, does not stop a new cap.
func TestCPUCapLeftOver(t *testing.T) {
	c := needCap(t, 0.5)
	if _, err := os.Stat(c.dir); err != nil {
		t.Fatal(err)
	}
	again, err := newCPUCap(0.5, filepath.Base(c.dir)) // c not closed: left over
	if err != nil {
		c.close()
		t.Fatalf("a left-over empty cgroup stopped a new cap: %v", err)
	}
	if err := again.close(); err != nil {
		t.Fatal(err)
	}
}

// TestCPUCapBadCores: a cap of nothing or under the kernel's least quota
// is refused, naming the flag.
func TestCPUCapBadCores(t *testing.T) {
	for _, cores := range []float64{-1, 0.05} {
		if c, err := newCPUCap(cores, "webrouter-perf-never"); err == nil || !strings.Contains(err.Error(), "-proxy-cpu") {
			if c != nil {
				c.close()
			}
			t.Errorf("newCPUCap(%g): %v, want an error naming -proxy-cpu", cores, err)
		}
	}
}

// TestCappedRun runs the small case against webrouter and nginx under a
// half-core cap: each proxy's whole process tree (nginx's workers too)
// stays within it and is throttled, so the cap, not the load side, bounds
// the run.
func TestCappedRun(t *testing.T) {
	for _, b := range []string{"wrk", "taskset", "nginx"} {
		if tool(b) == "" {
			if os.Getenv("CI") == "true" {
				t.Fatalf("missing %s: run scripts/setup-bench", b)
			}
			t.Skipf("missing %s: run scripts/setup-bench", b)
		}
	}
	needCap(t, 0.5).close()
	cases, _, err := selectCases("small")
	if err != nil {
		t.Fatal(err)
	}
	o := options{cases: cases, proxies: []string{"webrouter", "nginx"}, rounds: 1, duration: 2 * time.Second,
		pin: true, proxyCPU: 0.5, services: 100, perService: 5, hosts: 50, log: io.Discard, backend: "h1"}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range o.proxies {
		s := rep.samples["small"][p][0]
		if s.err != "" || s.wrk.Requests == 0 {
			t.Fatalf("%s: %s (%d requests)", p, s.err, s.wrk.Requests)
		}
		if got := s.cores(s.cpu); got > 0.5*1.1 || got < 0.25 {
			t.Errorf("%s used %.2f cores under a 0.5 cap, want up to 0.5 (and busy)", p, got)
		}
		if s.throttled <= 0 {
			t.Errorf("%s: throttled in %.2f of the periods, want the cap reached", p, s.throttled)
		}
	}
	if md := rep.markdown(); !strings.Contains(md, "capped at 0.5 core") || !strings.Contains(md, "proxy cores of 0.5 (throttled)") {
		t.Errorf("report does not say the proxies were capped:\n%s", md)
	}
}
