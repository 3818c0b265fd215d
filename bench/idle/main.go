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
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/webrouter/webrouter/internal/loadgen/scenario"
	"github.com/webrouter/webrouter/internal/procfs"
	"github.com/webrouter/webrouter/internal/testbed"
)

func main() {
	conns := flag.Int("conns", 9000, "idle client connections (each takes two descriptors here: both ends)")
	dur := flag.Duration("duration", 10*time.Second, "how long CPU time is measured")
	bin := flag.String("webrouter", "", "webrouter binary (default: build it from this module)")
	proxies := flag.String("proxies", "webrouter,nginx", "proxies to measure, one after the other: webrouter, nginx")
	flag.Parse()
	if err := run(*conns, *dur, *bin, strings.Split(*proxies, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "idle:", err)
		os.Exit(1)
	}
}

// proxy is one router under measurement: where it listens, the root of
// the process tree whose CPU and memory count, and how to stop it.
type proxy struct {
	addr string
	pid  int
	stop func()
}

func run(n int, dur time.Duration, bin string, proxies []string) error {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max // for our ends, and inherited by the proxy for its own
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
	type row struct {
		name       string
		base, idle reading
	}
	var rows []row
	for _, name := range proxies {
		var p *proxy
		switch strings.TrimSpace(name) {
		case "webrouter":
			if bin, err = testbed.BinaryOr(bin, tmp); err != nil {
				return err
			}
			p, err = startWebrouter(bin, tmp)
		case "nginx":
			p, err = startNginx(tmp, n)
		default:
			return fmt.Errorf("-proxies: %q is not webrouter or nginx", name)
		}
		if err != nil {
			return err
		}
		base, idle, err := measureIdle(p, n, dur)
		p.stop()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		rows = append(rows, row{name, base, idle})
	}
	fmt.Printf("one worker each (webrouter GOMAXPROCS=1, nginx worker_processes 1), CPU over %v, webrouter %s\n\n", dur, bin)
	fmt.Printf("| proxy | CPU ms/s, none → %d idle | VmRSS MiB, none → %d idle | per idle connection: CPU | memory |\n", n, n)
	fmt.Println("|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Printf("| %s | %.1f → %.1f | %.1f → %.1f | %.2f µs/s | %.1f KiB |\n", r.name, r.base.cpu, r.idle.cpu, r.base.rss, r.idle.rss,
			(r.idle.cpu-r.base.cpu)*1000/float64(n), (r.idle.rss-r.base.rss)*1024/float64(n))
	}
	return nil
}

// startWebrouter starts bin on its embedded registry, on one core.
func startWebrouter(bin, tmp string) (*proxy, error) {
	r, err := testbed.Start(bin, filepath.Join(tmp, "data"), append(os.Environ(), "GOMAXPROCS=1"), "--access-log", "off")
	if err != nil {
		return nil, err
	}
	return &proxy{addr: r.HTTP, pid: r.Cmd.Process.Pid, stop: func() { r.Stop(10 * time.Second) }}, nil
}

// startNginx starts Debian's nginx in the foreground, one worker, every
// host answered 404 on a kept-alive connection, with room for n
// connections and the idle timeout longer than the measurement.
func startNginx(tmp string, n int) (*proxy, error) {
	bin, err := scenario.NginxBinary()
	if err != nil {
		return nil, err
	}
	port, err := testbed.FreePort()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(tmp, "nginx")
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile %[1]d;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections %[3]d; }
http {
    access_log off;
    client_body_temp_path %[2]s/tmp;
    keepalive_timeout 300s;
    keepalive_requests 1000000;
    server { listen 127.0.0.1:%[4]d default_server; return 404; }
}
`, 2*n+100, dir, n+100, port)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-p", dir+"/", "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() {
		cmd.Process.Signal(syscall.SIGQUIT)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("nginx did not listen within 10 s: %s", out.String())
		}
	}
	return &proxy{addr: addr, pid: cmd.Process.Pid, stop: stop}, nil
}

// measureIdle reads p's cost with no connection, then with n that have
// each had one answer and wait.
func measureIdle(p *proxy, n int, dur time.Duration) (base, idle reading, err error) {
	time.Sleep(2 * time.Second)
	if base, err = measure(p.pid, dur); err != nil {
		return
	}
	var open []net.Conn
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", p.addr)
		if err != nil {
			return base, idle, fmt.Errorf("connection %d: %w", i+1, err)
		}
		open = append(open, c)
		if err := oneRequest(c); err != nil {
			return base, idle, fmt.Errorf("connection %d: %w", i+1, err)
		}
	}
	time.Sleep(2 * time.Second)
	idle, err = measure(p.pid, dur)
	return base, idle, err
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

// measure reads the CPU time of pid's process tree over d, and its
// resident memory after; it fails if the process is gone (its readings
// would be zeros).
func measure(pid int, d time.Duration) (reading, error) {
	a := procfs.TreeCPU(pid)
	time.Sleep(d)
	cpu := procfs.TreeCPU(pid).Sub(a).Total()
	kib := procfs.TreeKB(pid, "VmRSS")
	if kib == 0 {
		return reading{}, fmt.Errorf("process %d is gone", pid)
	}
	return reading{cpu: float64(cpu.Milliseconds()) / d.Seconds(), rss: float64(kib) / 1024}, nil
}
