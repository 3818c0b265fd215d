package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// app is a backend whose health endpoint answers what it is told and which
// counts the requests it serves (health probes excluded).
type app struct {
	*httptest.Server
	healthy atomic.Bool
	served  atomic.Int64
}

func newApp(t *testing.T, name string, healthy bool) *app {
	a := &app{}
	a.healthy.Store(healthy)
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			if !a.healthy.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			return
		}
		a.served.Add(1)
		io.WriteString(w, name)
	}))
	t.Cleanup(a.Close)
	return a
}

func (r *router) instanceHealth(service, id string) string {
	r.t.Helper()
	var in struct {
		Health string `json:"health"`
	}
	decode(r.t, r.mustAPI("GET", "/v1/services/"+service+"/instances/"+id, ""), &in)
	return in.Health
}

// TestHealthTransitions: an instance rises after health_rise good probes,
// falls after health_fall bad ones, and each change is visible in the API,
// the metrics and one log line.
func TestHealthTransitions(t *testing.T) {
	r := startRouter(t, t.TempDir())
	a := newApp(t, "a", false)
	r.mustAPI("PUT", "/v1/services/app", `{"mountpoints":["app.test"],"healthcheck":"/healthz",
		"health_interval":"100ms","health_timeout":"100ms","health_rise":2,"health_fall":3}`)
	r.mustAPI("PUT", "/v1/services/app/instances/a", instanceJSON(a.Server))

	if h := r.instanceHealth("app", "a"); h != "pending" {
		t.Errorf("a new instance that never passed is %q, want pending", h)
	}
	if code, _, _ := r.get("app.test", "/"); code != 503 {
		t.Errorf("request to a pending-only service: %d, want 503", code)
	}
	a.healthy.Store(true)
	eventually(t, 5*time.Second, "rise", func() bool { return r.instanceHealth("app", "a") == "up" })
	if code, body, _ := r.get("app.test", "/"); code != 200 || body != "a" {
		t.Errorf("after rise: %d %q", code, body)
	}
	a.healthy.Store(false)
	eventually(t, 5*time.Second, "fall", func() bool { return r.instanceHealth("app", "a") == "down (active)" })
	if code, _, _ := r.get("app.test", "/"); code != 503 {
		t.Errorf("after fall: %d, want 503", code)
	}
	var routes struct {
		Routes []struct {
			Instances []struct {
				Health string `json:"health"`
			} `json:"instances"`
		} `json:"routes"`
	}
	decode(t, r.mustAPI("GET", "/v1/routes", ""), &routes)
	if h := routes.Routes[0].Instances[0].Health; h != "down (active)" {
		t.Errorf("/v1/routes shows %q", h)
	}
	a.healthy.Store(true)
	eventually(t, 5*time.Second, "rise again", func() bool { return r.instanceHealth("app", "a") == "up" })

	ups, downs := len(r.stderr.Lines("backend up")), len(r.stderr.Lines("backend down"))
	if ups != 2 || downs != 1 {
		t.Errorf("log has %d 'backend up' and %d 'backend down' lines, want one per transition: 2 and 1", ups, downs)
	}
	_, m := r.api("GET", "/metrics", "")
	for _, want := range []string{`webrouter_health_transitions_total{to="up"} 2`, `webrouter_health_transitions_total{to="down"} 1`, "webrouter_health_checkers 1"} {
		if !strings.Contains(string(m), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestStartingInstanceGetsNoTrafficBeforeHealthy: while a new instance
// starts (health failing), every request goes to the healthy one; once it
// passes, it takes its share.
func TestStartingInstanceGetsNoTrafficBeforeHealthy(t *testing.T) {
	r := startRouter(t, t.TempDir())
	old, fresh := newApp(t, "old", true), newApp(t, "new", false)
	r.mustAPI("PUT", "/v1/services/app", `{"mountpoints":["app.test"],"healthcheck":"/healthz","health_interval":"100ms","health_timeout":"100ms"}`)
	r.mustAPI("PUT", "/v1/services/app/instances/old", instanceJSON(old.Server))
	eventually(t, 5*time.Second, "the first instance to be up", func() bool {
		code, _, _ := r.get("app.test", "/")
		return code == 200
	})
	r.mustAPI("PUT", "/v1/services/app/instances/new", instanceJSON(fresh.Server))
	for i := 0; i < 50; i++ {
		if code, body, _ := r.get("app.test", "/"); code != 200 || body != "old" {
			t.Fatalf("request %d while the new instance starts: %d %q", i, code, body)
		}
	}
	if n := fresh.served.Load(); n != 0 {
		t.Fatalf("the starting instance served %d requests before it was healthy", n)
	}
	fresh.healthy.Store(true)
	eventually(t, 5*time.Second, "the new instance to take traffic", func() bool {
		_, body, _ := r.get("app.test", "/")
		return body == "new"
	})
}

// TestHealthCheckersDoNotLeak: instances with health checks come and go;
// the checkers and goroutines return to where they were.
func TestHealthCheckersDoNotLeak(t *testing.T) {
	r := startRouter(t, t.TempDir())
	metric := func(name string) float64 {
		_, m := r.api("GET", "/metrics", "")
		for _, line := range strings.Split(string(m), "\n") {
			if strings.HasPrefix(line, name+" ") {
				var v float64
				fmt.Sscan(strings.TrimPrefix(line, name+" "), &v)
				return v
			}
		}
		t.Fatalf("no metric %s", name)
		return 0
	}
	baseline := metric("go_goroutines")
	r.mustAPI("PUT", "/v1/services/churn", `{"mountpoints":["churn.test"],"healthcheck":"tcp","health_interval":"200ms","health_timeout":"100ms"}`)
	const n = 300
	for round := 0; round < 2; round++ {
		for i := 0; i < n; i++ {
			r.mustAPI("PUT", fmt.Sprintf("/v1/services/churn/instances/i%d", i), fmt.Sprintf(`{"address":"127.0.0.%d","port":%d}`, 2+round, 1000+i))
		}
		if c := metric("webrouter_health_checkers"); c != n {
			t.Fatalf("round %d: %v checkers for %d instances", round, c, n)
		}
		for i := 0; i < n; i++ {
			r.mustAPI("DELETE", fmt.Sprintf("/v1/services/churn/instances/i%d", i), "")
		}
	}
	if c := metric("webrouter_health_checkers"); c != 0 {
		t.Errorf("%v checkers after every instance left", c)
	}
	eventually(t, 10*time.Second, "goroutines back to the baseline", func() bool { return metric("go_goroutines") <= baseline+5 })
	var st struct {
		Addresses int `json:"addresses"`
	}
	json.Unmarshal(r.mustAPI("GET", "/v1/status", ""), &st)
	if st.Addresses != 0 {
		t.Errorf("%d addresses still tracked", st.Addresses)
	}
}
