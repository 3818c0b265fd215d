package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/certtest"
	"github.com/webrouter/webrouter/internal/testbed"
)

// tcpEcho starts a line echo server that prefixes each answer with name.
func tcpEcho(t *testing.T, name string) (string, int) {
	t.Helper()
	addr := testbed.ServeTCP(t, func(c net.Conn) {
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			if _, err := fmt.Fprintf(c, "%s %s\n", name, sc.Text()); err != nil {
				return
			}
		}
		// The client half-closed: say goodbye on our half.
		fmt.Fprintf(c, "%s bye\n", name)
	})
	host, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	return host, port
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// echoSession opens a connection, exchanges n lines, half-closes and
// reads the goodbye; it returns the backend that answered.
func echoSession(addr string, n int) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	rd := bufio.NewReader(c)
	who := ""
	for i := 0; i < n; i++ {
		if _, err := fmt.Fprintf(c, "line %d\n", i); err != nil {
			return "", err
		}
		got, err := rd.ReadString('\n')
		if err != nil {
			return "", fmt.Errorf("line %d: %w", i, err)
		}
		name, rest, _ := strings.Cut(strings.TrimSpace(got), " ")
		if rest != fmt.Sprintf("line %d", i) {
			return "", fmt.Errorf("echo of line %d: %q", i, got)
		}
		who = name
	}
	c.(*net.TCPConn).CloseWrite()
	bye, err := rd.ReadString('\n')
	if err != nil || bye != who+" bye\n" {
		return "", fmt.Errorf("after the half-close: %q %v", bye, err)
	}
	if rest, err := io.ReadAll(rd); err != nil || len(rest) != 0 {
		return "", fmt.Errorf("after the goodbye: %q %v", rest, err)
	}
	return who, nil
}

