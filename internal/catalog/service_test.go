package catalog

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func ptr[T any](v T) *T { return &v }

func TestNewServiceDefaults(t *testing.T) {
	got, err := NewService("demo.web.web", ServiceSpec{Mountpoints: []string{"Demo.lain.local", "demo.lain.local", "lain.demo.com/hello/"}})
	if err != nil {
		t.Fatal(err)
	}
	want := Service{
		Name: "demo.web.web", Mountpoints: []string{"demo.lain.local", "lain.demo.com/hello"},
		Balance: RoundRobin, StripPrefix: true, MaxFails: 3, FailTimeout: Duration(10 * time.Second),
		SecurityHeaders: true, BackendProtocol: BackendHTTP,
	}
	if !equalEntry(&Entry{Service: got}, &Entry{Service: want}) {
		t.Errorf("NewService = %+v, want %+v", got, want)
	}
}

func TestNewServiceRejects(t *testing.T) {
	mp := []string{"demo.com"}
	tests := []struct {
		name      string
		spec      ServiceSpec
		wantField string
	}{
		{"", ServiceSpec{Mountpoints: mp}, "name"},
		{"Demo", ServiceSpec{Mountpoints: mp}, "name"},
		{"demo/x", ServiceSpec{Mountpoints: mp}, "name"},
		{"-demo", ServiceSpec{Mountpoints: mp}, "name"},
		{strings.Repeat("a", 254), ServiceSpec{Mountpoints: mp}, "name"},
		{"demo", ServiceSpec{Name: "other", Mountpoints: mp}, "name"},
		{"demo", ServiceSpec{}, "mountpoints"},
		{"demo", ServiceSpec{Mountpoints: []string{"ok.com", "bad com"}}, "mountpoints[1]"},
		{"demo", ServiceSpec{Mountpoints: mp, Healthcheck: "ping"}, "healthcheck"},
		{"demo", ServiceSpec{Mountpoints: mp, Healthcheck: "/pi ng"}, "healthcheck"},
		{"demo", ServiceSpec{Mountpoints: mp, Balance: "random"}, "balance"},
		{"demo", ServiceSpec{Mountpoints: mp, MaxFails: ptr(-1)}, "max_fails"},
		{"demo", ServiceSpec{Mountpoints: mp, FailTimeout: "10"}, "fail_timeout"},
		{"demo", ServiceSpec{Mountpoints: mp, FailTimeout: "5h"}, "fail_timeout"},
	}
	for _, tt := range tests {
		_, err := NewService(tt.name, tt.spec)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tt.wantField {
			t.Errorf("NewService(%q, %+v) error = %v, want field %q", tt.name, tt.spec, err, tt.wantField)
		}
	}
}

func TestParseServiceRoundTrip(t *testing.T) {
	svc, err := NewService("demo", ServiceSpec{Mountpoints: []string{"*.demo.com"}, Balance: IPHash, StripPrefix: ptr(false), FailTimeout: "30s", Healthcheck: "tcp"})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(svc)
	got, err := ParseService(data)
	if err != nil {
		t.Fatalf("ParseService(%s): %v", data, err)
	}
	if !equalEntry(&Entry{Service: got}, &Entry{Service: svc}) {
		t.Errorf("round trip = %+v, want %+v", got, svc)
	}
	if _, err := ParseService([]byte(`{"name":"x","mountpoints":["bad host"]}`)); err == nil {
		t.Error("ParseService accepted an invalid mountpoint")
	}
}

func TestNewInstance(t *testing.T) {
	got, err := NewInstance("web-1:8000", InstanceSpec{Address: "::ffff:10.0.0.5", Port: 8000})
	if err != nil {
		t.Fatal(err)
	}
	want := Instance{ID: "web-1:8000", Address: "10.0.0.5", Port: 8000, Weight: 10, State: Ready}
	if got != want {
		t.Errorf("NewInstance = %+v, want %+v", got, want)
	}
	v6, err := NewInstance("a", InstanceSpec{Address: "2001:DB8::1", Port: 80, Weight: ptr(0)})
	if err != nil || v6.HostPort() != "[2001:db8::1]:80" || v6.Weight != 0 {
		t.Errorf("IPv6 instance = %+v %q, %v", v6, v6.HostPort(), err)
	}
	name, err := NewInstance("b", InstanceSpec{Address: "Backend.Internal", Port: 80})
	if err != nil || name.Address != "backend.internal" {
		t.Errorf("host name instance = %+v, %v", name, err)
	}
}

func TestNewInstanceRejects(t *testing.T) {
	tests := []struct {
		id        string
		spec      InstanceSpec
		wantField string
	}{
		{"Web", InstanceSpec{Address: "10.0.0.5", Port: 80}, "id"},
		{"web/1", InstanceSpec{Address: "10.0.0.5", Port: 80}, "id"},
		{"web", InstanceSpec{ID: "other", Address: "10.0.0.5", Port: 80}, "id"},
		{"web", InstanceSpec{Port: 80}, "address"},
		{"web", InstanceSpec{Address: "10.0.0.300", Port: 80}, "address"},
		{"web", InstanceSpec{Address: "10.0.0.5:80", Port: 80}, "address"},
		{"web", InstanceSpec{Address: "bad host", Port: 80}, "address"},
		{"web", InstanceSpec{Address: "10.0.0.5", Port: 0}, "port"},
		{"web", InstanceSpec{Address: "10.0.0.5", Port: 65536}, "port"},
		{"web", InstanceSpec{Address: "10.0.0.5", Port: 80, Weight: ptr(-1)}, "weight"},
		{"web", InstanceSpec{Address: "10.0.0.5", Port: 80, Weight: ptr(1001)}, "weight"},
		{"web", InstanceSpec{Address: "10.0.0.5", Port: 80, State: "gone"}, "state"},
	}
	for _, tt := range tests {
		_, err := NewInstance(tt.id, tt.spec)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tt.wantField {
			t.Errorf("NewInstance(%q, %+v) error = %v, want field %q", tt.id, tt.spec, err, tt.wantField)
		}
	}
}

func TestInstanceLease(t *testing.T) {
	in, err := NewInstance("a", InstanceSpec{Address: "10.0.0.1", Port: 80, TTL: "30s", Owner: "host-7"})
	if err != nil || in.TTL != Duration(30*time.Second) || in.Owner != "host-7" {
		t.Fatalf("NewInstance = %+v, %v", in, err)
	}
	data, _ := json.Marshal(in)
	back, err := ParseInstance(data)
	if err != nil || back != in {
		t.Errorf("round trip %s = %+v, %v", data, back, err)
	}
	for _, ttl := range []string{"30", "500ms", "48h"} {
		var fe *FieldError
		if _, err := NewInstance("a", InstanceSpec{Address: "10.0.0.1", Port: 80, TTL: ttl}); !errors.As(err, &fe) || fe.Field != "ttl" {
			t.Errorf("ttl %q: %v", ttl, err)
		}
	}
}
