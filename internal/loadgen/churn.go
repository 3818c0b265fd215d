package loadgen

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/webrouter/webrouter/internal/testbed"
)

// ChurnOptions shape the registry-churn scenario.
type ChurnOptions struct {
	Duration time.Duration // how long the load runs
	Clients  int           // concurrent keep-alive clients
	Changes  int           // add+remove cycles of an extra instance
	BodySize int           // backend response size
}

// RegistryChurn runs load against a service on r while an extra instance is
// added and removed opts.Changes times and a stable instance's weight
// changes as often, and returns what the clients saw. backends must hold at least
// three; the first two are the stable instances.
func RegistryChurn(ctx context.Context, r *testbed.Router, backends []*Backend, opts ChurnOptions) (Result, error) {
	if len(backends) < 3 {
		return Result{}, fmt.Errorf("registry churn needs 3 backends, have %d", len(backends))
	}
	c := &http.Client{Timeout: 10 * time.Second}
	api := func(method, path, body string) error {
		code, b, err := r.API(ctx, c, "", method, path, body)
		if err != nil {
			return err
		}
		if code/100 != 2 {
			return fmt.Errorf("%s %s: %d %s", method, path, code, b)
		}
		return nil
	}
	inst := func(b *Backend, weight int) string {
		return fmt.Sprintf(`{"address":"127.0.0.1","port":%d,"weight":%d}`, b.Port(), weight)
	}
	if err := api("PUT", "/v1/services/churn", `{"mountpoints":["churn.bench"]}`); err != nil {
		return Result{}, err
	}
	for i, b := range backends[:2] {
		if err := api("PUT", fmt.Sprintf("/v1/services/churn/instances/stable-%d", i), inst(b, 10)); err != nil {
			return Result{}, err
		}
	}
	// The load runs for opts.Duration and at least until the last change is
	// made, so that every change happens under load.
	loadCtx, stop := context.WithCancel(ctx)
	defer stop()
	end := time.Now().Add(opts.Duration)
	load := Start(loadCtx, Options{URL: "http://" + r.HTTP + "/", Host: "churn.bench", Clients: opts.Clients,
		BodySize: opts.BodySize, Payload: 64})
	step := opts.Duration / time.Duration(2*opts.Changes+2)
	var churnErr error
	for i := 0; i < opts.Changes && churnErr == nil; i++ {
		id := fmt.Sprintf("/v1/services/churn/instances/extra-%d", i)
		extra := backends[2+i%(len(backends)-2)]
		churnErr = api("PUT", id, inst(extra, 5+i%20))
		if churnErr == nil {
			churnErr = api("PUT", "/v1/services/churn/instances/stable-0", inst(backends[0], 1+i%30))
		}
		sleep(loadCtx, step)
		if churnErr == nil {
			churnErr = api("DELETE", id, "")
		}
		sleep(loadCtx, step)
	}
	sleep(ctx, time.Until(end))
	stop()
	res := load.Wait()
	return res, churnErr
}
