package client

// These tests use an httptest.Server standing in for the admin API: they
// check what the client sends and how it reads answers. The real admin server
// is tested end-to-end elsewhere.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/catalog"
)

// seen is one request as the fake admin API received it.
type seen struct {
	Method, Path, Auth, ContentType, Body string
}

// fake answers every request with a fixed status and body and records it.
type fake struct {
	mu     sync.Mutex
	got    []seen
	status int
	body   string
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.got = append(f.got, seen{r.Method, r.URL.EscapedPath(), r.Header.Get("Authorization"), r.Header.Get("Content-Type"), string(body)})
	status, answer := f.status, f.body
	f.mu.Unlock()
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, answer)
}

func (f *fake) last(t *testing.T) seen {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.got) != 1 {
		t.Fatalf("server saw %d requests, want 1", len(f.got))
	}
	return f.got[0]
}

// start runs a fake admin API and a client for it.
func start(t *testing.T, f *fake, token string) *Client {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, token, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ptr[T any](v T) *T { return &v }

func TestRequests(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		call     func(*Client) (any, error)
		answer   string
		status   int
		want     seen // Auth and ContentType checked only when set
		wantJSON string
	}{
		{
			name: "put service sends only given fields",
			call: func(c *Client) (any, error) {
				return c.PutService(ctx, "demo.web", catalog.ServiceSpec{Mountpoints: []string{"demo.com"}, MaxFails: ptr(0)})
			},
			answer:   `{"name":"demo.web","mountpoints":["demo.com"],"balance":"round_robin","instances":[]}`,
			want:     seen{Method: "PUT", Path: "/v1/services/demo.web", ContentType: "application/json", Body: `{"mountpoints":["demo.com"],"max_fails":0}`},
			wantJSON: `{"name":"demo.web","mountpoints":["demo.com"],"https_only":false,"balance":"round_robin","strip_prefix":false,"max_fails":0,"fail_timeout":"0s","security_headers":false,"backend_protocol":"","instances":[]}`,
		},
		{
			name:     "list services",
			call:     func(c *Client) (any, error) { return c.Services(ctx) },
			answer:   `{"revision":7,"services":[]}`,
			want:     seen{Method: "GET", Path: "/v1/services"},
			wantJSON: `{"revision":7,"services":[]}`,
		},
		{
			name:   "get service escapes the name",
			call:   func(c *Client) (any, error) { return c.Service(ctx, "a/b c") },
			answer: `{"name":"x","mountpoints":null,"instances":null}`,
			want:   seen{Method: "GET", Path: "/v1/services/a%2Fb%20c"},
		},
		{
			name:   "delete service",
			call:   func(c *Client) (any, error) { return nil, c.DeleteService(ctx, "demo.web") },
			status: http.StatusNoContent,
			want:   seen{Method: "DELETE", Path: "/v1/services/demo.web"},
		},
		{
			name: "put instance",
			call: func(c *Client) (any, error) {
				return c.PutInstance(ctx, "demo.web", "host1:web-1", catalog.InstanceSpec{Address: "::1", Port: 8000, Weight: ptr(5)})
			},
			answer:   `{"id":"host1:web-1","address":"::1","port":8000,"weight":5,"state":"ready","in_flight":2}`,
			want:     seen{Method: "PUT", Path: "/v1/services/demo.web/instances/host1:web-1", ContentType: "application/json", Body: `{"address":"::1","port":8000,"weight":5}`},
			wantJSON: `{"id":"host1:web-1","address":"::1","port":8000,"weight":5,"state":"ready","in_flight":2}`,
		},
		{
			name:   "get instance escapes both names",
			call:   func(c *Client) (any, error) { return c.Instance(ctx, "a?b", "c#d") },
			answer: `{"id":"x","address":"h","port":1,"weight":1,"state":"ready","in_flight":0}`,
			want:   seen{Method: "GET", Path: "/v1/services/a%3Fb/instances/c%23d"},
		},
		{
			name:   "delete instance",
			call:   func(c *Client) (any, error) { return nil, c.DeleteInstance(ctx, "demo.web", "web-1") },
			status: http.StatusNoContent,
			want:   seen{Method: "DELETE", Path: "/v1/services/demo.web/instances/web-1"},
		},
		{
			name:     "routes",
			call:     func(c *Client) (any, error) { return c.Routes(ctx) },
			answer:   `{"generation":3,"revision":9,"routes":[{"host":"demo.com","path":"/","service":"s","balance":"ip_hash","strip_prefix":true,"instances":[]}]}`,
			want:     seen{Method: "GET", Path: "/v1/routes"},
			wantJSON: `{"generation":3,"revision":9,"routes":[{"host":"demo.com","path":"/","service":"s","balance":"ip_hash","strip_prefix":true,"instances":[]}]}`,
		},
		{
			name:   "status",
			call:   func(c *Client) (any, error) { return c.Status(ctx) },
			answer: `{"version":"v1","registry":"embedded","state":"ok","generation":1,"revision":1,"services":0,"instances":0,"addresses":0,"started":"2024-01-02T03:04:05Z"}`,
			want:   seen{Method: "GET", Path: "/v1/status"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fake{status: tt.status, body: tt.answer}
			got, err := tt.call(start(t, f, ""))
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			req := f.last(t)
			if req.Method != tt.want.Method || req.Path != tt.want.Path || req.Body != tt.want.Body {
				t.Errorf("request = %s %s %q, want %s %s %q", req.Method, req.Path, req.Body, tt.want.Method, tt.want.Path, tt.want.Body)
			}
			if req.ContentType != tt.want.ContentType {
				t.Errorf("Content-Type = %q, want %q", req.ContentType, tt.want.ContentType)
			}
			if req.Auth != "" {
				t.Errorf("Authorization = %q without a token", req.Auth)
			}
			if tt.wantJSON != "" {
				data, _ := json.Marshal(got)
				if string(data) != tt.wantJSON {
					t.Errorf("answer = %s, want %s", data, tt.wantJSON)
				}
			}
		})
	}
}

