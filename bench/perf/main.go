// Command perf is webrouter's throughput benchmark against nginx, HAProxy
// and Caddy (issue 7), plus its control-plane scale measurements.
//
// On loopback, every proxy routes to the same backend process
// (bench/backend, keep-alive) with the same routes, and wrk drives it.
// Proxies are interleaved per round (webrouter, nginx, haproxy, caddy,
// direct, then again, each round starting one proxy further on: see
// roundOrder), each started fresh for each run with its own
// configuration in a temporary directory; the table shows medians over
// rounds and webrouter/peer ratios. CPU time comes from /proc for the
// proxy's whole process tree, peak RSS from VmHWM.
//
//	scripts/setup-bench                 # once: nginx, haproxy, caddy, wrk from Debian
//	go run ./bench/perf                 # everything, writes bench/results/<date>.md
//	go run ./bench/perf -cases small,post -proxies webrouter,nginx -rounds 5 -duration 20s
//	go run ./bench/perf -smoke          # seconds: checks the harness, not speed
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/webrouter/webrouter/internal/procfs"
)

// options are the benchmark's flags.
type options struct {
	cases      []benchCase
	control    []string // "scale", "micro"
	proxies    []string
	rounds     int
	duration   time.Duration
	warmup     time.Duration
	pin        bool
	proxyCPU   float64 // cap on the proxy's CPU, in cores; 0 for none
	services   int     // many-routes: services …
	perService int     // … of this many instances …
	hosts      int     // … with requests spread over this many hosts
	scaleSizes []int
	writes     int // scale: timed instance writes per size
	benchtime  string
	quiet      float64       // cores of other load tolerated; 0 = do not wait or repeat
	quietWait  time.Duration // longest wait for a quiet machine before a run
	retries    int           // repeats of a noisy run
	baseline   string        // git revision run as the proxy "baseline"; "" for none
	profile    string        // directory for webrouter's CPU profiles; "" for none
	backend    string        // bench/backend's -server: h1 or net/http
	instrLoad  string        // the instr case's load, a throughput case's name ("": small)
	log        io.Writer     // progress
}

func main() {
	var o options
	cases := flag.String("cases", "small,many-conns,large,new-conn,post,many-routes,slow,scale,micro,instr,misses", "cases to run")
	proxies := flag.String("proxies", strings.Join(proxyNames, ","), "proxies to compare (direct = no proxy)")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds; the table shows medians")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured wrk run per case, proxy and round (whole seconds)")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured wrk run before each measured one (0 = none)")
	flag.BoolVar(&o.pin, "pin", true, "pin the proxy and the load (wrk, backend) to separate cores")
	flag.Float64Var(&o.proxyCPU, "proxy-cpu", 0, "cap every proxy's CPU at this many cores (a cgroup's CPU bandwidth limit, as a container's CPU limit), so that the proxy and not the load side is the busy stage and req/s measures the proxy; 0 = no cap")
	flag.IntVar(&o.services, "services", 10000, "many-routes: services")
	flag.IntVar(&o.perService, "instances-per-service", 5, "many-routes: instances per service")
	flag.IntVar(&o.hosts, "hosts", 1000, "many-routes: hosts the requests are spread over")
	sizes := flag.String("scale", "1000,10000,100000", "scale: instance counts (10 per service)")
	flag.IntVar(&o.writes, "writes", 200, "scale: timed instance writes per size")
	flag.StringVar(&o.benchtime, "benchtime", "1s", "micro: go test -benchtime")
	flag.Float64Var(&o.quiet, "quiet", 0.25, "other processes' load (cores) tolerated before and during a run (0 = ignore)")
	flag.DurationVar(&o.quietWait, "quiet-wait", 30*time.Second, "longest wait for a quiet machine before a run")
	flag.IntVar(&o.retries, "retries", 2, "repeats of a run during which other load exceeded -quiet")
	flag.StringVar(&o.baseline, "baseline", "", `also run webrouter built at this git revision, as the proxy "baseline", interleaved with the others: an A/B of two commits (it must read the same registry format)`)
	flag.StringVar(&o.profile, "profile", "", "write a CPU profile (pprof) of webrouter (and baseline) during each case's measured runs into this directory, <case>-<proxy>.pprof, the last round's kept; the instr case keeps its callgrind dump there too, instr-<proxy>.callgrind")
	flag.StringVar(&o.backend, "backend", "h1", "the backend's HTTP server (bench/backend -server): h1 (the repo's internal/h1) or net/http")
	instrLoad := flag.String("instr-load", "small", "instr: the throughput case whose load is counted (not many-routes)")
	smoke := flag.Bool("smoke", false, "seconds-long check of the harness: 1 round of 2 s, small route counts")
	out := flag.String("out", "", `results file (default bench/results/<date>.md; "-" for none)`)
	flag.Parse()
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *smoke {
		smokeDefaults(&o, set)
		if !set["cases"] {
			*cases = "small,many-conns,large,new-conn,post,many-routes,slow,scale,instr,misses"
		}
		if !set["scale"] {
			*sizes = "100,1000"
		}
	}
	var err error
	if o.cases, o.control, err = selectCases(*cases); err == nil {
		o.proxies, err = selectProxies(*proxies, o.baseline != "")
	}
	if err == nil {
		o.scaleSizes, err = parseInts(*sizes)
	}
	if err == nil {
		o.instrLoad = *instrLoad
		_, err = instrCase(o.instrLoad)
	}
	if err == nil && o.profile != "" {
		// Made before anything runs: a missing directory would otherwise
		// be found only when the first profile is written, the run lost.
		err = os.MkdirAll(o.profile, 0o755)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "perf:", err)
		os.Exit(2)
	}
	o.log = os.Stderr
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	if err := runAndWrite(ctx, o, *out); err != nil {
		fmt.Fprintln(os.Stderr, "perf:", err)
		os.Exit(1)
	}
}

