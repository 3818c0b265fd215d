package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const certAnswer = `{"name":"web","source":"registry","domains":["a.test"],"sans":["a.test"],"subject":"CN=a.test","issuer":"CN=ca","not_before":"2026-01-01T00:00:00Z","not_after":"2027-01-01T00:00:00Z","expires_soon":false}`

func TestCertPut(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "c.pem"), []byte("CERT PEM"), 0o600)
	os.WriteFile(filepath.Join(dir, "k.pem"), []byte("KEY PEM"), 0o600)
	api, addr := startAPI(t, map[string]answer{"PUT /v1/certificates/web": {body: certAnswer}})
	r := cli(t, "cert", "put", "web", "--admin", addr, "--cert", filepath.Join(dir, "c.pem"), "--key", filepath.Join(dir, "k.pem"), "--domain", "*.lain", "--domain", "lain")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var body map[string]any
	json.Unmarshal([]byte(api.only(t).body), &body)
	if body["cert"] != "CERT PEM" || body["key"] != "KEY PEM" || len(body["domains"].([]any)) != 2 {
		t.Errorf("sent %v", body)
	}
	if !strings.Contains(r.stdout, "a.test") || strings.Contains(r.stdout, "KEY") {
		t.Errorf("stdout %q", r.stdout)
	}
	if r := cli(t, "cert", "put", "web", "--admin", addr, "--cert", filepath.Join(dir, "c.pem")); r.code != exitUsage {
		t.Errorf("without --key: exit %d", r.code)
	}
	if r := cli(t, "cert", "put", "web", "--admin", addr, "--cert", filepath.Join(dir, "nope"), "--key", "x"); r.code != exitUsage {
		t.Errorf("missing file: exit %d", r.code)
	}
}

func TestServicePutStreamOptions(t *testing.T) {
	clearEnv(t)
	api, addr := startAPI(t, map[string]answer{"PUT /v1/services/tcpfront": {body: serviceAnswer}})
	r := cli(t, "service", "put", "tcpfront", "--admin", addr, "--tcp-port", "9999", "--proxy-protocol", "v2",
		"--response-header", "Server=", "--response-header", "X-A=b=c", "--backend-protocol", "h2c", "--security-headers=false")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := `{"mountpoints":null,"tcp_ports":[9999],"proxy_protocol":"v2","response_headers":{"Server":"","X-A":"b=c"},"backend_protocol":"h2c","security_headers":false}`
	if got := canonJSON(t, api.only(t).body); got != canonJSON(t, want) {
		t.Errorf("body\n got %s\nwant %s", got, canonJSON(t, want))
	}
}
