package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/webrouter/webrouter/internal/sysmon"
	"github.com/webrouter/webrouter/internal/testbed"
)

// instrRow is one binary's user-space work per request in the instr case
// (and the misses case).
type instrRow struct {
	proxy    string // "webrouter" or "baseline"
	requests int64
	instr    uint64 // instructions executed while the requests were served
	misses   uint64 // misses case: data reads and writes that missed the simulated last-level cache
}

func (r instrRow) perRequest() float64 { return float64(r.instr) / float64(r.requests) }

func (r instrRow) missesPerRequest() float64 { return float64(r.misses) / float64(r.requests) }

// The misses case's simulated caches (valgrind's --D1 and --LL: size,
// ways, line): a first-level data cache and a last-level cache of 1 MiB,
// the size of one core's L2 on this kind of machine, so that what a
// request touches beyond what stays near the core is counted.
const (
	simD1 = "32768,8,64"
	simLL = "1048576,8,64"
)

// instrWarmup is the unmeasured wrk run before the counters are zeroed.
const instrWarmup = 2 * time.Second

// instr counts the instructions webrouter (and the baseline, with
// -baseline) executes in user space per request of the small case (or the
// case -instr-load names): it runs
// under valgrind's callgrind, which counts every instruction the process
// executes (not the kernel's work in its system calls); the counters are
// zeroed after a warm-up and dumped after a measured wrk run.
//
// Unlike CPU time, the count does not depend on what else the machine is
// doing: runs of one binary agree to within about 1 %, so a change of a
// few % in the data plane's own code shows, where the wall-clock
// table's rounds differ by 10–20 %. It says nothing of the kernel's share
// (system calls, loopback TCP), nor of cache misses: the throughput cases
// remain the measure of speed. Under callgrind webrouter runs some 30
// times slower, so event batching differs from a real run; the count is
// for comparing builds, not proxies.
//
// The misses case (sim) runs the many-conns case's load (1000
// connections) the same way with callgrind's cache simulation, and counts
// also the data reads and writes that missed the simulated last-level
// cache (simLL): with many connections, what a request touches of its
// connection's memory (its goroutine's stack, its structures) is no
// longer in the caches, and that, not the instruction count, is what
// makes a request dearer at 1000 connections than at 64. Under callgrind
// each connection then sees a request about once a second, so per
// connection timers (deadlines, the client watch of package h1) do more
// per request than in a real run, and the measured run's 1000 new
// connections are counted in; longer runs (-duration, missesMin at the
// least) amortise those.
func (h *harness) instr(ctx context.Context, rs routeSet, sim bool) ([]instrRow, error) {
	if _, ok := h.wrData[rs.name]; !ok {
		if err := h.loadWebrouter(ctx, rs); err != nil {
			return nil, fmt.Errorf("load webrouter's registry: %w", err)
		}
	}
	c, err := instrCase(h.opts.instrLoad)
	if err != nil {
		return nil, err
	}
	if sim {
		c = allCases()[1] // many-conns
	}
	script, err := wrkScript(h.tmp, c, rs.hosts)
	if err != nil {
		return nil, err
	}
	bins := []struct{ name, path string }{{"webrouter", h.webrouter}}
	if h.blBin != "" {
		bins = append(bins, struct{ name, path string }{"baseline", h.blBin})
	}
	var rows []instrRow
	for _, b := range bins {
		row, err := h.countInstr(ctx, b.name, b.path, rs, c, script, sim)
		if err != nil {
			return rows, fmt.Errorf("%s: %w", b.name, err)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func (h *harness) countInstr(ctx context.Context, name, bin string, rs routeSet, c benchCase, script string, sim bool) (instrRow, error) {
	row := instrRow{proxy: name}
	dir, err := os.MkdirTemp(h.tmp, "instr-")
	if err != nil {
		return row, err
	}
	defer os.RemoveAll(dir)
	httpPort, err := testbed.FreePort()
	if err != nil {
		return row, err
	}
	adminPort, err := testbed.FreePort()
	if err != nil {
		return row, err
	}
	out, vglog := filepath.Join(dir, "callgrind.out"), filepath.Join(dir, "valgrind.log")
	args := append(append([]string{}, h.pinProxy...), tool("valgrind"), "--tool=callgrind",
		"--callgrind-out-file="+out, "--log-file="+vglog)
	if sim {
		args = append(args, "--cache-sim=yes", "--D1="+simD1, "--LL="+simLL)
	}
	args = append(args, bin, "serve", "--http", fmt.Sprintf("127.0.0.1:%d", httpPort), "--admin", fmt.Sprintf("127.0.0.1:%d", adminPort),
		"--data", h.wrData[rs.name], "--access-log", "off")
	// The router's own re-execution (package sysmon) is done here, in the
	// environment: callgrind would not follow an exec. Go's asynchronous
	// preemption is off: callgrind (3.19) aborts on a signal that arrives
	// while it handles another, which the preemption signals make likely.
	// RDTSCP is off: Go's runtime times a wait for one of its own locks
	// with it (cputicks), and callgrind (3.19) does not know the
	// instruction, so a wait that happened to come killed the run (SIGILL);
	// without it the runtime uses RDTSC, which callgrind knows.
	env := append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(h.workers), "GODEBUG="+sysmon.Setting+",asyncpreemptoff=1,cpu.rdtscp=off")
	p, err := startProc(dir, env, args...)
	if err != nil {
		return row, err
	}
	defer p.stop()
	addr := fmt.Sprintf("127.0.0.1:%d", httpPort)
	failed := func(err error) error {
		vg, _ := os.ReadFile(vglog)
		return fmt.Errorf("%w\n%s\nvalgrind:\n%s", err, p.out.String(), vg)
	}
	if err := waitRoutable(ctx, addr, rs, p.done); err != nil {
		return row, failed(err)
	}
	url := "http://" + addr + c.path()
	if _, err := runWrk(ctx, h.pinLoad, script, url, c.conns, instrWarmup); err != nil {
		return row, fmt.Errorf("warm-up: %w", err)
	}
	pid := strconv.Itoa(p.cmd.Process.Pid)
	if out, err := exec.CommandContext(ctx, tool("callgrind_control"), "-z", pid).CombinedOutput(); err != nil {
		return row, fmt.Errorf("callgrind_control -z: %w: %s", err, out)
	}
	w, err := runWrk(ctx, h.pinLoad, script, url, c.conns, measuredFor(h.opts.duration, sim))
	if err != nil {
		return row, err
	}
	if w.Requests == 0 || w.socketErrors()+w.Status > 0 {
		return row, fmt.Errorf("measured run: %+v", w)
	}
	if out, err := exec.CommandContext(ctx, tool("callgrind_control"), "-d", pid).CombinedOutput(); err != nil {
		return row, fmt.Errorf("callgrind_control -d: %w: %s", err, out)
	}
	// The dump is written by the process itself, shortly after the
	// request: numbered .1, the first since it started.
	deadline := time.Now().Add(30 * time.Second)
	for {
		t, err := callgrindTotals(out + ".1")
		if err == nil {
			row.requests, row.instr = w.Requests, t["Ir"]
			row.misses = t["DLmr"] + t["DLmw"]
			keep := name
			if sim {
				keep = "misses-" + name
			}
			return row, h.keepCallgrind(out+".1", keep)
		}
		if time.Now().After(deadline) {
			return row, failed(fmt.Errorf("no callgrind dump: %w", err))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// missesMin is the misses case's shortest measured run: under callgrind's
// cache simulation 1000 new connections take seconds to be served their
// first requests, and shorter runs count mostly that.
const missesMin = 10 * time.Second

// measuredFor is the measured run's length of the instr case (sim: the
// misses case) for -duration d.
func measuredFor(d time.Duration, sim bool) time.Duration {
	if sim {
		return max(d, missesMin)
	}
	return d
}

// keepCallgrind copies a finished callgrind dump into the -profile
// directory as instr-<name>.callgrind, for callgrind_annotate; without
// -profile it does nothing. With the misses case's dump, for instance:
//
//	callgrind_annotate --show=Ir,DLmr,DLmw --sort=DLmr,DLmw instr-misses-webrouter.callgrind
func (h *harness) keepCallgrind(dump, name string) error {
	if h.opts.profile == "" {
		return nil
	}
	b, err := os.ReadFile(dump)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(h.opts.profile, "instr-"+name+".callgrind"), b, 0o644)
}

// callgrindTotal reads the instruction total of a callgrind output file.
func callgrindTotal(path string) (uint64, error) {
	t, err := callgrindTotals(path)
	return t["Ir"], err
}

// callgrindTotals reads the totals of a callgrind output file, by event
// name (Ir, and with the cache simulation DLmr, DLmw, ...): its "events:"
// line names them, its "totals:" line, written last, counts them.
func callgrindTotals(path string) (map[string]uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var events []string
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "events:"); ok {
			events = strings.Fields(v)
		}
		if v, ok := strings.CutPrefix(sc.Text(), "totals:"); ok {
			t := map[string]uint64{}
			for i, f := range strings.Fields(v) {
				if i >= len(events) {
					return nil, fmt.Errorf("%s: more totals than events (%q)", path, events)
				}
				n, err := strconv.ParseUint(f, 10, 64)
				if err != nil {
					return nil, fmt.Errorf("%s: totals: %w", path, err)
				}
				t[events[i]] = n
			}
			return t, nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, errors.New(path + ": no totals line (yet)")
}

// instrMarkdown renders the instr case.
func instrMarkdown(b *strings.Builder, rows []instrRow, load string, duration time.Duration) {
	b.WriteString("\n## Instructions per request (callgrind)\n\n")
	fmt.Fprintf(b, "webrouter under valgrind's callgrind, the %s case's load (%d s of wrk after a %d s warm-up): the instructions it executed in user space while serving the measured requests, per request. "+
		"Runs of one binary agree to within about 1 %%; the kernel's work (system calls, loopback TCP) is not counted. For comparing builds (-baseline), not proxies.\n\n",
		load, int(duration.Round(time.Second)/time.Second), int(instrWarmup/time.Second))
	b.WriteString("| build | requests | instructions | per request | ÷ webrouter |\n|---|---|---|---|---|\n")
	for _, r := range rows {
		ratio := ""
		if r.proxy != "webrouter" && rows[0].proxy == "webrouter" {
			ratio = fmt.Sprintf("%.3f×", r.perRequest()/rows[0].perRequest())
		}
		fmt.Fprintf(b, "| %s | %d | %d | %.0f | %s |\n", r.proxy, r.requests, r.instr, r.perRequest(), ratio)
	}
}

// missesMarkdown renders the misses case.
func missesMarkdown(b *strings.Builder, rows []instrRow, duration time.Duration) {
	b.WriteString("\n## Cache misses per request at 1000 connections (callgrind's cache simulation)\n\n")
	fmt.Fprintf(b, "webrouter under valgrind's callgrind with its cache simulation (D1 %s, LL %s: size, ways, line), the many-conns case's load (1000 connections, %d s of wrk after a %d s warm-up): per request, the instructions executed in user space and the data reads and writes that missed the simulated last-level cache (DLmr + DLmw). "+
		"The measured run's new connections and, at callgrind's pace, per-connection timers are counted in; runs of one binary differ by a few %%. For comparing builds (-baseline), not proxies.\n\n",
		simD1, simLL, int(measuredFor(duration, true).Round(time.Second)/time.Second), int(instrWarmup/time.Second))
	b.WriteString("| build | requests | instructions per request | LL misses per request | ÷ webrouter |\n|---|---|---|---|---|\n")
	for _, r := range rows {
		ratio := ""
		if r.proxy != "webrouter" && rows[0].proxy == "webrouter" {
			ratio = fmt.Sprintf("%.3f×", r.missesPerRequest()/rows[0].missesPerRequest())
		}
		fmt.Fprintf(b, "| %s | %d | %.0f | %.1f | %s |\n", r.proxy, r.requests, r.perRequest(), r.missesPerRequest(), ratio)
	}
}