func TestToken(t *testing.T) {
	f := &fake{body: `{"revision":1,"services":[]}`}
	if _, err := start(t, f, "s3cret").Services(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.last(t).Auth; got != "Bearer s3cret" {
		t.Errorf("Authorization = %q, want %q", got, "Bearer s3cret")
	}
}

func TestAPIErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"json error document", 404, `{"error":"service \"x\" not found"}`, `service "x" not found`},
		{"plain text body", 502, "bad gateway\n", "bad gateway"},
		{"json without error field", 500, `{"oops":1}`, `{"oops":1}`},
		{"empty body", 401, "", "Unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := start(t, &fake{status: tt.status, body: tt.body}, "").Service(context.Background(), "x")
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v (%T), want *APIError", err, err)
			}
			if apiErr.Status != tt.status || apiErr.Message != tt.want {
				t.Errorf("got {%d %q}, want {%d %q}", apiErr.Status, apiErr.Message, tt.status, tt.want)
			}
		})
	}
}

func TestEmptyNameIsRefused(t *testing.T) {
	f := &fake{}
	c := start(t, f, "")
	if _, err := c.Service(context.Background(), ""); err == nil {
		t.Fatal("Service(\"\") succeeded")
	}
	if err := c.DeleteInstance(context.Background(), "svc", ""); err == nil {
		t.Fatal("DeleteInstance(svc, \"\") succeeded")
	}
	if len(f.got) != 0 {
		t.Errorf("server saw %d requests, want none", len(f.got))
	}
}

func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := New(addr, "", &http.Client{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Status(context.Background())
	if err == nil {
		t.Fatal("no error from a closed port")
	}
	for _, want := range []string{addr, "--admin", "WEBROUTER_ADMIN"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestDecodeFailure(t *testing.T) {
	_, err := start(t, &fake{body: "<html>"}, "").Routes(context.Background())
	if err == nil || !strings.Contains(err.Error(), "decode") {
		t.Errorf("err = %v, want a decode error", err)
	}
}

func TestNewAddress(t *testing.T) {
	tests := []struct {
		admin, want string
		bad         bool
	}{
		{admin: ":9090", want: "http://127.0.0.1:9090"},
		{admin: "10.0.0.1:9090", want: "http://10.0.0.1:9090"},
		{admin: "[::1]:9090", want: "http://[::1]:9090"},
		{admin: "router.local:9090", want: "http://router.local:9090"},
		{admin: "http://10.0.0.1:9090/", want: "http://10.0.0.1:9090"},
		{admin: "https://router.example/admin/", want: "https://router.example/admin"},
		{admin: "", bad: true},
		{admin: "router.local", bad: true},
		{admin: "10.0.0.1:", bad: true},
		{admin: "ftp://x:21", bad: true},
		{admin: "http://", bad: true},
		{admin: "http://x:1/?q=1", bad: true},
	}
	for _, tt := range tests {
		c, err := New(tt.admin, "", nil)
		switch {
		case tt.bad && err == nil:
			t.Errorf("New(%q) = %s, want an error", tt.admin, c.Base())
		case !tt.bad && err != nil:
			t.Errorf("New(%q): %v", tt.admin, err)
		case !tt.bad && c.Base() != tt.want:
			t.Errorf("New(%q).Base() = %q, want %q", tt.admin, c.Base(), tt.want)
		}
	}
}
