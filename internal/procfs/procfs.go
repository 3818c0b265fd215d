// Package procfs reads what the benchmarks measure of a process tree from
// Linux's /proc: its CPU time and its memory.
//
// Contract: a process tree is a pid and all its descendants (nginx's
// master and its workers) as /proc lists them at the call. Readings of a
// process that is gone, or of a /proc that cannot be read, count as zero:
// a reading is a sum over what could be read. Linux only.
package procfs

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ClockTick is the unit of utime and stime in /proc/<pid>/stat and of the
// times in /proc/stat (USER_HZ, 100 on every Linux architecture Go
// supports).
const ClockTick = 10 * time.Millisecond

// Tree returns pid and all its descendants.
func Tree(pid int) []int {
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

// CPUTime is CPU time split into user and system (kernel) time.
type CPUTime struct{ User, Sys time.Duration }

// Total is user and system time together.
func (c CPUTime) Total() time.Duration { return c.User + c.Sys }

// Sub is c less d (a reading at the end less one at the start).
func (c CPUTime) Sub(d CPUTime) CPUTime { return CPUTime{c.User - d.User, c.Sys - d.Sys} }

// TreeCPU is the CPU time used so far by pid's process tree, in steps of
// 10 ms.
func TreeCPU(pid int) CPUTime {
	var user, sys int64
	for _, p := range Tree(pid) {
		if st, err := readStat(p); err == nil {
			user += st.utime
			sys += st.stime
		}
	}
	return CPUTime{time.Duration(user) * ClockTick, time.Duration(sys) * ClockTick}
}

// StatusKB reads one "key: N kB" line of /proc/<pid>/status (VmRSS,
// VmHWM, …).
func StatusKB(pid int, key string) int64 {
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

// TreeKB sums StatusKB over pid's process tree. Pages shared between
// processes (nginx's master and worker) are counted once per process.
func TreeKB(pid int, key string) int64 {
	var kb int64
	for _, p := range Tree(pid) {
		kb += StatusKB(p, key)
	}
	return kb
}
