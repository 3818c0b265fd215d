package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/loadgen"
)

// TestDockerAgent runs the six scenarios of the Docker agent (issue #5)
// against the real Docker engine of this machine: containers of a demo
// image built FROM scratch from cmd/demoapp, started with the docker CLI,
// registered by a real `webrouter agent` process in a real router. Each
// scenario has its own router, agent (host id) and service names, so that
// other containers on the machine do not matter. Without an engine the
// test is skipped, except under CI=true, where it fails.
func TestDockerAgent(t *testing.T) {
	d := newDockerBed(t)
	t.Run("labelled containers serve by mountpoint", func(t *testing.T) { testAgentServes(t, d) })
	t.Run("docker stop under load fails no request", func(t *testing.T) { testAgentStopUnderLoad(t, d) })
	t.Run("docker kill leaves the table within a second", func(t *testing.T) { testAgentKill(t, d) })
	t.Run("failing health check is never routed", func(t *testing.T) { testAgentHealth(t, d) })
	t.Run("agent killed: leases expire; restarted: reconciles", func(t *testing.T) { testAgentRestart(t, d) })
	t.Run("event stream cut: reconnects and catches up", func(t *testing.T) { testAgentStreamCut(t, d) })
}

// agentScenario is what every scenario starts with: a router (with extra
// flags), a service name and a mountpoint that are its own, and a host id
// for its agent.
func agentScenario(t *testing.T, name string, extra ...string) (r *router, service, host, hostID string) {
	id := randomID()
	r = startRouter(t, t.TempDir(), append([]string{"--access-log", "off"}, extra...)...)
	return r, name + "-" + id, name + "-" + id + ".test", "wr-agent-test-" + id
}

// labelled returns the labels of a container of service with mountpoint.
func labelled(service, mountpoint string) map[string]string {
	return map[string]string{"webrouter.service": service, "webrouter.mountpoints": mountpoint}
}

// backends sends n requests for host+path, each on a new connection, and
// returns the set of X-Backend answers; any status but 200 fails the test.
func backends(t *testing.T, r *router, host, path string, n int) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		code, body, h := r.get(host, path)
		if code != 200 {
			t.Fatalf("GET %s%s: %d %s", host, path, code, body)
		}
		seen[h.Get("X-Backend")] = true
	}
	return seen
}

// 1. Three labelled containers start: all three serve through webrouter,
// by mountpoint (host and host/path). An unlabelled one is ignored. One of
// the three is labelled registrator's way (SERVICE_NAME in its
// environment). `agent --once` shows the same plan without writing. The
// router requires an admin token, which the agent takes from
// WEBROUTER_ADMIN_TOKEN.
func testAgentServes(t *testing.T, d *dockerBed) {
	r, svc, host, hostID := agentScenario(t, "serve", "--admin-token", "s3cret-agent")
	r.token = "s3cret-agent"
	mounts := host + ",lain." + host + "/hello"
	w1 := d.startBox(t, "w1", boxSpec{labels: labelled(svc, mounts), args: []string{"-name", "w1"}})
	w2 := d.startBox(t, "w2", boxSpec{labels: map[string]string{"webrouter.service": svc}, args: []string{"-name", "w2"}})
	w3 := d.startBox(t, "w3", boxSpec{env: []string{"SERVICE_NAME=" + svc}, args: []string{"-name", "w3"}})
	stray := d.startBox(t, "stray", boxSpec{args: []string{"-name", "stray"}})

	once := exec.Command(binary, "agent", "--once", "-o", "json", "--host-id", hostID, "--host-ip", "127.0.0.1")
	once.Env = cleanEnv()
	out, err := once.Output()
	if err != nil {
		t.Fatalf("agent --once: %v\n%s", err, out)
	}
	var plan struct {
		Registrations []struct{ Service, ID, Address string } `json:"registrations"`
	}
	decode(t, out, &plan)
	var planned []string
	for _, reg := range plan.Registrations {
		if reg.Service == svc {
			planned = append(planned, reg.ID)
		}
		if strings.Contains(reg.ID, stray.Short()) {
			t.Errorf("--once plans the unlabelled container: %+v", reg)
		}
	}
	if len(planned) != 3 {
		t.Errorf("--once plans %q for %s, want the three labelled containers", planned, svc)
	}
	if got := r.instances(svc); got != "" {
		t.Fatalf("--once wrote to the registry: %s", got)
	}

	startAgent(t, r, hostID, "--ttl", "10s")
	r.awaitInstances(15*time.Second, "three labelled containers registered", svc,
		hostID+":"+w1.Short()+" ready", hostID+":"+w2.Short()+" ready", hostID+":"+w3.Short()+" ready")
	for _, path := range []struct{ host, path string }{{host, "/"}, {"lain." + host, "/hello/x"}} {
		if got := backends(t, r, path.host, path.path, 12); len(got) != 3 || !got["w1"] || !got["w2"] || !got["w3"] {
			t.Errorf("requests for %s%s reached %v, want w1, w2 and w3", path.host, path.path, got)
		}
	}
	code, b := r.api("GET", "/v1/services", "")
	if code != 200 || strings.Contains(string(b), stray.Short()) {
		t.Errorf("the unlabelled container %s is registered (or the list failed: %d)", stray.Short(), code)
	}
}

