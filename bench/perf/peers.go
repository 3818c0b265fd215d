package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/webrouter/webrouter/internal/testbed"
)

// proxyNames are the proxies the benchmark knows, in report order. direct
// is no proxy: wrk against the backend, the ceiling of this machine's load
// side.
var proxyNames = []string{"webrouter", "nginx", "haproxy", "caddy", "direct"}

// peerBinary is the executable each peer needs on PATH.
var peerBinary = map[string]string{"nginx": "nginx", "haproxy": "haproxy", "caddy": "caddy"}

// running is one proxy under test.
type running struct {
	addr   string // where wrk sends requests
	admin  string // webrouter's admin API; "" for the others
	pid    int    // root of the process tree to measure; 0 for direct
	stop   func() error
	exited <-chan struct{} // closed when the process has exited; nil for direct
	output func() string   // its log so far
}

// proc is a child process with its combined output kept.
type proc struct {
	cmd  *exec.Cmd
	out  *testbed.Buffer
	done chan struct{}
}

func startProc(dir string, env []string, args ...string) (*proc, error) {
	p := &proc{cmd: exec.Command(args[0], args[1:]...), out: &testbed.Buffer{}, done: make(chan struct{})}
	p.cmd.Dir, p.cmd.Env = dir, env
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", args[0], err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	return p, nil
}

// stop sends SIGTERM, waits up to 10 s, then kills.
func (p *proc) stop() error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not exit within 10s of SIGTERM", p.cmd.Path)
	}
}

// startProxy starts proxy name configured with rs and returns once it
// routes the first and last of rs's hosts.
func (h *harness) startProxy(ctx context.Context, name string, rs routeSet) (*running, error) {
	if name == "direct" {
		return &running{addr: fmt.Sprintf("127.0.0.1:%d", h.ports[0]), stop: func() error { return nil }}, nil
	}
	var r *running
	var done <-chan struct{}
	var output func() string
	if name == "webrouter" || name == "baseline" {
		data, ok := h.wrData[rs.name]
		if !ok {
			return nil, fmt.Errorf("webrouter: route set %q was not loaded", rs.name)
		}
		launcher := h.wrLauncher
		if name == "baseline" {
			launcher = h.blLauncher
		}
		env := append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(h.workers))
		wr, err := testbed.Start(launcher, data, env, "--access-log", "off")
		if err != nil {
			return nil, err
		}
		r = &running{addr: wr.HTTP, admin: wr.Admin, pid: wr.Cmd.Process.Pid, stop: func() error { _, err := wr.Stop(10 * time.Second); return err }}
		done, output = wr.Done(), wr.Stderr.String
	} else {
		port, err := testbed.FreePort()
		if err != nil {
			return nil, err
		}
		dir, err := os.MkdirTemp(h.tmp, name+"-")
		if err != nil {
			return nil, err
		}
		pc := peerConfig{dir: dir, port: port, workers: h.workers, routes: rs}
		env, args, err := peerCommand(name, pc)
		if err != nil {
			return nil, err
		}
		p, err := startProc(dir, env, append(append([]string{}, h.runProxy...), args...)...)
		if err != nil {
			return nil, err
		}
		r = &running{addr: fmt.Sprintf("127.0.0.1:%d", port), pid: p.cmd.Process.Pid, stop: func() error {
			err := p.stop()
			os.RemoveAll(dir)
			return err
		}}
		done, output = p.done, p.out.String
	}
	r.exited, r.output = done, output
	if err := waitRoutable(ctx, r.addr, rs, done); err != nil {
		r.stop()
		return nil, fmt.Errorf("%s: %w\n%s", name, err, output())
	}
	return r, nil
}

// peerCommand writes a peer's configuration into pc.dir and returns its
// environment and command line: each runs in the foreground as the
// harness's child, never as the system service.
func peerCommand(name string, pc peerConfig) (env, args []string, err error) {
	env = os.Environ()
	switch name {
	case "nginx":
		err = writeFiles(pc.dir, map[string]string{"nginx.conf": nginxConfig(pc)})
		args = []string{tool("nginx"), "-p", pc.dir, "-e", filepath.Join(pc.dir, "error.log"),
			"-c", filepath.Join(pc.dir, "nginx.conf"), "-g", "daemon off;"}
	case "haproxy":
		cfg, hosts := haproxyConfig(pc)
		err = writeFiles(pc.dir, map[string]string{"haproxy.cfg": cfg, "hosts.map": hosts})
		args = []string{tool("haproxy"), "-db", "-f", filepath.Join(pc.dir, "haproxy.cfg")}
	case "caddy":
		err = writeFiles(pc.dir, map[string]string{"Caddyfile": caddyConfig(pc)})
		args = []string{tool("caddy"), "run", "--config", filepath.Join(pc.dir, "Caddyfile"), "--adapter", "caddyfile"}
		env = append(env, "GOMAXPROCS="+strconv.Itoa(pc.workers), "HOME="+pc.dir,
			"XDG_DATA_HOME="+pc.dir, "XDG_CONFIG_HOME="+pc.dir)
	default:
		err = fmt.Errorf("unknown proxy %q", name)
	}
	return env, args, err
}

// waitRoutable polls the proxy until the first and last hosts of rs answer
// 200, the process exits, or three minutes pass.
func waitRoutable(ctx context.Context, addr string, rs routeSet, exited <-chan struct{}) error {
	c := &http.Client{Timeout: 2 * time.Second}
	hosts := []string{rs.services[0].host, rs.services[len(rs.services)-1].host}
	deadline := time.Now().Add(3 * time.Minute)
	var last string
	for _, host := range hosts {
		for {
			req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/bytes/16", nil)
			req.Host = host
			resp, err := c.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
				last = fmt.Sprintf("Host %s: status %d", host, resp.StatusCode)
			} else {
				last = err.Error()
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("not routable within 3m: %s", last)
			}
			select {
			case <-exited:
				return fmt.Errorf("exited before routing (%s)", last)
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	c.CloseIdleConnections()
	return nil
}