// TestTCPEchoService: 100 concurrent connections to a TCP service with two
// instances (least_conn), each exchanging lines and half-closing; the
// service's port is listed in /v1/routes.
func TestTCPEchoService(t *testing.T) {
	r := startTLSRouter(t)
	port := freePort(t)
	r.mustAPI("PUT", "/v1/services/tcpfront", fmt.Sprintf(`{"mountpoints":["tcp://:%d"]}`, port))
	for _, name := range []string{"a", "b"} {
		host, p := tcpEcho(t, name)
		r.mustAPI("PUT", "/v1/services/tcpfront/instances/"+name, fmt.Sprintf(`{"address":%q,"port":%d}`, host, p))
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	var wg sync.WaitGroup
	var mu sync.Mutex
	by := map[string]int{}
	var failed atomic.Int64
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			who, err := echoSession(addr, 20)
			if err != nil {
				failed.Add(1)
				t.Error(err)
				return
			}
			mu.Lock()
			by[who]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	// Both instances serve. The split is not asserted to be even: least_conn
	// rightly favours whichever echo server finishes sessions faster, and
	// on a loaded machine one of them can be much slower for a while
	// (a:16 b:84 was seen).
	if failed.Load() != 0 || by["a"]+by["b"] != 100 || by["a"] == 0 || by["b"] == 0 {
		t.Errorf("sessions by instance %v, %d failed", by, failed.Load())
	}
	_, routes := r.api("GET", "/v1/routes", "")
	if !strings.Contains(string(routes), fmt.Sprintf(`"port": %d`, port)) || !strings.Contains(string(routes), `"listening": true`) {
		t.Errorf("routes: %s", routes)
	}
}

// TestTCPPortInUse: a port that cannot be opened is reported on the
// service and retried; other routes are unaffected.
func TestTCPPortInUse(t *testing.T) {
	r := startTLSRouter(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := busy.Addr().(*net.TCPAddr).Port
	host, p := tcpEcho(t, "a")
	r.mustAPI("PUT", "/v1/services/blocked", fmt.Sprintf(`{"tcp_ports":[%d]}`, port))
	r.mustAPI("PUT", "/v1/services/blocked/instances/a", fmt.Sprintf(`{"address":%q,"port":%d}`, host, p))
	web := named(t, "web")
	r.mustAPI("PUT", "/v1/services/app", `{"mountpoints":["app.test"]}`)
	r.mustAPI("PUT", "/v1/services/app/instances/a", instanceJSON(web))
	if code, body, _ := r.get("app.test", "/"); code != 200 || body != "web /" {
		t.Errorf("HTTP route: %d %q", code, body)
	}
	_, routes := r.api("GET", "/v1/routes", "")
	if !strings.Contains(string(routes), "address already in use") || !strings.Contains(string(routes), `"listening": false`) {
		t.Errorf("routes do not report the port: %s", routes)
	}
	_, metrics := r.api("GET", "/metrics", "")
	if !strings.Contains(string(metrics), fmt.Sprintf(`webrouter_tcp_port_up{port="%d",service="blocked"} 0`, port)) {
		t.Error("metric does not report the port down")
	}
	busy.Close()
	eventually(t, 10*time.Second, "the port to be opened on retry", func() bool {
		_, err := echoSession("127.0.0.1:"+strconv.Itoa(port), 1)
		return err == nil
	})
	if n := len(r.stderr.Lines("tcp port could not be opened; retrying")); n != 1 {
		t.Errorf("logged %d times, want once", n)
	}
}

// TestLiveChangesUnderLoad: while TCP sessions and fresh TLS handshakes
// run without pause, a TCP port and a certificate are added and removed
// several times; no connection of the steady load fails, and each change
// is in effect when its write returns.
func TestLiveChangesUnderLoad(t *testing.T) {
	r := startTLSRouter(t)
	ca := certtest.MustCA("ca")
	r.putCert("steady", ca.MustIssue(certtest.Options{Names: []string{"steady.test"}}))
	steadyPort := freePort(t)
	host, p := tcpEcho(t, "a")
	inst := fmt.Sprintf(`{"address":%q,"port":%d}`, host, p)
	r.mustAPI("PUT", "/v1/services/steady", fmt.Sprintf(`{"tcp_ports":[%d]}`, steadyPort))
	r.mustAPI("PUT", "/v1/services/steady/instances/a", inst)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var tcpOK, tlsOK, failed atomic.Int64
	steady := "127.0.0.1:" + strconv.Itoa(steadyPort)
	for i := 0; i < 8; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if _, err := echoSession(steady, 3); err != nil {
					failed.Add(1)
					t.Errorf("tcp: %v", err)
				} else {
					tcpOK.Add(1)
				}
			}
		}()
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", r.HTTPS,
					&tls.Config{ServerName: "steady.test", RootCAs: ca.Pool()})
				if err != nil {
					failed.Add(1)
					t.Errorf("tls: %v", err)
					continue
				}
				c.Close()
				tlsOK.Add(1)
			}
		}()
	}
	for i := 0; i < 5; i++ {
		port := freePort(t)
		r.mustAPI("PUT", "/v1/services/extra", fmt.Sprintf(`{"tcp_ports":[%d]}`, port))
		r.mustAPI("PUT", "/v1/services/extra/instances/a", inst)
		if _, err := echoSession("127.0.0.1:"+strconv.Itoa(port), 2); err != nil {
			t.Errorf("new port %d right after the write: %v", port, err)
		}
		r.putCert("extra", ca.MustIssue(certtest.Options{Names: []string{"extra.test"}}))
		if _, err := handshake(t, r.HTTPS, "extra.test", ca.Pool()); err != nil {
			t.Errorf("new certificate right after the write: %v", err)
		}
		r.mustAPI("DELETE", "/v1/services/extra", "")
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second); err == nil {
			// A dial to a closed port in the ephemeral range can connect to
			// itself (TCP simultaneous open): that is not the port open.
			self := c.LocalAddr().String() == c.RemoteAddr().String()
			c.Close()
			if !self {
				t.Errorf("port %d still open after its service was deleted", port)
			}
		}
		r.mustAPI("DELETE", "/v1/certificates/extra", "")
		if _, err := handshake(t, r.HTTPS, "extra.test", ca.Pool()); err == nil {
			t.Error("a deleted certificate is still served")
		}
	}
	time.Sleep(200 * time.Millisecond)
	cancel()
	wg.Wait()
	t.Logf("steady load: %d TCP sessions, %d TLS handshakes, %d failed", tcpOK.Load(), tlsOK.Load(), failed.Load())
	if failed.Load() != 0 || tcpOK.Load() == 0 || tlsOK.Load() == 0 {
		t.Errorf("%d failed connections under changes", failed.Load())
	}
}
