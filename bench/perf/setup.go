package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/webrouter/webrouter/internal/testbed"
)

// harness is the shared state of one benchmark run: binaries, the backend
// process, CPU placement and webrouter's preloaded registries.
type harness struct {
	opts       options
	root       string // module root
	tmp        string // on tmpfs when the machine has /dev/shm
	webrouter  string // binary, built with CGO_ENABLED=0
	wrLauncher string // the binary, or a script running it under taskset
	backend    *proc
	ports      []int // backend ports
	pinProxy   []string
	pinLoad    []string
	workers    int    // cores the proxy may use: its worker/thread count
	pinning    string // how processes were placed, for the report
	proxyCPUs  []int  // cores the proxy is pinned to; empty when unpinned
	loadCPUs   []int  // cores wrk and the backend are pinned to
	wrData     map[string]string
	wrLoad     map[string]time.Duration // route set → time to load it through the admin API
}

// checkTools fails with the set-up command to run when a tool is missing.
func checkTools(o options) error {
	need := []string{"wrk"}
	if o.pin {
		need = append(need, "taskset")
	}
	for _, p := range o.proxies {
		if b, ok := peerBinary[p]; ok {
			need = append(need, b)
		}
	}
	var missing []string
	for _, b := range need {
		if tool(b) == "" {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s: run scripts/setup-bench (Debian packages nginx haproxy caddy wrk util-linux)",
			strings.Join(missing, ", "))
	}
	return nil
}

// tool finds an executable on PATH or, for a user whose PATH lacks them,
// in /usr/sbin and /sbin where Debian puts nginx and haproxy. It returns ""
// when there is none.
func tool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// newHarness builds the binaries, places processes on cores and starts
// the backend.
func newHarness(ctx context.Context, o options) (*harness, error) {
	if err := checkTools(o); err != nil {
		return nil, err
	}
	raiseFileLimit()
	root, err := testbed.ModuleRoot()
	if err != nil {
		return nil, err
	}
	base := ""
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		base = "/dev/shm"
	}
	tmp, err := os.MkdirTemp(base, "webrouter-perf-")
	if err != nil {
		return nil, err
	}
	h := &harness{opts: o, root: root, tmp: tmp, wrData: map[string]string{}, wrLoad: map[string]time.Duration{}}
	h.place(runtime.NumCPU())
	if h.webrouter, err = goBuild(root, tmp, "./cmd/webrouter"); err != nil {
		h.close()
		return nil, err
	}
	h.wrLauncher = h.webrouter
	if len(h.pinProxy) > 0 {
		h.wrLauncher = filepath.Join(tmp, "webrouter-pinned")
		script := fmt.Sprintf("#!/bin/sh\nexec %s %s \"$@\"\n", strings.Join(h.pinProxy, " "), h.webrouter)
		if err := os.WriteFile(h.wrLauncher, []byte(script), 0o755); err != nil {
			h.close()
			return nil, err
		}
	}
	if err := h.startBackend(ctx); err != nil {
		h.close()
		return nil, err
	}
	return h, nil
}

// place decides CPU placement. Pinned: the proxy gets the first half of
// the cores and sizes its workers to them; wrk and the backend get the
// rest, so load generation never steals the proxy's core.
func (h *harness) place(ncpu int) {
	if !h.opts.pin || ncpu < 2 {
		h.workers = ncpu
		h.pinning = fmt.Sprintf("unpinned: proxy, wrk and backend share all %d cores; proxy workers = %d", ncpu, ncpu)
		return
	}
	p := ncpu / 2
	cpus := func(a, b int) string {
		if a == b {
			return fmt.Sprint(a)
		}
		return fmt.Sprintf("%d-%d", a, b)
	}
	h.workers = p
	for i := 0; i < ncpu; i++ {
		if i < p {
			h.proxyCPUs = append(h.proxyCPUs, i)
		} else {
			h.loadCPUs = append(h.loadCPUs, i)
		}
	}
	h.pinProxy = []string{"taskset", "-c", cpus(0, p-1)}
	h.pinLoad = []string{"taskset", "-c", cpus(p, ncpu-1)}
	h.pinning = fmt.Sprintf("proxy on CPU %s (`taskset -c %[1]s`; nginx worker_processes %d, HAProxy nbthread %[2]d, "+
		"GOMAXPROCS=%[2]d for webrouter and Caddy); wrk -t1 and the backend on CPU %s (`taskset -c %[3]s`)",
		cpus(0, p-1), p, cpus(p, ncpu-1))
}

