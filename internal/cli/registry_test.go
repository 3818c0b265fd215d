package cli

import (
	"strings"
	"testing"

	"github.com/webrouter/webrouter/internal/server"
)

func TestServeRegistryFlags(t *testing.T) {
	clearEnv(t)
	setEnv(t, []string{"WEBROUTER_ETCD_PASSWORD=s3cret", "WEBROUTER_ETCD_USER=router"})
	var got server.Config
	r := cliServe(t, captureServe(&got), "serve", "--registry", "etcd://h1:2379,h2:2379/wr",
		"--etcd-cacert", "/ca.pem", "--etcd-cert", "/c.pem", "--etcd-key", "/k.pem")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	want := server.EtcdConfig{CACert: "/ca.pem", Cert: "/c.pem", Key: "/k.pem", User: "router", Password: "s3cret"}
	if got.Registry != "etcd://h1:2379,h2:2379/wr" || got.Etcd != want {
		t.Errorf("config: registry %q, etcd %+v; want %+v", got.Registry, got.Etcd, want)
	}
	if strings.Contains(r.stdout+r.stderr, "s3cret") {
		t.Error("the etcd password was printed")
	}
	clearEnv(t)
	if r := cliServe(t, captureServe(&got), "serve"); r.code != 0 || got.Registry != "embedded" {
		t.Errorf("default registry %q (exit %d)", got.Registry, r.code)
	}
}

func TestInstanceHeartbeat(t *testing.T) {
	clearEnv(t)
	api, addr := startAPI(t, map[string]answer{
		"PUT /v1/services/demo.web/instances/web-1/heartbeat": {status: 204},
		"PUT /v1/services/demo.web/instances/gone/heartbeat":  {status: 404, body: `{"error":"instance \"gone\": not found"}`},
	})
	r := cli(t, "instance", "heartbeat", "demo.web", "web-1", "--admin", addr)
	if r.code != 0 || !strings.Contains(r.stdout, "renewed the lease of instance web-1") {
		t.Errorf("heartbeat: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if req := api.only(t); req.method != "PUT" || req.body != "" {
		t.Errorf("request %+v, want a PUT without a body", req)
	}
	r = cli(t, "instance", "heartbeat", "demo.web", "gone", "--admin", addr)
	if r.code != exitError || !strings.Contains(r.stderr, "not found") {
		t.Errorf("heartbeat of a gone instance: exit %d, stderr %q; want exit 1 saying not found", r.code, r.stderr)
	}
	if r := cli(t, "instance", "heartbeat", "demo.web", "--admin", addr); r.code != exitUsage {
		t.Errorf("missing ID: exit %d", r.code)
	}
}

func TestInstancePutTTL(t *testing.T) {
	clearEnv(t)
	api, addr := startAPI(t, map[string]answer{
		"PUT /v1/services/demo.web/instances/web-1": {body: `{"id":"web-1","address":"10.0.0.5","port":8000,"weight":10,"state":"ready","ttl":"30s","in_flight":0}`},
	})
	r := cli(t, "instance", "put", "demo.web", "web-1", "10.0.0.5:8000", "--ttl", "30s", "--admin", addr)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if got, want := canonJSON(t, api.only(t).body), canonJSON(t, `{"address":"10.0.0.5","port":8000,"ttl":"30s"}`); got != want {
		t.Errorf("body %s, want %s", got, want)
	}
}

func TestStatusShowsWhyDegraded(t *testing.T) {
	clearEnv(t)
	_, addr := startAPI(t, map[string]answer{
		"GET /v1/status": {body: `{"version":"v1","registry":"etcd","state":"degraded","reason":"etcd at h1:2379 unreachable","started":"2026-01-01T00:00:00Z"}`},
	})
	r := cli(t, "status", "--admin", addr)
	if r.code != 0 || !strings.Contains(r.stdout, "state:       degraded") || !strings.Contains(r.stdout, "reason:      etcd at h1:2379 unreachable") {
		t.Errorf("exit %d, stdout:\n%s", r.code, r.stdout)
	}
}
