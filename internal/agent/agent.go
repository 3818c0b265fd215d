package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Config configures an Agent. Zero durations take the defaults shown.
type Config struct {
	Options
	TTL        time.Duration // lease of every instance, renewed every TTL/3; 30s
	Resync     time.Duration // full re-list and reconcile, as a safety net; 1m
	DrainWait  time.Duration // how long a removal waits for requests in flight; 5s
	BackoffMin time.Duration // first wait before reconnecting to Docker or retrying writes; 200ms
	BackoffMax time.Duration // longest such wait; 5s
	// RefusedRetry is how soon writes the registry refused (a missing
	// service, a claimed mountpoint) are tried again; 15s.
	RefusedRetry time.Duration
	// StopHold is how long a container that got a stop signal is kept
	// drained if it keeps running (its process ignored the signal); 2m.
	StopHold time.Duration
	Logger   *slog.Logger // nil discards
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.TTL, 30*time.Second)
	def(&c.Resync, time.Minute)
	def(&c.DrainWait, 5*time.Second)
	def(&c.BackoffMin, 200*time.Millisecond)
	def(&c.BackoffMax, 5*time.Second)
	def(&c.StopHold, 2*time.Minute)
	def(&c.RefusedRetry, 15*time.Second)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Agent keeps the registry true to the containers of one Docker engine.
// Create it with New and run it with Run; it is not reusable.
//
// One goroutine (Run's) makes every decision and every put or state
// change; removals (drain, wait, delete) and heartbeats run beside it and
// report back on channels, so that no write races another for the same
// instance.
type Agent struct {
	cfg    Config
	engine Engine
	reg    Registry
	log    *slog.Logger

	mu       sync.Mutex
	known    map[Key]*Current     // the instances this agent owns, as it believes the registry holds them
	stopping map[string]time.Time // short container id → when a stop signal was seen
	services map[string]ServiceDef
	noted    map[string]string // subject → last problem logged about it

	removed chan removal // finished removals
	gone    chan Key     // instances whose heartbeat found them gone
	wg      sync.WaitGroup
}

// removal is the outcome of one drain-and-delete.
type removal struct {
	key       Key
	container string
	err       error
}

// New returns an agent that reads engine and writes reg.
func New(cfg Config, engine Engine, reg Registry) *Agent {
	cfg.defaults()
	return &Agent{cfg: cfg, engine: engine, reg: reg, log: cfg.Logger,
		known: map[Key]*Current{}, stopping: map[string]time.Time{}, services: map[string]ServiceDef{}, noted: map[string]string{},
		removed: make(chan removal), gone: make(chan Key)}
}

// Run registers the engine's containers and follows its events until ctx
// ends, then returns nil, leaving the registrations in place: their leases
// expire after the TTL unless an agent with the same host id takes over.
// It never gives up on Docker or the registry: a lost event stream is
// reconnected with back-off and followed by a full re-list and reconcile
// (which covers the events missed meanwhile); failed writes are retried.
func (a *Agent) Run(ctx context.Context) error {
	a.wg.Add(1)
	go a.heartbeats(ctx)
	defer a.wg.Wait()
	a.log.Info("agent started", "host_id", a.cfg.HostID, "ttl", a.cfg.TTL.String(), "internal", a.cfg.Internal, "all", a.cfg.All)
	wait, lost := a.cfg.BackoffMin, false
	for ctx.Err() == nil {
		streamCtx, cancel := context.WithCancel(ctx)
		events, errs := a.engine.Events(streamCtx)
		err := a.follow(ctx, events, errs, func() { // connected: the stream and a full listing work
			if lost {
				a.log.Info("docker event stream reconnected; re-listed and reconciled")
			}
			wait, lost = a.cfg.BackoffMin, false
		})
		cancel()
		if ctx.Err() != nil {
			break
		}
		level := slog.LevelWarn
		if lost {
			level = slog.LevelDebug // said once per outage
		}
		a.log.Log(ctx, level, "docker event stream lost; reconnecting", "err", err.Error(), "in", wait.String())
		lost = true
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(wait*2, a.cfg.BackoffMax)
	}
	a.log.Info("agent stopped; registrations stay until their leases expire", "ttl", a.cfg.TTL.String())
	return nil
}