// raiseFileLimit lifts the open-file limit to its hard maximum; the
// children (proxies with 1 000 clients plus their upstream connections,
// wrk) inherit it.
func raiseFileLimit() {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}

// goBuild builds pkg of the module as shipped (CGO_ENABLED=0) into dir.
func goBuild(root, dir, pkg string) (string, error) {
	bin := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Dir, cmd.Env = root, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	}
	return bin, nil
}

// startBackend builds and starts bench/backend on the load cores with 16
// ports, and reads the ports it prints.
func (h *harness) startBackend(ctx context.Context) error {
	bin, err := goBuild(h.root, h.tmp, "./bench/backend")
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "-ports", "16")
	if len(h.pinLoad) > 0 {
		cmd = exec.Command(h.pinLoad[0], append(h.pinLoad[1:], bin, "-ports", "16")...)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	p := &proc{cmd: cmd, out: &testbed.Buffer{}, done: make(chan struct{})}
	cmd.Stderr = p.out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start backend: %w", err)
	}
	h.backend = p
	var hello struct{ Ports []int }
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err == nil {
		err = json.Unmarshal([]byte(line), &hello)
	}
	go func() { io.Copy(io.Discard, stdout); cmd.Wait(); close(p.done) }()
	if err != nil || len(hello.Ports) == 0 {
		return fmt.Errorf("backend did not report its ports (%v): %s", err, p.out.String())
	}
	h.ports = hello.Ports
	return nil
}

// close stops the backend and removes the temporary directory.
func (h *harness) close() {
	if h.backend != nil {
		h.backend.stop()
	}
	os.RemoveAll(h.tmp)
}

// loadWebrouter writes rs into a fresh embedded registry through the
// admin API (concurrent requests; the store is on tmpfs so its per-write
// fsync is cheap) and keeps the directory: every webrouter run of a case
// starts from it, as a restarted router would.
func (h *harness) loadWebrouter(ctx context.Context, rs routeSet) error {
	if _, ok := h.wrData[rs.name]; ok {
		return nil
	}
	data := filepath.Join(h.tmp, "wrdata-"+rs.name)
	r, err := testbed.Start(h.webrouter, data, nil, "--access-log", "off")
	if err != nil {
		return err
	}
	defer r.Stop(30 * time.Second)
	start := time.Now()
	if err := putRoutes(ctx, r, rs, 16); err != nil {
		return err
	}
	h.wrLoad[rs.name] = time.Since(start)
	if _, err := r.Stop(30 * time.Second); err != nil {
		return err
	}
	h.wrData[rs.name] = data
	return nil
}

// putRoutes PUTs every service of rs, then every instance, with workers
// concurrent requests.
func putRoutes(ctx context.Context, r *testbed.Router, rs routeSet, workers int) error {
	type write struct{ path, body string }
	var services, instances []write
	for _, s := range rs.services {
		services = append(services, write{"/v1/services/" + s.name, fmt.Sprintf(`{"mountpoints":[%q]}`, s.host)})
		for j, p := range s.ports {
			instances = append(instances, write{fmt.Sprintf("/v1/services/%s/instances/i%d", s.name, j),
				fmt.Sprintf(`{"address":"127.0.0.1","port":%d}`, p)})
		}
	}
	c := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	defer c.CloseIdleConnections()
	for _, batch := range [][]write{services, instances} {
		if err := parallel(len(batch), workers, func(i int) error {
			code, b, err := r.API(ctx, c, "", "PUT", batch[i].path, batch[i].body)
			if err == nil && code/100 != 2 {
				err = fmt.Errorf("PUT %s: %d %s", batch[i].path, code, b)
			}
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// parallel calls f(0…n-1) from workers goroutines and returns the first
// error; after an error the remaining calls are skipped.
func parallel(n, workers int, f func(i int) error) error {
	var mu sync.Mutex
	var errs []error
	next := 0
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				stop := i >= n || len(errs) > 0
				mu.Unlock()
				if stop {
					return
				}
				if err := f(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
