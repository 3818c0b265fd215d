// Package etcdtest runs a real etcd cluster on loopback for tests and
// benchmarks: N members of Debian's etcd-server (/usr/bin/etcd, or $ETCD_BIN)
// on free ports in a directory of the caller's, with kill, stop and restart
// per member, and a Go client for what an operator would do with etcdctl.
package etcdtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// DefaultBinary is where Debian's etcd-server package installs etcd.
const DefaultBinary = "/usr/bin/etcd"

// Binary returns the etcd to run: $ETCD_BIN if set, else DefaultBinary.
func Binary() string {
	if b := os.Getenv("ETCD_BIN"); b != "" {
		return b
	}
	return DefaultBinary
}

// Cluster is a running etcd cluster. Its methods are safe for concurrent
// use.
type Cluster struct {
	Members []*Member
	// TLS names the PEM files of a cluster started with Options.TLS: the
	// CA and a client certificate and key it signed. Empty otherwise.
	TLS TLSFiles
	dir string
}

// Options shape a cluster; the zero value is a plain-HTTP cluster.
type Options struct {
	// TLS makes clients speak TLS to the members and present a
	// certificate signed by a CA generated for the cluster (see
	// Cluster.TLS). Peers still talk plain HTTP.
	TLS bool
}

// Member is one etcd process of a Cluster.
type Member struct {
	Name       string
	ClientAddr string // "127.0.0.1:port"
	PeerAddr   string
	dir        string // data directory
	args       []string
	logPath    string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Start starts an n-member cluster with its data and logs under dir and
// returns once it answers a linearizable read. Elections are tuned for
// loopback (50 ms heartbeat, 500 ms election timeout), so etcd's shortest
// lease is about one second.
func Start(dir string, n int) (*Cluster, error) { return StartWith(dir, n, Options{}) }

// StartWith is Start with options.
func StartWith(dir string, n int, opts Options) (*Cluster, error) {
	if _, err := os.Stat(Binary()); err != nil {
		return nil, fmt.Errorf("etcd binary %s: %w (install Debian's etcd-server: scripts/setup etcd-server, or set ETCD_BIN)", Binary(), err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("etcd cluster directory: %w", err)
	}
	c := &Cluster{dir: dir}
	scheme := "http://"
	if opts.TLS {
		files, err := writeTLSFiles(filepath.Join(dir, "tls"))
		if err != nil {
			return nil, fmt.Errorf("etcd test certificates: %w", err)
		}
		c.TLS, scheme = files, "https://"
	}
	// Every member's two ports in one call: ports found in separate calls
	// may repeat, as each call's listeners are closed when it returns.
	ports, err := freePorts(2 * n)
	if err != nil {
		return nil, err
	}
	var initial []string
	for i := 0; i < n; i++ {
		m := &Member{
			Name:       fmt.Sprintf("m%d", i),
			ClientAddr: fmt.Sprintf("127.0.0.1:%d", ports[2*i]),
			PeerAddr:   fmt.Sprintf("127.0.0.1:%d", ports[2*i+1]),
		}
		m.dir = filepath.Join(dir, m.Name)
		m.logPath = filepath.Join(dir, m.Name+".log")
		c.Members = append(c.Members, m)
		initial = append(initial, m.Name+"=http://"+m.PeerAddr)
	}
	for _, m := range c.Members {
		m.args = []string{
			"--name", m.Name, "--data-dir", m.dir,
			"--listen-client-urls", scheme + m.ClientAddr, "--advertise-client-urls", scheme + m.ClientAddr,
			"--listen-peer-urls", "http://" + m.PeerAddr, "--initial-advertise-peer-urls", "http://" + m.PeerAddr,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", "webrouter-test",
			"--heartbeat-interval", "50", "--election-timeout", "500",
			"--logger", "zap", "--log-outputs", m.logPath, "--log-level", "warn",
		}
		if opts.TLS {
			m.args = append(m.args, "--cert-file", c.TLS.ServerCert, "--key-file", c.TLS.ServerKey,
				"--trusted-ca-file", c.TLS.CACert, "--client-cert-auth")
		}
		if err := m.start(); err != nil {
			c.Close()
			return nil, err
		}
	}
	if err := c.WaitReady(30 * time.Second); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Require skips the test when there is no etcd binary, or fails it when
// the CI variable is "true": CI must run the etcd tests.
func Require(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(Binary()); err != nil {
		msg := fmt.Sprintf("etcd binary %s not found (scripts/setup etcd-server installs it): %v", Binary(), err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// StartT starts an n-member cluster for a test (see Require) and stops it
// when the test ends.
func StartT(t testing.TB, n int) *Cluster {
	t.Helper()
	return StartTWith(t, n, Options{})
}

// StartTWith is StartT with options.
func StartTWith(t testing.TB, n int, opts Options) *Cluster {
	t.Helper()
	Require(t)
	c, err := StartWith(t.TempDir(), n, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, m := range c.Members {
				t.Logf("etcd %s log (tail):\n%s", m.Name, m.LogTail(2000))
			}
		}
		c.Close()
	})
	return c
}

// Endpoints returns the client addresses of the members (all of them, or
// those named by index).
func (c *Cluster) Endpoints(members ...int) []string {
	if len(members) == 0 {
		for i := range c.Members {
			members = append(members, i)
		}
	}
	var out []string
	for _, i := range members {
		out = append(out, c.Members[i].ClientAddr)
	}
	return out
}

// URL returns the --registry value for the members (all when none are
// named) and prefix, e.g. "etcd://127.0.0.1:1,127.0.0.1:2/webrouter".
func (c *Cluster) URL(prefix string, members ...int) string {
	return "etcd://" + strings.Join(c.Endpoints(members...), ",") + prefix
}

// Client returns a client of the members (all when none are named); the
// caller closes it.
func (c *Cluster) Client(members ...int) (*clientv3.Client, error) {
	return c.client(5*time.Second, members...)
}

func (c *Cluster) client(dialTimeout time.Duration, members ...int) (*clientv3.Client, error) {
	cfg := clientv3.Config{Endpoints: c.Endpoints(members...), Logger: zap.NewNop(), DialTimeout: dialTimeout}
	if c.TLS.CACert != "" {
		tc, err := c.TLS.config()
		if err != nil {
			return nil, err
		}
		cfg.TLS = tc
	}
	return clientv3.New(cfg)
}

// WaitReady waits until a linearizable read through every running member
// succeeds.
func (c *Cluster) WaitReady(within time.Duration) error {
	deadline := time.Now().Add(within)
	for i, m := range c.Members {
		if !m.Running() {
			continue
		}
		var err error
		for {
			if err = c.probe(i); err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("etcd member %s not ready within %s: %w\n%s", m.Name, within, err, m.LogTail(2000))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

func (c *Cluster) probe(member int) error {
	cli, err := c.client(0, member)
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = cli.Get(ctx, "/etcdtest/ready")
	return err
}

// Leader returns the index of the member that leads the cluster, as a
// running member sees it.
func (c *Cluster) Leader() (int, error) {
	var last error
	for i, m := range c.Members {
		if !m.Running() {
			continue
		}
		idx, err := c.leaderSeenBy(i)
		if err == nil {
			return idx, nil
		}
		last = fmt.Errorf("member %s: %w", m.Name, err)
	}
	return -1, fmt.Errorf("no running member names a leader: %v", last)
}

// Follower picks a member to cut a client off from: one that does not lead,
// so that killing it costs the others no election (an election takes
// longer than a registry store's attempt timeout, and a store on the
// others would be degraded for its length). It returns that member and
// the rest.
func (c *Cluster) Follower() (cut int, rest []int, err error) {
	leader, err := c.Leader()
	if err != nil {
		return -1, nil, err
	}
	cut = (leader + 1) % len(c.Members)
	for i := range c.Members {
		if i != cut {
			rest = append(rest, i)
		}
	}
	return cut, rest, nil
}

// FollowerT is Follower, failing t on an error.
func (c *Cluster) FollowerT(t testing.TB) (cut int, rest []int) {
	t.Helper()
	cut, rest, err := c.Follower()
	if err != nil {
		t.Fatal(err)
	}
	return cut, rest
}

func (c *Cluster) leaderSeenBy(i int) (int, error) {
	cli, err := c.Client(i)
	if err != nil {
		return -1, err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := cli.Status(ctx, c.Members[i].ClientAddr)
	if err != nil {
		return -1, err
	}
	list, err := cli.MemberList(ctx)
	if err != nil {
		return -1, err
	}
	for _, pm := range list.Members {
		if pm.ID != st.Leader {
			continue
		}
		for j, m := range c.Members {
			if m.Name == pm.Name {
				return j, nil
			}
		}
	}
	return -1, fmt.Errorf("leader %x is not a member of this cluster", st.Leader)
}

// Close kills every member.
func (c *Cluster) Close() {
	for _, m := range c.Members {
		m.Kill()
	}
}

// Kill ends the member at once (SIGKILL), as a crash would.
func (m *Member) Kill() { m.signal(syscall.SIGKILL) }

// Stop ends the member gracefully (SIGTERM).
func (m *Member) Stop() { m.signal(syscall.SIGTERM) }

func (m *Member) signal(sig syscall.Signal) {
	m.mu.Lock()
	cmd, done := m.cmd, m.done
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Running reports whether the member's process is up.
func (m *Member) Running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return false
	}
	select {
	case <-m.done:
		return false
	default:
		return true
	}
}

// Restart starts a stopped or killed member again on its data directory
// and ports. It does not wait for it to rejoin: see Cluster.WaitReady.
func (m *Member) Restart() error {
	if m.Running() {
		return fmt.Errorf("etcd member %s is running", m.Name)
	}
	return m.start()
}

func (m *Member) start() error {
	log, err := os.OpenFile(m.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(Binary(), m.args...)
	cmd.Stdout, cmd.Stderr = log, log
	// The member dies with the test process, even if the test panics.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start etcd member %s: %w", m.Name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	m.mu.Lock()
	m.cmd, m.done = cmd, done
	m.mu.Unlock()
	return nil
}

// LogTail returns at most the last n bytes of the member's log.
func (m *Member) LogTail(n int) string {
	b, err := os.ReadFile(m.logPath)
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var out []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, errors.Join(errors.New("find a free port"), err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}
