package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// sample is one measured run of one case against one proxy.
type sample struct {
	wrk     wrkResult
	cpu     time.Duration // proxy process tree, user+system, during the measured run
	cpuUser time.Duration // the user-space part of cpu
	peakRSS int64         // bytes, VmHWM summed over the tree
	// CPU time of other processes (the machine is shared) and of other
	// guests (steal) on the proxy's cores and on the load's cores;
	// unpinned, all of it is in otherProxy.
	otherProxy, otherLoad time.Duration
	// How busy the load's cores were during the measured run, in cores of
	// loadCores: everything that is not idle time (wrk, the backend, the
	// loopback packets' softirq work, others). 0 cores: unpinned, unknown.
	loadBusy  float64
	loadCores int
	// With a CPU cap (-proxy-cpu): the share of its periods in which the
	// proxy ran out of quota and waited (cpu.stat's nr_throttled ÷
	// nr_periods); -1 without a cap or when unknown.
	throttled float64
	// TCP segments the machine sent during the measured run (Tcp
	// OutSegs); -1: unknown.
	segs  int64
	err   string // the run failed: why
	quiet quietness
}

// cores converts CPU time during the run into cores.
func (s sample) cores(d time.Duration) float64 {
	if s.wrk.DurationUS == 0 {
		return 0
	}
	return max(0, d.Seconds()/(float64(s.wrk.DurationUS)/1e6))
}

// segsPerRequest is the TCP segments sent per request, by every end
// (wrk, proxy, backend); 0 when unknown.
func (s sample) segsPerRequest() float64 {
	if s.segs < 0 || s.wrk.Requests == 0 {
		return 0
	}
	return float64(s.segs) / float64(s.wrk.Requests)
}

// errors counts wrk's socket errors and error statuses.
func (s sample) errors() int64 { return s.wrk.socketErrors() + s.wrk.Status }

// cpuPer100k is CPU seconds per 100 000 requests.
func (s sample) cpuPer100k() float64 {
	if s.wrk.Requests == 0 {
		return 0
	}
	return s.cpu.Seconds() / float64(s.wrk.Requests) * 1e5
}

// userPercent is the user-space share of cpu, in percent.
func (s sample) userPercent() float64 {
	if s.cpu <= 0 {
		return 0
	}
	return 100 * s.cpuUser.Seconds() / s.cpu.Seconds()
}

