package catalog

import (
	"errors"
	"strings"
	"testing"
)

func TestParseMountpoint(t *testing.T) {
	tests := []struct {
		in   string
		want Mountpoint
	}{
		{"demo.lain.local", Mountpoint{Host: "demo.lain.local"}},
		{"Demo.LAIN.local.", Mountpoint{Host: "demo.lain.local"}},
		{"*.demo.com", Mountpoint{Host: "demo.com", Wildcard: true}},
		{"lain.demo.com/hello", Mountpoint{Host: "lain.demo.com", Path: "/hello"}},
		{"lain.demo.com/hello/", Mountpoint{Host: "lain.demo.com", Path: "/hello"}},
		{"lain.demo.com/", Mountpoint{Host: "lain.demo.com"}},
		{"a.b/x/y-z/~v@1:2", Mountpoint{Host: "a.b", Path: "/x/y-z/~v@1:2"}},
		{"my_svc.internal", Mountpoint{Host: "my_svc.internal"}},
		{"localhost", Mountpoint{Host: "localhost"}},
		{"tls://Secure.Example.com", Mountpoint{Scheme: SchemeTLS, Host: "secure.example.com"}},
		{"tls://*.example.com", Mountpoint{Scheme: SchemeTLS, Host: "example.com", Wildcard: true}},
		{"tcp://:9999", Mountpoint{Scheme: SchemeTCP, Port: 9999}},
	}
	for _, tt := range tests {
		got, err := ParseMountpoint("m", tt.in)
		if err != nil {
			t.Errorf("ParseMountpoint(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseMountpoint(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseMountpointRejects(t *testing.T) {
	tests := []struct {
		in, wantInErr string
	}{
		{"", "empty"},
		{"demo.com:8080", "port"},
		{"udp://:53", "scheme"},
		{"http://demo.com", "scheme"},
		{"tcp://9999", "tcp://:port"},
		{"tcp://:0", "outside"},
		{"tcp://:70000", "outside"},
		{"tcp://host:80", "tcp://:port"},
		{"tls://demo.com/x", "no path"},
		{"tls://demo.com:443", "port"},
		{"demo..com", "empty label"},
		{".demo.com", "empty label"},
		{"-demo.com", "starts or ends"},
		{"de mo.com", "space"},
		{"démo.com", "non-ASCII"},
		{"a.*.com", "'*'"},
		{"*", "leading \"*.\""},
		{"demo.com//x", "empty segment"},
		{"demo.com/a/../b", "\"..\""},
		{"demo.com/a?b", "no '%', '?'"},
		{"demo.com/a%20b", "no '%'"},
		{"demo.com/" + strings.Repeat("a", 1100), "1024"},
		{strings.Repeat("a", 64) + ".com", "63"},
	}
	for _, tt := range tests {
		_, err := ParseMountpoint("mountpoints[0]", tt.in)
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Errorf("ParseMountpoint(%q) error = %v, want *FieldError", tt.in, err)
			continue
		}
		if fe.Field != "mountpoints[0]" || !strings.Contains(err.Error(), tt.wantInErr) {
			t.Errorf("ParseMountpoint(%q) error = %q, want field mountpoints[0] and %q", tt.in, err, tt.wantInErr)
		}
	}
}

func TestMountpointStringRoundTrip(t *testing.T) {
	for _, in := range []string{"demo.com", "*.demo.com", "demo.com/a/b", "*.x.y/z", "tls://a.b", "tls://*.a.b", "tcp://:1"} {
		m, err := ParseMountpoint("", in)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.String(); got != in {
			t.Errorf("String() = %q, want %q", got, in)
		}
	}
}
