package cli

// These tests run the client commands in-process against fakeAPI, an
// httptest.Server that mimics the admin API (see helpers_test.go).

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/webrouter/webrouter/internal/api"
)

const serviceAnswer = `{"name":"demo.web","mountpoints":["demo.com"],"https_only":false,"balance":"round_robin","strip_prefix":true,"max_fails":3,"fail_timeout":"10s","instances":[]}`

func TestServicePutSendsOnlyGivenFields(t *testing.T) {
	tests := []struct {
		name     string
		env      []string
		args     []string
		wantBody string // "" when no request may be sent
		wantCode int
	}{
		{
			name:     "mountpoints only",
			args:     []string{"--mountpoint", "demo.com", "--mountpoint", "*.demo.com/api"},
			wantBody: `{"mountpoints":["demo.com","*.demo.com/api"]}`,
		},
		{
			name:     "comma-separated mountpoints",
			args:     []string{"--mountpoint", "a.com,b.com"},
			wantBody: `{"mountpoints":["a.com","b.com"]}`,
		},
		{
			name: "every option, zero values included",
			args: []string{"--mountpoint", "demo.com", "--healthcheck", "/ping", "--https-only", "--balance", "least_conn",
				"--strip-prefix=false", "--max-fails", "0", "--fail-timeout", "30s"},
			wantBody: `{"mountpoints":["demo.com"],"healthcheck":"/ping","https_only":true,"balance":"least_conn",
				"strip_prefix":false,"max_fails":0,"fail_timeout":"30s"}`,
		},
		{
			// Service options are never taken from the environment: a
			// stray WEBROUTER_BALANCE must not change what is written.
			name:     "service options ignore the environment",
			env:      []string{"WEBROUTER_BALANCE=ip_hash", "WEBROUTER_MAX_FAILS=three"},
			args:     []string{"--mountpoint", "demo.com"},
			wantBody: `{"mountpoints":["demo.com"]}`,
		},
		{name: "no mountpoint", args: nil, wantCode: exitUsage},
		{name: "unknown policy", args: []string{"--mountpoint", "demo.com", "--balance", "random"}, wantCode: exitUsage},
		{name: "bad duration", args: []string{"--mountpoint", "demo.com", "--fail-timeout", "10"}, wantCode: exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			setEnv(t, tt.env)
			api, addr := startAPI(t, map[string]answer{"PUT /v1/services/demo.web": {body: serviceAnswer}})
			r := cli(t, append([]string{"service", "put", "demo.web", "--admin", addr}, tt.args...)...)
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %q", r.code, tt.wantCode, r.stderr)
			}
			if tt.wantBody == "" {
				if got := api.requests(); len(got) != 0 {
					t.Errorf("sent %+v despite the usage error", got)
				}
				return
			}
			req := api.only(t)
			if got, want := canonJSON(t, req.body), canonJSON(t, tt.wantBody); got != want {
				t.Errorf("body\n got %s\nwant %s", got, want)
			}
			if !strings.Contains(r.stdout, "demo.web") {
				t.Errorf("stdout %q does not show the service", r.stdout)
			}
		})
	}
}

func TestInstancePutAddress(t *testing.T) {
	tests := []struct {
		args     []string
		wantBody string // "" for a usage error
		wantErr  string
	}{
		{args: []string{"10.0.0.5:8000"}, wantBody: `{"address":"10.0.0.5","port":8000}`},
		{args: []string{"[::1]:8000"}, wantBody: `{"address":"::1","port":8000}`},
		{args: []string{"[fd00::5]:443", "--weight", "0", "--state", "draining"}, wantBody: `{"address":"fd00::5","port":443,"weight":0,"state":"draining"}`},
		{args: []string{"web.local:80", "--weight=20"}, wantBody: `{"address":"web.local","port":80,"weight":20}`},
		{args: []string{"10.0.0.5"}, wantErr: "want ADDRESS:PORT"},
		{args: []string{"::1:8000"}, wantErr: "want ADDRESS:PORT"},
		{args: []string{":8000"}, wantErr: "address before the port is missing"},
		{args: []string{"10.0.0.5:"}, wantErr: "not a number in 1–65535"},
		{args: []string{"10.0.0.5:http"}, wantErr: "not a number in 1–65535"},
		{args: []string{"10.0.0.5:0"}, wantErr: "not a number in 1–65535"},
		{args: []string{"10.0.0.5:65536"}, wantErr: "not a number in 1–65535"},
		{args: []string{"10.0.0.5:80", "--state", "gone"}, wantErr: "not one of ready, draining, maintenance"},
		{args: nil, wantErr: "missing ADDRESS:PORT"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			clearEnv(t)
			api, addr := startAPI(t, map[string]answer{
				"PUT /v1/services/demo.web/instances/web-1": {body: `{"id":"web-1","address":"10.0.0.5","port":8000,"weight":10,"state":"ready","in_flight":0}`},
			})
			r := cli(t, append([]string{"instance", "put", "demo.web", "web-1", "--admin", addr}, tt.args...)...)
			if tt.wantBody == "" {
				if r.code != exitUsage || !strings.Contains(r.stderr, tt.wantErr) {
					t.Errorf("exit %d, stderr %q; want exit 2 with %q", r.code, r.stderr, tt.wantErr)
				}
				if got := api.requests(); len(got) != 0 {
					t.Errorf("sent %+v despite the usage error", got)
				}
				return
			}
			if r.code != 0 {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			if got, want := canonJSON(t, api.only(t).body), canonJSON(t, tt.wantBody); got != want {
				t.Errorf("body\n got %s\nwant %s", got, want)
			}
		})
	}
}

