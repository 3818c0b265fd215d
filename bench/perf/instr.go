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

// instrRow is one binary's user-space work per request in the instr case.
type instrRow struct {
	proxy    string // "webrouter" or "baseline"
	requests int64
	instr    uint64 // instructions executed while the requests were served
}

func (r instrRow) perRequest() float64 { return float64(r.instr) / float64(r.requests) }

// instrWarmup is the unmeasured wrk run before the counters are zeroed.
const instrWarmup = 2 * time.Second

// instr counts the instructions webrouter (and the baseline, with
// -baseline) executes in user space per request of the small case: it runs
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
func (h *harness) instr(ctx context.Context, rs routeSet) ([]instrRow, error) {
	if _, ok := h.wrData[rs.name]; !ok {
		if err := h.loadWebrouter(ctx, rs); err != nil {
			return nil, fmt.Errorf("load webrouter's registry: %w", err)
		}
	}
	c := allCases()[0] // small
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
		row, err := h.countInstr(ctx, b.name, b.path, rs, c, script)
		if err != nil {
			return rows, fmt.Errorf("%s: %w", b.name, err)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func (h *harness) countInstr(ctx context.Context, name, bin string, rs routeSet, c benchCase, script string) (instrRow, error) {
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
		"--callgrind-out-file="+out, "--log-file="+vglog,
		bin, "serve", "--http", fmt.Sprintf("127.0.0.1:%d", httpPort), "--admin", fmt.Sprintf("127.0.0.1:%d", adminPort),
		"--data", h.wrData[rs.name], "--access-log", "off")
	// The router's own re-execution (package sysmon) is done here, in the
	// environment: callgrind would not follow an exec. Go's asynchronous
	// preemption is off: callgrind (3.19) aborts on a signal that arrives
	// while it handles another, which the preemption signals make likely.
	env := append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(h.workers), "GODEBUG="+sysmon.Setting+",asyncpreemptoff=1")
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
	w, err := runWrk(ctx, h.pinLoad, script, url, c.conns, h.opts.duration)
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
		n, err := callgrindTotal(out + ".1")
		if err == nil {
			row.requests, row.instr = w.Requests, n
			return row, h.keepCallgrind(out+".1", name)
		}
		if time.Now().After(deadline) {
			return row, failed(fmt.Errorf("no callgrind dump: %w", err))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// keepCallgrind copies a finished callgrind dump into the -profile
// directory as instr-<name>.callgrind, for callgrind_annotate; without
// -profile it does nothing.
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

// callgrindTotal reads the instruction total of a callgrind output file:
// its "totals:" line, written last.
func callgrindTotal(path string) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "totals:"); ok {
			return strconv.ParseUint(strings.Fields(v)[0], 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New(path + ": no totals line (yet)")
}

// instrMarkdown renders the instr case.
func instrMarkdown(b *strings.Builder, rows []instrRow, duration time.Duration) {
	b.WriteString("\n## Instructions per request (callgrind)\n\n")
	fmt.Fprintf(b, "webrouter under valgrind's callgrind, the small case's load (%d s of wrk after a %d s warm-up): the instructions it executed in user space while serving the measured requests, per request. "+
		"Runs of one binary agree to within about 1 %%; the kernel's work (system calls, loopback TCP) is not counted. For comparing builds (-baseline), not proxies.\n\n",
		int(duration.Round(time.Second)/time.Second), int(instrWarmup/time.Second))
	b.WriteString("| build | requests | instructions | per request | ÷ webrouter |\n|---|---|---|---|---|\n")
	for _, r := range rows {
		ratio := ""
		if r.proxy != "webrouter" && rows[0].proxy == "webrouter" {
			ratio = fmt.Sprintf("%.3f×", r.perRequest()/rows[0].perRequest())
		}
		fmt.Fprintf(b, "| %s | %d | %d | %.0f | %s |\n", r.proxy, r.requests, r.instr, r.perRequest(), ratio)
	}
}
