package agent

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/client"
	"github.com/webrouter/webrouter/internal/registry"
)

const ttl = 30 * time.Second

// reg is a ready registration of service s, instance id, port port.
func reg(s, id string, port int) Registration {
	return Registration{Service: s, ID: id, Name: "c-" + id, Address: "127.0.0.1", Port: port, Weight: 10, Ready: true}
}

func notReady(r Registration, why string) Registration {
	r.Ready, r.Reason = false, why
	return r
}

// held is an instance the agent owns in the registry, as the agent would
// have written r, in state st, last written by the agent as wrote.
func held(r Registration, st, wrote catalog.InstanceState) Current {
	return Current{Service: r.Service, Wrote: wrote, Instance: catalog.Instance{ID: r.ID, Address: r.Address, Port: r.Port,
		Weight: r.Weight, State: st, TTL: catalog.Duration(ttl), Owner: "h"}}
}

func TestPlan(t *testing.T) {
	a, b := reg("web", "h:a", 1), reg("web", "h:b", 2)
	moved := b
	moved.Port = 3
	heavier := a
	heavier.Weight = 20
	removing := held(b, catalog.Ready, catalog.Ready)
	removing.Removing = true
	otherTTL := held(a, catalog.Ready, catalog.Ready)
	otherTTL.Instance.TTL = catalog.Duration(time.Minute)
	tests := []struct {
		name string
		want []Registration
		have []Current
		plan string // steps, one per line
	}{
		{name: "nothing", plan: ""},
		{name: "new ready containers are put", want: []Registration{b, a},
			plan: "put web/h:a ready\nput web/h:b ready"},
		{name: "a container not ready yet is not registered", want: []Registration{notReady(a, "health check starting")},
			plan: ""},
		{name: "in place: nothing to do", want: []Registration{a}, have: []Current{held(a, catalog.Ready, "")},
			plan: ""},
		{name: "gone containers are removed first", want: []Registration{a}, have: []Current{held(b, catalog.Ready, catalog.Ready)},
			plan: "remove web/h:b\nput web/h:a ready"},
		{name: "a removal under way is left alone", want: []Registration{b}, have: []Current{removing},
			plan: ""},
		{name: "changed port or weight: put again, state kept", want: []Registration{moved, heavier},
			have: []Current{held(b, catalog.Draining, catalog.Ready), held(a, catalog.Ready, catalog.Ready)},
			plan: "put web/h:a ready\nput web/h:b draining"},
		{name: "changed lease: put again", want: []Registration{a}, have: []Current{otherTTL},
			plan: "put web/h:a ready"},
		{name: "unhealthy: drained", want: []Registration{notReady(a, "unhealthy")}, have: []Current{held(a, catalog.Ready, catalog.Ready)},
			plan: "set-state web/h:a draining"},
		{name: "healthy again: ready", want: []Registration{a}, have: []Current{held(a, catalog.Draining, catalog.Draining)},
			plan: "set-state web/h:a ready"},
		{name: "after a restart the agent takes draining back", want: []Registration{a}, have: []Current{held(a, catalog.Draining, "")},
			plan: "set-state web/h:a ready"},
		{name: "an operator's drain is kept", want: []Registration{a}, have: []Current{held(a, catalog.Draining, catalog.Ready)},
			plan: ""},
		{name: "maintenance is never changed", want: []Registration{a, notReady(b, "unhealthy")},
			have: []Current{held(a, catalog.Maintenance, catalog.Ready), held(b, catalog.Maintenance, "")},
			plan: ""},
		{name: "maintenance instance of a gone container is removed", have: []Current{held(a, catalog.Maintenance, "")},
			plan: "remove web/h:a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lines []string
			for _, s := range Plan(tt.want, tt.have, ttl, "h") {
				lines = append(lines, s.String())
			}
			if got := strings.Join(lines, "\n"); got != tt.plan {
				t.Errorf("plan:\n%s\nwant:\n%s", got, tt.plan)
			}
		})
	}
}

func TestSpecCarriesLeaseAndOwner(t *testing.T) {
	s := Spec(reg("web", "h:a", 8080), catalog.Draining, ttl, "h")
	in, err := catalog.NewInstance("h:a", s)
	if err != nil {
		t.Fatal(err)
	}
	if in.TTL != catalog.Duration(ttl) || in.Owner != "h" || in.State != catalog.Draining || in.Weight != 10 || in.Port != 8080 {
		t.Errorf("instance %+v", in)
	}
}