const routesAnswer = `{"generation":12,"revision":40,"routes":[
 {"host":"demo.com","path":"/api","service":"demo.api","balance":"least_conn","strip_prefix":true,"instances":[
  {"id":"api-1","address":"10.0.0.7","port":9000,"weight":10,"state":"ready","health":"up","in_flight":3}]},
 {"host":"demo.com","path":"/","service":"demo.web","balance":"round_robin","strip_prefix":true,"instances":[
  {"id":"web-1","address":"10.0.0.5","port":8000,"weight":10,"state":"ready","health":"up","in_flight":0},
  {"id":"web-2","address":"fd00::5","port":8000,"weight":5,"state":"draining","in_flight":12}]}],
 "problems":["service demo.old: no instances"]}`

const routesTable = `generation 12, revision 40
HOST      PATH            SERVICE   BALANCE      INSTANCES
  ID      ADDRESS         WEIGHT    STATE        HEALTH     IN-FLIGHT
demo.com  /api            demo.api  least_conn   1
  api-1   10.0.0.7:9000   10        ready        up         3
demo.com  /               demo.web  round_robin  2
  web-1   10.0.0.5:8000   10        ready        up         0
  web-2   [fd00::5]:8000  5         draining     -          12
problems:
  - service demo.old: no instances
`

const servicesAnswer = `{"revision":40,"services":[
 {"name":"demo.api","mountpoints":["demo.com/api"],"balance":"least_conn","strip_prefix":true,"max_fails":3,"fail_timeout":"10s","instances":[{"id":"api-1","address":"10.0.0.7","port":9000,"weight":10,"state":"ready","in_flight":0}]},
 {"name":"demo.web","mountpoints":["demo.com","*.demo.com"],"balance":"round_robin","strip_prefix":true,"max_fails":3,"fail_timeout":"10s","instances":[]}]}`

const servicesTable = `NAME      MOUNTPOINTS          INSTANCES  BALANCE
demo.api  demo.com/api         1          least_conn
demo.web  demo.com,*.demo.com  0          round_robin
`

func TestOutput(t *testing.T) {
	answers := map[string]answer{
		"GET /v1/routes":   {body: routesAnswer},
		"GET /v1/services": {body: servicesAnswer},
	}
	tests := []struct {
		args []string
		want string // exact table, or the JSON document the API sent
		doc  any    // for JSON: the api type the document decodes into
	}{
		{args: []string{"routes"}, want: routesTable},
		{args: []string{"routes", "-o", "json"}, want: routesAnswer, doc: &api.Routes{}},
		{args: []string{"service", "list"}, want: servicesTable},
		{args: []string{"service", "ls", "--output=json"}, want: servicesAnswer, doc: &api.ServiceList{}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			clearEnv(t)
			_, addr := startAPI(t, answers)
			r := cli(t, append(tt.args, "--admin", addr)...)
			if r.code != 0 {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			if tt.doc == nil {
				if r.stdout != tt.want {
					t.Errorf("table\n got:\n%s\nwant:\n%s", r.stdout, tt.want)
				}
				return
			}
			if !strings.HasPrefix(r.stdout, "{\n  \"") {
				t.Errorf("JSON is not indented:\n%s", r.stdout)
			}
			// The CLI decodes into the api type and encodes that again.
			if err := json.Unmarshal([]byte(tt.want), tt.doc); err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(tt.doc)
			if got := canonJSON(t, r.stdout); got != canonJSON(t, string(want)) {
				t.Errorf("JSON\n got %s\nwant %s", got, want)
			}
		})
	}
}
