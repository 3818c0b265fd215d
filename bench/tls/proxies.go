package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/webrouter/webrouter/internal/testbed"
)

// start starts the named proxy and returns once both its ports accept.
func (e *env) start(name string) (*proxy, error) {
	var p *proxy
	var err error
	if name == "haproxy" {
		p, err = e.startHAProxy()
	} else {
		p, err = e.startWebrouter()
	}
	if err != nil {
		return nil, err
	}
	for _, a := range []string{p.https, p.tcp} {
		if err := waitPort(a); err != nil {
			p.stop()
			return nil, fmt.Errorf("%s: %w\n%s", name, err, p.output())
		}
	}
	return p, nil
}

func (e *env) startWebrouter() (*proxy, error) {
	data := filepath.Join(e.tmp, fmt.Sprintf("data-%d", time.Now().UnixNano()))
	var environ []string
	if e.proxyCPU != "" {
		environ = append(os.Environ(), "GOMAXPROCS=1") // it gets one core, as HAProxy does
	}
	r, err := testbed.Start(e.webrouter, data, environ, "--https", "127.0.0.1:0", "--tcp-bind", "127.0.0.1", "--access-log", "off")
	if err != nil {
		return nil, err
	}
	p := &proxy{name: "webrouter", https: r.HTTPS, stop: func() { r.Stop(10 * time.Second) }, output: r.Stderr.String,
		pid: r.Cmd.Process.Pid}
	if e.proxyCPU != "" {
		pin(r.Cmd.Process.Pid, e.proxyCPU)
	}
	port, err := testbed.FreePort()
	if err != nil {
		p.stop()
		return nil, err
	}
	p.tcp = "127.0.0.1:" + strconv.Itoa(port)
	webHost, webPort, _ := net.SplitHostPort(e.web.Addr)
	echoHost, echoPort, _ := net.SplitHostPort(e.echo)
	cert, _ := json.Marshal(map[string]string{"cert": e.cert.CertPEM, "key": e.cert.KeyPEM})
	for _, call := range [][2]string{
		{"/v1/certificates/default", string(cert)},
		{"/v1/services/web", `{"mountpoints":["127.0.0.1"]}`},
		{"/v1/services/web/instances/a", fmt.Sprintf(`{"address":%q,"port":%s}`, webHost, webPort)},
		{"/v1/services/echo", fmt.Sprintf(`{"tcp_ports":[%d]}`, port)},
		{"/v1/services/echo/instances/a", fmt.Sprintf(`{"address":%q,"port":%s}`, echoHost, echoPort)},
	} {
		code, body, err := r.API(context.Background(), http.DefaultClient, "", "PUT", call[0], call[1])
		if err != nil || code/100 != 2 {
			p.stop()
			return nil, fmt.Errorf("webrouter PUT %s: %d %s %v", call[0], code, body, err)
		}
	}
	return p, nil
}

// haproxyConfig mirrors webrouter's set-up: X-Forwarded-For added,
// backend connections kept alive and shared between client connections
// (as webrouter's pool does), least_conn for the TCP service.
const haproxyConfig = `global
	maxconn 4000
	log stderr format raw local0 err
	tune.ssl.default-dh-param 2048
defaults
	mode http
	timeout connect 5s
	timeout client 60s
	timeout server 60s
	option forwardfor
frontend https
	bind {{HTTPS}} ssl crt {{PEM}} alpn h2,http/1.1
	default_backend web
backend web
	balance roundrobin
	http-reuse always
	server web {{WEB}}
frontend tcp
	mode tcp
	bind {{TCP}}
	default_backend echo
backend echo
	mode tcp
	balance leastconn
	server echo {{ECHO}}
`

func (e *env) startHAProxy() (*proxy, error) {
	ports := make([]int, 2)
	for i := range ports {
		p, err := testbed.FreePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	p := &proxy{name: "haproxy", https: "127.0.0.1:" + strconv.Itoa(ports[0]), tcp: "127.0.0.1:" + strconv.Itoa(ports[1])}
	pem := filepath.Join(e.tmp, "haproxy.pem") // HAProxy takes the chain and the key in one file
	if err := os.WriteFile(pem, []byte(e.cert.CertPEM+e.cert.KeyPEM), 0o600); err != nil {
		return nil, err
	}
	cfg := strings.NewReplacer("{{HTTPS}}", p.https, "{{TCP}}", p.tcp, "{{PEM}}", pem, "{{WEB}}", e.web.Addr, "{{ECHO}}", e.echo).Replace(haproxyConfig)
	cfgFile := filepath.Join(e.tmp, "haproxy.cfg")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	args := []string{"haproxy", "-db", "-f", cfgFile}
	if e.proxyCPU != "" {
		args = append([]string{"taskset", "-c", e.proxyCPU}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	out := &testbed.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	p.output = out.String
	p.pid = cmd.Process.Pid
	p.stop = func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	return p, nil
}

func pin(pid int, cpus string) {
	exec.Command("taskset", "-a", "-p", "-c", cpus, strconv.Itoa(pid)).Run()
}

func waitPort(addr string) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s does not accept connections", addr)
}

var (
	reRate   = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	reErrors = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	reNon2xx = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// runWrk runs wrk for d on url and returns requests per second. With
// closeEach, every request asks for "Connection: close", so each one
// starts a new TCP and TLS connection.
func runWrk(ctx context.Context, cpus, url string, conns int, d time.Duration, closeEach bool) (float64, error) {
	args := []string{"wrk", "-t1", "-c" + strconv.Itoa(conns), "-d" + strconv.Itoa(int(d.Seconds())) + "s"}
	if closeEach {
		args = append(args, "-H", "Connection: close")
	}
	args = append(args, url)
	if cpus != "" {
		args = append([]string{"taskset", "-c", cpus}, args...)
	}
	out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	m := reRate.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("wrk printed no rate:\n%s", out)
	}
	if e := reNon2xx.FindSubmatch(out); e != nil {
		return 0, fmt.Errorf("wrk saw non-2xx responses: %s\n%s", e[1], out)
	}
	if e := reErrors.FindSubmatch(out); e != nil && !closeEach {
		// With Connection: close wrk counts the server's close as a read
		// error on some versions; keep-alive runs must be clean.
		return 0, fmt.Errorf("wrk saw socket errors: %s\n%s", e[0], out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

// startEcho starts the TCP echo backend.
func startEcho() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	go testbed.Accept(ln, func(c net.Conn) { io.Copy(c, c) })
	return ln.Addr().String(), func() { ln.Close() }, nil
}

// tcpThroughput streams through addr on conns connections for d, each
// writing 32 KiB blocks while reading the echo, and returns the MiB/s
// echoed back (every byte crossed the proxy twice).
func tcpThroughput(ctx context.Context, addr string, conns int, d time.Duration) (float64, error) {
	var got atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	errc := make(chan error, conns)
	block := make([]byte, 32<<10)
	for i := 0; i < conns; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return 0, err
		}
		c.SetDeadline(deadline)
		wg.Add(2)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if _, err := c.Write(block); err != nil {
					break
				}
			}
		}()
		go func() {
			defer wg.Done()
			defer c.Close()
			buf := make([]byte, 64<<10)
			for {
				n, err := c.Read(buf)
				got.Add(int64(n))
				if err != nil {
					if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
						errc <- err
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		return 0, fmt.Errorf("tcp: %w", err)
	}
	return float64(got.Load()) / (1 << 20) / d.Seconds(), nil
}

// cpuSeconds returns the CPU time (user + system) a process has used, from
// /proc/<pid>/stat; 0 if it cannot be read.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}
