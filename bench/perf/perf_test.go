package main

import (
	"context"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/testbed"
)

// TestSmoke runs the whole benchmark in its smoke size — every case, one
// round of two seconds, small route counts, the control-plane curve at 100
// and 1 000 instances — so the harness cannot rot. It asserts that every
// run produced numbers and that no request failed, never a speed. Without
// wrk or a peer it skips, except under CI=true, where it fails.
func TestSmoke(t *testing.T) {
	proxies := []string{"webrouter", "nginx", "haproxy", "caddy"}
	var missing []string
	for _, b := range []string{"wrk", "taskset", "nginx", "haproxy", "caddy", "valgrind", "callgrind_control"} {
		if tool(b) == "" {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		msg := "missing " + strings.Join(missing, ", ") + ": run scripts/setup-bench"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	cases, control, err := selectCases("small,many-conns,large,new-conn,post,many-routes,slow,scale,instr,misses")
	if err != nil {
		t.Fatal(err)
	}
	o := options{cases: cases, control: control, proxies: proxies, rounds: 1, duration: 2 * time.Second,
		pin: true, services: 100, perService: 5, hosts: 50, scaleSizes: []int{100, 1000}, writes: 20, log: io.Discard,
		profile: t.TempDir(), backend: "h1"}
	if testing.Verbose() {
		o.log = os.Stderr
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := run(ctx, o)
	if err != nil {
		if rep != nil {
			t.Log(rep.markdown())
		}
		t.Fatal(err)
	}
	for _, c := range cases {
		for _, p := range proxies {
			ss := rep.samples[c.name][p]
			if len(ss) != 1 {
				t.Errorf("%s/%s: %d samples, want 1", c.name, p, len(ss))
				continue
			}
			s := ss[0]
			switch {
			case s.err != "":
				t.Errorf("%s/%s: %s", c.name, p, s.err)
			case s.wrk.Requests == 0 || s.wrk.rps() == 0 || s.wrk.P99 == 0:
				t.Errorf("%s/%s: no numbers: %+v", c.name, p, s.wrk)
			case s.errors() != 0:
				t.Errorf("%s/%s: %d errors of %d requests: %+v", c.name, p, s.errors(), s.wrk.Requests, s.wrk)
			case s.cpu == 0 || s.peakRSS == 0:
				t.Errorf("%s/%s: CPU %s, peak RSS %d: /proc readings missing", c.name, p, s.cpu, s.peakRSS)
			case s.segsPerRequest() < 1.5:
				t.Errorf("%s/%s: %.2f TCP segments per request: /proc/net/snmp reading wrong", c.name, p, s.segsPerRequest())
			case s.loadCores > 0 && (s.loadBusy <= 0 || s.loadBusy > float64(s.loadCores)+0.05):
				t.Errorf("%s/%s: load busy %.2f of %d cores: /proc/stat reading wrong", c.name, p, s.loadBusy, s.loadCores)
			}
			if p == "webrouter" {
				if st, err := os.Stat(filepath.Join(o.profile, c.name+"-webrouter.pprof")); err != nil || st.Size() == 0 {
					t.Errorf("%s: no CPU profile (-profile): %v", c.name, err)
				}
			}
		}
	}
	if rep.scale == nil || len(rep.scale.rows) != 2 || rep.scale.disk == nil {
		t.Fatalf("scale: %+v, want two sizes and the on-disk row", rep.scale)
	}
	for _, r := range append(rep.scale.rows, *rep.scale.disk) {
		if r.routed != r.writes || r.gone != r.writes || len(r.put) != r.writes {
			t.Errorf("scale %s: routed %d and gone %d after %d writes", r.label, r.routed, r.gone, r.writes)
		}
	}
	if len(rep.instr) != 1 || rep.instr[0].requests == 0 || rep.instr[0].perRequest() < 1000 {
		t.Errorf("instr: %+v, want webrouter's count over some requests", rep.instr)
	}
	if n, err := callgrindTotal(filepath.Join(o.profile, "instr-webrouter.callgrind")); err != nil || n != rep.instr[0].instr {
		t.Errorf("instr: kept callgrind dump (-profile): total %d, %v; want %d", n, err, rep.instr[0].instr)
	}
	if len(rep.misses) != 1 || rep.misses[0].requests == 0 || rep.misses[0].perRequest() < 1000 || rep.misses[0].missesPerRequest() < 1 {
		t.Errorf("misses: %+v, want webrouter's instructions and cache misses over some requests", rep.misses)
	}
	if tt, err := callgrindTotals(filepath.Join(o.profile, "instr-misses-webrouter.callgrind")); err != nil || len(rep.misses) == 1 && tt["DLmr"]+tt["DLmw"] != rep.misses[0].misses {
		t.Errorf("misses: kept callgrind dump (-profile): totals %v, %v; want DLmr+DLmw %+v", tt, err, rep.misses)
	}
	md := rep.markdown()
	for _, want := range []string{"## small", "## many-routes", "wr/peer req/s", "load busy", "## Control plane", "## Instructions per request", "## Cache misses per request"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

func TestSelectProxiesWithBaseline(t *testing.T) {
	for _, tt := range []struct {
		list     string
		baseline bool
		want     string
		bad      bool
	}{
		{"webrouter,nginx", true, "webrouter,baseline,nginx", false},
		{"nginx,webrouter", true, "nginx,webrouter,baseline", false},
		{"baseline,webrouter", true, "baseline,webrouter", false},
		{"webrouter,nginx", false, "webrouter,nginx", false},
		{"webrouter,baseline", false, "", true}, // baseline needs -baseline
		{"webrouter,squid", true, "", true},
	} {
		got, err := selectProxies(tt.list, tt.baseline)
		if (err != nil) != tt.bad || err == nil && strings.Join(got, ",") != tt.want {
			t.Errorf("%q (baseline %v): %v, %v; want %q (error: %v)", tt.list, tt.baseline, got, err, tt.want, tt.bad)
		}
	}
}

// TestExportTree checks that -baseline's copy of a commit is that commit's
// tree: HEAD's go.mod, byte for byte, and its cmd/webrouter.
func TestExportTree(t *testing.T) {
	root, err := testbed.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	want, err := exec.Command("git", "-C", root, "show", "HEAD:go.mod").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	dir := t.TempDir()
	if err := exportTree(root, "HEAD", dir); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil || string(got) != string(want) {
		t.Fatalf("go.mod: %v\n%s\nwant\n%s", err, got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "cmd", "webrouter", "main.go")); err != nil {
		t.Fatal(err)
	}
	if err := exportTree(root, "no-such-revision", t.TempDir()); err == nil {
		t.Fatal("a revision that does not exist was exported")
	}
}

// TestSummarySpread: the summary pairs the rounds of webrouter and a peer
// and shows the range of their ratios next to the ratio of the medians; a
// failed run drops its round's pair.
func TestSummarySpread(t *testing.T) {
	run := func(rps int64) sample { return sample{wrk: wrkResult{Requests: rps, DurationUS: 1e6}} }
	r := &report{opts: options{rounds: 3, proxies: []string{"webrouter", "nginx"}, cases: []benchCase{{name: "small"}}},
		samples: map[string]map[string][]sample{"small": {
			"webrouter": {run(90), run(110), run(100)},
			"nginx":     {run(100), run(100), {err: "nginx died"}},
		}}}
	if got, want := r.pairedOf("small", "nginx", "req/s"), []float64{0.9, 1.1}; !slices.Equal(got, want) {
		t.Errorf("paired ratios %v, want %v", got, want)
	}
	var b strings.Builder
	r.summaryTable(&b)
	if want := "| small | 100 | 1.00× (0.90–1.10) |"; !strings.Contains(b.String(), want) {
		t.Errorf("summary lacks %q:\n%s", want, b.String())
	}
	if spread([]float64{1.2}) != "" {
		t.Error("a single pair has no spread")
	}
}

// testProcStat is a /proc/stat of two cores for TestBusyTicks and
// TestIdleTicks: user nice system idle iowait irq softirq steal guest
// guest_nice.
const testProcStat = `cpu  100 1 20 900 5 2 3 40 0 0
cpu0 60 1 10 400 2 1 2 30 0 0
cpu1 40 0 10 500 3 1 1 10 0 0
intr 12345
`

// TestBusyTicks checks that busy time is user, nice, system and steal, of
// the cores asked for (the machine's line when none are).
func TestBusyTicks(t *testing.T) {
	for _, c := range []struct {
		cpus []int
		want int64
	}{
		{nil, 100 + 1 + 20 + 40},
		{[]int{0}, 60 + 1 + 10 + 30},
		{[]int{1}, 40 + 0 + 10 + 10},
		{[]int{0, 1}, 71 + 30 + 60},
	} {
		if got := busyTicks(testProcStat, c.cpus); got != c.want {
			t.Errorf("busyTicks(cpus %v) = %d, want %d", c.cpus, got, c.want)
		}
	}
	// A kernel without the steal column: user, nice, system only.
	if got := busyTicks("cpu0 7 0 3 90\n", []int{0}); got != 10 {
		t.Errorf("without steal: %d, want 10", got)
	}
}

// TestOutSegs reads OutSegs from the Tcp lines of /proc/net/snmp's text,
// and -1 where they are missing or short.
func TestOutSegs(t *testing.T) {
	const snmp = "Ip: Forwarding DefaultTTL\nIp: 1 64\n" +
		"Tcp: RtoAlgorithm RtoMin ActiveOpens InSegs OutSegs RetransSegs\nTcp: 1 200 31 4711 4242 7\n" +
		"Udp: InDatagrams OutSegs\nUdp: 5 6\n"
	for _, c := range []struct {
		text string
		want int64
	}{
		{snmp, 4242},
		{"Ip: Forwarding\nIp: 1\n", -1},
		{"Tcp: RtoAlgorithm OutSegs\nTcp: 1\n", -1},
		{"Tcp: RtoAlgorithm OutSegs\n", -1},
	} {
		if got := outSegs(c.text); got != c.want {
			t.Errorf("outSegs(%q) = %d, want %d", c.text, got, c.want)
		}
	}
	if n := tcpOutSegs(); n < 0 {
		t.Errorf("tcpOutSegs() = %d: this machine's /proc/net/snmp not read", n)
	}
}

// TestIdleTicks checks that idle time is idle and iowait, of the cores
// asked for (the machine's line when none are), and that a line too short
// to have them counts nothing rather than failing.
func TestIdleTicks(t *testing.T) {
	for _, c := range []struct {
		cpus []int
		want int64
	}{
		{nil, 905},
		{[]int{0}, 402},
		{[]int{1}, 503},
		{[]int{0, 1}, 905},
		{[]int{2}, 0},
	} {
		if got := idleTicks(testProcStat, c.cpus); got != c.want {
			t.Errorf("idleTicks(cpus %v) = %d, want %d", c.cpus, got, c.want)
		}
	}
	if got := idleTicks("cpu0 7 0 3 90\n", []int{0}); got != 90 {
		t.Errorf("without iowait: %d, want 90", got)
	}
}

// TestRoundOrder checks that each round starts one proxy further on, so
// that over as many rounds as proxies each runs once in every place.
func TestRoundOrder(t *testing.T) {
	ps := []string{"webrouter", "nginx", "haproxy"}
	want := [][]string{
		{"webrouter", "nginx", "haproxy"},
		{"nginx", "haproxy", "webrouter"},
		{"haproxy", "webrouter", "nginx"},
		{"webrouter", "nginx", "haproxy"},
	}
	for r, w := range want {
		if got := roundOrder(ps, r+1); !slices.Equal(got, w) {
			t.Errorf("round %d: %v, want %v", r+1, got, w)
		}
	}
	if ps[0] != "webrouter" {
		t.Errorf("roundOrder changed its argument: %v", ps)
	}
}

// TestGoals: the interval is the geometric mean of the pairs' ratios with
// Student's t on their logarithms; a goal is met or missed only when the
// whole interval is on one side of it, and a p99 goal is an upper bound.
// The table judges every goal whose peer ran, and names the case that is
// not issue 7's.
func TestGoals(t *testing.T) {
	iv := confidence([]float64{0.9, 1.1})
	// logs -0.1054 and 0.0953: mean -0.0050, sd 0.1419, half width
	// 6.314 × 0.1419 / √2 = 0.6337.
	if math.Abs(iv.mean-math.Sqrt(0.99)) > 1e-9 || math.Abs(iv.lo-0.52806) > 1e-4 || math.Abs(iv.hi-1.87478) > 1e-4 {
		t.Errorf("confidence(0.9, 1.1) = %+v; want mean 0.995 in [0.528, 1.875]", iv)
	}
	if iv := confidence([]float64{1.2}); iv.n != 1 || iv.mean != 1.2 || iv.lo != 0 {
		t.Errorf("one ratio: %+v; want its value and no interval", iv)
	}
	atLeast, atMost := goal{metric: "req/s", bound: 1, atLeast: true}, goal{metric: "p99", bound: 1}
	for _, tc := range []struct {
		g      goal
		lo, hi float64
		want   string
	}{
		{atLeast, 1.01, 1.2, "met"}, {atLeast, 0.8, 0.99, "missed"}, {atLeast, 0.95, 1.05, "not told apart"},
		{atMost, 0.8, 0.99, "met"}, {atMost, 1.01, 1.2, "missed"}, {atMost, 0.95, 1.05, "not told apart"},
		{goal{metric: "CPU/req", none: true}, 0.5, 0.6, ""},
	} {
		if got := tc.g.verdict(interval{mean: (tc.lo + tc.hi) / 2, lo: tc.lo, hi: tc.hi, n: 4}); got != tc.want {
			t.Errorf("%s goal, interval [%g, %g]: %q, want %q", tc.g.metric, tc.lo, tc.hi, got, tc.want)
		}
	}
	run := func(rps int64, p99 float64) sample {
		return sample{wrk: wrkResult{Requests: rps, DurationUS: 1e6, P99: p99}, cpu: time.Second}
	}
	r := &report{opts: options{rounds: 4, proxies: []string{"webrouter", "nginx", "caddy"},
		cases: []benchCase{{name: "small"}, {name: "slow", extra: true}}},
		samples: map[string]map[string][]sample{
			"small": {
				"webrouter": {run(110, 900), run(120, 950), run(115, 1000), run(118, 980)},
				"nginx":     {run(100, 1000), run(100, 1000), run(100, 1000), run(100, 1000)},
				"caddy":     {run(50, 2000), run(100, 2000), run(60, 2000), run(90, 2000)},
			},
			"slow": {"webrouter": {run(100, 1000)}, "nginx": {run(100, 1000)}},
		}}
	var b strings.Builder
	r.goalsTable(&b)
	for _, want := range []string{
		"| case | req/s ÷ nginx (goal ≥ 1) | p99 ÷ nginx (goal ≤ 1) | req/s ÷ caddy (goal ≥ 1.5) | CPU/req ÷ nginx |",
		"| small | 1.16× [1.11, 1.21] met | 0.96× [0.91, 1.01] not told apart | 1.60× [1.14, 2.26] not told apart | 0.86× [0.83, 0.90] |",
		"| slow (not an issue case) | 1.00× (one pair) | 1.00× (one pair) | — | 1.00× (one pair) |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("goals table lacks %q:\n%s", want, b.String())
		}
	}
	r.opts.rounds = 1
	b.Reset()
	if r.goalsTable(&b); b.Len() != 0 {
		t.Errorf("one round: a goals table without intervals:\n%s", b.String())
	}
}
