package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/webrouter/webrouter/internal/agent"
)

// The agent's flags are checked before it touches Docker or the registry;
// running it is tested end to end (e2e/agent_test.go).
func TestAgentUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no registry", []string{"--host-id", "h"}, "--registry is required"},
		{"registry of an unknown scheme", []string{"--host-id", "h", "--registry", "ftp://x:1"}, "scheme ftp is not http or https"},
		{"bad etcd URL", []string{"--host-id", "h", "--registry", "etcd://"}, "no etcd endpoint"},
		{"bad host id", []string{"--host-id", "Web Host", "--registry", ":9090"}, "--host-id"},
		{"ttl too short", []string{"--host-id", "h", "--registry", ":9090", "--ttl", "100ms"}, "--ttl 100ms: want 1s–24h0m0s"},
		{"bad host ip", []string{"--host-id", "h", "--registry", ":9090", "--host-ip", "10.0.0.7:80"}, "--host-ip"},
		{"unknown output", []string{"--once", "-o", "yaml"}, `"yaml" is not one of table, json`},
		{"arguments", []string{"extra"}, "too many arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			r := cli(t, append([]string{"agent", "--docker", "unix:///nonexistent/docker.sock"}, tt.args...)...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, exitUsage, tt.want)
			}
		})
	}
}

func TestAgentOnceWithoutDocker(t *testing.T) {
	clearEnv(t)
	r := cli(t, "agent", "--once", "--host-id", "h", "--docker", "unix:///nonexistent/docker.sock")
	if r.code != exitError || !strings.Contains(r.stderr, "nonexistent/docker.sock") {
		t.Errorf("exit %d, stderr %q; want 1 naming the socket", r.code, r.stderr)
	}
}

func TestHostIDOf(t *testing.T) {
	for in, want := range map[string]string{"web-7": "web-7", "Web_7.Example.COM": "web_7.example.com", "-x y\n": "x-y", "": ""} {
		if got := hostIDOf(in); got != want {
			t.Errorf("hostIDOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWriteDesired(t *testing.T) {
	d := agent.Desired{
		Registrations: []agent.Registration{
			{Service: "demo.web", ID: "h:0123456789ab", Name: "web-1", Address: "127.0.0.1", Port: 32768, Weight: 10, Ready: true,
				Mountpoints: []string{"demo.lain.local", "lain.demo.com/hello"}},
			{Service: "demo.web", ID: "h:ba9876543210", Name: "web-2", Address: "::1", Port: 32769, Weight: 10, Reason: "health check starting"},
		},
		Problems: []*agent.Problem{{Container: "ffff00000000", Name: "api", Reason: "publishes no TCP port"}},
	}
	var b bytes.Buffer
	if err := writeDesired(&b, d); err != nil {
		t.Fatal(err)
	}
	want := `SERVICE   INSTANCE        ADDRESS          WEIGHT  STATE                              CONTAINER  MOUNTPOINTS
demo.web  h:0123456789ab  127.0.0.1:32768  10      ready                              web-1      demo.lain.local,lain.demo.com/hello
demo.web  h:ba9876543210  [::1]:32769      10      not routed: health check starting  web-2      -
problems:
  - container api (ffff00000000): publishes no TCP port
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
