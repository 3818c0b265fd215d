package scenario

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/webrouter/webrouter/internal/testbed"
)

// BuildDemoapp compiles cmd/demoapp from the module rooted at root into
// dir and returns the binary's path.
func BuildDemoapp(root, dir string) (string, error) {
	bin := filepath.Join(dir, "demoapp")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/demoapp")
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build demoapp: %w\n%s", err, out.String())
	}
	return bin, nil
}

// App is one running demoapp process on a loopback port.
type App struct {
	Name string
	Port int
	cmd  *exec.Cmd
	log  *testbed.Buffer
	done chan struct{}
}

// StartApp runs the demoapp binary bin as name, answering bodySize bytes,
// healthy readyAfter after its start, and returns once it listens.
func StartApp(bin, name string, bodySize int, readyAfter time.Duration) (*App, error) {
	a := &App{Name: name, log: &testbed.Buffer{}, done: make(chan struct{})}
	a.cmd = exec.Command(bin, "-listen", "127.0.0.1:0", "-name", name, "-body-size", strconv.Itoa(bodySize),
		"-ready-after", readyAfter.String(), "-grace", "60s")
	a.cmd.Stderr, a.cmd.Stdout = a.log, a.log
	if err := a.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start demoapp %s: %w", name, err)
	}
	go func() { a.cmd.Wait(); close(a.done) }()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for a.Port == 0 {
		select {
		case <-a.done:
			return nil, fmt.Errorf("demoapp %s exited before listening:\n%s", name, a.log.String())
		case <-deadline.C:
			a.Kill()
			return nil, fmt.Errorf("demoapp %s did not listen within 10s:\n%s", name, a.log.String())
		case <-time.After(5 * time.Millisecond):
		}
		for _, l := range a.log.Lines("listening") {
			addr, _ := l["addr"].(string)
			_, port, _ := net.SplitHostPort(addr)
			a.Port, _ = strconv.Atoi(port)
		}
	}
	return a, nil
}

// HealthURL is the app's health endpoint, reached directly.
func (a *App) HealthURL() string { return fmt.Sprintf("http://127.0.0.1:%d/healthz", a.Port) }

// Stop sends SIGTERM and waits for the graceful exit (in-flight requests
// finish, WebSockets run until their clients close them) within the given
// time, then kills the app.
func (a *App) Stop(within time.Duration) error {
	a.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(within)
	defer t.Stop()
	select {
	case <-a.done:
		return nil
	case <-t.C:
		a.Kill()
		return fmt.Errorf("demoapp %s did not exit within %s of SIGTERM", a.Name, within)
	}
}

// Kill sends SIGKILL and waits for the process to be gone.
func (a *App) Kill() {
	a.cmd.Process.Kill()
	<-a.done
}
