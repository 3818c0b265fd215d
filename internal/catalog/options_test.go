package catalog

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestConnectionOptions(t *testing.T) {
	tests := []struct {
		name       string
		spec       ServiceSpec
		mps        []string
		ports      []int
		balance    string
		idle       time.Duration
		passthroug bool
	}{
		{"http only", ServiceSpec{Mountpoints: []string{"a.com"}}, []string{"a.com"}, nil, RoundRobin, 0, false},
		{"tcp ports", ServiceSpec{TCPPorts: []int{9999, 9998, 9999}}, []string{"tcp://:9999", "tcp://:9998"}, []int{9998, 9999}, LeastConn, DefaultIdleTimeout, false},
		{"tcp mountpoint and port merge", ServiceSpec{Mountpoints: []string{"tcp://:9999"}, TCPPorts: []int{9999, 7000}, IdleTimeout: "30s"},
			[]string{"tcp://:9999", "tcp://:7000"}, []int{7000, 9999}, LeastConn, 30 * time.Second, false},
		{"passthrough option", ServiceSpec{Mountpoints: []string{"Secure.example.com", "tls://secure.example.com"}, Passthrough: true},
			[]string{"tls://secure.example.com"}, nil, LeastConn, DefaultIdleTimeout, true},
		{"mixed keeps round robin", ServiceSpec{Mountpoints: []string{"a.com", "tcp://:81"}}, []string{"a.com", "tcp://:81"}, []int{81}, RoundRobin, DefaultIdleTimeout, false},
		{"explicit balance", ServiceSpec{TCPPorts: []int{1}, Balance: IPHash}, []string{"tcp://:1"}, []int{1}, IPHash, DefaultIdleTimeout, false},
	}
	for _, tt := range tests {
		s, err := NewService("svc", tt.spec)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !slices.Equal(s.Mountpoints, tt.mps) || !slices.Equal(s.TCPPorts, tt.ports) || s.Balance != tt.balance ||
			time.Duration(s.IdleTimeout) != tt.idle || s.Passthrough != tt.passthroug {
			t.Errorf("%s: got %v %v %s %s %v", tt.name, s.Mountpoints, s.TCPPorts, s.Balance, s.IdleTimeout, s.Passthrough)
		}
		data, _ := json.Marshal(s)
		back, err := ParseService(data)
		if err != nil || !back.Equal(s) {
			t.Errorf("%s: round trip %s: %+v, %v", tt.name, data, back, err)
		}
	}
}

func TestHTTPOptions(t *testing.T) {
	s, err := NewService("svc", ServiceSpec{Mountpoints: []string{"a.com"},
		ResponseHeaders: map[string]string{"x-served-by": "edge", "Server": ""}, BackendProtocol: "h2c", SecurityHeaders: ptr(false)})
	if err != nil {
		t.Fatal(err)
	}
	if s.ResponseHeaders["X-Served-By"] != "edge" || s.ResponseHeaders["Server"] != "" || len(s.ResponseHeaders) != 2 {
		t.Errorf("response headers %v", s.ResponseHeaders)
	}
	if s.SecurityHeaders || s.BackendProtocol != BackendH2C {
		t.Errorf("security %v backend %q", s.SecurityHeaders, s.BackendProtocol)
	}
	d, _ := NewService("svc", ServiceSpec{Mountpoints: []string{"a.com"}})
	if !d.SecurityHeaders || d.BackendProtocol != BackendHTTP {
		t.Errorf("defaults: security %v backend %q", d.SecurityHeaders, d.BackendProtocol)
	}
	data, _ := json.Marshal(s)
	if back, err := ParseService(data); err != nil || !back.Equal(s) {
		t.Errorf("round trip %s: %+v, %v", data, back, err)
	}
}

func TestOptionsReject(t *testing.T) {
	mp := []string{"a.com"}
	tests := []struct {
		spec  ServiceSpec
		field string
	}{
		{ServiceSpec{Mountpoints: mp, BackendProtocol: "grpc"}, "backend_protocol"},
		{ServiceSpec{Mountpoints: mp, ResponseHeaders: map[string]string{"Bad Name": "x"}}, "response_headers[Bad Name]"},
		{ServiceSpec{Mountpoints: mp, ResponseHeaders: map[string]string{"X-A": "a\r\nb"}}, "response_headers[X-A]"},
		{ServiceSpec{Mountpoints: mp, ResponseHeaders: map[string]string{"connection": "close"}}, "response_headers[connection]"},
		{ServiceSpec{Mountpoints: mp, ResponseHeaders: map[string]string{"x-a": "1", "X-A": "2"}}, ""},
		{ServiceSpec{Mountpoints: mp, ProxyProtocol: "v1"}, "proxy_protocol"},
		{ServiceSpec{TCPPorts: []int{1}, ProxyProtocol: "v3"}, "proxy_protocol"},
		{ServiceSpec{Mountpoints: mp, IdleTimeout: "1m"}, "idle_timeout"},
		{ServiceSpec{TCPPorts: []int{1}, IdleTimeout: "1ms"}, "idle_timeout"},
		{ServiceSpec{TCPPorts: []int{0}}, "tcp_ports[0]"},
		{ServiceSpec{Mountpoints: []string{"a.com/x"}, Passthrough: true}, "mountpoints[0]"},
	}
	for _, tt := range tests {
		_, err := NewService("svc", tt.spec)
		var fe *FieldError
		if !errors.As(err, &fe) || tt.field != "" && fe.Field != tt.field {
			t.Errorf("%+v: error %v, want field %q", tt.spec, err, tt.field)
		}
	}
}
