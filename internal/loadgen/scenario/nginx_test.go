package scenario

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/webrouter/webrouter/internal/testbed"
)

// nginxBinary finds nginx; without it the test skips, except in CI
// (CI=true), where it fails: the suite must not pass without comparing.
func nginxBinary(t *testing.T) string {
	t.Helper()
	bin, err := NginxBinary()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v (scripts/setup installs it)", err)
		}
		t.Skip(err)
	}
	return bin
}

func demoapp(t *testing.T) string {
	t.Helper()
	root, err := testbed.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := BuildDemoapp(root, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func startApp(t *testing.T, bin, name string) *App {
	t.Helper()
	a, err := StartApp(bin, name, 16, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Kill)
	return a
}

// backendOf sends one request for host through addr and returns the
// backend that answered.
func backendOf(t *testing.T, addr, host string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	req.Host = host
	req.Close = true
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s through %s: %d", host, addr, resp.StatusCode)
	}
	return resp.Header.Get("X-Backend")
}

// The nginx stack follows the desired state through reloads and survives
// a binary upgrade, serving the same config after it.
func TestNginxFollowsStateAndUpgrades(t *testing.T) {
	bin := nginxBinary(t)
	app := demoapp(t)
	a, b := startApp(t, app, "a"), startApp(t, app, "b")
	n, err := StartNginx(bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(n.conf)
			t.Logf("%s\n%s", n.Log(), b)
		}
	})
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%v\n%s", err, n.Log())
		}
	}
	must(n.PutService(ctx, "demo.web", Service{Hosts: []string{"demo.test"}}))
	must(n.PutInstance(ctx, "demo.web", "a", Instance{Port: a.Port, Weight: 1}))
	must(n.Sync(ctx))
	if got := backendOf(t, n.Addr(), "demo.test"); got != "a" {
		t.Fatalf("backend %q, want a", got)
	}
	must(n.AddHealthy(ctx, "demo.web", "b", Instance{Port: b.Port, Weight: 1}, b.HealthURL()))
	must(n.Drain(ctx, "demo.web", "a"))
	if got := backendOf(t, n.Addr(), "demo.test"); got != "b" {
		t.Fatalf("backend %q after draining a, want b", got)
	}
	for i := 0; i < 2; i++ {
		before := n.master
		must(n.Upgrade(ctx))
		if n.master == before || before.alive() {
			t.Fatalf("upgrade %d: master %d → %d", i, before.pid, n.master.pid)
		}
		if got := backendOf(t, n.Addr(), "demo.test"); got != "b" {
			t.Fatalf("backend %q after upgrade, want b", got)
		}
	}
	must(n.PutInstance(ctx, "demo.web", "a", Instance{Port: a.Port, Weight: 1}))
	must(n.DeleteInstance(ctx, "demo.web", "b"))
	must(n.Sync(ctx))
	if got := backendOf(t, n.Addr(), "demo.test"); got != "a" {
		t.Fatalf("backend %q after a reload following an upgrade, want a", got)
	}
	must(n.Close())
}

// The rendered config is valid for nginx (nginx -t) and holds what the
// state says.
func TestNginxConfRenders(t *testing.T) {
	st := newNginxState()
	st.services["demo.web"] = &nginxService{Service: Service{Hosts: []string{"a.test", "b.test"}},
		instances: map[string]Instance{"i-2": {Port: 8002, Weight: 5}, "i-1": {Port: 8001, Weight: 10}, "off": {Port: 8003}}}
	st.services["empty"] = &nginxService{Service: Service{Hosts: []string{"e.test"}}, instances: map[string]Instance{}}
	dir := t.TempDir()
	conf := nginxConf{prefix: dir, httpPort: 18080, ctlPort: 18081, generation: 7, state: st}.render()
	for _, want := range []string{
		"upstream svc_demo_web {\n        server 127.0.0.1:8001 weight=10;  # i-1\n        server 127.0.0.1:8002 weight=5;  # i-2\n        keepalive 256;\n    }",
		"upstream svc_empty {\n        server 127.0.0.1:1 down;  # no instance\n",
		"server_name a.test b.test;",
		"proxy_pass http://svc_demo_web;",
		`return 200 "7\n";`,
		"proxy_set_header Connection $connection_upgrade;",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
	bin := nginxBinary(t)
	os.Mkdir(dir+"/tmp", 0o755)
	os.WriteFile(dir+"/nginx.conf", []byte(conf), 0o644)
	out, err := exec.Command(bin, "-t", "-p", dir+"/", "-c", dir+"/nginx.conf", "-e", dir+"/error.log").CombinedOutput()
	if err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
}

// Sync's check of old workers finds a listening socket and who holds it.
func TestListeningSocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	sock := listeningSocket(port)
	if !strings.HasPrefix(sock, "socket:[") {
		t.Fatalf("listeningSocket(%d) = %q", port, sock)
	}
	if !holdsFile(os.Getpid(), sock) {
		t.Fatalf("this process does not hold %s", sock)
	}
	ln.Close()
	if s := listeningSocket(port); s != "" {
		t.Fatalf("after Close: %q", s)
	}
}