func TestServiceDefs(t *testing.T) {
	one, two, bare := reg("web", "h:a", 1), reg("web", "h:b", 2), reg("api", "h:c", 3)
	one.Name, two.Name = "web-1", "web-2"
	one.Mountpoints, two.Mountpoints = []string{"web.test"}, []string{"other.test"}
	two.Healthcheck = "/healthz"
	defs, warnings := ServiceDefs([]Registration{two, bare, one})
	if len(defs) != 1 || defs["web"].From != "web-1" || defs["web"].Mountpoints[0] != "web.test" {
		t.Errorf("defs = %+v, want web from web-1 only", defs)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "web-1 and web-2") {
		t.Errorf("warnings = %q", warnings)
	}
}

func TestServiceUpdate(t *testing.T) {
	stored, err := catalog.NewService("web", catalog.ServiceSpec{Mountpoints: []string{"web.test"}, Balance: catalog.LeastConn,
		Healthcheck: "/ping", HealthInterval: "10s"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		def       ServiceDef
		existing  *catalog.Service
		write     bool
		problem   string
		check     func(catalog.Service) string
		wantMount string
	}{
		{name: "create from mountpoints", def: ServiceDef{Mountpoints: []string{"web.test"}, Healthcheck: "/healthz"}, write: true,
			check: func(s catalog.Service) string {
				if s.Healthcheck != "/healthz" || s.Balance != catalog.RoundRobin {
					return "want the label's health check and defaults"
				}
				return ""
			}},
		{name: "cannot create without mountpoints", def: ServiceDef{Healthcheck: "/healthz", From: "web-1"},
			problem: "service web not found, and the labels of web-1 give no webrouter.mountpoints"},
		{name: "unchanged: no write", def: ServiceDef{Mountpoints: []string{"web.test"}}, existing: &stored},
		{name: "new mountpoints keep the other settings", def: ServiceDef{Mountpoints: []string{"web.test", "www.test"}}, existing: &stored, write: true,
			check: func(s catalog.Service) string {
				if s.Balance != catalog.LeastConn || s.Healthcheck != "/ping" || s.HealthInterval != catalog.Duration(10*time.Second) || len(s.Mountpoints) != 2 {
					return "want the stored balance and health options kept"
				}
				return ""
			}},
		{name: "health check only", def: ServiceDef{Healthcheck: "/healthz"}, existing: &stored, write: true,
			check: func(s catalog.Service) string {
				if s.Healthcheck != "/healthz" || s.Mountpoints[0] != "web.test" || s.HealthInterval != catalog.Duration(10*time.Second) {
					return "want the new path, mountpoints and interval kept"
				}
				return ""
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, write, err := ServiceUpdate("web", tt.def, tt.existing)
			if tt.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tt.problem) {
					t.Fatalf("err = %v, want %q", err, tt.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if write != tt.write {
				t.Fatalf("write = %v, want %v", write, tt.write)
			}
			if tt.check != nil {
				svc, err := catalog.NewService("web", spec)
				if err != nil {
					t.Fatal(err)
				}
				if msg := tt.check(svc); msg != "" {
					t.Errorf("%s; got %+v", msg, svc)
				}
			}
		})
	}
}

func TestContainerOf(t *testing.T) {
	for id, want := range map[string]string{"h:abc": "abc", "h:abc:8080": "abc", "other:abc": "", "h.x:abc": ""} {
		if got := containerOf(id, "h"); got != want {
			t.Errorf("containerOf(%q) = %q, want %q", id, got, want)
		}
	}
}

func TestTransient(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&client.APIError{Status: 503}, true},
		{&client.APIError{Status: 502}, true},
		{&client.APIError{Status: 404}, false},
		{&client.APIError{Status: 409}, false},
		{fmt.Errorf("x: %w", catalog.ErrNotFound), false},
		{fmt.Errorf("x: %w", &catalog.ConflictError{Mountpoint: "a", Owner: "b"}), false},
		{fmt.Errorf("etcd: %w", registry.ErrUnavailable), true},
		{errors.New("dial tcp: connection refused"), true},
	}
	for _, tt := range tests {
		if got := transient(tt.err); got != tt.want {
			t.Errorf("transient(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
