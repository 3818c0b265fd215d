package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/loadgen/scenario"
	"github.com/webrouter/webrouter/internal/testbed"
)

// shortScenarios is the CI version of bench/churn: a few seconds per
// scenario, fewer keep-alive clients (the router here is built with the
// race detector), the same kinds of traffic.
func shortScenarios(demoapp string, logf func(string, ...any)) scenario.Config {
	return scenario.Config{Duration: 3 * time.Second, Clients: 32, NewConns: 50, WebSockets: 20,
		WSLifetime: time.Second, Changes: 150, Upgrades: 3, ReadyAfter: 200 * time.Millisecond,
		Health: 100 * time.Millisecond, BodySize: 1024, Demoapp: demoapp, Logf: logf}
}

// TestScenariosShort runs the four churn scenarios of bench/churn for a
// few seconds each. Against webrouter no request may fail in scenarios 1,
// 2 and 4, and in scenario 3 only those in flight on the killed backend.
// Against nginx (the seeds' stack) the harness must run; its failures are
// whatever they are. nginx is required when CI=true.
func TestScenariosShort(t *testing.T) {
	root, err := testbed.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	demoapp, err := scenario.BuildDemoapp(root, dir)
	if err != nil {
		t.Fatal(err)
	}
	nginx, nginxErr := scenario.NginxBinary()
	ctx := context.Background()
	for _, s := range scenario.All() {
		t.Run(strings.ReplaceAll(s.Name, " ", "_")+"/webrouter", func(t *testing.T) {
			o := scenario.Run(ctx, s, func() (scenario.Proxy, error) {
				return scenario.StartWebrouter(binary, dir, cleanEnv(), "--access-log", "off", "--shutdown-grace", "5s")
			}, shortScenarios(demoapp, t.Logf))
			report(t, o)
			if !o.MeetsGoal() {
				t.Errorf("scenario %d (%s) misses the goal: %s", s.ID, s.Name, o.Cell())
			}
		})
		t.Run(strings.ReplaceAll(s.Name, " ", "_")+"/nginx", func(t *testing.T) {
			if nginxErr != nil {
				if os.Getenv("CI") == "true" {
					t.Fatalf("%v (scripts/setup installs it)", nginxErr)
				}
				t.Skip(nginxErr)
			}
			o := scenario.Run(ctx, s, func() (scenario.Proxy, error) { return scenario.StartNginx(nginx, dir) },
				shortScenarios(demoapp, t.Logf))
			report(t, o)
			if o.Err != nil || o.Load.Total() < 1000 {
				t.Errorf("scenario %d (%s) did not run against nginx: %s", s.ID, s.Name, o.Cell())
			}
		})
	}
}

// report logs the outcome's details, and the proxy's log if it failed.
func report(t *testing.T, o scenario.Outcome) {
	t.Helper()
	t.Logf("%s", scenario.Details([]scenario.Outcome{o}))
	if o.Err != nil {
		t.Logf("%s log:\n%s", o.Proxy, o.Log)
	}
}
