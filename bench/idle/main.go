// Command idle measures what idle keep-alive connections cost webrouter:
// CPU a second and memory, with many client connections open and quiet.
//
//	go run ./bench/idle                        # 9 000 connections, 10 s
//	go run ./bench/idle -conns 20000 -duration 20s -webrouter BIN
//
// It builds webrouter (or takes -webrouter), starts it on its embedded
// registry with GOMAXPROCS=1, opens -conns connections, sends one request
// on each (an unknown host: a 404 that keeps the connection) so that each
// waits for its next request as a kept-alive client's does, waits 2 s,
// and then reads the router's CPU time (/proc/<pid>/stat) over -duration,
// and its resident memory (VmRSS). It does the same with no connection
// first, for the idle router's own cost. What a connection costs is the
// difference, divided by -conns.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/webrouter/webrouter/internal/testbed"
)

func main() {
	conns := flag.Int("conns", 9000, "idle client connections (each takes two descriptors here: both ends)")
	dur := flag.Duration("duration", 10*time.Second, "how long CPU time is measured")
	bin := flag.String("webrouter", "", "webrouter binary (default: build it from this module)")
	flag.Parse()
	if err := run(*conns, *dur, *bin); err != nil {
		fmt.Fprintln(os.Stderr, "idle:", err)
		os.Exit(1)
	}
}

func run(n int, dur time.Duration, bin string) error {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max // for our ends, and inherited by webrouter for its own
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Cur < uint64(2*n+100) {
		return fmt.Errorf("-conns %d needs %d open files for both ends; the limit is %d", n, 2*n+100, lim.Cur)
	}
	tmp, err := os.MkdirTemp("", "webrouter-idle-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if bin, err = testbed.BinaryOr(bin, tmp); err != nil {
		return err
	}
	r, err := testbed.Start(bin, filepath.Join(tmp, "data"), append(os.Environ(), "GOMAXPROCS=1"), "--access-log", "off")
	if err != nil {
		return err
	}
	defer r.Stop(10 * time.Second)
	pid := r.Cmd.Process.Pid

	time.Sleep(2 * time.Second)
	base, err := measure(pid, dur)
	if err != nil {
		return err
	}
	var open []net.Conn
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", r.HTTP)
		if err != nil {
			return fmt.Errorf("connection %d: %w", i+1, err)
		}
		open = append(open, c)
		if err := oneRequest(c); err != nil {
			return fmt.Errorf("connection %d: %w", i+1, err)
		}
	}
	time.Sleep(2 * time.Second)
	loaded, err := measure(pid, dur)
	if err != nil {
		return err
	}
	fmt.Printf("webrouter %s, GOMAXPROCS=1, CPU over %v\n\n", bin, dur)
	fmt.Println("| connections | CPU ms/s | VmRSS MiB |")
	fmt.Println("|---|---|---|")
	fmt.Printf("| 0 | %.1f | %.1f |\n", base.cpu, base.rss)
	fmt.Printf("| %d idle | %.1f | %.1f |\n\n", n, loaded.cpu, loaded.rss)
	fmt.Printf("per idle connection: %.2f µs of CPU a second, %.1f KiB of memory\n",
		(loaded.cpu-base.cpu)*1000/float64(n), (loaded.rss-base.rss)*1024/float64(n))
	return nil
}

// oneRequest sends one request to a host the router does not know and
// reads its answer whole, leaving the connection kept alive.
func oneRequest(c net.Conn) error {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: idle.invalid\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Close {
		return fmt.Errorf("the router closed the connection after its %d", resp.StatusCode)
	}
	c.SetDeadline(time.Time{})
	return nil
}

type reading struct{ cpu, rss float64 } // ms of CPU a second, MiB

// measure reads pid's CPU time over d, and its resident memory after.
func measure(pid int, d time.Duration) (reading, error) {
	a, err := cpuTicks(pid)
	if err != nil {
		return reading{}, err
	}
	time.Sleep(d)
	b, err := cpuTicks(pid)
	if err != nil {
		return reading{}, err
	}
	rss, err := rssKiB(pid)
	if err != nil {
		return reading{}, err
	}
	// /proc counts in clock ticks of 10 ms (USER_HZ 100).
	return reading{cpu: float64(b-a) * 10 / d.Seconds(), rss: float64(rss) / 1024}, nil
}

// cpuTicks is the process's user+system time in clock ticks.
func cpuTicks(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	u, err1 := strconv.Atoi(f[11])
	k, err2 := strconv.Atoi(f[12])
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	return u + k, nil
}

// rssKiB is the process's VmRSS.
func rssKiB(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}
