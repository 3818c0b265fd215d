package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// capPeriod is the CPU cap's accounting period. The cap is enforced per
// period: a proxy that has used its quota waits for the next one. 10 ms
// keeps that wait short beside the cases' latencies; Kubernetes' default
// is 100 ms.
const capPeriod = 10 * time.Millisecond

// cpuCap is a CPU bandwidth limit, a cgroup of its own that every proxy
// under test runs in (-proxy-cpu): what a container's CPU limit is. A
// proxy at its cap is the busy stage of the run, not the load side, so
// requests per second measure the proxy.
//
// The cgroup is made by newCPUCap and removed by close, once no process is
// left in it. A proxy joins it through the shell fragment join returns,
// run before it execs, so that the processes it forks (nginx's workers)
// are in it from their start.
type cpuCap struct {
	cores float64
	dir   string
	v2    bool
}

// cgroup mounts tried for the cpu controller: v1's, then v2's.
const (
	cgroupV1CPU = "/sys/fs/cgroup/cpu"
	cgroupV2    = "/sys/fs/cgroup"
)

// newCPUCap makes a cgroup named name limited to cores CPUs. It needs a
// writable cpu controller: v1 (cgroupV1CPU) or v2 (cgroupV2, where it
// turns the controller on for the root's children); the error says which
// was tried and why it failed.
func newCPUCap(cores float64, name string) (*cpuCap, error) {
	if cores <= 0 {
		return nil, fmt.Errorf("-proxy-cpu %g: want a number of cores above 0", cores)
	}
	quota := time.Duration(cores * float64(capPeriod))
	if quota < time.Millisecond {
		return nil, fmt.Errorf("-proxy-cpu %g: a quota of %s every %s is under the kernel's least, 1ms", cores, quota, capPeriod)
	}
	period, q := strconv.FormatInt(capPeriod.Microseconds(), 10), strconv.FormatInt(quota.Microseconds(), 10)
	var errs []error
	if _, err := os.Stat(filepath.Join(cgroupV1CPU, "cpu.cfs_quota_us")); err == nil {
		c := &cpuCap{cores: cores, dir: filepath.Join(cgroupV1CPU, name)}
		err := c.make(map[string]string{"cpu.cfs_period_us": period, "cpu.cfs_quota_us": q})
		if err == nil {
			return c, nil
		}
		errs = append(errs, fmt.Errorf("cgroup v1 at %s: %w", cgroupV1CPU, err))
	}
	if ctl, err := os.ReadFile(filepath.Join(cgroupV2, "cgroup.controllers")); err == nil {
		if !contains(strings.Fields(string(ctl)), "cpu") {
			errs = append(errs, fmt.Errorf("cgroup v2 at %s: no cpu controller (has %q)", cgroupV2, strings.TrimSpace(string(ctl))))
		} else if err := os.WriteFile(filepath.Join(cgroupV2, "cgroup.subtree_control"), []byte("+cpu"), 0); err != nil {
			errs = append(errs, fmt.Errorf("cgroup v2 at %s: turn on cpu for its children: %w", cgroupV2, err))
		} else {
			c := &cpuCap{cores: cores, dir: filepath.Join(cgroupV2, name), v2: true}
			err := c.make(map[string]string{"cpu.max": q + " " + period})
			if err == nil {
				return c, nil
			}
			errs = append(errs, fmt.Errorf("cgroup v2 at %s: %w", cgroupV2, err))
		}
	}
	if len(errs) == 0 {
		errs = append(errs, fmt.Errorf("no cgroup cpu controller at %s or %s", cgroupV1CPU, cgroupV2))
	}
	return nil, fmt.Errorf("-proxy-cpu needs a writable cgroup cpu controller (run as root): %w", errors.Join(errs...))
}

// make creates the cgroup and writes its settings; on failure nothing is
// left behind. A cgroup of the same name left by a run that was killed is
// removed first, if no process is left in it.
func (c *cpuCap) make(settings map[string]string) error {
	err := os.Mkdir(c.dir, 0o755)
	if errors.Is(err, os.ErrExist) && os.Remove(c.dir) == nil {
		err = os.Mkdir(c.dir, 0o755)
	}
	if err != nil {
		return err
	}
	for f, v := range settings {
		if err := os.WriteFile(filepath.Join(c.dir, f), []byte(v), 0); err != nil {
			os.Remove(c.dir)
			return fmt.Errorf("%s = %s: %w", f, v, err)
		}
	}
	return nil
}

// join is a shell command that moves the shell running it into the
// cgroup, failing the script if it cannot.
func (c *cpuCap) join() string {
	return fmt.Sprintf("echo $$ > %s || exit 1", filepath.Join(c.dir, "cgroup.procs"))
}

// describe says what the cap is, for the report.
func (c *cpuCap) describe() string {
	knob := "v1 cpu.cfs_quota_us"
	if c.v2 {
		knob = "v2 cpu.max"
	}
	return fmt.Sprintf("%g core(s): a cgroup's CPU bandwidth limit (%s), quota %s every %s",
		c.cores, knob, time.Duration(c.cores*float64(capPeriod)), capPeriod)
}

// throttling is the cgroup's count of accounting periods and of those in
// which it ran out of quota, from its cpu.stat.
type throttling struct{ periods, throttled int64 }

func (c *cpuCap) throttling() (throttling, error) {
	b, err := os.ReadFile(filepath.Join(c.dir, "cpu.stat"))
	if err != nil {
		return throttling{}, err
	}
	var t throttling
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "nr_periods":
			t.periods = n
		case "nr_throttled":
			t.throttled = n
		}
	}
	return t, nil
}

// close removes the cgroup. Its processes must have exited.
func (c *cpuCap) close() error {
	var err error
	for i := 0; i < 50; i++ { // an exited process leaves the cgroup a moment after its parent reaps it
		if err = os.Remove(c.dir); err == nil || os.IsNotExist(err) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("remove cgroup %s: %w", c.dir, err)
}