func (s sample) summary() string {
	if s.err != "" {
		return "FAILED: " + s.err
	}
	line := fmt.Sprintf("%8.0f req/s  p50 %.2f ms  p99 %.2f ms  p99.9 %.2f ms  cpu %.2f s/100k (user %.0f%%)  rss %.1f MiB  errors %d  segs/req %.2f  load busy %.2f/%d  other load %.2f/%.2f cores",
		s.wrk.rps(), s.wrk.P50/1e3, s.wrk.P99/1e3, s.wrk.P999/1e3, s.cpuPer100k(), s.userPercent(), mib(s.peakRSS), s.errors(),
		s.segsPerRequest(), s.loadBusy, s.loadCores, s.cores(s.otherProxy), s.cores(s.otherLoad))
	if s.throttled >= 0 {
		line += fmt.Sprintf("  proxy %.2f cores, throttled %.0f%% of periods", s.cores(s.cpu), 100*s.throttled)
	}
	return line
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// report collects the samples of a run and renders the results file.
type report struct {
	opts    options
	root    string
	started time.Time
	pinning string
	facts   []string
	notes   []string
	samples map[string]map[string][]sample // case → proxy → rounds
	scale   *scaleResult
	micro   string
	instr   []instrRow
	misses  []instrRow
}

func newReport(o options, h *harness) *report {
	facts := machineFacts(h.root, o.proxies)
	facts = append(facts, fmt.Sprintf("backend: bench/backend -server %s, 16 loopback ports, on the load's core(s)", o.backend))
	if h.blCommit != "" {
		facts = append(facts, fmt.Sprintf("baseline: webrouter at commit %s (-baseline %s)", h.blCommit, o.baseline))
	}
	if o.profile != "" {
		facts = append(facts, fmt.Sprintf("profiles: webrouter's measured runs were CPU-profiled (pprof, 100 Hz), the last round of each case kept in %s as <case>-<proxy>.pprof", o.profile))
	}
	return &report{opts: o, root: h.root, started: time.Now(), pinning: h.pinning,
		facts: facts, samples: map[string]map[string][]sample{}}
}

func (r *report) add(c, p string, s sample) {
	if r.samples[c] == nil {
		r.samples[c] = map[string][]sample{}
	}
	r.samples[c][p] = append(r.samples[c][p], s)
}

// stats are the medians over the successful rounds of one case and proxy.
type stats struct {
	ok, rounds        int
	rps, p50, p99     float64
	p999, cpu, rssMiB float64
	userPct           float64 // median user-space share of cpu, in percent
	otherP, otherL    float64 // median other load on the proxy's and the load's cores
	loadBusy          float64 // median busy cores of the load's loadCores (0: unknown)
	segs              float64 // median TCP segments per request (0: unknown)
	proxyCores        float64 // median cores the proxy used
	throttled         float64 // median share of the cap's periods throttled; -1: no cap
	loadCores         int
	errors, requests  int64
	failures          []string
}

func (r *report) stats(c, p string) stats {
	ss := r.samples[c][p]
	st := stats{rounds: len(ss)}
	var rps, p50, p99, p999, cpu, user, rss, otherP, otherL, loadBusy, segs, cores, throttled []float64
	for _, s := range ss {
		if s.err != "" {
			st.failures = append(st.failures, s.err)
			continue
		}
		st.ok++
		rps = append(rps, s.wrk.rps())
		p50, p99, p999 = append(p50, s.wrk.P50/1e3), append(p99, s.wrk.P99/1e3), append(p999, s.wrk.P999/1e3)
		cpu, rss = append(cpu, s.cpuPer100k()), append(rss, mib(s.peakRSS))
		user = append(user, s.userPercent())
		otherP, otherL = append(otherP, s.cores(s.otherProxy)), append(otherL, s.cores(s.otherLoad))
		loadBusy, st.loadCores = append(loadBusy, s.loadBusy), s.loadCores
		segs = append(segs, s.segsPerRequest())
		cores, throttled = append(cores, s.cores(s.cpu)), append(throttled, s.throttled)
		st.errors += s.errors()
		st.requests += s.wrk.Requests
	}
	st.rps, st.p50, st.p99, st.p999 = median(rps), median(p50), median(p99), median(p999)
	st.cpu, st.rssMiB, st.otherP, st.otherL = median(cpu), median(rss), median(otherP), median(otherL)
	st.userPct, st.loadBusy, st.segs = median(user), median(loadBusy), median(segs)
	st.proxyCores, st.throttled = median(cores), median(throttled)
	if len(throttled) == 0 {
		st.throttled = -1
	}
	return st
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ratio formats a/b with two decimals, or "—" when either is missing.
func ratio(a, b float64) string {
	if a == 0 || b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// markdown renders the whole report.
func (r *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# webrouter benchmark, %s\n\n", r.started.Format("2006-01-02 15:04 MST"))
	for _, f := range r.facts {
		fmt.Fprintf(&b, "- %s\n", f)
	}
	if len(r.opts.cases) > 0 {
		fmt.Fprintf(&b, "- placement: %s\n", r.pinning)
		fmt.Fprintf(&b, "- method: %d round(s), proxies interleaved in each (%s, each round starting one further on); per run a fresh proxy, %s unmeasured warm-up, "+
			"%s measured `wrk -t1 --timeout 10s`; medians over rounds. CPU = user+system of the proxy's process tree "+
			"(`/proc/<pid>/stat`) during the measured run, in brackets the user-space share (the rest is the kernel's: system calls, "+
			"and the loopback TCP work done in them); peak RSS = VmHWM summed over the tree. Errors = wrk socket "+
			"errors (connect, read, write, timeout) + status ≥ 400, summed over rounds. Other load = cores used by other processes "+
			"(the machine is shared) or taken by the hypervisor for other guests (steal) during the measured run, on the proxy's core / on the load's core (from `/proc/stat`, "+
			"medians): other load on the proxy's core takes time from the proxy, so read such a row with care. Load busy = how much of the load's "+
			"core(s) (wrk and the backend) was not idle during the measured run, all of it counted: processes, the loopback packets' softirq work, "+
			"others (`/proc/stat`, median). Near the load's core count, the load side bounds req/s whatever the proxy: then req/s differs "+
			"between proxies by how much load-side work each request makes and how their answers' timing lets wrk and the backend batch it, "+
			"and a proxy's own speed shows in CPU per request. TCP segs / req = the TCP segments the machine sent during the measured run "+
			"(`/proc/net/snmp` OutSegs: wrk, proxy and backend, data and bare ACKs) per request, median: four carry a keep-alive request and its answer "+
			"both ways; more are bare ACKs (a delayed ACK whose timer, 40 ms, ran out before the answer) or a large body's segments, each costing "+
			"both ends kernel time. Logging off everywhere.\n",
			r.opts.rounds, strings.Join(r.opts.proxies, ", "), r.opts.warmup, r.opts.duration)
	}
	if len(r.opts.cases) > 0 {
		fmt.Fprintf(&b, "- %s\n", r.quietSummary())
	}
	for _, n := range r.notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	if len(r.opts.cases) > 0 {
		r.summaryTable(&b)
		r.goalsTable(&b)
		for _, c := range r.opts.cases {
			r.caseTable(&b, c)
		}
	}
	if r.scale != nil {
		r.scale.markdown(&b)
	}
	if r.micro != "" {
		b.WriteString("\n## Micro-benchmarks (`go test -bench`, route lookup, policy pick, instance change, one request through the data plane)\n\n```\n")
		b.WriteString(r.micro)
		b.WriteString("```\n")
	}
	if len(r.instr) > 0 {
		load, _ := instrCase(r.opts.instrLoad)
		instrMarkdown(&b, r.instr, load.name, r.opts.duration)
	}
	if len(r.misses) > 0 {
		missesMarkdown(&b, r.misses, r.opts.duration)
	}
	return b.String()
}

// quietSummary says how the shared machine's other load was handled.
func (r *report) quietSummary() string {
	if r.opts.quiet <= 0 {
		return "other load: not waited for, no run repeated (-quiet 0)"
	}
	var runs, repeated, noisy int
	var waited time.Duration
	for _, byProxy := range r.samples {
		for p, ss := range byProxy {
			for _, s := range ss {
				runs++
				waited += s.quiet.waited
				if s.quiet.attempts > 1 {
					repeated++
				}
				if s.err == "" && s.noise(p == "direct") > r.opts.quiet {
					noisy++
				}
			}
		}
	}
	return fmt.Sprintf("other load: before each run the harness waited (up to %s) for the machine to use ≤ %.2f cores "+
		"(%s waited in all); %d of %d samples needed a repeat because other processes or other guests (steal) took more than %.2f cores "+
		"on the proxy's or the load's cores during the run (up to %d repeats, the quietest attempt kept); %d kept "+
		"samples are still above it", r.opts.quietWait, r.opts.quiet, waited.Round(time.Second), repeated, runs,
		r.opts.quiet, r.opts.retries, noisy)
}

// peers are the proxies webrouter is compared with.
func (r *report) peers() []string {
	var out []string
	for _, p := range r.opts.proxies {
		if p != "webrouter" {
			out = append(out, p)
		}
	}
	return out
}

// summaryTable is one line per case: webrouter's req/s and its ratio to
// each peer (of the medians), with the range of the ratios of the rounds
// taken pair by pair: the spread says how much of a ratio is the shared
// machine's noise.
func (r *report) summaryTable(b *strings.Builder) {
	if !contains(r.opts.proxies, "webrouter") {
		return
	}
	b.WriteString("\n## Summary: webrouter req/s ÷ peer req/s (> 1: webrouter faster)\n\n")
	if r.opts.rounds > 1 {
		b.WriteString("The ratio of the medians; in brackets the lowest and highest ratio of one round's pair of runs.\n\n")
	}
	b.WriteString("| case | webrouter req/s |")
	for _, p := range r.peers() {
		fmt.Fprintf(b, " ÷ %s |", p)
	}
	b.WriteString("\n|---|---|" + strings.Repeat("---|", len(r.peers())) + "\n")
	for _, c := range r.opts.cases {
		wr := r.stats(c.name, "webrouter")
		fmt.Fprintf(b, "| %s | %.0f |", c.name, wr.rps)
		for _, p := range r.peers() {
			fmt.Fprintf(b, " %s%s |", ratio(wr.rps, r.stats(c.name, p).rps), spread(r.pairedOf(c.name, p, "req/s")))
		}
		b.WriteString("\n")
	}
}

// spread formats the range of ratios as " (lo–hi)", or "" for fewer than
// two.
func spread(rs []float64) string {
	if len(rs) < 2 {
		return ""
	}
	return fmt.Sprintf(" (%.2f–%.2f)", slices.Min(rs), slices.Max(rs))
}

// caseTable is one row per proxy with the medians and webrouter/peer
// ratios.
func (r *report) caseTable(b *strings.Builder, c benchCase) {
	fmt.Fprintf(b, "\n## %s — %s\n\n", c.name, c.describe(r.opts))
	// With a cap, a column after load busy: the cores the proxy used and
	// how often it ran out of quota.
	capped := r.opts.proxyCPU > 0
	capCol, capSep, capEmpty := "", "", ""
	if capped {
		capCol, capSep, capEmpty = fmt.Sprintf(" proxy cores of %g (throttled) |", r.opts.proxyCPU), "---|", " |"
	}
	b.WriteString("| proxy | req/s | p50 ms | p99 ms | p99.9 ms | CPU s/100k req (user share) | peak RSS MiB | errors / requests " +
		"| TCP segs / req | load busy |" + capCol + " other load | wr/peer req/s | wr/peer p99 | wr/peer CPU |\n" +
		"|---|---|---|---|---|---|---|---|---|---|---|---|---|---|" + capSep + "\n")
	wr := r.stats(c.name, "webrouter")
	var failures []string
	for _, p := range r.opts.proxies {
		st := r.stats(c.name, p)
		for _, f := range st.failures {
			failures = append(failures, fmt.Sprintf("%s: %s", p, firstLine(f)))
		}
		if st.ok == 0 {
			fmt.Fprintf(b, "| %s | failed in %d of %d rounds | | | | | | | | | | | | |%s\n", p, st.rounds, st.rounds, capEmpty)
			continue
		}
		cpu, rss := fmt.Sprintf("%.2f (%.0f%%)", st.cpu, st.userPct), fmt.Sprintf("%.1f", st.rssMiB)
		if p == "direct" {
			cpu, rss = "—", "—"
		}
		busy := "—"
		if st.loadCores > 0 {
			busy = fmt.Sprintf("%.2f / %d", st.loadBusy, st.loadCores)
		}
		if capped {
			at := "—"
			if st.throttled >= 0 && p != "direct" {
				at = fmt.Sprintf("%.2f (%.0f%%)", st.proxyCores, 100*st.throttled)
			}
			busy += " | " + at
		}
		fmt.Fprintf(b, "| %s | %.0f | %.2f | %.2f | %.2f | %s | %s | %d / %d | %.2f | %s | %.2f / %.2f |", p, st.rps, st.p50, st.p99,
			st.p999, cpu, rss, st.errors, st.requests, st.segs, busy, st.otherP, st.otherL)
		switch {
		case p == "webrouter" || wr.ok == 0:
			b.WriteString(" | | |\n")
		case p == "direct":
			fmt.Fprintf(b, " %s | %s | — |\n", ratio(wr.rps, st.rps), ratio(wr.p99, st.p99))
		default:
			fmt.Fprintf(b, " %s | %s | %s |\n", ratio(wr.rps, st.rps), ratio(wr.p99, st.p99), ratio(wr.cpu, st.cpu))
		}
		if st.ok < st.rounds {
			failures = append(failures, fmt.Sprintf("%s: medians over %d of %d rounds", p, st.ok, st.rounds))
		}
	}
	for _, f := range failures {
		fmt.Fprintf(b, "\n- FAILED %s", f)
	}
	if len(failures) > 0 {
		b.WriteString("\n")
	}
}
