package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// TestWalkthrough is the README's five-minute walk-through as a newcomer
// does it: start, register a service with two mountpoints and two
// instances, reach it by host and by path, see both instances answer,
// delete one, see traffic move, restart and find the registry intact.
func TestWalkthrough(t *testing.T) {
	data := t.TempDir()
	r := startRouter(t, data)
	web1, web2 := named(t, "web-1"), named(t, "web-2")

	r.mustAPI("PUT", "/v1/services/demo.web", `{"mountpoints": ["demo.lain.local", "lain.demo.com/hello"]}`)
	r.mustAPI("PUT", "/v1/services/demo.web/instances/web-1", instanceJSON(web1))
	r.mustAPI("PUT", "/v1/services/demo.web/instances/web-2", instanceJSON(web2))

	seen := map[string]int{}
	for i := 0; i < 10; i++ {
		code, body, _ := r.get("demo.lain.local", "/index.html?x=1")
		if code != 200 {
			t.Fatalf("by host: %d %s", code, body)
		}
		name, uri, _ := strings.Cut(body, " ")
		if uri != "/index.html?x=1" {
			t.Errorf("by host: backend saw %q", uri)
		}
		seen[name]++
	}
	if seen["web-1"] != 5 || seen["web-2"] != 5 {
		t.Errorf("round robin over two equal instances gave %v, want 5 each", seen)
	}
	code, body, _ := r.get("lain.demo.com", "/hello/world")
	if code != 200 || !strings.HasSuffix(body, " /world") {
		t.Errorf("by path: %d %q, want the prefix stripped", code, body)
	}

	r.mustAPI("DELETE", "/v1/services/demo.web/instances/web-1", "")
	for i := 0; i < 6; i++ {
		if code, body, _ := r.get("demo.lain.local", "/"); code != 200 || !strings.HasPrefix(body, "web-2 ") {
			t.Fatalf("after deleting web-1: %d %q, want web-2", code, body)
		}
	}

	if code := r.stop(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	r2 := startRouter(t, data)
	if code, body, _ := r2.get("lain.demo.com", "/hello/again"); code != 200 || body != "web-2 /again" {
		t.Errorf("after restart: %d %q", code, body)
	}
	var svc struct {
		Mountpoints []string `json:"mountpoints"`
		Instances   []struct {
			ID string `json:"id"`
		} `json:"instances"`
	}
	json.Unmarshal(r2.mustAPI("GET", "/v1/services/demo.web", ""), &svc)
	if len(svc.Mountpoints) != 2 || len(svc.Instances) != 1 || svc.Instances[0].ID != "web-2" {
		t.Errorf("registry after restart = %+v", svc)
	}
}

// TestCLI drives the router with its own CLI, as the README shows.
func TestCLI(t *testing.T) {
	r := startRouter(t, t.TempDir())
	web := named(t, "web")
	host, port := addrOf(web)
	cli := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(binary, append(args, "--admin", r.admin)...)
		cmd.Env = cleanEnv()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("webrouter %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	cli("service", "put", "demo", "--mountpoint", "demo.lain.local", "--mountpoint", "*.demo.com", "--balance", "least_conn")
	cli("instance", "put", "demo", "web-1", fmt.Sprintf("%s:%d", host, port), "--weight", "5")
	if code, body, _ := r.get("x.demo.com", "/"); code != 200 || body != "web /" {
		t.Errorf("through the wildcard: %d %q", code, body)
	}
	var routes struct {
		Generation uint64 `json:"generation"`
		Routes     []struct {
			Host, Path, Service, Balance string
			Instances                    []struct {
				ID     string `json:"id"`
				Weight int    `json:"weight"`
				Health string `json:"health"`
			} `json:"instances"`
		} `json:"routes"`
	}
	if err := json.Unmarshal([]byte(cli("routes", "-o", "json")), &routes); err != nil {
		t.Fatal(err)
	}
	if len(routes.Routes) != 2 || routes.Generation == 0 {
		t.Fatalf("routes = %+v", routes)
	}
	for _, rt := range routes.Routes {
		if rt.Service != "demo" || rt.Balance != "least_conn" || len(rt.Instances) != 1 || rt.Instances[0].Weight != 5 || rt.Instances[0].Health != "up" {
			t.Errorf("route = %+v", rt)
		}
	}
	table := cli("routes")
	for _, want := range []string{"*.demo.com", "demo.lain.local", "web-1", fmt.Sprintf("%s:%d", host, port)} {
		if !strings.Contains(table, want) {
			t.Errorf("routes table lacks %q:\n%s", want, table)
		}
	}
	if out, err := exec.Command(binary, "version").Output(); err != nil || !strings.HasPrefix(string(out), "webrouter ") {
		t.Errorf("version = %q, %v", out, err)
	}
}
