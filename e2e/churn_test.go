package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/loadgen"
)

// TestRegistryChurnFailsNoRequest is the short CI run of bench/churn: 100
// instance add/remove cycles and 100 weight changes under concurrent
// keep-alive load, with clients that never retry. Not one request may fail.
func TestRegistryChurnFailsNoRequest(t *testing.T) {
	r := startRouter(t, t.TempDir(), "--access-log", "off")
	var backends []*loadgen.Backend
	for i := 0; i < 4; i++ {
		b, err := loadgen.StartBackend(1024)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Stop)
		backends = append(backends, b)
	}
	res, err := loadgen.RegistryChurn(context.Background(), r.Router, backends, loadgen.ChurnOptions{
		Duration: 4 * time.Second, Clients: 32, Changes: 100, BodySize: 1024,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("registry churn: %d / %d failed, %.0f req/s", res.Failed, res.Total, res.RPS())
	if res.Total < 1000 {
		t.Errorf("only %d requests in 4s: the load did not run", res.Total)
	}
	if res.Failed != 0 {
		t.Errorf("%d of %d requests failed: %v", res.Failed, res.Total, res.Reasons)
	}
}
