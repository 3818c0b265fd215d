// Command churn is the proof of issue 3: it counts the requests that fail
// while the routing changes under load, for webrouter and for nginx fed by
// a rendered config and `nginx -s reload` (the seeds' stack), in the same
// run and the same harness, and prints one table.
//
//	go run ./bench/churn                      # all four scenarios, 30 s each, both proxies
//	go run ./bench/churn -short               # a few seconds each
//	go run ./bench/churn -scenarios 1,3 -proxies webrouter -duration 10s
//
// Scenarios: 1 registry changes, 2 rolling deploy, 3 backend SIGKILL, 4
// binary upgrade. Each runs against a fresh proxy and fresh demoapp
// backends (separate processes, built by this command), under keep-alive
// clients, a stream of new connections and WebSocket sessions, none of
// which ever retries. The command exits 1 if webrouter misses the goal (a
// failed request in scenarios 1, 2 or 4; in scenario 3 one that was not
// in flight on the killed backend) or if a scenario could not run.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/webrouter/webrouter/internal/loadgen/scenario"
	"github.com/webrouter/webrouter/internal/testbed"
)

// options are the command's flags.
type options struct {
	cfg       scenario.Config
	scenarios []int
	proxies   []string
	webrouter string
	nginx     string
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "churn:", err)
		os.Exit(2)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "churn:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("churn", flag.ContinueOnError)
	var o options
	c := &o.cfg
	short := fs.Bool("short", false, "a few seconds per scenario (4s, 100 changes, 1s WebSocket sessions)")
	fs.DurationVar(&c.Duration, "duration", 30*time.Second, "load duration of each scenario, at least")
	fs.IntVar(&c.Clients, "clients", 200, "concurrent keep-alive clients")
	fs.IntVar(&c.NewConns, "newconns", 100, "new connections per second")
	fs.IntVar(&c.WebSockets, "websockets", 20, "WebSocket sessions open at any time")
	fs.DurationVar(&c.WSLifetime, "ws-lifetime", 5*time.Second, "a WebSocket session's length before its client closes it")
	fs.IntVar(&c.Changes, "changes", 1000, "registry changes in scenario 1")
	fs.IntVar(&c.Upgrades, "upgrades", 3, "binary upgrades in scenario 4")
	fs.DurationVar(&c.ReadyAfter, "ready-after", time.Second, "a new backend's start-up time in scenario 2")
	fs.DurationVar(&c.Health, "health-interval", 250*time.Millisecond, "health check interval in scenario 2")
	fs.IntVar(&c.BodySize, "body", 1024, "backend response size in bytes")
	scen := fs.String("scenarios", "1,2,3,4", "scenarios to run, by number")
	prox := fs.String("proxies", "webrouter,nginx", "proxies to run them against")
	fs.StringVar(&o.webrouter, "webrouter", "", "webrouter binary (default: build it from this module)")
	fs.StringVar(&o.nginx, "nginx", "", "nginx binary (default: nginx on the PATH or /usr/sbin/nginx)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *short {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, value := range map[string]string{"duration": "4s", "changes": "100", "ws-lifetime": "1s",
			"ready-after": "200ms", "health-interval": "100ms"} {
			if !set[name] {
				fs.Set(name, value)
			}
		}
	}
	for _, s := range strings.Split(*scen, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 4 {
			return o, fmt.Errorf("-scenarios %q: want numbers from 1 to 4, comma-separated", *scen)
		}
		o.scenarios = append(o.scenarios, n)
	}
	for _, p := range strings.Split(*prox, ",") {
		p = strings.TrimSpace(p)
		if p != "webrouter" && p != "nginx" {
			return o, fmt.Errorf("-proxies %q: want webrouter and/or nginx, comma-separated", *prox)
		}
		o.proxies = append(o.proxies, p)
	}
	if c.Duration <= 0 || c.Clients < 0 || c.Changes < 0 || c.Upgrades < 0 || c.BodySize < 0 {
		return o, fmt.Errorf("durations must be positive and counts 0 or more")
	}
	return o, nil
}

func run(ctx context.Context, o options) error {
	tmp, err := os.MkdirTemp("", "webrouter-churn-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	root, err := testbed.ModuleRoot()
	if err != nil {
		return err
	}
	if o.cfg.Demoapp, err = scenario.BuildDemoapp(root, tmp); err != nil {
		return err
	}
	if slices.Contains(o.proxies, "webrouter") && o.webrouter == "" {
		if o.webrouter, err = testbed.Build(root, tmp, false); err != nil {
			return err
		}
	}
	if slices.Contains(o.proxies, "nginx") && o.nginx == "" {
		if o.nginx, err = scenario.NginxBinary(); err != nil {
			return err
		}
	}
	start := map[string]func() (scenario.Proxy, error){
		"webrouter": func() (scenario.Proxy, error) {
			return scenario.StartWebrouter(o.webrouter, tmp, nil, "--access-log", "off")
		},
		"nginx": func() (scenario.Proxy, error) { return scenario.StartNginx(o.nginx, tmp) },
	}
	o.cfg.Logf = func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
	}
	c := o.cfg
	fmt.Printf("%d keep-alive clients (non-retrying POST), %d new connections/s, %d WebSocket sessions of %s; "+
		"each scenario at least %s; backends answer %d bytes\n\n",
		c.Clients, c.NewConns, c.WebSockets, c.WSLifetime, c.Duration, c.BodySize)
	var outcomes []scenario.Outcome
	for _, s := range scenario.All() {
		if !slices.Contains(o.scenarios, s.ID) {
			continue
		}
		for _, p := range o.proxies { // interleaved: both proxies run each scenario before the next
			if ctx.Err() != nil {
				return ctx.Err()
			}
			outcomes = append(outcomes, scenario.Run(ctx, s, start[p], o.cfg))
		}
	}
	fmt.Print(scenario.Table(outcomes, o.proxies))
	fmt.Println()
	fmt.Print(scenario.Details(outcomes))
	var missed []string
	for _, out := range outcomes {
		if out.Err != nil {
			fmt.Fprintf(os.Stderr, "\n%d. %s, %s did not run: %v\nits log:\n%s\n", out.Scenario.ID, out.Scenario.Name,
				out.Proxy, out.Err, tail(out.Log, 40))
		}
		if out.Err != nil || out.Proxy == "webrouter" && !out.MeetsGoal() {
			missed = append(missed, fmt.Sprintf("%d (%s)", out.Scenario.ID, out.Proxy))
		}
	}
	if len(missed) > 0 {
		return fmt.Errorf("goal missed or scenario not run: %s", strings.Join(missed, ", "))
	}
	return nil
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