// 2. docker stop of one of three containers under load: no failed request.
// The agent drains the instance on Docker's kill event; the image's init
// keeps demoapp serving for a 1s lame-duck period after SIGTERM (see the
// README on stopping), then demoapp finishes its requests and exits, and
// the agent deletes the instance.
func testAgentStopUnderLoad(t *testing.T, d *dockerBed) {
	r, svc, host, hostID := agentScenario(t, "stop")
	var boxes []box
	var want []string
	for i := 1; i <= 3; i++ {
		b := d.startBox(t, fmt.Sprintf("s%d", i), boxSpec{labels: labelled(svc, host), args: []string{"-name", fmt.Sprint(i), "-body-size", "100"}})
		boxes = append(boxes, b)
		want = append(want, hostID+":"+b.Short()+" ready")
	}
	ag := startAgent(t, r, hostID, "--ttl", "10s")
	r.awaitInstances(15*time.Second, "three containers registered", svc, want...)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	load := loadgen.Start(ctx, loadgen.Options{URL: "http://" + r.http + "/", Host: host, Clients: 8, BodySize: 100, Payload: 64})
	time.Sleep(300 * time.Millisecond) // pacing: the load reaches every container first
	d.docker("stop", boxes[0].ID)
	r.awaitInstances(10*time.Second, "the stopped container removed", svc, want[1:]...)
	time.Sleep(300 * time.Millisecond) // pacing: load on the remaining two
	cancel()
	res := load.Wait()
	t.Logf("load during docker stop: %d requests, %d failed, p99 %s", res.Total, res.Failed, res.P99)
	if res.Failed != 0 {
		t.Errorf("%d of %d requests failed: %v", res.Failed, res.Total, res.Reasons)
	}
	if res.Total < 100 {
		t.Errorf("only %d requests: the load did not run", res.Total)
	}
	eventually(t, 2*time.Second, "the agent to log the removal", func() bool { return strings.Contains(ag.log.String(), `"msg":"removed"`) })
	log := ag.log.String()
	drained := strings.Index(log, `"msg":"instance draining"`)
	removed := strings.Index(log, `"msg":"removed"`)
	if drained < 0 || removed < drained {
		t.Errorf("the agent did not drain the instance before removing it")
	}
}

