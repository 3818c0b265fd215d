package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/webrouter/webrouter/internal/procfs"
)

// cpuStat is one reading of /proc/stat; empty when it could not be read
// (every figure is then 0). The figures compared across a run come from
// one reading at each end, not one reading per figure.
type cpuStat string

func readCPUStat() cpuStat {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return ""
	}
	return cpuStat(b)
}

// busy is the CPU time the given cores (all when cpus is empty) have
// spent in processes since boot (user, nice, system), plus the time the
// hypervisor gave them to other guests while they had work (steal): on a
// shared virtual machine that is load too, and it takes time from whatever
// runs on the core. Interrupt and softirq time (loopback packet
// processing, with this kernel's IRQ time accounting) is left out, as it
// is from the per-process times it is compared with.
func (s cpuStat) busy(cpus []int) time.Duration {
	return time.Duration(busyTicks(string(s), cpus)) * procfs.ClockTick
}

// idle is the time the given cores have been idle since boot (idle and
// iowait): what is not idle is everything, processes, interrupts and
// softirq included.
func (s cpuStat) idle(cpus []int) time.Duration {
	return time.Duration(idleTicks(string(s), cpus)) * procfs.ClockTick
}

// idleTicks is cpuStat.idle's sum, in clock ticks, from /proc/stat's text.
func idleTicks(stat string, cpus []int) int64 {
	var ticks int64
	for _, f := range cpuLines(stat, cpus) {
		for _, v := range f[4:min(6, len(f))] {
			n, _ := strconv.ParseInt(v, 10, 64)
			ticks += n
		}
	}
	return ticks
}

// cpuLines returns the fields of /proc/stat's lines for the given cores,
// or of its machine-wide line when cpus is empty.
func cpuLines(stat string, cpus []int) [][]string {
	want := map[string]bool{}
	for _, c := range cpus {
		want[fmt.Sprintf("cpu%d", c)] = true
	}
	var lines [][]string
	for _, line := range strings.Split(stat, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || !(len(cpus) == 0 && f[0] == "cpu" || want[f[0]]) {
			continue
		}
		lines = append(lines, f)
	}
	return lines
}

// busyTicks is cpuStat.busy's sum, in clock ticks, from /proc/stat's text.
func busyTicks(stat string, cpus []int) int64 {
	var ticks int64
	for _, f := range cpuLines(stat, cpus) {
		fields := f[1:4]
		if len(f) > 8 {
			fields = append(fields[:3:3], f[8]) // steal
		}
		for _, v := range fields {
			n, _ := strconv.ParseInt(v, 10, 64)
			ticks += n
		}
	}
	return ticks
}

// tcpOutSegs reads the machine's count of TCP segments sent
// (/proc/net/snmp, Tcp OutSegs: every segment, data or bare ACK, of every
// socket, retransmissions left out); -1 when it cannot be read. On
// loopback each segment is sent once and received once, so the difference
// across a run, per request, is the packets a request cost both ends —
// wrk, the proxy and the backend together.
func tcpOutSegs() int64 {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return -1
	}
	return outSegs(string(b))
}

// outSegs finds OutSegs in /proc/net/snmp's text: a "Tcp:" line of names,
// then one of values; -1 if absent.
func outSegs(snmp string) int64 {
	var names []string
	for _, line := range strings.Split(snmp, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Tcp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, name := range names {
			if name == "OutSegs" && i < len(f) {
				if n, err := strconv.ParseInt(f[i], 10, 64); err == nil {
					return n
				}
			}
		}
		return -1
	}
	return -1
}
