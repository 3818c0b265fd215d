package scenario

import (
	"context"
	"fmt"
	"time"

	"github.com/webrouter/webrouter/internal/loadgen"
)

// Config shapes every scenario.
type Config struct {
	Duration   time.Duration // each scenario's load lasts at least this long
	Tail       time.Duration // and at least this long after its last event (default 1s)
	Clients    int           // keep-alive clients
	NewConns   int           // new connections per second
	WebSockets int           // WebSocket sessions open at any time
	WSLifetime time.Duration // a WebSocket session's length before its client closes it
	Changes    int           // registry changes in scenario 1
	Upgrades   int           // binary upgrades in scenario 4
	ReadyAfter time.Duration // a new backend's start-up time in scenario 2
	Health     time.Duration // health check interval in scenario 2
	BodySize   int           // backend response size
	Demoapp    string        // the demoapp binary
	// Logf reports progress; nil is quiet.
	Logf func(format string, args ...any)
}

// Scenario is one of the four of issue 3.
type Scenario struct {
	ID   int    // 1–4
	Name string // short, for the table
	// run sets up backends and the proxy's state, starts the load with
	// r.startLoad and acts under it.
	run func(ctx context.Context, r *runner) error
}

// All returns the four scenarios in order.
func All() []Scenario {
	return []Scenario{
		{1, "registry changes", churn},
		{2, "rolling deploy", deploy},
		{3, "backend SIGKILL", kill},
		{4, "binary upgrade", upgrade},
	}
}

// Outcome is what one scenario against one proxy did and what its clients
// saw.
type Outcome struct {
	Scenario Scenario
	Proxy    string
	Load     loadgen.MixResult
	Events   string    // what was done under load, e.g. "1000 changes"
	KilledAt time.Time // scenario 3: when SIGKILL was sent
	DeadAt   time.Time // scenario 3: when the killed process was gone
	// InFlight and Other split the failures of scenario 3: in flight when
	// the backend was killed (sent before it was gone, failed after the
	// signal and within 2 s of its death), and the rest. In the other
	// scenarios every failure is in Other.
	InFlight, Other []loadgen.Failure
	Elapsed         time.Duration // of the load
	Err             error         // the harness could not carry out the scenario
	Log             string        // the proxy's log, when Err is set
}

// MeetsGoal tells whether the outcome is issue 3's goal for webrouter: the
// scenario ran, and no request failed (scenario 3: none but those in
// flight on the killed backend).
func (o Outcome) MeetsGoal() bool {
	if o.Err != nil || o.Load.Total() == 0 {
		return false
	}
	if o.Scenario.ID == 3 {
		return len(o.Other) == 0 && o.Load.Failed() == int64(len(o.InFlight))
	}
	return o.Load.Failed() == 0
}

// runner is one scenario run against one proxy.
type runner struct {
	cfg    Config
	p      Proxy
	host   string
	apps   []*App
	mix    *loadgen.Mix
	stop   context.CancelFunc // ends the load
	start  time.Time          // of the load
	last   time.Time          // of the last event
	events string
	killAt time.Time // SIGKILL sent
	deadAt time.Time // the process reaped
}

// Run starts a proxy with start, runs s against it under load and stops
// everything it started.
func Run(ctx context.Context, s Scenario, start func() (Proxy, error), cfg Config) Outcome {
	if cfg.Tail <= 0 {
		cfg.Tail = time.Second
	}
	o := Outcome{Scenario: s}
	p, err := start()
	if err != nil {
		o.Err = fmt.Errorf("start the proxy: %w", err)
		return o
	}
	o.Proxy = p.Name()
	r := &runner{cfg: cfg, p: p}
	r.logf("scenario %d (%s) against %s", s.ID, s.Name, p.Name())
	o.Err = s.run(ctx, r)
	if r.mix != nil {
		if o.Err == nil { // the load runs its duration, and a tail after the last event
			sleep(ctx, time.Until(r.start.Add(cfg.Duration)))
			sleep(ctx, time.Until(r.last.Add(cfg.Tail)))
		}
		r.stop()
		o.Load = r.mix.Wait()
		o.Elapsed = time.Since(r.start)
	}
	o.Events, o.KilledAt, o.DeadAt = r.events, r.killAt, r.deadAt
	o.Other = o.Load.Failures()
	if !r.killAt.IsZero() {
		o.InFlight, o.Other = loadgen.SplitAt(o.Other, r.killAt, r.deadAt, 2*time.Second)
	}
	for _, a := range r.apps {
		if err := a.Stop(60 * time.Second); err != nil && o.Err == nil {
			o.Err = err
		}
	}
	if err := p.Close(); err != nil && o.Err == nil {
		o.Err = fmt.Errorf("stop %s: %w", p.Name(), err)
	}
	if o.Err != nil {
		o.Log = p.Log()
	}
	r.logf("scenario %d against %s: %d / %d failed %s", s.ID, p.Name(), o.Load.Failed(), o.Load.Total(), errText(o.Err))
	return o
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return "(" + err.Error() + ")"
}

func (r *runner) logf(format string, args ...any) {
	if r.cfg.Logf != nil {
		r.cfg.Logf(format, args...)
	}
}

// app starts a demoapp; Run stops it at the end unless it was stopped.
func (r *runner) app(name string, readyAfter time.Duration) (*App, error) {
	a, err := StartApp(r.cfg.Demoapp, name, r.cfg.BodySize, readyAfter)
	if err == nil {
		r.apps = append(r.apps, a)
	}
	return a, err
}

// forget drops a from the apps Run stops, once the scenario stopped it.
func (r *runner) forget(a *App) {
	for i, x := range r.apps {
		if x == a {
			r.apps = append(r.apps[:i], r.apps[i+1:]...)
			return
		}
	}
}

// startLoad checks that host answers through the proxy, then starts the
// load on it.
func (r *runner) startLoad(ctx context.Context, host string) error {
	if err := r.p.Sync(ctx); err != nil {
		return err
	}
	probeCtx, stopProbe := context.WithCancel(ctx)
	probe := loadgen.Start(probeCtx, loadgen.Options{URL: "http://" + r.p.Addr() + "/", Host: host, Clients: 1,
		BodySize: r.cfg.BodySize})
	err := poll(ctx, 10*time.Second, 10*time.Millisecond, host+" to answer through "+r.p.Name(), func() (bool, error) {
		res := probe.Result()
		return res.Total-res.Failed >= 10, nil
	})
	stopProbe()
	probe.Wait()
	if err != nil {
		return err
	}
	loadCtx, stop := context.WithCancel(ctx)
	r.stop = stop
	r.host = host
	r.start, r.last = time.Now(), time.Now()
	r.mix = loadgen.StartMix(loadCtx, loadgen.MixOptions{Addr: r.p.Addr(), Host: host, Clients: r.cfg.Clients,
		NewConns: r.cfg.NewConns, WebSockets: r.cfg.WebSockets, WSLifetime: r.cfg.WSLifetime,
		BodySize: r.cfg.BodySize, Payload: 64})
	return nil
}

// at waits until the load has run for the fraction num/den of the
// duration.
func (r *runner) at(ctx context.Context, num, den int) error {
	sleep(ctx, time.Until(r.start.Add(r.cfg.Duration*time.Duration(num)/time.Duration(den))))
	return ctx.Err()
}

// event marks the end of an event: the load runs a tail after the last.
func (r *runner) event() { r.last = time.Now() }
