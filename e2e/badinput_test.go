package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestAPIRejectsBadInput: every kind of bad write gets its status and a JSON
// error naming what was wrong, and changes nothing.
func TestAPIRejectsBadInput(t *testing.T) {
	r := startRouter(t, t.TempDir())
	web := named(t, "web")
	r.mustAPI("PUT", "/v1/services/demo", `{"mountpoints":["demo.test","x.test/api"]}`)
	r.mustAPI("PUT", "/v1/services/demo/instances/a", instanceJSON(web))
	before := r.mustAPI("GET", "/v1/services", "")

	tests := []struct {
		name, method, path, body string
		status                   int
		inError                  string
	}{
		{"malformed JSON", "PUT", "/v1/services/new", `{"mountpoints": [`, 400, "malformed JSON"},
		{"not an object", "PUT", "/v1/services/new", `["a.test"]`, 400, "want a JSON object"},
		{"empty body", "PUT", "/v1/services/new", ``, 400, "empty"},
		{"trailing data", "PUT", "/v1/services/new", `{"mountpoints":["a.test"]} {}`, 400, "after the JSON object"},
		{"unknown field", "PUT", "/v1/services/new", `{"mountpoints":["a.test"],"mountpiont":1}`, 400, `unknown field "mountpiont"`},
		{"wrong type", "PUT", "/v1/services/new", `{"mountpoints":"a.test"}`, 400, "mountpoints: want an array"},
		{"no mountpoints", "PUT", "/v1/services/new", `{}`, 400, "mountpoints: required"},
		{"empty mountpoint", "PUT", "/v1/services/new", `{"mountpoints":[""]}`, 400, "mountpoints[0]: empty mountpoint"},
		{"malformed mountpoint", "PUT", "/v1/services/new", `{"mountpoints":["a.test","bad host/x"]}`, 400, "mountpoints[1]"},
		{"mountpoint with port", "PUT", "/v1/services/new", `{"mountpoints":["a.test:80"]}`, 400, "port"},
		{"bad name", "PUT", "/v1/services/Bad_Name", `{"mountpoints":["a.test"]}`, 400, "name:"},
		{"bad policy", "PUT", "/v1/services/new", `{"mountpoints":["a.test"],"balance":"random"}`, 400, "balance:"},
		{"conflict", "PUT", "/v1/services/other", `{"mountpoints":["ok.test","X.test/api/"]}`, 409, `"x.test/api" is already claimed by service "demo"`},
		{"bad address", "PUT", "/v1/services/demo/instances/b", `{"address":"10.0.0.300","port":80}`, 400, "address:"},
		{"address with port", "PUT", "/v1/services/demo/instances/b", `{"address":"10.0.0.5:80","port":80}`, 400, "address:"},
		{"port zero", "PUT", "/v1/services/demo/instances/b", `{"address":"10.0.0.5","port":0}`, 400, "port: 0 is outside 1–65535"},
		{"port too big", "PUT", "/v1/services/demo/instances/b", `{"address":"10.0.0.5","port":70000}`, 400, "port: 70000"},
		{"port as string", "PUT", "/v1/services/demo/instances/b", `{"address":"10.0.0.5","port":"80"}`, 400, "port: want a number"},
		{"bad weight", "PUT", "/v1/services/demo/instances/b", `{"address":"10.0.0.5","port":80,"weight":-1}`, 400, "weight:"},
		{"bad instance id", "PUT", "/v1/services/demo/instances/B%20x", `{"address":"10.0.0.5","port":80}`, 400, "id:"},
		{"instance of missing service", "PUT", "/v1/services/ghost/instances/b", `{"address":"10.0.0.5","port":80}`, 404, `service "ghost"`},
		{"get missing service", "GET", "/v1/services/ghost", ``, 404, "not found"},
		{"delete missing service", "DELETE", "/v1/services/ghost", ``, 404, "not found"},
		{"delete missing instance", "DELETE", "/v1/services/demo/instances/zz", ``, 404, "not found"},
		{"wrong method", "POST", "/v1/services/demo", `{}`, 405, "not allowed"},
		{"unknown path", "GET", "/v2/nothing", ``, 404, "no such endpoint"},
	}
	// The machine-readable field of errors about one field.
	fieldOf := map[string]string{
		"malformed mountpoint": "mountpoints[1]", "bad name": "name", "bad address": "address",
		"port zero": "port", "bad weight": "weight", "bad instance id": "id",
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := r.api(tt.method, tt.path, tt.body)
			var e struct {
				Error string `json:"error"`
				Field string `json:"field"`
			}
			if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
				t.Fatalf("%d %s: not a JSON error: %v", code, body, err)
			}
			if code != tt.status || !strings.Contains(e.Error, tt.inError) {
				t.Errorf("%d %q, want %d containing %q", code, e.Error, tt.status, tt.inError)
			}
			if want := fieldOf[tt.name]; want != "" && e.Field != want {
				t.Errorf("field = %q, want %q", e.Field, want)
			}
		})
	}
	if after := r.mustAPI("GET", "/v1/services", ""); string(after) != string(before) {
		t.Errorf("rejected writes changed the registry:\nbefore %s\nafter  %s", before, after)
	}
	if code, body, _ := r.get("demo.test", "/"); code != 200 || body != "web /" {
		t.Errorf("service after rejected writes: %d %q", code, body)
	}
}

