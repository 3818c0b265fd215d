package scenario

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/webrouter/webrouter/internal/testbed"
)

// Nginx is the seeds' stack: nginx fed by a config file rendered from the
// desired state, every change applied by rewriting the file and running
// `nginx -s reload`, the binary upgraded with USR2, WINCH and QUIT.
type Nginx struct {
	bin, prefix, conf string
	httpPort, ctlPort int
	generation        int
	state             *nginxState
	master            proc // the current master (a daemon: not a child of this process)
	workers           int  // worker processes per master: what worker_processes auto starts
	ctl               *http.Client
}

// StartNginx starts nginx from bin with an empty configuration in a fresh
// directory under dir and returns once it serves.
func StartNginx(bin, dir string) (*Nginx, error) {
	prefix, err := os.MkdirTemp(dir, "nginx-")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(prefix, "tmp"), 0o755); err != nil {
		return nil, err
	}
	n := &Nginx{bin: bin, prefix: prefix, conf: filepath.Join(prefix, "nginx.conf"), state: newNginxState(),
		ctl: &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}}
	if n.workers, err = onlineCPUs(); err != nil {
		return nil, err
	}
	if n.httpPort, err = testbed.FreePort(); err != nil {
		return nil, err
	}
	if n.ctlPort, err = testbed.FreePort(); err != nil {
		return nil, err
	}
	if err := n.write(); err != nil {
		return nil, err
	}
	// nginx daemonizes: the command returns once the master runs, and the
	// master writes its pid file.
	if out, err := exec.Command(bin, n.args()...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("start nginx: %w\n%s", err, out)
	}
	if err := poll(context.Background(), 10*time.Second, 5*time.Millisecond, "nginx to write its pid file", func() (bool, error) {
		var ok bool
		n.master, ok = n.readPid()
		return ok, nil
	}); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, n.Log())
	}
	if err := n.Sync(context.Background()); err != nil {
		n.Close()
		return nil, fmt.Errorf("nginx did not start: %w\n%s", err, n.Log())
	}
	return n, nil
}

// Name is "nginx".
func (n *Nginx) Name() string { return "nginx" }

// Addr is the HTTP entry point.
func (n *Nginx) Addr() string { return "127.0.0.1:" + strconv.Itoa(n.httpPort) }

func (n *Nginx) args(extra ...string) []string {
	return append([]string{"-p", n.prefix + "/", "-c", n.conf, "-e", filepath.Join(n.prefix, "error.log")}, extra...)
}

// write renders the next generation of nginx.conf and replaces the file
// in one rename, so nginx never reads half a file.
func (n *Nginx) write() error {
	n.generation++
	c := nginxConf{prefix: n.prefix, httpPort: n.httpPort, ctlPort: n.ctlPort, generation: n.generation, state: n.state}
	tmp := n.conf + ".tmp"
	if err := os.WriteFile(tmp, []byte(c.render()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, n.conf)
}

// apply writes the config and runs `nginx -s reload`, which signals the
// master and returns; the master then starts new workers and retires the
// old ones gracefully.
func (n *Nginx) apply(ctx context.Context) error {
	if err := n.write(); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, n.bin, n.args("-s", "reload")...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("nginx -s reload: %w\n%s", err, out)
	}
	return nil
}

func (n *Nginx) service(name string) (*nginxService, error) {
	s, ok := n.state.services[name]
	if !ok {
		return nil, fmt.Errorf("no service %q", name)
	}
	return s, nil
}

// PutService adds or replaces a service, keeping its instances.
func (n *Nginx) PutService(ctx context.Context, name string, s Service) error {
	old, ok := n.state.services[name]
	ns := &nginxService{Service: s, instances: map[string]Instance{}}
	if ok {
		ns.instances = old.instances
	}
	n.state.services[name] = ns
	return n.apply(ctx)
}

// DeleteService removes a service and its instances.
func (n *Nginx) DeleteService(ctx context.Context, name string) error {
	delete(n.state.services, name)
	return n.apply(ctx)
}