// smokeDefaults shrinks everything the user did not set explicitly.
func smokeDefaults(o *options, set map[string]bool) {
	defaults := map[string]func(){
		"rounds":                func() { o.rounds = 1 },
		"duration":              func() { o.duration = 2 * time.Second },
		"warmup":                func() { o.warmup = 0 },
		"services":              func() { o.services = 100 },
		"instances-per-service": func() { o.perService = 5 },
		"hosts":                 func() { o.hosts = 50 },
		"writes":                func() { o.writes = 20 },
		"quiet":                 func() { o.quiet = 0 },
	}
	for name, f := range defaults {
		if !set[name] {
			f()
		}
	}
}

// selectProxies parses -proxies. With a baseline, "baseline" is added
// after webrouter unless the list names it.
func selectProxies(list string, baseline bool) ([]string, error) {
	var out []string
	for _, p := range strings.Split(list, ",") {
		p = strings.TrimSpace(p)
		known := baseline && p == "baseline"
		for _, n := range proxyNames {
			known = known || n == p
		}
		if !known {
			return nil, fmt.Errorf("unknown proxy %q; proxies are %s (and baseline, with -baseline)", p, strings.Join(proxyNames, ","))
		}
		out = append(out, p)
	}
	if baseline && !contains(out, "baseline") {
		at := 0
		for i, p := range out {
			if p == "webrouter" {
				at = i + 1
			}
		}
		out = append(out[:at], append([]string{"baseline"}, out[at:]...)...)
	}
	return out, nil
}