// follow reconciles everything, then applies each event until the stream
// breaks (returning why). connected is called after the first full
// reconcile that could list the containers.
func (a *Agent) follow(ctx context.Context, events <-chan Event, errs <-chan error, connected func()) error {
	resync := time.NewTicker(a.cfg.Resync)
	defer resync.Stop()
	var retry <-chan time.Time
	retryWait := a.cfg.BackoffMin
	failed := func(err error) { // a write failed: reconcile again after a back-off
		switch {
		case err == nil:
			retryWait = a.cfg.BackoffMin
		case retry != nil:
		case transient(err):
			retry = time.After(retryWait)
			retryWait = min(retryWait*2, a.cfg.BackoffMax)
		default: // refused: retried less often, until someone fixes it
			retry = time.After(max(retryWait, a.cfg.RefusedRetry))
		}
	}
	full := func() error {
		retry = nil
		err := a.Reconcile(ctx)
		var de dockerError
		if errors.As(err, &de) {
			return de.err
		}
		failed(err)
		return nil
	}
	if err := full(); err != nil {
		return err
	}
	connected()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-errs:
			return err
		case ev := <-events:
			failed(a.event(ctx, ev))
		case r := <-a.removed:
			a.removalDone(r)
			if r.err != nil {
				failed(r.err)
			} else {
				failed(a.sync(ctx, r.container, ""))
			}
		case k := <-a.gone:
			failed(a.reregister(ctx, k))
		case <-resync.C:
			if err := full(); err != nil {
				return err
			}
		case <-retry:
			if err := full(); err != nil {
				return err
			}
		}
	}
}

// dockerError marks a failure to read the Docker engine (as opposed to a
// registry write): the agent reconnects.
type dockerError struct{ err error }

func (e dockerError) Error() string { return e.err.Error() }
func (e dockerError) Unwrap() error { return e.err }

// Reconcile lists every container and every instance this agent owns and
// makes the registry match. A failure to list the containers is returned
// as is (wrapped in an unexported type that Run recognises); write
// failures are logged and the first is returned.
func (a *Agent) Reconcile(ctx context.Context) error {
	cs, err := a.engine.List(ctx)
	if err != nil {
		return dockerError{err}
	}
	var want []Registration
	listed := map[string]bool{}
	for _, c := range cs {
		listed["container "+c.ShortID()] = true
		want = append(want, a.registrations(c)...)
	}
	a.mu.Lock()
	for subject := range a.noted {
		if strings.HasPrefix(subject, "container ") && !listed[subject] {
			delete(a.noted, subject) // gone: forget its problem
		}
	}
	a.mu.Unlock()
	owned, err := a.reg.Owned(ctx, a.cfg.HostID)
	if err != nil {
		a.note("registry", fmt.Errorf("list the registry: %w", err))
		return err
	}
	a.clear("registry")
	a.mu.Lock()
	next := make(map[Key]*Current, len(owned))
	for _, h := range owned {
		if old, ok := a.known[h.Key()]; ok {
			h.Wrote, h.Removing = old.Wrote, old.Removing
		}
		next[h.Key()] = &h
	}
	for k, old := range a.known {
		if _, ok := next[k]; !ok && old.Removing {
			next[k] = old // its removal finishes on its own
		}
	}
	a.known = next
	have := make([]Current, 0, len(next))
	for _, cur := range next {
		have = append(have, *cur)
	}
	for id, since := range a.stopping {
		if time.Since(since) > a.cfg.StopHold {
			delete(a.stopping, id)
		}
	}
	a.mu.Unlock()
	return a.apply(ctx, want, have, true)
}

// registrations is Registrations for c with the agent's options, minus
// readiness for a container being stopped; problems are logged once.
func (a *Agent) registrations(c Container) []Registration {
	regs, err := Registrations(c, a.cfg.Options)
	if err != nil {
		a.note("container "+c.ShortID(), err)
		return nil
	}
	a.clear("container " + c.ShortID())
	a.mu.Lock()
	_, stopping := a.stopping[c.ShortID()]
	if !c.Running {
		delete(a.stopping, c.ShortID())
	}
	a.mu.Unlock()
	for i := range regs {
		if stopping {
			regs[i].Ready, regs[i].Reason = false, "stopping"
		}
	}
	return regs
}