// 3. docker kill: the instance leaves the table within a second.
func testAgentKill(t *testing.T, d *dockerBed) {
	r, svc, host, hostID := agentScenario(t, "kill")
	k1 := d.startBox(t, "k1", boxSpec{labels: labelled(svc, host), args: []string{"-name", "k1"}})
	k2 := d.startBox(t, "k2", boxSpec{labels: labelled(svc, host), args: []string{"-name", "k2"}})
	startAgent(t, r, hostID, "--ttl", "10s")
	r.awaitInstances(15*time.Second, "two containers registered", svc, hostID+":"+k1.Short()+" ready", hostID+":"+k2.Short()+" ready")

	// The docker CLI may take longer to return than the agent to act: the
	// clock starts when the kill is sent, and the registry is watched
	// meanwhile.
	start := time.Now()
	killed := make(chan error, 1)
	go func() {
		out, err := d.exec("kill", k1.ID)
		if err != nil {
			err = fmt.Errorf("docker kill: %v: %s", err, out)
		}
		killed <- err
	}()
	r.awaitInstances(time.Second, "the killed container gone within a second of docker kill", svc, hostID+":"+k2.Short()+" ready")
	took := time.Since(start)
	if err := <-killed; err != nil {
		t.Fatal(err)
	}
	var routes struct {
		Routes []struct {
			Instances []struct{ ID string }
		}
	}
	decode(t, r.mustAPI("GET", "/v1/routes", ""), &routes)
	for _, rt := range routes.Routes {
		for _, in := range rt.Instances {
			if strings.Contains(in.ID, k1.Short()) {
				t.Errorf("the killed container is still in the routing table")
			}
		}
	}
	t.Logf("docker kill → out of the table in %s", took.Round(time.Millisecond))
	if got := backends(t, r, host, "/", 5); len(got) != 1 || !got["k2"] {
		t.Errorf("after the kill requests reached %v, want k2 only", got)
	}
}