// TestCorruptEntrySkippedAtStartup: entries that do not parse are logged
// and skipped, everything else serves.
func TestCorruptEntrySkippedAtStartup(t *testing.T) {
	data := t.TempDir()
	r := startRouter(t, data)
	web := named(t, "web")
	r.mustAPI("PUT", "/v1/services/good", `{"mountpoints":["good.test"]}`)
	r.mustAPI("PUT", "/v1/services/good/instances/a", instanceJSON(web))
	r.mustAPI("PUT", "/v1/services/spoiled", `{"mountpoints":["spoiled.test"]}`)
	r.stop()

	db, err := bolt.Open(filepath.Join(data, "webrouter.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket([]byte("services")).Put([]byte("spoiled"), []byte(`{"name":"spoiled","mountpoints":[`)); err != nil {
			return err
		}
		return tx.Bucket([]byte("instances")).Bucket([]byte("good")).Put([]byte("b"), []byte(`{"id":"b","address":"x y","port":1}`))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	r2 := startRouter(t, data)
	if code, body, _ := r2.get("good.test", "/"); code != 200 || body != "web /" {
		t.Errorf("good service after restart: %d %q", code, body)
	}
	if code, _, _ := r2.get("spoiled.test", "/"); code != 404 {
		t.Errorf("corrupt service routed: %d", code)
	}
	log := r2.stderr.String()
	for _, key := range []string{"services/spoiled", "instances/good/b"} {
		if !strings.Contains(log, key) {
			t.Errorf("log does not name the skipped entry %s:\n%s", key, log)
		}
	}
	_, metrics := r2.api("GET", "/metrics", "")
	if !strings.Contains(string(metrics), `webrouter_registry_errors_total{kind="bad_entry"} 2`) {
		t.Errorf("metrics do not count the 2 skipped entries")
	}
}

func TestAdminOffLoopbackNeedsToken(t *testing.T) {
	_, err := launch(t, t.TempDir(), "--admin", "0.0.0.0:0")
	if err == nil || !strings.Contains(err.Error(), "--admin-token") {
		t.Fatalf("non-loopback admin without a token: %v, want a refusal naming --admin-token", err)
	}

	r := startRouter(t, t.TempDir(), "--admin", "0.0.0.0:0", "--admin-token", "s3cret-token-value")
	r.admin = strings.Replace(r.admin, "[::]", "127.0.0.1", 1)
	r.admin = strings.Replace(r.admin, "0.0.0.0", "127.0.0.1", 1)
	if code, body := r.api("GET", "/v1/services", ""); code != 401 || !strings.Contains(string(body), "token") {
		t.Errorf("without a token: %d %s, want 401", code, body)
	}
	if code, _ := r.api("GET", "/healthz", ""); code != 200 {
		t.Errorf("/healthz without a token: %d, want 200", code)
	}
	r.token = "wrong"
	if code, _ := r.api("GET", "/v1/services", ""); code != 401 {
		t.Errorf("wrong token: %d, want 401", code)
	}
	r.token = "s3cret-token-value"
	if code, body := r.api("GET", "/v1/services", ""); code != 200 {
		t.Errorf("with the token: %d %s", code, body)
	}
	if strings.Contains(r.stderr.String(), "s3cret-token-value") || strings.Contains(r.stdout.String(), "s3cret-token-value") {
		t.Error("the admin token appears in the logs")
	}
}

func TestLockedDataDir(t *testing.T) {
	data := t.TempDir()
	startRouter(t, data)
	_, err := launch(t, data)
	if err == nil || !strings.Contains(err.Error(), "locked by another webrouter") {
		t.Errorf("second router on one data dir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(data, "webrouter.db")); err != nil {
		t.Error(err)
	}
}
