package scenario

import (
	"fmt"
	"strings"
	"time"

	"github.com/webrouter/webrouter/internal/loadgen"
)

// Cell is an outcome as a table cell: "failed / total", with the failures
// in flight at the kill named in scenario 3, or the harness error.
func (o Outcome) Cell() string {
	if o.Err != nil {
		return "not run: " + firstLine(o.Err.Error())
	}
	cell := fmt.Sprintf("%d / %d", o.Load.Failed(), o.Load.Total())
	if o.Scenario.ID == 3 {
		cell += fmt.Sprintf(" (%d in flight at the kill, %d other)", len(o.InFlight), len(o.Other))
	}
	return cell
}

// firstLine is s on one line, at most 120 bytes long.
func firstLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

// Table is the table: one row per scenario, one column per proxy,
// in the order given. A missing outcome is an empty cell.
func Table(outcomes []Outcome, proxies []string) string {
	var b strings.Builder
	b.WriteString("| scenario |")
	for _, p := range proxies {
		fmt.Fprintf(&b, " %s failed / total |", p)
	}
	b.WriteString("\n|---|")
	b.WriteString(strings.Repeat("---|", len(proxies)))
	b.WriteString("\n")
	for _, s := range All() {
		var row []string
		found := false
		for _, p := range proxies {
			cell := ""
			for _, o := range outcomes {
				if o.Scenario.ID == s.ID && o.Proxy == p {
					cell, found = o.Cell(), true
				}
			}
			row = append(row, cell)
		}
		if found {
			fmt.Fprintf(&b, "| %d. %s | %s |\n", s.ID, s.Name, strings.Join(row, " | "))
		}
	}
	return b.String()
}

// Details are the lines under the table: per outcome what was done, each
// kind of client's counts, the failure reasons and, for scenario 3, the
// failures in flight at the kill one by one.
func Details(outcomes []Outcome) string {
	var b strings.Builder
	for _, o := range outcomes {
		fmt.Fprintf(&b, "%d. %s, %s: ", o.Scenario.ID, o.Scenario.Name, o.Proxy)
		if o.Load.Total() > 0 {
			fmt.Fprintf(&b, "%s in %.1fs; %s\n", o.Events, o.Elapsed.Seconds(), o.Load.Summary())
		} else {
			b.WriteString("no load ran\n")
		}
		if o.Err != nil {
			fmt.Fprintf(&b, "   not run to the end: %s\n", firstLine(o.Err.Error()))
		}
		if len(o.InFlight) > 0 {
			fmt.Fprintf(&b, "   in flight at the kill (%d):\n", len(o.InFlight))
			writeFailures(&b, o.InFlight, o.KilledAt)
		}
		if len(o.Other) > 0 {
			label := "failures"
			if o.Scenario.ID == 3 {
				label = "other failures"
			}
			fmt.Fprintf(&b, "   %s by reason: %s\n", label, strings.Join(loadgen.ReasonList(reasons(o.Other)), "; "))
			if o.Scenario.ID == 3 {
				writeFailures(&b, o.Other, o.KilledAt)
			}
		}
	}
	return b.String()
}

func reasons(fs []loadgen.Failure) map[string]int {
	m := map[string]int{}
	for _, f := range fs {
		m[f.Kind+" "+f.Reason]++
	}
	return m
}

// writeFailures lists failures with their times relative to the kill
// (when sent, when failed), at most 20 of them.
func writeFailures(b *strings.Builder, fs []loadgen.Failure, kill time.Time) {
	for i, f := range fs {
		if i == 20 {
			fmt.Fprintf(b, "     … and %d more\n", len(fs)-i)
			return
		}
		fmt.Fprintf(b, "     %s sent at %s, failed at %s: %s\n", f.Kind, signedMs(f.Start.Sub(kill)),
			signedMs(f.At.Sub(kill)), f.Reason)
	}
}

// signedMs is a duration relative to the kill, "-12ms" or "+3ms".
func signedMs(d time.Duration) string {
	d = d.Round(time.Millisecond)
	if d < 0 {
		return d.String()
	}
	return "+" + d.String()
}
