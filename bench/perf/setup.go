package main

import (
	"archive/tar"
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
	blLauncher string // the same for the baseline's binary; "" without -baseline
	blBin      string // the baseline's binary; "" without -baseline
	blCommit   string // the baseline's commit
	backend    *proc
	ports      []int    // backend ports
	pinProxy   []string // taskset prefix for the proxy; nil when unpinned
	runProxy   []string // prefix a measured proxy runs under: pinProxy, or a script that also joins cap
	pinLoad    []string
	cap        *cpuCap // the proxies' CPU cap (-proxy-cpu); nil for none
	workers    int     // cores the proxy may use: its worker/thread count
	pinning    string  // how processes were placed, for the report
	proxyCPUs  []int   // cores the proxy is pinned to; empty when unpinned
	loadCPUs   []int   // cores wrk and the backend are pinned to
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
	if contains(o.control, "instr") || contains(o.control, "misses") {
		need = append(need, "valgrind", "callgrind_control")
	}
	var missing []string
	for _, b := range need {
		if tool(b) == "" {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s: run scripts/setup-bench (Debian packages nginx haproxy caddy wrk util-linux valgrind)",
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
	if err := h.capProxies(); err != nil {
		h.close()
		return nil, err
	}
	if h.webrouter, err = goBuild(root, tmp, "./cmd/webrouter"); err != nil {
		h.close()
		return nil, err
	}
	if h.wrLauncher, err = h.launcher(h.webrouter, "webrouter-pinned"); err != nil {
		h.close()
		return nil, err
	}
	if o.baseline != "" {
		if err := h.buildBaseline(o.baseline); err != nil {
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

// capProxies makes the CPU cap for -proxy-cpu and the launch script that
// joins it; without the flag a measured proxy runs under pinProxy alone.
func (h *harness) capProxies() error {
	h.runProxy = h.pinProxy
	if h.opts.proxyCPU == 0 {
		return nil
	}
	if h.opts.proxyCPU > float64(h.workers) { // workers: the cores the proxy is pinned to, or all
		return fmt.Errorf("-proxy-cpu %g: more than the %d core(s) the proxy may run on", h.opts.proxyCPU, h.workers)
	}
	c, err := newCPUCap(h.opts.proxyCPU, fmt.Sprintf("webrouter-perf-%d", os.Getpid()))
	if err != nil {
		return err
	}
	h.cap = c
	path := filepath.Join(h.tmp, "proxy-capped")
	script := fmt.Sprintf("#!/bin/sh\n%s\nexec %s \"$@\"\n", c.join(), strings.Join(h.pinProxy, " "))
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		return err
	}
	h.runProxy = []string{path}
	h.pinning += "; every proxy capped at " + c.describe()
	return nil
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

// launcher returns bin, or with pinning or a cap a script named name that
// runs it under runProxy.
func (h *harness) launcher(bin, name string) (string, error) {
	if len(h.runProxy) == 0 {
		return bin, nil
	}
	path := filepath.Join(h.tmp, name)
	script := fmt.Sprintf("#!/bin/sh\nexec %s %s \"$@\"\n", strings.Join(h.runProxy, " "), bin)
	return path, os.WriteFile(path, []byte(script), 0o755)
}

// buildBaseline builds cmd/webrouter as it is at the git revision rev,
// from a copy of that revision's tree (git archive), for -baseline.
func (h *harness) buildBaseline(rev string) error {
	commit, err := exec.Command("git", "-C", h.root, "rev-parse", "--short", "--verify", rev+"^{commit}").Output()
	if err != nil {
		return fmt.Errorf("-baseline %q: not a commit of this repository", rev)
	}
	h.blCommit = strings.TrimSpace(string(commit))
	src := filepath.Join(h.tmp, "baseline-src")
	if err := exportTree(h.root, h.blCommit, src); err != nil {
		return fmt.Errorf("-baseline %s: %w", rev, err)
	}
	out := filepath.Join(h.tmp, "baseline")
	if err := os.Mkdir(out, 0o755); err != nil {
		return err
	}
	bin, err := goBuild(src, out, "./cmd/webrouter")
	if err != nil {
		return fmt.Errorf("-baseline %s: %w", rev, err)
	}
	h.blBin = bin
	h.blLauncher, err = h.launcher(bin, "baseline-pinned")
	return err
}

// exportTree writes the files of commit (git archive) under dir.
func exportTree(root, commit, dir string) error {
	cmd := exec.Command("git", "-C", root, "archive", "--format=tar", commit)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	tr := tar.NewReader(stdout)
	for {
		hd, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			cmd.Wait()
			return fmt.Errorf("git archive: %w", err)
		}
		name := filepath.Join(dir, filepath.FromSlash(hd.Name))
		if !strings.HasPrefix(name, filepath.Clean(dir)+string(filepath.Separator)) {
			continue // not below dir
		}
		switch hd.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(name, 0o755)
		case tar.TypeReg:
			err = writeFile(name, tr, os.FileMode(hd.Mode)&0o777)
		}
		if err != nil {
			cmd.Wait()
			return err
		}
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("git archive: %w: %s", err, stderr.String())
	}
	return nil
}

func writeFile(name string, r io.Reader, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// startBackend builds and starts bench/backend on the load cores with 16
// ports, and reads the ports it prints.
func (h *harness) startBackend(ctx context.Context) error {
	bin, err := goBuild(h.root, h.tmp, "./bench/backend")
	if err != nil {
		return err
	}
	args := append(append([]string{}, h.pinLoad...), bin, "-ports", "16", "-server", h.opts.backend)
	cmd := exec.Command(args[0], args[1:]...)
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
	if h.cap != nil {
		if err := h.cap.close(); err != nil && h.opts.log != nil {
			fmt.Fprintln(h.opts.log, "perf:", err)
		}
	}
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