// 4. A container whose Docker health check fails is never registered, so
// never routed; a healthy one is registered once healthy. Turning it
// unhealthy takes it out (draining), healthy puts it back.
func testAgentHealth(t *testing.T, d *dockerBed) {
	r, svc, host, hostID := agentScenario(t, "health")
	sick := d.startBox(t, "sick", boxSpec{labels: labelled(svc, host), health: true, args: []string{"-name", "sick", "-ready-after", "1h"}})
	fine := d.startBox(t, "fine", boxSpec{labels: labelled(svc, host), health: true, args: []string{"-name", "fine", "-ready-after", "1s"}})
	startAgent(t, r, hostID, "--ttl", "10s")

	var sickSeen atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	watched := make(chan struct{})
	admin := "http://" + r.admin + "/v1/services/" + svc
	go func() { // watch the registry all along (with its own client: the router's helpers are the test goroutine's)
		defer close(watched)
		c := &http.Client{Timeout: 5 * time.Second}
		for ctx.Err() == nil {
			if resp, err := c.Get(admin); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if strings.Contains(string(b), sick.Short()) {
					sickSeen.Store(true)
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	r.awaitInstances(15*time.Second, "the healthy container registered", svc, hostID+":"+fine.Short()+" ready")
	eventually(t, 15*time.Second, "the sick container's health check to fail", func() bool { return d.health(sick) == "unhealthy" })
	time.Sleep(time.Second) // pacing: give the agent a chance to misbehave after the unhealthy event
	if got := backends(t, r, host, "/", 10); len(got) != 1 || !got["fine"] {
		t.Errorf("requests reached %v, want fine only", got)
	}
	cancel()
	<-watched
	if sickSeen.Load() {
		t.Errorf("the container with a failing health check was registered")
	}

	d.setHealth(t, fine, "down")
	r.awaitInstances(10*time.Second, "unhealthy takes the instance out", svc, hostID+":"+fine.Short()+" draining")
	if code, _, _ := r.get(host, "/"); code != 503 {
		t.Errorf("with its only instance unhealthy the service answers %d, want 503", code)
	}
	d.setHealth(t, fine, "up")
	r.awaitInstances(10*time.Second, "healthy puts it back", svc, hostID+":"+fine.Short()+" ready")
	if got := backends(t, r, host, "/", 3); !got["fine"] {
		t.Errorf("after recovery requests reached %v", got)
	}
}

// 5. The agent is killed with SIGKILL: its instances stay for the lease
// (TTL) and then expire. Restarted, it registers what runs again. Killed
// again, a container removed and another started while it is down, then
// restarted well before the leases run out (a long TTL this time, so that
// a slow docker cannot make the lease do the agent's work): it removes the
// stale instance itself and adds the new one — nothing duplicated, nothing
// stale.
func testAgentRestart(t *testing.T, d *dockerBed) {
	const ttl = 4 * time.Second
	r, svc, host, hostID := agentScenario(t, "restart")
	a1 := d.startBox(t, "a1", boxSpec{labels: labelled(svc, host)})
	a2 := d.startBox(t, "a2", boxSpec{labels: labelled(svc, host)})
	both := []string{hostID + ":" + a1.Short() + " ready", hostID + ":" + a2.Short() + " ready"}
	ag := startAgent(t, r, hostID, "--ttl", ttl.String())
	r.awaitInstances(15*time.Second, "registered", svc, both...)

	ag.kill()
	killed := time.Now()
	r.awaitInstances(ttl+2*time.Second, "instances expire after the TTL once the agent is dead", svc)
	expired := time.Since(killed)
	t.Logf("agent SIGKILLed → instances expired after %s (ttl %s)", expired.Round(time.Millisecond), ttl)
	if expired < ttl/2 {
		t.Errorf("instances vanished %s after the agent died, before their lease (ttl %s, renewed every %s) could run out", expired, ttl, ttl/3)
	}

	ag = startAgent(t, r, hostID, "--ttl", "1m")
	r.awaitInstances(10*time.Second, "restarted agent registers what runs", svc, both...)

	ag.kill()
	d.docker("rm", "-f", a2.ID)
	a3 := d.startBox(t, "a3", boxSpec{labels: labelled(svc, host)})
	ag = startAgent(t, r, hostID, "--ttl", "1m")
	r.awaitInstances(10*time.Second, "restarted agent reconciles", svc, hostID+":"+a1.Short()+" ready", hostID+":"+a3.Short()+" ready")
	// The agent logs the removal once the registry has answered, which
	// may be after the router shows it.
	eventually(t, 2*time.Second, "the restarted agent to log the removal of the stale instance", func() bool {
		return strings.Contains(ag.log.String(), hostID+":"+a2.Short())
	})
}

// 6. The agent's connection to Docker is cut (through a socket proxy the
// test controls; the engine itself keeps running for everyone else) and
// refused for a while; meanwhile one container stops and another starts.
// The agent does not exit: it reconnects with back-off, re-lists and
// catches every change.
func testAgentStreamCut(t *testing.T, d *dockerBed) {
	r, svc, host, hostID := agentScenario(t, "cut")
	proxy := startDockerProxy(t)
	c1 := d.startBox(t, "c1", boxSpec{labels: labelled(svc, host)})
	ag := startAgent(t, r, hostID, "--ttl", "10s", "--docker", proxy.URL())
	r.awaitInstances(15*time.Second, "registered through the proxy", svc, hostID+":"+c1.Short()+" ready")

	proxy.down()
	eventually(t, 10*time.Second, "the agent to notice the lost stream", func() bool {
		return strings.Contains(ag.log.String(), "docker event stream lost")
	})
	d.docker("stop", c1.ID)
	c2 := d.startBox(t, "c2", boxSpec{labels: labelled(svc, host)})
	time.Sleep(time.Second) // pacing: a few failed reconnections
	if got := r.instances(svc); got != hostID+":"+c1.Short()+" ready" {
		t.Fatalf("while cut off the agent changed the registry (it cannot know): %s", got)
	}
	proxy.up()
	r.awaitInstances(15*time.Second, "after reconnecting, every change made meanwhile", svc, hostID+":"+c2.Short()+" ready")
	if !ag.running() {
		t.Fatal("the agent exited")
	}
	eventually(t, 2*time.Second, "the agent to log its reconnection", func() bool {
		return strings.Contains(ag.log.String(), "reconnected")
	})
}