// PutInstance adds or replaces an instance.
func (n *Nginx) PutInstance(ctx context.Context, service, id string, in Instance) error {
	s, err := n.service(service)
	if err != nil {
		return err
	}
	s.instances[id] = in
	return n.apply(ctx)
}

// DeleteInstance removes an instance.
func (n *Nginx) DeleteInstance(ctx context.Context, service, id string) error {
	s, err := n.service(service)
	if err != nil {
		return err
	}
	delete(s.instances, id)
	return n.apply(ctx)
}

// AddHealthy polls healthURL until it answers 200 (open-source nginx has
// no active health checks, so the deploy tool checks), then adds the
// instance and waits until the reload is served.
func (n *Nginx) AddHealthy(ctx context.Context, service, id string, in Instance, healthURL string) error {
	s, err := n.service(service)
	if err != nil {
		return err
	}
	interval := s.HealthInterval
	if interval <= 0 {
		interval = time.Second
	}
	if err := poll(ctx, 60*time.Second, interval, healthURL+" to answer 200", func() (bool, error) {
		code, _, err := get(ctx, n.ctl, healthURL)
		return code == http.StatusOK, err
	}); err != nil {
		return err
	}
	if err := n.PutInstance(ctx, service, id, in); err != nil {
		return err
	}
	return n.Sync(ctx)
}

// Drain removes the instance from the config and waits until the reload is
// served. nginx cannot tell what its old workers still hold on the
// instance: the backend's graceful stop has to cover that.
func (n *Nginx) Drain(ctx context.Context, service, id string) error {
	if err := n.DeleteInstance(ctx, service, id); err != nil {
		return err
	}
	return n.Sync(ctx)
}

// Sync returns once the generation last written is served and only by
// it: the control server answers with that generation, and the master has
// exactly its number of workers that are not shutting down. (A reload
// starts all the new workers before it tells the old ones to stop
// accepting, so until then there are more.)
func (n *Nginx) Sync(ctx context.Context) error {
	want := strconv.Itoa(n.generation)
	url := fmt.Sprintf("http://127.0.0.1:%d/generation", n.ctlPort)
	return poll(ctx, 30*time.Second, 5*time.Millisecond, "nginx to serve generation "+want, func() (bool, error) {
		code, body, err := get(ctx, n.ctl, url)
		if code != http.StatusOK || strings.TrimSpace(body) != want {
			return false, err
		}
		if got := len(n.accepting(n.master)); got != n.workers {
			return false, fmt.Errorf("%d workers accepting, want %d", got, n.workers)
		}
		if pid := n.oldWorkerListening(n.master); pid != 0 {
			return false, fmt.Errorf("worker %d, shutting down, still holds the listening socket", pid)
		}
		return true, nil
	})
}

// oldWorkerListening returns a worker of master that is shutting down but
// still holds the entry point's listening socket (0: none). nginx renames
// a worker "shutting down" before it closes its listening sockets, and in
// between the worker may still accept a connection and serve it with the
// old configuration.
func (n *Nginx) oldWorkerListening(master proc) int {
	sock := listeningSocket(n.httpPort)
	if sock == "" {
		return 0
	}
	for _, p := range master.children() {
		if strings.Contains(title(p.pid), "shutting down") && holdsFile(p.pid, sock) {
			return p.pid
		}
	}
	return 0
}

// listeningSocket names the socket listening on 127.0.0.1:port as
// /proc/<pid>/fd links do ("socket:[inode]"), from /proc/net/tcp; "" if
// there is none.
func listeningSocket(port int) string {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return ""
	}
	local := fmt.Sprintf("0100007F:%04X", port)
	for _, line := range strings.Split(string(b), "\n") {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		f := strings.Fields(line)
		if len(f) >= 10 && f[1] == local && f[3] == "0A" { // 0A: LISTEN
			return "socket:[" + f[9] + "]"
		}
	}
	return ""
}

