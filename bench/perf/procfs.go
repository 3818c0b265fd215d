package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of utime and stime in /proc/<pid>/stat (USER_HZ,
// 100 on every Linux architecture Go supports).
const clockTick = 10 * time.Millisecond

// procTree returns pid and all its descendants (nginx's workers, …).
func procTree(pid int) []int {
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(p); err == nil {
			children[st.ppid] = append(children[st.ppid], p)
		}
	}
	tree := []int{pid}
	for i := 0; i < len(tree); i++ {
		tree = append(tree, children[tree[i]]...)
	}
	return tree
}

type procStat struct {
	ppid         int
	utime, stime int64 // clock ticks, all threads
}

// readStat parses /proc/<pid>/stat. The command name (field 2) may hold
// spaces and parentheses, so fields are counted after its last ')'.
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
	if len(f) < 13 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	var st procStat
	st.ppid, _ = strconv.Atoi(f[1])
	st.utime, _ = strconv.ParseInt(f[11], 10, 64)
	st.stime, _ = strconv.ParseInt(f[12], 10, 64)
	return st, nil
}

// cpuTime is CPU time split into user and system (kernel) time.
type cpuTime struct{ user, sys time.Duration }

func (c cpuTime) total() time.Duration { return c.user + c.sys }

func (c cpuTime) sub(d cpuTime) cpuTime { return cpuTime{c.user - d.user, c.sys - d.sys} }

// treeCPU is the CPU time used so far by pid's process tree.
func treeCPU(pid int) cpuTime {
	var user, sys int64
	for _, p := range procTree(pid) {
		if st, err := readStat(p); err == nil {
			user += st.utime
			sys += st.stime
		}
	}
	return cpuTime{time.Duration(user) * clockTick, time.Duration(sys) * clockTick}
}

// statusKB reads one "Vm…: N kB" line of /proc/<pid>/status.
func statusKB(pid int, key string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// treePeakRSS sums VmHWM (peak resident set) over pid's process tree, in
// bytes. Pages shared between processes (nginx's master and worker) are
// counted once per process.
func treePeakRSS(pid int) int64 {
	var kb int64
	for _, p := range procTree(pid) {
		kb += statusKB(p, "VmHWM")
	}
	return kb << 10
}

// rss is pid's current resident set in bytes.
func rss(pid int) int64 { return statusKB(pid, "VmRSS") << 10 }

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
	return time.Duration(busyTicks(string(s), cpus)) * clockTick
}

// idle is the time the given cores have been idle since boot (idle and
// iowait): what is not idle is everything, processes, interrupts and
// softirq included.
func (s cpuStat) idle(cpus []int) time.Duration {
	return time.Duration(idleTicks(string(s), cpus)) * clockTick
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
