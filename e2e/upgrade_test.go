package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/webrouter/webrouter/internal/loadgen"
)

// upgradable starts webrouter from a copy of the binary that the test may
// replace, and makes sure whichever process serves at the end is stopped.
func upgradable(t *testing.T) (*router, string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "webrouter")
	copyFile(t, binary, bin)
	r, err := launchBin(t, bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if pid := r.pid(); pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return r, bin
}

// copyFile writes src to dst through a new file renamed into place, as a
// deploy does: the running binary is never written to.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	tmp := dst + ".new"
	if err := os.WriteFile(tmp, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

func (r *router) pid() int {
	var st struct {
		PID int `json:"pid"`
	}
	code, b := r.api("GET", "/v1/status", "")
	if code != 200 {
		return 0
	}
	decode(r.t, b, &st)
	return st.PID
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// TestFailedUpgradeKeepsServing: a new binary that cannot start leaves the
// running process serving, routing and taking writes, and the error says
// why; a good binary then upgrades.
func TestFailedUpgradeKeepsServing(t *testing.T) {
	r, bin := upgradable(t)
	web := named(t, "web")
	r.mustAPI("PUT", "/v1/services/app", `{"mountpoints":["app.test"]}`)
	r.mustAPI("PUT", "/v1/services/app/instances/a", instanceJSON(web))
	before := r.pid()

	broken := filepath.Join(t.TempDir(), "broken")
	os.WriteFile(broken, []byte("#!/bin/sh\necho 'this build is broken' >&2\nexit 3\n"), 0o755)
	copyFile(t, broken, bin)
	code, body := r.api("POST", "/v1/upgrade", "")
	if code != 500 || !strings.Contains(string(body), "keeps serving") || !strings.Contains(string(body), "exit status 3") {
		t.Errorf("failed upgrade answered %d %s", code, body)
	}
	if !strings.Contains(r.stderr.String(), "this build is broken") {
		t.Error("the new process's own error is not in the log")
	}
	if r.pid() != before {
		t.Fatal("the serving process changed after a failed upgrade")
	}
	if code, b, _ := r.get("app.test", "/"); code != 200 || b != "web /" {
		t.Errorf("routing after a failed upgrade: %d %q", code, b)
	}
	r.mustAPI("PUT", "/v1/services/app2", `{"mountpoints":["app2.test"]}`) // the registry was taken back

	copyFile(t, binary, bin)
	syscall.Kill(before, syscall.SIGHUP)
	eventually(t, 20*time.Second, "the new process to serve", func() bool { return r.pid() != before })
	eventually(t, 20*time.Second, "the old process to exit", func() bool { return !alive(before) })
	if code, b, _ := r.get("app.test", "/"); code != 200 || b != "web /" {
		t.Errorf("routing after the upgrade: %d %q", code, b)
	}
	var svc struct {
		Name string `json:"name"`
	}
	decode(t, r.mustAPI("GET", "/v1/services/app2", ""), &svc) // the write made after the failure survived
}

// TestUpgradeUnderLoad: three upgrades by SIGHUP while keep-alive clients
// that never retry and WebSocket sessions run; not one request or session
// may fail.
func TestUpgradeUnderLoad(t *testing.T) {
	r, _ := upgradable(t)
	var backends []*loadgen.Backend
	for i := 0; i < 2; i++ {
		b, err := loadgen.StartBackend(1024)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Stop)
		backends = append(backends, b)
		r.mustAPI("PUT", "/v1/services/load", `{"mountpoints":["load.test"]}`)
		r.mustAPI("PUT", fmt.Sprintf("/v1/services/load/instances/b%d", i), fmt.Sprintf(`{"address":"127.0.0.1","port":%d}`, b.Port()))
	}
	ws := wsEchoBackend(t)
	r.mustAPI("PUT", "/v1/services/ws", `{"mountpoints":["ws.test"]}`)
	r.mustAPI("PUT", "/v1/services/ws/instances/a", instanceJSON(ws))

	ctx, stop := context.WithCancel(context.Background())
	load := loadgen.Start(ctx, loadgen.Options{URL: "http://" + r.http + "/", Host: "load.test", Clients: 32, BodySize: 1024, Payload: 64})
	var sessions, wsFailed atomic.Int64
	var wsErrs sync.Map
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				sessions.Add(1)
				if err := wsSession(r.http, "ws.test", 10, 50*time.Millisecond); err != nil {
					wsFailed.Add(1)
					wsErrs.Store(err.Error(), true)
				}
			}
		}()
	}
	pids := []int{r.pid()}
	for i := 0; i < 3; i++ {
		time.Sleep(time.Second) // traffic flows between upgrades
		old := pids[len(pids)-1]
		// The previous old process must have exited before the next upgrade.
		eventually(t, 20*time.Second, "the previous process to exit", func() bool { return len(pids) == 1 || !alive(pids[len(pids)-2]) })
		syscall.Kill(old, syscall.SIGHUP)
		eventually(t, 20*time.Second, "the upgrade", func() bool { p := r.pid(); return p != 0 && p != old })
		pids = append(pids, r.pid())
	}
	time.Sleep(time.Second)
	stop()
	res := load.Wait()
	wg.Wait()
	t.Logf("pids %v; %d / %d requests failed; %d / %d WebSocket sessions failed", pids, res.Failed, res.Total, wsFailed.Load(), sessions.Load())
	if res.Failed != 0 {
		t.Errorf("%d of %d requests failed across upgrades: %v", res.Failed, res.Total, res.Reasons)
	}
	if wsFailed.Load() != 0 {
		var errs []string
		wsErrs.Range(func(k, _ any) bool { errs = append(errs, k.(string)); return true })
		t.Errorf("%d of %d WebSocket sessions failed: %v", wsFailed.Load(), sessions.Load(), errs)
	}
	if res.Total < 500 || sessions.Load() < 10 {
		t.Errorf("too little traffic to mean anything: %d requests, %d sessions", res.Total, sessions.Load())
	}
}

// wsSession dials through the router, echoes n messages every gap and
// closes normally; any other outcome is an error.
func wsSession(addr, host string, n int, gap time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws", &websocket.DialOptions{Host: host})
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer c.CloseNow()
	for i := 0; i < n; i++ {
		msg := fmt.Sprint("m", i)
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		_, got, err := c.Read(ctx)
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if string(got) != msg {
			return errors.New("echo mismatch")
		}
		time.Sleep(gap)
	}
	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}
