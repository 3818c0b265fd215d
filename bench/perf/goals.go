package main

import (
	"fmt"
	"math"
	"strings"
)

// Issue 7's goals, judged from the rounds. A round runs webrouter and
// each peer back to back, so the ratio of one round's pair of runs has the
// machine's slow drift cancelled; what is left varies from round to round
// (the shared machine's spells). The verdict on a goal takes the pairs'
// ratios as a sample: their geometric mean, and a 90 % confidence interval
// for it from Student's t on the logarithms (which takes the rounds'
// log-ratios as independent and about normal). A goal is met when the
// whole interval is on its side, missed when the whole interval is on the
// other, and otherwise not told apart from its bound by this run: more
// rounds narrow the interval.

// goal is one of issue 7's goals for each case: webrouter's figure ÷ the
// peer's, at least (atLeast) or at most bound.
type goal struct {
	peer    string
	metric  string // "req/s", "p99", "CPU/req"
	bound   float64
	atLeast bool
	none    bool // shown, but not a goal (CPU per request)
}

// issueGoals are the goals of issue 7, and CPU per request against nginx
// beside them (no goal: where the load side bounds req/s, it is where a
// proxy's own speed shows).
func issueGoals() []goal {
	return []goal{
		{peer: "nginx", metric: "req/s", bound: 1, atLeast: true},
		{peer: "nginx", metric: "p99", bound: 1},
		{peer: "caddy", metric: "req/s", bound: 1.5, atLeast: true},
		{peer: "nginx", metric: "CPU/req", none: true},
	}
}

// value is a run's figure for metric.
func value(s sample, metric string) float64 {
	switch metric {
	case "req/s":
		return s.wrk.rps()
	case "p99":
		return s.wrk.P99
	case "CPU/req":
		return s.cpuPer100k()
	}
	panic("bench/perf: no metric " + metric)
}

// interval is a geometric mean of ratios and its 90 % confidence interval.
type interval struct {
	mean, lo, hi float64
	n            int
}

// confidence is the geometric mean of rs and its 90 % confidence interval
// (Student's t on the logarithms); with fewer than two ratios the interval
// is unknown (lo and hi 0).
func confidence(rs []float64) interval {
	iv := interval{n: len(rs)}
	if len(rs) == 0 {
		return iv
	}
	var sum float64
	for _, r := range rs {
		sum += math.Log(r)
	}
	m := sum / float64(len(rs))
	iv.mean = math.Exp(m)
	if len(rs) < 2 {
		return iv
	}
	var ss float64
	for _, r := range rs {
		d := math.Log(r) - m
		ss += d * d
	}
	half := t95(len(rs)-1) * math.Sqrt(ss/float64(len(rs)-1)/float64(len(rs)))
	iv.lo, iv.hi = math.Exp(m-half), math.Exp(m+half)
	return iv
}

// t95 is Student's t at 0.95 (two-sided 90 %) for df degrees of freedom.
func t95(df int) float64 {
	table := [...]float64{6.314, 2.920, 2.353, 2.132, 2.015, 1.943, 1.895, 1.860, 1.833, 1.812,
		1.796, 1.782, 1.771, 1.761, 1.753, 1.746, 1.740, 1.734, 1.729, 1.725,
		1.721, 1.717, 1.714, 1.711, 1.708, 1.706, 1.703, 1.701, 1.699, 1.697}
	if df >= 1 && df <= len(table) {
		return table[df-1]
	}
	return 1.645
}

// verdict judges iv against g: "met", "missed", or "not told apart" from
// the bound; "" without an interval or for a figure that is no goal.
func (g goal) verdict(iv interval) string {
	switch {
	case g.none || iv.n < 2:
		return ""
	case g.atLeast && iv.lo >= g.bound, !g.atLeast && iv.hi <= g.bound:
		return "met"
	case g.atLeast && iv.hi < g.bound, !g.atLeast && iv.lo > g.bound:
		return "missed"
	}
	return "not told apart"
}

// pairedOf are webrouter's metric ÷ the peer's, round by round, over the
// rounds both ran without failing.
func (r *report) pairedOf(c, peer, metric string) []float64 {
	wr, ps := r.samples[c]["webrouter"], r.samples[c][peer]
	var out []float64
	for i := range min(len(wr), len(ps)) {
		a, b := wr[i], ps[i]
		if a.err != "" || b.err != "" {
			continue
		}
		if x, y := value(a, metric), value(b, metric); x > 0 && y > 0 {
			out = append(out, x/y)
		}
	}
	return out
}

// goalsTable is one line per case with each goal's interval and verdict,
// for the goals whose peer ran; nothing with one round (no interval) or
// without webrouter.
func (r *report) goalsTable(b *strings.Builder) {
	var goals []goal
	for _, g := range issueGoals() {
		if contains(r.opts.proxies, g.peer) {
			goals = append(goals, g)
		}
	}
	if !contains(r.opts.proxies, "webrouter") || len(goals) == 0 || r.opts.rounds < 2 {
		return
	}
	b.WriteString("\n## Issue 7's goals: webrouter ÷ peer over the rounds' pairs\n\n")
	b.WriteString("Each cell: the geometric mean of the ratios of the rounds' pairs of runs, its 90 % confidence interval " +
		"(Student's t on the logarithms), and the verdict — met or missed when the whole interval is on one side of the goal, " +
		"not told apart when it straddles it (more rounds narrow it). CPU per request has no goal: it is where a proxy's own " +
		"speed shows when the load side bounds req/s.")
	if r.opts.proxyCPU > 0 {
		fmt.Fprintf(b, " Here every proxy was capped at %g core(s) (-proxy-cpu): the proxy, not the load side, bounded "+
			"each run (see each case's throttled share), so req/s and p99 are the proxy's.", r.opts.proxyCPU)
	}
	b.WriteString("\n\n| case |")
	for _, g := range goals {
		bound := ""
		switch {
		case g.none:
		case g.atLeast:
			bound = fmt.Sprintf(" (goal ≥ %g)", g.bound)
		default:
			bound = fmt.Sprintf(" (goal ≤ %g)", g.bound)
		}
		fmt.Fprintf(b, " %s ÷ %s%s |", g.metric, g.peer, bound)
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(goals)) + "\n")
	for _, c := range r.opts.cases {
		name := c.name
		if !c.issue() {
			name += " (not an issue case)"
		}
		fmt.Fprintf(b, "| %s |", name)
		for _, g := range goals {
			iv := confidence(r.pairedOf(c.name, g.peer, g.metric))
			switch {
			case iv.n == 0:
				b.WriteString(" — |")
			case iv.n == 1:
				fmt.Fprintf(b, " %.2f× (one pair) |", iv.mean)
			default:
				fmt.Fprintf(b, " %.2f× [%.2f, %.2f]", iv.mean, iv.lo, iv.hi)
				if v := g.verdict(iv); v != "" {
					fmt.Fprintf(b, " %s", v)
				}
				b.WriteString(" |")
			}
		}
		b.WriteString("\n")
	}
}
