package cli

// These tests run commands in-process against fakeAPI, an httptest.Server
// that mimics the admin API (see helpers_test.go).

import (
	"net"
	"strings"
	"testing"
)

func TestAPIErrorExitsOne(t *testing.T) {
	tests := []struct {
		name   string
		answer answer
		want   string
	}{
		{"not found", answer{404, `{"error":"service \"nope\" not found"}`}, "error: service \"nope\" not found\n"},
		{"conflict", answer{409, `{"error":"mountpoint \"demo.com\" is already claimed by service \"x\""}`}, "error: mountpoint \"demo.com\" is already claimed by service \"x\"\n"},
		{"plain text", answer{503, "registry unavailable"}, "error: registry unavailable\n"},
		{"bad token", answer{401, `{"error":"missing or wrong token"}`}, "error: missing or wrong token (give the admin token with --admin-token or WEBROUTER_ADMIN_TOKEN)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			_, addr := startAPI(t, map[string]answer{"GET /v1/services/nope": tt.answer})
			r := cli(t, "service", "get", "nope", "--admin", addr)
			if r.code != exitError || r.stderr != tt.want || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1, stderr %q", r.code, r.stdout, r.stderr, tt.want)
			}
		})
	}
}

func TestUnreachableAdminExitsOne(t *testing.T) {
	clearEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	t.Setenv("WEBROUTER_ADMIN", addr)
	r := cli(t, "status")
	if r.code != exitError || !strings.Contains(r.stderr, addr) || !strings.Contains(r.stderr, "WEBROUTER_ADMIN") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestAdminAndTokenPrecedence(t *testing.T) {
	status := map[string]answer{"GET /v1/status": {body: `{"version":"v1","registry":"embedded","state":"ok","started":"2024-01-02T03:04:05Z"}`}}
	tests := []struct {
		name     string
		env      []string
		flags    []string
		wantEnv  bool // the request goes to the API named in the environment
		wantAuth string
	}{
		{name: "environment", env: []string{"WEBROUTER_ADMIN_TOKEN=env-tok"}, wantEnv: true, wantAuth: "Bearer env-tok"},
		{name: "flags win", env: []string{"WEBROUTER_ADMIN_TOKEN=env-tok"}, flags: []string{"--admin", "FLAG", "--admin-token", "flag-tok"}, wantAuth: "Bearer flag-tok"},
		{name: "no token", wantEnv: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			envAPI, envAddr := startAPI(t, status)
			flagAPI, flagAddr := startAPI(t, status)
			setEnv(t, append(tt.env, "WEBROUTER_ADMIN="+envAddr))
			args := []string{"status"}
			for _, f := range tt.flags {
				args = append(args, strings.ReplaceAll(f, "FLAG", flagAddr))
			}
			r := cli(t, args...)
			if r.code != 0 || !strings.Contains(r.stdout, "embedded") {
				t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			used, unused := flagAPI, envAPI
			if tt.wantEnv {
				used, unused = envAPI, flagAPI
			}
			if got := used.only(t).auth; got != tt.wantAuth {
				t.Errorf("Authorization = %q, want %q", got, tt.wantAuth)
			}
			if n := len(unused.requests()); n != 0 {
				t.Errorf("the other admin API saw %d requests", n)
			}
		})
	}
}

func TestRequestsOfTheOtherCommands(t *testing.T) {
	answers := map[string]answer{
		"GET /v1/services/demo.web":                    {body: `{"name":"demo.web","mountpoints":["demo.com"],"instances":[{"id":"web-1","address":"10.0.0.5","port":8000,"weight":10,"state":"ready","in_flight":0}]}`},
		"GET /v1/services/empty":                       {body: `{"name":"empty","mountpoints":["e.com"],"instances":null}`},
		"DELETE /v1/services/demo.web":                 {status: 204},
		"GET /v1/services/demo.web/instances/web-1":    {body: `{"id":"web-1","address":"10.0.0.5","port":8000,"weight":10,"state":"ready","in_flight":2,"requests":17}`},
		"DELETE /v1/services/demo.web/instances/web-1": {status: 204},
	}
	tests := []struct {
		args       []string
		wantReq    string // METHOD path
		wantStdout string // a substring, or the whole output when exact
		exact      bool
	}{
		{[]string{"service", "get", "demo.web"}, "GET /v1/services/demo.web", "strip_prefix:", false},
		{[]string{"service", "rm", "demo.web"}, "DELETE /v1/services/demo.web", "deleted service demo.web\n", true},
		{[]string{"service", "delete", "demo.web", "-o", "json"}, "DELETE /v1/services/demo.web", "", true},
		{[]string{"instance", "ls", "demo.web"}, "GET /v1/services/demo.web", "ID     ADDRESS        WEIGHT  STATE  HEALTH  IN-FLIGHT\nweb-1  10.0.0.5:8000  10      ready  -       0\n", true},
		{[]string{"instance", "list", "empty", "-o", "json"}, "GET /v1/services/empty", "[]\n", true},
		{[]string{"instance", "get", "demo.web", "web-1"}, "GET /v1/services/demo.web/instances/web-1", "requests:    17", false},
		{[]string{"instance", "rm", "demo.web", "web-1"}, "DELETE /v1/services/demo.web/instances/web-1", "deleted instance web-1 of service demo.web\n", true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			clearEnv(t)
			api, addr := startAPI(t, answers)
			r := cli(t, append(tt.args, "--admin", addr)...)
			if r.code != 0 {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			if req := api.only(t); req.method+" "+req.path != tt.wantReq {
				t.Errorf("request %s %s, want %s", req.method, req.path, tt.wantReq)
			}
			if tt.exact && r.stdout != tt.wantStdout || !tt.exact && !strings.Contains(r.stdout, tt.wantStdout) {
				t.Errorf("stdout %q, want %q", r.stdout, tt.wantStdout)
			}
		})
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"service", "lst"}, `unknown command "lst" for "webrouter service"`},
		{[]string{"service", "get"}, "missing NAME"},
		{[]string{"instance", "get", "a", "b", "c"}, "too many arguments"},
		{[]string{"routes", "--nope"}, "unknown flag: --nope"},
		{[]string{"status", "-o", "yaml"}, `"yaml" is not one of table, json`},
		{[]string{"status", "--admin", "no-port"}, "want host:port"},
		{[]string{"instance", "put", "s", "i", "1.2.3.4:80", "--weight", "x"}, `invalid argument "x"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			clearEnv(t)
			r := cli(t, tt.args...)
			if r.code != exitUsage || !strings.HasPrefix(r.stderr, "error: ") || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 with %q", r.code, r.stderr, tt.want)
			}
		})
	}
}

func TestGroupsWithoutSubcommandShowHelp(t *testing.T) {
	clearEnv(t)
	r := cli(t, "service")
	if r.code != 0 || !strings.Contains(r.stdout, "Available Commands") {
		t.Errorf("exit %d, stdout %q", r.code, r.stdout)
	}
}