// holdsFile reports whether process pid has a descriptor linked to name.
func holdsFile(pid int, name string) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if l, err := os.Readlink(dir + "/" + e.Name()); err == nil && l == name {
			return true
		}
	}
	return false
}

// accepting returns master's worker processes that are not shutting down.
func (n *Nginx) accepting(master proc) []proc {
	var out []proc
	for _, p := range master.children() {
		if t := title(p.pid); strings.Contains(t, "worker process") && !strings.Contains(t, "shutting down") {
			out = append(out, p)
		}
	}
	return out
}

// Upgrade performs nginx's binary upgrade: USR2 makes the master start a
// new master from the same binary, sharing the listening sockets; once the
// new master's workers run, WINCH makes the old workers stop accepting and
// finish gracefully (WebSockets included), and QUIT makes the old master
// exit.
func (n *Nginx) Upgrade(ctx context.Context) error {
	if err := n.Sync(ctx); err != nil {
		return err
	}
	old := n.master
	if err := old.signal(syscall.SIGUSR2); err != nil {
		return fmt.Errorf("USR2 to nginx %d: %w", old.pid, err)
	}
	var master proc
	if err := poll(ctx, 30*time.Second, 10*time.Millisecond, "the new nginx master and its workers", func() (bool, error) {
		// nginx.pid is renamed nginx.pid.oldbin, then written by the new master.
		p, ok := n.readPid()
		master = p
		return ok && p != old && len(n.accepting(p)) == n.workers, nil
	}); err != nil {
		return err
	}
	if err := old.signal(syscall.SIGWINCH); err != nil {
		return fmt.Errorf("WINCH to nginx %d: %w", old.pid, err)
	}
	if err := poll(ctx, 120*time.Second, 20*time.Millisecond, "the old nginx workers to finish", func() (bool, error) {
		for _, p := range old.children() {
			if p != master {
				return false, nil
			}
		}
		return true, nil
	}); err != nil {
		return err
	}
	n.master = master
	if err := old.signal(syscall.SIGQUIT); err != nil {
		return fmt.Errorf("QUIT to nginx %d: %w", old.pid, err)
	}
	return old.waitExit(ctx, 30*time.Second)
}

// readPid returns the process named in nginx.pid; false if there is no
// such file or process.
func (n *Nginx) readPid() (proc, bool) {
	b, err := os.ReadFile(filepath.Join(n.prefix, "nginx.pid"))
	if err != nil {
		return proc{}, false
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return findProc(pid)
}

// Close stops nginx (QUIT: graceful, within 30s, then KILL) and waits for
// its master and workers to exit.
func (n *Nginx) Close() error {
	workers := n.master.children()
	err := n.master.stop(syscall.SIGQUIT, 30*time.Second)
	for _, w := range workers { // gone with the master, unless it was killed
		if e := w.stop(syscall.SIGKILL, 5*time.Second); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// Log is nginx's error log.
func (n *Nginx) Log() string {
	b, _ := os.ReadFile(filepath.Join(n.prefix, "error.log"))
	return string(b)
}

// get fetches url and returns the status and body.
func get(ctx context.Context, c *http.Client, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err = io.Copy(&b, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b.String(), err
}

// NginxBinary finds nginx on the PATH or in /usr/sbin.
func NginxBinary() (string, error) {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx", nil
	}
	return "", fmt.Errorf("nginx not found on the PATH or in /usr/sbin: install it (Debian: apt-get install nginx)")
}

// onlineCPUs is the number of worker processes "worker_processes auto"
// starts: sysconf(_SC_NPROCESSORS_ONLN), which getconf reports.
func onlineCPUs() (int, error) {
	out, err := exec.Command("getconf", "_NPROCESSORS_ONLN").Output()
	if err != nil {
		return 0, fmt.Errorf("getconf _NPROCESSORS_ONLN: %w", err)
	}
	return strconv.Atoi(strings.TrimSpace(string(out)))
}
