package agent

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// web returns a running container publishing 8080 on 127.0.0.1:32768 with
// the given labels.
func web(labels map[string]string) Container {
	return Container{ID: "0123456789abcdef0123", Name: "web-1", Image: "demoapp:1", Labels: labels, Env: map[string]string{},
		Running: true, Ports: []Port{{Port: 8080, Proto: "tcp", HostIP: "127.0.0.1", HostPort: 32768}},
		Networks: []Network{{Name: "bridge", IP: "172.17.0.2"}}}
}

func TestRegistrations(t *testing.T) {
	opts := Options{HostID: "host-7"}
	tests := []struct {
		name    string
		c       func() Container
		o       Options
		want    string // JSON of the registrations; "" for none
		problem string // substring of the *Problem
	}{
		{
			name: "labelled container: published port on its binding address",
			c:    func() Container { return web(map[string]string{LabelService: "demo.web"}) },
			want: `[{"service":"demo.web","id":"host-7:0123456789ab","container":"0123456789ab","name":"web-1","address":"127.0.0.1","port":32768,"weight":10,"ready":true}]`,
		},
		{
			name: "unlabelled container is ignored",
			c:    func() Container { return web(nil) },
		},
		{
			name: "unlabelled container with --all takes the image name",
			c: func() Container {
				c := web(nil)
				c.Image = "registry:5000/team/My_App:1.2"
				return c
			},
			o:    Options{HostID: "h", All: true},
			want: `[{"service":"my_app","id":"h:0123456789ab","container":"0123456789ab","name":"web-1","address":"127.0.0.1","port":32768,"weight":10,"ready":true}]`,
		},
		{
			name: "--all skips a container without published ports",
			c: func() Container {
				c := web(nil)
				c.Ports = []Port{{Port: 8080, Proto: "tcp"}}
				return c
			},
			o: Options{HostID: "h", All: true},
		},
		{
			name: "not running",
			c: func() Container {
				c := web(map[string]string{LabelService: "demo.web"})
				c.Running = false
				return c
			},
		},
		{
			name: "registrator's SERVICE_NAME from the environment, label wins over env",
			c: func() Container {
				c := web(map[string]string{"SERVICE_TAGS": "a, b"})
				c.Env = map[string]string{"SERVICE_NAME": "from-env", "SERVICE_TAGS": "x"}
				return c
			},
			want: `[{"service":"from-env","id":"host-7:0123456789ab","container":"0123456789ab","name":"web-1","address":"127.0.0.1","port":32768,"weight":10,"ready":true,"tags":["a","b"]}]`,
		},
		{
			name: "webrouter.service wins over SERVICE_NAME",
			c: func() Container {
				c := web(map[string]string{LabelService: "mine", "SERVICE_NAME": "theirs"})
				return c
			},
			want: `[{"service":"mine","id":"host-7:0123456789ab","container":"0123456789ab","name":"web-1","address":"127.0.0.1","port":32768,"weight":10,"ready":true}]`,
		},
		{
			name: "SERVICE_IGNORE",
			c: func() Container {
				c := web(map[string]string{LabelService: "demo.web"})
				c.Env["SERVICE_IGNORE"] = "true"
				return c
			},
		},
		{
			name: "SERVICE_IGNORE=false does not ignore",
			c: func() Container {
				c := web(map[string]string{LabelService: "d", "SERVICE_IGNORE": "false"})
				return c
			},
			want: `[{"service":"d","id":"host-7:0123456789ab","container":"0123456789ab","name":"web-1","address":"127.0.0.1","port":32768,"weight":10,"ready":true}]`,
		},
		{
			name: "mountpoints, health check and weight",
			c: func() Container {
				return web(map[string]string{LabelService: "demo.web", LabelMountpoints: "Demo.Lain.Local, lain.demo.com/hello/",
					LabelHealthcheck: "/healthz", LabelWeight: "25"})
			},
			want: `[{"service":"demo.web","id":"host-7:0123456789ab","container":"0123456789ab","name":"web-1","address":"127.0.0.1","port":32768,"weight":25,"ready":true,
				"mountpoints":["demo.lain.local","lain.demo.com/hello"],"healthcheck":"/healthz"}]`,
		},
		{
			name: "bound to all interfaces uses --host-ip",
			c: func() Container {
				c := web(map[string]string{LabelService: "d"})
				c.Ports = []Port{{Port: 8080, Proto: "tcp", HostIP: "0.0.0.0", HostPort: 49000}, {Port: 8080, Proto: "tcp", HostIP: "::", HostPort: 49000}}
				return c
			},
			o:    Options{HostID: "h", HostIP: "10.0.0.7"},
			want: `[{"service":"d","id":"h:0123456789ab","container":"0123456789ab","name":"web-1","address":"10.0.0.7","port":49000,"weight":10,"ready":true}]`,
		},
		{
			name: "bound to all interfaces without --host-ip",
			c: func() Container {
				c := web(map[string]string{LabelService: "d"})
				c.Ports[0].HostIP = "0.0.0.0"
				return c
			},
			problem: "give the agent --host-ip",
		},
		{
			name: "--internal uses the container's address and port",
			c: func() Container {
				c := web(map[string]string{LabelService: "d"})
				c.Ports = []Port{{Port: 8080, Proto: "tcp"}}
				return c
			},
			o:    Options{HostID: "h", Internal: true},
			want: `[{"service":"d","id":"h:0123456789ab","container":"0123456789ab","name":"web-1","address":"172.17.0.2","port":8080,"weight":10,"ready":true}]`,
		},
		{
			name: "--internal without a network address",
			c: func() Container {
				c := web(map[string]string{LabelService: "d"})
				c.Networks = nil
				return c
			},
			o:       Options{HostID: "h", Internal: true},
			problem: "no network address",
		},
		{
			name: "no published port",
			c: func() Container {
				c := web(map[string]string{LabelService: "d"})
				c.Ports = []Port{{Port: 8080, Proto: "tcp"}, {Port: 53, Proto: "udp", HostPort: 53}}
				return c
			},
			problem: "publishes no TCP port",
		},
		{
			name: "several ports: registrator's naming, SERVICE_<port>_NAME and _IGNORE",
			c: func() Container {
				c := web(map[string]string{LabelService: "app", "SERVICE_9000_NAME": "app-admin"})
				c.Env["SERVICE_9999_IGNORE"] = "1"
				c.Ports = append(c.Ports, Port{Port: 9000, Proto: "tcp", HostIP: "127.0.0.1", HostPort: 32769},
					Port{Port: 9999, Proto: "tcp", HostIP: "127.0.0.1", HostPort: 32770})
				return c
			},
			want: `[{"service":"app-8080","id":"host-7:0123456789ab:8080","container":"0123456789ab","name":"web-1","address":"127.0.0.1","port":32768,"weight":10,"ready":true},
				{"service":"app-admin","id":"host-7:0123456789ab:9000","container":"0123456789ab","name":"web-1","address":"127.0.0.1","port":32769,"weight":10,"ready":true}]`,
		},
		{
			name: "webrouter.port picks one of several",
			c: func() Container {
				c := web(map[string]string{LabelService: "app", LabelPort: "9000", LabelMountpoints: "app.test"})
				c.Ports = append(c.Ports, Port{Port: 9000, Proto: "tcp", HostIP: "127.0.0.1", HostPort: 32769})
				return c
			},
			want: `[{"service":"app","id":"host-7:0123456789ab","container":"0123456789ab","name":"web-1","address":"127.0.0.1","port":32769,"weight":10,"ready":true,"mountpoints":["app.test"]}]`,
		},
		{
			name: "mountpoints with several ports need webrouter.port",
			c: func() Container {
				c := web(map[string]string{LabelService: "app", LabelMountpoints: "app.test"})
				c.Ports = append(c.Ports, Port{Port: 9000, Proto: "tcp", HostIP: "127.0.0.1", HostPort: 32769})
				return c
			},
			problem: "say which one webrouter.mountpoints applies to with webrouter.port",
		},
		{
			name:    "webrouter.port not published",
			c:       func() Container { return web(map[string]string{LabelService: "app", LabelPort: "9000"}) },
			problem: `webrouter.port="9000" is not one of its published TCP ports (8080)`,
		},
		{
			name:    "bad service name",
			c:       func() Container { return web(map[string]string{LabelService: "Demo Web"}) },
			problem: "must start with a lower-case letter",
		},
		{
			name: "bad mountpoint",
			c: func() Container {
				return web(map[string]string{LabelService: "d", LabelMountpoints: "demo.com,/nohost"})
			},
			problem: "webrouter.mountpoints",
		},
		{
			name:    "bad weight",
			c:       func() Container { return web(map[string]string{LabelService: "d", LabelWeight: "heavy"}) },
			problem: `webrouter.weight="heavy"`,
		},
		{
			name:    "bad health check",
			c:       func() Container { return web(map[string]string{LabelService: "d", LabelHealthcheck: "healthz"}) },
			problem: "webrouter.healthcheck",
		},
		{
			name: "health check starting: not ready",
			c: func() Container {
				c := web(map[string]string{LabelService: "d"})
				c.Health = HealthStarting
				return c
			},
			want: `[{"service":"d","id":"host-7:0123456789ab","container":"0123456789ab","name":"web-1","address":"127.0.0.1","port":32768,"weight":10,"ready":false,"reason":"health check starting"}]`,
		},
		{
			name: "unhealthy and paused: not ready",
			c: func() Container {
				c := web(map[string]string{LabelService: "d"})
				c.Health, c.Paused = HealthUnhealthy, true
				return c
			},
			want: `[{"service":"d","id":"host-7:0123456789ab","container":"0123456789ab","name":"web-1","address":"127.0.0.1","port":32768,"weight":10,"ready":false,"reason":"paused"}]`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			if o.HostID == "" {
				o = opts
			}
			got, err := Registrations(tt.c(), o)
			if tt.problem != "" {
				var p *Problem
				if err == nil || !strings.Contains(err.Error(), tt.problem) || !errors.As(err, &p) {
					t.Fatalf("err = %v, want a *Problem containing %q", err, tt.problem)
				}
				if !strings.Contains(err.Error(), "web-1") {
					t.Errorf("the problem %q does not name the container", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				if len(got) != 0 {
					t.Fatalf("got %+v, want nothing", got)
				}
				return
			}
			gotJSON, _ := json.Marshal(got)
			if canon(t, string(gotJSON)) != canon(t, tt.want) {
				t.Errorf("got  %s\nwant %s", gotJSON, canon(t, tt.want))
			}
		})
	}
}

// canon re-encodes a JSON text without insignificant space.
func canon(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad JSON %s: %v", s, err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestIsStopSignal(t *testing.T) {
	tests := []struct {
		sig, stop string
		want      bool
	}{
		{"15", "", true}, {"9", "", true}, {"2", "", true}, {"3", "", true},
		{"1", "", false}, {"10", "", false}, {"", "", false},
		{"10", "SIGUSR1", true}, {"28", "WINCH", true}, {"1", "SIGTERM", false}, {"SIGTERM", "", true},
	}
	for _, tt := range tests {
		if got := IsStopSignal(tt.sig, tt.stop); got != tt.want {
			t.Errorf("IsStopSignal(%q, %q) = %v, want %v", tt.sig, tt.stop, got, tt.want)
		}
	}
}
