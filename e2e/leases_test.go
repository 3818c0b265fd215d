package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestEmbeddedLeaseExpiry: on the embedded registry an instance with a TTL
// stays while heartbeats renew it and is removed (and no longer routed)
// when they stop; a heartbeat then answers 404.
func TestEmbeddedLeaseExpiry(t *testing.T) {
	r := startRouter(t, t.TempDir())
	web := named(t, "web")
	host, port := addrOf(web)
	r.mustAPI("PUT", "/v1/services/web", `{"mountpoints":["web.test"]}`)
	r.mustAPI("PUT", "/v1/services/web/instances/w1", fmt.Sprintf(`{"address":%q,"port":%d,"ttl":"1s"}`, host, port))
	var in struct {
		TTL string `json:"ttl"`
	}
	decode(t, r.mustAPI("GET", "/v1/services/web/instances/w1", ""), &in)
	if in.TTL != "1s" {
		t.Errorf("stored ttl %q", in.TTL)
	}
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(300 * time.Millisecond) {
		if code, body := r.api("PUT", "/v1/services/web/instances/w1/heartbeat", ""); code != 204 {
			t.Fatalf("heartbeat: %d %s", code, body)
		}
		if code, _, _ := r.get("web.test", "/"); code != 200 {
			t.Fatalf("a renewed instance stopped routing: %d", code)
		}
	}
	eventually(t, 3*time.Second, "the lease to expire", func() bool { code, _, _ := r.get("web.test", "/"); return code == 503 })
	code, body := r.api("PUT", "/v1/services/web/instances/w1/heartbeat", "")
	if code != 404 || !strings.Contains(string(body), "not found") {
		t.Errorf("heartbeat after expiry: %d %s; want 404", code, body)
	}
	if code, _ := r.api("GET", "/v1/services/web/instances/w1/heartbeat", ""); code != 405 {
		t.Errorf("GET heartbeat: %d, want 405", code)
	}
	if code, _ := r.api("PUT", "/v1/services/web/instances/BAD/heartbeat", ""); code != 400 {
		t.Errorf("heartbeat of a bad id: %d, want 400", code)
	}
}

// TestBadRegistryFlag: an unknown --registry value stops the router at
// start with a message naming the accepted forms.
func TestBadRegistryFlag(t *testing.T) {
	for _, reg := range []string{"consul://x:1", "etcd://nohost/x"} {
		_, err := launch(t, t.TempDir(), "--registry", reg)
		if err == nil || !strings.Contains(err.Error(), "etcd://host:port") {
			t.Errorf("--registry %s: %v; want a refusal naming etcd://host:port", reg, err)
		}
	}
}
