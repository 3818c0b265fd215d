package e2e

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// dockerProxy is a unix-socket forwarder to the Docker engine's socket
// that a test controls: an agent given --docker unix://<Path> talks to the
// real engine through it, and down severs every connection (the event
// stream included) and refuses new ones until up. This is how one client's
// event stream is cut without restarting the engine, which other tests on
// the machine share.
type dockerProxy struct {
	Path     string
	upstream string // "unix" or "tcp" address of the engine, per DOCKER_HOST
	network  string
	ln       net.Listener

	mu    sync.Mutex
	conns map[net.Conn]bool
	isUp  bool
}

// startDockerProxy listens on a fresh socket (under a short directory:
// socket paths are limited to about 100 bytes) and forwards to the engine
// DOCKER_HOST names, or /var/run/docker.sock.
func startDockerProxy(t *testing.T) *dockerProxy {
	t.Helper()
	dir, err := os.MkdirTemp("", "wr-agent-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := &dockerProxy{Path: filepath.Join(dir, "docker.sock"), network: "unix", upstream: "/var/run/docker.sock",
		conns: map[net.Conn]bool{}, isUp: true}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		scheme, addr, _ := strings.Cut(h, "://")
		p.network, p.upstream = scheme, addr
	}
	if p.ln, err = net.Listen("unix", p.Path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.ln.Close()
		p.down()
	})
	go p.serve()
	return p
}

// URL is the --docker value for the agent.
func (p *dockerProxy) URL() string { return "unix://" + p.Path }

func (p *dockerProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.forward(c)
	}
}

// forward pipes one client connection to a new engine connection, unless
// the proxy is down (then the client sees its connection closed at once).
func (p *dockerProxy) forward(c net.Conn) {
	p.mu.Lock()
	if !p.isUp {
		p.mu.Unlock()
		c.Close()
		return
	}
	p.conns[c] = true
	p.mu.Unlock()
	defer p.drop(c)
	up, err := net.Dial(p.network, p.upstream)
	if err != nil {
		return
	}
	p.mu.Lock()
	p.conns[up] = true
	p.mu.Unlock()
	defer p.drop(up)
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
}

func (p *dockerProxy) drop(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// down closes every connection and refuses new ones.
func (p *dockerProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.isUp = false
	for c := range p.conns {
		c.Close()
	}
}

// up accepts connections again.
func (p *dockerProxy) up() {
	p.mu.Lock()
	p.isUp = true
	p.mu.Unlock()
}