func parseInts(list string) ([]int, error) {
	var out []int
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 10 {
			return nil, fmt.Errorf("bad instance count %q: want integers ≥ 10", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// runAndWrite runs the benchmark, prints the report and writes it to out.
func runAndWrite(ctx context.Context, o options, out string) error {
	rep, err := run(ctx, o)
	if rep != nil {
		md := rep.markdown()
		fmt.Print(md)
		if out != "-" {
			if out == "" {
				out = filepath.Join(rep.root, "bench", "results", rep.started.Format("2006-01-02")+".md")
			}
			if werr := os.WriteFile(out, []byte(md), 0o644); werr != nil {
				return werr
			}
			fmt.Fprintln(o.log, "perf: wrote", out)
		}
	}
	return err
}

// roundOrder is the order of the proxies in round r (from 1): the list
// rotated by r-1, so that no proxy always runs first. A many-conns A/B whose two builds ran in a fixed order had the
// first one lose by 19 % one way round and by 4 % the other
// (results/2026-12-07-defer-accept-ab.md).
func roundOrder(proxies []string, r int) []string {
	if len(proxies) == 0 {
		return nil
	}
	k := (r - 1) % len(proxies)
	return append(slices.Clone(proxies[k:]), proxies[:k]...)
}

// run measures every selected case and returns the report. It stops at
// the first harness error; a proxy that fails a run is recorded in the
// report (and makes run return an error) while the other runs go on.
func run(ctx context.Context, o options) (*report, error) {
	h, err := newHarness(ctx, o)
	if err != nil {
		return nil, err
	}
	defer h.close()
	rep := newReport(o, h)
	fmt.Fprintf(o.log, "perf: %s\n", h.pinning)
	sets := map[string]routeSet{"basic": basicRoutes(h.ports)}
	for _, c := range o.cases {
		if c.many {
			sets["many"] = manyRoutes(h.ports, o.services, o.perService, o.hosts)
		}
	}
	for _, c := range o.cases {
		rs := sets[routeSetName(c)]
		if contains(o.proxies, "webrouter") {
			if err := h.loadWebrouter(ctx, rs); err != nil {
				return rep, fmt.Errorf("load webrouter's registry (%s routes): %w", rs.name, err)
			}
		}
	}
	for name, d := range h.wrLoad {
		rep.notes = append(rep.notes, fmt.Sprintf("webrouter registry for the %s route set (services: %d, instances: %d) "+
			"loaded through the admin API in %s (16 concurrent PUTs, store on tmpfs)",
			name, len(sets[name].services), sets[name].instances(), d.Round(time.Millisecond)))
	}
	var failed []string
	for round := 1; round <= o.rounds; round++ {
		for _, c := range o.cases {
			rs := sets[routeSetName(c)]
			script, err := wrkScript(h.tmp, c, rs.hosts)
			if err != nil {
				return rep, err
			}
			for _, p := range roundOrder(o.proxies, round) {
				s := h.measureQuietly(ctx, p, c, rs, script)
				rep.add(c.name, p, s)
				fmt.Fprintf(o.log, "perf: round %d/%d %-11s %-9s %s  (attempts %d, waited %s)\n", round, o.rounds,
					c.name, p, s.summary(), s.quiet.attempts, s.quiet.waited.Round(time.Second))
				if s.err != "" {
					failed = append(failed, fmt.Sprintf("%s/%s round %d", c.name, p, round))
				}
				if ctx.Err() != nil {
					return rep, ctx.Err()
				}
			}
		}
	}
	for _, name := range o.control {
		var err error
		switch name {
		case "scale":
			rep.scale, err = h.scale(ctx)
		case "micro":
			rep.micro, err = micro(ctx, h.root, o.benchtime)
		case "instr":
			rep.instr, err = h.instr(ctx, sets["basic"], false)
		case "misses":
			rep.misses, err = h.instr(ctx, sets["basic"], true)
		}
		if err != nil {
			return rep, fmt.Errorf("%s: %w", name, err)
		}
	}
	if len(failed) > 0 {
		return rep, fmt.Errorf("failed runs: %s", strings.Join(failed, ", "))
	}
	return rep, nil
}

func routeSetName(c benchCase) string {
	if c.many {
		return "many"
	}
	return "basic"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// measure runs one case against one proxy started for it: an unmeasured
// warm-up, then the measured wrk run between two CPU readings.
// startProfile fetches a CPU profile of r (webrouter or baseline, through
// its admin API) lasting a second less than the measured run, into path,
// when -profile is set; the channel reports how it went once it is written.
func (h *harness) startProfile(ctx context.Context, r *running, path string) <-chan error {
	done := make(chan error, 1)
	if h.opts.profile == "" || r.admin == "" {
		done <- nil
		return done
	}
	secs := max(int(h.opts.duration/time.Second)-1, 1)
	go func() {
		done <- fetchProfile(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", r.admin, secs), path)
	}()
	return done
}

func fetchProfile(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (h *harness) measure(ctx context.Context, proxy string, c benchCase, rs routeSet, script string) sample {
	r, err := h.startProxy(ctx, proxy, rs)
	if err != nil {
		return sample{err: err.Error()}
	}
	url := "http://" + r.addr + c.path()
	s := sample{throttled: -1}
	if h.opts.warmup > 0 {
		if _, err := runWrk(ctx, h.pinLoad, script, url, c.conns, h.opts.warmup); err != nil {
			s.err = "warm-up: " + err.Error()
		}
	}
	if s.err == "" {
		var cpu0 procfs.CPUTime
		if r.pid != 0 {
			cpu0 = procfs.TreeCPU(r.pid)
		}
		var thr0 throttling
		if h.cap != nil && r.pid != 0 {
			thr0, _ = h.cap.throttling()
		}
		stat0, load0, segs0, start := readCPUStat(), procfs.TreeCPU(h.backend.cmd.Process.Pid), tcpOutSegs(), time.Now()
		profiled := h.startProfile(ctx, r, filepath.Join(h.opts.profile, c.name+"-"+proxy+".pprof"))
		s.wrk, err = runWrk(ctx, h.pinLoad, script, url, c.conns, h.opts.duration)
		if h.cap != nil && r.pid != 0 {
			if thr1, err := h.cap.throttling(); err == nil && thr1.periods > thr0.periods {
				s.throttled = float64(thr1.throttled-thr0.throttled) / float64(thr1.periods-thr0.periods)
			}
		}
		if segs1 := tcpOutSegs(); segs0 >= 0 && segs1 >= segs0 {
			s.segs = segs1 - segs0
		} else {
			s.segs = -1
		}
		if len(h.loadCPUs) > 0 {
			wall := time.Since(start)
			idle := readCPUStat().idle(h.loadCPUs) - stat0.idle(h.loadCPUs)
			s.loadBusy = max(0, (time.Duration(len(h.loadCPUs))*wall-idle).Seconds()/wall.Seconds())
			s.loadCores = len(h.loadCPUs)
		}
		if perr := <-profiled; perr != nil && s.err == "" && err == nil {
			s.err = "profile: " + perr.Error()
		}
		if err != nil {
			s.err = err.Error()
		} else {
			if r.pid != 0 {
				c := procfs.TreeCPU(r.pid).Sub(cpu0)
				s.cpu, s.cpuUser = c.Total(), c.User
				s.peakRSS = procfs.TreeKB(r.pid, "VmHWM") << 10
			}
			load := procfs.TreeCPU(h.backend.cmd.Process.Pid).Sub(load0).Total() + s.wrk.cpu
			stat1 := readCPUStat()
			if len(h.proxyCPUs) == 0 { // unpinned: one figure for the machine
				s.otherProxy = stat1.busy(nil) - stat0.busy(nil) - s.cpu - load
			} else {
				s.otherProxy = stat1.busy(h.proxyCPUs) - stat0.busy(h.proxyCPUs) - s.cpu
				s.otherLoad = stat1.busy(h.loadCPUs) - stat0.busy(h.loadCPUs) - load
			}
		}
		if err == nil && s.wrk.Requests == 0 {
			s.err = "no request completed during the measured run"
		}
		if err == nil && s.wrk.Requests > 0 && s.wrk.Bytes/s.wrk.Requests < int64(c.size) {
			s.err = fmt.Sprintf("responses average %d bytes, want at least %d", s.wrk.Bytes/s.wrk.Requests, c.size)
		}
	}
	select {
	case <-r.exited:
		s.err = fmt.Sprintf("%s exited during the run (%s):\n%s", proxy, s.err, r.output())
	default:
	}
	if err := r.stop(); err != nil && s.err == "" {
		s.err = "stop: " + err.Error()
	}
	return s
}
