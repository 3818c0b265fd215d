package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/certtest"
)

// TestUpgradeHandsOverHTTPSAndTCP: binary upgrades hand the HTTPS socket
// and the TCP service ports to the new process (by role "https" and
// "tcp:<port>") while TCP sessions, TLS handshakes and HTTP/2 requests run;
// none fails. Afterwards the new process still opens and closes ports.
func TestUpgradeHandsOverHTTPSAndTCP(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "webrouter")
	copyFile(t, binary, bin)
	r, err := launchBin(t, bin, t.TempDir(), "--https", "127.0.0.1:0", "--tcp-bind", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if pid := r.pid(); pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	ca := certtest.MustCA("ca")
	r.putCert("app", ca.MustIssue(certtest.Options{Names: []string{"app.test"}}))
	web := named(t, "web")
	r.mustAPI("PUT", "/v1/services/app", `{"mountpoints":["app.test"]}`)
	r.mustAPI("PUT", "/v1/services/app/instances/a", instanceJSON(web))
	port := freePort(t)
	host, p := tcpEcho(t, "a")
	inst := fmt.Sprintf(`{"address":%q,"port":%d}`, host, p)
	r.mustAPI("PUT", "/v1/services/echo", fmt.Sprintf(`{"tcp_ports":[%d]}`, port))
	r.mustAPI("PUT", "/v1/services/echo/instances/a", inst)
	tcpAddr := "127.0.0.1:" + strconv.Itoa(port)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var ok, failed atomic.Int64
	run := func(what string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := f(); err != nil {
					failed.Add(1)
					t.Errorf("%s: %v", what, err)
				} else {
					ok.Add(1)
				}
			}
		}()
	}
	for i := 0; i < 3; i++ {
		run("tcp", func() error { _, err := echoSession(tcpAddr, 3); return err })
		run("tls", func() error {
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", r.HTTPS,
				&tls.Config{ServerName: "app.test", RootCAs: ca.Pool()})
			if err == nil {
				c.Close()
			}
			return err
		})
		run("https", func() error {
			c := httpsClient(r.HTTPS, ca.Pool())
			defer c.CloseIdleConnections()
			resp, err := c.Get("https://app.test/")
			if err != nil {
				return err
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "web /" {
				return fmt.Errorf("answer %q", b)
			}
			return nil
		})
	}
	pids := []int{r.pid()}
	for i := 0; i < 2; i++ {
		time.Sleep(500 * time.Millisecond)
		old := pids[len(pids)-1]
		eventually(t, 20*time.Second, "the previous process to exit", func() bool { return len(pids) == 1 || !alive(pids[len(pids)-2]) })
		syscall.Kill(old, syscall.SIGHUP)
		eventually(t, 20*time.Second, "the upgrade", func() bool { p := r.pid(); return p != 0 && p != old })
		pids = append(pids, r.pid())
	}
	time.Sleep(500 * time.Millisecond)
	cancel()
	wg.Wait()
	t.Logf("pids %v: %d connections, %d failed", pids, ok.Load(), failed.Load())
	if failed.Load() != 0 || ok.Load() < 50 {
		t.Errorf("%d of %d connections failed across upgrades", failed.Load(), ok.Load()+failed.Load())
	}
	// The new process owns the port: removing the service closes it (no
	// copy left listening anywhere), adding it opens it again.
	eventually(t, 20*time.Second, "the old process to exit", func() bool { return !alive(pids[len(pids)-2]) })
	r.mustAPI("DELETE", "/v1/services/echo", "")
	if c, err := net.DialTimeout("tcp", tcpAddr, time.Second); err == nil {
		c.Close()
		t.Error("the port still accepts after its service was deleted")
	}
	r.mustAPI("PUT", "/v1/services/echo", fmt.Sprintf(`{"tcp_ports":[%d]}`, port))
	r.mustAPI("PUT", "/v1/services/echo/instances/a", inst)
	if _, err := echoSession(tcpAddr, 1); err != nil {
		t.Errorf("the port did not open again: %v", err)
	}
}
